"""Batched Kalman filters against filterpy (same matrices, step by step) and the numpy twins."""

from __future__ import annotations

import numpy as np
import pytest
from filterpy.kalman import KalmanFilter
from hypothesis import given
from hypothesis import strategies as st

from twins import track as twin
from walkout import _core
from walkout.track import chi2_gate


def random_box_states(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    means = np.zeros((n, 8))
    means[:, 0:2] = rng.uniform(0, 1000, (n, 2))
    means[:, 2:4] = rng.uniform(20, 300, (n, 2))
    means[:, 4:8] = rng.normal(0, 30, (n, 4))
    a = rng.normal(size=(n, 8, 8))
    covs = a @ np.swapaxes(a, 1, 2) + 8 * np.eye(8)
    covs *= rng.uniform(1, 100, (n, 1, 1))
    return means, covs


@given(st.integers(0, 2**32 - 1), st.integers(1, 6), st.integers(1, 12))
def test_box_filter_matches_filterpy_step_by_step(seed, n, steps):
    rng = np.random.default_rng(seed)
    means, covs = random_box_states(rng, n)
    pos, vel, meas = 0.27, 1.0, 0.05
    filters = []
    for k in range(n):
        kf = KalmanFilter(dim_x=8, dim_z=4)
        kf.x, kf.P, kf.H = means[k].copy(), covs[k].copy(), twin.measurement_matrix(4)
        filters.append(kf)
    for _ in range(steps):
        dt = float(rng.uniform(0.005, 0.2))
        _core.track_box_kalman_predict(means, covs, dt, position_noise=pos, velocity_noise=vel)
        z = means[:, :4] + rng.normal(0, 5, (n, 4))
        for kf in filters:
            kf.predict(F=twin.transition(dt, 4), Q=twin.box_process_noise(kf.x, dt, pos, vel))
        np.testing.assert_allclose(means, np.stack([kf.x for kf in filters]), rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(covs, np.stack([kf.P for kf in filters]), rtol=1e-9, atol=1e-9)
        for k, kf in enumerate(filters):
            kf.update(z[k], R=twin.box_measurement_noise(kf.x, meas))
        _core.track_box_kalman_update(means, covs, z, measurement_noise=meas)
        np.testing.assert_allclose(means, np.stack([kf.x for kf in filters]), rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(covs, np.stack([kf.P for kf in filters]), rtol=1e-9,
                                   atol=1e-9 * np.abs(covs).max())


@given(st.integers(0, 2**32 - 1), st.integers(1, 6), st.integers(1, 12))
def test_floor_filter_matches_filterpy_with_per_measurement_noise(seed, n, steps):
    rng = np.random.default_rng(seed)
    means = np.column_stack([rng.uniform(0, 10, (n, 2)), rng.normal(0, 1.2, (n, 2))])
    covs = np.stack([np.diag([0.04, 0.04, 1.0, 1.0])] * n)
    acc = float(rng.uniform(0.3, 3))
    filters = []
    for k in range(n):
        kf = KalmanFilter(dim_x=4, dim_z=2)
        kf.x, kf.P, kf.H = means[k].copy(), covs[k].copy(), twin.measurement_matrix(2)
        filters.append(kf)
    for _ in range(steps):
        dt = float(rng.uniform(0.01, 0.5))
        _core.track_floor_kalman_predict(means, covs, dt, acceleration_std=acc)
        for kf in filters:
            kf.predict(F=twin.transition(dt, 2), Q=twin.floor_process_noise(dt, acc))
        a = rng.normal(0, 0.2, (n, 2, 2))
        rs = a @ np.swapaxes(a, 1, 2) + 0.001 * np.eye(2)
        z = means[:, :2] + rng.normal(0, 0.1, (n, 2))
        _core.track_floor_kalman_update(means, covs, z, rs)
        for k, kf in enumerate(filters):
            kf.update(z[k], R=rs[k])
        np.testing.assert_allclose(means, np.stack([kf.x for kf in filters]), rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(covs, np.stack([kf.P for kf in filters]), rtol=1e-9, atol=1e-12)


@given(st.integers(0, 2**32 - 1), st.integers(0, 8))
def test_box_filter_agrees_with_numpy_twin_with_per_track_dt(seed, n):
    rng = np.random.default_rng(seed)
    means, covs = random_box_states(rng, n)
    dts = rng.uniform(0, 0.3, n)
    ref_m, ref_c = twin.box_predict(means, covs, dts)
    _core.track_box_kalman_predict(means, covs, dts)
    np.testing.assert_allclose(means, ref_m, rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(covs, ref_c, rtol=1e-10, atol=1e-9)
    z = means[:, :4] + rng.normal(0, 3, (n, 4))
    ref_m, ref_c = twin.box_update(means, covs, z)
    _core.track_box_kalman_update(means, covs, z)
    np.testing.assert_allclose(means, ref_m, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(covs, ref_c, rtol=1e-9, atol=1e-9 * max(1.0, np.abs(covs).max(initial=0.0)))


@given(st.integers(0, 2**32 - 1), st.integers(0, 5), st.integers(0, 5))
def test_floor_gating_distance_agrees_with_twin(seed, n, k):
    rng = np.random.default_rng(seed)
    means = np.column_stack([rng.uniform(0, 10, (n, 2)), rng.normal(0, 1, (n, 2))])
    a = rng.normal(0, 0.3, (n, 4, 4))
    covs = a @ np.swapaxes(a, 1, 2) + 0.01 * np.eye(4)
    z = rng.uniform(0, 10, (k, 2))
    b = rng.normal(0, 0.2, (k, 2, 2))
    rs = b @ np.swapaxes(b, 1, 2) + 0.001 * np.eye(2)
    got = _core.track_floor_gating_distance(means, covs, z, rs)
    np.testing.assert_allclose(got, twin.floor_gating_distance(means, covs, z, rs), rtol=1e-9)


@given(st.floats(0.5, 0.9999), st.integers(1, 4))
def test_chi2_gate_matches_scipy(p, dof):
    assert chi2_gate(p, dof) == pytest.approx(twin.chi2_quantile(p, dof), rel=1e-8)


def test_chi2_gate_known_values():
    # deep_sort's chi2inv95 table.
    assert chi2_gate(0.95, 2) == pytest.approx(5.9915, abs=1e-4)
    assert chi2_gate(0.95, 4) == pytest.approx(9.4877, abs=1e-4)
    with pytest.raises(ValueError, match="gate_probability"):
        chi2_gate(1.0, 2)


def test_zero_dt_predict_only_adds_nothing():
    rng = np.random.default_rng(1)
    means, covs = random_box_states(rng, 3)
    m0, c0 = means.copy(), covs.copy()
    _core.track_box_kalman_predict(means, covs, 0.0)
    np.testing.assert_array_equal(means, m0)
    np.testing.assert_allclose(covs, c0)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: _core.track_box_kalman_predict(np.zeros((2, 8), np.float32), np.zeros((2, 8, 8)), 0.1),
         "means: expected a C-contiguous float64"),
        (lambda: _core.track_box_kalman_predict(np.zeros((2, 7)), np.zeros((2, 8, 8)), 0.1),
         r"means: expected shape \(N, 8\)"),
        (lambda: _core.track_box_kalman_predict(np.zeros((2, 8)), np.zeros((3, 8, 8)), 0.1),
         r"covariances: expected shape \(2, 8, 8\)"),
        (lambda: _core.track_box_kalman_predict(np.zeros((2, 8)), np.zeros((2, 8, 8)), np.zeros(3)),
         r"dt: expected shape \(2,\)"),
        (lambda: _core.track_box_kalman_predict(np.zeros((2, 8)), np.zeros((2, 8, 8)), -1.0),
         "dt: expected finite seconds"),
        (lambda: _core.track_floor_kalman_update(np.zeros((1, 4)), np.eye(4)[None].copy(), np.zeros((2, 2)),
                                                 np.eye(2)[None]), r"points: expected shape \(1, 2\)"),
        (lambda: _core.track_floor_kalman_update(np.zeros((1, 4)), np.zeros((1, 4, 4)), np.zeros((1, 2)),
                                                 np.zeros((1, 2, 2))), "not positive definite"),
    ],
)
def test_bad_input_raises_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()
