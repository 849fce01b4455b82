"""The per-frameset step of an edge box: detections of every camera at one instant → messages.

This is the one piece of code that turns detections into ``walkout.protocol`` messages; the
live supervisor (frames through the ONNX detector), replays of simulator runs (oracle
detections or rendered video) and the server's replay tool all call :meth:`EdgePipeline.step`.

Per frameset (``t_ns``, one :class:`walkout.detect.Detections` per camera, ``None`` for a
camera missing from the frameset)::

    floor points      each detection's feet (ankles, else box bottom) back-projected through
                      its camera's calibration, with a floor covariance   (walkout.edge.floor_points)
    multi-view fusion one observation per person, keeping which detection of which camera
                      went into it                                           (walkout.track.fuse_views)
    floor tracker     ids that follow people                              (walkout.track.FloorTracker)
    hands in 3-D      the keypoints of the detections fused into each track
                      (walkout.interact.HandLocator, C++)
    interaction       reaches into slots, dwells at shelves            (walkout.interact.InteractionEngine)
    messages          ``tracks`` every frameset, ``reach`` and ``dwell`` when they close

Times: ``t_ns`` (integer ns since the Unix epoch) in and out; the C++ faces get float seconds
since the first frameset this pipeline saw (converted here, once, both ways). Only floor
positions, ids and events leave: no pixels, no keypoints.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from walkout import protocol
from walkout.config.loader import LoadedEdge, LoadedStore
from walkout.detect import Detections
from walkout.edge.floor_points import FloorObservations, FloorPointParams, floor_observations
from walkout.geometry import Camera
from walkout.interact import Dwell, Event, HandLocator, Hands, InteractionEngine, Reach, Shelves
from walkout.track import FloorTracker, FloorTracks, FusedViews, TrackState, fuse_views

STAGES = ("project", "fuse", "track", "hands", "interact", "messages")


@dataclass(frozen=True)
class PipelineParams:
    """Every knob of the step, each documented where it lives.

    floor: :class:`~walkout.edge.floor_points.FloorPointParams`.
    fusion_gate_probability: ``fuse_views``' gate. Raising it merges views further apart
        (tolerates calibration error, may merge two people standing close); lowering it
        splits one person into two observations under poor calibration.
    tracker: keyword arguments of :class:`walkout.track.FloorTracker` (its ``fps`` defaults
        to the cameras' rate).
    interaction: keyword arguments of :class:`walkout.interact.InteractionEngine` (its own
        defaults, which smooth each hand with a Kalman filter and need two samples inside;
        raising ``min_inside_s`` to 0.2 s traded recall for precision at the same F1 on
        benchmarks/bench_edge.py's run).
    face_margin: :class:`walkout.interact.Shelves`' face margin, metres.
    locator: keyword arguments of :class:`walkout.interact.HandLocator`, the one hand locator
        (C++): the wrist triangulated from two views or more, else one wrist ray and the
        elbow, else the arm model, else one view's ray at the face in front of the person.
        The default turns on ``hidden_single_view``: an edge box covers its shelves with few
        cameras (edge-a: 4), and a hand inside a shelf is often seen by one camera or none;
        on benchmarks/bench_edge.py's 120 s run it raised reach recall 0.43 -> 0.54 (precision
        0.60 -> 0.50, F1 0.50 -> 0.52; slot accuracy 0.95-0.97). Give the whole dict when
        overriding.
    fusion_priors: seed the fusion with the tracker's predictions (``FloorTracker.predicted``):
        each camera's points are assigned against where the tracked people should be, so two
        neighbours keep their own views (docs/rooms/track.md, issue #9 identity). False fuses
        each frameset on its own.
    fusion_merge_radius_m: ``fuse_views``' merge radius: one person's views no camera saw as
        two, closer than this, are merged. Raising it removes more duplicates and merges more
        neighbours no camera sees together; 0 is off. 0.8 here (fuse_views' own default is
        0.6, chosen for pixel-noise covariances): with these floor points and the priors it
        gave fewer identity switches (-16 %) and broken tracks (-21 %) than 0.6 and 24 exact
        receipts of 100 against 19 on tuning seeds 11-15 (docs/rooms/track.md).
    min_separation_m: fused observations closer than this are one person (two bodies hardly
        stand closer, centre to centre): merged, the one seen by more cameras kept. 0 is off.
        Raising it removes duplicates left by a view fusion did not gate in, and merges a
        child held close by a parent. 0.3 raised id consistency and reach precision and
        recall on two 60 s cuts of the benchmark scenario (seeds 1, 2); 0.4 and up lost
        people in crowds.
    """

    floor: FloorPointParams = field(default_factory=FloorPointParams)
    fusion_gate_probability: float = 0.99
    fusion_priors: bool = True
    fusion_merge_radius_m: float = 0.8
    tracker: dict[str, Any] = field(default_factory=dict)
    interaction: dict[str, Any] = field(default_factory=dict)
    face_margin: float = 0.05
    min_separation_m: float = 0.3
    locator: dict[str, Any] = field(default_factory=lambda: {"hidden_single_view": True})


@dataclass(frozen=True)
class TrackView:
    """The tracks handed to the interaction engine (anything with ``ids`` and ``points``)."""

    ids: npt.NDArray[np.int64]
    points: npt.NDArray[np.float64]


@dataclass(frozen=True)
class FramesetResult:
    """What one step produced.

    t_ns: the frameset's capture time. messages: ``tracks`` first, then any ``reach`` and
    ``dwell`` that closed. tracks: the tracker's full output (every state). events: the
    closed reaches and dwells in engine seconds. hands: the 3-D hands given to the engine.
    stage_s: seconds spent per stage (:data:`STAGES`); latency_s: the whole step.
    rows: (N, C) for each of ``tracks``, the row of camera c's detections fused into it this
    frameset, -1 where none (what lets a scorer ask whose detections a track carried).
    """

    t_ns: int
    messages: list[protocol.Message]
    tracks: FloorTracks
    events: list[Event]
    hands: Hands
    stage_s: dict[str, float]
    latency_s: float
    rows: npt.NDArray[np.int64]


class EdgePipeline:
    """The per-frameset step of one edge box (see the module docstring).

    Args:
        store: the validated store (its calibrations are used).
        src: the box id stamped on every message.
        camera_ids: the cameras, in the order detections are given to :meth:`step`.
        image_sizes: (width, height) each camera delivers; calibrations are rescaled to it.
        fps: frameset rate (the tracker's default time step).
        params: :class:`PipelineParams`.
    """

    def __init__(self, store: LoadedStore, src: str, camera_ids: Sequence[str],
                 image_sizes: Sequence[tuple[int, int]], fps: float,
                 params: PipelineParams | None = None) -> None:
        if len(camera_ids) != len(image_sizes):
            raise ValueError(f"image_sizes: expected one (width, height) per camera "
                             f"({len(camera_ids)}), got {len(image_sizes)}")
        if not camera_ids:
            raise ValueError("camera_ids: expected at least one camera")
        missing = [c for c in camera_ids if c not in store.calibrations]
        if missing:
            raise ValueError(f"camera_ids: {missing} have no calibration in the store file "
                             f"{store.path} (it has {sorted(store.calibrations)})")
        self.params = params or PipelineParams()
        self.src = src
        self.store = store
        self.camera_ids = list(camera_ids)
        self.cameras = [Camera.from_calibration(store.calibrations[c], (int(w), int(h)))
                        for c, (w, h) in zip(camera_ids, image_sizes, strict=True)]
        floor = store.config.floor
        self._floor_size = (floor.width, floor.depth)
        tracker_args = {"fps": fps, **self.params.tracker}
        self.tracker = FloorTracker(**tracker_args)
        self.shelves = Shelves(store, face_margin=self.params.face_margin)
        self.engine = InteractionEngine(self.shelves, **self.params.interaction)
        self.locator = HandLocator(self.cameras, self.shelves, **self.params.locator)
        self.epoch_ns: int | None = None
        self._last_t_ns: int | None = None

    @classmethod
    def from_edge(cls, edge: LoadedEdge, params: PipelineParams | None = None) -> EdgePipeline:
        """The pipeline of the box an edge file describes (its cameras, sizes and rate)."""
        config = edge.config
        return cls(edge.store, config.box, [c.id for c in config.cameras],
                   [config.camera_resolution(c) for c in config.cameras],
                   max(config.camera_fps(c) for c in config.cameras), params)

    # -- time, converted once at the boundary ---------------------------------------------------

    def seconds(self, t_ns: int) -> float:
        """Engine seconds of a wire time (since the first frameset)."""
        assert self.epoch_ns is not None
        return (t_ns - self.epoch_ns) * 1e-9

    def nanoseconds(self, t: float) -> int:
        """Wire time of engine seconds."""
        assert self.epoch_ns is not None
        return self.epoch_ns + round(t * 1e9)

    # -- the step --------------------------------------------------------------------------------

    def step(self, t_ns: int, detections: Sequence[Detections | None]) -> FramesetResult:
        """Process one frameset; ``detections[c]`` is camera c's (None: missing)."""
        if len(detections) != len(self.cameras):
            raise ValueError(f"detections: expected one entry per camera ({len(self.cameras)}: "
                             f"{self.camera_ids}), got {len(detections)}")
        t_ns = int(t_ns)
        if self._last_t_ns is not None and t_ns <= self._last_t_ns:
            raise ValueError(f"t_ns: framesets must come in increasing time; got {t_ns} after "
                             f"{self._last_t_ns}")
        if self.epoch_ns is None:
            self.epoch_ns = t_ns
        self._last_t_ns = t_ns
        t = self.seconds(t_ns)
        dets = [d if d is not None else _NO_DETECTIONS for d in detections]
        clock = _Clock()

        observations = [floor_observations(d, cam, self.params.floor, self._floor_size)
                        for d, cam in zip(dets, self.cameras, strict=True)]
        clock.lap("project")

        ahead = self.tracker.predicted(t) if self.params.fusion_priors else None
        fused = fuse_views([o.points for o in observations], [o.covariances for o in observations],
                           self.params.fusion_gate_probability,
                           merge_radius_m=self.params.fusion_merge_radius_m,
                           prior_points=None if ahead is None else ahead.points,
                           prior_covariances=None if ahead is None else ahead.covariances)
        fused_scores = _fused_scores(fused.members, observations)
        if self.params.min_separation_m > 0:
            fused, fused_scores = merge_close(fused, fused_scores, self.params.min_separation_m)
        clock.lap("fuse")

        tracks = self.tracker.update(fused.points, fused.covariances, fused_scores, t)
        rows = _detection_rows(tracks.det_index, fused.members, observations)
        clock.lap("track")

        live = tracks.states != TrackState.TENTATIVE
        seen = live & (tracks.det_index >= 0)
        hands = self._hands(tracks.ids[seen], tracks.points[seen], rows[seen], dets)
        clock.lap("hands")

        events = self.engine.update(t, TrackView(tracks.ids[live], tracks.points[live]), hands)
        clock.lap("interact")

        messages: list[protocol.Message] = [self._tracks_message(t_ns, tracks, rows)]
        messages.extend(self.event_messages(events))
        clock.lap("messages")
        return FramesetResult(t_ns, messages, tracks, events, hands, clock.laps, clock.total(),
                              rows)

    def _hands(self, ids: npt.NDArray[np.int64], points: npt.NDArray[np.float64],
               rows: npt.NDArray[np.int64], dets: Sequence[Detections]) -> Hands:
        """The 3-D hands of the tracks matched this frameset: each camera's keypoints of the
        detection fused into the track go to the locator (zeros where the camera has none)."""
        keypoints = np.zeros((len(ids), len(dets), 17, 3))
        for c, d in enumerate(dets):
            have = np.flatnonzero(rows[:, c] >= 0)
            if d.keypoints is not None and d.keypoints.shape[1] >= 17 and len(have):
                keypoints[have, c] = d.keypoints[rows[have, c], :17]
        return self.locator.locate(ids, points, keypoints).hands()

    def finish(self) -> list[protocol.Message]:
        """Close every open reach (as lost) and dwell: the end of a recording or a shutdown."""
        if self.epoch_ns is None:
            return []
        return self.event_messages(self.engine.close_all())

    # -- messages --------------------------------------------------------------------------------

    def _tracks_message(self, t_ns: int, tracks: FloorTracks,
                        rows: npt.NDArray[np.int64]) -> protocol.Tracks:
        confirmed = np.flatnonzero(tracks.states == TrackState.CONFIRMED)
        states = []
        for i in confirmed.tolist():
            x, y = tracks.points[i]
            vx, vy = np.clip(tracks.velocities[i], -100.0, 100.0)
            states.append(protocol.TrackState(
                id=int(tracks.ids[i]), x=float(x), y=float(y), vx=float(vx), vy=float(vy),
                confidence=float(np.clip(tracks.scores[i], 0.0, 1.0)),
                cameras=[self.camera_ids[c] for c in np.flatnonzero(rows[i] >= 0).tolist()]))
        return protocol.Tracks(src=self.src, t_ns=t_ns, tracks=states)

    def event_messages(self, events: Sequence[Event]) -> list[protocol.Message]:
        """``reach`` and ``dwell`` messages of closed events (times back to ns)."""
        out: list[protocol.Message] = []
        for event in events:
            if isinstance(event, Reach):
                start, end = self.nanoseconds(event.start), self.nanoseconds(event.end)
                out.append(protocol.Reach(
                    src=self.src, t_ns=end, track=event.track, shelf=event.shelf,
                    slot=event.slot, start_ns=start, end_ns=max(start, end), hand=event.hand,
                    confidence=float(np.clip(event.confidence, 0.0, 1.0))))
            elif isinstance(event, Dwell):
                enter, leave = self.nanoseconds(event.enter), self.nanoseconds(event.leave)
                out.append(protocol.Dwell(src=self.src, t_ns=leave, track=event.track,
                                          shelf=event.shelf, enter_ns=enter,
                                          leave_ns=max(enter, leave)))
        return out


_NO_DETECTIONS = Detections(np.zeros((0, 4), np.float32), np.zeros(0, np.float32),
                            np.zeros(0, np.int64), np.zeros((0, 17, 3), np.float32))


def merge_close(fused: FusedViews, scores: npt.NDArray[np.float32], distance_m: float
                ) -> tuple[FusedViews, npt.NDArray[np.float32]]:
    """Fold every fused observation into a stronger one (more cameras, then higher score)
    closer than ``distance_m``: information-weighted, cameras it had that the stronger one
    lacks joining it."""
    n = len(scores)
    if n < 2:
        return fused, scores
    points, covs, members = (fused.points.copy(), fused.covariances.copy(),
                             fused.members.copy())
    order = np.lexsort((-scores, -(members >= 0).sum(axis=1)))  # strongest first
    alive = np.ones(n, bool)
    for a_pos, a in enumerate(order.tolist()):
        if not alive[a]:
            continue
        for b in order[a_pos + 1:].tolist():
            if alive[b] and np.hypot(*(points[a] - points[b])) < distance_m:
                info_a, info_b = np.linalg.inv(covs[a]), np.linalg.inv(covs[b])
                covs[a] = np.linalg.inv(info_a + info_b)
                points[a] = covs[a] @ (info_a @ points[a] + info_b @ points[b])
                join = (members[a] < 0) & (members[b] >= 0)
                members[a, join] = members[b, join]
                scores[a] = max(scores[a], scores[b])
                alive[b] = False
    keep = np.flatnonzero(alive)
    return FusedViews(points[keep], covs[keep], members[keep]), scores[keep]


def _fused_scores(members: npt.NDArray[np.int64],
                  observations: Sequence[FloorObservations]) -> npt.NDArray[np.float32]:
    """A fused observation's score: the best score among the detections fused into it."""
    scores = np.zeros(len(members), np.float32)
    for c, obs in enumerate(observations):
        has = members[:, c] >= 0
        scores[has] = np.maximum(scores[has], obs.scores[members[has, c]])
    return scores


def _detection_rows(det_index: npt.NDArray[np.int64], members: npt.NDArray[np.int64],
                    observations: Sequence[FloorObservations]) -> npt.NDArray[np.int64]:
    """(N, C): the detection row of camera c in track n this frameset, -1 where none."""
    rows = np.full((len(det_index), len(observations)), -1, np.int64)
    matched = np.flatnonzero(det_index >= 0)
    for c, obs in enumerate(observations):
        member = members[det_index[matched], c]
        has = member >= 0
        rows[matched[has], c] = obs.rows[member[has]]
    return rows


class _Clock:
    """Per-stage wall time of one step."""

    def __init__(self) -> None:
        self.start = self.last = time.perf_counter()
        self.laps: dict[str, float] = {}

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.laps[stage] = now - self.last
        self.last = now

    def total(self) -> float:
        return self.last - self.start
