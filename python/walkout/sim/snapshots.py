"""One rendered frame per camera as PNG files (the README's "what the cameras see")."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from walkout.sim.crowd import simulate_crowd
from walkout.sim.runner import load_scenario, stream
from walkout.sim.world import build_world


def write_camera_images(scenario_path: Path | str, out_dir: Path | str,
                        seed: int | None = None) -> list[Path]:
    """Render every camera at the moment the most people are in the store; one PNG each.

    Without sensor noise: noise is incompressible and would make each PNG ~400 kB instead of
    ~100 kB; everything else is exactly what the videos show."""
    import cv2

    from walkout.sim.render import CameraRenderer

    scenario, store = load_scenario(scenario_path)
    seed = scenario.seed if seed is None else seed
    world = build_world(store, scenario.render.width, scenario.render.height, scenario.cameras)
    timeline = simulate_crowd(world, scenario, stream(seed, "crowd"))
    busiest = float(timeline.times[int(np.argmax(timeline.present.sum(1)))])
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for camera in world.cameras:
        renderer = CameraRenderer(world, timeline, camera, scenario.render.noise_sigma,
                                  stream(seed, f"noise/{camera.id}"), scenario.render.blur_px)
        image, _ = renderer.render(busiest, with_noise=False)
        path = out / f"sim-{camera.id}.png"
        cv2.imwrite(str(path), image, [cv2.IMWRITE_PNG_COMPRESSION, 9])
        paths.append(path)
    return paths
