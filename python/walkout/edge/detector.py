"""The edge box's detector: letterbox → ONNX model (onnxruntime) → decode + NMS.

Any ONNX detector in one of the supported output layouts drops in through the edge config's
``model`` section: walkout's shipped pose model, a real Ultralytics YOLOv8/YOLO11 detect or
pose export, an NMS-free end-to-end export, or a raw YOLOX model. The model is checked when
the detector is built — the file, the input size and the output layout — so a wrong model
fails at start with a message naming the file and what was expected, never mid-shift.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from walkout.config.edge import ModelSettings
from walkout.detect import Detections, decode, letterbox

STRIDES = (8, 16, 32)

# Execution providers by preference; "auto" takes the first that this onnxruntime has.
_PROVIDERS = {
    "tensorrt": "TensorrtExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "cpu": "CPUExecutionProvider",
}


class ModelError(ValueError):
    """The model file, its input or its output does not fit the edge config."""


@dataclass(frozen=True)
class ModelInfo:
    """What was checked about a loaded model."""

    path: Path
    input_name: str
    input_size: tuple[int, int]  # (height, width)
    output_shape: tuple[int, ...]  # for batch 1
    provider: str
    num_classes: int


def choose_providers(wanted: str, available: Sequence[str]) -> list[str]:
    """onnxruntime providers for ``wanted`` ("auto", "tensorrt", "cuda" or "cpu")."""
    if wanted == "auto":
        chosen = [p for p in _PROVIDERS.values() if p in available]
        return chosen or ["CPUExecutionProvider"]
    name = _PROVIDERS[wanted]
    if name not in available:
        raise ModelError(
            f"model.provider: '{wanted}' needs {name}, which this onnxruntime does not have "
            f"(available: {', '.join(available)}); install walkout[gpu] on a GPU box or use 'auto'"
        )
    return [name] if name == "CPUExecutionProvider" else [name, "CPUExecutionProvider"]


def grid_cells(height: int, width: int) -> int:
    """Anchor cells of a stride-8/16/32 head for an input of height x width."""
    return sum((height // s) * (width // s) for s in STRIDES)


def check_output_layout(shape: tuple[int, ...], layout: str, height: int, width: int,
                        num_keypoints: int = 17) -> int:
    """The number of classes of an output of ``shape`` (batch 1) in ``layout``; raises
    ModelError saying what the layout expects when the shape does not fit."""
    if len(shape) != 3 or shape[0] != 1:
        raise ModelError(f"output: expected a 3-d output [1, ...] for batch 1, got {list(shape)}")
    cells = grid_cells(height, width)
    if layout == "yolov8":
        channels, n = shape[1], shape[2]
        if channels < 5 or n != cells:
            raise ModelError(f"output {list(shape)} does not fit layout 'yolov8': expected "
                             f"[1, 4 + classes, {cells}] for a {width}x{height} input")
        return channels - 4
    if layout == "yolov8-pose":
        channels, n = shape[1], shape[2]
        classes = channels - 4 - 3 * num_keypoints
        if classes < 1 or n != cells:
            raise ModelError(f"output {list(shape)} does not fit layout 'yolov8-pose': expected "
                             f"[1, 4 + classes + {3 * num_keypoints}, {cells}] for a "
                             f"{width}x{height} input ({num_keypoints} keypoints)")
        return classes
    if layout == "end2end":
        if shape[2] not in (6, 6 + 3 * num_keypoints):
            raise ModelError(f"output {list(shape)} does not fit layout 'end2end': expected "
                             f"[1, N, 6] or [1, N, {6 + 3 * num_keypoints}]")
        return 0
    if layout == "yolox":
        n, channels = shape[1], shape[2]
        if channels < 6 or n != cells:
            raise ModelError(f"output {list(shape)} does not fit layout 'yolox': expected "
                             f"[1, {cells}, 5 + classes] for a {width}x{height} input")
        return channels - 5
    raise ModelError(f"unknown layout '{layout}'")


class Detector:
    """Runs one ONNX detector over batches of camera frames.

    ``Detector(settings, path)(frames)`` returns one :class:`walkout.detect.Detections` per
    frame, in that frame's pixels.
    """

    def __init__(self, settings: ModelSettings, path: Path, *, threads: int | None = None) -> None:
        """``threads`` overrides ``settings.threads`` (onnxruntime intra-op threads; 0 = its
        default, one per core)."""
        import onnxruntime as ort

        self.settings = settings
        path = Path(path)
        if not path.is_file():
            raise ModelError(f"model.path: ONNX model {path} not found")
        options = ort.SessionOptions()
        threads = settings.threads if threads is None else threads
        if threads:
            options.intra_op_num_threads = threads
        # onnxruntime's pool threads spin between ops waiting for work by default: on a box
        # whose cores also capture, track and uplink, that is CPU time taken from them
        # (2 threads: 37.7 ms of CPU a frame spinning, 26.4 ms not; benchmarks/results/model.md).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        providers = choose_providers(settings.provider, ort.get_available_providers())
        try:
            self._session = ort.InferenceSession(str(path), options, providers=providers)
        except Exception as exc:  # onnxruntime raises its own exception types per failure
            raise ModelError(f"model.path: {path} is not a loadable ONNX model: {exc}") from None
        inputs = self._session.get_inputs()
        if len(inputs) != 1:
            raise ModelError(f"model {path}: expected one image input, got {len(inputs)}")
        width, height = settings.input_size
        shape = inputs[0].shape
        if len(shape) != 4:
            raise ModelError(f"model {path}: expected a 4-d NCHW input, got {shape}")
        fixed = [
            (axis, want, got)
            for axis, want, got in ((1, 3, shape[1]), (2, height, shape[2]), (3, width, shape[3]))
            if isinstance(got, int) and got != want
        ]
        if fixed:
            raise ModelError(
                f"model.input_size: the model {path} takes input {shape} (N, C, H, W), but the "
                f"config says {width}x{height} (width x height); set input_size to the model's"
            )
        self._input_name = inputs[0].name
        # Models exported with a fixed batch (often 1) take the cameras of a frameset in
        # chunks of that size; dynamic-batch models take them all at once.
        self.max_batch: int | None = shape[0] if isinstance(shape[0], int) and shape[0] > 0 else None
        probe = np.zeros((1, 3, height, width), dtype=np.float32)
        try:
            out = self._session.run(None, {self._input_name: probe})[0]
        except Exception as exc:
            raise ModelError(f"model {path}: a test inference at {width}x{height} failed: {exc}") from None
        num_classes = check_output_layout(tuple(out.shape), settings.layout, height, width)
        self.info = ModelInfo(path, self._input_name, (height, width), tuple(out.shape),
                              self._session.get_providers()[0], num_classes)
        self._buffer: np.ndarray | None = None

    def __call__(self, frames: Sequence[np.ndarray]) -> list[Detections]:
        """Detect in a batch of uint8 BGR frames (any sizes)."""
        step = self.max_batch
        if step is not None and len(frames) > step:
            out: list[Detections] = []
            for start in range(0, len(frames), step):
                out.extend(self._batch(frames[start:start + step]))
            return out
        return self._batch(frames)

    def _batch(self, frames: Sequence[np.ndarray]) -> list[Detections]:
        height, width = self.info.input_size
        batch = len(frames)
        if self._buffer is None or self._buffer.shape[0] != batch:
            self._buffer = np.empty((batch, 3, height, width), dtype=np.float32)
        tensor, transforms = letterbox(list(frames), (height, width), self.settings.letterbox,
                                       out=self._buffer)
        output = self._session.run(None, {self._input_name: tensor})[0]
        return decode(
            np.ascontiguousarray(output, dtype=np.float32),
            self.settings.layout,
            transforms,
            conf_threshold=self.settings.conf_threshold,
            iou_threshold=self.settings.iou_threshold,
            classes=self.settings.classes,
            max_det=self.settings.max_det,
        )
