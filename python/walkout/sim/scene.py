"""The static scene as one camera sees it, computed once per camera by casting a ray through
every pixel: floor tiles with the gate zones marked, walls and ceiling, and the shelves with
their products. Gives the colour image and the depth buffer (camera z, metres) that people
are then drawn into with a per-pixel depth test.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import cv2
import numpy as np

from walkout.config import Shelf
from walkout.sim.world import SimCamera, World

CEILING_M = 3.2  # store ceiling height; only matters for pixels that look above the walls
_LIGHT = np.array([0.3, 0.2, 0.93])  # main light direction (towards the light), store frame


def product_colour(sku: str) -> np.ndarray:
    """A stable, saturated RGB colour per SKU (packaging colour)."""
    digest = hashlib.sha1(sku.encode()).digest()
    hsv = np.uint8([[[digest[0] % 180, 150 + digest[1] % 100, 150 + digest[2] % 100]]])
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float64)


def rows_times(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """points (N, 3) @ matrix.T without BLAS: on a busy shared machine a threaded BLAS spins
    for a (N, 3) x (3, 3) product far longer than these three multiply-adds take."""
    return (points[:, 0:1] * matrix[:, 0] + points[:, 1:2] * matrix[:, 1]
            + points[:, 2:3] * matrix[:, 2])


def _rays(camera: SimCamera) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel the store-frame ray direction scaled so that its camera z is 1."""
    u, v = np.meshgrid(np.arange(camera.width, dtype=np.float64),
                       np.arange(camera.height, dtype=np.float64))
    pix = np.stack([u, v], -1).reshape(-1, 1, 2)
    norm = cv2.undistortPoints(pix, camera.K, camera.dist).reshape(-1, 2)
    d_cam = np.concatenate([norm, np.ones((len(norm), 1))], 1)
    return camera.centre(), rows_times(d_cam, camera.R.T)  # R^T d, row-wise


def render_static(world: World, camera: SimCamera) -> tuple[np.ndarray, np.ndarray]:
    """(H, W, 3) uint8 RGB image and (H, W) float32 depth of the empty store."""
    origin, d = _rays(camera)
    n = len(d)
    best = np.full(n, np.inf)
    colour = np.zeros((n, 3))
    normal = np.zeros((n, 3))
    W, D = world.width, world.depth

    def take(s: np.ndarray, rgb: np.ndarray, nrm: np.ndarray) -> None:
        hit = (s > 1e-6) & (s < best)
        best[hit] = s[hit]
        colour[hit] = rgb[hit] if rgb.ndim == 2 else rgb
        normal[hit] = nrm[hit] if nrm.ndim == 2 else nrm

    with np.errstate(divide="ignore", invalid="ignore"):
        # Floor: 50 cm tiles, gate zones tinted.
        s = -origin[2] / d[:, 2]
        p = origin + s[:, None] * d
        inside = (p[:, 0] >= 0) & (p[:, 0] <= W) & (p[:, 1] >= 0) & (p[:, 1] <= D)
        tile = ((np.floor(p[:, 0] / 0.5) + np.floor(p[:, 1] / 0.5)) % 2)[:, None]
        rgb = 176 + 14 * tile + np.zeros((n, 3))
        grout = (np.minimum(np.abs(p[:, 0] / 0.5 - np.round(p[:, 0] / 0.5)),
                            np.abs(p[:, 1] / 0.5 - np.round(p[:, 1] / 0.5))) < 0.03)
        rgb[grout] = 130
        for gate in world.store.gates:
            zone = np.asarray(gate.zone)
            in_zone = ((p[:, 0] >= zone[:, 0].min()) & (p[:, 0] <= zone[:, 0].max())
                       & (p[:, 1] >= zone[:, 1].min()) & (p[:, 1] <= zone[:, 1].max()))
            tint = np.array([90, 170, 100]) if gate.kind == "entry" else np.array([190, 90, 80])
            rgb[in_zone] = 0.5 * rgb[in_zone] + 0.5 * tint
        take(np.where(inside, s, np.inf), rgb, np.array([0.0, 0.0, 1.0]))
        # Walls and ceiling.
        for axis, value, nrm in ((0, 0.0, (1, 0, 0)), (0, W, (-1, 0, 0)), (1, 0.0, (0, 1, 0)),
                                 (1, D, (0, -1, 0))):
            s = (value - origin[axis]) / d[:, axis]
            p = origin + s[:, None] * d
            other = 1 - axis
            ok = (p[:, 2] >= 0) & (p[:, 2] <= CEILING_M) & (p[:, other] >= 0) & (
                p[:, other] <= (D if other == 1 else W))
            rgb = np.array([222, 214, 196]) - (p[:, 2:3] < 0.12) * 90.0
            take(np.where(ok, s, np.inf), rgb + np.zeros((n, 3)), np.array(nrm, np.float64))
        s = (CEILING_M - origin[2]) / d[:, 2]
        take(s, np.array([235.0, 235.0, 232.0]), np.array([0.0, 0.0, -1.0]))
        # Shelves: oriented boxes (slab test in each shelf's frame).
        for shelf in world.store.shelves:
            _shelf(world, shelf, origin, d, take, n)

    shade = 0.55 + 0.45 * np.clip(rows_times(normal, _LIGHT[None])[:, 0], 0.0, 1.0)
    image = colour * shade[:, None]
    image = image.reshape(camera.height, camera.width, 3)
    # Lens vignetting: corners a little darker.
    yy, xx = np.mgrid[0:camera.height, 0:camera.width]
    r2 = ((xx - camera.width / 2) / camera.width) ** 2 + ((yy - camera.height / 2) / camera.height) ** 2
    image *= (1.0 - 0.35 * r2)[..., None]
    depth = best.reshape(camera.height, camera.width).astype(np.float32)
    return np.clip(image + 0.5, 0, 255).astype(np.uint8), np.minimum(depth, 1e6).astype(np.float32)


def _shelf(world: World, shelf: Shelf, origin: np.ndarray, d: np.ndarray,
           take: Callable[[np.ndarray, np.ndarray, np.ndarray], None], n: int) -> None:
    along, front = shelf.axes()
    A = np.array([[along[0], along[1], 0.0], [front[0], front[1], 0.0], [0.0, 0.0, 1.0]])
    o = A @ (origin - np.array([shelf.center[0], shelf.center[1], 0.0]))
    dl = rows_times(d, A)
    lo = np.array([-shelf.length / 2, -shelf.depth / 2, 0.0])
    hi = np.array([shelf.length / 2, shelf.depth / 2, shelf.height])
    t1 = (lo - o) / dl
    t2 = (hi - o) / dl
    tmin = np.minimum(t1, t2)
    tmax = np.maximum(t1, t2)
    near = np.nanmax(tmin, axis=1)
    far = np.nanmin(tmax, axis=1)
    hit = (near <= far) & (far > 0) & (near > 0)
    idx = np.nonzero(hit)[0]
    if len(idx) == 0:
        return
    axis = np.argmax(np.where(np.isnan(tmin[idx]), -np.inf, tmin[idx]), axis=1)
    p = o + near[idx, None] * dl[idx]
    m = len(idx)
    rgb = np.tile(np.array([120.0, 124.0, 130.0]), (m, 1))  # metal grey sides and top
    nrm_local = np.zeros((m, 3))
    sign = np.sign(-dl[idx, axis])
    nrm_local[np.arange(m), axis] = sign
    open_faces = {"front": 1.0, "back": -1.0}
    row_h = (shelf.height - shelf.base_height) / shelf.rows
    col_w = shelf.length / shelf.cols
    level = (p[:, 2] - shelf.base_height) / row_h
    row = np.floor(level)
    across = (p[:, 0] + shelf.length / 2) / col_w
    col = np.floor(across)
    for face in shelf.faces:
        on = (axis == 1) & (sign == open_faces[face])
        # Back panel of the open face is dark; products stand in front of it in facings.
        rgb[on] = (70, 70, 74)
        for slot in shelf.slots:
            if slot.face != face:
                continue
            facing = ((across - slot.col) * 10) % 1 > 0.12
            height_in = level - slot.row
            product = on & (row == slot.row) & (col == slot.col) & facing & (height_in > 0.08) & (height_in < 0.75)
            rgb[product] = product_colour(slot.product)
        rgb[on & (level % 1 < 0.06)] = (200, 200, 205)  # shelf boards
    full_rgb = np.zeros((n, 3))
    full_rgb[idx] = rgb
    full_normal = np.zeros((n, 3))
    full_normal[idx] = rows_times(nrm_local, A.T)  # back to the store frame
    take(np.where(hit, near, np.inf), full_rgb, full_normal)
