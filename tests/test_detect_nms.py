"""walkout.detect.nms and the box helpers, against the numpy twin and NMS's own invariants."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from twins import detect as twin
from walkout import detect


def clustered_boxes(seed: int, n: int, clusters: int, spread: float, num_classes: int):
    """n boxes jittered around `clusters` objects, scores uniform, classes random."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, 640, (clusters, 2))
    sizes = rng.uniform(4, 200, (clusters, 2))
    which = rng.integers(0, clusters, n)
    c = centres[which] + rng.normal(0, spread, (n, 2))
    s = sizes[which] * rng.uniform(0.7, 1.3, (n, 2))
    boxes = np.concatenate([c - s / 2, c + s / 2], axis=1).astype(np.float32)
    scores = rng.uniform(0, 1, n).astype(np.float32)
    classes = rng.integers(0, num_classes, n).astype(np.int64)
    return boxes, scores, classes


cluster_params = st.tuples(
    st.integers(0, 2**32 - 1),  # seed
    st.integers(0, 400),  # boxes
    st.integers(1, 30),  # clusters
    st.floats(0.5, 30),  # jitter (px)
    st.integers(1, 4),  # classes
)
thresholds = st.floats(0.0, 1.0, allow_nan=False)


@given(
    cluster_params,
    thresholds,
    st.booleans(),
    st.one_of(st.none(), st.integers(1, 50)),
    st.one_of(st.none(), st.floats(0, 1)),
)
def test_same_kept_set_as_twin(params, iou, use_classes, max_det, score_threshold):
    boxes, scores, classes = clustered_boxes(*params)
    cls = classes if use_classes else None
    got = detect.nms(boxes, scores, iou, cls, max_det, score_threshold=score_threshold)
    want = twin.nms(boxes, scores, iou, cls, max_det, score_threshold)
    np.testing.assert_array_equal(got, want)
    assert got.dtype == np.int64


@given(cluster_params, thresholds, st.booleans())
def test_kept_boxes_do_not_overlap_within_a_class(params, iou, use_classes):
    boxes, scores, classes = clustered_boxes(*params)
    keep = detect.nms(boxes, scores, iou, classes if use_classes else None)
    overlap = twin.box_iou(boxes[keep], boxes[keep])
    same_class = (classes[keep][:, None] == classes[keep][None, :]) if use_classes else True
    np.fill_diagonal(overlap, 0)
    # 1e-6: nms.cpp tests inter > t * union, which may round differently from inter / union.
    assert not np.any((overlap > np.float32(iou) + 1e-6) & same_class)
    # Kept by descending score.
    assert np.all(np.diff(scores[keep]) <= 0)


@given(cluster_params, thresholds, st.booleans())
def test_every_dropped_box_is_suppressed_by_a_stronger_kept_box(params, iou, use_classes):
    boxes, scores, classes = clustered_boxes(*params)
    keep = detect.nms(boxes, scores, iou, classes if use_classes else None)
    dropped = np.setdiff1d(np.arange(len(boxes)), keep)
    if len(dropped) == 0:
        return
    overlap = twin.box_iou(boxes[dropped], boxes[keep])
    stronger = scores[keep][None, :] >= scores[dropped][:, None]
    same_class = (classes[dropped][:, None] == classes[keep][None, :]) if use_classes else True
    assert np.all(np.any((overlap > np.float32(iou) - 1e-6) & stronger & same_class, axis=1))


# Small integer boxes: exact ties in score and IoU exactly at the threshold.
int_boxes = st.lists(
    st.tuples(
        st.integers(0, 6),
        st.integers(0, 6),
        st.integers(0, 6),
        st.integers(0, 6),
        st.sampled_from([0.0, -0.0, 0.25, 0.5, 0.5, 1.0]),
    ),
    min_size=0,
    max_size=30,
)


@given(int_boxes, st.sampled_from([0.0, 0.25, 1 / 3, 0.5, 0.75, 1.0]), st.booleans())
def test_ties_degenerate_boxes_and_exact_thresholds_match_twin(rows, iou, agnostic):
    boxes = np.array([r[:4] for r in rows], np.float32).reshape(-1, 4)
    scores = np.array([r[4] for r in rows], np.float32)
    classes = np.arange(len(rows)) % 2
    got = detect.nms(boxes, scores, iou, None if agnostic else classes)
    np.testing.assert_array_equal(got, twin.nms(boxes, scores, iou, None if agnostic else classes))


def test_documented_example():
    boxes = [[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]]
    np.testing.assert_array_equal(detect.nms(boxes, [0.9, 0.8, 0.7], 0.5), [0, 2])


def test_empty_and_single():
    assert detect.nms(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), 0.5).shape == (0,)
    np.testing.assert_array_equal(detect.nms([[0, 0, 1, 1]], [0.1], 0.5), [0])
    assert detect.nms([[0, 0, 1, 1]], [0.1], 0.5, score_threshold=0.2).shape == (0,)


def test_equal_scores_keep_lower_index_first():
    boxes = np.array([[0, 0, 10, 10], [100, 0, 110, 10], [0, 0, 10, 10]], np.float32)
    np.testing.assert_array_equal(detect.nms(boxes, [0.5, 0.5, 0.5], 0.5), [0, 1])


def test_degenerate_boxes_never_suppress():
    boxes = np.array([[5, 5, 5, 9], [0, 0, 10, 10], [3, 3, 2, 8]], np.float32)  # 0 and 2 empty
    np.testing.assert_array_equal(detect.nms(boxes, [0.9, 0.8, 0.7], 0.0), [0, 1, 2])


def test_nan_scores_are_never_kept():
    keep = detect.nms([[0, 0, 1, 1], [5, 5, 6, 6]], [np.nan, 0.3], 0.5)
    np.testing.assert_array_equal(keep, [1])


def test_class_ids_far_apart_use_the_hash_path():
    boxes, scores, classes = clustered_boxes(7, 300, 5, 3.0, 3)
    spread = np.array([-(2**62), 0, 2**62], np.int64)[classes]
    np.testing.assert_array_equal(
        detect.nms(boxes, scores, 0.5, spread), twin.nms(boxes, scores, 0.5, spread)
    )


def test_huge_input_matches_twin():
    boxes, scores, classes = clustered_boxes(11, 8_000, 200, 6.0, 3)
    np.testing.assert_array_equal(
        detect.nms(boxes, scores, 0.45, classes), twin.nms(boxes, scores, 0.45, classes)
    )


def test_million_boxes_is_a_valid_suppression():
    boxes, scores, _ = clustered_boxes(5, 1_000_000, 50, 4.0, 1)
    keep = detect.nms(boxes, scores, 0.5)
    assert len(np.unique(keep)) == len(keep) > 0
    assert np.all(np.diff(scores[keep]) <= 0)
    overlap = twin.box_iou(boxes[keep], boxes[keep])
    np.fill_diagonal(overlap, 0)
    assert overlap.max() <= 0.5


def test_float32_contiguous_input_is_not_copied_and_float64_is_accepted():
    boxes, scores, _ = clustered_boxes(3, 50, 5, 3.0, 1)
    np.testing.assert_array_equal(
        detect.nms(boxes.astype(np.float64), scores.astype(np.float64), 0.5),
        detect.nms(boxes, scores, 0.5),
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"boxes": np.zeros((3, 5), np.float32)}, r"boxes: expected shape \(N, 4\)"),
        ({"boxes": np.zeros(4, np.float32)}, r"boxes: expected shape \(N, 4\)"),
        ({"boxes": np.array([["a"] * 4])}, "boxes: expected a real-valued array"),
        ({"scores": np.zeros(2, np.float32)}, r"scores: expected shape \(3,\)"),
        ({"classes": np.zeros(2, np.int64)}, r"classes: expected shape \(3,\)"),
        ({"classes": np.array([0.5, 1, 2])}, "classes: expected whole-number class ids"),
        ({"iou_threshold": 1.5}, r"iou_threshold: expected a value in \[0, 1\]"),
        ({"iou_threshold": float("nan")}, "iou_threshold"),
        ({"max_det": 0}, "max_det: expected None or a positive count"),
    ],
)
def test_bad_input_names_the_argument(kwargs, message):
    args = {
        "boxes": np.zeros((3, 4), np.float32),
        "scores": np.zeros(3, np.float32),
        "iou_threshold": 0.5,
    } | kwargs
    with pytest.raises(ValueError, match=message):
        detect.nms(**args)


def test_core_refuses_a_silent_conversion():
    from walkout import _core

    with pytest.raises(ValueError, match="boxes: expected a C-contiguous float32 array"):
        _core.detect_nms(np.zeros((3, 4)), np.zeros(3, np.float32), 0.5)


@given(st.integers(0, 2**32 - 1), st.integers(0, 40), st.integers(0, 40))
def test_box_iou_matches_twin(seed, n, m):
    a, _, _ = clustered_boxes(seed, n, 3, 10.0, 1)
    b, _, _ = clustered_boxes(seed + 1, m, 3, 10.0, 1)
    got = detect.box_iou(a, b)
    assert got.shape == (n, m) and got.dtype == np.float32
    np.testing.assert_array_equal(got, twin.box_iou(a, b))


@given(st.integers(0, 2**32 - 1), st.integers(0, 50))
def test_box_conversions_match_twin_and_invert(seed, n):
    boxes, _, _ = clustered_boxes(seed, n, 4, 5.0, 1)
    c = detect.xyxy_to_cxcywh(boxes)
    np.testing.assert_array_equal(c, twin.xyxy_to_cxcywh(boxes))
    np.testing.assert_array_equal(detect.cxcywh_to_xyxy(c), twin.cxcywh_to_xyxy(c))
    np.testing.assert_allclose(detect.cxcywh_to_xyxy(c), boxes, atol=1e-3)
