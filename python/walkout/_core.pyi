"""Type stubs for the compiled module walkout._core (built from cpp/).

One section per room, in the order module.cpp registers them. Keep each section next to its
binding file (cpp/bindings/bind_<room>.cpp) when either changes.
"""

from typing import TypedDict

import numpy as np
import numpy.typing as npt

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
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.int64]]: ...

class TrackBoxTracker:
    def __init__(
        self,
        *,
        fps: float,
        high_score: float,
        low_score: float,
        new_track_score: float,
        match_iou: float,
        low_match_iou: float,
        tentative_match_iou: float,
        recovery_iou: float,
        direction_weight: float,
        direction_span_s: float,
        fuse_score: bool,
        min_hits: int,
        lost_buffer_s: float,
        observation_reupdate: bool,
        position_noise: float,
        velocity_noise: float,
        measurement_noise: float,
        initial_position_std: float,
        initial_velocity_std: float,
    ) -> None: ...
    # -> (ids int64 (N,), boxes float32 (N, 4) xyxy, states int8 (N,), det_index int64 (N,),
    #     scores float32 (N,), the same five for the confirmed tracks matched this frame)
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
        acceleration_std: float,
        measurement_std: float,
        initial_velocity_std: float,
    ) -> None: ...
    # -> (ids (N,), points (N, 2), states (N,), det_index (N,), scores (N,),
    #     velocities (N, 2), covariances (N, 2, 2))
    def update(
        self,
        points_xy: npt.ArrayLike,
        covariances: npt.ArrayLike | None = None,
        scores: npt.ArrayLike | None = None,
        t: float | None = None,
    ) -> tuple[
        npt.NDArray[np.int64],
        npt.NDArray[np.float64],
        npt.NDArray[np.int8],
        npt.NDArray[np.int64],
        npt.NDArray[np.float32],
        npt.NDArray[np.float64],
        npt.NDArray[np.float64],
    ]: ...
    def reset(self) -> None: ...


# ---------------------------------------------------------------------------------------------
# geometry (cpp/bindings/bind_geometry.cpp)
# ---------------------------------------------------------------------------------------------



# ---------------------------------------------------------------------------------------------
# sync (cpp/bindings/bind_sync.cpp)
# ---------------------------------------------------------------------------------------------



# ---------------------------------------------------------------------------------------------
# interact (cpp/bindings/bind_interact.cpp)
# ---------------------------------------------------------------------------------------------
