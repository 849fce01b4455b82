"""Readable numpy twins of the simulator's rasteriser (cpp/src/sim/raster.cpp).

Same arithmetic in the same order as the C++ (float64 throughout, depth stored as float32), so
the property tests can ask for exact agreement.
"""

from __future__ import annotations

import numpy as np


def draw_capsules(image: np.ndarray, depth: np.ndarray, labels: np.ndarray | None,
                  capsules: np.ndarray, colours: np.ndarray, ids: np.ndarray) -> None:
    """In place, like ``walkout._core.sim_draw_capsules``: one capsule at a time, vectorised
    over the pixels of its bounding box."""
    height, width = depth.shape
    for row, colour, ident in zip(np.asarray(capsules, np.float64), colours, ids, strict=False):
        u0, v0, z0, r0, w0, u1, v1, z1, r1, w1 = row
        if not (r0 > 0 and r1 > 0 and z0 > 0 and z1 > 0):
            continue
        rmax = max(r0, r1)
        bx0, bx1 = np.floor(min(u0, u1) - rmax), np.ceil(max(u0, u1) + rmax)
        by0, by1 = np.floor(min(v0, v1) - rmax), np.ceil(max(v0, v1) + rmax)
        if not (bx1 >= 0 and by1 >= 0 and bx0 <= width - 1.0 and by0 <= height - 1.0):
            continue
        xs = np.arange(int(max(bx0, 0)), int(min(bx1, width - 1.0)) + 1)
        ys = np.arange(int(max(by0, 0)), int(min(by1, height - 1.0)) + 1)
        px = xs[None, :].astype(np.float64) - u0
        py = ys[:, None].astype(np.float64) - v0
        du, dv = u1 - u0, v1 - v0
        len2 = du * du + dv * dv
        t = (px * du + py * dv) / len2 if len2 > 0 else np.zeros_like(px * py)
        t = np.clip(t, 0.0, 1.0)
        ex, ey = px - t * du, py - t * dv
        d2 = ex * ex + ey * ey
        r = r0 + t * (r1 - r0)
        inside = d2 < r * r
        q = np.sqrt(np.where(inside, 1.0 - d2 / (r * r), 0.0))
        z = (z0 + t * (z1 - z0)) - (w0 + t * (w1 - w0)) * q
        window = np.ix_(ys, xs)
        wins = inside & (z < depth[window].astype(np.float64))
        shade = 0.5 + 0.5 * q
        drawn = np.floor(colour[None, None, :].astype(np.float64) * shade[..., None] + 0.5)
        sub_depth = depth[window]
        sub_depth[wins] = z[wins].astype(np.float32)
        depth[window] = sub_depth
        sub_image = image[window]
        sub_image[wins] = drawn[wins].astype(np.uint8)
        image[window] = sub_image
        if labels is not None:
            sub_labels = labels[window]
            sub_labels[wins] = ident
            labels[window] = sub_labels


def label_boxes(labels: np.ndarray, n: int) -> np.ndarray:
    """Like ``walkout._core.sim_label_boxes``: per label its inclusive pixel bounds and count."""
    out = np.tile(np.array([-1, -1, -1, -1, 0], np.int32), (n, 1))
    for label in range(n):
        ys, xs = np.nonzero(labels == label)
        if len(xs):
            out[label] = (xs.min(), ys.min(), xs.max(), ys.max(), len(xs))
    return out


def silhouette_areas(height: int, width: int, capsules: np.ndarray, ids: np.ndarray,
                     n_ids: int) -> np.ndarray:
    """Like ``walkout._core.sim_silhouette_areas``: draw each id's capsules alone into an empty
    image (infinite depth, so every inside pixel is drawn) and count its pixels."""
    out = np.zeros(n_ids, np.int64)
    capsules = np.asarray(capsules, np.float64).reshape(-1, 10)
    for ident in range(n_ids):
        mine = np.asarray(ids) == ident
        labels = np.full((height, width), -1, np.int32)
        draw_capsules(np.zeros((height, width, 3), np.uint8), np.full((height, width), np.inf, np.float32),
                      labels, capsules[mine], np.zeros((int(mine.sum()), 3), np.uint8),
                      np.full(int(mine.sum()), ident, np.int32))
        out[ident] = int((labels == ident).sum())
    return out
