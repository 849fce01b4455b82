"""Interaction engine speed: 50 tracked people with two hands each at 20 shelves of 24 slots,
per frame, C++ (walkout._core.InteractEngine, and through the typed walkout.interact face)
against the numpy implementation of the same logic (tests/twins/interact.py). Both sides run
the same frames and must emit the same events (checked), so the ratio compares equal work.

The scene: 20 single-faced shelves (4 rows × 6 cols) in a 5 × 4 grid of aisles; each person
stands at a shelf and each hand wanders in front of its face and into it (about a third of
the hands are in a reach at any time), so the state machines, slot probabilities and dwell
timers all work every frame.

    python benchmarks/bench_interact.py [--frames 300] [--repeat 15]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "python"), str(ROOT / "tests"), str(ROOT / "benchmarks")]

from harness import format_seconds, markdown_table, median_seconds, write_results  # noqa: E402
from twins.interact import EngineTwin, ShelfModelTwin  # noqa: E402
from walkout import _core  # noqa: E402

PEOPLE, SHELVES, ROWS, COLS, FPS = 50, 20, 4, 6, 15.0
PARAMS = dict(
    enter_depth=0.05,
    exit_depth=0.02,
    min_inside_s=0.10,
    min_outside_s=0.20,
    hand_lost_s=0.50,
    hand_motion_std=0.5,
    duplicate_radius=0.25,
    max_behind_face=0.25,
    lost_confidence=0.5,
    slot_prob_min=0.02,
    dwell_exit_s=1.0,
    min_dwell_s=1.0,
)


def store_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
    """20 shelves 3 m long, 0.6 m deep, 1.8 m high, fronts facing +y, aisles 2.5 m apart."""
    boxes, zones = [], []
    for i in range(SHELVES):
        cx, cy = 2.5 + 4.0 * (i % 5), 1.0 + 2.5 * (i // 5)
        boxes.append([cx, cy, 0.0, 3.0, 0.6, 1.8, 0.1])
        y0 = cy + 0.3
        zones.append(
            np.array([[cx - 1.5, y0], [cx + 1.5, y0], [cx + 1.5, y0 + 1.0], [cx - 1.5, y0 + 1.0]])
        )
    grid = np.full((SHELVES, 2), [ROWS, COLS], np.int32)
    faces = np.tile([True, False], (SHELVES, 1))
    return np.array(boxes), grid, faces, zones


def frames(n_frames: int, seed: int = 0) -> list[tuple]:
    """Per frame: t, track ids, floor points, and 100 hands (track, side, xyz, sigma)."""
    boxes, *_ = store_arrays()
    rng = np.random.default_rng(seed)
    shelf = rng.integers(0, SHELVES, PEOPLE)
    x = boxes[shelf, 0] + rng.uniform(-1.2, 1.2, PEOPLE)
    front = boxes[shelf, 1] + 0.3
    phase = rng.uniform(0, 2 * np.pi, (PEOPLE, 2))
    period = rng.uniform(1.5, 4.0, (PEOPLE, 2))
    height = rng.uniform(0.3, 1.7, (PEOPLE, 2))
    ids = np.arange(1, PEOPLE + 1, dtype=np.int64)
    out = []
    for k in range(n_frames):
        t = k / FPS
        # Depth behind the face: a slow in-out cycle, positive for about a third of it.
        depth = (
            0.35 * np.sin(2 * np.pi * t / period + phase) - 0.15 + rng.normal(0, 0.01, (PEOPLE, 2))
        )
        hx = x[:, None] + np.array([-0.25, 0.25]) + rng.normal(0, 0.01, (PEOPLE, 2))
        hy = front[:, None] - depth
        hz = height + rng.normal(0, 0.01, (PEOPLE, 2))
        xyz = np.stack([hx, hy, hz], axis=-1).reshape(-1, 3)
        floor = np.c_[x, front + 0.5 + rng.normal(0, 0.02, PEOPLE)]
        out.append(
            (
                t,
                ids,
                floor,
                np.repeat(ids, 2),
                np.tile(np.array([0, 1], np.int32), PEOPLE),
                np.ascontiguousarray(xyz),
                np.full(2 * PEOPLE, 0.03),
            )
        )
    return out


def make_core() -> _core.InteractEngine:
    boxes, grid, faces, zones = store_arrays()
    shelves = _core.InteractShelves(boxes, grid, faces, 0.05)
    for i, z in enumerate(zones):
        shelves.add_zone(i, z)
    return _core.InteractEngine(shelves, **PARAMS)


def make_twin() -> EngineTwin:
    boxes, grid, faces, zones = store_arrays()
    shelves = ShelfModelTwin(boxes, grid, faces, 0.05)
    for i, z in enumerate(zones):
        shelves.add_zone(i, z)
    return EngineTwin(shelves, **PARAMS)


def run_core(data: list[tuple]) -> list:
    engine = make_core()
    events = [engine.update(*f) for f in data]
    return [*events, engine.close_all()]


def run_twin(data: list[tuple]) -> list:
    engine = make_twin()
    events = [engine.update(*f) for f in data]
    return [*events, engine.close_all()]


def summary(events: list) -> list[tuple]:
    rows = []
    for reaches, dwells in events:
        rows += [
            ("r", r.track, r.hand, r.slot, round(r.start, 9), round(r.end, 9), r.lost)
            for r in reaches
        ]
        rows += [("d", d.track, d.zone, round(d.enter, 9), round(d.leave, 9)) for d in dwells]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300, help="frames per run (15 fps)")
    parser.add_argument("--repeat", type=int, default=15, help="timed runs of the C++ side")
    args = parser.parse_args()
    data = frames(args.frames)

    core_events, twin_events = summary(run_core(data)), summary(run_twin(data))
    assert core_events == twin_events, "C++ and numpy twin disagree"
    reaches = sum(1 for e in core_events if e[0] == "r")
    engine = make_core()
    in_reach = []
    for f in data:
        engine.update(*f)
        in_reach.append(engine.open_reaches)

    core_s = median_seconds(lambda: run_core(data), repeat=args.repeat) / len(data)
    twin_s = median_seconds(
        lambda: run_twin(data), repeat=max(3, args.repeat // 5), warmup=1
    ) / len(data)

    # The same frames through the typed Python face (Hands, FloorTracks-like objects, events
    # as dataclasses with config ids): what the edge pipeline pays per frame.
    from types import SimpleNamespace

    from walkout.interact import Hands, InteractionEngine

    class _Shelves:  # the Python face's Shelves needs a store config; build the same arrays
        def __init__(self) -> None:
            boxes, grid, faces, zones = store_arrays()
            self.core = _core.InteractShelves(boxes, grid, faces, 0.05)
            for i, z in enumerate(zones):
                self.core.add_zone(i, z)
            self.shelf_ids = [f"B{i}" for i in range(SHELVES)]
            self.slot_ids = [
                f"B{i}/front/r{r}c{c}"
                for i in range(SHELVES)
                for r in range(ROWS)
                for c in range(COLS)
            ]

        def face_of(self, face: int) -> tuple[str, str]:
            return self.shelf_ids[face], "front"

    py_frames = [
        (f[0], SimpleNamespace(ids=f[1], points=f[2]), Hands(f[3], f[4], f[5], f[6])) for f in data
    ]

    def run_face() -> None:
        engine = InteractionEngine(_Shelves(), **PARAMS)  # type: ignore[arg-type]
        for t, tracks, hands in py_frames:
            engine.update(t, tracks, hands)

    face_s = median_seconds(run_face, repeat=args.repeat) / len(data)

    rows = [
        ["numpy twin (tests/twins/interact.py)", format_seconds(twin_s), "1.0x"],
        ["C++ `_core.InteractEngine.update`", format_seconds(core_s), f"{twin_s / core_s:.1f}x"],
        [
            "C++ via `walkout.interact.InteractionEngine`",
            format_seconds(face_s),
            f"{twin_s / face_s:.1f}x",
        ],
    ]
    body = (
        f"{PEOPLE} tracked people × 2 hands, {SHELVES} shelves × {ROWS * COLS} slots, "
        f"{len(data)} frames at {FPS:g} fps; on average {np.mean(in_reach):.0f} of "
        f"{2 * PEOPLE} hands in a reach per frame, {reaches} reaches emitted (identical on "
        f"both sides, checked). Time per frame, median of runs:\n\n"
        + markdown_table(["implementation", "per frame", "speed-up"], rows)
        + "\n\nTarget (issue #9): C++ >= 20x the numpy implementation of the same logic."
    )
    write_results("interact", "Interaction engine: per-frame cost", body)


if __name__ == "__main__":
    main()
