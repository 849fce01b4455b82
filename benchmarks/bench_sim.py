"""Simulator speed, against the "Done when" of issue #8:

- rendering at least as fast as real time for 8 cameras at 640x360 and 10 fps: 80 frames a
  second, video encoding included, with occlusion and articulated bodies;
- oracle mode at least 100x faster than real time.

Both measured end to end on the acceptance scenario (configs/scenarios/store-20.yaml: 20
check-ins, 5 minutes, 8 cameras): `simulate()` from the scenario file to the finished run
directory, crowd, sensors, truth, static scenes and writing included. The per-frame part is
also compared with its peer, the numpy twin of the rasteriser (tests/twins/sim.py), on the
same frames, and the two images are checked to be identical.

    python benchmarks/bench_sim.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import format_seconds, markdown_table, median_seconds, write_results  # noqa: E402
from twins.sim import draw_capsules  # noqa: E402
from walkout import _core  # noqa: E402
from walkout.sim import simulate  # noqa: E402
from walkout.sim.crowd import simulate_crowd  # noqa: E402
from walkout.sim.pose import CAPSULES, joints  # noqa: E402
from walkout.sim.render import CameraRenderer, project_bodies  # noqa: E402
from walkout.sim.runner import load_scenario, stream  # noqa: E402
from walkout.sim.world import build_world  # noqa: E402

SCENARIO = ROOT / "configs" / "scenarios" / "store-20.yaml"


def _cpu_seconds() -> float:
    """User + system CPU of this process and its finished children (the render workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def end_to_end(oracle: bool, repeat: int) -> tuple[float, float, int, float]:
    """(median wall seconds, median CPU seconds, frames per run, scenario seconds)."""
    scenario, _ = load_scenario(SCENARIO)
    walls, cpus, frames = [], [], 0
    for _ in range(repeat):
        out = Path(tempfile.mkdtemp(prefix="bench-sim-")) / "run"
        start, cpu = time.perf_counter(), _cpu_seconds()
        run = simulate(SCENARIO, out, oracle=oracle)
        walls.append(time.perf_counter() - start)
        cpus.append(_cpu_seconds() - cpu)
        frames = sum(len(run.truth(c)["frame_index"]) for c in run.cameras)
        if not oracle:  # correctness: every stored frame can be read back
            index, _ = run.timestamps(run.cameras[0])
            assert sum(1 for _ in run.frames(run.cameras[0])) == len(index)
        shutil.rmtree(out.parent)
    return float(np.median(walls)), float(np.median(cpus)), frames, scenario.duration_s


def raster_vs_twin() -> tuple[float, float, int]:
    """Median time to draw the busiest frame's people: compiled rasteriser vs numpy twin."""
    scenario, store = load_scenario(SCENARIO)
    world = build_world(store, 640, 360)
    timeline = simulate_crowd(world, scenario, stream(scenario.seed, "crowd"))
    t = float(timeline.times[int(np.argmax(timeline.present.sum(1)))])
    camera = world.cameras[0]
    renderer = CameraRenderer(world, timeline, camera, 0.0, np.random.default_rng(0))
    persons = timeline.present_at(t)
    state = timeline.body_state(t, persons)
    caps, *_ = project_bodies(camera, joints(state), state.height)
    colours = np.concatenate([renderer.colours[p] for p in persons])
    ids = np.repeat(np.arange(len(persons), dtype=np.int32), len(CAPSULES))

    def compiled() -> np.ndarray:
        image, depth = renderer.background.copy(), renderer.static_depth.copy()
        _core.sim_draw_capsules(image, depth, None, caps, colours, ids)
        return image

    def twin() -> np.ndarray:
        image, depth = renderer.background.copy(), renderer.static_depth.copy()
        draw_capsules(image, depth, None, caps, colours, ids)
        return image

    assert np.array_equal(compiled(), twin())
    return median_seconds(compiled, repeat=51), median_seconds(twin, repeat=11), len(persons)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="one oracle run, skip rendering")
    args = parser.parse_args()
    rows = []
    cores = len(os.sched_getaffinity(0))
    load = os.getloadavg()[0]
    scenario, _ = load_scenario(SCENARIO)
    wall, cpu, _, duration = end_to_end(True, 1 if args.quick else 5)
    rows.append(["oracle mode, 8 cameras, 20 shoppers, 300 s", format_seconds(wall),
                 f"{duration / wall:.0f}x real time", f"{cpu:.2f} s",
                 f"{duration / (cpu / cores):.0f}x ({duration / cpu:.0f}x on one core)",
                 ">= 100x", "yes" if duration / wall >= 100 else "NO"])
    if not args.quick:
        wall, cpu, frames, duration = end_to_end(False, 1)
        fps, fps_cpu = frames / wall, frames / (cpu / cores)
        rows.append([f"render mode, 8 cameras 640x360 @ 10 fps, {scenario.render.codec} "
                     f"({frames} frames)", format_seconds(wall), f"{fps:.0f} frames/s",
                     f"{cpu:.0f} s ({cpu / frames * 1e3:.1f} ms a frame)",
                     f"{fps_cpu:.0f} frames/s", ">= 80 frames/s", "yes" if fps >= 80 else "NO"])
    c, tw, people = raster_vs_twin()
    body = markdown_table(["what", "wall (median)", "measured on the wall clock", "CPU used",
                           f"on {cores} idle cores (CPU / {cores})", "target", "met (wall)"], rows)
    body += "\n\n" + markdown_table(
        ["drawing one frame's people (cam1, busiest moment)", "median", "ratio"],
        [[f"walkout._core.sim_draw_capsules ({people} people)", format_seconds(c), "1.0"],
         ["numpy twin (tests/twins/sim.py), same output", format_seconds(tw), f"{tw / c:.1f}x slower"]])
    body += ("\n\nEnd to end = `simulate()` from the scenario file to the finished run "
             "directory (crowd, sensors, ground truth, static scenes, rendering, encoding, "
             "writing), with the default workers (one process per core). The machine is shared "
             f"with other engineers' builds (load average {load:.1f} on {cores} cores when the "
             "run started), so wall times are upper bounds; the CPU-time column is what the same "
             "work takes on the cores alone: CPU seconds of the run and its workers divided by "
             "the cores.")
    write_results("sim", "Simulator speed (issue #8)", body)


if __name__ == "__main__":
    main()
