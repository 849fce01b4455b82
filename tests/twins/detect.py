"""Readable numpy twins of the detect room (cpp/src/detect/): NMS, letterbox, decoders.

They follow the original Python code the C++ reproduces (OpenCV's resize.cpp fixed point,
Ultralytics' LetterBox and non_max_suppression, YOLOX's preproc and demo_postprocess) and do
the float32 arithmetic in the same order, so that the compiled code can be checked against
them exactly where the operations are exact, and to float tolerance where libm differs (exp).
Clarity over speed: loops where a loop reads better.
"""

from __future__ import annotations

import numpy as np

F32 = np.float32


# --------------------------------------------------------------------------------------------
# Boxes and NMS
# --------------------------------------------------------------------------------------------


def area_xyxy(boxes: np.ndarray) -> np.ndarray:
    """Area of (N, 4) float32 boxes; 0 for a degenerate box (width or height <= 0)."""
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    return np.where((w > 0) & (h > 0), w * h, F32(0)).astype(F32)


def intersection_and_union(box: np.ndarray, others: np.ndarray):
    """Intersection and union areas of one float32 box with (M, 4) boxes, in nms.cpp's
    operation order; max(iw, 0) * max(ih, 0) equals boxes.hpp's "0 unless both positive" for
    finite boxes."""
    iw = np.minimum(others[:, 2], box[2]) - np.maximum(others[:, 0], box[0])
    ih = np.minimum(others[:, 3], box[3]) - np.maximum(others[:, 1], box[1])
    inter = np.maximum(iw, F32(0)) * np.maximum(ih, F32(0))
    return inter, area_xyxy(others) + area_xyxy(box[None])[0] - inter


def iou_one_to_many(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """IoU of one box with many; 0 where both are empty (union 0)."""
    inter, union = intersection_and_union(box, others)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, F32(0)).astype(F32)


def overlaps(box: np.ndarray, others: np.ndarray, threshold) -> np.ndarray:
    """IoU > threshold, written as nms.cpp writes it: inter > threshold * union (no division;
    union 0 means inter 0, and 0 > 0 is false)."""
    inter, union = intersection_and_union(box, others)
    return inter > F32(threshold) * union


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) IoU matrix."""
    a = np.asarray(a, F32)
    b = np.asarray(b, F32)
    out = np.zeros((len(a), len(b)), F32)
    for i in range(len(a)):
        # iou_xyxy(a, b) adds area(a) + area(b): the same sum as area(b) + area(a) in IEEE.
        out[i] = iou_one_to_many(a[i], b)
    return out


def nms(boxes, scores, iou_threshold, classes=None, max_det=None, score_threshold=None):
    """Greedy NMS, the textbook loop: visit by descending score (stable), keep unless a kept
    box of the same class overlaps with IoU > threshold."""
    boxes = np.asarray(boxes, F32).reshape(-1, 4)
    scores = np.asarray(scores, F32)
    t = F32(iou_threshold)
    candidates = np.flatnonzero(~np.isnan(scores))
    if score_threshold is not None:
        candidates = candidates[scores[candidates] > F32(score_threshold)]
    # Stable sort of the negated scores: ties keep ascending index (-0.0 == 0.0 here too).
    order = candidates[np.argsort(-scores[candidates], kind="stable")]
    kept: list[int] = []
    kept_by_class: dict[object, list[int]] = {}  # class id (None: agnostic) -> kept indices
    for i in order:
        if max_det is not None and len(kept) >= max_det:
            break
        same = kept_by_class.setdefault(None if classes is None else int(classes[i]), [])
        if same and np.any(overlaps(boxes[i], boxes[same], t)):
            continue
        kept.append(int(i))
        same.append(int(i))
    return np.array(kept, dtype=np.int64)


def xyxy_to_cxcywh(boxes):
    b = np.asarray(boxes, F32)
    w = b[:, 2] - b[:, 0]
    h = b[:, 3] - b[:, 1]
    return np.stack([b[:, 0] + w / F32(2), b[:, 1] + h / F32(2), w, h], axis=1).astype(F32)


def cxcywh_to_xyxy(boxes):
    b = np.asarray(boxes, F32)
    hw = b[:, 2] / F32(2)
    hh = b[:, 3] / F32(2)
    return np.stack([b[:, 0] - hw, b[:, 1] - hh, b[:, 0] + hw, b[:, 1] + hh], axis=1).astype(F32)


# --------------------------------------------------------------------------------------------
# Letterbox
# --------------------------------------------------------------------------------------------


def letterbox_geometry(src_w, src_h, dst_w, dst_h, convention):
    """(resized_w, resized_h, pad_x, pad_y), as Ultralytics' LetterBox / YOLOX's preproc."""
    r = min(dst_h / src_h, dst_w / src_w)
    if convention == "ultralytics":
        new_w, new_h = round(src_w * r), round(src_h * r)  # Python's round: half to even
        dw, dh = (dst_w - new_w) / 2, (dst_h - new_h) / 2
        pad_x, pad_y = round(dw - 0.1), round(dh - 0.1)
    else:
        new_w, new_h = int(src_w * r), int(src_h * r)
        pad_x = pad_y = 0
    return min(max(new_w, 1), dst_w), min(max(new_h, 1), dst_h), pad_x, pad_y


def resize_taps(src: int, dst: int, clamp_weights: bool):
    """OpenCV's linear-resize taps along one axis: (first, second, w_first, w_second)."""
    scale = 1.0 / (dst / src)
    f = ((np.arange(dst) + 0.5) * scale - 0.5).astype(F32)
    s = np.floor(f).astype(np.int64)
    f = (f - s.astype(F32)).astype(F32)
    if clamp_weights:  # columns: outside the image, take the border pixel with weight 1
        outside = (s < 0) | (s >= src - 1)
        s = np.where(s < 0, 0, np.where(s >= src - 1, src - 1, s))
        f = np.where(outside, F32(0), f)
    first = np.clip(s, 0, src - 1)
    second = np.clip(s + 1, 0, src - 1)
    w_first = np.rint((F32(1) - f) * F32(2048)).astype(np.int64)
    w_second = np.rint(f * F32(2048)).astype(np.int64)
    return first, second, w_first, w_second


def resize_linear(frame: np.ndarray, new_w: int, new_h: int) -> np.ndarray:
    """cv2.resize(frame, (new_w, new_h), interpolation=cv2.INTER_LINEAR) for uint8 frames,
    in OpenCV's 11-bit fixed point: a horizontal pass, then a vertical one."""
    h, w = frame.shape[:2]
    x0, x1, a0, a1 = resize_taps(w, new_w, clamp_weights=True)
    y0, y1, b0, b1 = resize_taps(h, new_h, clamp_weights=False)
    src = frame.astype(np.int64)
    horizontal = src[:, x0, :] * a0[None, :, None] + src[:, x1, :] * a1[None, :, None]
    top = horizontal[y0] >> 4
    bottom = horizontal[y1] >> 4
    v = (((b0[:, None, None] * top) >> 16) + ((b1[:, None, None] * bottom) >> 16) + 2) >> 2
    return v.astype(np.uint8)


def letterbox(frames, size, convention="ultralytics"):
    """(tensor (B, 3, H, W) float32, transforms (B, 6) float64) for a list of BGR frames."""
    dst_h, dst_w = (size, size) if np.isscalar(size) else size
    tensor = np.empty((len(frames), 3, dst_h, dst_w), F32)
    transforms = np.zeros((len(frames), 6))
    for i, frame in enumerate(frames):
        h, w = frame.shape[:2]
        new_w, new_h, pad_x, pad_y = letterbox_geometry(w, h, dst_w, dst_h, convention)
        canvas = np.full((dst_h, dst_w, 3), 114, np.uint8)
        canvas[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = resize_linear(frame, new_w, new_h)
        if convention == "ultralytics":
            chw = canvas[:, :, ::-1].transpose(2, 0, 1).astype(F32) / F32(255)  # RGB, 0..1
        else:
            chw = canvas.transpose(2, 0, 1).astype(F32)  # BGR, 0..255
        tensor[i] = chw
        transforms[i] = [new_w / w, new_h / h, pad_x, pad_y, w, h]
    return tensor, transforms


def to_source(points, transform):
    """Model-input points (..., 2) -> source pixels for one (6,) transform row."""
    t = np.asarray(transform, np.float64)
    return (np.asarray(points, np.float64) - t[2:4]) / t[0:2]


# --------------------------------------------------------------------------------------------
# Decoders
# --------------------------------------------------------------------------------------------


def _finish(
    boxes, scores, class_ids, keypoints, transform, iou_threshold, max_det, agnostic, run_nms=True
):
    """NMS, max_det, inverse letterbox: the common tail of every decoder."""
    if run_nms:
        keep = nms(boxes, scores, iou_threshold, None if agnostic else class_ids, max_det)
    else:
        keep = np.argsort(-scores, kind="stable")[:max_det]
    t = np.asarray(transform, np.float64)
    out_boxes = np.empty((len(keep), 4), np.float64)
    out_boxes[:, 0::2] = np.clip((boxes[keep][:, 0::2] - t[2]) / t[0], 0, t[4])
    out_boxes[:, 1::2] = np.clip((boxes[keep][:, 1::2] - t[3]) / t[1], 0, t[5])
    kps = None
    if keypoints is not None:
        kps = keypoints[keep].astype(np.float64).copy()
        kps[..., 0] = (kps[..., 0] - t[2]) / t[0]
        kps[..., 1] = (kps[..., 1] - t[3]) / t[1]
        kps = kps.astype(F32)
    return out_boxes.astype(F32), scores[keep], class_ids[keep].astype(np.int64), kps


def _class_mask(class_ids, classes):
    return np.ones(len(class_ids), bool) if classes is None else np.isin(class_ids, classes)


def decode_yolov8(
    output,
    transform,
    conf=0.25,
    iou=0.45,
    classes=None,
    max_det=300,
    agnostic=False,
    num_keypoints=0,
):
    """One image of Ultralytics (4 + nc [+ 3K], N): argmax class, filter, NMS, map back."""
    pred = np.asarray(output, F32).T  # (N, channels)
    nc = pred.shape[1] - 4 - 3 * num_keypoints
    class_scores = pred[:, 4 : 4 + nc]
    class_ids = class_scores.argmax(1)
    scores = class_scores[np.arange(len(pred)), class_ids]
    keep = (scores > F32(conf)) & _class_mask(class_ids, classes)
    boxes = cxcywh_to_xyxy(pred[keep, :4])
    kps = pred[keep, 4 + nc :].reshape(-1, num_keypoints, 3) if num_keypoints else None
    return _finish(boxes, scores[keep], class_ids[keep], kps, transform, iou, max_det, agnostic)


def decode_end2end(output, transform, conf=0.25, classes=None, max_det=300):
    """One image of an NMS-free export (N, 6 + 3K): filter, sort, cut, map back."""
    pred = np.asarray(output, F32)
    k = (pred.shape[1] - 6) // 3
    class_ids = np.rint(pred[:, 5]).astype(np.int64)
    keep = (pred[:, 4] > F32(conf)) & _class_mask(class_ids, classes)
    kps = pred[keep, 6:].reshape(-1, k, 3) if k else None
    return _finish(
        pred[keep, :4],
        pred[keep, 4],
        class_ids[keep],
        kps,
        transform,
        1.0,
        max_det,
        False,
        run_nms=False,
    )


def yolox_grid(model_w, model_h, strides=(8, 16, 32)):
    """(N, 3) gx, gy, stride per anchor: cells row-major within each stride, as YOLOX."""
    rows = []
    for s in strides:
        gy, gx = np.meshgrid(np.arange(model_h // s), np.arange(model_w // s), indexing="ij")
        rows.append(np.stack([gx.ravel(), gy.ravel(), np.full(gx.size, s)], axis=1))
    return np.concatenate(rows)


def decode_yolox(
    output,
    transform,
    model_w,
    model_h,
    conf=0.25,
    iou=0.45,
    classes=None,
    max_det=300,
    agnostic=False,
):
    """One image of YOLOX (N, 5 + nc): grid decode, obj * class score, filter, NMS, map back."""
    pred = np.asarray(output, F32)
    grid = yolox_grid(model_w, model_h).astype(F32)
    class_ids = pred[:, 5:].argmax(1)
    scores = pred[:, 4] * pred[np.arange(len(pred)), 5 + class_ids]
    keep = (scores > F32(conf)) & _class_mask(class_ids, classes)
    p, g = pred[keep], grid[keep]
    cx = (p[:, 0] + g[:, 0]) * g[:, 2]
    cy = (p[:, 1] + g[:, 1]) * g[:, 2]
    hw = np.exp(p[:, 2]) * g[:, 2] / F32(2)
    hh = np.exp(p[:, 3]) * g[:, 2] / F32(2)
    boxes = np.stack([cx - hw, cy - hh, cx + hw, cy + hh], axis=1).astype(F32)
    return _finish(boxes, scores[keep], class_ids[keep], None, transform, iou, max_det, agnostic)
