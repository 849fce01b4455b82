"""Hands in 3-D for each floor track, from the wrists of the detections fused into it.

The pose model gives each person's wrists in every view (COCO keypoints 9 and 10), and the
fusion says which detection of which camera belongs to which track, so a track's wrists need
no association of their own. Per track and side:

- seen by two cameras or more: geometry's triangulation (linear DLT + Gauss-Newton); kept when
  the RMS reprojection residual is small (a larger one means the views disagree: a wrong
  pairing or a wrist keypoint that jumped to the other arm) and the point lies within arm's
  reach of the track;
- a wrist that is *hidden* (a pose model drops or doubts it) while its elbow and shoulder are
  given is, near a shelf, almost always a hand inside the shelf: the shelf itself hides it
  from the ceiling cameras. Its pixel is extrapolated along the arm (elbow + forearm_ratio x
  (elbow - shoulder), the forearm being ~0.8 of the upper arm in Drillis & Contini's table)
  and used like a seen wrist, flagged hidden;
- seen by one camera only: the point of the wrist's ray nearest to a prior hand position at
  the open shelf face nearest to the person (on the face plane for a seen wrist;
  ``hidden_depth_m`` behind it for a hidden one, which the shelf hides because it is inside).
  A camera looking along the face measures the depth itself (the ray runs parallel to the
  face). One looking into the face cannot: a seen wrist on such a ray is left out rather
  than guessed (a guess at depth 0 would end reaches other frames measured), a hidden one
  takes the prior. That is the honest limit of a single view; overlapping cameras are what
  buy reliable reaches.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from walkout.config.store import Store
from walkout.detect import Detections
from walkout.geometry import Camera, triangulate
from walkout.interact import Hands, Shelves

LEFT_SHOULDER, RIGHT_SHOULDER, LEFT_ELBOW, RIGHT_ELBOW, LEFT_WRIST, RIGHT_WRIST = 5, 6, 7, 8, 9, 10
SIDES = (LEFT_WRIST, RIGHT_WRIST)  # Hands.side 0 = left, 1 = right
ELBOWS = (LEFT_ELBOW, RIGHT_ELBOW)
SHOULDERS = (LEFT_SHOULDER, RIGHT_SHOULDER)


@dataclass(frozen=True)
class HandParams:
    """How wrists become 3-D hands.

    wrist_confidence: keypoint confidence above which a wrist counts as seen. Raising it
        uses fewer, surer views (more hands go single-view or missing); lowering it lets
        guessed wrists of occluded arms in.
    max_residual_px: largest RMS reprojection residual of a triangulated wrist, pixels at the
        camera's resolution. Raising it keeps hands seen under calibration error or loose
        timing between views; lowering it rejects more wrong pairings.
    max_reach_m: a hand further than this (horizontally) from its track's floor point is
        dropped: an arm is ~0.75 m, plus the floor point's own error.
    triangulated_sigma_m: the standard deviation given to a triangulated hand (feeds the
        engine's slot probabilities near slot borders).
    single_view_sigma_m: the standard deviation of a single-view hand on a face plane.
    single_view: use the single-view fallback at all. Turning it off leaves one-camera
        wrists out, so a reach whose second view drops closes as lost sooner.
    hidden_wrists: extrapolate hidden wrists from the arm. Turning it off loses most reaches
        (the shelf hides the hand inside it) and keeps only those seen through the opening.
    arm_confidence: the elbow and shoulder must be above this to extrapolate a hidden wrist
        (low: occluded joints still carry a guess; raising it extrapolates only clear arms).
    forearm_ratio: hidden wrist = elbow + ratio x (elbow - shoulder) in the image. Raising it
        puts hidden hands deeper.
    hidden_residual_px: the residual allowed when extrapolated wrists are triangulated
        (they are noisier than seen ones).
    hidden_depth_m: the prior depth behind the face of a single-view hidden wrist, metres.
        Must exceed the engine's enter_depth for such reaches to count; raising it gives
        more reaches from views that look into the face, and more false ones from hands
        hidden just in front of a shelf.
    prior_height_m: height of the single-view prior (mid-shelf, where hands reach).
    max_facing_cosine: a single-view *seen* wrist is used only when its ray is this close to
        parallel to the face (|cos| of the angle between ray and face normal at most this):
        then the ray itself measures the depth. Raising it admits views that look more into
        the face, whose depth comes from the prior (on the face plane) and can split reaches.
    engage_distance_m: a single-view hand is estimated only for a person standing in front
        of a face (within its length) and at most this far from it: no one reaches into a
        shelf from further away or from beside its end.
    max_prior_distance_m: a single-view hand further than this from its prior is dropped
        (the wrist is nowhere near the shelf: hanging, or a wrong keypoint).
    """

    wrist_confidence: float = 0.3
    max_residual_px: float = 6.0
    max_reach_m: float = 1.3
    triangulated_sigma_m: float = 0.03
    single_view_sigma_m: float = 0.08
    single_view: bool = True
    hidden_wrists: bool = True
    arm_confidence: float = 0.05
    forearm_ratio: float = 0.85
    hidden_residual_px: float = 10.0
    hidden_depth_m: float = 0.10
    prior_height_m: float = 1.1
    max_prior_distance_m: float = 0.8
    engage_distance_m: float = 1.0
    max_facing_cosine: float = 0.5


class FacePlanes:
    """The plane ``normal · X = offset`` of every open shelf face, indexed as the engine's
    faces (``Shelves.core.faces()``), with outward normals."""

    def __init__(self, store: Store, shelves: Shelves) -> None:
        faces = np.asarray(shelves.core.faces())
        normals, offsets, centres, along, half = [], [], [], [], []
        for shelf_index, side in faces[:, :2].astype(int).tolist():
            shelf = store.shelves[shelf_index]
            c, s = math.cos(shelf.yaw), math.sin(shelf.yaw)
            n = np.array([-s, c, 0.0]) * (1.0 if side == 0 else -1.0)
            on_face = np.array([shelf.center[0], shelf.center[1], 0.0]) + n * (shelf.depth / 2)
            normals.append(n)
            offsets.append(float(n @ on_face))
            centres.append(on_face[:2])
            along.append([c, s])
            half.append(shelf.length / 2)
        self.normals = np.array(normals, dtype=np.float64).reshape(-1, 3)
        self.offsets = np.array(offsets, dtype=np.float64)
        self.centres = np.array(centres, dtype=np.float64).reshape(-1, 2)
        self.along = np.array(along, dtype=np.float64).reshape(-1, 2)
        self.half_lengths = np.array(half, dtype=np.float64)
        self.shelves = shelves

    def in_front(self, faces: npt.NDArray[np.int32], floor_points: npt.NDArray[np.float64],
                 distance_m: float, margin_m: float) -> npt.NDArray[np.bool_]:
        """Whether a person at ``floor_points[k]`` stands in front of ``faces[k]`` (-1: none):
        within ``distance_m`` of its plane on the open side, and within its length + margin."""
        ok = faces >= 0
        f = np.where(ok, faces, 0)
        rel = floor_points - self.centres[f]
        ahead = np.einsum("ij,ij->i", rel, self.normals[f, :2])
        sideways = np.abs(np.einsum("ij,ij->i", rel, self.along[f]))
        return (ok & (ahead >= -margin_m) & (ahead <= distance_m)
                & (sideways <= self.half_lengths[f] + margin_m))

    def nearest(self, floor_points: npt.NDArray[np.float64], height_m: float = 1.0
                ) -> npt.NDArray[np.int32]:
        """Index of the face nearest to each person standing at ``floor_points`` (N, 2)."""
        if len(floor_points) == 0 or len(self.offsets) == 0:
            return np.full(len(floor_points), -1, np.int32)
        probe = np.column_stack([floor_points, np.full(len(floor_points), height_m)])
        face, _coords = self.shelves.nearest_face(probe)
        return np.asarray(face, dtype=np.int32)


def wrist_views(detections: Sequence[Detections], rows: npt.NDArray[np.int64],
                params: HandParams) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64],
                                              npt.NDArray[np.bool_]]:
    """Per camera c and hand k = 2·track + side: the wrist pixel (C, 2N, 2), NaN where camera
    c has no detection in the track or gives no wrist; its confidence (C, 2N); and (C, 2N)
    True where the pixel was extrapolated from the arm because the wrist is hidden."""
    n, cams = rows.shape
    pixels = np.full((cams, 2 * n, 2), np.nan)
    conf = np.zeros((cams, 2 * n))
    hidden = np.zeros((cams, 2 * n), bool)
    for c in range(cams):
        kp = detections[c].keypoints
        have = np.flatnonzero(rows[:, c] >= 0)
        if kp is None or len(have) == 0 or kp.shape[1] <= RIGHT_WRIST:
            continue
        person = np.asarray(kp[rows[have, c]], dtype=np.float64)  # (h, K, 3)
        hands = 2 * have[:, None] + np.arange(2)[None, :]  # (h, 2)
        wrists, elbows, shoulders = person[:, SIDES], person[:, ELBOWS], person[:, SHOULDERS]
        seen = wrists[..., 2] > params.wrist_confidence
        pixels[c, hands[seen]] = wrists[..., :2][seen]
        conf[c, hands[seen]] = wrists[..., 2][seen]
        if params.hidden_wrists:
            arm = (~seen & (elbows[..., 2] > params.arm_confidence)
                   & (shoulders[..., 2] > params.arm_confidence))
            guess = elbows[..., :2] + params.forearm_ratio * (elbows[..., :2] - shoulders[..., :2])
            pixels[c, hands[arm]] = guess[arm]
            conf[c, hands[arm]] = np.minimum(elbows[..., 2], shoulders[..., 2])[arm]
            hidden[c, hands[arm]] = True
    return pixels, conf, hidden


def hands_in_3d(track_ids: npt.NDArray[np.int64], track_points: npt.NDArray[np.float64],
                rows: npt.NDArray[np.int64], detections: Sequence[Detections],
                cameras: Sequence[Camera], planes: FacePlanes, params: HandParams) -> Hands:
    """3-D hands of N tracks. ``rows`` (N, C): the detection row of camera c fused into track
    n this frameset, -1 where none (a coasting track has no hands)."""
    n = len(track_ids)
    if n == 0 or len(cameras) == 0:
        return Hands.empty()
    pixels, conf, hidden = wrist_views(detections, rows, params)
    given = np.isfinite(pixels[..., 0])
    seen = given & ~hidden
    position = np.full((2 * n, 3), np.nan)
    sigma = np.full(2 * n, params.triangulated_sigma_m)
    owner_xy = np.repeat(np.asarray(track_points, np.float64).reshape(-1, 2), 2, axis=0)
    if len(cameras) >= 2:
        # Seen wrists first; where fewer than two views see it, seen and extrapolated together.
        for use, limit in ((seen, params.max_residual_px), (given, params.hidden_residual_px)):
            todo = np.flatnonzero((use.sum(axis=0) >= 2) & ~np.isfinite(position[:, 0]))
            if len(todo) == 0:
                continue
            views = np.where(use[:, todo, None], pixels[:, todo], np.nan)
            points, residuals = triangulate(list(cameras), views)
            good = (np.isfinite(points).all(axis=1) & (residuals <= limit)
                    & _within_reach(points, owner_xy[todo], params.max_reach_m))
            position[todo[good]] = points[good]
    if params.single_view:
        single = np.flatnonzero(given.any(axis=0) & ~np.isfinite(position[:, 0]))
        if len(single):
            # Prefer a seen wrist over an extrapolated one, then the most confident view.
            best = np.argmax(conf[:, single] + 2.0 * seen[:, single], axis=0)
            faces = planes.nearest(owner_xy[single])
            usable = planes.in_front(faces, owner_xy[single], params.engage_distance_m, 0.1)
            for cam in np.unique(best[usable]).tolist():
                pick = usable & (best == cam)
                hands = single[pick]
                points = _single_view_hands(cameras[cam], pixels[cam, hands], planes, faces[pick],
                                            owner_xy[hands], hidden[cam, hands], params)
                good = np.isfinite(points).all(axis=1)
                good[good] = _within_reach(points[good], owner_xy[hands[good]],
                                           params.max_reach_m)
                position[hands[good]] = points[good]
                sigma[hands[good]] = params.single_view_sigma_m
    found = np.flatnonzero(np.isfinite(position[:, 0]))
    return Hands.of(np.asarray(track_ids, np.int64)[found // 2], found % 2, position[found],
                    sigma[found])


def _single_view_hands(camera: Camera, pixels: npt.NDArray[np.float64], planes: FacePlanes,
                       faces: npt.NDArray[np.int32], owner_xy: npt.NDArray[np.float64],
                       hidden: npt.NDArray[np.bool_], params: HandParams
                       ) -> npt.NDArray[np.float64]:
    """One-view wrists (K, 2 pixels) of one camera -> (K, 3), NaN where there is no answer.

    Each is the point of its ray nearest to a prior hand position in front of its person at
    face ``faces[k]``: on the face plane for a seen wrist, ``hidden_depth_m`` behind it for a
    hidden one, at ``prior_height_m``. Along a ray that runs parallel to the face (a camera
    looking along the shelf) the depth is measured by the ray itself; along one that looks
    into the face it would come from the prior, which a seen wrist is not given (its depth is
    unknowable, and a guess would end or split a reach that other frames measured)."""
    normals, offsets = planes.normals[faces], planes.offsets[faces]
    directions = camera.rays_from_image(pixels)
    facing = np.abs(np.einsum("ij,ij->i", directions, normals))
    depth = np.where(hidden, params.hidden_depth_m, 0.0)
    floor = np.column_stack([owner_xy, np.zeros(len(owner_xy))])
    ahead = np.einsum("ij,ij->i", floor, normals) - offsets + depth
    prior = floor - normals * ahead[:, None]
    prior[:, 2] = params.prior_height_m
    along = np.einsum("ij,ij->i", prior - camera.centre, directions)
    points = camera.centre + along[:, None] * directions
    ok = (np.isfinite(directions).all(axis=1) & (hidden | (facing <= params.max_facing_cosine))
          & (along > 0) & (np.linalg.norm(points - prior, axis=1) <= params.max_prior_distance_m))
    points[~ok] = np.nan
    return points


def _within_reach(points: npt.NDArray[np.float64], owner_xy: npt.NDArray[np.float64],
                  reach: float) -> npt.NDArray[np.bool_]:
    horizontal = np.linalg.norm(points[:, :2] - owner_xy, axis=1)
    return (horizontal <= reach) & (points[:, 2] > -0.1) & (points[:, 2] < 2.6)


class HandSmoother:
    """Per (track, side): the component-wise median of the hand's positions over the last
    ``window_s`` seconds (this frameset's included).

    A hidden wrist is estimated from the arm, and those estimates jump by a decimetre from
    frame to frame: as deep as a reach. A running median removes one-frame spikes (which
    would be reaches of one frame) and keeps a real reach, which lasts the better part of a
    second. window_s: raising it removes longer spikes and delays the start and end of each
    reach by up to half the window; 0 turns smoothing off.
    """

    def __init__(self, window_s: float = 0.25) -> None:
        if window_s < 0:
            raise ValueError(f"window_s: expected seconds >= 0, got {window_s}")
        self.window_s = window_s
        self._history: dict[tuple[int, int], deque[tuple[float, npt.NDArray[np.float64]]]] = {}

    def __call__(self, t: float, hands: Hands) -> Hands:
        if self.window_s == 0 or len(hands) == 0:
            self._forget(t)
            return hands
        histories = []
        for k, key in enumerate(zip(hands.track.tolist(), hands.side.tolist(), strict=True)):
            history = self._history.setdefault(key, deque())
            history.append((t, hands.position[k]))
            while history[0][0] < t - self.window_s:
                history.popleft()
            histories.append(history)
        # One sort for every hand: rows padded with NaN (sorted last), median from the counts.
        counts = np.array([len(h) for h in histories])
        stacked = np.full((len(histories), int(counts.max()), 3), np.nan)
        for k, history in enumerate(histories):
            stacked[k, : counts[k]] = [p for _, p in history]
        ordered = np.sort(stacked, axis=1)
        rows = np.arange(len(histories))
        positions = (ordered[rows, (counts - 1) // 2] + ordered[rows, counts // 2]) / 2
        self._forget(t)
        return Hands(hands.track, hands.side, positions, hands.sigma)

    def _forget(self, t: float) -> None:
        """Drop hands not seen for a while (tracks that ended), so memory stays bounded."""
        stale = [key for key, h in self._history.items() if h[-1][0] < t - 10 * self.window_s]
        for key in stale:
            del self._history[key]
