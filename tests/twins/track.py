"""Readable numpy twins of the track room's compiled functions (walkout._core track_*).

Each twin states the algorithm plainly, with no speed tricks, so the compiled code can be
checked against it by property tests. The Kalman twins are also the "vectorised numpy
batch" that benchmarks/bench_track_kalman.py compares against.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]

# ---------------------------------------------------------------------------------------------
# Linear assignment
# ---------------------------------------------------------------------------------------------


def linear_assignment(cost: npt.ArrayLike, cost_limit: float | None = None
                      ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Shortest augmenting path (Crouse 2016, the algorithm of scipy's rectangular_lsap),
    one row at a time, with Dijkstra over columns on reduced costs c_ij - u_i - v_j.

    With a cost limit, costs above it are clamped to it and pairs that were above it are
    dropped afterwards (leaving a pair unmatched is worth exactly cost_limit).
    """
    c = np.array(cost, dtype=np.float64)
    if c.ndim != 2:
        raise ValueError("cost: expected a 2-D array")
    if np.isnan(c).any() or (c == -np.inf).any():
        raise ValueError("cost: entries must not be NaN or -inf")
    original = c.copy()
    if cost_limit is not None and np.isfinite(cost_limit):
        c = np.minimum(c, cost_limit)
    else:
        cost_limit = None
    transposed = c.shape[0] > c.shape[1]
    if transposed:
        c = c.T
    n, m = c.shape
    u, v = np.zeros(n), np.zeros(m)
    row_of_col = np.full(m, -1)
    col_of_row = np.full(n, -1)
    for start in range(n):
        dist = np.full(m, np.inf)
        pred = np.full(m, -1)
        done = np.zeros(m, bool)
        i, min_so_far, sink = start, 0.0, -1
        while sink < 0:
            done_cols = np.flatnonzero(~done)
            reduced = min_so_far + c[i, done_cols] - u[i] - v[done_cols]
            better = reduced < dist[done_cols]
            dist[done_cols[better]] = reduced[better]
            pred[done_cols[better]] = i
            if not np.isfinite(dist[~done]).any():
                raise ValueError("cost matrix is infeasible")
            # Nearest column not yet done; ties go to an unassigned column.
            cand = done_cols[dist[done_cols] == dist[done_cols].min()]
            free = cand[row_of_col[cand] < 0]
            j = int(free[0]) if len(free) else int(cand[0])
            min_so_far = dist[j]
            done[j] = True
            if row_of_col[j] < 0:
                sink = j
            else:
                i = row_of_col[j]
        # Dual update, then flip the path.
        u[start] += min_so_far
        for j in np.flatnonzero(done):
            if j == sink:
                continue
            r = row_of_col[j]
            u[r] += min_so_far - dist[j]
            v[j] -= min_so_far - dist[j]
        j = sink
        while True:
            i = pred[j]
            row_of_col[j] = i
            j, col_of_row[i] = col_of_row[i], j
            if i == start:
                break
    rows, cols = np.arange(n), col_of_row
    if transposed:
        rows, cols = cols, rows
        order = np.argsort(rows)
        rows, cols = rows[order], cols[order]
    keep = original[rows, cols] <= cost_limit if cost_limit is not None else np.isfinite(original[rows, cols])
    if cost_limit is None and not keep.all():
        raise ValueError("cost matrix is infeasible")
    return rows[keep].astype(np.int64), cols[keep].astype(np.int64)


# ---------------------------------------------------------------------------------------------
# Kalman filters (constant velocity; state = M positions then M velocities; H = [I 0])
# ---------------------------------------------------------------------------------------------


def transition(dt: float, m: int) -> Array:
    """F for p += dt * v."""
    f = np.eye(2 * m)
    f[:m, m:] = dt * np.eye(m)
    return f


def measurement_matrix(m: int) -> Array:
    return np.hstack([np.eye(m), np.zeros((m, m))])


def box_process_noise(x: Array, dt: float, position_noise: float, velocity_noise: float) -> Array:
    """Q of the box model: random walks on position and velocity scaled by the box side."""
    side = np.abs(np.array([x[2], x[3], x[2], x[3]]))
    return np.diag(np.concatenate([(position_noise * side) ** 2 * dt,
                                   (velocity_noise * side) ** 2 * dt]))


def box_measurement_noise(x: Array, measurement_noise: float) -> Array:
    side = np.abs(np.array([x[2], x[3], x[2], x[3]]))
    return np.diag((measurement_noise * side) ** 2)


def floor_process_noise(dt: float, acceleration_std: float) -> Array:
    """Q of the white-noise-acceleration model, per axis [[dt^3/3, dt^2/2], [dt^2/2, dt]] q."""
    q = acceleration_std**2
    out = np.zeros((4, 4))
    for i in range(2):
        out[i, i] = q * dt**3 / 3
        out[i, 2 + i] = out[2 + i, i] = q * dt**2 / 2
        out[2 + i, 2 + i] = q * dt
    return out


def kalman_predict(means: Array, covs: Array, dts: Array, qs: Array) -> tuple[Array, Array]:
    """Batched x' = F x, P' = F P F^T + Q (one F per track from its dt)."""
    m = means.shape[1] // 2
    f = np.stack([transition(float(dt), m) for dt in dts]) if len(dts) else np.zeros((0, 2 * m, 2 * m))
    new_means = np.einsum("nij,nj->ni", f, means)
    new_covs = f @ covs @ np.swapaxes(f, 1, 2) + qs
    return new_means, new_covs


def kalman_update(means: Array, covs: Array, z: Array, rs: Array) -> tuple[Array, Array]:
    """Batched update: S = H P H^T + R, K = P H^T S^-1, x += K (z - H x), P = (I - K H) P."""
    m = z.shape[1]
    h = measurement_matrix(m)
    s = h @ covs @ h.T + rs
    k = covs @ h.T @ np.linalg.inv(s)
    y = z - means[:, :m]
    new_means = means + np.einsum("nij,nj->ni", k, y)
    new_covs = (np.eye(2 * m) - k @ h) @ covs
    return new_means, 0.5 * (new_covs + np.swapaxes(new_covs, 1, 2))


def box_predict(means: Array, covs: Array, dt: float | Array, position_noise: float = 0.27,
                velocity_noise: float = 1.0) -> tuple[Array, Array]:
    dts = np.broadcast_to(np.asarray(dt, float), (len(means),))
    qs = np.stack([box_process_noise(x, d, position_noise, velocity_noise) for x, d in zip(means, dts)]) \
        if len(means) else np.zeros((0, 8, 8))
    return kalman_predict(means, covs, dts, qs)


def box_update(means: Array, covs: Array, z: Array, measurement_noise: float = 0.05) -> tuple[Array, Array]:
    rs = np.stack([box_measurement_noise(x, measurement_noise) for x in means]) if len(means) else np.zeros((0, 4, 4))
    return kalman_update(means, covs, z, rs)


def box_batch_step(means: Array, covs: Array, dt: float, z: Array, position_noise: float = 0.27,
                   velocity_noise: float = 1.0, measurement_noise: float = 0.05) -> tuple[Array, Array]:
    """One predict + update of the box filter, fully vectorised (the benchmark's numpy peer)."""
    m = 4
    side = np.abs(means[:, [2, 3, 2, 3]])
    q = np.zeros_like(covs)
    idx = np.arange(m)
    q[:, idx, idx] = (position_noise * side) ** 2 * dt
    q[:, m + idx, m + idx] = (velocity_noise * side) ** 2 * dt
    f = transition(dt, m)
    means = means @ f.T
    covs = f @ covs @ f.T + q
    side = np.abs(means[:, [2, 3, 2, 3]])
    r = np.zeros((len(means), m, m))
    r[:, idx, idx] = (measurement_noise * side) ** 2
    s = covs[:, :m, :m] + r
    k = covs[:, :, :m] @ np.linalg.inv(s)
    means = means + np.einsum("nij,nj->ni", k, z - means[:, :m])
    covs = covs - k @ covs[:, :m, :]
    return means, covs


def floor_predict(means: Array, covs: Array, dt: float | Array, acceleration_std: float = 1.5
                  ) -> tuple[Array, Array]:
    dts = np.broadcast_to(np.asarray(dt, float), (len(means),))
    qs = np.stack([floor_process_noise(d, acceleration_std) for d in dts]) if len(means) else np.zeros((0, 4, 4))
    return kalman_predict(means, covs, dts, qs)


def floor_update(means: Array, covs: Array, z: Array, rs: Array) -> tuple[Array, Array]:
    return kalman_update(means, covs, z, rs)


def floor_gating_distance(means: Array, covs: Array, z: Array, rs: Array) -> Array:
    """(N, K) squared Mahalanobis distances d = y^T (H P H^T + R)^-1 y."""
    out = np.zeros((len(means), len(z)))
    for i in range(len(means)):
        for j in range(len(z)):
            s = covs[i, :2, :2] + rs[j]
            y = z[j] - means[i, :2]
            out[i, j] = y @ np.linalg.solve(s, y)
    return out


def chi2_quantile(probability: float, dof: int) -> float:
    from scipy.stats import chi2

    return float(chi2.ppf(probability, dof))


# ---------------------------------------------------------------------------------------------
# Multi-view fusion
# ---------------------------------------------------------------------------------------------


def fuse_views(points_per_camera: list[Array], covs_per_camera: list[Array],
               gate_probability: float = 0.99) -> tuple[Array, Array, npt.NDArray[np.int64]]:
    """Fold cameras in one at a time: gated Mahalanobis assignment to the groups so far,
    information-weighted fusion of matches, new groups for the rest."""
    gate = chi2_quantile(gate_probability, 2)
    n_cams = len(points_per_camera)
    points: list[Array] = []
    covs: list[Array] = []
    members: list[list[int]] = []
    for c, (pts, cvs) in enumerate(zip(points_per_camera, covs_per_camera)):
        pts, cvs = np.asarray(pts, float).reshape(-1, 2), np.asarray(cvs, float).reshape(-1, 2, 2)
        cost = np.full((len(points), len(pts)), np.inf)
        for k in range(len(points)):
            for j in range(len(pts)):
                y = pts[j] - points[k]
                d2 = y @ np.linalg.solve(covs[k] + cvs[j], y)
                if d2 <= gate:
                    cost[k, j] = d2
        used = set()
        if cost.size:
            for k, j in zip(*linear_assignment(cost, gate + 1.0)):
                info = np.linalg.inv(covs[k]) + np.linalg.inv(cvs[j])
                fused_cov = np.linalg.inv(info)
                points[k] = fused_cov @ (np.linalg.solve(covs[k], points[k]) + np.linalg.solve(cvs[j], pts[j]))
                covs[k] = fused_cov
                members[k][c] = int(j)
                used.add(int(j))
        for j in range(len(pts)):
            if j not in used:
                points.append(pts[j].copy())
                covs.append(cvs[j].copy())
                members.append([-1] * n_cams)
                members[-1][c] = j
    return (np.array(points).reshape(-1, 2), np.array(covs).reshape(-1, 2, 2),
            np.array(members, dtype=np.int64).reshape(len(members), n_cams))
