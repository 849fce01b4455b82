"""Readable numpy twins of the track room's compiled functions (walkout._core track_*).

Each twin states the algorithm plainly, with no speed tricks, so the compiled code can be
checked against it by property tests. The Kalman twins are also the "vectorised numpy
batch" that benchmarks/bench_track_kalman.py compares against.
"""

from __future__ import annotations

import copy

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
    qs = np.stack([box_process_noise(x, d, position_noise, velocity_noise) for x, d in zip(means, dts, strict=False)]) \
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
               gate_probability: float = 0.99, model_error_std: float = 0.0,
               merge_radius_m: float = 0.6, prior_points: Array | None = None,
               prior_covariances: Array | None = None
               ) -> tuple[Array, Array, npt.NDArray[np.int64]]:
    """Groups start at the priors (if any); fold cameras in one at a time: gated Mahalanobis
    assignment to the groups so far, information-weighted fusion of matches, new groups for
    the rest; with priors, rebuild each group from its members alone (dropping empty ones);
    then merge groups closer than ``merge_radius_m`` that share no camera, closest first."""
    gate = chi2_quantile(gate_probability, 2)
    n_cams = len(points_per_camera)
    n_priors = 0 if prior_points is None else len(prior_points)
    points: list[Array] = [np.asarray(p, float).copy() for p in (prior_points if n_priors else [])]
    covs: list[Array] = [np.asarray(c, float).copy() for c in (prior_covariances if n_priors else [])]
    members: list[list[int]] = [[-1] * n_cams for _ in range(n_priors)]
    inputs = [(np.asarray(p, float).reshape(-1, 2),
               np.asarray(c, float).reshape(-1, 2, 2) + np.eye(2) * model_error_std**2)
              for p, c in zip(points_per_camera, covs_per_camera, strict=False)]
    for c, (pts, cvs) in enumerate(inputs):
        cost = np.full((len(points), len(pts)), np.inf)
        for k in range(len(points)):
            for j in range(len(pts)):
                y = pts[j] - points[k]
                d2 = y @ np.linalg.solve(covs[k] + cvs[j], y)
                if d2 <= gate:
                    cost[k, j] = d2
        used = set()
        if cost.size:
            for k, j in zip(*linear_assignment(cost, gate + 1.0), strict=False):
                points[k], covs[k] = _information_fuse(points[k], covs[k], pts[j], cvs[j])
                members[k][c] = int(j)
                used.add(int(j))
        for j in range(len(pts)):
            if j not in used:
                points.append(pts[j].copy())
                covs.append(cvs[j].copy())
                members.append([-1] * n_cams)
                members[-1][c] = j
    if n_priors:
        rebuilt = []
        for m in members:
            seen = [(c, j) for c, j in enumerate(m) if j >= 0]
            if not seen:
                continue
            x, p = inputs[seen[0][0]][0][seen[0][1]], inputs[seen[0][0]][1][seen[0][1]]
            for c, j in seen[1:]:
                x, p = _information_fuse(x, p, inputs[c][0][j], inputs[c][1][j])
            rebuilt.append((x.copy(), p.copy(), m))
        points, covs, members = ([r[0] for r in rebuilt], [r[1] for r in rebuilt],
                                 [r[2] for r in rebuilt])
    while merge_radius_m > 0:
        pairs = [(float(np.sum((points[a] - points[b]) ** 2)), a, b)
                 for a in range(len(points)) for b in range(a + 1, len(points))
                 if not any(x >= 0 and y >= 0 for x, y in zip(members[a], members[b], strict=True))]
        pairs = [p for p in pairs if p[0] < merge_radius_m**2]
        if not pairs:
            break
        _, a, b = min(pairs)  # the closest; ties to the first pair (a, then b), as in C++
        points[a], covs[a] = _information_fuse(points[a], covs[a], points[b], covs[b])
        members[a] = [y if y >= 0 else x for x, y in zip(members[a], members[b], strict=True)]
        del points[b], covs[b], members[b]
    return (np.array(points).reshape(-1, 2), np.array(covs).reshape(-1, 2, 2),
            np.array(members, dtype=np.int64).reshape(len(members), n_cams))


def _information_fuse(x: Array, p: Array, z: Array, r: Array) -> tuple[Array, Array]:
    """(P^-1 + R^-1)^-1 and the information-weighted mean of x and z."""
    fused_cov = np.linalg.inv(np.linalg.inv(p) + np.linalg.inv(r))
    return fused_cov @ (np.linalg.solve(p, x) + np.linalg.solve(r, z)), fused_cov


# ---------------------------------------------------------------------------------------------
# Trackers: readable step-by-step twins of the compiled BoxTracker and FloorTracker
# ---------------------------------------------------------------------------------------------

TENTATIVE, CONFIRMED, LOST = 0, 1, 2


def _assign(rows: list[int], cols: list[int], cost_fn, limit: float) -> list[tuple[int, int]]:
    """Min-cost assignment of track slots to detection indices; +inf = forbidden."""
    if not rows or not cols:
        return []
    cost = np.array([[cost_fn(k, j) for j in cols] for k in rows], dtype=float)
    r, c = linear_assignment(cost, limit)
    return [(rows[a], cols[b]) for a, b in zip(r, c, strict=True) if np.isfinite(cost[a, b])]


class _Clock:
    def __init__(self, fps: float) -> None:
        self.period, self.last, self.started, self.first = 1.0 / fps, 0.0, False, False

    def advance(self, t: float | None) -> float:
        now = t if t is not None else (self.last + self.period if self.started else 0.0)
        if self.started and not now > self.last:
            raise ValueError("t: expected a time after the previous frame's")
        dt = now - self.last if self.started else 0.0
        self.first, self.started, self.last = not self.started, True, now
        return dt


class FloorTrackerTwin:
    """The FloorTracker algorithm (cpp/src/track/floor_tracker.cpp) in plain numpy."""

    def __init__(self, *, fps=15.0, high_score=0.5, low_score=0.1, new_track_score=0.6,
                 gate_probability=0.999, low_gate_probability=0.99, min_hits=2,
                 lost_buffer_s=1.5, lost_velocity_decay_s=0.5, lost_stand_speed=float("inf"),
                 lost_max_std_m=0.6,
                 birth_gate_probability=0.0, model_error_std=0.1, acceleration_std=0.3,
                 measurement_std=0.15, initial_velocity_std=1.5) -> None:
        self.p = dict(high=high_score, low=low_score, new=new_track_score, min_hits=min_hits,
                      lost=lost_buffer_s, tau=lost_velocity_decay_s, stand=lost_stand_speed,
                      cap=lost_max_std_m,
                      model_error=model_error_std, acc=acceleration_std, meas=measurement_std,
                      vel0=initial_velocity_std)
        self.birth_gate = chi2_quantile(birth_gate_probability, 2) if birth_gate_probability > 0 else -1.0
        self.gate = chi2_quantile(gate_probability, 2)
        self.low_gate = chi2_quantile(low_gate_probability, 2)
        self.clock = _Clock(fps)
        self.next_id = 1
        self.tracks: list[dict] = []

    def _lost_transition(self, dt: float) -> Array:
        """F of a lost track: velocity decays as exp(-dt / tau), position moves tau (1 - a) v."""
        tau = self.p["tau"]
        a = 1.0 if np.isinf(tau) else np.exp(-dt / tau)
        b = dt if np.isinf(tau) else tau * (1.0 - a)
        f = np.eye(4)
        f[0, 2] = f[1, 3] = b
        f[2, 2] = f[3, 3] = a
        return f

    def _predict_all(self, dt: float) -> None:
        q = floor_process_noise(dt, self.p["acc"])
        for tr in self.tracks:
            standing = np.hypot(tr["x"][2], tr["x"][3]) < self.p["stand"]  # else it coasts
            f = self._lost_transition(dt) if tr["state"] == LOST and standing else transition(dt, 2)
            tr["x"], tr["P"] = f @ tr["x"], f @ tr["P"] @ f.T + q
            if tr["state"] == LOST:
                # Cap each axis' position std: P <- S P S, S = diag(s_x, s_y, 1, 1).
                s = np.ones(4)
                for i in range(2):
                    if tr["P"][i, i] > self.p["cap"] ** 2:
                        s[i] = self.p["cap"] / np.sqrt(tr["P"][i, i])
                tr["P"] = tr["P"] * np.outer(s, s)
            tr["det"] = -1

    def predicted(self, t=None) -> dict[str, np.ndarray]:
        """The confirmed tracks predicted to t, the tracker itself unchanged."""
        ahead = copy.deepcopy(self)
        ahead._predict_all(ahead.clock.advance(t))
        ahead.tracks = [tr for tr in ahead.tracks if tr["state"] == CONFIRMED]
        return ahead._output()

    def update(self, points, covs=None, scores=None, t=None) -> dict[str, np.ndarray]:
        dt = self.clock.advance(t)
        now = self.clock.last
        self._predict_all(dt)
        points = np.asarray(points, float).reshape(-1, 2)
        n = len(points)
        rs = np.asarray(covs, float).reshape(-1, 2, 2) if covs is not None else np.stack([np.eye(2) * self.p["meas"] ** 2] * n) if n else np.zeros((0, 2, 2))
        sc = np.asarray(scores, np.float32) if scores is not None else np.ones(n, np.float32)
        high, low = [], []
        for j in range(n):
            r = rs[j]
            valid = np.isfinite(points[j]).all() and np.isfinite(sc[j]) and r[0, 0] > 0 and r[1, 1] > 0 \
                and r[0, 0] * r[1, 1] - r[0, 1] * r[1, 0] > 0
            if valid and sc[j] >= self.p["low"]:
                (high if sc[j] >= self.p["high"] else low).append(j)
        rs = rs + np.eye(2) * self.p["model_error"] ** 2  # error the covariances do not model
        done_t, done_d = set(), set()

        def cost(gate):
            def fn(k, j):
                tr = self.tracks[k]
                s = tr["P"][:2, :2] + rs[j]
                y = points[j] - tr["x"][:2]
                d2 = y @ np.linalg.solve(s, y)
                return d2 + np.log(np.linalg.det(s)) if d2 <= gate else np.inf
            return fn

        def take(k, j):
            tr = self.tracks[k]
            m, c = kalman_update(tr["x"][None], tr["P"][None], points[j][None], rs[j][None])
            tr.update(x=m[0], P=c[0], last=now, hits=tr["hits"] + 1, misses=0, det=j, score=float(sc[j]))
            done_t.add(k)
            done_d.add(j)

        pool = [k for k, tr in enumerate(self.tracks) if tr["state"] != TENTATIVE]
        for k, j in _assign(pool, high, cost(self.gate), self.gate + 1e6):
            take(k, j)
        rows = [k for k in pool if k not in done_t]
        for k, j in _assign(rows, low, cost(self.low_gate), self.low_gate + 1e6):
            take(k, j)
        rows = [k for k, tr in enumerate(self.tracks) if tr["state"] == TENTATIVE]
        for k, j in _assign(rows, [j for j in high if j not in done_d], cost(self.gate), self.gate + 1e6):
            take(k, j)
        for k, tr in enumerate(self.tracks):
            if k in done_t:
                if tr["state"] != TENTATIVE or tr["hits"] >= self.p["min_hits"]:
                    tr["state"] = CONFIRMED
            else:
                tr["misses"] += 1
                if tr["state"] == CONFIRMED:
                    tr["state"] = LOST
        self.tracks = [tr for tr in self.tracks
                       if not (tr["state"] == TENTATIVE and tr["misses"] > 0)
                       and not (tr["state"] == LOST and now - tr["last"] > self.p["lost"])]
        confirm = self.clock.first or self.p["min_hits"] <= 1
        updated = [tr for tr in self.tracks if tr["state"] == CONFIRMED and tr["det"] >= 0]

        def duplicate(j):  # inside the birth gate of a confirmed track updated this frame
            for tr in updated:
                y = points[j] - tr["x"][:2]
                if y @ np.linalg.solve(tr["P"][:2, :2] + rs[j], y) <= self.birth_gate:
                    return True
            return False

        for j in high:
            if j in done_d or sc[j] < self.p["new"]:
                continue
            if self.birth_gate > 0 and duplicate(j):
                continue
            p0 = np.zeros((4, 4))
            p0[:2, :2] = rs[j]
            p0[2, 2] = p0[3, 3] = self.p["vel0"] ** 2
            self.tracks.append(dict(id=self.next_id, x=np.r_[points[j], 0.0, 0.0], P=p0,
                                    state=CONFIRMED if confirm else TENTATIVE, hits=1, misses=0,
                                    last=now, det=j, score=float(sc[j])))
            self.next_id += 1
        return self._output()

    def _output(self) -> dict[str, np.ndarray]:
        return {
            "ids": np.array([tr["id"] for tr in self.tracks], np.int64),
            "points": np.array([tr["x"][:2] for tr in self.tracks]).reshape(-1, 2),
            "covariances": np.array([tr["P"][:2, :2] for tr in self.tracks]).reshape(-1, 2, 2),
            "states": np.array([tr["state"] for tr in self.tracks], np.int8),
            "det_index": np.array([tr["det"] for tr in self.tracks], np.int64),
        }


def _iou(a: Array, b: Array) -> float:
    """IoU of two xyxy boxes; 0 when either is degenerate (walkout/common/boxes.hpp)."""
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if not (iw > 0 and ih > 0):
        return 0.0

    def area(x: Array) -> float:
        w, h = x[2] - x[0], x[3] - x[1]
        return w * h if (w > 0 and h > 0) else 0.0

    union = area(a) + area(b) - iw * ih
    return iw * ih / union if union > 0 else 0.0


def _xyxy(c: Array) -> Array:
    return np.array([c[0] - c[2] / 2, c[1] - c[3] / 2, c[0] + c[2] / 2, c[1] + c[3] / 2])


class BoxTrackerTwin:
    """The BoxTracker algorithm (cpp/src/track/box_tracker.cpp) in plain numpy."""

    HISTORY = 8

    def __init__(self, **params) -> None:
        from walkout import _core

        defaults = _core.BoxTrackerParams()  # the defaults' one definition, the C++ struct
        names = [n for n in dir(defaults) if not n.startswith("_") and n != "check"]
        unknown = set(params) - set(names)
        if unknown:
            raise TypeError(f"unknown BoxTracker parameters {sorted(unknown)}")
        self.p = {n: params.get(n, getattr(defaults, n)) for n in names}
        fps = self.p["fps"]
        self.clock = _Clock(fps)
        self.next_id = 1
        self.tracks: list[dict] = []

    def _predict(self, tr: dict, dt: float) -> None:
        q = box_process_noise(tr["x"], dt, self.p["position_noise"], self.p["velocity_noise"])
        f = transition(dt, 4)
        tr["x"], tr["P"] = f @ tr["x"], f @ tr["P"] @ f.T + q

    def _correct(self, tr: dict, z: Array) -> None:
        r = box_measurement_noise(tr["x"], self.p["measurement_noise"])
        m, c = kalman_update(tr["x"][None], tr["P"][None], z[None], r[None])
        tr["x"], tr["P"] = m[0], c[0]

    def _observe(self, tr: dict, z: Array, t: float) -> None:
        hist = tr["hist"]
        if self.p["observation_reupdate"] and tr["misses"] > 0 and hist:
            # Observation-centric re-update: from the last observation along a straight path.
            tr["x"], tr["P"] = tr["saved"][0].copy(), tr["saved"][1].copy()
            t_last, z_last = hist[-1]
            steps = tr["misses"] + 1
            for s in range(1, steps + 1):
                self._predict(tr, (t - t_last) / steps)
                self._correct(tr, z_last + s / steps * (z - z_last))
        else:
            self._correct(tr, z)
        tr["x"][2:4] = np.maximum(tr["x"][2:4], 1.0)
        tr["saved"] = (tr["x"].copy(), tr["P"].copy())
        hist.append((t, z.copy()))
        del hist[:-self.HISTORY]
        tr.update(last=t, hits=tr["hits"] + 1, misses=0)

    def _heading(self, tr: dict):
        hist = tr["hist"]
        if len(hist) < 2:
            return None
        t_last, z_last = hist[-1]
        a = len(hist) - 2
        while a > 0 and t_last - hist[a - 1][0] <= self.p["direction_span_s"] * (1 + 1e-9):
            a -= 1
        d = z_last[:2] - hist[a][1][:2]
        norm = np.hypot(d[0], d[1])
        return (d / norm, hist[a][1][:2]) if norm > 1e-6 else None

    def update(self, boxes, scores, t=None) -> dict[str, np.ndarray]:
        p = self.p
        dt = self.clock.advance(t)
        now = self.clock.last
        for tr in self.tracks:
            if tr["state"] == LOST:
                tr["x"][6:8] = 0.0
            self._predict(tr, dt)
            tr["x"][2:4] = np.maximum(tr["x"][2:4], 1.0)
            tr["det"] = -1
        xyxy = np.asarray(boxes, np.float32).reshape(-1, 4).astype(float)
        sc = np.asarray(scores, np.float32).astype(float)
        cxcywh = np.column_stack([xyxy[:, 0] + (xyxy[:, 2] - xyxy[:, 0]) / 2,
                                  xyxy[:, 1] + (xyxy[:, 3] - xyxy[:, 1]) / 2,
                                  xyxy[:, 2] - xyxy[:, 0], xyxy[:, 3] - xyxy[:, 1]])
        high, low = [], []
        for j in range(len(xyxy)):
            valid = np.isfinite(xyxy[j]).all() and cxcywh[j, 2] > 0 and cxcywh[j, 3] > 0 and np.isfinite(sc[j])
            if valid and sc[j] >= p["low_score"]:
                (high if sc[j] >= p["high_score"] else low).append(j)
        pred = [_xyxy(tr["x"]) for tr in self.tracks]
        done_t, done_d = set(), set()

        def take(k: int, j: int) -> None:
            tr = self.tracks[k]
            self._observe(tr, cxcywh[j], now)
            tr.update(det=j, score=float(sc[j]), best=max(tr["best"], float(sc[j])))
            if sc[j] >= p["high_score"]:
                tr["last_high"] = now
            done_t.add(k)
            done_d.add(j)

        pool = [k for k, tr in enumerate(self.tracks) if tr["state"] != TENTATIVE]
        heads = {k: self._heading(self.tracks[k]) if p["direction_weight"] > 0 else None for k in pool}

        def first_cost(k: int, j: int) -> float:
            iou = _iou(pred[k], xyxy[j])
            sim = iou * sc[j] if p["fuse_score"] else iou
            if sim < p["match_iou"] or iou <= 0:
                return np.inf
            c = 1.0 - sim
            if heads[k] is not None:
                direction, anchor = heads[k]
                d = cxcywh[j, :2] - anchor
                norm = np.hypot(d[0], d[1])
                if norm > 1e-6:
                    cos = min(max((d[0] * direction[0] + d[1] * direction[1]) / norm, -1.0), 1.0)
                    c -= p["direction_weight"] * sc[j] * (np.pi / 2 - np.arccos(cos)) / np.pi
            return c

        for k, j in _assign(pool, high, first_cost, 2.0 + p["direction_weight"]):
            take(k, j)

        def iou_cost(boxes_of, threshold):
            def fn(k, j):
                iou = _iou(boxes_of(k), xyxy[j])
                return 1.0 - iou if iou >= threshold and iou > 0 else np.inf
            return fn

        # Low-score boxes extend only tracks seen with a high score within low_extend_s.
        rows = [k for k in pool if k not in done_t and now - self.tracks[k]["last_high"] <= p["low_extend_s"]]
        for k, j in _assign(rows, low, iou_cost(lambda k: pred[k], p["low_match_iou"]), 1.0):
            take(k, j)
        rows = [k for k in pool if k not in done_t]
        last_box = {k: _xyxy(self.tracks[k]["hist"][-1][1]) for k in rows}
        for k, j in _assign(rows, [j for j in high if j not in done_d],
                            iou_cost(lambda k: last_box[k], p["recovery_iou"]), 1.0):
            take(k, j)
        seen = [self.tracks[k]["det"] for k in pool if k in done_t]  # people matched now

        def behind_nearer(j):
            # Partly behind a matched person standing nearer the camera (lower box bottom)?
            a = xyxy[j]
            for o in seen:
                b = xyxy[o]
                iw = min(a[2], b[2]) - max(a[0], b[0])
                ih = min(a[3], b[3]) - max(a[1], b[1])
                if b[3] > a[3] and iw > 0 and ih > 0 and \
                        iw * ih >= p["occluded_birth_cover"] * (a[2] - a[0]) * (a[3] - a[1]):
                    return True
            return False

        def may_start(j):
            return sc[j] >= p["new_track_score"] or (sc[j] >= p["occluded_birth_score"] and behind_nearer(j))

        starters = [j for j in high if j not in done_d] + [j for j in low if j not in done_d and may_start(j)]

        def tentative_cost(k, j):
            iou = _iou(pred[k], xyxy[j])
            sim = iou * sc[j] if p["fuse_score"] and sc[j] >= p["high_score"] else iou
            return 1.0 - sim if sim >= p["tentative_match_iou"] and iou > 0 else np.inf

        rows = [k for k, tr in enumerate(self.tracks) if tr["state"] == TENTATIVE]
        for k, j in _assign(rows, starters, tentative_cost, 1.0):
            take(k, j)
        for k, tr in enumerate(self.tracks):
            if k in done_t:
                # Confirmed after min_hits hits, one of them at or above confirm_score.
                if tr["state"] != TENTATIVE or (tr["hits"] >= p["min_hits"] and tr["best"] >= p["confirm_score"]):
                    tr["state"] = CONFIRMED
            else:
                tr["misses"] += 1
                if tr["state"] == CONFIRMED:
                    tr["state"] = LOST
        self.tracks = [tr for tr in self.tracks
                       if not (tr["state"] == TENTATIVE and tr["misses"] > 0)
                       and not (tr["state"] == LOST and now - tr["last"] > p["lost_buffer_s"])]
        confirm = self.clock.first or p["min_hits"] <= 1
        for j in starters:
            if j in done_d or not may_start(j):
                continue
            z = cxcywh[j].copy()
            side = np.array([z[2], z[3], z[2], z[3]])
            p0 = np.diag(np.r_[(p["initial_position_std"] * side) ** 2, (p["initial_velocity_std"] * side) ** 2])
            x0 = np.r_[z, np.zeros(4)]
            born_confirmed = confirm and sc[j] >= p["confirm_score"]
            self.tracks.append(dict(id=self.next_id, x=x0, P=p0, saved=(x0.copy(), p0.copy()),
                                    state=CONFIRMED if born_confirmed else TENTATIVE, hits=1, misses=0,
                                    last=now, hist=[(now, z)], det=j, score=float(sc[j]),
                                    best=float(sc[j]),
                                    last_high=now if sc[j] >= p["high_score"] else -np.inf))
            self.next_id += 1
        return self._output(now)

    def _output(self, now: float) -> dict[str, np.ndarray]:
        # Output policy: confirmed and matched now, or lost for at most output_lost_s.
        reported = [(tr["state"] == CONFIRMED and tr["det"] >= 0)
                    or (tr["state"] == LOST and now - tr["last"] <= self.p["output_lost_s"])
                    for tr in self.tracks]
        return {
            "reported": np.array(reported, bool),
            "ids": np.array([tr["id"] for tr in self.tracks], np.int64),
            "boxes": np.array([_xyxy(tr["x"]) for tr in self.tracks]).reshape(-1, 4),
            "states": np.array([tr["state"] for tr in self.tracks], np.int8),
            "det_index": np.array([tr["det"] for tr in self.tracks], np.int64),
        }
