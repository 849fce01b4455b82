"""What the edge pipeline costs per frameset: one edge box's 4 cameras (edge-a: cam1-cam4) on a
simulator run of the example store with its oracle detections (no model), stage by stage, and
what it gets right on the same run (so a faster pipeline that got worse would show).

    python benchmarks/bench_edge.py [--duration 120] [--shoppers 20] [--repeat 3]

The run is ``configs/scenarios/store-20.yaml`` cut to ``--duration`` seconds with only edge-a's
cameras (640x360, 10 fps, crowding, groups). The pipeline is replayed ``--repeat`` times; each
frameset's stage times are taken from every replay and the median over replays is kept per
frameset, then summarised over framesets (median, p95, max). The budget column compares with
the frame period: what share of a 10 fps camera's 100 ms the stage uses on this machine.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from edge_scoring import score_reaches, score_tracks  # noqa: E402
from harness import format_seconds, markdown_table, write_results  # noqa: E402
from walkout.edge.pipeline import STAGES  # noqa: E402
from walkout.edge.replay import replay_run  # noqa: E402
from walkout.sim import Run, simulate  # noqa: E402


def make_run(folder: Path, duration: float, shoppers: int) -> Run:
    scenario = yaml.safe_load((ROOT / "configs" / "scenarios" / "store-20.yaml").read_text())
    scenario.update(store=str(ROOT / "configs" / "store.yaml"), duration_s=duration,
                    shoppers=shoppers, arrival_window_s=0.6 * duration,
                    cameras=["cam1", "cam2", "cam3", "cam4"])
    scenario.pop("camera_failure", None)
    path = folder / "scenario.yaml"
    path.write_text(yaml.safe_dump(scenario))
    return simulate(path, folder / "run", oracle=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=120.0)
    parser.add_argument("--shoppers", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run = make_run(Path(tmp), args.duration, args.shoppers)
        replays = []
        walls = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            replays.append(replay_run(run.path, box="edge-a"))
            walls.append(time.perf_counter() - start)
        first = replays[0]
        n = len(first.results)
        per_stage = {s: np.median([[r.results[i].stage_s[s] for i in range(n)] for r in replays],
                                  axis=0) for s in STAGES}
        total = np.median([[r.results[i].latency_s for i in range(n)] for r in replays], axis=0)
        people = np.array([len(r.messages[0].tracks) for r in first.results])  # type: ignore[attr-defined]
        detections = _detections_per_frameset(run, first.cameras)
        tracks = score_tracks(run, first.cameras, first.messages)
        reaches = score_reaches(run, first.messages, tracks.track_person)

    period = 1.0 / run.fps
    rows = []
    for stage in (*STAGES, "total"):
        values = total if stage == "total" else per_stage[stage]
        rows.append([stage, format_seconds(float(np.median(values))),
                     format_seconds(float(np.percentile(values, 95))),
                     format_seconds(float(np.max(values))),
                     f"{100 * float(np.median(values)) / period:.2f} %"])
    table = markdown_table(["stage", "median", "p95", "max", "of a 100 ms frame period"], rows)
    replay_rate = n / float(np.median(walls))
    body = (
        f"edge-a (4 cameras, oracle detections) on store-20 cut to {args.duration:.0f} s with "
        f"{args.shoppers} check-ins at {run.fps:.0f} fps: {n} framesets, "
        f"{float(np.mean(detections)):.1f} detections and {float(np.mean(people)):.1f} "
        f"confirmed tracks per frameset on average (max {int(people.max())}); stage times are "
        f"per frameset, the median over {args.repeat} replays.\n\n{table}\n\n"
        f"Whole replay (sync pairing of the oracle frames + pipeline + message objects): "
        f"{replay_rate:.0f} framesets/s, {replay_rate / run.fps:.0f}x real time for this box.\n\n"
        "What it got right on the same run (tests/edge_scoring.py): track coverage "
        f"{tracks.coverage:.3f} of person-frames seen by a camera, id consistency "
        f"{tracks.id_consistency:.3f}, {sum(tracks.tracks_per_person.values())} tracks for "
        f"{len(tracks.tracks_per_person)} people; reaches: {reaches.predicted} predicted, "
        f"{reaches.true} true, precision {reaches.precision:.2f}, recall {reaches.recall:.2f}, "
        f"slot accuracy {reaches.slot_accuracy:.2f} of matched.\n\n"
        "Not included: the detector (letterbox + ONNX model + decode, see detect.md) and "
        "sending (see wire results): this is the part between detections and messages."
    )
    write_results("edge", "Edge pipeline cost per frameset", body)


def _detections_per_frameset(run: Run, cameras: list[str]) -> np.ndarray:
    counts = []
    for camera in cameras:
        oracle = run.oracle(camera)
        frames = len(run.truth(camera)["t_ns"])
        counts.append(np.bincount(oracle["rec_frame"], minlength=frames).mean())
    return np.array([sum(counts)])


if __name__ == "__main__":
    main()
