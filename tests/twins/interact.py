"""Readable numpy twins of the interact room's compiled code (cpp/src/interact/).

Same inputs, same outputs, same order, written for reading rather than speed: the geometry is
vectorised over hands × faces with numpy, the state machine is a plain Python loop per hand.
The hypothesis tests check the C++ against these; benchmarks/bench_interact.py times both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.special import ndtr

from walkout import _core

FRONT, BACK = 0, 1


@dataclass
class FaceTwin:
    shelf: int
    side: int
    origin: np.ndarray  # (2,) face plane point at the shelf's local −x end
    along: np.ndarray  # (2,) unit u axis
    normal: np.ndarray  # (2,) outward unit normal
    length: float
    z0: float
    z1: float
    half_depth: float
    rows: int
    cols: int
    first_slot: int


class ShelfModelTwin:
    """Twin of ``InteractShelves`` (shelf_model.cpp)."""

    def __init__(
        self, boxes: np.ndarray, grid: np.ndarray, open_faces: np.ndarray, face_margin: float
    ) -> None:
        self.margin = float(face_margin)
        self.faces: list[FaceTwin] = []
        self.zones: list[np.ndarray] = []
        self.zone_shelf: list[int] = []
        self.shelf_count = len(boxes)
        slot = 0
        for i, (cx, cy, yaw, length, depth, height, base) in enumerate(np.asarray(boxes, float)):
            along = np.array([math.cos(yaw), math.sin(yaw)])
            front_normal = np.array([-math.sin(yaw), math.cos(yaw)])
            for side in (FRONT, BACK):
                if not open_faces[i][side]:
                    continue
                normal = front_normal if side == FRONT else -front_normal
                origin = np.array([cx, cy]) - 0.5 * length * along + 0.5 * depth * normal
                rows, cols = (int(v) for v in grid[i])
                self.faces.append(
                    FaceTwin(
                        i,
                        side,
                        origin,
                        along,
                        normal,
                        length,
                        base,
                        height,
                        depth / 2,
                        rows,
                        cols,
                        slot,
                    )
                )
                slot += rows * cols
        self.slot_count = slot
        # Face table as arrays, for the vectorised queries.
        self._origin = np.array([f.origin for f in self.faces]).reshape(-1, 2)
        self._along = np.array([f.along for f in self.faces]).reshape(-1, 2)
        self._normal = np.array([f.normal for f in self.faces]).reshape(-1, 2)
        self._length = np.array([f.length for f in self.faces])
        self._z0 = np.array([f.z0 for f in self.faces])
        self._z1 = np.array([f.z1 for f in self.faces])
        self._half = np.array([f.half_depth for f in self.faces])
        self._shelf = np.array([f.shelf for f in self.faces], dtype=np.int64)

    def add_zone(self, shelf: int, polygon: np.ndarray) -> None:
        self.zones.append(np.asarray(polygon, dtype=np.float64).reshape(-1, 2))
        self.zone_shelf.append(shelf)

    def face_table(self) -> np.ndarray:
        return np.array(
            [[f.shelf, f.side, f.rows, f.cols, f.first_slot] for f in self.faces], dtype=np.int32
        ).reshape(-1, 5)

    def all_face_coords(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) points -> (N, F, 4): depth, effective depth, u, v relative to every face."""
        p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        d = p[:, None, :2] - self._origin[None]
        depth = -np.einsum("nfk,fk->nf", d, self._normal)
        u = np.einsum("nfk,fk->nf", d, self._along)
        v = p[:, 2:3] - self._z0[None]
        m = self.margin
        inside = np.minimum(
            np.minimum(u + m, self._length + m - u),
            np.minimum(v + m, (self._z1 - self._z0) + m - v),
        )
        effective = np.minimum(np.minimum(depth, 2.0 * self._half - depth), inside)
        return np.stack([depth, effective, u, v], axis=-1)

    def face_coords(self, face: int, points: np.ndarray) -> np.ndarray:
        """(N, 3) points -> (N, 4) relative to one face (as all_face_coords, one column)."""
        f = self.faces[face]
        p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        d = p[:, :2] - f.origin
        depth = -(d[:, 0] * f.normal[0] + d[:, 1] * f.normal[1])
        u = d[:, 0] * f.along[0] + d[:, 1] * f.along[1]
        v = p[:, 2] - f.z0
        m = self.margin
        inside = np.minimum(
            np.minimum(u + m, f.length + m - u), np.minimum(v + m, (f.z1 - f.z0) + m - v)
        )
        effective = np.minimum(np.minimum(depth, 2.0 * f.half_depth - depth), inside)
        return np.stack([depth, effective, u, v], axis=-1)

    def nearest_face(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per shelf the open face whose plane is nearer, then the largest effective depth."""
        coords = self.all_face_coords(points)
        n = coords.shape[0]
        if not self.faces:
            return np.full(n, -1, np.int32), np.zeros((n, 4))
        candidate = np.full(coords.shape[:2], -np.inf)
        for s in range(self.shelf_count):
            faces = np.flatnonzero(self._shelf == s)
            if len(faces) == 0:
                continue
            pick = faces[np.argmin(coords[:, faces, 0], axis=1)]  # first minimum, as C++
            candidate[np.arange(n), pick] = coords[np.arange(n), pick, 1]
        best = np.argmax(candidate, axis=1)  # first maximum = lowest shelf on ties, as C++
        return best.astype(np.int32), coords[np.arange(n), best]

    def slot_of(self, face: int, u: float, v: float) -> int:
        f = self.faces[face]
        w, h = f.length / f.cols, (f.z1 - f.z0) / f.rows
        col = min(max(math.floor(u / w), 0), f.cols - 1)
        row = min(max(math.floor(v / h), 0), f.rows - 1)
        return f.first_slot + row * f.cols + col

    def slot_probabilities(self, face: int, u: float, v: float, sigma: float) -> np.ndarray:
        """(rows, cols) mass of an isotropic Gaussian per cell; edge cells unbounded."""
        f = self.faces[face]
        out = np.zeros((f.rows, f.cols))
        if not sigma > 0:
            out.flat[self.slot_of(face, u, v) - f.first_slot] = 1.0
            return out

        def masses(x: float, width: float, n: int) -> np.ndarray:
            upper = ndtr((np.arange(1, n + 1) * width - x) / sigma)
            upper[-1] = 1.0
            lower = np.concatenate([[0.0], upper[:-1]])
            return np.maximum(0.0, upper - lower)

        return np.outer(
            masses(v, (f.z1 - f.z0) / f.rows, f.rows), masses(u, f.length / f.cols, f.cols)
        )

    def zone_contains(self, zone: int, xy: np.ndarray) -> np.ndarray:
        """Crossing number, half-open in y (a vertex on the ray counts once)."""
        poly = self.zones[zone]
        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        x, y = xy[:, 0:1], xy[:, 1:2]
        xi, yi = poly[:, 0][None], poly[:, 1][None]
        xj, yj = np.roll(poly[:, 0], 1)[None], np.roll(poly[:, 1], 1)[None]
        straddles = (yi > y) != (yj > y)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # masked below
            xc = xi + (y - yi) * (xj - xi) / (yj - yi)
        crossings = straddles & (x < xc)
        lo, hi = poly.min(axis=0), poly.max(axis=0)  # outside the bounding box is outside
        in_box = (xy >= lo).all(axis=1) & (xy <= hi).all(axis=1)
        return (crossings.sum(axis=1) % 2).astype(bool) & in_box


# --- the engine --------------------------------------------------------------------------------

OUTSIDE, ENTERING, INSIDE, LEAVING = range(4)
MIN_WEIGHT_TIME, MIN_WEIGHT_DEPTH, MIN_SIGMA, MIN_WEIGHT_SIGMA = 1e-6, 1e-3, 1e-3, 1e-2
MIN_SLOT_PROB = 1e-12  # far-tail slot probabilities are absent, not 1e-300


@dataclass
class ReachTwin:
    track: int
    hand: int
    shelf: int
    face: int
    slot: int
    start: float
    end: float
    max_depth: float
    confidence: float
    lost: bool
    slot_probs: list[tuple[int, float]]


@dataclass
class DwellTwin:
    track: int
    shelf: int
    zone: int
    enter: float
    leave: float


@dataclass
class _Hand:
    phase: int = OUTSIDE
    prev_t: float | None = None
    prev_p: np.ndarray = field(default_factory=lambda: np.zeros(3))
    face: int = -1
    start: float = 0.0  # interpolated crossings: decisions
    leave: float = 0.0
    first_in: float = 0.0  # first and last samples in: reported
    last_in: float = 0.0
    max_depth: float = -math.inf
    sigma_at_max: float = 0.0
    weight: np.ndarray = field(default_factory=lambda: np.zeros(0))
    pos_sum: np.ndarray = field(default_factory=lambda: np.zeros(3))  # weighted mean position
    pos_weight: float = 0.0
    filt_t: float | None = None  # the smoothing filter: last sample time, position, variance
    filt_x: np.ndarray = field(default_factory=lambda: np.zeros(3))
    filt_var: float = 0.0
    xy: np.ndarray = field(default_factory=lambda: np.zeros(2))  # its track's floor point now


@dataclass
class _Zone:
    active: bool = False
    enter: float = 0.0
    last_in: float = 0.0


def crossing(t0: float, d0: float, t1: float, d1: float, level: float) -> float:
    """Time the segment (t0, d0) -> (t1, d1) crosses ``level``, clamped to [t0, t1]."""
    if d1 == d0:
        return t1
    s = min(max((level - d0) / (d1 - d0), 0.0), 1.0)
    return t0 + s * (t1 - t0)


def normal_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


class EngineTwin:
    """Twin of ``InteractEngine`` (engine.cpp): same parameters, same events, same order."""

    def __init__(self, shelves: ShelfModelTwin, **overrides: float) -> None:
        # The defaults are the C++ struct's (bound once as _core.InteractEngineParams); the
        # twin reimplements the logic, not the parameter list.
        p = _core.InteractEngineParams(**overrides)
        enter_depth, exit_depth = p.enter_depth, p.exit_depth
        min_inside_s, min_outside_s = p.min_inside_s, p.min_outside_s
        hand_lost_s, lost_confidence = p.hand_lost_s, p.lost_confidence
        hand_motion_std, duplicate_radius = p.hand_motion_std, p.duplicate_radius
        max_behind_face, slot_prob_min = p.max_behind_face, p.slot_prob_min
        dwell_exit_s, min_dwell_s = p.dwell_exit_s, p.min_dwell_s
        if not exit_depth < enter_depth:
            raise ValueError("exit_depth: expected a finite value below enter_depth")
        self.s = shelves
        self.enter, self.exit = enter_depth, exit_depth
        self.min_inside, self.min_outside = min_inside_s, min_outside_s
        self.hand_lost, self.lost_conf = hand_lost_s, lost_confidence
        self.motion = hand_motion_std
        self.duplicate_radius = duplicate_radius
        self.max_behind = max_behind_face
        self.recent: list[
            tuple[int, int, int, bool, float, float, np.ndarray]
        ] = []  # emitted reaches
        self.prob_min = slot_prob_min
        self.dwell_exit, self.min_dwell = dwell_exit_s, min_dwell_s
        self.tracks: dict[int, tuple[list[_Hand], list[_Zone]]] = {}
        self.last_t: float | None = None

    # Geometry of the current frame: every hand against every face, computed once, vectorised.
    def _coords(self, face: int, p: np.ndarray) -> np.ndarray:
        return self.s.face_coords(face, p[None])[0]

    def _accumulate(
        self, h: _Hand, c: np.ndarray, p: np.ndarray, weight_s: float, sigma: float
    ) -> None:
        sd = max(sigma, MIN_WEIGHT_SIGMA)  # a triangulated wrist outweighs an arm-model guess
        w = (
            (min(max(weight_s, 0.0), self.hand_lost) + MIN_WEIGHT_TIME)
            * max(c[1], MIN_WEIGHT_DEPTH)
            / (sd * sd)
        )
        h.weight += w * self.s.slot_probabilities(h.face, c[2], c[3], sigma).reshape(-1)
        h.pos_sum = h.pos_sum + w * np.asarray(p, dtype=np.float64)
        h.pos_weight += w
        if c[0] > h.max_depth:
            h.max_depth, h.sigma_at_max = c[0], sigma

    def _start_if_deep(
        self, h: _Hand, t: float, p: np.ndarray, sigma: float, nearest: tuple[int, np.ndarray]
    ) -> None:
        face, c = nearest
        if face < 0 or c[1] < self.enter:
            return
        f = self.s.faces[face]
        if float((h.xy - f.origin) @ f.normal) < -self.max_behind:
            return  # the track stands behind this face's plane: no reach through it
        start = t
        if h.prev_t is not None:
            before = self._coords(face, h.prev_p)
            if before[1] < self.enter:
                start = crossing(h.prev_t, before[1], t, c[1], self.enter)
        f = self.s.faces[face]
        h.face, h.start, h.phase = face, start, ENTERING
        h.first_in = h.last_in = t
        h.max_depth, h.sigma_at_max = -math.inf, sigma
        h.weight = np.zeros(f.rows * f.cols)
        h.pos_sum, h.pos_weight = np.zeros(3), 0.0
        self._accumulate(h, c, p, t - start, sigma)  # one sample never confirms a reach

    def _emit(
        self, track: int, side: int, h: _Hand, end: float, lost: bool, out: list[ReachTwin]
    ) -> None:
        f = self.s.faces[h.face]
        mean = h.pos_sum / h.pos_weight
        if self.duplicate_radius > 0:
            # The same hand under another track (the tracker split a person): drop it.
            horizon = h.first_in - self.hand_lost
            self.recent = [r for r in self.recent if not r[5] < horizon - self.hand_lost]
            for r_track, r_hand, r_face, r_lost, r_start, r_end, r_mean in self.recent:
                gap = max(r_start, h.first_in) - min(r_end, h.last_in)
                if (
                    (r_track != track or (r_hand == side and r_lost))
                    and r_face == h.face
                    and gap <= self.hand_lost
                    and float(np.sqrt(np.sum((r_mean - mean) ** 2))) <= self.duplicate_radius
                ):
                    h.phase, h.face = OUTSIDE, -1
                    return
            self.recent.append((track, side, h.face, lost, h.first_in, h.last_in, mean))
        total = float(h.weight.sum())
        best = int(np.argmax(h.weight))  # first maximum: ties keep the lower slot
        probs = h.weight / total if total > 0 else np.eye(len(h.weight))[best]
        keep = [
            (f.first_slot + i, float(p))
            for i, p in enumerate(probs)
            if p >= self.prob_min and p > MIN_SLOT_PROB
        ]
        keep.sort(key=lambda sp: (-sp[1], sp[0]))
        c_depth = normal_cdf(h.max_depth / max(h.sigma_at_max, MIN_SIGMA))
        with np.errstate(over="ignore"):  # a tiny min_inside_s gives inf, as in C++
            c_time = (
                min(1.0, np.float64(end - h.start) / (2 * self.min_inside))
                if self.min_inside > 0
                else 1.0
            )
        conf = min(max(c_depth * c_time * (self.lost_conf if lost else 1.0), 0.0), 1.0)
        out.append(
            ReachTwin(
                track,
                side,
                f.shelf,
                h.face,
                f.first_slot + best,
                h.first_in,
                h.last_in,
                h.max_depth,
                conf,
                lost,
                keep,
            )
        )
        h.phase, h.face = OUTSIDE, -1

    def _expire(self, track: int, side: int, h: _Hand, t: float, out: list[ReachTwin]) -> None:
        if h.phase == LEAVING and t - h.leave >= self.min_outside:
            self._emit(track, side, h, h.leave, False, out)
            return
        if h.prev_t is None or t - h.prev_t <= self.hand_lost:
            return
        if h.phase == INSIDE:
            self._emit(track, side, h, h.prev_t, True, out)
        elif h.phase == LEAVING:
            self._emit(track, side, h, h.leave, False, out)
        else:
            h.phase, h.face = OUTSIDE, -1

    def _step(
        self,
        track: int,
        side: int,
        h: _Hand,
        t: float,
        p: np.ndarray,
        sigma: float,
        nearest: tuple[int, np.ndarray],
        out: list[ReachTwin],
    ) -> None:
        if h.prev_t is not None and t - h.prev_t > self.hand_lost:
            self._expire(track, side, h, t, out)
            h.prev_t = None
        dt = t - h.prev_t if h.prev_t is not None else 0.0
        if h.phase == OUTSIDE:
            self._start_if_deep(h, t, p, sigma, nearest)
        elif h.phase in (ENTERING, INSIDE):
            c = self._coords(h.face, p)
            if c[1] < self.exit:
                before = self._coords(h.face, h.prev_p)
                out_t = crossing(h.prev_t, before[1], t, c[1], self.exit)
                if h.phase == ENTERING and (
                    out_t - h.start < self.min_inside or h.last_in == h.first_in
                ):
                    h.phase, h.face = OUTSIDE, -1
                    self._start_if_deep(h, t, p, sigma, nearest)
                else:
                    h.phase, h.leave = LEAVING, out_t
            else:
                self._accumulate(h, c, p, dt, sigma)
                h.last_in = t
                if h.phase == ENTERING and t - h.start >= self.min_inside and t > h.first_in:
                    h.phase = INSIDE
        else:  # LEAVING
            c = self._coords(h.face, p)
            if c[1] >= self.exit:
                before = self._coords(h.face, h.prev_p)
                back_t = crossing(h.prev_t, before[1], t, c[1], self.exit)
                if back_t - h.leave < self.min_outside:
                    h.phase = INSIDE
                    self._accumulate(h, c, p, dt, sigma)
                    h.last_in = t
                else:
                    self._emit(track, side, h, h.leave, False, out)
                    self._start_if_deep(h, t, p, sigma, nearest)
            elif t - h.leave >= self.min_outside:
                self._emit(track, side, h, h.leave, False, out)
                self._start_if_deep(h, t, p, sigma, nearest)
        h.prev_t, h.prev_p = t, np.array(p, dtype=np.float64)

    def _close_track(
        self,
        track: int,
        hands: list[_Hand],
        zones: list[_Zone],
        reaches: list[ReachTwin],
        dwells: list[DwellTwin],
    ) -> None:
        for side, h in enumerate(hands):
            if h.phase == INSIDE:
                self._emit(track, side, h, h.prev_t, True, reaches)
            elif h.phase == LEAVING:
                self._emit(track, side, h, h.leave, False, reaches)
            h.phase = OUTSIDE
        for z, d in enumerate(zones):
            if d.active and d.last_in - d.enter >= self.min_dwell:
                dwells.append(DwellTwin(track, self.s.zone_shelf[z], z, d.enter, d.last_in))
            d.active = False

    def update(
        self,
        t: float,
        track_ids: np.ndarray,
        track_xy: np.ndarray,
        hand_track: np.ndarray,
        hand_side: np.ndarray,
        hand_xyz: np.ndarray,
        hand_sigma: np.ndarray,
    ) -> tuple[list[ReachTwin], list[DwellTwin]]:
        if not math.isfinite(t) or (self.last_t is not None and t < self.last_t):
            raise ValueError("t: expected non-decreasing finite times")
        ids = [int(i) for i in track_ids]
        if len(set(ids)) != len(ids):
            raise ValueError("track_ids: expected unique ids")
        if any(int(k) not in set(ids) for k in hand_track):
            raise ValueError("hand_track: track is not in track_ids")
        self.last_t = t
        reaches: list[ReachTwin] = []
        dwells: list[DwellTwin] = []
        for track in sorted(k for k in self.tracks if k not in set(ids)):
            self._close_track(track, *self.tracks.pop(track), reaches, dwells)
        xy = np.asarray(track_xy, dtype=np.float64).reshape(-1, 2)
        inside = np.array([self.s.zone_contains(z, xy) for z in range(len(self.s.zones))]).reshape(
            len(self.s.zones), len(ids)
        )
        for i, track in enumerate(ids):
            if track not in self.tracks:
                self.tracks[track] = ([_Hand(), _Hand()], [_Zone() for _ in self.s.zones])
            for z, d in enumerate(self.tracks[track][1]):
                if inside[z, i]:
                    if not d.active:
                        d.active, d.enter = True, t
                    d.last_in = t
                elif d.active and t - d.last_in >= self.dwell_exit:
                    if d.last_in - d.enter >= self.min_dwell:
                        dwells.append(DwellTwin(track, self.s.zone_shelf[z], z, d.enter, d.last_in))
                    d.active = False
        xyz = np.array(hand_xyz, dtype=np.float64).reshape(-1, 3)
        hand_sigma = np.array(hand_sigma, dtype=np.float64).reshape(-1)
        if self.motion > 0:  # random-walk Kalman filter per hand, isotropic: one variance
            for k in range(len(hand_track)):
                h = self.tracks[int(hand_track[k])][0][int(hand_side[k])]
                r = hand_sigma[k] ** 2
                if h.filt_t is None or t - h.filt_t > self.hand_lost:
                    h.filt_x, h.filt_var = xyz[k].copy(), r
                else:
                    prior = h.filt_var + self.motion * self.motion * (t - h.filt_t)
                    gain = prior / (prior + r) if prior + r > 0 else 1.0
                    h.filt_x = h.filt_x + gain * (xyz[k] - h.filt_x)
                    h.filt_var = (1.0 - gain) * prior
                h.filt_t = t
                xyz[k], hand_sigma[k] = h.filt_x, math.sqrt(h.filt_var)
        faces, coords = self.s.nearest_face(xyz)  # every hand against every face at once
        sampled = set()
        row_of = {track: i for i, track in enumerate(ids)}
        for k in range(len(hand_track)):
            track, side = int(hand_track[k]), int(hand_side[k])
            sampled.add((track, side))
            self.tracks[track][0][side].xy = xy[row_of[track]]
            self._step(
                track,
                side,
                self.tracks[track][0][side],
                t,
                xyz[k],
                float(hand_sigma[k]),
                (int(faces[k]), coords[k]),
                reaches,
            )
        for track in sorted(self.tracks):
            for side in (0, 1):
                if (track, side) not in sampled:
                    self._expire(track, side, self.tracks[track][0][side], t, reaches)
        return self._sorted(reaches, dwells)

    def close_all(self) -> tuple[list[ReachTwin], list[DwellTwin]]:
        reaches: list[ReachTwin] = []
        dwells: list[DwellTwin] = []
        for track in sorted(self.tracks):
            self._close_track(track, *self.tracks[track], reaches, dwells)
        self.tracks.clear()
        return self._sorted(reaches, dwells)

    @staticmethod
    def _sorted(
        reaches: list[ReachTwin], dwells: list[DwellTwin]
    ) -> tuple[list[ReachTwin], list[DwellTwin]]:
        reaches.sort(key=lambda r: (r.track, r.hand, r.start))
        dwells.sort(key=lambda d: (d.track, d.zone, d.enter))
        return reaches, dwells


# --- hands in 3-D ----------------------------------------------------------------------------

SHOULDER, ELBOW, WRIST = (5, 6), (7, 8), (9, 10)
NONE, TRIANGULATED, WRIST_RAY_ELBOW, ARM_EXTRAPOLATED, FACE_RAY = range(5)


def locate_hands(
    cameras: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
    shelves: ShelfModelTwin,
    keypoints: np.ndarray,
    track_xy: np.ndarray,
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
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Twin of ``InteractHandLocator.locate`` (hands3d.cpp): (xyz (N, 2, 3), sigma (N, 2),
    source (N, 2), views (N, 2)) from keypoints (N, C, 17, 3) and floor points (N, 2)."""
    from twins.geometry import normalized_from_pixel
    from twins.geometry import triangulate as triangulate_twin

    def triangulate(cams, px):  # a Gauss-Newton step behind a camera: no point, as in C++
        try:
            with np.errstate(invalid="ignore"):
                points, residuals, _views = triangulate_twin(cams, px)
                return points, residuals
        except np.linalg.LinAlgError:
            return np.full((1, 3), np.nan), np.full(1, np.nan)

    centres = [-R.T @ t for _K, _d, R, t in cameras]
    focal = [0.5 * (K[0, 0] + K[1, 1]) for K, _d, _R, _t in cameras]

    def pixels_of(kp: np.ndarray, joint: int, min_conf: float) -> np.ndarray:
        use = (
            (kp[:, joint, 2] > 0)
            & (kp[:, joint, 2] >= min_conf)
            & np.isfinite(kp[:, joint, :2]).all(1)
        )
        return np.where(use[:, None], kp[:, joint, :2], np.nan)

    def view_sigma(X: np.ndarray, px: np.ndarray, noise: float) -> float:
        used = [c for c in range(len(cameras)) if not np.isnan(px[c, 0])]
        ranges = [np.linalg.norm(X - centres[c]) / focal[c] for c in used]
        return noise * float(np.mean(ranges)) / math.sqrt(len(used)) if used else 0.0

    def joint_3d(
        px: np.ndarray, noise: float = pixel_sigma
    ) -> tuple[np.ndarray, float, int] | None:
        """A joint from its views at pixel noise ``noise`` (the residual check scales with it)."""
        max_residual = max_residual_px * noise / pixel_sigma
        used = [c for c in range(len(cameras)) if not np.isnan(px[c, 0])]
        if len(used) < 2:
            return None
        X, res = triangulate(cameras, px[:, None, :])
        X, res, views = X[0], res[0], len(used)
        if not (np.isfinite(res) and res <= max_residual):
            if len(used) < 3:
                return None
            best = None
            for drop in used:  # one wrong pairing: leave each view out in turn
                sub = px.copy()
                sub[drop] = np.nan
                Y, r = triangulate(cameras, sub[:, None, :])
                if np.isfinite(r[0]) and (best is None or r[0] < best[1]):
                    best = (Y[0], r[0])
            if best is None or best[1] > max_residual:
                return None
            X, res, views = best[0], best[1], len(used) - 1
        return X, view_sigma(X, px, noise) * max(1.0, float(res) / noise), views

    def arm_wrist(shoulder: np.ndarray, elbow: np.ndarray) -> np.ndarray:
        """A forearm from the elbow along the upper arm, turned up by elbow_flexion."""
        a = np.linalg.norm(elbow - shoulder)
        if not a > 0:
            return elbow.copy()
        u = (elbow - shoulder) / a
        v = np.array([0.0, 0.0, 1.0]) - u[2] * u  # up, minus its part along the upper arm
        vn = np.linalg.norm(v)
        s = math.sin(elbow_flexion) / vn if vn > 1e-9 else 0.0
        return elbow + forearm_ratio * a * (math.cos(elbow_flexion) * u + s * v)

    def ray(view: int, uv: np.ndarray) -> np.ndarray:
        K, dist, R, _t = cameras[view]
        x, y = normalized_from_pixel(uv[None], K, dist)[0]
        return R.T @ (np.array([x, y, 1.0]) / math.sqrt(x * x + y * y + 1.0))

    def single_view(kp: np.ndarray, side: int, xy: np.ndarray) -> tuple[np.ndarray, float] | None:
        """One view: the ray's point nearest a prior at the face the person stands before."""
        if not shelves.faces:
            return None
        f_index = int(shelves.nearest_face(np.r_[xy, prior_height][None])[0][0])
        f = shelves.faces[f_index]
        stand, along = (xy - f.origin) @ f.normal, (xy - f.origin) @ f.along
        if not (-0.1 <= stand <= max_face_distance and -0.1 <= along <= f.length + 0.1):
            return None
        if (kp[:, :, 2] > 0).any(axis=1).sum() > max_person_views:
            return None  # others see this person: one view of an arm is not a reach
        candidates = []  # (not seen, -confidence, camera, pixel): seen first, most confident
        for c in range(len(cameras)):
            w, el, sh = kp[c, WRIST[side]], kp[c, ELBOW[side]], kp[c, SHOULDER[side]]
            if w[2] > 0 and w[2] >= min_wrist_confidence and np.isfinite(w[:2]).all():
                candidates.append((False, -w[2], c, w[:2]))
            elif (
                hidden_single_view
                and w[2] > 0
                and w[2] >= min_hidden_wrist_confidence
                and np.isfinite(w[:2]).all()
            ):
                candidates.append((True, -w[2], c, w[:2]))  # the hidden wrist's own pixel
            elif (
                hidden_single_view
                and min(el[2], sh[2]) > 0
                and min(el[2], sh[2]) >= min_arm_confidence
                and np.isfinite(el[:2]).all()
                and np.isfinite(sh[:2]).all()
            ):
                guess = el[:2] + forearm_ratio * (el[:2] - sh[:2])  # the hidden wrist's pixel
                candidates.append((True, -min(el[2], sh[2]), c, guess))
        for hidden, _conf, c, uv in sorted(candidates, key=lambda k: k[:3]):
            d = ray(c, uv)
            if not np.isfinite(d).all():
                continue
            if not hidden and abs(d[:2] @ f.normal) > max_facing_cosine:
                continue
            depth = hidden_depth if hidden else 0.0
            prior = np.r_[xy - f.normal * (stand + depth), prior_height]
            t = (prior - centres[c]) @ d
            if not t > 0:
                continue
            X = centres[c] + t * d
            if not np.linalg.norm(X - prior) <= max_prior_distance:
                continue
            ray_sigma = pixel_sigma * t / cameras[c][0][0, 0]
            return X, math.sqrt(ray_sigma**2 + single_view_sigma**2)
        return None

    n = len(keypoints)
    xyz, sigma = np.zeros((n, 2, 3)), np.zeros((n, 2))
    source, views = np.zeros((n, 2), np.int8), np.zeros((n, 2), np.int32)
    for p in range(n):
        kp = keypoints[p]
        for side in (0, 1):
            wrist_px = pixels_of(kp, WRIST[side], min_wrist_confidence)
            elbow = joint_3d(pixels_of(kp, ELBOW[side], min_arm_confidence))
            shoulder = joint_3d(pixels_of(kp, SHOULDER[side], min_arm_confidence))

            def wrist_3d(px: np.ndarray, noise: float, shoulder=shoulder):
                """Triangulated unless beyond an arm's reach of its own shoulder (near-parallel
                rays or a neighbour's wrist; the arm decides below)."""
                w = joint_3d(px, noise) if (~np.isnan(px[:, 0])).sum() >= 2 else None
                if w is not None and shoulder is not None:
                    if np.linalg.norm(w[0] - shoulder[0]) > max_arm_reach:
                        return None
                return w

            w = wrist_3d(wrist_px, pixel_sigma)
            # With the hidden wrists too, when they add a view, at their noise.
            any_px = pixels_of(
                kp, WRIST[side], min(min_hidden_wrist_confidence, min_wrist_confidence)
            )
            n_seen, n_any = (~np.isnan(wrist_px[:, 0])).sum(), (~np.isnan(any_px[:, 0])).sum()
            if w is None and n_any > n_seen:
                w = wrist_3d(any_px, hidden_pixel_sigma)
            if w is not None:
                xyz[p, side], sigma[p, side], source[p, side], views[p, side] = (
                    w[0],
                    w[1],
                    TRIANGULATED,
                    w[2],
                )
                continue
            seen = [c for c in range(len(cameras)) if not np.isnan(any_px[c, 0])]
            view = max(seen, key=lambda c: (kp[c, WRIST[side], 2], -c)) if seen else None
            if view is not None:
                d, origin = ray(view, any_px[view]), centres[view]
                hidden = kp[view, WRIST[side], 2] < min_wrist_confidence
                view_noise = hidden_pixel_sigma if hidden else pixel_sigma
            if view is not None and elbow is not None:
                E = elbow[0]
                fore = forearm_ratio * np.linalg.norm(E - shoulder[0]) if shoulder else 0.25
                w0 = arm_wrist(shoulder[0], E) if shoulder else E
                oe = origin - E
                b = d @ oe
                disc = b * b - (oe @ oe - fore * fore)
                t = -b
                if disc >= 0:
                    t1, t2 = -b - math.sqrt(disc), -b + math.sqrt(disc)
                    t = (
                        t1
                        if np.linalg.norm(origin + t1 * d - w0)
                        <= np.linalg.norm(origin + t2 * d - w0)
                        else t2
                    )
                ray_sigma = view_noise * t / cameras[view][0][0, 0]
                xyz[p, side] = origin + t * d
                sigma[p, side] = math.sqrt(ray_sigma**2 + elbow[1] ** 2 + arm_sigma**2)
                source[p, side], views[p, side] = WRIST_RAY_ELBOW, 1
                continue
            if elbow is not None and shoulder is not None:
                xyz[p, side] = arm_wrist(shoulder[0], elbow[0])
                sigma[p, side] = math.sqrt((elbow[1] * (1 + forearm_ratio)) ** 2 + arm_sigma**2)
                source[p, side], views[p, side] = ARM_EXTRAPOLATED, 0
                continue
            found = single_view(kp, side, track_xy[p])
            if found is not None:
                xyz[p, side], sigma[p, side] = found
                source[p, side], views[p, side] = FACE_RAY, 1
    # A hand far from its person's floor point belongs to someone else (or nobody).
    far = ~(np.linalg.norm(xyz[:, :, :2] - track_xy[:, None, :], axis=-1) <= max_hand_distance)
    far &= source != NONE
    xyz[far], sigma[far], source[far], views[far] = 0.0, 0.0, NONE, 0
    # A one-view wrist beyond an arm's reach of its own shoulder is a neighbour's keypoint.
    for p, side in zip(*np.nonzero(source == FACE_RAY), strict=True):
        shoulder = joint_3d(pixels_of(keypoints[p], SHOULDER[side], min_arm_confidence))
        if shoulder is not None:
            if np.linalg.norm(shoulder[0] - xyz[p, side]) > max_arm_reach:
                xyz[p, side], sigma[p, side], source[p, side], views[p, side] = 0.0, 0.0, NONE, 0
    return xyz, sigma, source, views


# --- hand boxes to arms ----------------------------------------------------------------------


def assign_hand_boxes(
    boxes: np.ndarray,
    keypoints: np.ndarray,
    *,
    min_confidence: float = 0.3,
    hand_offset: float = 0.37,
    max_distance_px: float = 40.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Twin of ``interact_assign_hand_boxes`` (hand_boxes.cpp): greedy by distance."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    keypoints = np.asarray(keypoints, dtype=np.float64).reshape(-1, 17, 3)
    centres = np.c_[(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2]
    arms = []  # (person, side, predicted hand centre)
    for p, kp in enumerate(keypoints):
        for side in (0, 1):
            wrist, elbow = kp[9 + side], kp[7 + side]
            if not (wrist[2] >= min_confidence and wrist[2] > 0):
                continue
            centre = wrist[:2].copy()
            if elbow[2] >= min_confidence and elbow[2] > 0:
                centre = wrist[:2] + hand_offset * (wrist[:2] - elbow[:2])
            arms.append((p, side, centre))
    pairs = sorted(
        (float(np.hypot(*(centres[b] - c))), b, p, side)
        for b in range(len(boxes))
        for p, side, c in arms
        if np.hypot(*(centres[b] - c)) <= max_distance_px
    )
    person = np.full(len(boxes), -1, np.int64)
    sides = np.full(len(boxes), -1, np.int32)
    used = set()
    for _d, b, p, side in pairs:
        if person[b] >= 0 or (p, side) in used:
            continue
        person[b], sides[b] = p, side
        used.add((p, side))
    return person, sides
