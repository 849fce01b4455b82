"""The compiled rasteriser agrees with its numpy twin, and its inputs are checked."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from twins.sim import draw_capsules, label_boxes, silhouette_areas
from walkout import _core

H, W = 24, 32


@st.composite
def capsule_sets(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = draw(st.integers(0, 6))
    rows = []
    for _ in range(n):
        u0, u1 = draw(st.floats(-10, W + 10)), draw(st.floats(-10, W + 10))
        v0, v1 = draw(st.floats(-10, H + 10)), draw(st.floats(-10, H + 10))
        if draw(st.booleans()):
            u1, v1 = u0, v0  # a sphere
        z0, z1 = draw(st.floats(0.5, 8)), draw(st.floats(0.5, 8))
        r0, r1 = draw(st.floats(0.3, 9)), draw(st.floats(0.3, 9))
        rows.append([u0, v0, z0, r0, r0 * z0 / 300, u1, v1, z1, r1, r1 * z1 / 300])
    caps = np.asarray(rows, np.float64).reshape(n, 10)
    colours = np.asarray(draw(st.lists(st.tuples(*[st.integers(0, 255)] * 3), min_size=n,
                                       max_size=n)), np.uint8).reshape(n, 3)
    ids = np.arange(n, dtype=np.int32)
    return caps, colours, ids


@given(capsule_sets(), st.floats(1.0, 9.0))
def test_draw_capsules_matches_twin(data: tuple[np.ndarray, ...], wall: float) -> None:
    caps, colours, ids = data
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (H, W, 3), dtype=np.uint8)
    depth0 = np.full((H, W), wall, np.float32)
    depth0[:, : W // 2] = wall / 2  # a nearer "shelf" on the left half
    img_c, depth_c, lab_c = base.copy(), depth0.copy(), np.full((H, W), -1, np.int32)
    img_t, depth_t, lab_t = base.copy(), depth0.copy(), np.full((H, W), -1, np.int32)
    _core.sim_draw_capsules(img_c, depth_c, lab_c, caps, colours, ids)
    draw_capsules(img_t, depth_t, lab_t, caps, colours, ids)
    np.testing.assert_array_equal(depth_c, depth_t)
    np.testing.assert_array_equal(img_c, img_t)
    np.testing.assert_array_equal(lab_c, lab_t)
    np.testing.assert_array_equal(_core.sim_label_boxes(lab_c, len(ids) + 1),
                                  label_boxes(lab_t, len(ids) + 1))


@given(capsule_sets(), st.integers(1, 3))
def test_silhouette_areas_match_twin(data: tuple[np.ndarray, ...], groups: int) -> None:
    caps, _, ids = data
    ids = (ids % groups).astype(np.int32)
    np.testing.assert_array_equal(_core.sim_silhouette_areas(H, W, caps, ids, groups),
                                  silhouette_areas(H, W, caps, ids, groups))


def test_silhouette_is_at_least_what_is_visible() -> None:
    caps = np.array([[5, 12, 3.0, 4, 0.04, 25, 12, 3.0, 4, 0.04],
                     [15, 12, 2.0, 6, 0.04, 15, 12, 2.0, 6, 0.04]], np.float64)
    ids = np.array([0, 1], np.int32)
    image, depth = np.zeros((H, W, 3), np.uint8), np.full((H, W), 10.0, np.float32)
    labels = np.full((H, W), -1, np.int32)
    _core.sim_draw_capsules(image, depth, labels, caps, np.zeros((2, 3), np.uint8), ids)
    seen = _core.sim_label_boxes(labels, 2)[:, 4]
    whole = _core.sim_silhouette_areas(H, W, caps, ids, 2)
    assert whole[1] == seen[1]  # the nearer disc is whole
    assert whole[0] > seen[0] > 0  # the bar behind it is partly hidden


def test_nearer_scene_occludes_capsule() -> None:
    image = np.zeros((H, W, 3), np.uint8)
    depth = np.full((H, W), 10.0, np.float32)
    depth[:, :10] = 1.0  # a shelf 1 m away covers the left columns
    labels = np.full((H, W), -1, np.int32)
    caps = np.array([[5, 12, 3.0, 4, 0.04, 25, 12, 3.0, 4, 0.04]], np.float64)
    _core.sim_draw_capsules(image, depth, labels, caps, np.array([[200, 100, 50]], np.uint8),
                            np.array([7], np.int32))
    assert (labels[:, :10] == -1).all()  # hidden behind the shelf
    assert labels[12, 15] == 7 and image[12, 15, 0] == 200  # centre line: shade 1
    box = _core.sim_label_boxes(labels, 8)[7]
    assert box[0] == 10 and box[2] == 28 and box[1] == 12 - 3 and box[3] == 12 + 3


def test_bad_inputs_name_the_argument() -> None:
    image = np.zeros((H, W, 3), np.uint8)
    depth = np.zeros((H, W), np.float32)
    caps = np.zeros((1, 10))
    ok = (np.zeros((1, 3), np.uint8), np.zeros(1, np.int32))
    with pytest.raises(ValueError, match="image"):
        _core.sim_draw_capsules(np.zeros((H, W), np.uint8), depth, None, caps, *ok)
    with pytest.raises(ValueError, match="depth"):
        _core.sim_draw_capsules(image, np.zeros((H, W), np.float64), None, caps, *ok)
    with pytest.raises(ValueError, match="capsules"):
        _core.sim_draw_capsules(image, depth, None, np.zeros((1, 9)), *ok)
    with pytest.raises(ValueError, match="colours"):
        _core.sim_draw_capsules(image, depth, None, caps, np.zeros((2, 3), np.uint8), ok[1])
    with pytest.raises(ValueError, match="labels"):
        _core.sim_draw_capsules(image, depth, np.zeros((H, W), np.int64), caps, *ok)
    with pytest.raises(ValueError, match="labels"):
        _core.sim_label_boxes(np.zeros((H, W), np.float32), 3)
    with pytest.raises(ValueError, match="ids"):
        _core.sim_silhouette_areas(H, W, caps, np.zeros(2, np.int32), 1)
    with pytest.raises(ValueError, match="height"):
        _core.sim_silhouette_areas(0, W, caps, np.zeros(1, np.int32), 1)
