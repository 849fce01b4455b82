"""The real YOLOX-Nano model on real COCO photos (../shared/data): letterbox + onnxruntime +
decode(layout="yolox") finds the people an independent decode found (data README), with boxes
that agree with the numpy twin pipeline to within 1 px."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from twins import detect as twin
from walkout import detect

pytestmark = pytest.mark.realdata

# From ../shared/data/README.md: people found by an independent decode (INTER_LINEAR resize to
# fit 416, top-left padding, person score >= 0.3, NMS IoU 0.45).
EXPECTED_PEOPLE = {
    "000000000139": 2,
    "000000000872": 2,
    "000000001000": 12,
    "000000002299": 13,
    "000000004134": 15,
    "000000005001": 14,
    "000000006471": 9,
    "000000009400": 10,
}
PERSON = 0


@pytest.fixture(scope="module")
def session(shared_data: Path):
    ort = pytest.importorskip("onnxruntime")
    model = shared_data / "models" / "yolox_nano.onnx"
    if not model.is_file():
        pytest.skip(f"{model} is absent")
    return ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def photos(shared_data: Path) -> dict[str, np.ndarray]:
    cv2 = pytest.importorskip("cv2")
    folder = shared_data / "images" / "people"
    found = {p.stem: cv2.imread(str(p)) for p in sorted(folder.glob("*.jpg"))}
    if set(found) != set(EXPECTED_PEOPLE):
        pytest.skip(f"{folder} does not hold the 8 photos the README lists")
    return found


def test_finds_the_people_in_every_photo(session, photos):
    for name, image in photos.items():
        tensor, transforms = detect.letterbox(image, 416, "yolox")
        output = session.run(None, {"images": tensor})[0]
        (found,) = detect.decode(
            output, "yolox", transforms, conf_threshold=0.3, iou_threshold=0.45, classes=[PERSON]
        )
        assert len(found) == EXPECTED_PEOPLE[name], name
        assert np.all(found.class_ids == PERSON)

        # The whole pipeline again, in numpy (twin letterbox, twin decode).
        twin_tensor, twin_transforms = twin.letterbox([image], 416, "yolox")
        np.testing.assert_array_equal(tensor, twin_tensor)
        twin_output = session.run(None, {"images": twin_tensor})[0]
        boxes, scores, _, _ = twin.decode_yolox(
            twin_output[0], twin_transforms[0], 416, 416, 0.3, 0.45, [PERSON]
        )
        assert np.abs(found.boxes - boxes).max() <= 1.0, name
        np.testing.assert_allclose(found.scores, scores, atol=1e-6)
        h, w = image.shape[:2]
        assert np.all(found.boxes[:, [0, 2]] <= w) and np.all(found.boxes[:, [1, 3]] <= h)


def test_first_person_of_000000000139_is_where_the_readme_says(session, photos):
    tensor, transforms = detect.letterbox(photos["000000000139"], 416, "yolox")
    output = session.run(None, {"images": tensor})[0]
    (found,) = detect.decode(output, "yolox", transforms, conf_threshold=0.3, classes=[PERSON])
    np.testing.assert_allclose(found.boxes[0], [427, 164, 468, 295], atol=2.0)


def test_a_batch_gives_the_same_people_as_single_frames(session, photos):
    names = list(photos)[:3]
    tensor, transforms = detect.letterbox([photos[n] for n in names], 416, "yolox", threads=2)
    # The model takes one image at a time; run each slice, decode the stacked outputs at once.
    output = np.concatenate([session.run(None, {"images": tensor[i : i + 1]})[0] for i in range(3)])
    found = detect.decode(output, "yolox", transforms, conf_threshold=0.3, classes=[PERSON])
    assert [len(f) for f in found] == [EXPECTED_PEOPLE[n] for n in names]
