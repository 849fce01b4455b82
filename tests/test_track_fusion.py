"""walkout.track.fuse_views against its numpy twin and its contract."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from twins.track import fuse_views as twin_fuse
from walkout.track import fuse_views


def random_views(seed: int, cameras: int, people: int):
    """Each camera sees each person with probability 0.8, with depth-dependent noise, plus
    an occasional false positive."""
    rng = np.random.default_rng(seed)
    truth = rng.uniform(0, 10, (people, 2))
    points, covs = [], []
    for _ in range(cameras):
        pts, cvs = [], []
        for p in truth:
            if rng.random() < 0.8:
                a = rng.normal(0, 0.1, (2, 2))
                cov = a @ a.T + 0.002 * np.eye(2)
                pts.append(p + rng.multivariate_normal([0, 0], cov))
                cvs.append(cov)
        if rng.random() < 0.3:
            pts.append(rng.uniform(0, 10, 2))
            cvs.append(np.eye(2) * 0.05)
        order = rng.permutation(len(pts))
        points.append(np.array(pts).reshape(-1, 2)[order])
        covs.append(np.array(cvs).reshape(-1, 2, 2)[order])
    return points, covs


@given(st.integers(0, 2**32 - 1), st.integers(0, 4), st.integers(0, 6), st.sampled_from([0.9, 0.99, 0.999]))
def test_agrees_with_numpy_twin(seed, cameras, people, gate):
    points, covs = random_views(seed, cameras, people)
    got = fuse_views(points, covs, gate)
    ref_points, ref_covs, ref_members = twin_fuse(points, covs, gate)
    np.testing.assert_array_equal(got.members, ref_members)
    np.testing.assert_allclose(got.points, ref_points, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got.covariances, ref_covs, rtol=1e-9, atol=1e-15)


@given(st.integers(0, 2**32 - 1), st.integers(1, 4), st.integers(0, 6))
def test_every_detection_goes_into_exactly_one_fused_point(seed, cameras, people):
    points, covs = random_views(seed, cameras, people)
    fused = fuse_views(points, covs)
    assert fused.members.shape == (len(fused.points), cameras)
    for c in range(cameras):
        used = fused.members[:, c][fused.members[:, c] >= 0]
        assert sorted(used.tolist()) == list(range(len(points[c])))
    assert np.all((fused.members >= 0).sum(axis=1) >= 1)
    # A fused covariance is never larger than any of its parts (information only adds).
    for k, row in enumerate(fused.members):
        for c, j in enumerate(row):
            if j >= 0:
                assert np.all(np.linalg.eigvalsh(covs[c][j] - fused.covariances[k]) >= -1e-12)


def test_documented_example():
    fused = fuse_views([np.array([[1.0, 2.0]]), np.array([[1.06, 2.02]])],
                       [np.eye(2)[None] * 0.01, np.eye(2)[None] * 0.04])
    np.testing.assert_allclose(fused.points, [[1.012, 2.004]])
    np.testing.assert_allclose(fused.covariances, [np.eye(2) * 0.008])
    assert fused.members.tolist() == [[0, 0]]


def test_far_points_stay_apart_and_one_camera_never_merges_with_itself():
    cov = np.eye(2)[None] * 0.01
    fused = fuse_views([np.array([[0.0, 0.0]]), np.array([[3.0, 0.0]])], [cov, cov])
    assert fused.members.tolist() == [[0, -1], [-1, 0]]
    fused = fuse_views([np.array([[0.0, 0.0], [0.01, 0.0]])], [np.repeat(cov, 2, 0)])
    assert len(fused.points) == 2


@pytest.mark.parametrize(
    ("points", "covs", "match"),
    [
        ([np.zeros((2, 3))], [np.zeros((2, 2, 2))], r"points_per_camera\[0\]: expected shape \(N, 2\)"),
        ([np.zeros((2, 2))], [np.zeros((3, 2, 2))], r"covs_per_camera\[0\]: expected shape \(2, 2, 2\)"),
        ([np.zeros((1, 2))], [], "covs_per_camera: expected one"),
        ([np.zeros((1, 2))], [np.zeros((1, 2, 2))], "positive-definite"),
    ],
)
def test_bad_input_raises_value_error(points, covs, match):
    with pytest.raises(ValueError, match=match):
        fuse_views(points, covs)
