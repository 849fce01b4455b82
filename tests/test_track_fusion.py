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


@given(st.integers(0, 2**32 - 1), st.integers(0, 4), st.integers(0, 6), st.sampled_from([0.9, 0.99, 0.999]),
       st.sampled_from([0.0, 0.1, 0.3]), st.sampled_from([0.0, 0.3, 0.6, 1.5]))
def test_agrees_with_numpy_twin(seed, cameras, people, gate, model_error, radius):
    points, covs = random_views(seed, cameras, people)
    got = fuse_views(points, covs, gate, model_error_std=model_error, merge_radius_m=radius)
    ref_points, ref_covs, ref_members = twin_fuse(points, covs, gate, model_error, radius)
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


@given(st.integers(0, 2**32 - 1), st.integers(1, 5), st.integers(0, 8), st.sampled_from([0.3, 0.6, 1.2]))
def test_no_two_groups_closer_than_the_merge_radius_share_no_camera(seed, cameras, people, radius):
    """After the merge, two groups closer than the radius are always two people some camera
    saw side by side; and every detection is still in exactly one group."""
    points, covs = random_views(seed, cameras, people)
    fused = fuse_views(points, covs, merge_radius_m=radius)
    seen = fused.members >= 0
    for a in range(len(fused.points)):
        for b in range(a + 1, len(fused.points)):
            if np.hypot(*(fused.points[a] - fused.points[b])) < radius:
                assert (seen[a] & seen[b]).any()
    for c in range(cameras):
        used = fused.members[:, c][fused.members[:, c] >= 0]
        assert sorted(used.tolist()) == list(range(len(points[c])))


def test_one_person_outside_each_others_gate_is_merged_two_seen_by_one_camera_are_not():
    tight = np.eye(2)[None] * 0.01  # 0.1 m std: 0.45 m apart is far outside the 0.99 gate
    one_person = ([np.array([[2.0, 2.0]]), np.array([[2.45, 2.0]])], [tight, tight])
    assert len(fuse_views(*one_person, merge_radius_m=0.0).points) == 2
    merged = fuse_views(*one_person, merge_radius_m=0.6)
    assert merged.members.tolist() == [[0, 0]]
    np.testing.assert_allclose(merged.points, [[2.225, 2.0]])
    # Camera 0 sees two people 0.45 m apart: they stay two, camera 1's view joins the nearer.
    two_people = ([np.array([[2.0, 2.0], [2.45, 2.0]]), np.array([[2.5, 2.0]])],
                  [np.repeat(tight, 2, 0), tight])
    fused = fuse_views(*two_people, merge_radius_m=0.6)
    assert sorted(fused.members.tolist()) == [[0, -1], [1, 0]]


def test_model_error_widens_the_gate_and_the_covariance():
    tight = np.eye(2)[None] * 0.01
    views = ([np.array([[2.0, 2.0]]), np.array([[2.45, 2.0]])], [tight, tight])
    fused = fuse_views(*views, model_error_std=0.2, merge_radius_m=0.0)
    assert fused.members.tolist() == [[0, 0]]
    np.testing.assert_allclose(fused.covariances, [np.eye(2) * 0.05 / 2])


def random_priors(seed: int, points, covs):
    """Priors near some of the points (a tracker's predictions) plus a stray one."""
    rng = np.random.default_rng(seed ^ 0x5EED)
    anchors = [p for pts in points for p in pts]
    chosen = [a + rng.normal(0, 0.1, 2) for a in anchors if rng.random() < 0.5]
    chosen.append(rng.uniform(0, 10, 2))
    a = rng.normal(0, 0.1, (len(chosen), 2, 2))
    return np.array(chosen).reshape(-1, 2), a @ np.swapaxes(a, 1, 2) + 0.003 * np.eye(2)


@given(st.integers(0, 2**32 - 1), st.integers(0, 4), st.integers(0, 6),
       st.sampled_from([0.0, 0.1]), st.sampled_from([0.0, 0.6]))
def test_with_priors_agrees_with_numpy_twin_and_uses_every_detection_once(seed, cameras, people,
                                                                           model_error, radius):
    points, covs = random_views(seed, cameras, people)
    prior_points, prior_covs = random_priors(seed, points, covs)
    kwargs = dict(model_error_std=model_error, merge_radius_m=radius, prior_points=prior_points,
                  prior_covariances=prior_covs)
    got = fuse_views(points, covs, **kwargs)
    ref_points, ref_covs, ref_members = twin_fuse(points, covs, 0.99, **kwargs)
    np.testing.assert_array_equal(got.members, ref_members)
    np.testing.assert_allclose(got.points, ref_points, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got.covariances, ref_covs, rtol=1e-9, atol=1e-15)
    for c in range(cameras):
        used = got.members[:, c][got.members[:, c] >= 0]
        assert sorted(used.tolist()) == list(range(len(points[c])))
    assert np.all((got.members >= 0).sum(axis=1) >= 1)  # a prior nobody joined is dropped


def test_priors_keep_neighbours_views_apart_and_never_move_the_estimate():
    """Two people 0.7 m apart; camera 0 sees only the first, camera 1 only the second with its
    point 0.3 m off towards the first. Alone, fusion joins both views into one person; with
    the tracked people's predictions each view stays with its own person, and the estimates
    are the detections' own (the prior is not counted)."""
    cov = np.eye(2)[None] * 0.15**2
    points = [np.array([[0.0, 0.0]]), np.array([[0.4, 0.0]])]
    alone = fuse_views(points, [cov, cov], merge_radius_m=0.0)
    assert alone.members.tolist() == [[0, 0]]
    priors = np.array([[0.0, 0.0], [0.7, 0.0]])
    guided = fuse_views(points, [cov, cov], merge_radius_m=0.0, prior_points=priors,
                        prior_covariances=np.repeat(np.eye(2)[None] * 0.05**2, 2, 0))
    assert guided.members.tolist() == [[0, -1], [-1, 0]]
    np.testing.assert_allclose(guided.points, [[0.0, 0.0], [0.4, 0.0]])
    np.testing.assert_allclose(guided.covariances, np.repeat(cov, 2, 0))


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"prior_points": np.zeros((1, 2))}, "expected both prior_points and prior_covariances"),
    ({"prior_points": np.zeros((1, 3)), "prior_covariances": np.zeros((1, 2, 2))},
     r"prior_points: expected shape \(N, 2\)"),
    ({"prior_points": np.zeros((2, 2)), "prior_covariances": np.zeros((1, 2, 2))},
     r"prior_covariances: expected shape \(2, 2, 2\)"),
    ({"prior_points": np.zeros((1, 2)), "prior_covariances": np.zeros((1, 2, 2))},
     "prior_points/prior_covariances: row 0 must be finite"),
])
def test_bad_priors_raise_value_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        fuse_views([np.zeros((1, 2))], [np.eye(2)[None]], **kwargs)


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


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"gate_probability": 1.0}, r"gate_probability: expected a probability in \(0, 1\)"),
    ({"model_error_std": -0.1}, "model_error_std: expected a finite value >= 0"),
    ({"model_error_std": float("nan")}, "model_error_std: expected a finite value >= 0"),
    ({"merge_radius_m": -1.0}, "merge_radius_m: expected a finite value >= 0"),
    ({"merge_radius_m": float("inf")}, "merge_radius_m: expected a finite value >= 0"),
])
def test_bad_parameters_raise_value_error_naming_them(kwargs, match):
    with pytest.raises(ValueError, match=match):
        fuse_views([np.zeros((1, 2))], [np.eye(2)[None]], **kwargs)
