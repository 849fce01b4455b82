"""Reach accuracy against the simulator's ground truth, oracle mode, the whole edge chain in the
loop: per-camera oracle detections (17 COCO keypoints with the simulator's documented noise,
misses and false positives) → the edge box's own step (``walkout.edge.pipeline.EdgePipeline``):
floor points (walkout.edge.floor_points) → multi-view fusion seeded by the tracker's priors
and the real FloorTracker (walkout.track) → hands in 3-D (HandLocator) → InteractionEngine.
No ground-truth track is used: the truth is consulted only to score.

Scoring (issue #9): a predicted reach matches a true one when it is the same person (the
track's person is the one most of its associated detections came from during the reach), the
same shelf, the same hand, and their time intervals overlap; each true reach matches at most
one prediction (greedy by overlap). Precision = matched / predicted, recall = matched / true,
slot accuracy = matched with the right slot / matched.

    python benchmarks/bench_interact_oracle.py [--scenario configs/scenarios/store-20.yaml]
        [--seeds 11 12 13 14 15 31 ... 45 21 22 23 24 25 1 2 3 4 5] [--run DIR]
        # --run scores existing oracle runs instead

Seeds: the defaults (HandLocator, InteractionEngine) are tuned on seeds 11-15 (TUNING_SEEDS,
"tuning") and, since 11-15 reached the targets and their few errors no longer said what to
fix, on seeds 31-45 too (TUNING_EXTRA_SEEDS, "tuning-extra"); 21-25 are fresh seeds never
looked at while tuning and 1-5 the seeds of earlier reports (tuned on before the split), both
reported as held out (their misses and false reaches are counted, never studied).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "python"), str(ROOT / "benchmarks")]

from harness import markdown_table, write_results  # noqa: E402
from walkout.detect import Detections  # noqa: E402
from walkout.edge.pipeline import EdgePipeline, PipelineParams  # noqa: E402
from walkout.geometry import Camera  # noqa: E402
from walkout.interact import HandLocator, InteractionEngine, Reach, Shelves  # noqa: E402
from walkout.sim.run import Run  # noqa: E402

ANKLES = (15, 16)
TUNING_SEEDS = (11, 12, 13, 14, 15)  # the only seeds parameters were chosen on
# A larger tuning pool: 11-15 reached the targets, so their few errors no longer say what to
# fix. Seeds 31-45 ("tuning-extra") are tuned on too; held-out groups stay 21-25 and 1-5.
TUNING_EXTRA_SEEDS = tuple(range(31, 46))
FRESH_SEEDS = (21, 22, 23, 24, 25)  # never seen while tuning
EARLIER_SEEDS = (1, 2, 3, 4, 5)  # the seeds of earlier reports (tuned on before the split)
KINDS = ("double", "other hand", "neighbour", "near in time", "phantom <=0.3 s", "phantom >0.3 s")
MIN_SCORE = 0.3  # true-identity diagnostic: detections below this are not used


def framesets(run: Run) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Ticks of the run's frame rate and, per camera, the frame index at each tick (-1: none).
    Cameras capture with jitter around the tick; each frame joins the nearest tick."""
    fps, start = run.fps, run.start_ns
    n = round(run.duration_s * fps) if hasattr(run, "duration_s") else None
    frames = {}
    last = 0
    for cam in run.cameras:
        truth = run.truth(cam)
        tick = np.round((truth["t_ns"] - start) / 1e9 * fps).astype(int)
        frames[cam] = tick
        last = max(last, int(tick.max()) + 1)
    n = n or last
    index = {cam: np.full(last, -1, np.int64) for cam in run.cameras}
    for cam, tick in frames.items():
        index[cam][tick] = np.arange(len(tick))
    return np.arange(last) / fps, index


def oracle_rows(run: Run) -> tuple[dict[str, dict], dict[str, dict[int, list[int]]]]:
    """Each camera's oracle detections, and the rows of each of its frames."""
    oracle = {c: run.oracle(c) for c in run.cameras}
    by_frame: dict[str, dict[int, list[int]]] = {c: defaultdict(list) for c in run.cameras}
    for c in run.cameras:
        for row, f in enumerate(oracle[c]["rec_frame"]):
            by_frame[c][int(f)].append(row)
    return oracle, by_frame


def evaluate(
    run: Run,
    *,
    engine_params: dict | None = None,
    locator_params: dict | None = None,
    true_identity: bool = False,
) -> dict:
    """Run the chain on one oracle run and score it. ``true_identity`` (a diagnostic, not the
    benchmark) replaces fusion and tracking by the detections' true person ids, to separate
    what the tracker's identity errors cost from what the interaction engine does."""
    if true_identity:
        return _evaluate_true_identity(run, engine_params, locator_params)
    store = run.store()
    # The edge box's own per-frameset step: its floor points, fusion (with the tracker's
    # priors), FloorTracker, hand locator and engine, exactly as a box runs them. Only the
    # locator's and engine's parameters are the benchmark's (their tuned defaults, below).
    params = PipelineParams(locator=dict(locator_params or {}),
                            interaction=dict(engine_params or {}))
    pipeline = EdgePipeline(store, "bench", run.cameras, [tuple(run.image_size)] * len(run.cameras),
                            run.fps, params)
    oracle, by_frame = oracle_rows(run)
    times, index = framesets(run)
    votes: dict[int, list[tuple[float, int]]] = defaultdict(list)  # track -> (t, true person)
    reaches: list[Reach] = []
    for k, t in enumerate(times):
        dets: list[Detections | None] = []
        order_rows: list[np.ndarray] = []
        for c in run.cameras:
            f = index[c][k] if k < len(index[c]) else -1
            if f < 0:
                dets.append(None)
                order_rows.append(np.zeros(0, np.int64))
                continue
            rows = np.array(by_frame[c].get(int(f), []), dtype=np.int64)
            rows = rows[np.argsort(-oracle[c]["score"][rows], kind="stable")]  # best first
            order_rows.append(rows)
            dets.append(Detections(oracle[c]["box"][rows].astype(np.float32),
                                   oracle[c]["score"][rows].astype(np.float32),
                                   np.zeros(len(rows), np.int64),
                                   oracle[c]["keypoints"][rows].astype(np.float32)))
        result = pipeline.step(run.start_ns + round(float(t) * 1e9), dets)
        for i, track in enumerate(result.tracks.ids.tolist()):
            for ci, c in enumerate(run.cameras):
                m = int(result.rows[i, ci])
                if m >= 0 and (person := int(oracle[c]["person"][order_rows[ci][m]])) >= 0:
                    votes[track].append((float(t), person))
        reaches += [e for e in result.events if isinstance(e, Reach)]
    reaches += [e for e in pipeline.engine.close_all() if isinstance(e, Reach)]
    return score(run, reaches, votes) | {"sources": Counter()}


def _evaluate_true_identity(run: Run, engine_params: dict | None,
                            locator_params: dict | None) -> dict:
    """The diagnostic chain: tracks from the detections' true person ids at the mean of their
    views' floor points, then the same hand locator and engine."""
    store = run.store()
    cams = [
        Camera.from_calibration(store.calibrations[c], image_size=tuple(run.image_size))
        for c in run.cameras
    ]
    shelves = Shelves(store)
    locator = HandLocator(cams, shelves, **(locator_params or {}))
    engine = InteractionEngine(shelves, **(engine_params or {}))
    oracle, by_frame = oracle_rows(run)
    times, index = framesets(run)
    votes: dict[int, list[tuple[float, int]]] = defaultdict(list)  # track -> (t, true person)
    reaches: list[Reach] = []
    sources = Counter()
    for k, t in enumerate(times):
        points, rows_used = [], []
        for ci, c in enumerate(run.cameras):
            f = index[c][k] if k < len(index[c]) else -1
            rows = (
                [r for r in by_frame[c].get(int(f), []) if oracle[c]["score"][r] >= MIN_SCORE]
                if f >= 0
                else []
            )
            kp = oracle[c]["keypoints"][rows].astype(np.float64) if rows else np.zeros((0, 17, 3))
            box = oracle[c]["box"][rows].astype(np.float64) if rows else np.zeros((0, 4))
            foot = np.c_[(box[:, 0] + box[:, 2]) / 2, box[:, 3]] if rows else np.zeros((0, 2))
            ankles_seen = (kp[:, ANKLES, 2] > 0.3).all(axis=1) if rows else np.zeros(0, bool)
            if rows:
                foot[ankles_seen] = kp[ankles_seen][:, ANKLES, :2].mean(axis=1)
            points.append(cams[ci].floor_from_image(foot) if rows else np.zeros((0, 2)))
            rows_used.append(rows)
        tracks, keypoints = _true_identity_frame(run, oracle, rows_used, points, t, votes)
        located = locator.locate(tracks.ids, tracks.points, keypoints)
        sources.update(located.source.reshape(-1).tolist())
        events = engine.update(float(t), tracks, located.hands())
        reaches += [e for e in events if isinstance(e, Reach)]
    reaches += [e for e in engine.close_all() if isinstance(e, Reach)]
    return score(run, reaches, votes) | {"sources": sources}


def _true_identity_frame(
    run: Run, oracle: dict, rows_used: list, points: list, t: float, votes: dict
):
    """Tracks straight from the detections' true person ids (diagnostic only)."""
    from types import SimpleNamespace

    people: dict[int, dict[int, int]] = defaultdict(dict)  # person -> camera index -> row position
    for ci, c in enumerate(run.cameras):
        for m, row in enumerate(rows_used[ci]):
            person = int(oracle[c]["person"][row])
            if person >= 0:
                people[person][ci] = m
    ids = np.array(sorted(people), dtype=np.int64) + 1
    xy = np.zeros((len(ids), 2))
    keypoints = np.zeros((len(ids), len(run.cameras), 17, 3))
    for i, person in enumerate(sorted(people)):
        xy[i] = np.mean([points[ci][m] for ci, m in people[person].items()], axis=0)
        for ci, m in people[person].items():
            keypoints[i, ci] = oracle[run.cameras[ci]]["keypoints"][rows_used[ci][m]]
        votes[int(ids[i])].append((float(t), person))
    return SimpleNamespace(ids=ids, points=xy), keypoints


def person_of(track: int, start: float, end: float, votes: dict) -> int:
    near = [p for t, p in votes.get(track, []) if start - 1.0 <= t <= end + 1.0]
    pool = near or [p for _, p in votes.get(track, [])]
    return Counter(pool).most_common(1)[0][0] if pool else -1


def score(run: Run, reaches: list[Reach], votes: dict) -> dict:
    start = run.start_ns
    truth = [
        dict(r, start=(r["start_ns"] - start) / 1e9, end=(r["end_ns"] - start) / 1e9)
        for r in run.reaches()
    ]
    predicted = [(r, person_of(r.track, r.start, r.end, votes)) for r in reaches]
    pairs = []
    for i, (r, person) in enumerate(predicted):
        for j, g in enumerate(truth):
            overlap = min(r.end, g["end"]) - max(r.start, g["start"])
            if (
                person == g["person"]
                and r.shelf == g["shelf"]
                and r.hand == g["hand"]
                and overlap >= 0
            ):
                pairs.append((overlap, i, j))
    used_p, used_t, matched = set(), set(), []
    for _, i, j in sorted(pairs, reverse=True):
        if i not in used_p and j not in used_t:
            used_p.add(i)
            used_t.add(j)
            matched.append((i, j))
    right_slot = sum(predicted[i][0].slot == truth[j]["slot"] for i, j in matched)
    return dict(
        predicted=len(predicted),
        true=len(truth),
        matched=len(matched),
        right_slot=right_slot,
        misses=[truth[j] for j in range(len(truth)) if j not in used_t],
        false=[predicted[i] for i in range(len(predicted)) if i not in used_p],
        truth=truth,
        used_t=used_t,
        false_kinds=Counter(
            why_false(predicted[i][0], predicted[i][1], truth, used_t)
            for i in range(len(predicted))
            if i not in used_p
        ),
    )


def why_false(r: Reach, person: int, truth: list[dict], used_t: set[int]) -> str:
    """What an unmatched prediction most likely is (for --verbose; tuning seeds only).

    double: the true reach it overlaps (same person, shelf, hand) already matched another
    prediction (a reach split in two, or a split track's second copy); other hand: the person
    did reach there then, with the other hand; neighbour: someone else reached into that shelf
    then (a wrist on the wrong track, or a track holding another shopper); near in time: the
    same person, shelf and hand reached within 1 s but the intervals do not overlap; else
    phantom (nobody reached there), split by duration."""
    def overlaps(g: dict, slack: float = 0.0) -> bool:
        return min(r.end, g["end"]) - max(r.start, g["start"]) >= -slack

    same_shelf = [(j, g) for j, g in enumerate(truth) if g["shelf"] == r.shelf]
    if any(g["person"] == person and g["hand"] == r.hand and overlaps(g) and j in used_t
           for j, g in same_shelf):
        return "double"
    if any(g["person"] == person and g["hand"] != r.hand and overlaps(g) for _, g in same_shelf):
        return "other hand"
    if any(g["person"] != person and overlaps(g) for _, g in same_shelf):
        return "neighbour"
    if any(g["person"] == person and g["hand"] == r.hand and overlaps(g, 1.0)
           for _, g in same_shelf):
        return "near in time"
    return "phantom <=0.3 s" if r.end - r.start <= 0.3 else "phantom >0.3 s"


def _params(pairs: list[str]) -> dict:
    """NAME=VALUE pairs: true/false as booleans, numbers as int or float."""
    out: dict = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"expected NAME=VALUE, got {pair!r}")
        low = value.lower()
        out[name] = (
            (low == "true")
            if low in ("true", "false")
            else (int(value) if value.lstrip("-").isdigit() else float(value))
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default=str(ROOT / "configs/scenarios/store-20.yaml"))
    parser.add_argument(
        "--seeds", type=int, nargs="+", default=[*TUNING_SEEDS, *TUNING_EXTRA_SEEDS, *FRESH_SEEDS, *EARLIER_SEEDS]
    )
    parser.add_argument(
        "--name", default=None, help="results file stem (default interact_oracle[_true_identity])"
    )
    parser.add_argument(
        "--run", type=Path, nargs="*", default=[], help="score these oracle runs instead"
    )
    parser.add_argument(
        "--keep",
        type=Path,
        default=None,
        help="keep the oracle runs in DIR/seedN and reuse those already there (faster reruns "
        "while tuning; delete DIR after changing the simulator)",
    )
    parser.add_argument(
        "--locator",
        nargs="*",
        default=[],
        metavar="NAME=VALUE",
        help="HandLocator parameters instead of the defaults (tuning; e.g. "
        "min_hidden_wrist_confidence=1 reproduces the locator before hidden wrists were used)",
    )
    parser.add_argument(
        "--engine",
        nargs="*",
        default=[],
        metavar="NAME=VALUE",
        help="InteractionEngine parameters instead of the defaults (tuning)",
    )
    parser.add_argument("--verbose", action="store_true", help="list every miss and false reach")
    parser.add_argument(
        "--true-identity",
        action="store_true",
        help="diagnostic: tracks from the detections' true person ids instead of "
        "fusion + FloorTracker (what identity errors upstream cost)",
    )
    args = parser.parse_args()
    runs: list[tuple[str, str, Run]] = []  # (group, name, run)
    tmp = tempfile.TemporaryDirectory(prefix="walkout-interact-oracle-")
    if args.run:
        runs = [("given", str(p), Run(p)) for p in args.run]
    else:
        from walkout.sim.runner import simulate

        for seed in args.seeds:
            out = (args.keep or Path(tmp.name)) / f"seed{seed}"
            group = (
                "tuning"
                if seed in TUNING_SEEDS
                else "tuning-extra"
                if seed in TUNING_EXTRA_SEEDS
                else "fresh"
                if seed in FRESH_SEEDS
                else "earlier"
                if seed in EARLIER_SEEDS
                else "other"
            )
            kept = (out / "run.json").is_file()
            run = Run(out) if kept else simulate(args.scenario, out, seed=seed, oracle=True)
            runs.append((group, f"{Path(args.scenario).stem} seed {seed} ({group})", run))
    rows: list[list] = []
    totals: dict[str, Counter] = defaultdict(Counter)
    kinds: dict[str, Counter] = defaultdict(Counter)  # group -> why_false counts
    for group, name, run in runs:
        r = evaluate(
            run,
            true_identity=args.true_identity,
            locator_params=_params(args.locator),
            engine_params=_params(args.engine),
        )
        for key in ("predicted", "true", "matched", "right_slot"):
            totals[group][key] += r[key]
        kinds[group].update(r["false_kinds"])
        rows.append(
            [
                name,
                len(run.people),
                r["true"],
                r["predicted"],
                r["matched"],
                f"{r['matched'] / max(r['predicted'], 1):.3f}",
                f"{r['matched'] / max(r['true'], 1):.3f}",
                f"{r['right_slot'] / max(r['matched'], 1):.3f}",
            ]
        )
        if r["sources"]:  # hand sources are known on the true-identity path only
            print(name, dict(r["sources"]), file=sys.stderr)
        if args.verbose:
            for m in r["misses"]:
                print(
                    "  miss",
                    {k: m[k] for k in ("person", "hand", "shelf", "slot", "kind", "start", "end")},
                    file=sys.stderr,
                )
            for f, person in r["false"]:
                print("  false", person, why_false(f, person, r["truth"], r["used_t"]), f,
                      file=sys.stderr)
    held_out, tuned = Counter(), Counter()
    for group in ("fresh", "earlier"):
        held_out.update(totals.get(group, Counter()))
    for group in ("tuning", "tuning-extra"):
        tuned.update(totals.get(group, Counter()))
    if tuned and held_out:
        totals["tuned on (tuning + tuning-extra)"] = tuned
    if held_out and len(totals) > 1:
        totals["held out (fresh + earlier)"] = held_out
    for group, t in totals.items():
        rows.append(
            [
                f"**{group}**",
                "",
                t["true"],
                t["predicted"],
                t["matched"],
                f"**{t['matched'] / max(t['predicted'], 1):.3f}**",
                f"**{t['matched'] / max(t['true'], 1):.3f}**",
                f"**{t['right_slot'] / max(t['matched'], 1):.3f}**",
            ]
        )
    chain = (
        "floor projection → tracks from the detections' TRUE person ids (diagnostic: fusion and "
        "FloorTracker bypassed)"
        if args.true_identity
        else "the edge box's own step (EdgePipeline: floor_points → fusion seeded by the "
        "tracker's predictions → FloorTracker)"
    )
    body = (
        f"Oracle detections → {chain} → "
        "HandLocator → InteractionEngine ("
        + (", ".join([*args.locator, *args.engine]) or "default parameters")
        + "); truth used only to score.\n\n"
        + markdown_table(
            [
                "run",
                "people",
                "true reaches",
                "predicted",
                "matched",
                "precision",
                "recall",
                "slot accuracy",
            ],
            rows,
        )
        + "\n\nFalse reaches by kind (`why_false`: double = a second prediction of a matched "
        "true reach; other hand; neighbour = another person reached there then; near in time; "
        "phantom = nobody reached there):\n\n"
        + markdown_table(
            ["group", *KINDS],
            [[g, *(kinds[g][k] for k in KINDS)] for g in kinds],
        )
        + "\n\nParameters were tuned on the tuning seeds (11-15, and 31-45 since the "
        "max_behind_face change) only; fresh seeds (21-25) were never looked at while tuning; earlier seeds (1-5) are those of earlier reports, which "
        "were tuned on before the split.\n\nTargets (issue #9): precision >= 0.98, recall >= "
        "0.98, slot accuracy >= 0.97."
    )
    name = args.name or (
        "interact_oracle_true_identity" if args.true_identity else "interact_oracle"
    )
    write_results(name, "Interaction engine: reaches against simulator ground truth", body)
    tmp.cleanup()


if __name__ == "__main__":
    main()
