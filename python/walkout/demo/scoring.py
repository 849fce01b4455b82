"""Scoring a demo run against the simulator's truth.

- Receipts: every account whose people all left, against the receipt the server decided.
- Store-wide floor tracks (the server's global shoppers) against the true trajectories, with
  TrackEval's Identity (IDF1) and HOTA metrics on floor points: similarity
  ``max(0, 1 - d / 1 m)``, so the Identity metric's 0.5 similarity threshold is a Euclidean
  match distance of 0.5 m (HOTA averages its thresholds, 0.05 to 0.95 m; ``hota_05`` is its
  value at 0.5 m).
- Reaches: the boxes' reach messages (as the server stored them) against the true reaches by
  issue 9's rule (:func:`match_reaches`).
"""

from __future__ import annotations

import bisect
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from walkout import protocol

_NS = 1_000_000_000
MATCH_M = 0.5


@dataclass
class ReceiptScore:
    accounts: int = 0
    issued_exact: int = 0
    issued_wrong: int = 0
    in_review: int = 0
    review_exact: int = 0
    missing: int = 0
    missed_items: int = 0
    extra_items: int = 0
    review_reasons: dict[str, int] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def decided(self) -> int:
        return self.issued_exact + self.issued_wrong + self.in_review


def score_receipts(truth: dict[str, dict[str, int]], receipts: Sequence[Any]) -> ReceiptScore:
    """``receipts``: the server's StoredReceipt rows. An account's latest receipt counts."""
    by_account = {r.account: r for r in sorted(receipts, key=lambda r: r.decided_ns)}
    out = ReceiptScore(accounts=len(truth))
    for account in sorted(truth):
        want = truth[account]
        r = by_account.get(account)
        got = {} if r is None else {x["sku"]: int(x["qty"]) for x in r.lines}
        skus = set(want) | set(got)
        missed = sum(max(0, want.get(s, 0) - got.get(s, 0)) for s in skus)
        extra = sum(max(0, got.get(s, 0) - want.get(s, 0)) for s in skus)
        out.missed_items += missed
        out.extra_items += extra
        if r is None:
            out.missing += 1
            verdict = "no receipt"
        elif r.status == "issued":
            exact = got == want
            out.issued_exact += exact
            out.issued_wrong += not exact
            verdict = "issued, exact" if exact else "issued, WRONG"
        else:
            out.in_review += 1
            out.review_exact += got == want
            for reason in r.reasons:
                key = re.sub(r"\(.*|[\w-]*\d[\w/.-]*", "#", reason)[:50].strip()
                out.review_reasons[key] = out.review_reasons.get(key, 0) + 1
            verdict = "review" + (" (lines right)" if got == want else "")
        out.rows.append({"account": account, "truth": want, "receipt": got,
                         "status": None if r is None else r.status, "verdict": verdict,
                         "reasons": [] if r is None else list(r.reasons),
                         "exit_ns": None if r is None else r.exit_ns,
                         "decided_ns": None if r is None else r.decided_ns,
                         "missed": missed, "extra": extra})
    return out


# --- floor tracks ----------------------------------------------------------------------------


def track_metrics(truth_t: np.ndarray, truth_pos: np.ndarray, present: np.ndarray,
                  paths: dict[int, tuple[list[int], list[tuple[float, float]]]],
                  t0_ns: int, t1_ns: int, step_s: float = 0.2,
                  tolerance_s: float = 0.05) -> dict[str, float]:
    """IDF1, HOTA (mean over thresholds), HOTA at 0.5 m, DetA, AssA of ``paths`` (id ->
    times, points) against the truth, at every ``step_s`` between ``t0_ns`` and ``t1_ns``; a
    track counts at a time if it has a point within ``tolerance_s`` of it."""
    import trackeval

    times = np.arange(t0_ns, t1_ns, int(step_s * _NS), dtype=np.int64)
    tol = int(tolerance_s * _NS)
    track_times = {i: np.asarray(t, np.int64) for i, (t, _) in paths.items() if t}
    track_xy = {i: np.asarray(xy, np.float64) for i, (_, xy) in paths.items() if xy}
    gt_map: dict[int, int] = {}
    tr_map: dict[int, int] = {}
    gt_ids, tr_ids, sims = [], [], []
    n_gt = n_tr = 0
    for t in times.tolist():
        k = min(int(np.searchsorted(truth_t, t)), len(truth_t) - 1)
        people = np.flatnonzero(present[k])
        g = truth_pos[k, people]
        ids, pts = [], []
        for i, ts in track_times.items():
            j = int(np.searchsorted(ts, t))
            best = min((c for c in (j - 1, j) if 0 <= c < len(ts)),
                       key=lambda c: abs(int(ts[c]) - t), default=None)
            if best is not None and abs(int(ts[best]) - t) <= tol:
                ids.append(i)
                pts.append(track_xy[i][best])
        p = np.asarray(pts, np.float64).reshape(-1, 2)
        d = np.linalg.norm(g[:, None, :] - p[None, :, :], axis=2) if len(g) and len(p) else \
            np.zeros((len(g), len(p)))
        sims.append(np.clip(1.0 - d / (2 * MATCH_M), 0.0, 1.0))
        gt_ids.append(np.array([gt_map.setdefault(int(x), len(gt_map)) for x in people], int))
        tr_ids.append(np.array([tr_map.setdefault(int(x), len(tr_map)) for x in ids], int))
        n_gt += len(people)
        n_tr += len(ids)
    data = {"num_timesteps": len(times), "num_gt_ids": len(gt_map),
            "num_tracker_ids": len(tr_map), "num_gt_dets": n_gt, "num_tracker_dets": n_tr,
            "gt_ids": gt_ids, "tracker_ids": tr_ids, "similarity_scores": sims}
    ident = trackeval.metrics.Identity({"PRINT_CONFIG": False}).eval_sequence(data)
    hota = trackeval.metrics.HOTA().eval_sequence(data)
    alphas = np.asarray(trackeval.metrics.HOTA().array_labels)
    at_05 = int(np.argmin(np.abs(alphas - 0.5)))
    return {"idf1": float(ident["IDF1"]), "hota": float(np.mean(hota["HOTA"])),
            "hota_05": float(hota["HOTA"][at_05]), "deta": float(np.mean(hota["DetA"])),
            "assa": float(np.mean(hota["AssA"])), "tracks": len(tr_map),
            "people": len(gt_map)}


# --- reaches ---------------------------------------------------------------------------------


def match_reaches(truth: Sequence[dict[str, Any]],
                  predicted: Sequence[tuple[int | None, protocol.Reach]],
                  slack_ns: int) -> list[tuple[dict[str, Any], protocol.Reach]]:
    """Issue 9's rule: a predicted reach (with the true person its track followed, or None)
    matches a true one of the same person, shelf and hand whose interval overlaps it (widened
    by ``slack_ns``); predicted reaches in start order, each true reach matched once."""
    used: set[int] = set()
    pairs = []
    for person, r in sorted(predicted, key=lambda x: x[1].start_ns):
        for i, t in enumerate(truth):
            if i in used or person != t["person"] or r.shelf != t["shelf"] or r.hand != t["hand"]:
                continue
            if r.start_ns - slack_ns <= t["end_ns"] and t["start_ns"] <= r.end_ns + slack_ns:
                used.add(i)
                pairs.append((t, r))
                break
    return pairs


def box_track_people(truth_t: np.ndarray, truth_pos: np.ndarray, present: np.ndarray,
                     tracks: Sequence[protocol.Tracks]) -> dict[tuple[str, int], int]:
    """(box, local track id) -> the true person that track was nearest (within 0.5 m) most
    often: whom a box's reaches belong to."""
    votes: dict[tuple[str, int], Counter[int]] = defaultdict(Counter)
    for m in tracks:
        if not m.tracks:
            continue
        k = min(int(np.searchsorted(truth_t, m.t_ns)), len(truth_t) - 1)
        people = np.flatnonzero(present[k])
        if not len(people):
            continue
        for tr in m.tracks:
            d = np.hypot(truth_pos[k, people, 0] - tr.x, truth_pos[k, people, 1] - tr.y)
            j = int(np.argmin(d))
            if d[j] <= MATCH_M:
                votes[(m.src, tr.id)][int(people[j])] += 1
    return {key: c.most_common(1)[0][0] for key, c in votes.items()}


def reach_metrics(truth_reaches: Sequence[dict[str, Any]], events: Sequence[protocol.Message],
                  truth_t: np.ndarray, truth_pos: np.ndarray, present: np.ndarray,
                  slack_ns: int) -> dict[str, float]:
    tracks = [m for m in events if isinstance(m, protocol.Tracks)]
    reaches = [m for m in events if isinstance(m, protocol.Reach)]
    people = box_track_people(truth_t, truth_pos, present, tracks)
    pairs = match_reaches(truth_reaches, [(people.get((r.src, r.track)), r) for r in reaches],
                          slack_ns)
    slot_ok = sum(1 for t, r in pairs if t["slot"] == r.slot)
    return {"reach_precision": len(pairs) / len(reaches) if reaches else 1.0,
            "reach_recall": len(pairs) / len(truth_reaches) if truth_reaches else 1.0,
            "reach_slot_accuracy": slot_ok / len(pairs) if pairs else 1.0,
            "reaches_predicted": len(reaches), "reaches_true": len(truth_reaches)}


# --- latency ---------------------------------------------------------------------------------


def store_time_at(samples: Sequence[tuple[int, int]], wall_ns: int) -> int:
    """The store time the boxes had reached at ``wall_ns``, from (wall, store) samples."""
    walls = [w for w, _ in samples]
    i = bisect.bisect_right(walls, wall_ns) - 1
    return samples[max(i, 0)][1]


def latencies_s(rows: Sequence[dict[str, Any]], samples: Sequence[tuple[int, int]]) -> list[float]:
    """Store seconds from each decided receipt's exit to its decision."""
    return [(store_time_at(samples, r["decided_ns"]) - r["exit_ns"]) / _NS
            for r in rows if r.get("decided_ns") is not None and r.get("exit_ns") is not None
            and samples]
