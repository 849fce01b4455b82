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
    max_residual_px: float = 0.0, threads: int = 0,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.uint32]]: ...
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
