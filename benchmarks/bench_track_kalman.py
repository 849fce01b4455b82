"""Batched Kalman filters: walkout's compiled box and floor filters against a vectorised numpy
batch (tests/twins/track.py: the readable twin, all tracks in one set of einsum/matmul calls)
and filterpy (one KalmanFilter object per track, the usual Python way), for 50 tracks, one
predict + update step per frame.

All three are checked to agree (1e-9) after the timed steps. Target (issue #4): the compiled
step >= 8x faster than the numpy batch.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # see bench_track_assignment.py

import sys
from pathlib import Path

import numpy as np

from bench_track_common import blocked_medians
from harness import format_seconds, markdown_table, write_results

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from twins import track as twin
from walkout import _core

TRACKS = 50
DT = 1 / 30


def box_states(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    means = np.zeros((TRACKS, 8))
    means[:, :2] = rng.uniform(0, 1000, (TRACKS, 2))
    means[:, 2:4] = rng.uniform(30, 200, (TRACKS, 2))
    covs = np.stack([np.diag(np.r_[np.full(4, 25.0), np.full(4, 400.0)])] * TRACKS)
    z = means[:, :4] + rng.normal(0, 2, (TRACKS, 4))
    return means, covs, z


def main() -> None:
    try:
        from filterpy.kalman import KalmanFilter
    except ImportError:
        KalmanFilter = None
        print("note: filterpy is not installed (pip install filterpy); skipping it")

    rng = np.random.default_rng(0)
    means0, covs0, z = box_states(rng)
    ours_m, ours_c = means0.copy(), covs0.copy()
    np_state = [means0.copy(), covs0.copy()]
    filters = []
    if KalmanFilter is not None:
        for k in range(TRACKS):
            kf = KalmanFilter(dim_x=8, dim_z=4)
            kf.x, kf.P, kf.H = means0[k].copy(), covs0[k].copy(), twin.measurement_matrix(4)
            filters.append(kf)

    def step_ours() -> None:
        _core.track_box_kalman_predict(ours_m, ours_c, DT)
        _core.track_box_kalman_update(ours_m, ours_c, z)

    def step_numpy() -> None:
        np_state[0], np_state[1] = twin.box_batch_step(np_state[0], np_state[1], DT, z)

    def step_filterpy() -> None:
        f = twin.transition(DT, 4)
        for k, kf in enumerate(filters):
            kf.predict(F=f, Q=twin.box_process_noise(kf.x, DT, 0.27, 1.0))
            kf.update(z[k], R=twin.box_measurement_noise(kf.x, 0.05))

    fns = {"walkout": step_ours, "numpy batch": step_numpy}
    if filters:
        fns["filterpy"] = step_filterpy
    # Every contender takes the same number of steps, so their states stay comparable.
    t = blocked_medians(fns, repeat=301, warmup=3)
    np.testing.assert_allclose(ours_m, np_state[0], rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(ours_c, np_state[1], rtol=1e-9, atol=1e-6)
    if filters:
        np.testing.assert_allclose(ours_m, np.stack([kf.x for kf in filters]), rtol=1e-9, atol=1e-6)

    # Floor filter: per-measurement covariances, same comparison against the numpy twin.
    fm = np.column_stack([rng.uniform(0, 10, (TRACKS, 2)), rng.normal(0, 1, (TRACKS, 2))])
    fc = np.stack([np.diag([0.04, 0.04, 1.0, 1.0])] * TRACKS)
    fz = fm[:, :2] + rng.normal(0, 0.1, (TRACKS, 2))
    fr = np.stack([np.eye(2) * rng.uniform(0.005, 0.05) for _ in range(TRACKS)])
    floor_ours = [fm.copy(), fc.copy()]
    floor_np = [fm.copy(), fc.copy()]
    qs = np.stack([twin.floor_process_noise(DT, 0.5)] * TRACKS)
    dts = np.full(TRACKS, DT)

    def floor_step_ours() -> None:
        _core.track_floor_kalman_predict(floor_ours[0], floor_ours[1], DT, acceleration_std=0.5)
        _core.track_floor_kalman_update(floor_ours[0], floor_ours[1], fz, fr)

    def floor_step_numpy() -> None:
        m, c = twin.kalman_predict(floor_np[0], floor_np[1], dts, qs)
        floor_np[0], floor_np[1] = twin.kalman_update(m, c, fz, fr)

    tf = blocked_medians({"walkout": floor_step_ours, "numpy batch": floor_step_numpy}, repeat=301)
    np.testing.assert_allclose(floor_ours[0], floor_np[0], rtol=1e-9, atol=1e-9)

    rows = [
        ["box (8-state, noise by box size)", format_seconds(t["walkout"]), format_seconds(t["numpy batch"]),
         format_seconds(t["filterpy"]) if "filterpy" in t else "—",
         f"{t['numpy batch'] / t['walkout']:.1f}x",
         f"{t['filterpy'] / t['walkout']:.0f}x" if "filterpy" in t else "—"],
        ["floor (4-state, covariance per measurement)", format_seconds(tf["walkout"]),
         format_seconds(tf["numpy batch"]), "—", f"{tf['numpy batch'] / tf['walkout']:.1f}x", "—"],
    ]
    body = (
        f"{TRACKS} tracks, one predict + update per step (dt = 1/30 s), in rotating blocks (bench_track_common.py), median of "
        f"301 steps each. walkout = two calls (`track_*_kalman_predict`, `track_*_kalman_update`) "
        f"updating the (N, D) and (N, D, D) arrays in place. numpy batch = the vectorised twin in "
        f"tests/twins/track.py (box: `box_batch_step`, one set of batched matmuls; floor: "
        f"`kalman_predict` + `kalman_update`). filterpy = one KalmanFilter per track with the same "
        f"F, Q, H, R. States agree to 1e-9 after the run.\n\n"
        + markdown_table(["filter", "walkout", "numpy batch", "filterpy", "numpy / walkout",
                          "filterpy / walkout"], rows)
        + f"\n\nTarget: >= 8x faster than the numpy batch "
        f"({'met' if t['numpy batch'] / t['walkout'] >= 8 else 'not met'} for the box filter)."
    )
    write_results("track_kalman", "Batched Kalman filters (50 tracks)", body)


if __name__ == "__main__":
    main()
