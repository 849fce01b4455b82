"""Type stubs for the compiled module walkout._core (built from cpp/).

One section per room, in the order module.cpp registers them. Keep each section next to its
binding file (cpp/bindings/bind_<room>.cpp) when either changes.
"""

from typing import TypedDict

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



# ---------------------------------------------------------------------------------------------
# sync (cpp/bindings/bind_sync.cpp)
# ---------------------------------------------------------------------------------------------



# ---------------------------------------------------------------------------------------------
# interact (cpp/bindings/bind_interact.cpp)
# ---------------------------------------------------------------------------------------------


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
