"""Tracking: linear assignment, batched Kalman filters, multi-view fusion and the trackers.

The Python face of the track room; the work happens in C++ (``walkout._core``, sources in
``cpp/src/track/``). Everything here validates nothing itself: the compiled functions check
shapes and values and raise ``ValueError`` naming the argument and the expected shape.

Units: image boxes in pixels (xyxy), floor points in metres (store frame), covariances in
m^2, times ``t`` in float seconds on any monotonic epoch (``None`` = one period of the
tracker's ``fps`` after the previous frame).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from walkout import _core

__all__ = [
    "BoxTracker",
    "FloorTracker",
    "FloorTracks",
    "FusedViews",
    "TrackState",
    "Tracks",
    "chi2_gate",
    "fuse_views",
    "linear_assignment",
]

ArrayLike = npt.ArrayLike


class TrackState(enum.IntEnum):
    """Lifecycle state of a track, as reported in ``Tracks.states``."""

    TENTATIVE = 0  # seen, not yet confirmed (min_hits consecutive hits)
    CONFIRMED = 1  # matched this frame (or confirmed and not yet missed)
    LOST = 2  # confirmed, currently unmatched; kept for lost_buffer_s


_CONFIRMED = int(TrackState.CONFIRMED)
# BoxTracker's defaults, read from the C++ options struct (their one definition).
_BOX = _core.BoxTrackerParams()


# The compiled function itself, not a Python wrapper around it: at tracking sizes (10x10)
# a wrapper's call would add ~5 % to the whole solve. Its documentation:
#
# linear_assignment(cost, cost_limit=None) -> (rows, cols)
#   Minimum-cost assignment of rows to columns of a (rows, cols) cost matrix (float64, or
#   anything numpy converts). Returns int64 ``(rows, cols)`` with rows ascending, like
#   ``scipy.optimize.linear_sum_assignment``. ``+inf`` marks a forbidden pair; NaN and -inf
#   raise ValueError. Without ``cost_limit`` every row (or every column, if fewer) is
#   matched and an impossible problem raises ValueError ("infeasible"). With
#   ``cost_limit``, pairs costing more are never matched, and leaving a row and a column
#   unmatched is worth exactly ``cost_limit`` (``lap.lapjv``'s convention): a pair below it
#   can still be left out if that lets two other pairs in more cheaply.
linear_assignment = _core.track_linear_assignment


def chi2_gate(probability: float, dof: int) -> float:
    """Squared-Mahalanobis gate holding ``probability`` of a ``dof``-dimensional measurement."""
    return _core.track_chi2_quantile(probability, dof)


class Tracks:
    """One frame of BoxTracker output, rows sorted by ID.

    ids: (N,) int64, unique, never reused by the tracker instance.
    boxes: (N, 4) float32 xyxy pixels, the Kalman estimate (a prediction for lost tracks).
    states: (N,) int8 TrackState values.
    det_index: (N,) int64, the input row that updated the track this frame, -1 if none.
    scores: (N,) float32, the score of the detection that last updated the track.

    A plain slotted class rather than a frozen dataclass: it is built every frame, and a
    frozen dataclass's __init__ costs several times the tracker's own per-frame work in C++.
    Treat it as read-only.
    """

    __slots__ = ("_confirmed", "boxes", "det_index", "ids", "scores", "states")

    def __init__(self, ids: npt.NDArray[np.int64], boxes: npt.NDArray[np.float32],
                 states: npt.NDArray[np.int8], det_index: npt.NDArray[np.int64],
                 scores: npt.NDArray[np.float32], _confirmed: tuple | None = None) -> None:
        self.ids = ids
        self.boxes = boxes
        self.states = states
        self.det_index = det_index
        self.scores = scores
        self._confirmed = _confirmed  # the confirmed subset, when the tracker computed it

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        return (f"Tracks(ids={self.ids!r}, boxes={self.boxes!r}, states={self.states!r}, "
                f"det_index={self.det_index!r}, scores={self.scores!r})")

    def confirmed(self) -> Tracks:
        """The tracks the output policy reports: confirmed and matched this frame, and lost
        ones for ``output_lost_s`` (the fallback below, for Tracks built by hand, knows no
        times and keeps the confirmed and matched ones only)."""
        if self._confirmed is not None:
            return Tracks(*self._confirmed)
        # A plain int, not the IntEnum: numpy compares against an enum member by a slow path.
        keep = np.flatnonzero((self.states == _CONFIRMED) & (self.det_index >= 0))
        return Tracks(self.ids.take(keep), self.boxes.take(keep, axis=0), self.states.take(keep),
                      self.det_index.take(keep), self.scores.take(keep))


@dataclass(frozen=True)
class FloorTracks:
    """One frame of FloorTracker output, rows sorted by ID.

    ids, states, det_index, scores: as in :class:`Tracks`.
    points: (N, 2) float64 metres; velocities: (N, 2) m/s; covariances: (N, 2, 2) m^2.
    """

    ids: npt.NDArray[np.int64]
    points: npt.NDArray[np.float64]
    states: npt.NDArray[np.int8]
    det_index: npt.NDArray[np.int64]
    scores: npt.NDArray[np.float32]
    velocities: npt.NDArray[np.float64]
    covariances: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.ids)


class BoxTracker:
    """Multi-person tracker for one camera's image plane (motion only).

    ByteTrack's two-pass association (high-score detections first, then low-score ones for
    confirmed and lost tracks), OC-SORT's velocity-direction consistency, observation-centric
    recovery and re-update, a tentative/confirmed/lost lifecycle with a lost buffer in
    seconds, and a constant-velocity Kalman filter on (cx, cy, w, h) stepped by real time.
    IDs belong to this instance.

    Parameters (each: what raising it trades):
        fps: frame rate used when ``update`` gets no ``t``; only the default time step.
        high_score: detections at or above go to the first pass and may start tracks; raising
            keeps doubtful detections out (fewer false tracks, more fragmentation).
        low_score: detections below are ignored; between low and high they extend confirmed
            and lost tracks (second pass). Lowering recovers more occluded people, risks
            background.
        new_track_score: an unmatched detection at or above this starts a tentative track,
            low-score ones included when it is below high_score (people entering half hidden);
            raising cuts false tracks and delays newcomers.
        occluded_birth_score: a detection below ``new_track_score`` but at or above this
            still starts a track when at least ``occluded_birth_cover`` of it lies behind a
            person matched this frame who stands nearer the camera (box bottom lower in the
            image): how a person half hidden in a crowd is detected. Lowering it tracks
            hidden people sooner and risks tracks on duplicate boxes around a person; at or
            above ``new_track_score`` it is off.
        occluded_birth_cover: share of the detection that nearer person's box must cover.
        confirm_score: a tentative track is confirmed (reported) only once one of its
            detections scored at or above this, besides ``min_hits`` hits, so tracks born or
            fed by low-score boxes alone (clutter, partial duplicates) never reach the
            output; raising drops more doubtful tracks and delays people who stay partly
            hidden; ``low_score`` turns it off.
        low_extend_s: seconds after a track's last high-score detection during which
            low-score ones may still extend it; raising keeps people through longer partial
            occlusion, lowering frees tracks from background clutter sooner; ``inf`` is off.
        output_lost_s: output policy: a lost track is reported (its predicted box) for this
            long after its last observation; raising fills short misses (recall) and reports
            boxes where nobody is once a person has left; 0 reports matched tracks only.
        match_iou: first-pass minimum IoU (times score); lowering follows fast motion,
            raising swaps fewer identities between people passing close.
        low_match_iou: second-pass minimum IoU for low-score detections; raising protects
            tracks from background detections, lowering keeps people through partial
            occlusion.
        tentative_match_iou: minimum IoU for a tentative track's second hit.
        recovery_iou: minimum IoU between a lost track's last observed box and a detection.
        direction_weight: OC-SORT direction-consistency weight; raising prefers detections
            that continue a track's heading (helps crossings, hurts people who turn).
        direction_span_s: seconds over which the heading is measured; longer is steadier
            under jitter but slower to see a turn.
        fuse_score: multiply IoU by detection score in the first pass (ByteTrack).
        min_hits: consecutive hits confirming a track; raising suppresses flicker, delays
            and drops newcomers' first frames.
        lost_buffer_s: seconds a lost track may be found again; longer bridges longer
            occlusions, risks giving an old ID to a newcomer.
        observation_reupdate: re-filter along a straight virtual path after a gap (OC-SORT).
        position_noise: position random walk (fraction of box side per sqrt(s)); raising
            follows detections more, smooths less.
        velocity_noise: velocity random walk (box sides per s per sqrt(s)); raising follows
            accelerations sooner, coasts less straight through occlusion.
        measurement_noise: detection noise as a fraction of box side; raising trusts the
            motion model more than each detection.
        initial_position_std, initial_velocity_std: a new track's uncertainty (fractions of
            its box side, and per second for the velocity).
    """

    def __init__(
        self,
        *,
        fps: float = _BOX.fps,
        high_score: float = _BOX.high_score,
        low_score: float = _BOX.low_score,
        new_track_score: float = _BOX.new_track_score,
        occluded_birth_score: float = _BOX.occluded_birth_score,
        occluded_birth_cover: float = _BOX.occluded_birth_cover,
        confirm_score: float = _BOX.confirm_score,
        low_extend_s: float = _BOX.low_extend_s,
        output_lost_s: float = _BOX.output_lost_s,
        match_iou: float = _BOX.match_iou,
        low_match_iou: float = _BOX.low_match_iou,
        tentative_match_iou: float = _BOX.tentative_match_iou,
        recovery_iou: float = _BOX.recovery_iou,
        direction_weight: float = _BOX.direction_weight,
        direction_span_s: float = _BOX.direction_span_s,
        fuse_score: bool = _BOX.fuse_score,
        min_hits: int = _BOX.min_hits,
        lost_buffer_s: float = _BOX.lost_buffer_s,
        observation_reupdate: bool = _BOX.observation_reupdate,
        position_noise: float = _BOX.position_noise,
        velocity_noise: float = _BOX.velocity_noise,
        measurement_noise: float = _BOX.measurement_noise,
        initial_position_std: float = _BOX.initial_position_std,
        initial_velocity_std: float = _BOX.initial_velocity_std,
    ) -> None:
        params = _core.BoxTrackerParams()
        for name, value in locals().items():
            if name not in ("self", "params"):
                setattr(params, name, value)
        self._impl = _core.TrackBoxTracker(params)  # checks them: ValueError naming the field

    @property
    def params(self) -> _core.BoxTrackerParams:
        """The parameters this tracker runs with (a copy of the C++ struct)."""
        return self._impl.params

    def update(self, boxes_xyxy: ArrayLike, scores: ArrayLike, t: float | None = None) -> Tracks:
        """Advance to time ``t`` with this frame's (N, 4) xyxy boxes and (N,) scores.

        Degenerate (zero or negative size) and non-finite boxes, and non-finite scores, are
        ignored rather than refused: a detector can emit them.
        """
        return Tracks(*self._impl.update(boxes_xyxy, scores, t))

    def reset(self) -> None:
        """Forget every track and the clock; IDs start again at 1 (a new sequence)."""
        self._impl.reset()

    def __len__(self) -> int:
        return len(self._impl)


class FloorTracker:
    """Multi-person tracker on the store floor (metres): the tracker the edge box runs.

    Constant-velocity Kalman filter on (x, y, vx, vy) with white-noise acceleration, stepped
    by real time; measurement noise per point (from the camera geometry); association cost
    = squared Mahalanobis distance + ln|S|, gated at a chi-square quantile; ByteTrack's
    second pass for low-score points; tentative/confirmed/lost lifecycle.

    Re-identification across gaps: while a track that was slow (standing at a shelf,
    queueing) is lost its velocity decays, so its prediction stays where they stood; walkers
    coast at constant velocity; a lost track's gate grows with the time lost
    up to a cap; lost tracks claim points before tentative or new tracks, so a tentative
    track started beside a lost one is claimed back by the old ID once the lost gate reaches
    it (the tentative one dies on its miss; its ID is never used again).

    Parameters (each: what raising it trades):
        fps: frame rate used when ``update`` gets no ``t``.
        high_score, low_score, new_track_score: as in :class:`BoxTracker`.
        gate_probability: share of a track's predicted measurements inside its gate; raising
            tolerates bigger surprises (sudden stops, calibration error) and lets neighbours
            compete for each other's points.
        low_gate_probability: the gate for low-score points (tighter: less trustworthy).
        min_hits: consecutive hits confirming a track.
        lost_buffer_s: seconds a lost track waits to be found again; longer bridges a shopper
            hidden behind a shelf end, risks handing an old ID to a newcomer.
        lost_velocity_decay_s: time constant of a lost track's velocity decay; after it the
            prediction has moved about velocity x this and then stands. Raising it (``inf``:
            constant velocity) follows people who keep walking behind others; lowering it
            keeps the prediction where people stopped (shelf, queue) instead of drifting away.
        lost_stand_speed: m/s; a lost track slower than this takes the decaying model,
            faster ones coast (people walking on behind others, or out of the exit, where a
            prediction parked at the door would hand the leaver's ID to the next person).
            Lowering it treats fewer walkers as about to stop; default ``inf`` (every lost
            track decays: 0.5 m/s lost identity and receipts on the tuning runs).
        lost_max_std_m: cap on a lost track's position std (its gate stops growing there);
            raising it re-finds people further from where they vanished and lets a long-lost
            track claim a newcomer; lowering it starts new IDs sooner.
        birth_gate_probability: a point left unmatched inside this gate (chi-square, 2 dof)
            of a confirmed track updated this frame starts no track (a second view of that
            person that fusion did not join); raising suppresses more duplicate IDs and
            delays a second person standing that close until they step apart; 0 is off.
        model_error_std: metres of error every point has beyond its covariance (calibration,
            foot points from occluded ankles), added as ``model_error_std**2 * I``; raising
            gates wider (fewer tracks broken by a jump, more swaps between neighbours); 0
            trusts the covariances as given.
        acceleration_std: m/s^2; raising follows turns and stops sooner but gates wider (more
            swaps in crowds); lowering coasts straighter.
        measurement_std: metres, the point noise when ``covariances`` is not given.
        initial_velocity_std: m/s, a new track's velocity uncertainty (walking is ~1.4 m/s).
    """

    def __init__(
        self,
        *,
        fps: float = 15.0,
        high_score: float = 0.5,
        low_score: float = 0.1,
        new_track_score: float = 0.6,
        gate_probability: float = 0.999,
        low_gate_probability: float = 0.99,
        min_hits: int = 2,
        lost_buffer_s: float = 1.5,
        lost_velocity_decay_s: float = 0.5,
        lost_stand_speed: float = float("inf"),
        lost_max_std_m: float = 0.6,
        birth_gate_probability: float = 0.0,
        model_error_std: float = 0.1,
        acceleration_std: float = 0.3,
        measurement_std: float = 0.15,
        initial_velocity_std: float = 1.5,
    ) -> None:
        self._impl = _core.TrackFloorTracker(
            fps=fps, high_score=high_score, low_score=low_score,
            new_track_score=new_track_score, gate_probability=gate_probability,
            low_gate_probability=low_gate_probability, min_hits=min_hits,
            lost_buffer_s=lost_buffer_s, lost_velocity_decay_s=lost_velocity_decay_s,
            lost_stand_speed=lost_stand_speed,
            lost_max_std_m=lost_max_std_m, birth_gate_probability=birth_gate_probability, model_error_std=model_error_std,
            acceleration_std=acceleration_std,
            measurement_std=measurement_std, initial_velocity_std=initial_velocity_std,
        )

    def update(
        self,
        points_xy: ArrayLike,
        covariances: ArrayLike | None = None,
        scores: ArrayLike | None = None,
        t: float | None = None,
    ) -> FloorTracks:
        """Advance to ``t`` with (N, 2) points, optional (N, 2, 2) covariances and (N,) scores.

        Points with non-finite values or a covariance that is not positive definite are
        ignored (a projection can fail for one detection without spoiling the frame); scores
        default to 1.
        """
        return FloorTracks(*self._impl.update(points_xy, covariances, scores, t))

    def predicted(self, t: float | None = None) -> FloorTracks:
        """The confirmed tracks predicted to ``t`` (None: one period after the last frame),
        without changing the tracker: the priors of :func:`fuse_views` for the next frameset
        (``prior_points=p.points, prior_covariances=p.covariances``). det_index is -1."""
        return FloorTracks(*self._impl.predicted(t))

    def reset(self) -> None:
        """Forget every track and the clock; IDs start again at 1."""
        self._impl.reset()


@dataclass(frozen=True)
class FusedViews:
    """Per-person floor observations fused from several cameras.

    points: (K, 2) metres; covariances: (K, 2, 2) m^2; members: (K, C) int64, the detection
    row of camera c that went into fused point k, or -1 where camera c did not see it.
    """

    points: npt.NDArray[np.float64]
    covariances: npt.NDArray[np.float64]
    members: npt.NDArray[np.int64]


def fuse_views(
    points_per_camera: Sequence[ArrayLike],
    covs_per_camera: Sequence[ArrayLike],
    gate_probability: float = 0.99,
    model_error_std: float = 0.0,
    merge_radius_m: float = 0.6,
    prior_points: ArrayLike | None = None,
    prior_covariances: ArrayLike | None = None,
) -> FusedViews:
    """Group one frameset's per-camera floor points into one observation per person.

    Cameras are folded in one at a time by min-cost assignment on the Mahalanobis distance
    (gated at the chi-square quantile of ``gate_probability``, 2 dof); matched points are
    fused by information weighting; a camera gives at most one point per person. Then groups
    closer than ``merge_radius_m`` that share no camera are merged, closest pair first (one
    person whose views missed each other's gates; no camera saw two people there).

    gate_probability: raising it merges points further apart (tolerates calibration error,
        may merge two people standing close); lowering it splits one person under poor
        calibration.
    model_error_std: metres of isotropic error added to every point's covariance first.
        Raising it joins one person's views further apart and weighs views more equally;
        lowering it trusts the covariances as given. Leave 0 when the covariances already
        carry a body term (``walkout.edge.floor_points`` adds ``body_sigma_m``).
    merge_radius_m: metres, 0 is off. Raising it removes more duplicates of one person and
        merges more neighbours that no camera sees together; lowering it keeps those apart.
        0.6 was chosen on oracle tuning seeds 11-15 (benchmarks/bench_track_identity.py).
    prior_points, prior_covariances: (P, 2) and (P, 2, 2), where the people already tracked
        should be now (:meth:`FloorTracker.predicted`), or None. Groups start at them, so each
        camera's points are assigned against the tracked people first and two neighbours
        keep their own views where one camera's point lies nearer the other; priors nobody
        joins are dropped, and the estimates come from the detections alone (the tracker
        must not count its own prediction twice). A wrong prior (a swapped track) is
        followed as readily as a right one.
    """
    return FusedViews(*_core.track_fuse_views(list(points_per_camera), list(covs_per_camera),
                                              gate_probability, model_error_std,
                                              merge_radius_m, prior_points, prior_covariances))
