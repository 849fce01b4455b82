"""The simulated world, built once from the store file: floor, shelves with their slots and
products, gates, and the cameras scaled to the render size.

Slot geometry (store frame): a face is split into ``rows`` levels between ``base_height`` and
``height`` and ``cols`` columns along the shelf's length; a slot's *face point* is the centre
of its opening on the face plane, its *stand point* is where a shopper stands to reach it,
``STAND_OFF_M`` in front of the face.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from walkout.config import CameraCalibration, LoadedStore, Shelf, Slot, Store, load_store

# A shopper's body on the floor is a disc of this radius (shoulders seen from above).
BODY_RADIUS_M = 0.22
# Centres keep this far from a shelf footprint or a wall: body radius plus a hand's breadth.
CLEARANCE_M = 0.28
# Two shoppers' centres never come closer than this (two body radii plus a little air).
MIN_SEPARATION_M = 2 * BODY_RADIUS_M + 0.04
# Where a shopper stands to reach a slot: this far in front of the face, metres.
STAND_OFF_M = 0.38
# The wall with the gates is at y = 0; shoppers appear and vanish this far inside it.
GATE_Y_M = 0.32
# Resolution of the free-space bitmap the crowd checks every move against.
FREE_CELL_M = 0.02


@dataclass(frozen=True)
class SlotInfo:
    index: int
    shelf: Shelf
    slot: Slot
    slot_id: str
    sku: str
    sensor: str | None
    unit_weight_g: float
    price_cents: int
    normal: np.ndarray  # (2,) outward face normal on the floor
    along: np.ndarray  # (2,) unit vector along the shelf
    face_point: np.ndarray  # (3,) centre of the opening on the face plane
    width_m: float  # slot extent along the shelf
    height_m: float  # slot extent vertically
    stand_point: np.ndarray  # (2,) where a shopper stands to reach it


@dataclass(frozen=True)
class SimCamera:
    """One camera as the renderer sees it: the calibration scaled to the render size."""

    id: str
    calibration: CameraCalibration
    K: np.ndarray
    dist: np.ndarray
    R: np.ndarray  # camera_from_store rotation
    t: np.ndarray  # camera_from_store translation
    rvec: np.ndarray
    width: int
    height: int

    def centre(self) -> np.ndarray:
        return -self.R.T @ self.t

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, 3) store points -> ((N, 2) pixels through the distortion model, (N,) camera z)."""
        pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        x = (pts[:, 0:1] * self.R[:, 0] + pts[:, 1:2] * self.R[:, 1] + pts[:, 2:3] * self.R[:, 2]
             + self.t)
        z = x[:, 2]
        if len(self.dist) > 5 and np.any(self.dist[5:]):
            uv = cv2.projectPoints(pts, self.rvec, self.t, self.K, self.dist)[0].reshape(-1, 2)
        else:
            uv = distort_and_project(x, self.K, self.dist)
        # Points behind the camera have no image; park them far outside it.
        uv[~np.isfinite(uv).all(1) | (z <= 0)] = -1e6
        # Far outside the field of view the distortion polynomial explodes; clamp so that
        # pixel coordinates stay castable to integers.
        return np.clip(uv, -1e6, 1e6), z


def distort_and_project(x_cam: np.ndarray, K: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """OpenCV's pinhole model with k1 k2 p1 p2 k3 distortion, in numpy: the same numbers as
    cv2.projectPoints without its Jacobians (which cost most of its time)."""
    d = np.zeros(5)
    d[: min(5, len(dist))] = dist[:5]
    k1, k2, p1, p2, k3 = d
    with np.errstate(divide="ignore", invalid="ignore"):
        a = x_cam[:, 0] / x_cam[:, 2]
        b = x_cam[:, 1] / x_cam[:, 2]
    r2 = a * a + b * b
    radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
    xd = a * radial + 2 * p1 * a * b + p2 * (r2 + 2 * a * a)
    yd = b * radial + p1 * (r2 + 2 * b * b) + 2 * p2 * a * b
    return np.stack([K[0, 0] * xd + K[0, 1] * yd + K[0, 2], K[1, 1] * yd + K[1, 2]], 1)


@dataclass
class World:
    loaded: LoadedStore
    width: float
    depth: float
    slots: list[SlotInfo]
    cameras: list[SimCamera]
    entry_point: np.ndarray
    exit_point: np.ndarray
    # Per shelf: centre (2,), axes (2, 2) rows = along, normal; half extents (2,), height.
    shelf_centres: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    shelf_axes: np.ndarray = field(default_factory=lambda: np.zeros((0, 2, 2)))
    shelf_half: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))
    _free_map: np.ndarray | None = None

    @property
    def store(self) -> Store:
        return self.loaded.config

    def slot_by_id(self, slot_id: str) -> SlotInfo:
        for info in self.slots:
            if info.slot_id == slot_id:
                return info
        raise KeyError(slot_id)

    def shelf_distance(self, points: np.ndarray) -> np.ndarray:
        """(N, 2) floor points -> (N,) distance to the nearest shelf footprint (0 inside)."""
        p = np.asarray(points, np.float64).reshape(-1, 2)
        best = np.full(len(p), np.inf)
        for centre, axes, half in zip(self.shelf_centres, self.shelf_axes, self.shelf_half, strict=False):
            dx, dy = p[:, 0] - centre[0], p[:, 1] - centre[1]
            ex = np.maximum(np.abs(dx * axes[0, 0] + dy * axes[0, 1]) - half[0], 0.0)
            ey = np.maximum(np.abs(dx * axes[1, 0] + dy * axes[1, 1]) - half[1], 0.0)
            np.minimum(best, np.sqrt(ex * ex + ey * ey), out=best)
        return best

    def wall_distance(self, points: np.ndarray) -> np.ndarray:
        p = np.asarray(points, np.float64).reshape(-1, 2)
        return np.minimum.reduce([p[:, 0], self.width - p[:, 0], p[:, 1] + (CLEARANCE_M - GATE_Y_M),
                                  self.depth - p[:, 1]])

    def is_free_exact(self, points: np.ndarray) -> np.ndarray:
        """Whether a shopper's centre may be at each (x, y): clear of shelves and walls."""
        return (self.shelf_distance(points) >= CLEARANCE_M) & (self.wall_distance(points) >= CLEARANCE_M)

    def is_free(self, points: np.ndarray) -> np.ndarray:
        """Like is_free_exact, by lookup in a 2 cm bitmap whose cells are free only if every
        point in them is (conservative: it never lets a centre closer than CLEARANCE_M)."""
        return self._lookup(points)

    def free_at(self, x: float, y: float) -> bool:
        """is_free for one point, without numpy's per-call cost (the crowd's inner loop)."""
        self._ensure_free_map()
        assert self._free_map is not None
        ix, iy = int(x // FREE_CELL_M), int(y // FREE_CELL_M)
        nx, ny = self._free_map.shape
        return 0 <= ix < nx and 0 <= iy < ny and bool(self._free_map[ix, iy])

    def _ensure_free_map(self) -> None:
        if self._free_map is None:
            nx, ny = int(np.ceil(self.width / FREE_CELL_M)), int(np.ceil(self.depth / FREE_CELL_M))
            ix, iy = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
            centres = np.stack([(ix + 0.5) * FREE_CELL_M, (iy + 0.5) * FREE_CELL_M], -1).reshape(-1, 2)
            margin = FREE_CELL_M / np.sqrt(2)
            free = ((self.shelf_distance(centres) >= CLEARANCE_M + margin)
                    & (self.wall_distance(centres) >= CLEARANCE_M + margin))
            self._free_map = free.reshape(nx, ny)

    def _lookup(self, points: np.ndarray) -> np.ndarray:
        self._ensure_free_map()
        assert self._free_map is not None
        p = np.asarray(points, np.float64).reshape(-1, 2)
        ix = np.floor(p[:, 0] / FREE_CELL_M).astype(np.int64)
        iy = np.floor(p[:, 1] / FREE_CELL_M).astype(np.int64)
        nx, ny = self._free_map.shape
        ok = (ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny)
        out = np.zeros(len(p), bool)
        out[ok] = self._free_map[ix[ok], iy[ok]]
        return out


def _slot_info(index: int, shelf: Shelf, slot: Slot, loaded: LoadedStore) -> SlotInfo:
    along, front = shelf.axes()
    normal = front if slot.face == "front" else -front
    # Columns count from the local -x end as seen in the shelf frame (both faces alike).
    col_w = shelf.length / shelf.cols
    row_h = (shelf.height - shelf.base_height) / shelf.rows
    offset = -shelf.length / 2 + (slot.col + 0.5) * col_w
    centre = np.asarray(shelf.center, np.float64)
    face_xy = centre + offset * along + (shelf.depth / 2) * normal
    z = shelf.base_height + (slot.row + 0.5) * row_h
    product = loaded.config.product(slot.product)
    return SlotInfo(
        index=index, shelf=shelf, slot=slot, slot_id=shelf.slot_id(slot), sku=slot.product,
        sensor=slot.sensor, unit_weight_g=product.unit_weight_g, price_cents=product.price_cents,
        normal=normal, along=along, face_point=np.array([face_xy[0], face_xy[1], z]),
        width_m=col_w, height_m=row_h, stand_point=face_xy + STAND_OFF_M * normal,
    )


def camera_for_render(calib: CameraCalibration, width: int, height: int) -> SimCamera:
    scaled = calib.for_image_size(width, height)
    assert scaled.pose is not None
    R = np.asarray(scaled.pose.R, np.float64)
    t = np.asarray(scaled.pose.t, np.float64)
    rvec, _ = cv2.Rodrigues(R)
    return SimCamera(id=scaled.camera, calibration=scaled, K=scaled.K_array(),
                     dist=scaled.dist_array(), R=R, t=t, rvec=rvec.reshape(3), width=width,
                     height=height)


def _gate_point(loaded: LoadedStore, kind: str) -> np.ndarray:
    for gate in loaded.config.gates:
        if gate.kind == kind:
            zone = np.asarray(gate.zone, np.float64)
            return np.array([zone[:, 0].mean(), GATE_Y_M])
    raise ValueError(f"store: expected a gate of kind '{kind}'")


def build_world(store: LoadedStore | Path | str, width: int = 640, height: int = 360,
                cameras: list[str] | None = None) -> World:
    """The world of a store file (or an already loaded store), cameras rendering width x height."""
    loaded = store if isinstance(store, LoadedStore) else load_store(store)
    config = loaded.config
    slots = [_slot_info(i, shelf, slot, loaded) for i, (shelf, slot) in enumerate(config.slots())]
    wanted = cameras or [c.id for c in config.cameras]
    unknown = sorted(set(wanted) - set(loaded.calibrations))
    if unknown:
        raise ValueError(f"cameras: {unknown} are not in the store file "
                         f"(expected some of {sorted(loaded.calibrations)})")
    sim_cameras = [camera_for_render(loaded.calibrations[c], width, height) for c in wanted]
    centres = np.array([s.center for s in config.shelves], np.float64)
    axes = np.array([np.stack(s.axes()) for s in config.shelves])
    half = np.array([[s.length / 2, s.depth / 2] for s in config.shelves])
    return World(loaded=loaded, width=config.floor.width, depth=config.floor.depth, slots=slots,
                 cameras=sim_cameras, entry_point=_gate_point(loaded, "entry"),
                 exit_point=_gate_point(loaded, "exit"), shelf_centres=centres, shelf_axes=axes,
                 shelf_half=half)
