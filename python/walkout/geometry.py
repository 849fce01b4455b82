"""Camera geometry in the store frame: the Python face of the compiled geometry room.

Frames (docs/ARCHITECTURE.md): the store frame is metres, right-handed, z up, floor at z = 0.
A camera is OpenCV's pinhole model, intrinsics K (pixel centres at integer coordinates) and
distortion in OpenCV's order, posed by ``camera_from_store``: x_cam = R · X_store + t.

Every batched function takes and returns float64 arrays with one row per point; a point with
no answer (behind the camera, a ray parallel to the plane, seen by fewer than two cameras)
comes back as a row of NaN rather than an exception, so one bad detection never costs the
rest of its frame. Shapes that are wrong raise ValueError naming the argument.

Example::

    cam = Camera.from_calibration(load_store("configs/store.yaml").calibrations["cam1"])
    floor = cam.floor_from_image(pixels)            # (N, 2) metres on the floor
    cov = cam.floor_covariance(pixels, 2.0)         # (N, 2, 2) m², for the floor tracker
    points, residuals = triangulate([cam_a, cam_b], [wrists_a, wrists_b])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, NDArray

from walkout import _core

if TYPE_CHECKING:
    from walkout.config import CameraCalibration, Shelf

Array = NDArray[np.float64]

FLOOR_NORMAL = np.array([0.0, 0.0, 1.0])

__all__ = [
    "FLOOR_NORMAL",
    "Camera",
    "OrientedBox",
    "RayBoxHits",
    "ray_box_intersection",
    "triangulate",
]


class Camera:
    """One calibrated camera in the store frame.

    Parameters
    ----------
    K : (3, 3) intrinsics in pixels, upper triangular with K[2] = [0, 0, 1].
    dist : OpenCV distortion coefficients (0, 4, 5, 8, 12 or 14 of them; tilt terms must be 0).
    R, t : camera_from_store rotation (3, 3) and translation (3,), metres.
    image_size : (width, height) the intrinsics are for, or None when unknown.
    camera_id : the store's id of this camera, for messages.
    """

    def __init__(self, K: ArrayLike, dist: ArrayLike, R: ArrayLike, t: ArrayLike, *,
                 image_size: tuple[int, int] | None = None, camera_id: str | None = None) -> None:
        dist_array = np.asarray(dist, dtype=np.float64).reshape(-1)
        self._core = _core.PinholeCamera(np.asarray(K, dtype=np.float64), dist_array,
                                         np.asarray(R, dtype=np.float64),
                                         np.asarray(t, dtype=np.float64))
        self._dist = dist_array.copy()
        self.image_size = image_size
        self.camera_id = camera_id

    @classmethod
    def from_calibration(cls, calib: CameraCalibration,
                         image_size: tuple[int, int] | None = None) -> Camera:
        """The camera of a ``kind: camera`` calibration (it must have a pose); with
        ``image_size`` the intrinsics are rescaled to that resolution first."""
        if image_size is not None:
            calib = calib.for_image_size(*image_size)
        if calib.pose is None:
            raise ValueError(f"calib: camera '{calib.camera}' has no pose; run "
                             "`walkout calibrate extrinsics` first")
        return cls(calib.K_array(), calib.dist_array(), np.asarray(calib.pose.R, dtype=np.float64),
                   np.asarray(calib.pose.t, dtype=np.float64),
                   image_size=(int(calib.image_size[0]), int(calib.image_size[1])),
                   camera_id=calib.camera)

    # -- parameters ---------------------------------------------------------------------------

    @property
    def K(self) -> Array:
        return self._core.K

    @property
    def dist(self) -> Array:
        """The distortion coefficients as given (OpenCV order)."""
        return self._dist.copy()

    @property
    def R(self) -> Array:
        return self._core.R

    @property
    def t(self) -> Array:
        return self._core.t

    @property
    def centre(self) -> Array:
        """The camera centre in the store frame, metres (where every ray starts)."""
        return self._core.centre_in_store

    @property
    def camera_from_store(self) -> Array:
        """(4, 4) rigid transform taking store points to camera coordinates."""
        T = np.eye(4)
        T[:3, :3] = self.R
        T[:3, 3] = self.t
        return T

    @property
    def store_from_camera(self) -> Array:
        """(4, 4) rigid transform taking camera coordinates to store points."""
        T = np.eye(4)
        T[:3, :3] = self.R.T
        T[:3, 3] = self.centre
        return T

    @property
    def pinhole(self) -> _core.PinholeCamera:
        """The compiled camera, for :func:`triangulate` and other batch calls."""
        return self._core

    # -- projection -----------------------------------------------------------------------------

    def image_from_store(self, points: ArrayLike) -> Array:
        """(N, 3) store points -> (N, 2) distorted pixels; NaN behind the camera."""
        return self._core.image_from_store(_rows(points, 3, "points"))

    def undistort(self, pixels: ArrayLike) -> Array:
        """(N, 2) pixels -> (N, 2) pixels of the distortion-free image through the same K."""
        return self._core.undistort_pixels(_rows(pixels, 2, "pixels"))

    def rays_from_image(self, pixels: ArrayLike) -> Array:
        """(N, 2) pixels -> (N, 3) unit ray directions in the store frame, from :attr:`centre`."""
        return self._core.rays_from_image(_rows(pixels, 2, "pixels"))

    def floor_from_image(self, pixels: ArrayLike) -> Array:
        """(N, 2) pixels -> (N, 2) floor points (x, y) at z = 0; NaN for rays that do not
        reach the floor in front of the camera (at or above the horizon)."""
        return self._core.floor_from_image(_rows(pixels, 2, "pixels"))

    def plane_from_image(self, pixels: ArrayLike, normal: ArrayLike, offset: float) -> Array:
        """(N, 2) pixels -> (N, 3) points on the plane ``normal · X = offset`` (a shelf face,
        a height above the floor); NaN where the ray misses it in front of the camera."""
        return self._core.plane_from_image(_rows(pixels, 2, "pixels"),
                                           np.asarray(normal, dtype=np.float64), float(offset))

    def floor_homography(self) -> Array:
        """(3, 3) H with (u, v, 1) ~ H (x, y, 1): floor to *undistorted* pixels (K [r1 r2 t]).
        Undistort pixels before using its inverse; :meth:`floor_from_image` does both."""
        return self._core.floor_homography()

    def floor_covariance(self, pixels: ArrayLike, pixel_sigma: float) -> Array:
        """(N, 2) pixels -> (N, 2, 2) covariance in m² of the back-projected floor points.

        ``pixel_sigma``: standard deviation of the pixel measurement (isotropic), in pixels.
        The covariance is first order (Jacobian of the back-projection times the pixel noise):
        raising the sigma scales it by sigma²; it grows with distance and obliquity.
        """
        return self._core.floor_covariance(_rows(pixels, 2, "pixels"), float(pixel_sigma))

    def __repr__(self) -> str:
        c = self.centre
        name = f"'{self.camera_id}' " if self.camera_id else ""
        return f"Camera({name}at ({c[0]:.3f}, {c[1]:.3f}, {c[2]:.3f}) m, f={self.K[0, 0]:.1f} px)"


def triangulate(cameras: Sequence[Camera], pixels_per_camera: Sequence[ArrayLike] | ArrayLike, *,
                refine_iterations: int = 5) -> tuple[Array, Array]:
    """Store points from their pixels in two or more cameras.

    ``pixels_per_camera``: one (N, 2) array per camera (or an (M, N, 2) array), row j being
    the same point in every camera; NaN where a camera did not see it.
    ``refine_iterations``: Gauss-Newton steps on the pixel reprojection error after the
    linear DLT; 0 keeps the DLT (faster, biased under noise), more only helps near-parallel rays.

    Returns points (N, 3) in metres and residuals (N,), the RMS pixel reprojection error
    over the cameras used: a large residual means the pixels do not belong to one point
    (a mismatch between views, or a bad calibration). Points seen fewer than twice are NaN.
    """
    if len(cameras) < 2:
        raise ValueError(f"cameras: expected at least 2 cameras, got {len(cameras)}")
    stacked = np.asarray(pixels_per_camera, dtype=np.float64)
    if stacked.ndim != 3 or stacked.shape[0] != len(cameras) or stacked.shape[2] != 2:
        raise ValueError(f"pixels_per_camera: expected shape ({len(cameras)}, N, 2) (one (N, 2) "
                         f"array per camera), got {stacked.shape}")
    points, residuals, _views = _core.triangulate_views(
        [c.pinhole for c in cameras], np.ascontiguousarray(stacked),
        refine_iterations=int(refine_iterations))
    return points, residuals


@dataclass(frozen=True)
class OrientedBox:
    """A box in the store frame: centre (3,), rotation store_from_box (3, 3) whose columns are
    the box axes, half_size (3,) in metres."""

    centre: Array
    rotation: Array
    half_size: Array

    @classmethod
    def from_shelf(cls, shelf: Shelf) -> OrientedBox:
        """The shelf's box: local x along its length, y out of its front face, z up."""
        c, s = math.cos(shelf.yaw), math.sin(shelf.yaw)
        rotation = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
        centre = np.array([shelf.center[0], shelf.center[1], shelf.height / 2])
        half = np.array([shelf.length / 2, shelf.depth / 2, shelf.height / 2])
        return cls(centre, rotation, half)

    def corners(self) -> Array:
        """(8, 3) corners in the store frame; bottom four first, counter-clockwise."""
        signs = np.array([[-1, -1, -1], [1, -1, -1], [1, 1, -1], [-1, 1, -1],
                          [-1, -1, 1], [1, -1, 1], [1, 1, 1], [-1, 1, 1]], dtype=np.float64)
        return self.centre + (signs * self.half_size) @ self.rotation.T


@dataclass(frozen=True)
class RayBoxHits:
    """Where rays meet a box: hit points are origin + t · direction. ``face`` is the face
    entered through (0..5 = -x, +x, -y, +y, -z, +z of the box frame; +y is a shelf's front),
    -1 for a miss or a ray starting inside. Misses have NaN t."""

    t_enter: Array
    t_exit: Array
    face: NDArray[np.int32]

    @property
    def hit(self) -> NDArray[np.bool_]:
        return ~np.isnan(self.t_enter)


def ray_box_intersection(origins: ArrayLike, directions: ArrayLike, box: OrientedBox) -> RayBoxHits:
    """Rays (N, 3) origins and directions (need not be unit) against one oriented box.
    ``origins`` may be a single (1, 3) row for rays that share it (a camera's centre with
    :meth:`Camera.rays_from_image`)."""
    origins_a = _rows(origins, 3, "origins")
    directions_a = _rows(directions, 3, "directions")
    if origins_a.shape[0] != directions_a.shape[0] and origins_a.shape[0] == 1:
        origins_a = np.ascontiguousarray(np.broadcast_to(origins_a, directions_a.shape))
    t_enter, t_exit, face = _core.intersect_rays_oriented_box(
        origins_a, directions_a, np.asarray(box.centre, dtype=np.float64),
        np.asarray(box.rotation, dtype=np.float64), np.asarray(box.half_size, dtype=np.float64))
    return RayBoxHits(t_enter, t_exit, face)


def _rows(values: ArrayLike, width: int, name: str) -> Array:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != width:
        raise ValueError(f"{name}: expected shape (N, {width}), got {array.shape}")
    return np.ascontiguousarray(array)
