"""Type stubs for the compiled module walkout._core (built from cpp/).

One section per room, in the order module.cpp registers them. Keep each section next to its
binding file (cpp/bindings/bind_<room>.cpp) when either changes.
"""

from collections.abc import Sequence
from typing import TypedDict

import numpy as np
from numpy.typing import ArrayLike, NDArray

__version__: str

class _BuildInfo(TypedDict):
    version: str
    compiler: str
    build_type: str
    simd_baseline: str

build_info: _BuildInfo

# ---------------------------------------------------------------------------------------------
# detect (cpp/bindings/bind_detect.cpp)
# ---------------------------------------------------------------------------------------------



# ---------------------------------------------------------------------------------------------
# track (cpp/bindings/bind_track.cpp)
# ---------------------------------------------------------------------------------------------



# ---------------------------------------------------------------------------------------------
# geometry (cpp/bindings/bind_geometry.cpp)
# ---------------------------------------------------------------------------------------------

class PinholeCamera:
    """OpenCV pinhole camera posed camera_from_store (x_cam = R · X_store + t)."""

    def __init__(self, K: NDArray[np.float64], dist: NDArray[np.float64],
                 R: NDArray[np.float64], t: NDArray[np.float64]) -> None: ...
    @property
    def K(self) -> NDArray[np.float64]: ...
    @property
    def dist(self) -> NDArray[np.float64]: ...
    @property
    def R(self) -> NDArray[np.float64]: ...
    @property
    def t(self) -> NDArray[np.float64]: ...
    @property
    def centre_in_store(self) -> NDArray[np.float64]: ...
    def image_from_store(self, points: ArrayLike, threads: int = 0) -> NDArray[np.float64]: ...
    def undistort_pixels(self, pixels: ArrayLike, threads: int = 0) -> NDArray[np.float64]: ...
    def rays_from_image(self, pixels: ArrayLike, threads: int = 0) -> NDArray[np.float64]: ...
    def floor_from_image(self, pixels: ArrayLike, threads: int = 0) -> NDArray[np.float64]: ...
    def plane_from_image(self, pixels: ArrayLike, normal: ArrayLike, offset: float,
                         threads: int = 0) -> NDArray[np.float64]: ...
    def floor_covariance(self, pixels: ArrayLike, pixel_sigma: float,
                         threads: int = 0) -> NDArray[np.float64]: ...
    def floor_homography(self) -> NDArray[np.float64]: ...

def triangulate_views(
    cameras: Sequence[PinholeCamera], pixels: ArrayLike, refine_iterations: int = 5,
    threads: int = 0,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int32]]: ...
def intersect_rays_oriented_box(
    origins: ArrayLike, directions: ArrayLike, centre: ArrayLike, rotation: ArrayLike,
    half_size: ArrayLike, threads: int = 0,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int32]]: ...



# ---------------------------------------------------------------------------------------------
# sync (cpp/bindings/bind_sync.cpp)
# ---------------------------------------------------------------------------------------------



# ---------------------------------------------------------------------------------------------
# interact (cpp/bindings/bind_interact.cpp)
# ---------------------------------------------------------------------------------------------

import numpy.typing as npt  # noqa: E402  (kept in this room's section)

class InteractShelves:
    def __init__(
        self,
        boxes: npt.ArrayLike,
        grid: npt.ArrayLike,
        open_faces: npt.ArrayLike,
        face_margin: float,
    ) -> None: ...
    def add_zone(self, shelf: int, polygon: npt.ArrayLike) -> None: ...
    @property
    def shelf_count(self) -> int: ...
    @property
    def slot_count(self) -> int: ...
    @property
    def zone_count(self) -> int: ...
    @property
    def face_margin(self) -> float: ...
    def zone_shelf(self, zone: int) -> int: ...
    def faces(self) -> npt.NDArray[np.int32]: ...
    def nearest_face(
        self, points: npt.ArrayLike
    ) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float64]]: ...
    def face_coords(self, face: int, points: npt.ArrayLike) -> npt.NDArray[np.float64]: ...
    def slot_of(self, face: int, uv: npt.ArrayLike) -> npt.NDArray[np.int32]: ...
    def slot_probabilities(
        self, face: int, u: float, v: float, sigma: float
    ) -> npt.NDArray[np.float64]: ...
    def zone_contains(self, zone: int, xy: npt.ArrayLike) -> npt.NDArray[np.bool_]: ...

class InteractReach:
    @property
    def track(self) -> int: ...
    @property
    def hand(self) -> int: ...
    @property
    def shelf(self) -> int: ...
    @property
    def face(self) -> int: ...
    @property
    def slot(self) -> int: ...
    @property
    def start(self) -> float: ...
    @property
    def end(self) -> float: ...
    @property
    def max_depth(self) -> float: ...
    @property
    def confidence(self) -> float: ...
    @property
    def lost(self) -> bool: ...
    @property
    def slot_probs(self) -> list[tuple[int, float]]: ...

class InteractDwell:
    @property
    def track(self) -> int: ...
    @property
    def shelf(self) -> int: ...
    @property
    def zone(self) -> int: ...
    @property
    def enter(self) -> float: ...
    @property
    def leave(self) -> float: ...

class InteractEngine:
    def __init__(
        self,
        shelves: InteractShelves,
        *,
        enter_depth: float,
        exit_depth: float,
        min_inside_s: float,
        min_outside_s: float,
        hand_lost_s: float,
        hand_motion_std: float,
        duplicate_radius: float,
        lost_confidence: float,
        slot_prob_min: float,
        dwell_exit_s: float,
        min_dwell_s: float,
    ) -> None: ...
    def update(
        self,
        t: float,
        track_ids: npt.ArrayLike,
        track_xy: npt.ArrayLike,
        hand_track: npt.ArrayLike,
        hand_side: npt.ArrayLike,
        hand_xyz: npt.ArrayLike,
        hand_sigma: npt.ArrayLike,
    ) -> tuple[list[InteractReach], list[InteractDwell]]: ...
    def close_all(self) -> tuple[list[InteractReach], list[InteractDwell]]: ...
    @property
    def open_reaches(self) -> int: ...
    @property
    def track_count(self) -> int: ...

def interact_assign_hand_boxes(
    boxes: npt.ArrayLike,
    keypoints: npt.ArrayLike,
    *,
    min_confidence: float,
    hand_offset: float,
    max_distance_px: float,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32]]: ...

class InteractHandLocator:
    def __init__(
        self,
        cameras: list[PinholeCamera],
        shelves: InteractShelves,
        *,
        min_wrist_confidence: float,
        min_arm_confidence: float,
        max_residual_px: float,
        pixel_sigma: float,
        forearm_ratio: float,
        elbow_flexion: float,
        arm_sigma: float,
        max_hand_distance: float,
        max_face_distance: float,
    ) -> None: ...
    @property
    def camera_count(self) -> int: ...
    def locate(
        self, keypoints: npt.ArrayLike, track_xy: npt.ArrayLike
    ) -> tuple[
        npt.NDArray[np.float64],
        npt.NDArray[np.float64],
        npt.NDArray[np.int8],
        npt.NDArray[np.int32],
    ]: ...

# ---------------------------------------------------------------------------------------------
# sim (cpp/bindings/bind_sim.cpp)
# ---------------------------------------------------------------------------------------------

import numpy as _np  # noqa: E402 - kept in this room's section to avoid merge conflicts
import numpy.typing as _npt  # noqa: E402

def sim_draw_capsules(
    image: _npt.NDArray[_np.uint8],
    depth: _npt.NDArray[_np.float32],
    labels: _npt.NDArray[_np.int32] | None,
    capsules: _npt.ArrayLike,
    colours: _npt.ArrayLike,
    ids: _npt.ArrayLike,
) -> None:
    """Draw projected capsules (N, 10) = u0 v0 z0 rpx0 rw0 u1 v1 z1 rpx1 rw1 with colours
    (N, 3) uint8 and ids (N,) int32 into image (H, W, 3) uint8, depth (H, W) float32 and
    labels (H, W) int32 or None, in place, with a per-pixel depth test."""

def sim_label_boxes(labels: _npt.NDArray[_np.int32], n: int) -> _npt.NDArray[_np.int32]:
    """Per label 0..n-1: (n, 5) int32 x_min, y_min, x_max, y_max (inclusive), pixel count;
    (-1, -1, -1, -1, 0) where unseen."""
