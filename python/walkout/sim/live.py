"""An in-process frame stream: the frames a camera would deliver, with their capture times and
ground truth, without writing a run directory (for tests of the edge pipeline, demos)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from walkout.sim.capture import capture_times, to_ns
from walkout.sim.crowd import Timeline, simulate_crowd
from walkout.sim.render import CameraRenderer, FrameTruth
from walkout.sim.runner import load_scenario, stream
from walkout.sim.scenario import Scenario
from walkout.sim.world import World, build_world


@dataclass
class LiveFrame:
    camera: str
    frame_index: int  # position in this camera's stream (dropped frames never appear)
    t_ns: int  # capture time, ns since the Unix epoch
    image: np.ndarray  # (H, W, 3) uint8 BGR
    truth: FrameTruth


class LiveStore:
    """A scenario's crowd, simulated once, rendered on demand camera by camera. The frames and
    truth are the same as those ``simulate()`` writes for the same scenario and seed."""

    def __init__(self, scenario_path: Path | str, seed: int | None = None) -> None:
        self.scenario: Scenario
        self.scenario, store = load_scenario(scenario_path)
        self.seed = self.scenario.seed if seed is None else int(seed)
        render = self.scenario.render
        self.world: World = build_world(store, render.width, render.height, self.scenario.cameras)
        self.timeline: Timeline = simulate_crowd(self.world, self.scenario,
                                                 stream(self.seed, "crowd"))

    @property
    def cameras(self) -> list[str]:
        return [c.id for c in self.world.cameras]

    def frames(self, camera: str) -> Iterator[LiveFrame]:
        cams = {c.id: c for c in self.world.cameras}
        if camera not in cams:
            raise ValueError(f"camera: expected one of {sorted(cams)}, got {camera!r}")
        renderer = CameraRenderer(self.world, self.timeline, cams[camera],
                                  self.scenario.render.noise_sigma, stream(self.seed, f"noise/{camera}"),
                                  self.scenario.render.blur_px)
        times = capture_times(self.scenario, camera, stream(self.seed, f"capture/{camera}"))
        t_ns = to_ns(self.scenario, times)
        for i, t in enumerate(times):
            image, truth = renderer.render(float(t))
            yield LiveFrame(camera, i, int(t_ns[i]), image, truth)
