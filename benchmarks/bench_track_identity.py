"""Where edge identity breaks: per-camera floor-point error, multi-view fusion's duplicates and
merges, and the FloorTracker's identity, on simulator oracle runs, each point labelled with
the true person its detections came from (the truth is used only to label and score).

    PYTHONPATH=python:benchmarks python3 benchmarks/bench_track_identity.py \
        --run /tmp/runs/seed11 ... [--projection oracle|edge] [--name track_identity]

``--projection oracle`` projects feet exactly as benchmarks/bench_interact_oracle.py does (both
ankles seen above 0.3, else the box bottom; 6 px pixel noise, no body term); ``edge`` uses
walkout.edge.floor_points with its defaults, as the edge pipeline does (without the
pipeline's ``merge_close``). ``--priors`` seeds fusion with the FloorTracker's predictions,
as the edge pipeline does (``PipelineParams.fusion_priors``).

Figures per run:
- camera error: distance from each per-camera floor point to its person's true floor position,
  median and 90th percentile, for ankle and box-bottom points, split along the camera's view
  direction (radial) and across it; "NIS > gate": the share of points whose squared
  Mahalanobis distance to the truth under their own covariance exceeds the 0.99 gate (a
  calibrated covariance has 1 %).
- fusion: fused points per frameset, duplicates (a person in two fused points or more),
  mixed (a fused point of two people's detections), per frameset.
- tracker: tracks, tracks per person, identity switches (a person's matched track changes
  from one frameset to the next), id consistency (share of a person's matched framesets that
  carry their most common track), broken (a track that is a person's for a while, then
  another person's).
Tuning seeds are 11-15 of store-20 (TUNING_SEEDS in bench_interact_oracle.py); report on
21-25 and 1-5.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "python"), str(ROOT / "benchmarks")]

from harness import markdown_table, write_results  # noqa: E402
from walkout.detect import Detections  # noqa: E402
from walkout.edge.floor_points import FloorPointParams, floor_observations  # noqa: E402
from walkout.geometry import Camera  # noqa: E402
from walkout.sim.run import Run  # noqa: E402
from walkout.track import FloorTracker, chi2_gate, fuse_views  # noqa: E402

ANKLES = (15, 16)
ORACLE_MIN_SCORE = 0.3
ORACLE_PIXEL_SIGMA = 6.0


def framesets(run: Run) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Tick times, per camera the frame index at each tick (-1: none) and each frame's time."""
    frames, times, last = {}, {}, 0
    for cam in run.cameras:
        truth = run.truth(cam)
        tick = np.round((truth["t_ns"] - run.start_ns) / 1e9 * run.fps).astype(int)
        frames[cam], times[cam] = tick, truth["t_ns"]
        last = max(last, int(tick.max()) + 1)
    index = {cam: np.full(last, -1, np.int64) for cam in run.cameras}
    for cam, tick in frames.items():
        index[cam][tick] = np.arange(len(tick))
    return np.arange(last) / run.fps, index, times


def project_oracle(cam: Camera, kp: np.ndarray, box: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """bench_interact_oracle.py's projection: points, covariances, from_ankles."""
    foot = np.c_[(box[:, 0] + box[:, 2]) / 2, box[:, 3]]
    seen = (kp[:, ANKLES, 2] > 0.3).all(axis=1)
    foot[seen] = kp[seen][:, ANKLES, :2].mean(axis=1)
    return cam.floor_from_image(foot), cam.floor_covariance(foot, ORACLE_PIXEL_SIGMA), seen


def evaluate(run: Run, projection: str, fuse_kwargs: dict, tracker_kwargs: dict,
             priors: bool = False) -> dict:
    store = run.store()
    cams = [Camera.from_calibration(store.calibrations[c], image_size=tuple(run.image_size))
            for c in run.cameras]
    centres = [np.asarray(c.centre)[:2] for c in cams]
    floor = store.config.floor
    params = FloorPointParams()
    traj = run.trajectories()
    traj_t = (traj["t_ns"] - run.start_ns) / 1e9
    oracle = {c: run.oracle(c) for c in run.cameras}
    by_frame = {c: defaultdict(list) for c in run.cameras}
    for c in run.cameras:
        for row, f in enumerate(oracle[c]["rec_frame"]):
            by_frame[c][int(f)].append(row)
    ticks, index, frame_t = framesets(run)
    tracker = FloorTracker(fps=run.fps, **tracker_kwargs)
    gate = chi2_gate(0.99, 2)
    err: dict[str, list] = defaultdict(list)
    nis_over = Counter()
    fused_total = dup = mixed = sets = 0
    dup_dist: list[float] = []
    dup_nis: list[float] = []
    mixed_dist: list[float] = []
    person_track: dict[int, list[tuple[int, int]]] = defaultdict(list)  # person -> (tick, track)
    track_people: dict[int, Counter] = defaultdict(Counter)
    last = None
    for k, t in enumerate(ticks):
        points, covs, persons = [], [], []
        for ci, c in enumerate(run.cameras):
            f = int(index[c][k]) if k < len(index[c]) else -1
            rows = [r for r in by_frame[c].get(f, []) if oracle[c]["score"][r] >= ORACLE_MIN_SCORE
                    ] if f >= 0 else []
            if not rows:
                points.append(np.zeros((0, 2)))
                covs.append(np.zeros((0, 2, 2)))
                persons.append(np.zeros(0, np.int64))
                continue
            kp = oracle[c]["keypoints"][rows].astype(np.float64)
            box = oracle[c]["box"][rows].astype(np.float64)
            if projection == "oracle":
                pts, cov, ank = project_oracle(cams[ci], kp, box)
                keep = np.arange(len(rows))
            else:
                dets = Detections(box.astype(np.float32), oracle[c]["score"][rows],
                                  np.zeros(len(rows), np.int64), kp.astype(np.float32))
                obs = floor_observations(dets, cams[ci], params, (floor.width, floor.depth))
                pts, cov, ank, keep = obs.points, obs.covariances, obs.from_ankles, obs.rows
            who = oracle[c]["person"][np.asarray(rows)[keep]].astype(np.int64)
            points.append(pts)
            covs.append(cov)
            persons.append(who)
            # per-camera error against the truth at this camera frame's time
            ft = (frame_t[c][f] - run.start_ns) / 1e9
            ti = int(np.clip(np.searchsorted(traj_t, ft), 0, len(traj_t) - 1))
            for j, p in enumerate(who.tolist()):
                if p < 0:
                    continue
                true = traj["pos"][ti, p].astype(np.float64)
                d = pts[j] - true
                kind = "ankles" if ank[j] else "box"
                centre = centres[ci]
                if centre is not None:
                    u = true - centre
                    u /= max(np.linalg.norm(u), 1e-9)
                    err[kind + "_radial"].append(abs(d @ u))
                    err[kind + "_signed"].append(float(d @ u))
                    err[kind + "_across"].append(abs(d[0] * u[1] - d[1] * u[0]))
                err[kind].append(float(np.hypot(*d)))
                nis = d @ np.linalg.solve(cov[j], d)
                nis_over[kind] += nis > gate
                nis_over[kind + "_n"] += 1
        if priors and last is not None:
            ahead = tracker.predicted(float(t))
            fused = fuse_views(points, covs, prior_points=ahead.points,
                               prior_covariances=ahead.covariances, **fuse_kwargs)
        else:
            fused = fuse_views(points, covs, **fuse_kwargs)
        sets += 1
        label = np.full(len(fused.points), -1, np.int64)
        owners: Counter = Counter()
        for g in range(len(fused.points)):
            who_g = [int(persons[ci][m]) for ci, m in enumerate(fused.members[g]) if m >= 0]
            real = [p for p in who_g if p >= 0]
            if len(set(real)) > 1:
                mixed += 1
                ti = int(np.clip(np.searchsorted(traj_t, t), 0, len(traj_t) - 1))
                a, b = list(set(real))[:2]
                mixed_dist.append(float(np.hypot(*(traj["pos"][ti, a] - traj["pos"][ti, b]))))
            if real:
                label[g] = Counter(real).most_common(1)[0][0]
                owners[label[g]] += 1
        fused_total += len(fused.points)
        dup += sum(n - 1 for n in owners.values() if n > 1)
        for p, n in owners.items():
            if n < 2:
                continue
            groups = np.flatnonzero(label == p)
            g0, g1 = groups[:2]
            d = fused.points[g0] - fused.points[g1]
            dup_dist.append(float(np.hypot(*d)))
            dup_nis.append(float(d @ np.linalg.solve(fused.covariances[g0]
                                                     + fused.covariances[g1], d)))
        ncam = (fused.members >= 0).sum(axis=1)
        scores = np.ones(len(fused.points), np.float32)
        tracks = tracker.update(fused.points, fused.covariances, scores, t=float(t))
        last = tracks
        best: dict[int, tuple[int, int]] = {}  # person -> (cameras, track) of its main point
        for i in np.flatnonzero((tracks.det_index >= 0) & (tracks.states != 0)).tolist():
            g = int(tracks.det_index[i])
            p = int(label[g])
            if p >= 0:
                track_people[int(tracks.ids[i])][p] += 1
                if p not in best or ncam[g] > best[p][0]:
                    best[p] = (int(ncam[g]), int(tracks.ids[i]))
        for p, (_, tr) in best.items():
            person_track[p].append((k, tr))
    switches = consistent = matched = 0
    for seq in person_track.values():
        ids = [tr for _, tr in seq]
        switches += sum(a != b for a, b in itertools.pairwise(ids))
        consistent += Counter(ids).most_common(1)[0][1]
        matched += len(ids)
    broken = sum(1 for c in track_people.values()
                 if sum(n for n in c.values()) - c.most_common(1)[0][1] >= 5)
    out = dict(
        sets=sets, fused_per_set=fused_total / sets, dup_per_set=dup / sets,
        mixed_per_set=mixed / sets, tracks=len(track_people), people=len(person_track),
        switches=switches, id_consistency=consistent / max(matched, 1), broken=broken,
        dup_dist=np.percentile(dup_dist, [10, 50, 90]) if dup_dist else [np.nan] * 3,
        mixed_dist=np.percentile(mixed_dist, [10, 50, 90]) if mixed_dist else [np.nan] * 3,
        dup_nis_med=float(np.median(dup_nis)) if dup_nis else np.nan,
    )
    for kind in ("ankles", "box"):
        e = np.asarray(err[kind])
        out[f"{kind}_n"] = len(e)
        out[f"{kind}_med"] = float(np.median(e)) if len(e) else float("nan")
        out[f"{kind}_p90"] = float(np.percentile(e, 90)) if len(e) else float("nan")
        for axis in ("radial", "across"):
            a = np.asarray(err[f"{kind}_{axis}"])
            out[f"{kind}_{axis}_p90"] = float(np.percentile(a, 90)) if len(a) else float("nan")
        sg = np.asarray(err[f"{kind}_signed"])
        out[f"{kind}_signed"] = np.percentile(sg, [10, 50, 90]) if len(sg) else [np.nan] * 3
        out[f"{kind}_nis_over"] = nis_over[kind] / max(nis_over[kind + "_n"], 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, nargs="+", required=True)
    parser.add_argument("--projection", choices=("oracle", "edge"), default="oracle")
    parser.add_argument("--name", default=None, help="write benchmarks/results/NAME.md")
    parser.add_argument("--fuse", default="{}", help="fuse_views keyword arguments (Python dict)")
    parser.add_argument("--tracker", default="{}", help="FloorTracker keyword arguments")
    parser.add_argument("--priors", action="store_true",
                        help="seed fusion with the tracker's predictions (as the edge pipeline)")
    args = parser.parse_args()
    fuse_kwargs, tracker_kwargs = eval(args.fuse), eval(args.tracker)
    rows = []
    for path in args.run:
        r = evaluate(Run(path), args.projection, fuse_kwargs, tracker_kwargs, args.priors)
        rows.append([path.name, f"{r['fused_per_set']:.1f}", f"{r['dup_per_set']:.3f}",
                     f"{r['mixed_per_set']:.3f}", r["people"], r["tracks"], r["switches"],
                     f"{r['id_consistency']:.3f}", r["broken"],
                     f"{r['ankles_med']:.2f}/{r['ankles_p90']:.2f}",
                     f"{r['ankles_radial_p90']:.2f}/{r['ankles_across_p90']:.2f}",
                     f"{r['ankles_nis_over']:.2f}",
                     f"{r['box_med']:.2f}/{r['box_p90']:.2f}",
                     f"{r['box_radial_p90']:.2f}/{r['box_across_p90']:.2f}",
                     f"{r['box_nis_over']:.2f}", f"{r['box_n'] / max(r['box_n'] + r['ankles_n'], 1):.2f}"])
        print(path.name, "duplicate distance p10/50/90", np.round(r["dup_dist"], 2),
              "median NIS", round(r["dup_nis_med"], 1),
              "mixed: true distance p10/50/90", np.round(r["mixed_dist"], 2),
              "signed radial error (away from camera) p10/50/90: ankles",
              np.round(r["ankles_signed"], 2), "box", np.round(r["box_signed"], 2), file=sys.stderr)
    header = ["run", "fused/set", "dup/set", "mixed/set", "people", "tracks", "id switches",
              "id consistency", "broken tracks", "ankle err med/p90 m", "ankle p90 radial/across",
              "ankle NIS>gate", "box err med/p90 m", "box p90 radial/across", "box NIS>gate",
              "box share"]
    table = markdown_table(header, rows)
    print(table)
    if args.name:
        write_results(args.name, "Edge identity diagnostics (oracle runs, labelled by truth)",
                      f"Projection: {args.projection}; fuse_views {fuse_kwargs}"
                      f"{' with the tracker priors' if args.priors else ''}; FloorTracker "
                      f"{tracker_kwargs}.\n\nReproduce: `PYTHONPATH=python:benchmarks python3 "
                      f"benchmarks/bench_track_identity.py {' '.join(sys.argv[1:])}`\n\n" + table)


if __name__ == "__main__":
    main()
