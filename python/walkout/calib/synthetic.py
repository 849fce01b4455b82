"""Chessboard photos rendered through a known camera: calibration checked against the truth.

Each output pixel's ray (through the lens distortion, via :class:`walkout.geometry.Camera`)
is intersected with the board plane and coloured by the square it lands in, 2 x 2 samples
per pixel for anti-aliased edges, then blurred and noised a little like a real sensor. The
board frame is the "store" frame here: the board lies on z = 0 with inner corner (i, j) at
(i · square, j · square), as :func:`walkout.calib.chessboard.board_points` numbers them.
"""

from __future__ import annotations

import cv2
import numpy as np

from walkout.geometry import Camera

PAPER, INK, BACKGROUND = 235.0, 25.0, 120.0


def render_chessboard(cam: Camera, image_size: tuple[int, int], pattern: tuple[int, int],
                      square: float, *, noise: float = 2.0, seed: int = 0) -> np.ndarray:
    """A uint8 grey image of a board with ``pattern`` inner corners seen by ``cam``, printed
    with one square of white margin, on a mid-grey background."""
    width, height = image_size
    cols, rows = pattern
    offsets = (np.arange(2) - 0.5) / 2.0
    u, v = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
    total = np.zeros((height, width))
    for du in offsets:
        for dv in offsets:
            pixels = np.column_stack([(u + du).ravel(), (v + dv).ravel()])
            board = cam.plane_from_image(pixels, [0.0, 0.0, 1.0], 0.0)[:, :2] / square
            i, j = np.floor(board[:, 0]), np.floor(board[:, 1])
            on_squares = (i >= -1) & (i <= cols - 1) & (j >= -1) & (j <= rows - 1)
            on_paper = (board[:, 0] >= -2) & (board[:, 0] <= cols + 1) & (board[:, 1] >= -2) & (board[:, 1] <= rows + 1)
            value = np.where(on_paper, PAPER, BACKGROUND)
            value = np.where(on_squares & ((i + j) % 2 == 0), INK, value)
            value[np.isnan(board[:, 0])] = BACKGROUND
            total += value.reshape(height, width)
    image = cv2.GaussianBlur(total / 4.0, (0, 0), 0.6)
    image += np.random.default_rng(seed).normal(0.0, noise, image.shape)
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def board_views(n: int, pattern: tuple[int, int], square: float, *, seed: int = 0,
                distance: tuple[float, float] = (1.1, 1.6)) -> list[tuple[np.ndarray, np.ndarray]]:
    """``n`` camera poses (R, t: camera_from_board) looking at the board from varied angles
    (tilts up to ~45°) and distances (in units where the board is ``square`` per square),
    aimed at points spread over the board so its corners reach the edges of the frame."""
    rng = np.random.default_rng(seed)
    cols, rows = pattern
    centre = np.array([(cols - 1) * square / 2, (rows - 1) * square / 2, 0.0])
    extent = max(cols, rows) * square
    poses = []
    for _ in range(n):
        tilt = rng.uniform(0.0, np.radians(45))
        heading = rng.uniform(-np.pi, np.pi)
        dist = rng.uniform(*distance) * extent * 1.6
        eye = centre + dist * np.array([np.sin(tilt) * np.cos(heading), np.sin(tilt) * np.sin(heading),
                                        np.cos(tilt)])
        target = centre + np.array([rng.uniform(-0.25, 0.25) * cols * square,
                                    rng.uniform(-0.25, 0.25) * rows * square, 0.0])
        forward = target - eye
        forward /= np.linalg.norm(forward)
        helper = np.array([0.0, 1.0, 0.0])
        right = np.cross(forward, helper)
        right /= np.linalg.norm(right)
        down = np.cross(forward, right)
        R = np.stack([right, down, forward])
        roll = rng.uniform(-0.4, 0.4)
        c, s = np.cos(roll), np.sin(roll)
        R = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]) @ R
        poses.append((R, -R @ eye))
    return poses
