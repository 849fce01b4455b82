"""Camera pose in the store frame from image points matched to measured store points.

The points are tape marks or tile corners on the floor (z = 0) whose store positions were
measured, or any other measured points (a shelf corner at its height). With all points on
one plane the pose comes from IPPE (Collins & Bartoli 2014), which returns both poses a
plane allows and keeps the better one; otherwise from SQPnP (Terzakis & Lourakis 2020).
Either is then refined by Levenberg-Marquardt on the pixel reprojection error.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import yaml

MIN_POINTS = 4

# Levenberg-Marquardt to convergence: OpenCV's default (20 steps, float epsilon) stops
# ~1e-4 px short, which costs nothing to close for a handful of points.
_REFINE = (cv2.TERM_CRITERIA_COUNT + cv2.TERM_CRITERIA_EPS, 100, 1e-12)


@dataclass(frozen=True)
class PointPairs:
    names: list[str]
    pixels: np.ndarray  # (N, 2) float64, distorted pixels as seen in the image
    store: np.ndarray  # (N, 3) float64 metres


@dataclass(frozen=True)
class PoseResult:
    R: np.ndarray  # camera_from_store rotation
    t: np.ndarray  # camera_from_store translation, metres
    per_point_px: np.ndarray  # (N,) reprojection error of each point, pixels
    rms_px: float
    method: str

    @property
    def centre(self) -> np.ndarray:
        return -self.R.T @ self.t


def read_point_pairs(path: Path) -> PointPairs:
    """Reads image/store point pairs from CSV (columns u, v, x, y[, z][, name]; a header row
    is optional) or YAML (``points: [{name: A, pixel: [u, v], store: [x, y] or [x, y, z]}]``).
    A store point with two coordinates lies on the floor."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ValueError(f"points: cannot read {path}: {exc.strerror}") from None
    rows: list[tuple[str, list[float], list[float]]] = []
    if path.suffix.lower() in (".yaml", ".yml"):
        data = yaml.safe_load(text)
        items = data.get("points") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise ValueError(f"points: {path} must hold a list under 'points:'")
        for i, item in enumerate(items):
            try:
                rows.append((str(item.get("name", i)), [float(v) for v in item["pixel"]],
                             [float(v) for v in item["store"]]))
            except (KeyError, TypeError, ValueError, AttributeError):
                raise ValueError(f"points: {path} entry {i}: expected {{name, pixel: [u, v], "
                                 "store: [x, y] or [x, y, z]}") from None
    else:
        header_allowed = True
        for line_no, record in enumerate(csv.reader(text.splitlines()), start=1):
            fields = [f.strip() for f in record]
            if not fields or not fields[0] or fields[0].startswith("#"):
                continue
            numbers: list[float] = []
            for f in fields:
                if not _is_number(f):
                    break
                numbers.append(float(f))
            if not numbers and header_allowed:
                header_allowed = False  # a header row: u, v, x, y, z, name
                continue
            header_allowed = False
            if len(numbers) not in (4, 5):
                raise ValueError(f"points: {path} line {line_no}: expected u, v, x, y[, z][, name]")
            rest = [f for f in fields[len(numbers):] if f]
            name = rest[0] if rest else str(len(rows))
            rows.append((name, numbers[:2], numbers[2:]))
    for name, pixel, store in rows:
        if len(pixel) != 2 or len(store) not in (2, 3):
            raise ValueError(f"points: {path} point '{name}': expected a pixel (u, v) and a store "
                             "point (x, y) or (x, y, z)")
    store = np.array([[*s, 0.0] if len(s) == 2 else s for _, _, s in rows], dtype=np.float64)
    pixels = np.array([p for _, p, _ in rows], dtype=np.float64)
    return PointPairs([n for n, _, _ in rows], pixels.reshape(-1, 2), store.reshape(-1, 3))


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def solve_pose(pairs: PointPairs, K: np.ndarray, dist: np.ndarray) -> PoseResult:
    """camera_from_store from the point pairs. Raises ValueError for fewer than 4 points,
    collinear points, or a solution with points behind the camera."""
    n = len(pairs.pixels)
    if n < MIN_POINTS:
        raise ValueError(f"points: {n} point pairs; at least {MIN_POINTS} are needed for a pose")
    centred = pairs.store - pairs.store.mean(axis=0)
    singular = np.linalg.svd(centred, compute_uv=False)
    spread = singular[0] if singular[0] > 0 else 1.0
    if singular[1] < 1e-3 * spread:
        raise ValueError("points: degenerate point set: the store points lie on one line; "
                         "measure points that span an area")
    planar = singular[2] < 1e-6 * spread
    d = np.asarray(dist, dtype=np.float64) if len(dist) else None
    obj = pairs.store.reshape(-1, 1, 3)
    img = pairs.pixels.reshape(-1, 1, 2)
    method = cv2.SOLVEPNP_IPPE if planar else cv2.SOLVEPNP_SQPNP
    try:
        count, rvecs, tvecs, _errors = cv2.solvePnPGeneric(obj, img, K, d, flags=method)
    except cv2.error as exc:
        raise ValueError(f"points: OpenCV could not solve a pose from these {n} points: "
                         f"{str(exc).strip().splitlines()[-1]}") from None
    if count == 0:
        raise ValueError("points: no pose fits these points; check that pixels and store points "
                         "are matched in the same order")
    best = None
    for rvec, tvec in zip(rvecs, tvecs, strict=False):
        rvec, tvec = cv2.solvePnPRefineLM(obj, img, K, d, rvec.copy(), tvec.copy(), _REFINE)
        R = cv2.Rodrigues(rvec)[0]
        depth = pairs.store @ R.T + tvec.ravel()
        if (depth[:, 2] <= 0).any():
            continue
        err = cv2.projectPoints(obj, rvec, tvec, K, d)[0].reshape(-1, 2) - pairs.pixels
        per_point = np.linalg.norm(err, axis=1)
        if best is None or np.mean(per_point**2) < np.mean(best[2] ** 2):
            best = (R, tvec.ravel(), per_point)
    if best is None:
        raise ValueError("points: every pose that fits puts points behind the camera; check the "
                         "pixel/store pairing")
    R, t, per_point = best
    return PoseResult(R, t, per_point, float(np.sqrt(np.mean(per_point**2))),
                      "IPPE + LM" if planar else "SQPnP + LM")
