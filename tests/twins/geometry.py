"""Readable numpy twins of the compiled geometry room (cpp/src/geometry/).

Written for clarity, not speed: each follows its formula line by line so that a reader can
check the C++ against it, and the property tests check that both agree.
"""

from __future__ import annotations

import numpy as np

NaN = float("nan")


def padded_dist(dist: np.ndarray) -> np.ndarray:
    """OpenCV coefficients k1 k2 p1 p2 k3 k4 k5 k6 s1 s2 s3 s4, zero-padded to 12."""
    out = np.zeros(12)
    d = np.asarray(dist, dtype=np.float64).ravel()[:12]
    out[: len(d)] = d
    return out


def distort(xy: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """OpenCV's lens distortion of normalized points (N, 2)."""
    k1, k2, p1, p2, k3, k4, k5, k6, s1, s2, s3, s4 = padded_dist(dist)
    x, y = xy[:, 0], xy[:, 1]
    r2 = x * x + y * y
    radial = (1 + k1 * r2 + k2 * r2**2 + k3 * r2**3) / (1 + k4 * r2 + k5 * r2**2 + k6 * r2**3)
    xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x) + s1 * r2 + s2 * r2**2
    yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y + s3 * r2 + s4 * r2**2
    return np.stack([xd, yd], axis=1)


def undistort(xy_d: np.ndarray, dist: np.ndarray, iterations: int = 50) -> np.ndarray:
    """Inverse of :func:`distort` by Newton's method with a finite-difference Jacobian."""
    xy = xy_d.copy()
    h = 1e-7
    for _ in range(iterations):
        f = distort(xy, dist) - xy_d
        if np.all(np.abs(f) < 1e-15):
            break
        dx, dy = np.array([h, 0.0]), np.array([0.0, h])
        fx = (distort(xy + dx, dist) - distort(xy - dx, dist)) / (2 * h)
        fy = (distort(xy + dy, dist) - distort(xy - dy, dist)) / (2 * h)
        J = np.stack([fx, fy], axis=2)  # J[i] = [[dxd/dx, dxd/dy], [dyd/dx, dyd/dy]]
        xy = xy - np.linalg.solve(J, f[..., None])[..., 0]
    return xy


def image_from_store(points: np.ndarray, K: np.ndarray, dist: np.ndarray, R: np.ndarray,
                     t: np.ndarray) -> np.ndarray:
    """Store points (N, 3) -> pixels (N, 2); NaN behind the camera."""
    p = points @ R.T + t
    with np.errstate(divide="ignore", invalid="ignore"):
        xy = p[:, :2] / p[:, 2:3]
    xd = distort(xy, dist)
    uv = xd @ K[:2, :2].T + K[:2, 2]
    uv[p[:, 2] <= 0] = NaN
    return uv


def normalized_from_pixel(pixels: np.ndarray, K: np.ndarray, dist: np.ndarray) -> np.ndarray:
    xd = np.linalg.solve(K[:2, :2], (pixels - K[:2, 2]).T).T
    return undistort(xd, dist)


def plane_from_image(pixels: np.ndarray, K: np.ndarray, dist: np.ndarray, R: np.ndarray,
                     t: np.ndarray, normal: np.ndarray, offset: float) -> np.ndarray:
    """Pixels (N, 2) -> points (N, 3) on normal · X = offset, along each pixel's ray."""
    xy = normalized_from_pixel(pixels, K, dist)
    d_cam = np.column_stack([xy, np.ones(len(xy))])
    d = d_cam @ R  # Rᵀ d for each row
    centre = -R.T @ t
    lam = (offset - normal @ centre) / (d @ normal)
    out = centre + lam[:, None] * d
    out[~(lam > 0)] = NaN
    return out


def floor_from_image(pixels, K, dist, R, t) -> np.ndarray:
    return plane_from_image(pixels, K, dist, R, t, np.array([0.0, 0.0, 1.0]), 0.0)[:, :2]


def floor_covariance(pixels, K, dist, R, t, pixel_sigma: float) -> np.ndarray:
    """First-order floor covariance: J = d(floor)/d(pixel) by central differences of the
    back-projection itself (not of the projection, as the C++ does), cov = σ² J Jᵀ."""
    h = 1e-3
    cols = []
    for axis in range(2):
        step = np.zeros(2)
        step[axis] = h
        cols.append((floor_from_image(pixels + step, K, dist, R, t)
                     - floor_from_image(pixels - step, K, dist, R, t)) / (2 * h))
    J = np.stack(cols, axis=2)  # (N, 2, 2): d(x, y)/d(u, v)
    return pixel_sigma**2 * J @ np.transpose(J, (0, 2, 1))


def triangulate(cameras: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
                pixels: np.ndarray, iterations: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """cameras: (K, dist, R, t) each; pixels (M, N, 2) with NaN for unseen. DLT by SVD on
    normalized coordinates, then Gauss-Newton with a finite-difference Jacobian."""
    _m, n, _ = pixels.shape
    points = np.full((n, 3), NaN)
    residuals = np.full(n, NaN)
    for j in range(n):
        rows, used = [], []
        for i, (K, dist, R, t) in enumerate(cameras):
            if np.isnan(pixels[i, j]).any():
                continue
            x, y = normalized_from_pixel(pixels[i, j][None], K, dist)[0]
            P = np.column_stack([R, t])
            for r in (x * P[2] - P[0], y * P[2] - P[1]):
                rows.append(r / np.linalg.norm(r))
            used.append(i)
        if len(used) < 2:
            continue
        h = np.linalg.svd(np.array(rows))[2][-1]
        X = h[:3] / h[3]

        def residual(X, used=used, j=j):
            return np.concatenate([image_from_store(X[None], *cameras[i])[0] - pixels[i, j]
                                   for i in used])

        for _ in range(iterations):
            r = residual(X)
            J = np.column_stack([(residual(X + e) - residual(X - e)) / 2e-7
                                 for e in np.eye(3) * 1e-7])
            X = X - np.linalg.lstsq(J, r, rcond=None)[0]
        points[j] = X
        residuals[j] = np.sqrt(np.sum(residual(X) ** 2) / len(used))
    return points, residuals


def ray_box(origins: np.ndarray, directions: np.ndarray, centre: np.ndarray,
            rotation: np.ndarray, half_size: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Slab test in the box frame: t_enter, t_exit (NaN for a miss or a box behind)."""
    o = (origins - centre) @ rotation  # Rᵀ (o - c)
    d = directions @ rotation
    with np.errstate(divide="ignore", invalid="ignore"):
        t0 = (-half_size - o) / d
        t1 = (half_size - o) / d
    near = np.nanmax(np.minimum(t0, t1), axis=1)
    far = np.nanmin(np.maximum(t0, t1), axis=1)
    outside_parallel = ((d == 0) & (np.abs(o) > half_size)).any(axis=1)
    hit = (near <= far) & (far >= 0) & ~outside_parallel
    return np.where(hit, near, NaN), np.where(hit, far, NaN)
