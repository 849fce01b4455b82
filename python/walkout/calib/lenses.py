"""Synthetic cameras with known lenses: a test bed for the distortion-model choice.

A :class:`SyntheticCamera` is a lens type (:data:`LENSES`) drawn for one seed: focal length,
principal point and distortion jittered around the type's nominal values, and a corner
noise level. :func:`board_photos` gives it a calibration session like a field engineer's
(by default 14 photos of a 7 x 5 board at 640 x 480, the shared real set's layout): board
poses spread over the frame, every corner projected through the true lens by OpenCV's model
and noised. Projecting instead of rendering makes a session cost milliseconds, so the
choice can be measured over many cameras; :mod:`walkout.calib.synthetic` renders photos
where the corner detector itself is under test.

Corner noise is Gaussian, independent per corner, with a standard deviation drawn per
camera in 0.08-0.3 px (sub-pixel refinement on sharp photos reaches about 0.05-0.1 px;
blur, JPEG and a printed board that is not quite flat bring real sets to 0.2-0.5 px RMS,
the shared set fitting at 0.45 px).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from walkout.calib.chessboard import BoardView, board_points, median_square_px


@dataclass(frozen=True)
class Lens:
    """A lens type: nominal focal length (px at 640 x 480) and OpenCV distortion."""

    name: str
    focal_px: float
    dist: tuple[float, ...]  # OpenCV order: k1 k2 p1 p2 [k3 [k4 k5 k6]]
    description: str


# Five kinds of lens a store's cameras might have. The rational one is the Padé form of an
# equidistant fisheye, atan(r) / r ~ (1 + 4/15 r²) / (1 + 9/15 r²): about 120° across the
# diagonal, which OpenCV's five coefficients cannot follow to the frame's corners.
LENSES: dict[str, Lens] = {
    lens.name: lens
    for lens in (
        Lens("none", 560.0, (0.0, 0.0, 0.0, 0.0), "no distortion"),
        Lens("mild-barrel", 520.0, (-0.12, 0.04, 0.0, 0.0), "mild barrel, k1 k2"),
        Lens(
            "strong-barrel",
            430.0,
            (-0.34, 0.14, 0.0005, -0.0004, -0.025),
            "strong barrel with k3 and a little tangential",
        ),
        Lens(
            "pincushion-tangential",
            640.0,
            (0.16, -0.05, 0.003, -0.0025),
            "pincushion with a decentred element (tangential)",
        ),
        Lens(
            "fisheye-rational",
            340.0,
            (4 / 15, 0.0, 0.0, 0.0, 0.0, 9 / 15, 0.0, 0.0),
            "fisheye-like, rational (k1 k4)",
        ),
    )
}


@dataclass(frozen=True)
class SyntheticCamera:
    lens: str
    seed: int
    K: np.ndarray  # 3 x 3
    dist: np.ndarray  # OpenCV order, the lens's coefficient count
    noise_px: float  # standard deviation of each corner coordinate
    image_size: tuple[int, int]


def synthetic_camera(
    lens: str, seed: int, image_size: tuple[int, int] = (640, 480)
) -> SyntheticCamera:
    """The lens type ``lens`` drawn for ``seed``: focal length x 0.9-1.1 (fy within 1 % of
    fx), principal point within 12 px of the centre, each distortion coefficient x 0.8-1.2,
    corner noise 0.08-0.3 px."""
    if lens not in LENSES:
        raise ValueError(f"lens: expected one of {', '.join(LENSES)}, got '{lens}'")
    nominal = LENSES[lens]
    rng = np.random.default_rng([seed, list(LENSES).index(lens)])
    width, height = image_size
    scale = width / 640.0
    fx = nominal.focal_px * scale * rng.uniform(0.9, 1.1)
    fy = fx * rng.uniform(0.99, 1.01)
    cx = (width - 1) / 2 + rng.uniform(-12, 12) * scale
    cy = (height - 1) / 2 + rng.uniform(-12, 12) * scale
    K = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
    dist = np.array(nominal.dist) * rng.uniform(0.8, 1.2, len(nominal.dist))
    return SyntheticCamera(lens, seed, K, dist, float(rng.uniform(0.08, 0.3)), image_size)


def _fold_radius(dist: np.ndarray) -> float:
    """Normalized radius where the radial distortion first stops growing (r_d(r) turns):
    beyond it the model folds back and no real lens looks like that."""
    d = np.zeros(8)
    d[: min(len(dist), 8)] = dist[:8]
    k1, k2, _p1, _p2, k3, k4, k5, k6 = d
    r = np.linspace(1e-3, 4.0, 4000)
    r2 = r * r
    radial = (1 + k1 * r2 + k2 * r2**2 + k3 * r2**3) / (1 + k4 * r2 + k5 * r2**2 + k6 * r2**3)
    turning = np.nonzero(np.diff(r * radial) <= 0)[0]
    return float(r[turning[0]]) if len(turning) else float(r[-1])


def board_photos(
    camera: SyntheticCamera,
    n: int = 14,
    pattern: tuple[int, int] = (7, 5),
    square: float = 1.0,
    *,
    margin_px: float = 8.0,
    session: int = 0,
    noisy: bool = True,
) -> list[BoardView]:
    """``n`` views of the board by ``camera``, as the corner detector would return them.

    Each view aims the board's centre at a random point of the frame (so corners reach the
    edges and corners of the image, where the distortion is), at a size of 30-60 % of the
    frame's width, tilted up to 50° about a random axis and rolled at random. Views with a
    corner outside the frame (less ``margin_px``) or past the lens's fold are drawn again.
    ``session`` draws another set of poses (and noise) for the same camera; ``noisy=False``
    gives the exact projections (the truth a fitted model is measured against).
    """
    rng = np.random.default_rng([camera.seed, 7919, session])
    width, height = camera.image_size
    obj = board_points(pattern, square).astype(np.float64)
    centre = obj.mean(axis=0)
    extent = max(pattern) * square
    fold = _fold_radius(camera.dist)
    K, dist = camera.K, camera.dist
    views: list[BoardView] = []
    for _attempt in range(200 * n):
        if len(views) == n:
            break
        aim = np.array([[rng.uniform(0.15, 0.85) * width, rng.uniform(0.15, 0.85) * height]])
        ray = cv2.undistortPoints(aim.reshape(1, 1, 2), K, dist).reshape(2)
        depth = K[0, 0] * extent / (rng.uniform(0.3, 0.6) * width)
        board_centre = np.array([ray[0], ray[1], 1.0]) * depth
        axis = rng.normal(size=3)
        axis /= np.linalg.norm(axis)
        tilt = cv2.Rodrigues(axis * rng.uniform(0.0, np.radians(50)))[0]
        roll = cv2.Rodrigues(np.array([0.0, 0.0, rng.uniform(-np.pi, np.pi)]))[0]
        R = tilt @ roll
        t = board_centre - R @ centre
        in_camera = obj @ R.T + t
        if (in_camera[:, 2] <= 0).any():
            continue
        normalized = in_camera[:, :2] / in_camera[:, 2:]
        if np.linalg.norm(normalized, axis=1).max() >= 0.98 * fold:
            continue
        pixels = cv2.projectPoints(obj, cv2.Rodrigues(R)[0], t, K, dist)[0].reshape(-1, 2)
        inside = (
            (pixels[:, 0] >= margin_px)
            & (pixels[:, 0] <= width - 1 - margin_px)
            & (pixels[:, 1] >= margin_px)
            & (pixels[:, 1] <= height - 1 - margin_px)
        )
        if not inside.all():
            continue
        noise = rng.normal(0.0, camera.noise_px, pixels.shape)
        corners = (pixels + noise * noisy).astype(np.float32)
        hull = cv2.convexHull(corners.reshape(-1, 1, 2))
        views.append(
            BoardView(
                path=_photo_name(camera, len(views)),
                corners=corners,
                detector="projected",
                square_px=median_square_px(corners, pattern),
                board_fraction=float(cv2.contourArea(hull)) / (width * height),
            )
        )
    if len(views) < n:
        raise ValueError(
            f"lens {camera.lens} seed {camera.seed}: only {len(views)} of {n} board views fit "
            "the frame"
        )
    return views


def _photo_name(camera: SyntheticCamera, index: int) -> Path:
    return Path(f"{camera.lens}-{camera.seed}-{index:02d}.png")
