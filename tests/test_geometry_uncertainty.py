"""Floor covariance and triangulation: against the twin, Monte-Carlo, and noise-based bounds."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from twins import geometry as twin
from twins.geometry_cases import ceiling_cameras, core_args, make_camera, pixels_in_image
from walkout.geometry import Camera, triangulate

seeds = st.integers(0, 2**32 - 1)


@given(ceiling_cameras(), seeds, st.floats(0.1, 5.0))
def test_floor_covariance_matches_the_twin(cam: Camera, seed: int, sigma: float) -> None:
    pixels = pixels_in_image(np.random.default_rng(seed), 16)
    ours = cam.floor_covariance(pixels, sigma)
    expected = twin.floor_covariance(pixels, *core_args(cam), sigma)
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-12)
    np.testing.assert_allclose(ours, np.transpose(ours, (0, 2, 1)), atol=0)  # symmetric
    assert (np.linalg.eigvalsh(ours) > 0).all()


def test_floor_covariance_matches_monte_carlo() -> None:
    cam = make_camera([1.0, 1.0, 3.2], [5.0, 4.0, 0.0], f=700.0, dist=[-0.1, 0.02, 0.001, -0.001, 0.0])
    rng = np.random.default_rng(7)
    sigma = 1.5
    pixels = np.array([[640.0, 360.0], [100.0, 650.0], [1200.0, 80.0], [300.0, 120.0]])
    predicted = cam.floor_covariance(pixels, sigma)
    for pixel, cov in zip(pixels, predicted, strict=True):
        samples = pixel + rng.normal(0.0, sigma, (40000, 2))
        floor = cam.floor_from_image(samples)
        empirical = np.cov(floor.T)
        # 40000 samples: the sample covariance is within ~1.5 % (2 / sqrt(n) of relative
        # error on each entry); 4 % leaves room for the second-order terms the linearisation drops.
        scale = np.sqrt(np.outer(np.diag(cov), np.diag(cov)))
        np.testing.assert_allclose(empirical / scale, cov / scale, atol=0.04)
    # Far and oblique views are less certain than near ones: the top of the image is farther.
    assert np.trace(predicted[2]) > np.trace(predicted[0]) > 0


@given(ceiling_cameras(), seeds)
def test_floor_covariance_matches_monte_carlo_for_random_cameras(cam: Camera, seed: int) -> None:
    rng = np.random.default_rng(seed)
    pixel = pixels_in_image(rng, 1, margin=40)
    sigma = 1.0
    cov = cam.floor_covariance(pixel, sigma)[0]
    floor = cam.floor_from_image(pixel + rng.normal(0.0, sigma, (40000, 2)))
    empirical = np.cov(floor.T)
    # Each normalised entry of a 40000-sample covariance has a standard error of ~1 %
    # (sqrt(2 / n) on the diagonal); 6 % is > 5 of them plus the linearisation's share.
    scale = np.sqrt(np.outer(np.diag(cov), np.diag(cov)))
    np.testing.assert_allclose(empirical / scale, cov / scale, atol=0.06)


def _rig(rng: np.random.Generator, m: int) -> list[Camera]:
    """m ceiling cameras around a 4 x 4 m work area, all looking at its middle."""
    cams = []
    for i in range(m):
        angle = 2 * np.pi * i / m + rng.uniform(-0.3, 0.3)
        centre = [2 + 3.5 * np.cos(angle), 2 + 3.5 * np.sin(angle), rng.uniform(2.6, 3.4)]
        dist = [rng.uniform(-0.15, 0.0), rng.uniform(-0.02, 0.02), 0.0, 0.0, 0.0]
        cams.append(make_camera(centre, [2.0, 2.0, 1.0], f=rng.uniform(600, 1000), dist=dist,
                                roll=rng.uniform(-0.2, 0.2)))
    return cams


@given(st.integers(2, 8), seeds, st.sampled_from([0.0, 0.5, 2.0]))
def test_triangulation_recovers_points_within_noise_bounds(m: int, seed: int, sigma: float) -> None:
    rng = np.random.default_rng(seed)
    cams = _rig(rng, m)
    truth = np.column_stack([rng.uniform(1.0, 3.0, 20), rng.uniform(1.0, 3.0, 20), rng.uniform(0.3, 1.8, 20)])
    clean = np.stack([c.image_from_store(truth) for c in cams])
    noisy = clean + rng.normal(0.0, sigma, clean.shape)
    points, residuals = triangulate(cams, noisy)
    assert not np.isnan(points).any()
    for j in range(len(truth)):
        # The estimate's covariance to first order: sigma² (JᵀJ)⁻¹, J the stacked 2x3 projection
        # Jacobians. Its Mahalanobis distance to the truth is chi-square with 3 dof; 40 is the
        # 1 - 1e-8 quantile, so an honest estimator fails this once in 10^8 points.
        J = np.concatenate([_jacobian(c, truth[j]) for c in cams])
        if sigma == 0.0:
            np.testing.assert_allclose(points[j], truth[j], atol=1e-6)
            assert residuals[j] < 1e-6
            continue
        info = J.T @ J / sigma**2
        err = points[j] - truth[j]
        assert err @ info @ err < 40.0, (m, j, err)
        # RMS residual over m views of 2 pixels each, 3 parameters fitted: below 5 sigma unless
        # something is wrong (E[residual²] = sigma² (2m - 3) / m).
        assert residuals[j] < 5 * sigma


@given(st.integers(2, 5), seeds)
def test_triangulation_matches_the_twin(m: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    cams = _rig(rng, m)
    truth = np.column_stack([rng.uniform(1, 3, 2), rng.uniform(1, 3, 2), rng.uniform(0.3, 1.8, 2)])
    pixels = np.stack([c.image_from_store(truth) for c in cams]) + rng.normal(0, 1.0, (m, 2, 2))
    points, residuals = triangulate(cams, pixels)
    expected, expected_res = twin.triangulate([core_args(c) for c in cams], pixels)
    np.testing.assert_allclose(points, expected, atol=1e-6)
    np.testing.assert_allclose(residuals, expected_res, rtol=1e-5, atol=1e-8)


def test_refinement_beats_the_linear_estimate_under_noise() -> None:
    rng = np.random.default_rng(3)
    cams = _rig(rng, 3)
    truth = np.column_stack([rng.uniform(1, 3, 400), rng.uniform(1, 3, 400), rng.uniform(0.3, 1.8, 400)])
    pixels = np.stack([c.image_from_store(truth) for c in cams]) + rng.normal(0, 2.0, (3, 400, 2))
    _dlt, dlt_res = triangulate(cams, pixels, refine_iterations=0)
    _refined, refined_res = triangulate(cams, pixels)
    assert (refined_res <= dlt_res + 1e-12).all()  # Gauss-Newton never worsens the fit
    assert np.mean(refined_res) < np.mean(dlt_res)


def test_points_seen_once_are_nan_and_missing_views_are_skipped() -> None:
    rng = np.random.default_rng(5)
    cams = _rig(rng, 3)
    truth = np.array([[2.0, 2.0, 1.0], [2.5, 1.5, 0.5]])
    pixels = np.stack([c.image_from_store(truth) for c in cams])
    pixels[1:, 0] = np.nan  # point 0 only in camera 0
    pixels[0, 1] = np.nan  # point 1 in cameras 1 and 2
    points, residuals = triangulate(cams, pixels)
    assert np.isnan(points[0]).all() and np.isnan(residuals[0])
    np.testing.assert_allclose(points[1], truth[1], atol=1e-6)


def test_triangulate_refuses_bad_input() -> None:
    cams = _rig(np.random.default_rng(1), 2)
    with pytest.raises(ValueError, match="cameras: expected at least 2"):
        triangulate(cams[:1], np.zeros((1, 3, 2)))
    with pytest.raises(ValueError, match=r"pixels_per_camera: expected shape \(2, N, 2\)"):
        triangulate(cams, np.zeros((3, 4, 2)))


def _jacobian(cam: Camera, X: np.ndarray, h: float = 1e-6) -> np.ndarray:
    cols = [(cam.image_from_store((X + e)[None]) - cam.image_from_store((X - e)[None]))[0] / (2 * h)
            for e in np.eye(3) * h]
    return np.column_stack(cols)
