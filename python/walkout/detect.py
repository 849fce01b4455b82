"""Detection hot path: letterbox preprocessing, model-output decoding and NMS.

Every camera frame passes through these three steps around the ONNX model::

    tensor, transforms = letterbox(frames, 640, convention="ultralytics")
    output = session.run(None, {"images": tensor})[0]
    detections = decode(output, "yolov8", transforms, conf_threshold=0.25, classes=[0])
    detections[0].boxes      # (M, 4) float32 xyxy in the first frame's pixels

The work happens in C++ (``walkout._core``, cpp/src/detect/) with the GIL released; this
module checks the inputs, names the argument that is wrong, and shapes the results.

Coordinates are continuous pixel coordinates with pixel edges at integers (a box covering
pixels 0..9 is [0, 10]), in the source frame unless a name says ``model``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from walkout import _core

__all__ = [
    "Convention",
    "Detections",
    "Layout",
    "LetterboxTransforms",
    "box_iou",
    "cxcywh_to_xyxy",
    "decode",
    "letterbox",
    "letterbox_geometry",
    "nms",
    "xyxy_to_cxcywh",
]

Convention = Literal["ultralytics", "yolox"]
Layout = Literal["yolov8", "yolov8-pose", "end2end", "yolox"]

FloatArray = npt.NDArray[np.float32]


# --------------------------------------------------------------------------------------------
# Input checks (the C++ side checks again; these give the friendlier message first)
# --------------------------------------------------------------------------------------------


def _float32(name: str, value: object, ndim: int, shape_text: str) -> FloatArray:
    """``value`` as a C-contiguous float32 array; no copy when it already is one.

    Real-valued dtypes (float, int, bool) are converted; anything else raises ValueError.
    """
    array = np.asarray(value)
    if array.dtype.kind not in "fiub":
        raise ValueError(
            f"{name}: expected a real-valued array of shape {shape_text}, got dtype {array.dtype}"
        )
    if array.ndim != ndim:
        raise ValueError(f"{name}: expected shape {shape_text}, got {array.shape}")
    return np.ascontiguousarray(array, dtype=np.float32)


def _boxes(name: str, value: object) -> FloatArray:
    boxes = _float32(name, value, 2, "(N, 4)")
    if boxes.shape[1] != 4:
        raise ValueError(f"{name}: expected shape (N, 4), got {boxes.shape}")
    return boxes


def _class_ids(name: str, value: object, length: int | None) -> npt.NDArray[np.int64]:
    array = np.asarray(value)
    if array.ndim == 0:
        array = array.reshape(1)
    if array.dtype.kind not in "iub" and not (
        array.dtype.kind == "f" and np.all(np.isfinite(array)) and np.all(array == np.round(array))
    ):
        raise ValueError(f"{name}: expected whole-number class ids, got dtype {array.dtype}")
    if array.ndim != 1 or (length is not None and array.shape[0] != length):
        expected = f"({length},)" if length is not None else "(K,)"
        raise ValueError(f"{name}: expected shape {expected}, got {array.shape}")
    return np.ascontiguousarray(array, dtype=np.int64)


def _max_det(value: int | None) -> int:
    if value is None:
        return 0
    if int(value) < 1:
        raise ValueError(f"max_det: expected None or a positive count, got {value}")
    return int(value)


# --------------------------------------------------------------------------------------------
# NMS and box helpers
# --------------------------------------------------------------------------------------------


def nms(
    boxes: npt.ArrayLike,
    scores: npt.ArrayLike,
    iou_threshold: float,
    classes: npt.ArrayLike | None = None,
    max_det: int | None = None,
    *,
    score_threshold: float | None = None,
) -> npt.NDArray[np.int64]:
    """Greedy non-maximum suppression; the indices of the kept boxes, highest score first.

    Boxes are visited by descending score (equal scores: lower index first); a box is kept
    unless its IoU with an already kept box of the same class is strictly above
    ``iou_threshold``. Degenerate boxes (zero width or height) overlap nothing. NaN scores
    are never kept.

    Args:
        boxes: (N, 4) xyxy. float32 C-contiguous arrays are used without a copy.
        scores: (N,) scores.
        iou_threshold: in [0, 1]. Lower removes more duplicates but merges people standing
            close together; higher keeps neighbours apart but lets duplicates through.
        classes: optional (N,) class ids; boxes of different classes never suppress each
            other. None: class-agnostic.
        max_det: keep at most this many (the highest scores); None for no limit.
        score_threshold: only boxes scoring strictly above it take part (None: all). Raising
            it makes NMS faster and drops weak boxes before they can suppress anything.
    """
    b = _boxes("boxes", boxes)
    s = _float32("scores", scores, 1, f"({b.shape[0]},)")
    if s.shape[0] != b.shape[0]:
        raise ValueError(f"scores: expected shape ({b.shape[0]},), got {s.shape}")
    c = None if classes is None else _class_ids("classes", classes, b.shape[0])
    threshold = -np.inf if score_threshold is None else float(score_threshold)
    return _core.detect_nms(b, s, float(iou_threshold), c, _max_det(max_det), threshold)


def box_iou(a: npt.ArrayLike, b: npt.ArrayLike) -> FloatArray:
    """(N, M) IoU of every xyxy box in ``a`` (N, 4) with every one in ``b`` (M, 4)."""
    return _core.detect_box_iou(_boxes("a", a), _boxes("b", b))


def xyxy_to_cxcywh(boxes: npt.ArrayLike) -> FloatArray:
    """(N, 4) corners (x1, y1, x2, y2) -> centre and size (cx, cy, w, h); a new array."""
    return _core.detect_xyxy_to_cxcywh(_boxes("boxes", boxes))


def cxcywh_to_xyxy(boxes: npt.ArrayLike) -> FloatArray:
    """(N, 4) centre and size (cx, cy, w, h) -> corners (x1, y1, x2, y2); a new array."""
    return _core.detect_cxcywh_to_xyxy(_boxes("boxes", boxes))


# --------------------------------------------------------------------------------------------
# Letterbox
# --------------------------------------------------------------------------------------------


class LetterboxTransforms:
    """How each frame of a batch was letterboxed: maps points between source and model.

    ``array`` is (B, 6) float64, one row per frame: scale_x, scale_y, pad_x, pad_y, src_w,
    src_h, so that ``model = source * scale + pad`` (per axis). ``input_size`` is the model
    input (height, width). :func:`decode` takes this object (or the bare array) directly.
    """

    __slots__ = ("array", "input_size")

    def __init__(self, array: npt.ArrayLike, input_size: tuple[int, int]) -> None:
        a = np.ascontiguousarray(array, dtype=np.float64)
        if a.ndim != 2 or a.shape[1] != 6:
            raise ValueError(f"transforms: expected shape (B, 6), got {a.shape}")
        self.array = a
        self.input_size = (int(input_size[0]), int(input_size[1]))

    def __len__(self) -> int:
        return int(self.array.shape[0])

    def __repr__(self) -> str:
        return f"LetterboxTransforms({len(self)} frames, input_size={self.input_size})"

    @property
    def scale(self) -> npt.NDArray[np.float64]:
        """(B, 2) model pixels per source pixel, (x, y)."""
        return self.array[:, 0:2]

    @property
    def pad(self) -> npt.NDArray[np.float64]:
        """(B, 2) padding left of and above each image, model pixels."""
        return self.array[:, 2:4]

    @property
    def source_size(self) -> npt.NDArray[np.float64]:
        """(B, 2) source frame (width, height) in pixels."""
        return self.array[:, 4:6]

    def to_source(self, points: npt.ArrayLike, index: int = 0) -> npt.NDArray[np.float64]:
        """Model-input points (..., 2) (x, y) of frame ``index`` -> source-frame pixels."""
        p = np.asarray(points, dtype=np.float64)
        if p.shape[-1:] != (2,):
            raise ValueError(f"points: expected shape (..., 2), got {p.shape}")
        row = self.array[index]
        return (p - row[2:4]) / row[0:2]

    def to_model(self, points: npt.ArrayLike, index: int = 0) -> npt.NDArray[np.float64]:
        """Source-frame points (..., 2) (x, y) of frame ``index`` -> model-input pixels."""
        p = np.asarray(points, dtype=np.float64)
        if p.shape[-1:] != (2,):
            raise ValueError(f"points: expected shape (..., 2), got {p.shape}")
        row = self.array[index]
        return p * row[0:2] + row[2:4]


def _size(size: int | tuple[int, int]) -> tuple[int, int]:
    """(height, width) from an int (square) or a (height, width) pair."""
    if isinstance(size, (int, np.integer)):
        h = w = int(size)
    else:
        try:
            h, w = (int(v) for v in size)
        except (TypeError, ValueError):
            raise ValueError(f"size: expected an int or (height, width), got {size!r}") from None
    if h <= 0 or w <= 0:
        raise ValueError(f"size: expected positive sides, got {(h, w)}")
    return h, w


def _frame_list(frames: npt.ArrayLike | Sequence[npt.ArrayLike]) -> list[np.ndarray]:
    if isinstance(frames, np.ndarray):
        if frames.ndim == 3:
            return [frames]
        if frames.ndim == 4:
            return list(frames)
        raise ValueError(
            f"frames: expected (H, W, 3), (B, H, W, 3) or a list of (H, W, 3) "
            f"uint8 arrays, got shape {frames.shape}"
        )
    if isinstance(frames, Sequence) and not isinstance(frames, (str, bytes)):
        out = []
        for i, f in enumerate(frames):
            if not isinstance(f, np.ndarray):
                raise ValueError(
                    f"frames[{i}]: expected a numpy uint8 array (H, W, 3), got {type(f).__name__}"
                )
            out.append(f)
        return out
    raise ValueError(
        f"frames: expected a uint8 array or a list of them, got {type(frames).__name__}"
    )


def letterbox(
    frames: npt.ArrayLike | Sequence[npt.ArrayLike],
    size: int | tuple[int, int],
    convention: Convention = "ultralytics",
    *,
    out: FloatArray | None = None,
    threads: int = 0,
) -> tuple[FloatArray, LetterboxTransforms]:
    """Frames -> one float32 NCHW model input batch, and the transforms back to each frame.

    One pass per output row: a bilinear resize identical to OpenCV's ``INTER_LINEAR`` (same
    fixed point, same rounding), padding, channel order and value scale, written straight
    into the planar tensor.

    Args:
        frames: one uint8 BGR frame (H, W, 3), a batch (B, H, W, 3), or a list of frames of
            any sizes. Rows must hold contiguous pixels; a crop of a bigger frame (any row
            stride) is read in place.
        size: model input side (square) or (height, width).
        convention: "ultralytics" (RGB, /255, centred 114 padding, rounded resize) or
            "yolox" (BGR, 0..255, top-left placement, 114 padding, truncated resize).
        out: optional preallocated (B, 3, height, width) float32 C-contiguous tensor to fill,
            so that a live pipeline allocates nothing per frame.
        threads: threads that split the output rows; 0 = one per core, 1 = the calling
            thread. More finish a batch sooner but take cores from capture and inference.
    """
    h, w = _size(size)
    frame_list = _frame_list(frames)
    if not frame_list:
        raise ValueError("frames: expected at least one frame")
    if convention not in ("ultralytics", "yolox"):
        raise ValueError(f'convention: expected "ultralytics" or "yolox", got {convention!r}')
    if out is None:
        out = np.empty((len(frame_list), 3, h, w), dtype=np.float32)
    if int(threads) < 0:
        raise ValueError(f"threads: expected >= 0, got {threads}")
    transforms = _core.detect_letterbox(frame_list, w, h, convention, out, int(threads))
    return out, LetterboxTransforms(transforms, (h, w))


def letterbox_geometry(
    source_size: tuple[int, int],
    size: int | tuple[int, int],
    convention: Convention = "ultralytics",
) -> tuple[int, int, int, int]:
    """(resized_w, resized_h, pad_x, pad_y) for a frame of ``source_size`` (height, width)."""
    h, w = _size(size)
    sh, sw = (int(v) for v in source_size)
    return _core.detect_letterbox_geometry(sw, sh, w, h, convention)


# --------------------------------------------------------------------------------------------
# Decode
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Detections:
    """One image's detections, highest score first, in source-frame pixels.

    Attributes:
        boxes: (M, 4) float32 xyxy, clipped to the frame.
        scores: (M,) float32.
        class_ids: (M,) int64.
        keypoints: (M, K, 3) float32 (x, y, visibility), or None when the model has none.
    """

    boxes: FloatArray
    scores: FloatArray
    class_ids: npt.NDArray[np.int64]
    keypoints: FloatArray | None = None

    def __len__(self) -> int:
        return int(self.scores.shape[0])


def decode(
    output: npt.ArrayLike,
    layout: Layout,
    transforms: LetterboxTransforms | npt.ArrayLike,
    conf_threshold: float = 0.25,
    iou_threshold: float = 0.45,
    classes: Sequence[int] | npt.ArrayLike | None = None,
    max_det: int = 300,
    *,
    agnostic: bool = False,
    num_keypoints: int = 17,
    input_size: tuple[int, int] | None = None,
    threads: int = 0,
) -> list[Detections]:
    """A detector's raw output -> one :class:`Detections` per image.

    Steps: best class per candidate (argmax), class filter, ``score > conf_threshold``, NMS
    (per class unless ``agnostic``; not for "end2end", whose model already did it), the
    ``max_det`` best, then the inverse letterbox.

    Args:
        output: (B, ...) float32 model output in the given layout:
            "yolov8" (B, 4 + nc, N); "yolov8-pose" (B, 4 + nc + 3K, N); "end2end"
            (B, N, 6 + 3K) with x1, y1, x2, y2, score, class; "yolox" (B, N, 5 + nc), raw
            grid outputs of strides 8, 16, 32 whose class scores are already probabilities.
        layout: one of "yolov8", "yolov8-pose", "end2end", "yolox".
        transforms: what :func:`letterbox` returned, or a (B, 6) array of the same fields.
        conf_threshold: minimum score (exclusive). Lower finds small and half-hidden people
            at the price of more false boxes and a slower NMS.
        iou_threshold: NMS threshold in [0, 1] (see :func:`nms`).
        classes: keep only these class ids (the store needs people: ``[0]`` on COCO models).
            A candidate's class is its argmax over all classes, as in Ultralytics.
        max_det: at most this many detections per image.
        agnostic: one NMS across classes instead of one per class.
        num_keypoints: K of "yolov8-pose" (17 for COCO people).
        input_size: model (height, width); taken from ``transforms`` when it is a
            :class:`LetterboxTransforms`. Only "yolox" needs it (the grid).
        threads: threads that decode the images of a batch; 0 = one per core.
    """
    if isinstance(output, np.ndarray) and output.dtype == np.float32 and output.flags.c_contiguous:
        out = output  # the common case: an onnxruntime output, used as is
    else:
        out = _float32("output", output, 3, "(B, C, N) or (B, N, C)")
    if out.ndim != 3:
        raise ValueError(
            f"output: expected a 3-d (B, C, N) or (B, N, C) array, got shape {out.shape}"
        )
    if isinstance(transforms, LetterboxTransforms):
        t = transforms.array
        size = transforms.input_size if input_size is None else input_size
    else:
        t = np.ascontiguousarray(transforms, dtype=np.float64)
        if t.ndim == 1:
            t = t.reshape(1, -1)
        size = input_size
    if t.ndim != 2 or t.shape != (out.shape[0], 6):
        raise ValueError(f"transforms: expected shape ({out.shape[0]}, 6), got {t.shape}")
    if size is None:
        if layout == "yolox":
            raise ValueError(
                "input_size: the yolox layout needs the model input (height, width); "
                "pass the transforms from letterbox() or input_size="
            )
        size = (0, 0)
    c = None if classes is None else _class_ids("classes", classes, None)
    if int(threads) < 0:
        raise ValueError(f"threads: expected >= 0, got {threads}")
    if int(num_keypoints) < 0:
        raise ValueError(f"num_keypoints: expected >= 0, got {num_keypoints}")
    raw = _core.detect_decode(
        out,
        layout,
        t,
        int(size[1]),
        int(size[0]),
        float(conf_threshold),
        float(iou_threshold),
        c,
        _max_det(max_det),
        bool(agnostic),
        int(num_keypoints),
        int(threads),
    )
    return [Detections(b, s, k, kp) for b, s, k, kp in raw]
