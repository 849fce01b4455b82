"""walkout.track.linear_assignment against scipy, its numpy twin, and its contract."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment

from twins.track import linear_assignment as twin_assignment
from walkout.track import linear_assignment


@st.composite
def cost_matrices(draw, allow_inf: bool = True):
    """Rectangular costs with many ties (few distinct values) and optional +inf entries."""
    rows = draw(st.integers(0, 9))
    cols = draw(st.integers(0, 9))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    levels = draw(st.sampled_from([2, 3, 5, 1000]))
    cost = rng.integers(0, levels, size=(rows, cols)).astype(float) * draw(st.sampled_from([1.0, 0.1, 37.5]))
    if allow_inf and draw(st.booleans()):
        cost[rng.random((rows, cols)) < draw(st.floats(0.05, 0.6))] = np.inf
    return cost


def total(cost: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> float:
    return float(cost[rows, cols].sum())


def check_matching(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> None:
    assert rows.dtype == np.int64 and cols.dtype == np.int64
    assert len(set(rows.tolist())) == len(rows) and len(set(cols.tolist())) == len(cols)
    assert np.all(np.diff(rows) > 0)
    assert np.all((rows >= 0) & (rows < shape[0])) and np.all((cols >= 0) & (cols < shape[1]))


@given(cost_matrices())
def test_same_optimum_as_scipy_or_both_infeasible(cost):
    try:
        r_ref, c_ref = linear_sum_assignment(cost)
    except ValueError:
        with pytest.raises(ValueError, match="infeasible"):
            linear_assignment(cost)
        return
    rows, cols = linear_assignment(cost)
    check_matching(rows, cols, cost.shape)
    assert len(rows) == min(cost.shape)
    assert total(cost, rows, cols) == pytest.approx(total(cost, r_ref, c_ref), abs=1e-9)


def limited_optimum(cost: np.ndarray, limit: float) -> float:
    """Optimum of "match or leave out, a left-out pair costs `limit`", by the augmented
    (rows + cols) square matrix that lap.lapjv builds for its cost_limit, solved by scipy."""
    n, m = cost.shape
    big = np.full((n + m, n + m), np.inf)
    big[:n, :m] = np.where(cost <= limit, cost, np.inf)
    big[:n, m:] = np.where(np.eye(n), limit / 2, np.inf)
    big[n:, :m] = np.where(np.eye(m), limit / 2, np.inf)
    big[n:, m:] = 0.0
    r, c = linear_sum_assignment(big)
    return float(big[r, c].sum())


@given(cost_matrices(), st.sampled_from([0.0, 0.5, 1.0, 2.5, 40.0]))
def test_cost_limit_reaches_the_limited_optimum(cost, limit):
    rows, cols = linear_assignment(cost, cost_limit=limit)
    check_matching(rows, cols, cost.shape)
    assert np.all(cost[rows, cols] <= limit)
    n, m = cost.shape
    ours = total(cost, rows, cols) + limit * (n + m - 2 * len(rows)) / 2
    assert ours == pytest.approx(limited_optimum(cost, limit), abs=1e-9)


@given(cost_matrices(), st.one_of(st.none(), st.sampled_from([0.5, 2.0, 100.0])))
def test_agrees_with_numpy_twin(cost, limit):
    try:
        r_twin, c_twin = twin_assignment(cost, limit)
    except ValueError:
        with pytest.raises(ValueError):
            linear_assignment(cost, limit)
        return
    rows, cols = linear_assignment(cost, limit)
    # Ties at the limit make "match at cost_limit" and "leave out" equally good, so the
    # objectives are compared, not the matchings.
    unmatched = (0 if limit is None else limit) * (sum(cost.shape) / 2)
    ours = total(cost, rows, cols) + unmatched - (0 if limit is None else limit) * len(rows)
    theirs = total(cost, r_twin, c_twin) + unmatched - (0 if limit is None else limit) * len(r_twin)
    assert ours == pytest.approx(theirs, abs=1e-9)


@pytest.mark.parametrize("shape", [(30, 30), (50, 80), (80, 50), (200, 200)])
def test_uniform_random_matches_scipy(shape):
    rng = np.random.default_rng(sum(shape))
    for _ in range(5):
        cost = rng.random(shape)
        rows, cols = linear_assignment(cost)
        r_ref, c_ref = linear_sum_assignment(cost)
        assert total(cost, rows, cols) == pytest.approx(total(cost, r_ref, c_ref), rel=1e-12)


def test_example_and_empty():
    cost = np.array([[4.0, 1, 3], [2, 0, 5], [3, 2, 2]])
    rows, cols = linear_assignment(cost)
    assert rows.tolist() == [0, 1, 2] and cols.tolist() == [1, 0, 2]
    for shape in [(0, 0), (0, 3), (3, 0)]:
        r, c = linear_assignment(np.zeros(shape))
        assert len(r) == len(c) == 0


def test_accepts_lists_and_other_dtypes():
    _rows, cols = linear_assignment([[1, 2], [2, 1]])
    assert cols.tolist() == [0, 1]
    _rows, cols = linear_assignment(np.array([[1, 2], [2, 1]], np.float32).T.copy(order="F"))
    assert cols.tolist() == [0, 1]


@pytest.mark.parametrize(
    ("cost", "limit", "match"),
    [
        (np.zeros(3), None, "cost: expected a 2-D array"),
        (np.zeros((2, 2, 2)), None, "cost: expected a 2-D array"),
        (np.array([[np.nan, 1.0]]), None, "cost: entries must not be NaN"),
        (np.array([[-np.inf, 1.0]]), None, "-inf"),
        (np.array([[1.0]]), float("nan"), "cost_limit"),
        (np.array([[np.inf, np.inf]]), None, "infeasible"),
    ],
)
def test_bad_input_raises_value_error_naming_the_argument(cost, limit, match):
    with pytest.raises(ValueError, match=match):
        linear_assignment(cost, limit)
