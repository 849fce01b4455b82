"""walkout.detect.decode: outputs built by hand from known boxes (encode, then decode), the
numpy twin on random outputs, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from twins import detect as twin
from walkout import detect

K = 17


def scene(seed: int, src_h: int, src_w: int, count: int, num_classes: int):
    """`count` non-overlapping source boxes (one per grid cell), classes, scores, keypoints."""
    rng = np.random.default_rng(seed)
    cols = int(np.ceil(np.sqrt(count)))
    rows = int(np.ceil(count / cols))
    cell_w, cell_h = src_w / cols, src_h / rows
    boxes = []
    for i in range(count):
        x0, y0 = (i % cols) * cell_w, (i // cols) * cell_h
        bw, bh = rng.uniform(0.3, 0.9) * cell_w, rng.uniform(0.3, 0.9) * cell_h
        bx, by = x0 + rng.uniform(0, cell_w - bw), y0 + rng.uniform(0, cell_h - bh)
        boxes.append([bx, by, bx + bw, by + bh])
    boxes = np.array(boxes, np.float64).reshape(-1, 4)
    classes = rng.integers(0, num_classes, count)
    scores = np.sort(rng.uniform(0.5, 0.99, count))[::-1].astype(np.float32)
    kps = np.stack(
        [
            rng.uniform(boxes[:, 0:1], boxes[:, 2:3], (count, K)),
            rng.uniform(boxes[:, 1:2], boxes[:, 3:4], (count, K)),
            rng.uniform(0, 1, (count, K)),
        ],
        axis=-1,
    )
    return boxes, classes, scores, kps


def transform_for(src_h, src_w, size, convention="ultralytics"):
    _, t = detect.letterbox(np.zeros((src_h, src_w, 3), np.uint8), size, convention)
    return t


def to_model_xy(t, xy):
    return t.to_model(xy, 0)


def encode_yolov8(boxes, classes, scores, kps, t, num_classes, anchors, with_kps, seed):
    rng = np.random.default_rng(seed)
    c = 4 + num_classes + (3 * K if with_kps else 0)
    out = np.zeros((c, anchors), np.float32)
    out[:4] = rng.uniform(0, 640, (4, anchors))
    out[4 : 4 + num_classes] = rng.uniform(0, 0.2, (num_classes, anchors))  # background
    slots = rng.choice(anchors, len(boxes), replace=False)
    corners = to_model_xy(t, boxes.reshape(-1, 2)).reshape(-1, 4)
    for j, a in enumerate(slots):
        x1, y1, x2, y2 = corners[j]
        out[:4, a] = [(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1]
        out[4 : 4 + num_classes, a] = 0.05
        out[4 + classes[j], a] = scores[j]
        if with_kps:
            m = to_model_xy(t, kps[j, :, :2])
            out[4 + num_classes :, a] = np.concatenate([m, kps[j, :, 2:]], axis=1).ravel()
    return out[None]


@given(
    st.integers(0, 2**32 - 1),
    st.integers(1, 30),
    st.integers(1, 6),
    st.sampled_from([(480, 640), (1080, 1920), (500, 333)]),
)
def test_yolov8_encode_then_decode_recovers_the_boxes(seed, count, num_classes, src):
    boxes, classes, scores, _ = scene(seed, *src, count, num_classes)
    t = transform_for(*src, 640)
    out = encode_yolov8(boxes, classes, scores, None, t, num_classes, 2100, False, seed)
    (d,) = detect.decode(out, "yolov8", t, conf_threshold=0.25)
    np.testing.assert_allclose(d.boxes, boxes, atol=0.02)
    np.testing.assert_array_equal(d.scores, scores)
    np.testing.assert_array_equal(d.class_ids, classes)
    assert d.keypoints is None and d.boxes.dtype == np.float32 and d.class_ids.dtype == np.int64


@given(st.integers(0, 2**32 - 1), st.integers(1, 20), st.sampled_from([(480, 640), (720, 1280)]))
def test_yolov8_pose_encode_then_decode_recovers_boxes_and_keypoints(seed, count, src):
    boxes, _, scores, kps = scene(seed, *src, count, 1)
    t = transform_for(*src, 640)
    out = encode_yolov8(boxes, np.zeros(count, int), scores, kps, t, 1, 2100, True, seed)
    (d,) = detect.decode(out, "yolov8-pose", t)
    np.testing.assert_allclose(d.boxes, boxes, atol=0.02)
    np.testing.assert_array_equal(d.scores, scores)
    assert d.keypoints.shape == (count, K, 3)
    np.testing.assert_allclose(d.keypoints, kps, atol=0.02)


@given(st.integers(0, 2**32 - 1), st.integers(1, 30), st.booleans())
def test_end2end_encode_then_decode_recovers_boxes(seed, count, with_kps):
    boxes, classes, scores, kps = scene(seed, 720, 1280, count, 3)
    t = transform_for(720, 1280, 640)
    width = 6 + (3 * K if with_kps else 0)
    out = np.zeros((300, width), np.float32)
    out[:, 4] = np.random.default_rng(seed).uniform(0, 0.2, 300)
    order = np.random.default_rng(seed).permutation(count)  # the model need not sort
    for row, j in enumerate(order):
        out[row, :4] = to_model_xy(t, boxes[j].reshape(2, 2)).ravel()
        out[row, 4:6] = [scores[j], classes[j]]
        if with_kps:
            out[row, 6:] = np.concatenate([to_model_xy(t, kps[j, :, :2]), kps[j, :, 2:]], 1).ravel()
    (d,) = detect.decode(out[None], "end2end", t)
    np.testing.assert_allclose(d.boxes, boxes, atol=0.02)
    np.testing.assert_array_equal(d.class_ids, classes)
    if with_kps:
        np.testing.assert_allclose(d.keypoints, kps, atol=0.02)
    else:
        assert d.keypoints is None


@given(st.integers(0, 2**32 - 1), st.integers(1, 12), st.integers(1, 80))
def test_yolox_encode_then_decode_recovers_boxes(seed, count, num_classes):
    boxes, classes, scores, _ = scene(seed, 480, 640, count, num_classes)
    t = transform_for(480, 640, 416, "yolox")
    grid = twin.yolox_grid(416, 416)
    out = np.zeros((len(grid), 5 + num_classes), np.float32)
    out[:, 4] = 0.01
    corners = to_model_xy(t, boxes.reshape(-1, 2)).reshape(-1, 4)
    for j, (x1, y1, x2, y2) in enumerate(corners):
        cx, cy, w, h = (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1
        # Stride 8: the boxes' centres lie in different cells (one box per grid cell of the
        # scene, each cell far wider than 8 px).
        a = int(cy // 8) * (416 // 8) + int(cx // 8)
        out[a, :4] = [cx / 8 - cx // 8, cy / 8 - cy // 8, np.log(w / 8), np.log(h / 8)]
        out[a, 4] = 1.0
        out[a, 5 + classes[j]] = scores[j]
    (d,) = detect.decode(out[None], "yolox", t, conf_threshold=0.3)
    order = np.argsort(-scores, kind="stable")
    np.testing.assert_allclose(d.boxes, boxes[order], atol=0.02)
    np.testing.assert_array_equal(d.class_ids, classes[order])


def random_raw(seed, layout, anchors, num_classes):
    """A random output with clustered boxes and sparse confident scores, so NMS has work."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, 600, (8, 2))
    which = rng.integers(0, 8, anchors)
    cxcy = centres[which] + rng.normal(0, 6, (anchors, 2))
    wh = rng.uniform(20, 120, (anchors, 2))
    cls = rng.uniform(0, 1, (anchors, num_classes)) ** 4
    if layout in ("yolov8", "yolov8-pose"):
        kp = (
            rng.uniform(0, 640, (anchors, 3 * K))
            if layout == "yolov8-pose"
            else np.zeros((anchors, 0))
        )
        return np.concatenate([cxcy, wh, cls, kp], axis=1).T.astype(np.float32)
    if layout == "end2end":
        return np.concatenate(
            [cxcy - wh / 2, cxcy + wh / 2, cls[:, :1], rng.integers(0, num_classes, (anchors, 1))],
            axis=1,
        ).astype(np.float32)
    raw = rng.normal(0, 1, (anchors, 4))
    obj = rng.uniform(0, 1, (anchors, 1))
    return np.concatenate([raw, obj, cls], axis=1).astype(np.float32)


@given(
    st.integers(0, 2**32 - 1),
    st.sampled_from(["yolov8", "yolov8-pose", "end2end", "yolox"]),
    st.floats(0.05, 0.9),
    st.floats(0.1, 0.9),
    st.integers(1, 5),
    st.one_of(st.none(), st.just([0]), st.just([1, 3])),
    st.integers(1, 300),
    st.booleans(),
)
def test_matches_twin_on_random_outputs(
    seed, layout, conf, iou, num_classes, classes, max_det, agnostic
):
    if layout == "yolov8-pose":
        num_classes = 1
    model = 256
    anchors = len(twin.yolox_grid(model, model)) if layout == "yolox" else 700
    raw = random_raw(seed, layout, anchors, num_classes)
    t = transform_for(300, 500, model, "yolox" if layout == "yolox" else "ultralytics")
    (d,) = detect.decode(raw[None], layout, t, conf, iou, classes, max_det, agnostic=agnostic)
    row = t.array[0]
    if layout == "yolox":
        b, s, c, k = twin.decode_yolox(
            raw, row, model, model, conf, iou, classes, max_det, agnostic
        )
    elif layout == "end2end":
        b, s, c, k = twin.decode_end2end(raw, row, conf, classes, max_det)
    else:
        b, s, c, k = twin.decode_yolov8(
            raw, row, conf, iou, classes, max_det, agnostic, K if layout == "yolov8-pose" else 0
        )
    np.testing.assert_array_equal(d.class_ids, c)
    np.testing.assert_array_equal(d.scores, s)
    np.testing.assert_allclose(d.boxes, b, atol=1e-3)
    if k is None:
        assert d.keypoints is None
    else:
        np.testing.assert_allclose(d.keypoints, k, atol=1e-3)


def test_batches_decode_each_image_with_its_own_transform():
    frames = [np.zeros((480, 640, 3), np.uint8), np.zeros((1080, 1920, 3), np.uint8)]
    _, t = detect.letterbox(frames, 640)
    raw = np.stack([random_raw(1, "yolov8", 900, 3), random_raw(2, "yolov8", 900, 3)])
    got = detect.decode(raw, "yolov8", t, threads=2)
    for i in range(2):
        b, s, c, _ = twin.decode_yolov8(raw[i], t.array[i])
        np.testing.assert_allclose(got[i].boxes, b, atol=1e-3)
        np.testing.assert_array_equal(got[i].scores, s)
        np.testing.assert_array_equal(got[i].class_ids, c)


def test_boxes_are_clipped_to_the_frame():
    t = transform_for(480, 640, 640)
    out = np.zeros((1, 5, 1), np.float32)
    out[0, :, 0] = [5, 320, 40, 700, 0.9]  # spills left, above and below the image
    (d,) = detect.decode(out, "yolov8", t)
    np.testing.assert_allclose(d.boxes, [[0, 0, 25, 480]])  # scale 1, pad (0, 80)


def test_an_empty_class_filter_keeps_nothing():
    t = transform_for(480, 640, 640)
    raw = random_raw(4, "yolov8", 500, 2)[None]
    assert len(detect.decode(raw, "yolov8", t)[0]) > 0
    assert len(detect.decode(raw, "yolov8", t, classes=[])[0]) == 0


def test_transforms_as_a_bare_array():
    t = transform_for(480, 640, 640)
    raw = random_raw(3, "yolov8", 500, 2)[None]
    a = detect.decode(raw, "yolov8", t)[0]
    b = detect.decode(raw, "yolov8", t.array)[0]
    np.testing.assert_array_equal(a.boxes, b.boxes)


@pytest.mark.parametrize(
    ("output", "layout", "kwargs", "message"),
    [
        (np.zeros((1, 4, 10), np.float32), "yolov8", {}, r"output: expected \(B, 4 \+ nc, N\)"),
        (
            np.zeros((1, 20, 10), np.float32),
            "yolov8-pose",
            {},
            r"output: expected \(B, 4 \+ nc \+ 3\*17, N\)",
        ),
        (np.zeros((1, 300, 7), np.float32), "end2end", {}, r"output: expected \(B, N, 6 \+ 3K\)"),
        (np.zeros((1, 100, 85), np.float32), "yolox", {}, r"output: expected \(B, 3549, 5 \+ nc\)"),
        (np.zeros((1, 84), np.float32), "yolov8", {}, r"output: expected a 3-d \(B, C, N\)"),
        (np.zeros((1, 84, 10), np.float32), "yolov9", {}, "layout: expected one of"),
        (np.zeros((2, 84, 10), np.float32), "yolov8", {}, r"transforms: expected shape \(2, 6\)"),
        (np.zeros((1, 84, 10), np.float32), "yolov8", {"iou_threshold": 2.0}, "iou_threshold"),
        (
            np.zeros((1, 84, 10), np.float32),
            "yolov8",
            {"classes": [0.5]},
            "classes: expected whole-number",
        ),
        (np.zeros((1, 84, 10), np.float32), "yolov8", {"max_det": -1}, "max_det"),
        (np.zeros((1, 84, 10), np.complex64), "yolov8", {}, "output: expected a real-valued array"),
        (np.zeros((1, 84, 10), np.float32), "yolov8", {"threads": -1}, "threads: expected >= 0"),
        (np.zeros((1, 84, 10), np.float32), "yolov8-pose", {"num_keypoints": -1}, "num_keypoints"),
    ],
)
def test_bad_input_names_the_argument(output, layout, kwargs, message):
    t = transform_for(416, 416, 416, "yolox")
    with pytest.raises(ValueError, match=message):
        detect.decode(output, layout, t, **kwargs)


def test_yolox_without_an_input_size_is_refused():
    with pytest.raises(ValueError, match="input_size"):
        detect.decode(np.zeros((1, 3549, 85), np.float32), "yolox", np.ones((1, 6)))
