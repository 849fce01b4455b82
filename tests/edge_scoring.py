"""Scoring the edge pipeline's messages against a simulator run's ground truth.

Shared by tests/test_edge_pipeline.py and benchmarks/bench_edge.py.

Tracks → people: each published track position is matched to the nearest true person present
at that time (trajectory sample nearest in time) within ``match_m``; a track's person is the one
it matched most often. Reaches follow issue 9's rule: a predicted reach matches a true one when
it is the same person (through its track), the same shelf and the same hand and their time
intervals overlap (the predicted one widened by ``slack_s``, a frame at the run's rate, since
reach times are frame times); each true reach matches at most one predicted reach.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from walkout import protocol


@dataclass
class TrackScore:
    person_frames: int  # (frameset, person) pairs where the person is seen by a replayed camera
    covered: int  # ... that some published track matched
    id_correct: int  # ... matched by the track that follows that person most
    tracks_per_person: dict[int, int]  # distinct tracks that matched each person
    track_person: dict[int, int]  # each track's person
    shared_tracks: int  # tracks whose matches split between people (> 20 % to another)

    @property
    def coverage(self) -> float:
        return self.covered / max(self.person_frames, 1)

    @property
    def id_consistency(self) -> float:
        return self.id_correct / max(self.covered, 1)


@dataclass
class ReachScore:
    predicted: int
    true: int
    matched: int
    slot_correct: int
    pairs: list[tuple[dict[str, Any], protocol.Reach]]

    @property
    def precision(self) -> float:
        return self.matched / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.matched / self.true if self.true else 1.0

    @property
    def slot_accuracy(self) -> float:
        return self.slot_correct / self.matched if self.matched else 1.0


def seen_people(run: Any, cameras: list[str], t_ns: int, tolerance_ns: int,
                truths: dict[str, dict[str, np.ndarray]]) -> set[int]:
    """People with at least 3 visible keypoints in a replayed camera's frame near ``t_ns``."""
    seen: set[int] = set()
    for cam in cameras:
        truth = truths[cam]
        k = int(np.argmin(np.abs(truth["t_ns"] - t_ns))) if len(truth["t_ns"]) else -1
        if k < 0 or abs(int(truth["t_ns"][k]) - t_ns) > tolerance_ns:
            continue
        rec = truth["rec_frame"] == k
        visible = (truth["keypoints"][rec, :, 2] == 2).sum(axis=1) >= 3
        seen.update(int(p) for p in truth["person"][rec][visible])
    return seen


def score_tracks(run: Any, cameras: list[str], messages: list[protocol.Message],
                 match_m: float = 0.75) -> TrackScore:
    traj = run.trajectories()
    times, pos, present = traj["t_ns"], traj["pos"], traj["present"]
    truths = {c: run.truth(c) for c in cameras}
    half = round(0.5e9 / run.fps)
    matches: list[tuple[int, int]] = []  # (track, person) per match
    person_frames = 0
    per_frame: list[list[tuple[int, int]]] = []
    for m in messages:
        if not isinstance(m, protocol.Tracks):
            continue
        k = min(int(np.searchsorted(times, m.t_ns)), len(times) - 1)
        seen = seen_people(run, cameras, m.t_ns, half, truths)
        people = [p for p in sorted(seen) if present[k, p]]
        person_frames += len(people)
        frame: list[tuple[int, int]] = []
        taken: set[int] = set()
        for p in people:
            best, best_d = None, match_m
            for t in m.tracks:
                d = float(np.hypot(t.x - pos[k, p, 0], t.y - pos[k, p, 1]))
                if d < best_d and t.id not in taken:
                    best, best_d = t.id, d
            if best is not None:
                taken.add(best)
                frame.append((best, p))
        per_frame.append(frame)
        matches.extend(frame)
    by_track: dict[int, Counter[int]] = defaultdict(Counter)
    by_person: dict[int, Counter[int]] = defaultdict(Counter)
    for track, person in matches:
        by_track[track][person] += 1
        by_person[person][track] += 1
    track_person = {t: c.most_common(1)[0][0] for t, c in by_track.items()}
    person_track = {p: c.most_common(1)[0][0] for p, c in by_person.items()}
    correct = sum(1 for track, person in matches if person_track[person] == track)
    shared = sum(1 for c in by_track.values() if sum(c.values()) - max(c.values())
                 > 0.2 * sum(c.values()))
    return TrackScore(person_frames, len(matches), correct,
                      {p: len(c) for p, c in by_person.items()}, track_person, shared)


def score_reaches(run: Any, messages: list[protocol.Message], track_person: dict[int, int],
                  slack_s: float | None = None) -> ReachScore:
    slack = round((slack_s if slack_s is not None else 1.0 / run.fps) * 1e9)
    from walkout.demo.scoring import match_reaches

    truth = run.reaches()
    predicted = [m for m in messages if isinstance(m, protocol.Reach)]
    pairs = match_reaches(truth, [(track_person.get(r.track), r) for r in predicted], slack)
    slot_ok = sum(1 for t, r in pairs if t["slot"] == r.slot)
    return ReachScore(len(predicted), len(truth), len(pairs), slot_ok, pairs)
