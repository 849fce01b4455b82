"""The store plan drawn onto a camera image through its calibration (``walkout calibrate
check``): the floor grid, the floor's border, shelves as boxes (front faces marked) and
gates. If the lines sit on the tiles, shelf edges and tape, the calibration is right; a
person sees a wrong one at a glance. The numbers printed with it say what the camera covers.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from walkout.config import Store
from walkout.geometry import Camera, OrientedBox

# Colours are BGR, as OpenCV draws.
GRID = (200, 200, 200)
BORDER = (255, 255, 255)
SHELF = (255, 160, 0)
FRONT = (0, 220, 255)
ENTRY = (0, 200, 0)
EXIT = (0, 0, 230)

# Lines are drawn as polylines through points this far apart on the floor (metres), so that
# lens distortion bends them as it bends the real tape lines.
STEP_M = 0.05


@dataclass(frozen=True)
class CoverageReport:
    visible_floor_fraction: float  # of the store floor, seen by this camera
    visible_floor_m2: float
    metres_per_pixel_centre: float  # floor distance one pixel spans at the image centre
    floor_sigma_centre_m: float  # sqrt of the largest eigenvalue of the 1-px floor covariance
    shelves_visible: list[str]


def _segments(cam: Camera, points: np.ndarray, size: tuple[int, int]) -> list[np.ndarray]:
    """Projected runs of a sampled 3D polyline, split where points leave the sane region
    (behind the camera or far outside the frame, where a distortion polynomial runs away)."""
    px = cam.image_from_store(points)
    w, h = size
    ok = ~np.isnan(px).any(axis=1) & (px[:, 0] > -w) & (px[:, 0] < 2 * w) & (px[:, 1] > -h) & (px[:, 1] < 2 * h)
    runs, current = [], []
    for good, p in zip(ok, px, strict=True):
        if good:
            current.append(p)
        elif current:
            runs.append(np.array(current))
            current = []
    if current:
        runs.append(np.array(current))
    return [r for r in runs if len(r) >= 2]


def _sampled(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    n = max(2, int(np.ceil(np.linalg.norm(b - a) / STEP_M)) + 1)
    return a + np.linspace(0, 1, n)[:, None] * (b - a)


def _draw(image: np.ndarray, cam: Camera, a, b, colour, thickness: int) -> None:
    size = (image.shape[1], image.shape[0])
    for run in _segments(cam, _sampled(np.asarray(a, float), np.asarray(b, float)), size):
        cv2.polylines(image, [np.round(run * 16).astype(np.int32)], False, colour, thickness,
                      cv2.LINE_AA, shift=4)


def _label(image: np.ndarray, cam: Camera, point, text: str, colour) -> None:
    px = cam.image_from_store(np.asarray([point], float))[0]
    h, w = image.shape[:2]
    if np.isnan(px).any() or not (0 <= px[0] < w and 0 <= px[1] < h):
        return
    org = (int(px[0]), int(px[1]))
    cv2.putText(image, text, org, cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(image, text, org, cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1, cv2.LINE_AA)


def draw_store(image: np.ndarray, cam: Camera, store: Store, grid_m: float = 1.0) -> np.ndarray:
    """A copy of ``image`` (BGR) with the store plan drawn on it through ``cam``."""
    out = image.copy()
    width, depth = store.floor.width, store.floor.depth
    for x in np.arange(0.0, width + 1e-9, grid_m):
        _draw(out, cam, (x, 0, 0), (x, depth, 0), GRID, 1)
    for y in np.arange(0.0, depth + 1e-9, grid_m):
        _draw(out, cam, (0, y, 0), (width, y, 0), GRID, 1)
    corners = [(0, 0, 0), (width, 0, 0), (width, depth, 0), (0, depth, 0)]
    for a, b in zip(corners, corners[1:] + corners[:1], strict=True):
        _draw(out, cam, a, b, BORDER, 2)
    for gate in store.gates:
        poly = [(p[0], p[1], 0.0) for p in gate.zone]
        colour = ENTRY if gate.kind == "entry" else EXIT
        for a, b in zip(poly, poly[1:] + poly[:1], strict=True):
            _draw(out, cam, a, b, colour, 2)
        _label(out, cam, np.mean(poly, axis=0), gate.id, colour)
    for shelf in store.shelves:
        box = OrientedBox.from_shelf(shelf)
        c = box.corners()
        edges = [(0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 6), (6, 7), (7, 4),
                 (0, 4), (1, 5), (2, 6), (3, 7)]
        for i, j in edges:
            _draw(out, cam, c[i], c[j], SHELF, 1)
        # Front face: local +y, the corners 2, 3, 6, 7; back face: 0, 1, 4, 5.
        faces = {"front": (2, 3, 7, 6), "back": (0, 1, 5, 4)}
        for face in shelf.faces:
            q = faces[face]
            for i, j in zip(q, q[1:] + q[:1], strict=True):
                _draw(out, cam, c[i], c[j], FRONT, 2)
        _label(out, cam, box.centre + np.array([0.0, 0.0, box.half_size[2]]), shelf.id, SHELF)
    return out


def coverage(cam: Camera, store: Store, image_size: tuple[int, int], step: float = 0.1) -> CoverageReport:
    w, h = image_size
    xs = np.arange(step / 2, store.floor.width, step)
    ys = np.arange(step / 2, store.floor.depth, step)
    grid = np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2)
    px = cam.image_from_store(np.column_stack([grid, np.zeros(len(grid))]))
    seen = ~np.isnan(px).any(axis=1) & (px[:, 0] >= -0.5) & (px[:, 0] < w - 0.5) & (px[:, 1] >= -0.5) & (px[:, 1] < h - 0.5)
    centre = np.array([[(w - 1) / 2, (h - 1) / 2]])
    cov = cam.floor_covariance(centre, 1.0)[0]
    mpp = float(np.sqrt(np.sqrt(max(np.linalg.det(cov), 0.0)))) if not np.isnan(cov).any() else float("nan")
    sigma = float(np.sqrt(np.linalg.eigvalsh(cov)[-1])) if not np.isnan(cov).any() else float("nan")
    visible = []
    for shelf in store.shelves:
        spx = cam.image_from_store(OrientedBox.from_shelf(shelf).corners())
        if (~np.isnan(spx).any(axis=1) & (spx[:, 0] >= 0) & (spx[:, 0] < w) & (spx[:, 1] >= 0) & (spx[:, 1] < h)).any():
            visible.append(shelf.id)
    return CoverageReport(float(seen.mean()), float(seen.sum() * step * step), mpp, sigma, visible)
