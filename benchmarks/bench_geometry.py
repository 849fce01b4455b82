"""Geometry benchmark: batched floor projection, store-to-image projection and multi-view
triangulation, walkout vs OpenCV and numpy in the same run, each checked against the truth.

    PYTHONPATH=python python benchmarks/bench_geometry.py [--points 100000] [--repeat 31]

The peers do what a user would otherwise write: for the floor, ``cv2.undistortPoints`` (its
default 5 fixed-point steps, and with termination criteria of 1e-10) then the inverse floor
homography via ``cv2.perspectiveTransform``; in numpy the same arithmetic vectorised. For
triangulation, ``cv2.triangulatePoints`` (two views, linear, after ``cv2.undistortPoints``)
and a batched numpy DLT (``np.linalg.svd`` over all points), which works for any number of
views. walkout runs with one thread and with its default (one per core).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python"))

from harness import format_seconds, markdown_table, write_results
from walkout.config import load_store
from walkout.geometry import Camera, triangulate

REPO = Path(__file__).resolve().parent.parent


def interleaved_medians(runs: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    """Median seconds of each run, timed round-robin (one call of each, then again), so
    that load from other processes falls on every implementation alike: on a shared machine
    timing one implementation's calls back to back lets a burst of load land on it alone."""
    for fn in runs.values():
        fn()  # warm-up
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeat):
        for name, fn in runs.items():
            start = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in samples.items()}


def numpy_floor(pixels: np.ndarray, K: np.ndarray, dist: np.ndarray, R: np.ndarray,
                t: np.ndarray, iterations: int = 5) -> np.ndarray:
    """The floor back-projection a numpy user writes: OpenCV's fixed-point undistortion, then
    the ray from the camera centre to z = 0."""
    k1, k2, p1, p2, k3 = dist[:5]
    xd = (pixels[:, 0] - K[0, 2]) / K[0, 0]
    yd = (pixels[:, 1] - K[1, 2]) / K[1, 1]
    x, y = xd.copy(), yd.copy()
    for _ in range(iterations):
        r2 = x * x + y * y
        radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
        dx = 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
        dy = p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
        x = (xd - dx) / radial
        y = (yd - dy) / radial
    rays = np.column_stack([x, y, np.ones_like(x)]) @ R  # Rᵀ d per row
    centre = -R.T @ t
    lam = -centre[2] / rays[:, 2]
    return centre[:2] + lam[:, None] * rays[:, :2]


def cv2_floor(pixels: np.ndarray, K: np.ndarray, dist: np.ndarray, H_inv: np.ndarray,
              criteria: tuple | None = None) -> np.ndarray:
    src = pixels.reshape(-1, 1, 2)
    if criteria is None:
        undist = cv2.undistortPoints(src, K, dist, P=K)
    else:
        undist = cv2.undistortPoints(src, K, dist, None, None, K, criteria)
    return cv2.perspectiveTransform(undist, H_inv).reshape(-1, 2)


def numpy_dlt(P: list[np.ndarray], normalized: np.ndarray) -> np.ndarray:
    """Batched linear triangulation: (M, N, 2) normalized points, P = [R | t] per view."""
    m, n, _ = normalized.shape
    A = np.empty((n, 2 * m, 4))
    for i in range(m):
        A[:, 2 * i] = normalized[i, :, :1] * P[i][2] - P[i][0]
        A[:, 2 * i + 1] = normalized[i, :, 1:] * P[i][2] - P[i][1]
    A /= np.linalg.norm(A, axis=2, keepdims=True)
    h = np.linalg.svd(A)[2][:, -1]
    return h[:, :3] / h[:, 3:]


def bench_floor(cam: Camera, n: int, repeat: int, rng: np.random.Generator) -> list[list[object]]:
    floor_truth = np.column_stack([rng.uniform(0, 12, 4 * n), rng.uniform(0, 9, 4 * n)])
    pixels = cam.image_from_store(np.column_stack([floor_truth, np.zeros(len(floor_truth))]))
    inside = ~np.isnan(pixels).any(axis=1) & (pixels[:, 0] >= 0) & (pixels[:, 0] < 1280) & (pixels[:, 1] >= 0) & (pixels[:, 1] < 720)
    pixels, floor_truth = np.ascontiguousarray(pixels[inside][:n]), floor_truth[inside][:n]
    K, dist, R, t = cam.K, cam.dist, cam.R, cam.t
    H_inv = np.linalg.inv(cam.floor_homography())
    tight = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 50, 1e-10)
    runs = {
        "walkout (1 thread)": lambda: cam.pinhole.floor_from_image(pixels, threads=1),
        "walkout (all cores)": lambda: cam.pinhole.floor_from_image(pixels),
        "cv2 undistortPoints + perspectiveTransform": lambda: cv2_floor(pixels, K, dist, H_inv),
        "cv2 undistortPoints, criteria 1e-10 + perspectiveTransform": lambda: cv2_floor(pixels, K, dist, H_inv, tight),
        "numpy (5 fixed-point steps)": lambda: numpy_floor(pixels, K, dist, R, t),
        "numpy (20 fixed-point steps)": lambda: numpy_floor(pixels, K, dist, R, t, 20),
    }
    rows = []
    times = interleaved_medians(runs, repeat)
    base = times["walkout (1 thread)"]
    for name, fn in runs.items():
        seconds = times[name]
        err = np.nanmax(np.linalg.norm(fn() - floor_truth, axis=1))
        rows.append([name, format_seconds(seconds), f"{seconds / base:.2f}", f"{err * 1000:.3g} mm"])
    return rows


def bench_image_from_store(cam: Camera, n: int, repeat: int, rng: np.random.Generator) -> list[list[object]]:
    points = np.column_stack([rng.uniform(0, 12, n), rng.uniform(0, 9, n), rng.uniform(0, 2, n)])
    rvec = cv2.Rodrigues(cam.R)[0]
    ref = cv2.projectPoints(points, rvec, cam.t, cam.K, cam.dist)[0].reshape(-1, 2)
    runs = {
        "walkout (1 thread)": lambda: cam.pinhole.image_from_store(points, threads=1),
        "walkout (all cores)": lambda: cam.pinhole.image_from_store(points),
        "cv2 projectPoints": lambda: cv2.projectPoints(points, rvec, cam.t, cam.K, cam.dist)[0],
    }
    times = interleaved_medians(runs, repeat)
    base = times["walkout (1 thread)"]
    rows = []
    for name, fn in runs.items():
        seconds = times[name]
        out = fn().reshape(-1, 2)
        front = (points @ cam.R.T + cam.t)[:, 2] > 0
        err = np.max(np.abs(out[front] - ref[front]) / np.maximum(1.0, np.abs(ref[front])))
        rows.append([name, format_seconds(seconds), f"{seconds / base:.2f}", f"{err:.1e}"])
    return rows


def bench_triangulation(cams: list[Camera], n: int, repeat: int, rng: np.random.Generator,
                        sigma: float = 1.0) -> list[list[object]]:
    # Points every camera of the set sees inside its image (a wrist seen by all of them).
    truth = np.column_stack([rng.uniform(0, 12, 20 * n), rng.uniform(0, 9, 20 * n), rng.uniform(0.5, 1.8, 20 * n)])
    clean = np.stack([c.image_from_store(truth) for c in cams])
    seen = (~np.isnan(clean).any(axis=2) & (clean[..., 0] >= 0) & (clean[..., 0] < 1280)
            & (clean[..., 1] >= 0) & (clean[..., 1] < 720)).all(axis=0)
    if seen.sum() < n:
        raise SystemExit(f"only {seen.sum()} of {len(truth)} points are seen by every camera")
    truth, clean = truth[seen][:n], np.ascontiguousarray(clean[:, seen][:, :n])
    pixels = clean + rng.normal(0, sigma, clean.shape)
    m = len(cams)
    P = [np.column_stack([c.R, c.t]) for c in cams]

    def normalized() -> np.ndarray:
        return np.stack([cv2.undistortPoints(pixels[i].reshape(-1, 1, 2), cams[i].K, cams[i].dist).reshape(-1, 2)
                         for i in range(m)])

    def cv2_two_view() -> np.ndarray:
        x = normalized()
        h = cv2.triangulatePoints(P[0], P[1], x[0].T, x[1].T)
        return (h[:3] / h[3]).T

    pin = [c.pinhole for c in cams]
    from walkout import _core

    runs = {
        "walkout DLT + 5 Gauss-Newton (1 thread)": lambda: _core.triangulate_views(pin, pixels, 5, 1)[0],
        "walkout DLT + 5 Gauss-Newton (all cores)": lambda: triangulate(cams, pixels)[0],
        "walkout DLT only (1 thread)": lambda: _core.triangulate_views(pin, pixels, 0, 1)[0],
        "numpy batched DLT (+ cv2.undistortPoints)": lambda: numpy_dlt(P, normalized()),
    }
    if m == 2:
        runs["cv2.triangulatePoints (+ undistortPoints)"] = cv2_two_view
    times = interleaved_medians(runs, repeat)
    base = times["walkout DLT + 5 Gauss-Newton (1 thread)"]
    rows = []
    for name, fn in runs.items():
        seconds = times[name]
        err = np.linalg.norm(fn() - truth, axis=1)
        rows.append([name, format_seconds(seconds), f"{seconds / base:.2f}",
                     f"{np.median(err) * 1000:.2f} mm", f"{np.percentile(err, 99) * 1000:.2f} mm"])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--tri-points", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=31)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    store = load_store(REPO / "configs" / "store.yaml")
    cams = [Camera.from_calibration(store.calibrations[f"cam{i}"]) for i in range(1, 9)]

    floor = bench_floor(cams[0], args.points, args.repeat, rng)
    project = bench_image_from_store(cams[0], args.points, args.repeat, rng)
    # Two views that both see the middle of the store, then four.
    tri2 = bench_triangulation([cams[0], cams[2]], args.tri_points, args.repeat, rng)
    tri4 = bench_triangulation(cams[:4], args.tri_points, args.repeat, rng)

    body = "\n\n".join([
        f"## Floor back-projection, {args.points:,} pixels (cam1 of the example store, 5 distortion terms)\n\n"
        "Time is the median of the runs, the implementations timed round-robin so that load from "
        "other processes falls on all alike; ratio is time / walkout (1 thread), so > 1 means "
        "slower than walkout. Error: worst distance from the true floor point.\n\n"
        + markdown_table(["implementation", "time", "ratio", "max error"], floor),
        f"## Store to image, {args.points:,} points\n\n"
        + markdown_table(["implementation", "time", "ratio", "max rel. diff vs cv2"], project),
        f"## Triangulation, {args.tri_points:,} points, 2 views (cam1, cam3), 1 px noise\n\n"
        + markdown_table(["implementation", "time", "ratio", "median error", "99th pct error"], tri2),
        f"## Triangulation, {args.tri_points:,} points, 4 views (cam1-4), 1 px noise\n\n"
        "cv2 has no multi-view triangulation (cv2.sfm is not in the headless wheels).\n\n"
        + markdown_table(["implementation", "time", "ratio", "median error", "99th pct error"], tri4),
    ])
    write_results("geometry", "Geometry: walkout vs OpenCV and numpy", body)


if __name__ == "__main__":
    main()
