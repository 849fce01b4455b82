"""walkout.geometry projection: compiled code vs the numpy twin, cv2, and round trips."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from twins import geometry as twin
from twins.geometry_cases import (
    HEIGHT,
    WIDTH,
    ceiling_cameras,
    core_args,
    make_camera,
    pixels_in_image,
)
from walkout.config import load_calibration, load_store
from walkout.geometry import Camera

seeds = st.integers(0, 2**32 - 1)


@given(ceiling_cameras(), seeds)
def test_image_from_store_matches_twin_and_opencv(cam: Camera, seed: int) -> None:
    rng = np.random.default_rng(seed)
    floor = cam.floor_from_image(pixels_in_image(rng, 64))
    points = np.column_stack([floor, rng.uniform(0, 2, len(floor))])
    points = points[~np.isnan(points).any(axis=1)]
    ours = cam.image_from_store(points)
    ok = ~np.isnan(ours).any(axis=1)
    np.testing.assert_allclose(ours, twin.image_from_store(points, *core_args(cam)), atol=1e-7)
    rvec, _ = cv2.Rodrigues(cam.R)
    ref = cv2.projectPoints(points[ok], rvec, cam.t, cam.K, cam.dist if cam.dist.size else None)[0]
    np.testing.assert_allclose(ours[ok], ref.reshape(-1, 2), atol=1e-6)


@given(ceiling_cameras(), seeds)
def test_floor_round_trip_within_a_micrometre(cam: Camera, seed: int) -> None:
    rng = np.random.default_rng(seed)
    pixels = pixels_in_image(rng, 64)
    floor = cam.floor_from_image(pixels)
    assert not np.isnan(floor).any()  # every sampled camera sees the floor across its image
    points = np.column_stack([floor, np.zeros(len(floor))])
    np.testing.assert_allclose(cam.image_from_store(points), pixels, atol=1e-6)
    # and back again: project store floor points, back-project, same points to 1e-6 m
    np.testing.assert_allclose(cam.floor_from_image(cam.image_from_store(points)), floor, atol=1e-6)
    np.testing.assert_allclose(floor, twin.floor_from_image(pixels, *core_args(cam)), atol=1e-6)


@given(ceiling_cameras(), seeds, st.floats(-np.pi, np.pi), st.floats(0.2, 1.8))
def test_plane_round_trip_on_a_vertical_shelf_face(cam: Camera, seed: int, yaw: float,
                                                   height: float) -> None:
    rng = np.random.default_rng(seed)
    # A vertical plane through a point the camera sees at shelf height, facing the camera.
    anchor = cam.plane_from_image(np.array([[WIDTH / 2, HEIGHT / 2]]), [0, 0, 1], height)[0]
    normal = np.array([np.cos(yaw), np.sin(yaw), 0.0])
    offset = float(normal @ anchor)
    pixels = pixels_in_image(rng, 64)
    on_plane = cam.plane_from_image(pixels, normal, offset)
    hit = ~np.isnan(on_plane).any(axis=1)
    np.testing.assert_allclose(on_plane[hit] @ normal, offset, atol=1e-9)
    np.testing.assert_allclose(cam.image_from_store(on_plane[hit]), pixels[hit], atol=1e-6)
    expected = twin.plane_from_image(pixels, *core_args(cam), normal, offset)
    np.testing.assert_array_equal(np.isnan(expected).any(axis=1), ~hit)
    np.testing.assert_allclose(on_plane[hit], expected[hit], rtol=1e-7, atol=1e-7)


@given(ceiling_cameras(), seeds)
def test_undistort_inverts_distortion_like_the_twin(cam: Camera, seed: int) -> None:
    rng = np.random.default_rng(seed)
    pixels = pixels_in_image(rng, 64)
    ours = cam.undistort(pixels)
    xy = twin.normalized_from_pixel(pixels, cam.K, cam.dist)
    np.testing.assert_allclose(ours, xy @ cam.K[:2, :2].T + cam.K[:2, 2], atol=1e-6)
    # distorting the undistorted pixels gives the pixels back
    xy_ours = np.linalg.solve(cam.K[:2, :2], (ours - cam.K[:2, 2]).T).T
    back = twin.distort(xy_ours, cam.dist) @ cam.K[:2, :2].T + cam.K[:2, 2]
    np.testing.assert_allclose(back, pixels, atol=1e-6)  # Newton stops at 1e-10 normalized


@given(ceiling_cameras(), seeds)
def test_floor_homography_maps_floor_to_undistorted_pixels(cam: Camera, seed: int) -> None:
    rng = np.random.default_rng(seed)
    pixels = pixels_in_image(rng, 32)
    floor = cam.floor_from_image(pixels)
    H = cam.floor_homography()
    h = np.column_stack([floor, np.ones(len(floor))]) @ H.T
    np.testing.assert_allclose(h[:, :2] / h[:, 2:], cam.undistort(pixels), atol=1e-6)


@given(ceiling_cameras(), seeds)
def test_rays_start_at_the_centre_and_pass_through_the_floor_point(cam: Camera, seed: int) -> None:
    rng = np.random.default_rng(seed)
    pixels = pixels_in_image(rng, 32)
    rays = cam.rays_from_image(pixels)
    np.testing.assert_allclose(np.linalg.norm(rays, axis=1), 1.0, atol=1e-12)
    floor = cam.floor_from_image(pixels)
    lam = -cam.centre[2] / rays[:, 2]
    np.testing.assert_allclose(cam.centre[:2] + lam[:, None] * rays[:, :2], floor, atol=1e-9)


def test_points_behind_the_camera_or_above_the_horizon_are_nan() -> None:
    cam = make_camera([0, 0, 3], [5, 0, 2.5])  # looking almost level: top half sees no floor
    behind = cam.image_from_store(np.array([[-5.0, 0.0, 3.0], [5.0, 0.0, 0.0]]))
    assert np.isnan(behind[0]).all() and not np.isnan(behind[1]).any()
    floor = cam.floor_from_image(np.array([[640.0, 10.0], [640.0, 700.0]]))
    assert np.isnan(floor[0]).all() and not np.isnan(floor[1]).any()
    parallel = cam.plane_from_image(np.array([[640.0, 360.0]]), [0, 1, 0], 1.0)
    assert np.isnan(parallel).all()  # the optical axis runs along the plane y = 1... never meets


def test_example_store_cameras_match_opencv(repo_root: Path) -> None:
    store = load_store(repo_root / "configs" / "store.yaml")
    for camera_id, calib in store.calibrations.items():
        cam = Camera.from_calibration(calib)
        assert cam.camera_id == camera_id
        grid = np.stack(np.meshgrid(np.linspace(0, 12, 25), np.linspace(0, 9, 19)), -1).reshape(-1, 2)
        points = np.column_stack([grid, np.zeros(len(grid))])
        ours = cam.image_from_store(points)
        ref = cv2.projectPoints(points, cv2.Rodrigues(cam.R)[0], cam.t, cam.K, cam.dist)[0].reshape(-1, 2)
        ok = ~np.isnan(ours[:, 0])
        # Far outside the image the polynomial runs away (1e16 px); compare where it means something.
        near = ok & (np.abs(ref - [640, 360]) < [1280, 720]).all(axis=1)
        np.testing.assert_allclose(ours[near], ref[near], atol=1e-6)
        inside = ok & (ours[:, 0] >= 0) & (ours[:, 0] < 1280) & (ours[:, 1] >= 0) & (ours[:, 1] < 720)
        assert inside.sum() > 20, f"{camera_id} sees too little of the floor"
        np.testing.assert_allclose(cam.floor_from_image(ours[inside]), grid[inside], atol=1e-6)


def test_from_calibration_rescales_and_requires_a_pose(repo_root: Path) -> None:
    calib = load_calibration(repo_root / "configs" / "calib" / "cam1.yaml")
    full, half = Camera.from_calibration(calib), Camera.from_calibration(calib, (640, 360))
    point = np.array([[4.0, 4.0, 0.0]])
    np.testing.assert_allclose(half.image_from_store(point), (full.image_from_store(point) + 0.5) / 2 - 0.5,
                               atol=1e-9)
    with pytest.raises(ValueError, match="no pose"):
        Camera.from_calibration(calib.model_copy(update={"pose": None}))
    T = full.camera_from_store @ full.store_from_camera
    np.testing.assert_allclose(T, np.eye(4), atol=1e-9)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda c: c.image_from_store(np.zeros((4, 2))), r"points: expected shape \(N, 3\)"),
        (lambda c: c.floor_from_image(np.zeros(4)), r"pixels: expected shape \(N, 2\)"),
        (lambda c: c.plane_from_image(np.zeros((1, 2)), [0, 0], 1.0), r"normal: expected shape \(3,\)"),
        (lambda c: c.plane_from_image(np.zeros((1, 2)), [0, 0, 0], 1.0), "normal: expected a finite non-zero"),
        (lambda c: c.floor_covariance(np.zeros((1, 2)), -1.0), "pixel_sigma"),
        (lambda c: c.pinhole.floor_from_image(np.zeros((3, 3))), r"pixels: expected shape \(N, 2\), got \(3, 3\)"),
    ],
)
def test_bad_shapes_name_the_argument(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call(make_camera([0, 0, 3], [3, 3, 0]))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"K": np.eye(2)}, r"K: expected shape \(3, 3\)"),
        ({"K": np.diag([-1.0, 1.0, 1.0])}, "K: focal lengths"),
        ({"dist": np.zeros(3)}, "dist: expected 0, 4, 5, 8, 12 or 14"),
        ({"dist": np.r_[np.zeros(12), 0.1, 0.0]}, "tilted-sensor"),
        ({"R": np.diag([1.0, 1.0, -1.0])}, "R: expected a proper rotation"),
        ({"R": np.ones((3, 3))}, "R: expected a rotation"),
        ({"t": np.zeros(2)}, r"t: expected shape \(3,\)"),
    ],
)
def test_bad_cameras_are_refused(kwargs: dict, match: str) -> None:
    args = {"K": np.diag([800.0, 800.0, 1.0]), "dist": np.zeros(5), "R": np.eye(3), "t": np.zeros(3)}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        Camera(**args)
