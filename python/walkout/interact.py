"""Hand–shelf interaction: who reached into which slot, when; and who stood at which shelf.

The Python face of the C++ interact room (cpp/src/interact/). The edge pipeline calls, once per
frameset::

    shelves = Shelves(store)                     # from the validated ``kind: store`` config
    engine = InteractionEngine(shelves)          # parameters below, each with its trade-off
    events = engine.update(t, floor_tracks, hands)

``t`` is float seconds on any monotonic epoch (as the trackers take it); ``floor_tracks`` is what
``walkout.track.FloorTracker.update`` returns (anything with ``ids`` (N,) and ``points`` (N, 2));
``hands`` is a :class:`Hands` batch of 3-D hand positions in the store frame with an isotropic
standard deviation each. The result lists the :class:`Reach` and :class:`Dwell` events that
*closed* in this frameset. A track that stops appearing in ``floor_tracks`` is gone: its open
reach closes with ``lost=True`` and lowered confidence and its dwells close. Pass LOST tracks
too (the tracker may find them again); their hands are simply absent, and a reach whose hand
stays unseen for ``hand_lost_s`` closes as lost.

Slots are the cells of each open face's rows × cols grid; a cell the planogram lists carries
its configured id (``Shelf.slot_id``), any other cell its default id
``<shelf>/<face>/r<row>c<col>``, so that a reach into an unlisted cell is still reported.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

from walkout import _core
from walkout.config.loader import LoadedStore
from walkout.config.store import Store
from walkout.geometry import Camera

InteractEngineParams = _core.InteractEngineParams

__all__ = [
    "Dwell",
    "Event",
    "HandLocator",
    "HandSource",
    "Hands",
    "InteractEngineParams",
    "InteractionEngine",
    "Reach",
    "Shelves",
    "TrackLike",
    "assign_hand_boxes",
]

HandName = Literal["left", "right"]
HAND_NAMES: tuple[HandName, HandName] = ("left", "right")
FACE_NAMES: tuple[Literal["front"], Literal["back"]] = ("front", "back")


@dataclass(frozen=True)
class Reach:
    """A hand went through a shelf face into a slot and came back out.

    track: the floor track's id; hand: "left" or "right"; shelf, slot: config ids; face:
    "front"/"back"; start, end: seconds, the first frame the hand was past enter_depth and
    the last it was past exit_depth (frame times, so never outside the time the hand was
    truly through the face when exit_depth >= 0); max_depth: metres behind the face plane at the
    deepest; confidence in [0, 1]; lost: closed because the track or hand was lost;
    slot_probs: (slot id, probability) most likely first, those >= slot_prob_min.
    """

    track: int
    hand: HandName
    shelf: str
    face: Literal["front", "back"]
    slot: str
    start: float
    end: float
    max_depth: float
    confidence: float
    lost: bool
    slot_probs: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class Dwell:
    """A track stood in a shelf's engagement zone from ``enter`` to ``leave`` (seconds)."""

    track: int
    shelf: str
    zone: int
    enter: float
    leave: float


Event = Reach | Dwell


class TrackLike(Protocol):
    """What the engine reads from a tracker's output (``walkout.track.FloorTracks`` fits)."""

    @property
    def ids(self) -> npt.NDArray[np.int64]: ...

    @property
    def points(self) -> npt.NDArray[np.float64]: ...


@dataclass(frozen=True)
class Hands:
    """One frameset's 3-D hands: row k is hand ``side[k]`` (0 left, 1 right) of ``track[k]``
    at ``position[k]`` (store frame, metres) with isotropic standard deviation ``sigma[k]``.
    """

    track: npt.NDArray[np.int64]
    side: npt.NDArray[np.int32]
    position: npt.NDArray[np.float64]
    sigma: npt.NDArray[np.float64]

    @staticmethod
    def empty() -> Hands:
        return Hands(np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros((0, 3)), np.zeros(0))

    @staticmethod
    def of(
        track: npt.ArrayLike, side: npt.ArrayLike, position: npt.ArrayLike, sigma: npt.ArrayLike
    ) -> Hands:
        """Hands from array-likes, converted to the dtypes the engine takes."""
        return Hands(
            np.ascontiguousarray(track, dtype=np.int64).reshape(-1),
            np.ascontiguousarray(side, dtype=np.int32).reshape(-1),
            np.ascontiguousarray(position, dtype=np.float64).reshape(-1, 3),
            np.ascontiguousarray(sigma, dtype=np.float64).reshape(-1),
        )

    def __len__(self) -> int:
        return len(self.track)


class Shelves:
    """The store's shelves as the C++ engine sees them: oriented boxes, open faces, slot grids
    and engagement zones, plus the mapping between dense slot indices and config slot ids.

    face_margin: metres by which a face's rectangle is grown at its sides, top and bottom
        when deciding that a hand is reaching through it. Raising it keeps reaches into the
        end columns or top row whose wrist estimate lands just outside the face; lowering it
        stops hands passing beside or over a shelf from counting.
    """

    def __init__(self, store: Store | LoadedStore, *, face_margin: float = 0.05) -> None:
        config = store.config if isinstance(store, LoadedStore) else store
        shelves = config.shelves
        boxes = np.array(
            [
                [s.center[0], s.center[1], s.yaw, s.length, s.depth, s.height, s.base_height]
                for s in shelves
            ],
            dtype=np.float64,
        ).reshape(-1, 7)
        grid = np.array([[s.rows, s.cols] for s in shelves], dtype=np.int32).reshape(-1, 2)
        open_faces = np.array(
            [["front" in s.faces, "back" in s.faces] for s in shelves], dtype=bool
        ).reshape(-1, 2)
        self.core = _core.InteractShelves(boxes, grid, open_faces, face_margin)
        self.shelf_ids: list[str] = [s.id for s in shelves]
        for index, shelf in enumerate(shelves):
            for polygon in shelf.engagement_polygons():
                self.core.add_zone(index, polygon)
        self.slot_ids: list[str] = []
        for shelf_index, side, rows, cols, _first in self.core.faces().tolist():
            shelf = shelves[shelf_index]
            face = FACE_NAMES[side]
            configured = {(s.row, s.col): shelf.slot_id(s) for s in shelf.slots if s.face == face}
            for row in range(rows):
                for col in range(cols):
                    self.slot_ids.append(
                        configured.get((row, col), f"{shelf.id}/{face}/r{row}c{col}")
                    )
        self._slot_index = {slot: i for i, slot in enumerate(self.slot_ids)}

    def slot_index(self, slot_id: str) -> int:
        """Dense index of a slot id (as in the engine's events)."""
        return self._slot_index[slot_id]

    def face_of(self, face: int) -> tuple[str, Literal["front", "back"]]:
        """(shelf id, face name) of a face index."""
        shelf_index, side = (int(v) for v in self.core.faces()[face, :2])
        return self.shelf_ids[shelf_index], FACE_NAMES[side]

    def nearest_face(
        self, points: npt.ArrayLike
    ) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float64]]:
        """(N, 3) points -> face index per point and (N, 4) depth, effective depth, u, v."""
        return self.core.nearest_face(np.asarray(points, dtype=np.float64))


class InteractionEngine:
    """Per-(track, hand) reach state machines and per-(track, zone) dwell timers.

    A reach: outside → entering (effective depth behind the nearest face reaches
    ``enter_depth``) → inside (stayed in for ``min_inside_s``) → leaving (dropped below
    ``exit_depth``) → the event, once out for ``min_outside_s``; a reach must span two samples
    or more (one deep sample is a spike). The effective depth is the
    distance behind the face plane, capped by the distance inside the face's rectangle grown by
    ``Shelves.face_margin``. Decisions compare crossing times interpolated between frames, so
    whether a reach happens does not depend on the frame rate.

    Parameters: an :class:`InteractEngineParams` (``walkout._core``; one read/write field per
    knob, each documented with what raising or lowering it trades: ``help(InteractEngineParams)``)
    whose defaults are the C++ struct's, the tuned values the edge pipeline runs (oracle seeds
    11-15 and 31-45, benchmarks/bench_interact_oracle.py). Keyword arguments replace single
    fields of it (``InteractionEngine(shelves, min_inside_s=0.2)``); an unknown name is a
    TypeError listing the fields.
    """

    def __init__(
        self, shelves: Shelves, params: InteractEngineParams | None = None, **overrides: float
    ) -> None:
        self.shelves = shelves
        self._impl = _core.InteractEngine(shelves.core, params, **overrides)

    @property
    def params(self) -> InteractEngineParams:
        """The parameters this engine runs with (a copy)."""
        return self._impl.params

    def update(self, t: float, tracks: TrackLike, hands: Hands | None = None) -> list[Event]:
        """Advance to ``t`` (seconds, non-decreasing) with this frameset's tracks and hands;
        returns the reaches and dwells that closed. ValueError names a bad argument."""
        hands = hands if hands is not None else Hands.empty()
        reaches, dwells = self._impl.update(
            float(t),
            np.asarray(tracks.ids, dtype=np.int64).reshape(-1),
            np.asarray(tracks.points, dtype=np.float64),
            hands.track,
            hands.side,
            hands.position,
            hands.sigma,
        )
        return self._events(reaches, dwells)

    def close_all(self) -> list[Event]:
        """Close every open reach (as lost) and dwell, e.g. at the end of a recording."""
        return self._events(*self._impl.close_all())

    @property
    def open_reaches(self) -> int:
        return int(self._impl.open_reaches)

    def _events(
        self, reaches: Sequence[_core.InteractReach], dwells: Sequence[_core.InteractDwell]
    ) -> list[Event]:
        ids = self.shelves.slot_ids
        out: list[Event] = []
        for r in reaches:
            shelf, face = self.shelves.face_of(r.face)
            out.append(
                Reach(
                    track=int(r.track),
                    hand=HAND_NAMES[r.hand],
                    shelf=shelf,
                    face=face,
                    slot=ids[r.slot],
                    start=r.start,
                    end=r.end,
                    max_depth=r.max_depth,
                    confidence=r.confidence,
                    lost=r.lost,
                    slot_probs=tuple((ids[s], p) for s, p in r.slot_probs),
                )
            )
        for d in dwells:
            out.append(
                Dwell(
                    track=int(d.track),
                    shelf=self.shelves.shelf_ids[d.shelf],
                    zone=d.zone,
                    enter=d.enter,
                    leave=d.leave,
                )
            )
        return out


class HandSource(enum.IntEnum):
    """How a hand's 3-D position was obtained (``HandLocator``)."""

    NONE = 0  # not located this frame
    TRIANGULATED = 1  # the wrist in two or more views that agree
    WRIST_RAY_ELBOW = 2  # one wrist view, a forearm away from the triangulated elbow
    ARM_EXTRAPOLATED = 3  # no wrist view: the straight-arm extension of shoulder and elbow
    FACE_RAY = 4  # one view: its wrist ray (seen, or hidden and extrapolated) at the face in front


@dataclass(frozen=True)
class LocatedHands:
    """Every tracked person's two hands: xyz (N, 2, 3), sigma (N, 2), source (N, 2) int8
    :class:`HandSource` values, views (N, 2); index 0 is the left hand."""

    track: npt.NDArray[np.int64]
    xyz: npt.NDArray[np.float64]
    sigma: npt.NDArray[np.float64]
    source: npt.NDArray[np.int8]
    views: npt.NDArray[np.int32]

    def hands(self) -> Hands:
        """The located ones as the engine's :class:`Hands` batch."""
        person, side = np.nonzero(self.source != HandSource.NONE)
        return Hands.of(self.track[person], side, self.xyz[person, side], self.sigma[person, side])


class HandLocator:
    """Hands in 3-D from the pose keypoints each camera gave for each tracked person.

    Tried in order: the wrist triangulated from two or more views (a set whose RMS residual
    exceeds ``max_residual_px`` is retried without each view, throwing out one wrong pairing),
    confident wrists first, then with the hidden (low-confidence) ones too; one wrist ray
    (hidden ones included) a forearm away from the triangulated elbow; the arm model (shoulder and
    elbow extended by a forearm bent ``elbow_flexion`` upwards) when no camera sees the wrist
    (inside a shelf it is hidden from most); then, with one view only, the wrist's ray (seen,
    or hidden and extrapolated along the arm in that image) met with the nearest open face in
    front of the person: its point nearest a prior at that face (on the face plane for a seen
    wrist, ``hidden_depth`` behind it for a hidden one). This is the only locator: the edge
    pipeline and the benchmarks call it.

    Parameters (each: what raising it trades):
        min_wrist_confidence: wrists at or above it are confident (taken for seen), those
            below are hidden wrists (``min_hidden_wrist_confidence``), used only where the
            confident ones give no point. Raising it moves doubtful wrists to the hidden tier
            (larger sigma, later in the order); lowering it lets hidden wrists pass as seen.
            0.5 was chosen on the oracle tuning seeds; on the shipped model it takes 75 % of
            the hidden wrists as hidden (50 % at 0.3) and 23 % of the seen ones (4 % at 0.3),
            which costs those weight, not use.
        min_arm_confidence: shoulders and elbows at or above it are used (pose models place
            hidden joints with low confidence): raising it ignores hidden arms.
        max_residual_px: RMS reprojection error (pixels) above which views disagree: raising
            it keeps noisy right triangulations and lets wrong pairings through.
        pixel_sigma: keypoint noise (pixels) turned into each position's sigma (scaled up by
            residual / pixel_sigma where the views disagree more than that): raising it
            widens slot probabilities and lowers reach confidences.
        forearm_ratio: forearm / upper-arm length (0.146 H / 0.186 H, Drillis & Contini).
        elbow_flexion: radians the forearm bends upwards off the upper arm's line in the arm
            model (a reaching arm drops its elbow; a straight extension lands low). 0 is a
            straight arm; raising it lifts and deepens the guessed wrist.
        arm_sigma: metres added in quadrature to positions that rely on the arm model.
        max_hand_distance: metres on the floor a hand may be from its track's point; beyond
            it the estimate is someone else's keypoint (a wrong association) and is dropped.
            Raising it keeps long reaches of people tracked off-centre.
        max_face_distance: how far (metres) a person may stand in front of a face for the
            one-view fallback: raising it places hands of people further back on faces.
        hidden_depth: metres behind the face of a one-view hidden wrist's prior (the shelf is
            what hides it); must exceed the engine's enter_depth for such reaches to count.
            Raising it finds more reaches seen by one camera looking into the face, and more
            false ones from hands hidden just in front of a shelf.
        prior_height: metres, the one-view prior's height (mid-shelf, where hands reach).
        max_facing_cosine: a one-view *seen* wrist is used only when its ray is at most this
            |cos| off the face plane (the ray then measures the depth): raising it admits
            rays looking into the face, whose guessed depth 0 ends or splits reaches.
        max_prior_distance: metres; a one-view hand further than this from its prior is
            dropped (not at the shelf). Raising it keeps more far guesses.
        single_view_sigma: metres added in quadrature to a one-view hand's sigma (its depth
            is a prior): raising it widens slot probabilities and lowers confidences.
        max_person_views: the one-view fallback only for a person at most this many cameras
            see (any keypoint): where more see them, one view of an arm is more often an arm
            hidden by the body. Raising it finds more one-view reaches, and more false ones.
        hidden_single_view: also place a one-view *hidden* wrist (extrapolated along the arm in
            that image) ``hidden_depth`` behind the face. On finds reaches that only one camera
            sees (the shelf hides the hand inside it) and turns some arms hidden by the body
            into false reaches: with the store's 8 overlapping cameras it cost precision
            (0.95 -> 0.77 on the oracle tuning seeds 11-13), on edge-a's 4 cameras it raised
            recall (0.43 -> 0.54 on benchmarks/bench_edge.py's run). Off by default; the edge
            pipeline turns it on.
        max_arm_reach: metres; a measured wrist (triangulated or one-view) further than this
            from its own triangulated shoulder is a neighbour's keypoint in this person's
            detections, or two near-parallel rays agreeing on a wrong depth (shoulder to wrist
            is 0.33 H, Drillis & Contini): a triangulated one gives way to the arm fallbacks,
            a one-view one is dropped. Lowering it rejects more of those and, below an arm's
            length, real hands.
        min_hidden_wrist_confidence: wrists below ``min_wrist_confidence`` but at or above
            this are *hidden* wrists (pose models place a wrist inside a shelf or behind a body
            at low confidence and larger error: the shipped model's hidden wrists, median
            8.1 px against 6.2 px seen, confidence 0.02-0.61; benchmarks/results/
            oracle_keypoints.md). They are used only where the confident wrists give no
            point: triangulated with the confident ones, then as the wrist ray of the
            wrist-ray + elbow fallback, before the arm model; and, with
            ``hidden_single_view``, their own pixel replaces the arm's extrapolation. Raising
            it to ``min_wrist_confidence`` turns them off (the arm model decides); lowering it
            admits wrists the model barely believes in.
        hidden_pixel_sigma: pixels, the noise of points that use hidden wrists: their sigma
            and their residual check (``max_residual_px`` x hidden_pixel_sigma /
            pixel_sigma). 7 px: the shipped model's hidden wrists (8.1 px median / 1.177).
            Raising it weighs those hands less in the engine and lets more disagreeing views
            pass.
    """

    def __init__(
        self,
        cameras: Sequence[Camera],
        shelves: Shelves,
        *,
        min_wrist_confidence: float = 0.5,
        min_arm_confidence: float = 0.02,
        max_residual_px: float = 15.0,
        pixel_sigma: float = 4.0,
        forearm_ratio: float = 0.785,
        elbow_flexion: float = 0.5,
        arm_sigma: float = 0.05,
        max_hand_distance: float = 1.0,
        max_face_distance: float = 1.0,
        hidden_depth: float = 0.10,
        prior_height: float = 1.1,
        max_facing_cosine: float = 0.5,
        max_prior_distance: float = 0.8,
        single_view_sigma: float = 0.08,
        max_person_views: int = 1,
        hidden_single_view: bool = False,
        max_arm_reach: float = 0.7,
        min_hidden_wrist_confidence: float = 0.02,
        hidden_pixel_sigma: float = 7.0,
    ) -> None:
        self.cameras = list(cameras)
        self._impl = _core.InteractHandLocator(
            [c.pinhole for c in self.cameras],
            shelves.core,
            min_wrist_confidence=min_wrist_confidence,
            min_arm_confidence=min_arm_confidence,
            max_residual_px=max_residual_px,
            pixel_sigma=pixel_sigma,
            forearm_ratio=forearm_ratio,
            elbow_flexion=elbow_flexion,
            arm_sigma=arm_sigma,
            max_hand_distance=max_hand_distance,
            max_face_distance=max_face_distance,
            hidden_depth=hidden_depth,
            prior_height=prior_height,
            max_facing_cosine=max_facing_cosine,
            max_prior_distance=max_prior_distance,
            single_view_sigma=single_view_sigma,
            max_person_views=max_person_views,
            hidden_single_view=hidden_single_view,
            max_arm_reach=max_arm_reach,
            min_hidden_wrist_confidence=min_hidden_wrist_confidence,
            hidden_pixel_sigma=hidden_pixel_sigma,
        )

    def locate(
        self, track_ids: npt.ArrayLike, track_xy: npt.ArrayLike, keypoints: npt.ArrayLike
    ) -> LocatedHands:
        """``keypoints`` (N, C, 17, 3): per tracked person and camera (in the order given to
        the constructor) the COCO keypoints (u, v, confidence; 0 = unseen) of the detection
        associated with that track; ``track_xy`` (N, 2) their floor points."""
        ids = np.asarray(track_ids, dtype=np.int64).reshape(-1)
        xyz, sigma, source, views = self._impl.locate(
            np.asarray(keypoints, dtype=np.float64), np.asarray(track_xy, dtype=np.float64)
        )
        if len(ids) != len(xyz):
            raise ValueError(
                f"track_ids: expected {len(xyz)} ids (one per keypoints row), got {len(ids)}"
            )
        return LocatedHands(ids, xyz, sigma, source, views)


def assign_hand_boxes(
    boxes: npt.ArrayLike,
    keypoints: npt.ArrayLike,
    *,
    min_confidence: float = 0.3,
    hand_offset: float = 0.37,
    max_distance_px: float = 40.0,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32]]:
    """Hand boxes (K, 4) xyxy of one image to the nearest arm of that image's person
    detections (keypoints (N, 17, 3)): (person row (K,), side (K,) 0 left / 1 right), -1
    where no arm is within ``max_distance_px``.

    Each arm predicts its hand's centre at the wrist plus ``hand_offset`` forearms (0.37: a
    hand's centre lies about 0.054 H past the wrist against a 0.146 H forearm, Drillis &
    Contini), or at the wrist when the elbow is unseen; pairs are taken greedily by distance,
    each box and arm once. Raising ``max_distance_px`` assigns boxes of hands whose wrist is
    badly placed, and lets a neighbour's arm claim a stray box; ``min_confidence`` is the
    keypoint confidence an arm needs.
    """
    return _core.interact_assign_hand_boxes(
        np.asarray(boxes, dtype=np.float64),
        np.asarray(keypoints, dtype=np.float64),
        min_confidence=min_confidence,
        hand_offset=hand_offset,
        max_distance_px=max_distance_px,
    )
