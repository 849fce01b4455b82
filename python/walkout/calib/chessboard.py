"""Chessboard corners in calibration photos.

OpenCV's classic detector (``findChessboardCorners``) refined by ``cornerSubPix`` is tried
first; where it does not find the board, the sector-based detector (``findChessboardCornersSB``,
Duda & Frese 2018) is tried, which copes better with blur, noise and uneven light and returns
sub-pixel corners of its own. On boards both find, the classic pair is kept: its corners are
what the plain recipe uses, so model selection compares like with like.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

# A board whose corner hull covers less of the frame than this says little about the lens
# (its corners are all near one point of the image, and it mostly constrains the pose).
# Raising it rejects distant boards; lowering it keeps them at the cost of noisy photos.
MIN_BOARD_FRACTION = 0.01

_SUBPIX_CRITERIA = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 30, 0.001)


@dataclass(frozen=True)
class BoardView:
    """One photo in which the board was found."""

    path: Path
    corners: np.ndarray  # (cols * rows, 2) float32, row by row as OpenCV orders them
    detector: str  # "classic" or "sector"
    square_px: float  # median distance between neighbouring corners, pixels
    board_fraction: float  # area of the corners' convex hull / image area


@dataclass(frozen=True)
class Rejection:
    path: Path
    reason: str


def board_points(pattern: tuple[int, int], square: float) -> np.ndarray:
    """(cols * rows, 3) float32 corner positions on the board plane (z = 0), in OpenCV's
    order: along a row first. ``pattern`` counts inner corners (cols, rows)."""
    cols, rows = pattern
    grid = np.mgrid[0:cols, 0:rows].T.reshape(-1, 2).astype(np.float32) * np.float32(square)
    return np.column_stack([grid, np.zeros(len(grid), np.float32)])


def median_square_px(corners: np.ndarray, pattern: tuple[int, int]) -> float:
    cols, rows = pattern
    grid = corners.reshape(rows, cols, 2)
    steps = np.concatenate([np.linalg.norm(np.diff(grid, axis=1), axis=2).ravel(),
                            np.linalg.norm(np.diff(grid, axis=0), axis=2).ravel()])
    return float(np.median(steps))


def subpix_window(square_px: float) -> int:
    """Half-size of the cornerSubPix window: OpenCV's usual 11, shrunk for small squares so the
    window never reaches the neighbouring corners (whose edges would pull the estimate)."""
    return int(min(11, max(3, int(square_px / 2) - 1)))


def detect_board(gray: np.ndarray, pattern: tuple[int, int]) -> tuple[np.ndarray, str] | None:
    """Corners (N, 2) float32 and the detector that found them, or None."""
    found, corners = cv2.findChessboardCorners(
        gray, pattern, flags=cv2.CALIB_CB_ADAPTIVE_THRESH | cv2.CALIB_CB_NORMALIZE_IMAGE)
    if found:
        corners = corners.reshape(-1, 1, 2).astype(np.float32)
        half = subpix_window(median_square_px(corners.reshape(-1, 2), pattern))
        corners = cv2.cornerSubPix(gray, corners, (half, half), (-1, -1), _SUBPIX_CRITERIA)
        return corners.reshape(-1, 2), "classic"
    found, corners = cv2.findChessboardCornersSB(
        gray, pattern, flags=cv2.CALIB_CB_NORMALIZE_IMAGE | cv2.CALIB_CB_EXHAUSTIVE | cv2.CALIB_CB_ACCURACY)
    if found:
        return corners.reshape(-1, 2).astype(np.float32), "sector"
    return None


def find_boards(paths: Iterable[Path], pattern: tuple[int, int], *,
                min_board_fraction: float = MIN_BOARD_FRACTION,
                progress: Callable[[Path], None] | None = None,
                ) -> tuple[list[BoardView], list[Rejection], tuple[int, int]]:
    """Finds the board in every photo. Returns the views, the rejected photos with their
    reason, and the image size (width, height). Raises ValueError when no photo can be read
    or photos differ in size (one calibration is for one resolution)."""
    views: list[BoardView] = []
    rejections: list[Rejection] = []
    size: tuple[int, int] | None = None
    for path in paths:
        gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if progress:
            progress(path)
        if gray is None:
            rejections.append(Rejection(path, "cannot be read as an image"))
            continue
        this_size = (gray.shape[1], gray.shape[0])
        if size is None:
            size = this_size
        elif this_size != size:
            raise ValueError(f"{path}: image is {this_size[0]}x{this_size[1]}, the others are "
                             f"{size[0]}x{size[1]}; calibrate one resolution at a time")
        found = detect_board(gray, pattern)
        if found is None:
            rejections.append(Rejection(path, f"board not found ({pattern[0]}x{pattern[1]} inner corners)"))
            continue
        corners, detector = found
        hull = cv2.convexHull(corners.reshape(-1, 1, 2))
        fraction = float(cv2.contourArea(hull)) / (this_size[0] * this_size[1])
        if fraction < min_board_fraction:
            rejections.append(Rejection(path, f"too little coverage of the frame: the board fills "
                                        f"{100 * fraction:.2f} % of it (< {100 * min_board_fraction:.1f} %)"))
            continue
        views.append(BoardView(Path(path), corners, detector, median_square_px(corners, pattern), fraction))
    if size is None:
        raise ValueError("images: none of the files could be read as an image")
    return views, rejections, size


def frame_coverage(views: Iterable[BoardView], image_size: tuple[int, int],
                   cells: tuple[int, int] = (8, 6)) -> float:
    """Fraction of an 8 x 6 grid over the frame that has at least one board corner: where it
    is low, the distortion far from the boards is an extrapolation."""
    width, height = image_size
    hit = np.zeros((cells[1], cells[0]), dtype=bool)
    for view in views:
        cx = np.clip((view.corners[:, 0] / width * cells[0]).astype(int), 0, cells[0] - 1)
        cy = np.clip((view.corners[:, 1] / height * cells[1]).astype(int), 0, cells[1] - 1)
        hit[cy, cx] = True
    return float(hit.mean())
