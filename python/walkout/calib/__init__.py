"""Camera calibration for a field engineer: intrinsics from chessboard photos, the pose in the
store frame from measured floor marks, and a visual check against the store plan.

The ``walkout calibrate`` CLI (walkout/cli/calibrate.py) is a thin shell over these modules:

- :mod:`walkout.calib.chessboard`: finding the board in each photo.
- :mod:`walkout.calib.intrinsics`: calibration, distortion-model choice by nested
  cross-validation, rejection of bad photos.
- :mod:`walkout.calib.selection`: the rule: the plain model unless another clearly beats it.
- :mod:`walkout.calib.lenses`: synthetic cameras with known lenses, a test bed for the choice.
- :mod:`walkout.calib.extrinsics`: camera pose from image points matched to store points.
- :mod:`walkout.calib.overlay`: the store plan drawn through a calibration onto an image.
- :mod:`walkout.calib.calibration_file`: writing ``kind: camera`` files atomically.
"""

from walkout.calib.calibration_file import write_calibration
from walkout.calib.chessboard import BoardView, Rejection, board_points, find_boards
from walkout.calib.extrinsics import PoseResult, read_point_pairs, solve_pose
from walkout.calib.intrinsics import (
    DISTORTION_MODELS,
    DistortionModel,
    IntrinsicsResult,
    ModelFit,
    calibrate_intrinsics,
    interleaved_folds,
)

__all__ = [
    "DISTORTION_MODELS",
    "BoardView",
    "DistortionModel",
    "IntrinsicsResult",
    "ModelFit",
    "PoseResult",
    "Rejection",
    "board_points",
    "calibrate_intrinsics",
    "find_boards",
    "interleaved_folds",
    "read_point_pairs",
    "solve_pose",
    "write_calibration",
]
