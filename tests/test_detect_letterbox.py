"""walkout.detect.letterbox: bit-exact against the numpy twin of OpenCV's fixed-point resize,
within a grey level of the real OpenCV pipeline, and transforms that say where pixels went."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from twins import detect as twin
from walkout import detect

conventions = st.sampled_from(["ultralytics", "yolox"])
sides = st.integers(1, 300)


def random_frame(seed: int, h: int, w: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@given(
    st.integers(0, 2**32 - 1),
    st.lists(st.tuples(sides, sides), min_size=1, max_size=3),
    st.tuples(st.integers(8, 256), st.integers(8, 256)),
    conventions,
    st.sampled_from([1, 2]),
)
def test_matches_twin_exactly(seed, frame_sizes, size, convention, threads):
    frames = [random_frame(seed + i, h, w) for i, (h, w) in enumerate(frame_sizes)]
    tensor, transforms = detect.letterbox(frames, size, convention, threads=threads)
    want_tensor, want_transforms = twin.letterbox(frames, size, convention)
    assert tensor.shape == (len(frames), 3, *size) and tensor.dtype == np.float32
    np.testing.assert_array_equal(tensor, want_tensor)
    np.testing.assert_array_equal(transforms.array, want_transforms)
    assert transforms.input_size == size


@given(st.integers(0, 2**32 - 1), st.integers(2, 400), st.integers(2, 400), st.integers(16, 320))
def test_resize_within_one_grey_level_of_opencv(seed, h, w, side):
    frame = random_frame(seed, h, w)
    tensor, _ = detect.letterbox(frame, side, "yolox")
    new_w, new_h, _, _ = detect.letterbox_geometry((h, w), side, "yolox")
    want = cv2.resize(frame, (new_w, new_h), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    got = tensor[0, :, :new_h, :new_w].transpose(1, 2, 0)
    assert np.abs(got - want).max() <= 1.0


def opencv_ultralytics_pipeline(frame: np.ndarray, side: int) -> np.ndarray:
    """What Ultralytics' LetterBox + its preprocess do, with OpenCV and numpy."""
    h, w = frame.shape[:2]
    r = min(side / h, side / w)
    new_w, new_h = round(w * r), round(h * r)
    dw, dh = (side - new_w) / 2, (side - new_h) / 2
    img = (
        cv2.resize(frame, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
        if (w, h) != (new_w, new_h)
        else frame
    )
    top, bottom = round(dh - 0.1), round(dh + 0.1)
    left, right = round(dw - 0.1), round(dw + 0.1)
    img = cv2.copyMakeBorder(
        img, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(114, 114, 114)
    )
    return img[:, :, ::-1].transpose(2, 0, 1).astype(np.float32) / np.float32(255)


@pytest.mark.parametrize(
    ("h", "w"), [(1080, 1920), (720, 1280), (480, 640), (333, 500), (1000, 17)]
)
def test_ultralytics_convention_against_the_opencv_pipeline(h, w):
    frame = random_frame(h * w, h, w)
    tensor, _ = detect.letterbox(frame, 640)
    want = opencv_ultralytics_pipeline(frame, 640)
    assert tensor.shape[1:] == want.shape
    assert np.abs(tensor[0] - want).max() <= 1 / 255 + 1e-7


def test_every_grey_level_scales_exactly():
    # All 256 levels through both row kernels (point sampled: 3x; blended: 1.5x), so the
    # vectorised v / 255 is checked against IEEE division for every value.
    levels = np.repeat(np.arange(256, dtype=np.uint8), 9).reshape(48, 48, 1).repeat(3, axis=2)
    for side in (16, 32, 48, 96):
        tensor, _ = detect.letterbox(levels, side)
        want, _ = twin.letterbox([levels], side)
        np.testing.assert_array_equal(tensor, want)
    flat = np.tile(np.arange(256, dtype=np.uint8)[:, None, None], (1, 3, 3))  # 256 x 3 rows
    tensor, _ = detect.letterbox(np.ascontiguousarray(flat.reshape(256, 9, 1).repeat(3, 2)), 256)
    np.testing.assert_array_equal(
        np.unique(tensor), np.arange(256, dtype=np.float32) / np.float32(255)
    )


@given(
    st.integers(1, 500), st.integers(1, 500), st.integers(8, 640), st.integers(8, 640), conventions
)
def test_each_model_pixel_is_sampled_within_half_a_pixel_of_where_to_source_says(
    h, w, dh, dw, convention
):
    new_w, new_h, pad_x, pad_y = detect.letterbox_geometry((h, w), (dh, dw), convention)
    _, transforms = detect.letterbox(np.zeros((h, w, 3), np.uint8), (dh, dw), convention)
    x0, _, _, ax = twin.resize_taps(w, new_w, clamp_weights=True)
    y0, y1, _, by = twin.resize_taps(h, new_h, clamp_weights=False)
    # Where the resize actually sampled each model pixel (pixel-edge coordinates): first tap
    # centre plus the fraction given to the second tap.
    # Rows above the first pixel keep their fraction but both taps read row 0 (OpenCV clamps
    # the row indices only), so there the blend is of row -1 and row 0, i.e. row 0 itself.
    row_above = (y0 == 0) & (y1 == 0) & (by > 0)
    sampled_x = x0 + 0.5 + ax / 2048
    sampled_y = np.clip(np.where(row_above, -1, y0) + 0.5 + by / 2048, 0.5, h - 0.5)
    centres = np.stack(
        np.meshgrid(np.arange(new_w) + pad_x + 0.5, np.arange(new_h) + pad_y + 0.5), -1
    )
    mapped = transforms.to_source(centres)
    assert np.abs(mapped[..., 0] - sampled_x[None, :]).max() <= 0.5 + 1e-6
    assert np.abs(np.clip(mapped[..., 1], 0.5, h - 0.5) - sampled_y[:, None]).max() <= 0.5 + 1e-6
    # And the two directions invert each other.
    np.testing.assert_allclose(transforms.to_model(mapped), centres, atol=1e-9)


@given(st.integers(1, 2000), st.integers(1, 2000), st.integers(32, 1280), conventions)
def test_geometry_matches_the_original_formulas(h, w, side, convention):
    got = detect.letterbox_geometry((h, w), side, convention)
    assert got == twin.letterbox_geometry(w, h, side, side, convention)
    new_w, new_h, pad_x, pad_y = got
    # The image fills the input along one side (YOLOX truncates, so it may fall 1 px short).
    assert new_w <= side and new_h <= side and max(new_w, new_h) >= side - 1
    if convention == "yolox":
        assert pad_x == pad_y == 0


def test_documented_example_1080p():
    _, t = detect.letterbox(np.zeros((1080, 1920, 3), np.uint8), 640)
    np.testing.assert_allclose(t.array[0], [1 / 3, 1 / 3, 0, 140, 1920, 1080])
    np.testing.assert_allclose(t.to_source([[320, 140]]), [[960, 0]])


def test_crop_with_row_stride_reads_in_place():
    frame = random_frame(1, 300, 400)
    crop = frame[50:250, 30:330]  # rows keep the big frame's stride
    assert not crop.flags.c_contiguous
    a, _ = detect.letterbox(crop, 128)
    b, _ = detect.letterbox(np.ascontiguousarray(crop), 128)
    np.testing.assert_array_equal(a, b)


def test_out_is_filled_in_place_and_batches_accept_4d_arrays():
    frames = np.stack([random_frame(i, 90, 160) for i in range(3)])
    out = np.full((3, 3, 64, 64), -1, np.float32)
    tensor, transforms = detect.letterbox(frames, 64, out=out, threads=2)
    assert tensor is out and len(transforms) == 3
    np.testing.assert_array_equal(out, twin.letterbox(list(frames), 64)[0])


@pytest.mark.parametrize(
    ("frames", "kwargs", "message"),
    [
        (np.zeros((10, 10, 3), np.float32), {}, r"frames\[0\]: expected dtype uint8"),
        (np.zeros((10, 10, 4), np.uint8), {}, r"frames\[0\]: expected shape \(N, N, 3\)"),
        (np.zeros((10, 10), np.uint8), {}, "frames: expected"),
        ([np.zeros((10, 10, 3), np.uint8), "x"], {}, r"frames\[1\]: expected a numpy uint8 array"),
        ([], {}, "frames: expected at least one frame"),
        (np.zeros((10, 10, 3), np.uint8)[:, ::2], {}, r"frames\[0\]: expected rows of contiguous"),
        (np.zeros((10, 10, 3), np.uint8), {"size": 0}, "size: expected positive sides"),
        (np.zeros((10, 10, 3), np.uint8), {"size": "big"}, "size: expected an int"),
        (np.zeros((10, 10, 3), np.uint8), {"convention": "yolov5"}, "convention: expected"),
        (
            np.zeros((10, 10, 3), np.uint8),
            {"out": np.zeros((1, 3, 32, 31), np.float32)},
            r"out: expected shape \(1, 3, 32, 32\)",
        ),
        (
            np.zeros((10, 10, 3), np.uint8),
            {"out": np.zeros((1, 3, 32, 32))},
            "out: expected a C-contiguous float32",
        ),
    ],
)
def test_bad_input_names_the_argument(frames, kwargs, message):
    args = {"size": 32} | kwargs
    with pytest.raises(ValueError, match=message):
        detect.letterbox(frames, **args)


def test_read_only_out_is_refused():
    out = np.zeros((1, 3, 16, 16), np.float32)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="out: expected a writeable array"):
        detect.letterbox(np.zeros((8, 8, 3), np.uint8), 16, out=out)


def test_portable_kernels_agree_with_the_twin():
    # The AVX2 row kernels are chosen at load time; the portable ones run on every other CPU.
    # Run them in a fresh process (the choice is made once) on frames that exercise both the
    # point-sampled and the blended rows, and compare with the twin there.
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = (
        "import numpy as np, sys\n"
        "from walkout import _core, detect\n"
        "from twins import detect as twin\n"
        "assert _core.detect_letterbox_kernel_isa() == 'portable'\n"
        "rng = np.random.default_rng(0)\n"
        "for (h, w, s, conv) in [(1080, 1920, 640, 'ultralytics'), (720, 1280, 640, 'yolox'),\n"
        "                        (37, 53, 96, 'ultralytics'), (480, 640, 416, 'yolox')]:\n"
        "    f = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)\n"
        "    np.testing.assert_array_equal(detect.letterbox(f, s, conv)[0], twin.letterbox([f], s, conv)[0])\n"
    )
    tests_dir = Path(__file__).resolve().parent
    env = dict(os.environ, WALKOUT_PORTABLE_KERNELS="1")
    env["PYTHONPATH"] = os.pathsep.join([str(tests_dir), *sys.path])
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=120)
