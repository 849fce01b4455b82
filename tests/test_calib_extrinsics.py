"""Camera pose from measured store points: recovered through known cameras, with noise, and
refused for degenerate input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from twins.geometry_cases import ceiling_cameras, pixels_in_image
from walkout.calib import read_point_pairs, solve_pose
from walkout.calib.extrinsics import PointPairs
from walkout.geometry import Camera


def _pairs(cam: Camera, seed: int, n: int, heights: bool = False, noise: float = 0.0) -> PointPairs:
    rng = np.random.default_rng(seed)
    floor = cam.floor_from_image(pixels_in_image(rng, n, margin=60))
    z = rng.uniform(0.0, 1.8, n) if heights else np.zeros(n)
    store = np.column_stack([floor, z])
    # Points above the floor along the same rays would project to the same pixels; move them
    # sideways so they are real off-plane points, and keep only those still in the image.
    pixels = cam.image_from_store(store)
    keep = ~np.isnan(pixels).any(axis=1) & (pixels[:, 0] > 0) & (pixels[:, 0] < 1279) & (pixels[:, 1] > 0) & (pixels[:, 1] < 719)
    pixels = pixels[keep] + rng.normal(0.0, noise, (int(keep.sum()), 2))
    return PointPairs([f"p{i}" for i in range(int(keep.sum()))], pixels, store[keep])


@given(ceiling_cameras(), st.integers(0, 2**32 - 1), st.booleans())
def test_pose_is_recovered_exactly_without_noise(cam: Camera, seed: int, heights: bool) -> None:
    pairs = _pairs(cam, seed, 12, heights)
    pose = solve_pose(pairs, cam.K, cam.dist)
    np.testing.assert_allclose(pose.centre, cam.centre, atol=1e-5)
    np.testing.assert_allclose(pose.R, cam.R, atol=1e-6)
    assert pose.rms_px < 1e-4


@given(ceiling_cameras(), st.integers(0, 2**32 - 1))
def test_pose_under_pixel_noise_is_within_a_few_centimetres(cam: Camera, seed: int) -> None:
    pairs = _pairs(cam, seed, 20, noise=0.5)
    pose = solve_pose(pairs, cam.K, cam.dist)
    # 20 marks spread over the image, 0.5 px noise: the centre moves by millimetres per
    # metre of distance; 5 cm bounds it for cameras up to ~10 m from their marks.
    assert np.linalg.norm(pose.centre - cam.centre) < 0.05
    # The fit residual is the noise, less the 6 fitted degrees of freedom.
    assert 0.2 < pose.rms_px < 1.0
    # What matters downstream: floor points land where the true camera puts them.
    test_pixels = pixels_in_image(np.random.default_rng(seed + 1), 50, margin=60)
    fitted = Camera(cam.K, cam.dist, pose.R, pose.t)
    assert np.nanmax(np.linalg.norm(fitted.floor_from_image(test_pixels) - cam.floor_from_image(test_pixels),
                                    axis=1)) < 0.05


def test_degenerate_point_sets_are_refused() -> None:
    K = np.diag([800.0, 800.0, 1.0])
    K[:2, 2] = [640, 360]
    line = PointPairs(list("abcde"), np.random.default_rng(0).uniform(0, 700, (5, 2)),
                      np.column_stack([np.linspace(0, 4, 5), np.linspace(0, 2, 5), np.zeros(5)]))
    with pytest.raises(ValueError, match="degenerate point set"):
        solve_pose(line, K, np.zeros(0))
    three = PointPairs(list("abc"), np.zeros((3, 2)), np.eye(3))
    with pytest.raises(ValueError, match="at least 4"):
        solve_pose(three, K, np.zeros(0))


def test_point_files_in_csv_and_yaml(tmp_path: Path) -> None:
    csv = tmp_path / "marks.csv"
    csv.write_text("u, v, x, y, z, name\n# tape marks\n100.5, 200, 1.0, 2.0, 0.0, door\n"
                   "300, 400, 3.0, 4.0, , \n10, 20, 5, 6, 0.5, shelf-corner\n")
    pairs = read_point_pairs(csv)
    assert pairs.names == ["door", "1", "shelf-corner"]
    np.testing.assert_allclose(pairs.pixels, [[100.5, 200], [300, 400], [10, 20]])
    np.testing.assert_allclose(pairs.store, [[1, 2, 0], [3, 4, 0], [5, 6, 0.5]])
    yaml_file = tmp_path / "marks.yaml"
    yaml_file.write_text("points:\n- {name: A, pixel: [1, 2], store: [3, 4]}\n"
                         "- {name: B, pixel: [5, 6], store: [7, 8, 1.5]}\n")
    pairs = read_point_pairs(yaml_file)
    assert pairs.names == ["A", "B"]
    np.testing.assert_allclose(pairs.store, [[3, 4, 0], [7, 8, 1.5]])
    bad = tmp_path / "bad.csv"
    bad.write_text("u,v,x,y\n1,2,3\n")
    with pytest.raises(ValueError, match=r"bad.csv line 2: expected u, v, x, y"):
        read_point_pairs(bad)
    with pytest.raises(ValueError, match="cannot read"):
        read_point_pairs(tmp_path / "missing.csv")
    broken = tmp_path / "broken.yaml"
    broken.write_text("points:\n- {name: A, pixel: [1]}\n")
    with pytest.raises(ValueError, match="entry 0"):
        read_point_pairs(broken)
