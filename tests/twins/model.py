"""Readable numpy twins of the shipped detector's training code (models/).

The exported graph and the target assignment are written in batched torch for speed; these
twins say the same thing one cell and one person at a time, so the property tests can check
that the fast versions mean what their docstrings claim.
"""

from __future__ import annotations

import numpy as np

NUM_KEYPOINTS = 17


def softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def decode_level(raw: np.ndarray, stride: int) -> np.ndarray:
    """One level's raw head output (B, 5 + 3K, H, W) -> (B, 5 + 3K, H*W) in the YOLOv8-pose
    layout, like ``detector_net.decode_level``: cell by cell, row-major."""
    b, c, h, w = raw.shape
    out = np.zeros((b, c, h * w), dtype=np.float64)
    for i in range(b):
        for y in range(h):
            for x in range(w):
                cell = raw[i, :, y, x].astype(np.float64)
                cx, cy = (x + 0.5) * stride, (y + 0.5) * stride
                left, top, right, bottom = softplus(cell[0:4]) * stride
                x1, y1, x2, y2 = cx - left, cy - top, cx + right, cy + bottom
                column = [(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1, sigmoid(cell[4])]
                for k in range(NUM_KEYPOINTS):
                    dx, dy, v = cell[5 + 3 * k: 8 + 3 * k]
                    column += [cx + dx * stride, cy + dy * stride, sigmoid(v)]
                out[i, :, y * w + x] = column
    return out


def assign(boxes: np.ndarray, centres: np.ndarray, strides: np.ndarray, levels: np.ndarray,
           level_ranges: tuple[tuple[float, float], ...], radius: float = 2.5) -> np.ndarray:
    """Owner person of each anchor (-1 = background), like ``detector_loss.assign``: an anchor
    learns the smallest-area person whose box strictly contains its centre, whose box centre is
    within ``radius`` strides on both axes, and whose larger side suits the anchor's level."""
    owner = np.full(len(centres), -1, dtype=np.int64)
    for a, ((cx, cy), stride, level) in enumerate(zip(centres, strides, levels, strict=True)):
        lo, hi = level_ranges[int(level)]
        best_area = np.inf
        for m, (x1, y1, x2, y2) in enumerate(boxes):
            inside = x1 < cx < x2 and y1 < cy < y2
            near = abs(cx - (x1 + x2) / 2) < radius * stride and abs(cy - (y1 + y2) / 2) < radius * stride
            size = max(x2 - x1, y2 - y1)
            area = (x2 - x1) * (y2 - y1)
            if inside and near and lo <= size <= hi and area < best_area:
                best_area, owner[a] = area, m
    return owner
