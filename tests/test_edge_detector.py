"""The edge detector with a real ONNX model: the YOLOX-Nano COCO model from ../shared/data runs
through letterbox + onnxruntime + decode; wrong models fail at start with a clear message."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from walkout.config.edge import ModelSettings
from walkout.edge.detector import Detector, ModelError, check_output_layout, choose_providers

# People an independent decode finds per photo (../shared/data/README.md).
EXPECTED_PEOPLE = {
    "000000000139": 2, "000000000872": 2, "000000001000": 12, "000000002299": 13,
    "000000004134": 15, "000000005001": 14, "000000006471": 9, "000000009400": 10,
}


def _yolox_settings(**changes: object) -> ModelSettings:
    values: dict[str, object] = dict(
        path=Path("yolox_nano.onnx"), layout="yolox", letterbox="yolox", input_size=(416, 416),
        conf_threshold=0.3, iou_threshold=0.45, max_det=100, classes=[0], provider="cpu",
    )
    values.update(changes)
    return ModelSettings.model_validate(values)


@pytest.fixture(scope="module")
def yolox_path(shared_data: Path) -> Path:
    path = shared_data / "models" / "yolox_nano.onnx"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return path


def test_real_model_finds_the_people(yolox_path: Path, shared_data: Path) -> None:
    detector = Detector(_yolox_settings(), yolox_path, threads=1)
    assert detector.info.num_classes == 80
    assert detector.info.provider == "CPUExecutionProvider"
    names = sorted(EXPECTED_PEOPLE)
    frames = [cv2.imread(str(shared_data / "images" / "people" / f"{n}.jpg")) for n in names]
    results = detector(frames)  # one batch of 8 photos of different sizes
    for name, frame, dets in zip(names, frames, results, strict=True):
        assert abs(len(dets) - EXPECTED_PEOPLE[name]) <= 1, (name, len(dets))
        assert np.all(dets.class_ids == 0)
        h, w = frame.shape[:2]
        assert np.all(dets.boxes[:, [0, 2]] >= 0) and np.all(dets.boxes[:, [0, 2]] <= w)
        assert np.all(dets.boxes[:, [1, 3]] >= 0) and np.all(dets.boxes[:, [1, 3]] <= h)
    first = results[0]
    # the README's reference box in 000000000139, about [427, 164, 468, 295]
    best = np.abs(first.boxes - np.array([427, 164, 468, 295])).max(axis=1).min()
    assert best < 4


def test_missing_model_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"model.path: ONNX model .*absent.onnx not found"):
        Detector(_yolox_settings(), tmp_path / "absent.onnx")


def test_corrupt_model_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x08\x07this is not a protobuf" * 10)
    with pytest.raises(ModelError, match="not a loadable ONNX model"):
        Detector(_yolox_settings(), bad)


def test_wrong_input_size(yolox_path: Path) -> None:
    with pytest.raises(ModelError, match=r"model.input_size: .*640x384"):
        Detector(_yolox_settings(input_size=(640, 384)), yolox_path)


@pytest.mark.parametrize("layout", ["yolov8", "yolov8-pose", "end2end"])
def test_wrong_layout(yolox_path: Path, layout: str) -> None:
    with pytest.raises(ModelError, match=f"does not fit layout '{layout}'"):
        Detector(_yolox_settings(layout=layout), yolox_path)


def test_layout_shapes() -> None:
    assert check_output_layout((1, 84, 8400), "yolov8", 640, 640) == 80
    assert check_output_layout((1, 56, 8400), "yolov8-pose", 640, 640) == 1
    assert check_output_layout((1, 300, 6), "end2end", 640, 640) == 0
    assert check_output_layout((1, 3549, 85), "yolox", 416, 416) == 80
    with pytest.raises(ModelError, match=r"\[1, 4 \+ classes, 5040\]"):
        check_output_layout((1, 84, 8400), "yolov8", 384, 640)


def test_provider_choice() -> None:
    assert choose_providers("auto", ["CPUExecutionProvider"]) == ["CPUExecutionProvider"]
    assert choose_providers("auto", ["CUDAExecutionProvider", "CPUExecutionProvider"])[0] == "CUDAExecutionProvider"
    with pytest.raises(ModelError, match="CUDAExecutionProvider"):
        choose_providers("cuda", ["CPUExecutionProvider"])


def test_thread_count_changes_cost_not_detections(yolox_path: Path, shared_data: Path) -> None:
    frames = [cv2.imread(str(shared_data / "images" / "people" / f"{n}.jpg"))
              for n in sorted(EXPECTED_PEOPLE)[:2]]
    settings = _yolox_settings()
    assert settings.threads == 1  # the edge default: least CPU per frame
    one = Detector(settings, yolox_path)(frames)
    two = Detector(_yolox_settings(threads=2), yolox_path)(frames)
    for a, b in zip(one, two, strict=True):
        assert len(a.boxes) == len(b.boxes) > 0
        np.testing.assert_allclose(a.boxes, b.boxes, atol=1e-3)


def test_negative_thread_count_is_refused() -> None:
    with pytest.raises(ValueError, match="threads"):
        _yolox_settings(threads=-1)
