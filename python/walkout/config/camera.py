"""``kind: camera``: one camera's calibration, as written by ``walkout calibrate``.

The OpenCV pinhole model: intrinsics K (pixel centres at integer coordinates), distortion
coefficients in OpenCV's order, and the pose in the store frame with
``x_cam = R · X_store + t`` (so R, t is ``camera_from_store``).
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from walkout.config.base import Identifier, NonNegativeFloat, Size2, StrictModel

Matrix3 = Annotated[
    tuple[tuple[float, float, float], tuple[float, float, float], tuple[float, float, float]],
    Field(description="3x3 matrix, row by row"),
]


class CameraPose(StrictModel):
    """Where the camera is: camera_from_store, x_cam = R · X_store + t (metres)."""

    R: Matrix3 = Field(description="rotation camera_from_store (orthonormal, det +1)")
    t: tuple[float, float, float] = Field(description="translation camera_from_store, metres")

    @field_validator("R")
    @classmethod
    def _rotation(cls, value: Matrix3) -> Matrix3:
        r = np.asarray(value, dtype=np.float64)
        if not np.allclose(r @ r.T, np.eye(3), atol=1e-6):
            raise ValueError("R must be orthonormal (R·Rᵀ = I within 1e-6)")
        if np.linalg.det(r) < 0:
            raise ValueError("R must be a proper rotation (det +1), got a reflection")
        return value

    def centre_in_store(self) -> np.ndarray:
        """The camera centre in the store frame: -Rᵀ t."""
        r = np.asarray(self.R, dtype=np.float64)
        return -r.T @ np.asarray(self.t, dtype=np.float64)


class CalibrationErrors(StrictModel):
    """How well the calibration fits, as measured by ``walkout calibrate``."""

    rms_px: NonNegativeFloat | None = Field(None, description="RMS reprojection error of the fit")
    cross_validated_px: NonNegativeFloat | None = Field(
        None, description="RMS error on images held out of the fit"
    )
    extrinsics_rms_px: NonNegativeFloat | None = Field(
        None, description="RMS reprojection error of the floor points used for the pose"
    )


class CameraCalibration(StrictModel):
    kind: Literal["camera"]
    camera: Identifier = Field(description="the camera id, as in the store file")
    image_size: Size2 = Field(description="(width, height) of the images the calibration is for")
    K: Matrix3 = Field(description="intrinsics [[fx, 0, cx], [0, fy, cy], [0, 0, 1]] in pixels")
    dist: list[float] = Field(
        default_factory=list,
        description="OpenCV distortion coefficients: 0, 4, 5, 8, 12 or 14 values "
        "(k1 k2 p1 p2 [k3 [k4 k5 k6 [s1 s2 s3 s4 [tx ty]]]])",
    )
    pose: CameraPose | None = Field(
        None, description="camera_from_store pose; absent until `walkout calibrate extrinsics`"
    )
    errors: CalibrationErrors = Field(default_factory=CalibrationErrors)

    @field_validator("image_size")
    @classmethod
    def _size(cls, value: Size2) -> Size2:
        if value[0] <= 0 or value[1] <= 0:
            raise ValueError("image_size must be positive (width, height)")
        return value

    @field_validator("dist")
    @classmethod
    def _dist(cls, value: list[float]) -> list[float]:
        if len(value) not in (0, 4, 5, 8, 12, 14):
            raise ValueError(
                f"dist must have 0, 4, 5, 8, 12 or 14 coefficients (OpenCV), got {len(value)}"
            )
        return value

    @model_validator(mode="after")
    def _intrinsics(self) -> CameraCalibration:
        k = np.asarray(self.K, dtype=np.float64)
        if k[0, 0] <= 0 or k[1, 1] <= 0:
            raise ValueError("K: focal lengths fx = K[0][0] and fy = K[1][1] must be positive")
        if k[1, 0] != 0 or k[2, 0] != 0 or k[2, 1] != 0 or k[2, 2] != 1:
            raise ValueError("K must be upper triangular with K[2] = [0, 0, 1]")
        return self

    def for_image_size(self, width: int, height: int) -> CameraCalibration:
        """The same camera delivering (width, height) pixels instead of ``image_size``: same
        aspect ratio required. With pixel centres at integer coordinates, u' = s(u + ½) − ½."""
        w0, h0 = self.image_size
        if (width, height) == (w0, h0):
            return self
        if abs(width * h0 - height * w0) > max(w0, h0) * 1e-9 + 0.5 * max(width, height):
            raise ValueError(
                f"camera '{self.camera}': {width}x{height} has another aspect ratio than the "
                f"calibrated {w0}x{h0}; recalibrate at that resolution"
            )
        sx, sy = width / w0, height / h0
        k = self.K_array()
        scaled = np.array(
            [
                [k[0, 0] * sx, k[0, 1] * sx, sx * (k[0, 2] + 0.5) - 0.5],
                [0.0, k[1, 1] * sy, sy * (k[1, 2] + 0.5) - 0.5],
                [0.0, 0.0, 1.0],
            ]
        )
        return self.model_copy(
            update={
                "image_size": (width, height),
                "K": tuple(tuple(float(v) for v in row) for row in scaled),
            }
        )

    def K_array(self) -> np.ndarray:
        return np.asarray(self.K, dtype=np.float64)

    def dist_array(self) -> np.ndarray:
        return np.asarray(self.dist, dtype=np.float64)
