"""Type stubs for the compiled module walkout._core (built from cpp/).

One section per room, in the order module.cpp registers them. Keep each section next to its
binding file (cpp/bindings/bind_<room>.cpp) when either changes.
"""

from collections.abc import Sequence
from typing import TypedDict

import numpy as _np
import numpy as np
import numpy.typing as _npt
import numpy.typing as npt
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

def detect_nms(
    boxes: NDArray[np.float32],
    scores: NDArray[np.float32],
    iou_threshold: float,
    classes: NDArray[np.int64] | None = None,
    max_det: int = 0,
    score_threshold: float = ...,
) -> NDArray[np.int64]: ...
def detect_letterbox(
    frames: list[NDArray[np.uint8]],
    width: int,
    height: int,
    convention: str,
    out: NDArray[np.float32],
    threads: int = 0,
) -> NDArray[np.float64]: ...
def detect_letterbox_kernel_isa() -> str: ...
def detect_letterbox_geometry(
    src_w: int, src_h: int, dst_w: int, dst_h: int, convention: str
) -> tuple[int, int, int, int]: ...
def detect_decode(
    output: NDArray[np.float32],
    layout: str,
    transforms: NDArray[np.float64],
    model_w: int,
    model_h: int,
    conf_threshold: float = 0.25,
    iou_threshold: float = 0.45,
    classes: NDArray[np.int64] | None = None,
    max_det: int = 300,
    agnostic: bool = False,
    num_keypoints: int = 17,
    threads: int = 0,
) -> list[
    tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.int64], NDArray[np.float32] | None]
]: ...
def detect_box_iou(a: NDArray[np.float32], b: NDArray[np.float32]) -> NDArray[np.float32]: ...
def detect_xyxy_to_cxcywh(boxes: NDArray[np.float32]) -> NDArray[np.float32]: ...
def detect_cxcywh_to_xyxy(boxes: NDArray[np.float32]) -> NDArray[np.float32]: ...



# ---------------------------------------------------------------------------------------------
# track (cpp/bindings/bind_track.cpp)
# ---------------------------------------------------------------------------------------------

# Box states are (N, 8) float64 (cx, cy, w, h, vcx, vcy, vw, vh) in pixels and pixels/s; floor
# states (N, 4) float64 (x, y, vx, vy) in metres and m/s. The kalman functions update the
# given arrays in place (they must be C-contiguous, writeable float64).

def track_linear_assignment(
    cost: npt.ArrayLike, cost_limit: float | None = None
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]: ...
def track_chi2_quantile(probability: float, dof: int) -> float: ...
def track_box_kalman_predict(
    means: npt.NDArray[np.float64],
    covariances: npt.NDArray[np.float64],
    dt: float | npt.ArrayLike,
    position_noise: float = 0.27,
    velocity_noise: float = 1.0,
) -> None: ...
def track_box_kalman_update(
    means: npt.NDArray[np.float64],
    covariances: npt.NDArray[np.float64],
    measurements: npt.ArrayLike,
    measurement_noise: float = 0.05,
) -> None: ...
def track_floor_kalman_predict(
    means: npt.NDArray[np.float64],
    covariances: npt.NDArray[np.float64],
    dt: float | npt.ArrayLike,
    acceleration_std: float = 0.5,
) -> None: ...
def track_floor_kalman_update(
    means: npt.NDArray[np.float64],
    covariances: npt.NDArray[np.float64],
    points: npt.ArrayLike,
    point_covariances: npt.ArrayLike,
) -> None: ...
def track_floor_gating_distance(
    means: npt.ArrayLike,
    covariances: npt.ArrayLike,
    points: npt.ArrayLike,
    point_covariances: npt.ArrayLike,
) -> npt.NDArray[np.float64]: ...
def track_fuse_views(
    points_per_camera: list[npt.ArrayLike],
    covs_per_camera: list[npt.ArrayLike],
    gate_probability: float = 0.99,
    model_error_std: float = 0.0,
    merge_radius_m: float = 0.6,
    prior_points: npt.ArrayLike | None = None,
    prior_covariances: npt.ArrayLike | None = None,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.int64]]: ...

class BoxTrackerParams:
    """BoxTracker's options (C++ BoxTrackerParams); defaults are the struct's."""

    fps: float
    high_score: float
    low_score: float
    new_track_score: float
    occluded_birth_score: float
    occluded_birth_cover: float
    confirm_score: float
    low_extend_s: float
    output_lost_s: float
    match_iou: float
    low_match_iou: float
    tentative_match_iou: float
    recovery_iou: float
    direction_weight: float
    direction_span_s: float
    lost_buffer_s: float
    position_noise: float
    velocity_noise: float
    measurement_noise: float
    initial_position_std: float
    initial_velocity_std: float
    fuse_score: bool
    min_hits: int
    observation_reupdate: bool
    def __init__(self) -> None: ...
    def check(self) -> None: ...

class TrackBoxTracker:
    def __init__(self, params: BoxTrackerParams) -> None: ...
    @property
    def params(self) -> BoxTrackerParams: ...
    # -> (ids int64 (N,), boxes float32 (N, 4) xyxy, states int8 (N,), det_index int64 (N,),
    #     scores float32 (N,), the same five for the tracks the output policy reports)
    def update(
        self, boxes_xyxy: npt.ArrayLike, scores: npt.ArrayLike, t: float | None = None
    ) -> tuple[
        npt.NDArray[np.int64],
        npt.NDArray[np.float32],
        npt.NDArray[np.int8],
        npt.NDArray[np.int64],
        npt.NDArray[np.float32],
        tuple[
            npt.NDArray[np.int64],
            npt.NDArray[np.float32],
            npt.NDArray[np.int8],
            npt.NDArray[np.int64],
            npt.NDArray[np.float32],
        ],
    ]: ...
    def reset(self) -> None: ...
    def __len__(self) -> int: ...

# TrackFloorTracker.update / predicted -> (ids (N,), points (N, 2), states (N,), det_index (N,),
# scores (N,), velocities (N, 2), covariances (N, 2, 2))
_FloorTrackArrays = tuple[
    npt.NDArray[np.int64],
    npt.NDArray[np.float64],
    npt.NDArray[np.int8],
    npt.NDArray[np.int64],
    npt.NDArray[np.float32],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
]


class TrackFloorTracker:
    def __init__(
        self,
        *,
        fps: float,
        high_score: float,
        low_score: float,
        new_track_score: float,
        gate_probability: float,
        low_gate_probability: float,
        min_hits: int,
        lost_buffer_s: float,
        lost_velocity_decay_s: float,
        lost_stand_speed: float,
        lost_max_std_m: float,
        birth_gate_probability: float,
        model_error_std: float,
        acceleration_std: float,
        measurement_std: float,
        initial_velocity_std: float,
    ) -> None: ...
    def update(
        self,
        points_xy: npt.ArrayLike,
        covariances: npt.ArrayLike | None = None,
        scores: npt.ArrayLike | None = None,
        t: float | None = None,
    ) -> _FloorTrackArrays: ...
    def predicted(
        self, t: float | None = None
    ) -> _FloorTrackArrays: ...
    def reset(self) -> None: ...


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
    max_residual_px: float = 0.0, threads: int = 0,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.uint32]]: ...
def intersect_rays_oriented_box(
    origins: ArrayLike, directions: ArrayLike, centre: ArrayLike, rotation: ArrayLike,
    half_size: ArrayLike, threads: int = 0,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int32]]: ...



# ---------------------------------------------------------------------------------------------
# sync (cpp/bindings/bind_sync.cpp)
# ---------------------------------------------------------------------------------------------


class CameraSyncCounters:
    """Per-camera FrameSync counters; received = used + dropped_late + dropped_overflow + buffered."""

    @property
    def received(self) -> int: ...
    @property
    def used(self) -> int: ...
    @property
    def dropped_late(self) -> int: ...
    @property
    def dropped_overflow(self) -> int: ...
    @property
    def missing(self) -> int: ...
    @property
    def buffered(self) -> int: ...
    @property
    def live(self) -> bool: ...

class FrameSet:
    """Frames of every camera nearest to one reference time (None where missing)."""

    @property
    def ref_ns(self) -> int: ...
    @property
    def frames(self) -> list[_npt.NDArray[_np.uint8] | None]: ...
    @property
    def t_ns(self) -> list[int | None]: ...
    @property
    def complete(self) -> bool: ...
    @property
    def waited_out(self) -> bool: ...

class FrameSync:
    def __init__(
        self, num_cameras: int, period_ns: int, tolerance_ns: int, capacity: int,
        latency_budget_ns: int, grid_origin_ns: int | None = None,
        min_frame_interval_ns: int = 0,
    ) -> None: ...
    def push(
        self, camera: int, t_ns: int, frame: _npt.NDArray[_np.uint8], arrival_ns: int | None = None
    ) -> None: ...
    def pull(self, timeout_s: float | None = None) -> FrameSet | None: ...
    def poll(self, now_ns: int | None = None) -> FrameSet | None: ...
    def wants(self, camera: int, t_ns: int) -> bool: ...
    def set_live(self, camera: int, live: bool) -> None: ...
    def close(self) -> None: ...
    @property
    def closed(self) -> bool: ...
    def counters(self) -> list[CameraSyncCounters]: ...
    @property
    def framesets(self) -> int: ...
    @property
    def partial_framesets(self) -> int: ...
    @property
    def num_cameras(self) -> int: ...
    @property
    def period_ns(self) -> int: ...
    @property
    def tolerance_ns(self) -> int: ...
    @property
    def capacity(self) -> int: ...
    @property
    def latency_budget_ns(self) -> int: ...
    @property
    def grid_origin_ns(self) -> int | None: ...
    @property
    def min_frame_interval_ns(self) -> int: ...
    @staticmethod
    def now_ns() -> int: ...



# ---------------------------------------------------------------------------------------------
# interact (cpp/bindings/bind_interact.cpp)
# ---------------------------------------------------------------------------------------------


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

class InteractEngineParams:
    """C++ EngineParams; each field's trade-off is in its docstring (bind_interact.cpp)."""

    fields: tuple[str, ...]
    enter_depth: float
    exit_depth: float
    min_inside_s: float
    min_outside_s: float
    hand_lost_s: float
    hand_motion_std: float
    duplicate_radius: float
    max_behind_face: float
    lost_confidence: float
    slot_prob_min: float
    dwell_exit_s: float
    min_dwell_s: float
    def __init__(self, **fields: float) -> None: ...
    def check(self) -> None: ...
    def to_dict(self) -> dict[str, float]: ...

class InteractEngine:
    def __init__(
        self,
        shelves: InteractShelves,
        params: InteractEngineParams | None = None,
        **overrides: float,
    ) -> None: ...
    @property
    def params(self) -> InteractEngineParams: ...
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
        hidden_depth: float,
        prior_height: float,
        max_facing_cosine: float,
        max_prior_distance: float,
        single_view_sigma: float,
        max_person_views: int,
        hidden_single_view: bool,
        max_arm_reach: float,
        min_hidden_wrist_confidence: float,
        hidden_pixel_sigma: float,
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

def sim_silhouette_areas(
    height: int, width: int, capsules: _npt.ArrayLike, ids: _npt.ArrayLike, n_ids: int
) -> _npt.NDArray[_np.int64]:
    """Per id 0..n_ids-1: (n_ids,) int64 image pixels inside the union of its capsules
    (N, 10), as if nothing else were in the scene."""
