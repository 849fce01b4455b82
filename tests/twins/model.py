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


def bilinear_border(image: np.ndarray, x: float, y: float) -> np.ndarray:
    """Bilinear sample of a (C, H, W) map at pixel-centre coordinates (x, y), coordinates
    clamped into the map (torch's grid_sample with padding_mode="border")."""
    _, h, w = image.shape
    x = min(max(x, 0.0), w - 1.0)
    y = min(max(y, 0.0), h - 1.0)
    x0, y0 = int(np.floor(x)), int(np.floor(y))
    x1, y1 = min(x0 + 1, w - 1), min(y0 + 1, h - 1)
    fx, fy = x - x0, y - y0
    return ((1 - fx) * (1 - fy) * image[:, y0, x0] + fx * (1 - fy) * image[:, y0, x1]
            + (1 - fx) * fy * image[:, y1, x0] + fx * fy * image[:, y1, x1])


def refine(fine: np.ndarray, kxy: np.ndarray, w1: np.ndarray, b1: np.ndarray, w2: np.ndarray,
           b2: np.ndarray, fine_stride: int, unit_px: float) -> np.ndarray:
    """Keypoint refinement like ``detector_net.PoseNet.refine``, one keypoint at a time.

    fine (B, F, Hf, Wf): the stride-``fine_stride`` map; kxy (B, K, 2, P): coarse keypoints in
    input pixels. Keypoint k of anchor p reads ``fine`` where it lies (input pixel x maps to
    map coordinate x / stride - 0.5, since map cell j covers input pixels [stride·j,
    stride·(j+1))), then keypoint k's own MLP: hidden = SiLU(w1[k] f + b1[k]), correction =
    w2[k] hidden + b2[k], in units of ``unit_px``. w1 (K·Hid, F), w2 (K·2, Hid).
    """
    b, k, _, p = kxy.shape
    hid = w1.shape[0] // k
    out = kxy.astype(np.float64).copy()
    for i in range(b):
        for kk in range(k):
            wa, ba = w1[kk * hid:(kk + 1) * hid], b1[kk * hid:(kk + 1) * hid]
            wb, bb = w2[kk * 2:(kk + 1) * 2], b2[kk * 2:(kk + 1) * 2]
            for j in range(p):
                x, y = kxy[i, kk, :, j]
                f = bilinear_border(fine[i].astype(np.float64), x / fine_stride - 0.5, y / fine_stride - 0.5)
                z = wa @ f + ba
                hidden = z / (1.0 + np.exp(-z))
                out[i, kk, :, j] += (wb @ hidden + bb) * unit_px
    return out


def refine_window(fine: np.ndarray, kxy: np.ndarray, proj_w: np.ndarray, proj_b: np.ndarray,
                  w1: np.ndarray, b1: np.ndarray, w2: np.ndarray, b2: np.ndarray,
                  fine_stride: int, unit_px: float, taps: int, tap_px: float) -> np.ndarray:
    """The second refinement step like ``detector_net.PoseNet.refine_window``, one keypoint
    and one tap at a time.

    Keypoint k of anchor p at (x, y) reads every channel of ``fine`` (B, F, Hf, Wf) at (x, y),
    then the projected map ``proj_w @ fine + proj_b`` (G channels) at each point of a
    ``taps`` x ``taps`` grid ``tap_px`` apart centred on (x, y), row by row (dy outer, dx
    inner); its features are [the F centre channels, then window channel g at tap t for g, t
    in that order]. Keypoint k's MLP as in ``refine``: w1 (K·Hid, F + G·taps²), w2 (K·2, Hid).
    """
    b, k, _, p = kxy.shape
    hid = w1.shape[0] // k
    half = taps // 2
    offsets = [(dx * tap_px, dy * tap_px) for dy in range(-half, half + 1) for dx in range(-half, half + 1)]
    out = kxy.astype(np.float64).copy()
    for i in range(b):
        image = fine[i].astype(np.float64)
        projected = np.einsum("gf,fhw->ghw", proj_w.astype(np.float64), image) + proj_b[:, None, None]
        for kk in range(k):
            wa, ba = w1[kk * hid:(kk + 1) * hid], b1[kk * hid:(kk + 1) * hid]
            wb, bb = w2[kk * 2:(kk + 1) * 2], b2[kk * 2:(kk + 1) * 2]
            for j in range(p):
                x, y = kxy[i, kk, :, j]
                centre = bilinear_border(image, x / fine_stride - 0.5, y / fine_stride - 0.5)
                window = np.stack([bilinear_border(projected, (x + dx) / fine_stride - 0.5,
                                                   (y + dy) / fine_stride - 0.5)
                                   for dx, dy in offsets], axis=1)  # (G, taps²)
                f = np.concatenate([centre, window.reshape(-1)])
                z = wa @ f + ba
                hidden = z / (1.0 + np.exp(-z))
                out[i, kk, :, j] += (wb @ hidden + bb) * unit_px
    return out
