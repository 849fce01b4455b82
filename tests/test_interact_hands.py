"""Hands in 3-D (HandLocator): known answers with the example store's cameras and exact
keypoints, one wrong view thrown out, each fallback, argument checks, and agreement with the
numpy twin on noisy random arms with missing and wrong views."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from twins.interact import ShelfModelTwin, locate_hands
from walkout.config import load_store
from walkout.geometry import Camera
from walkout.interact import HandLocator, HandSource, Shelves
from walkout.resources import configs_dir

LOADED = load_store(configs_dir() / "store.yaml")
STORE = LOADED.config
CAMERAS = [Camera.from_calibration(LOADED.calibrations[c.id]) for c in STORE.cameras]
SHELVES = Shelves(STORE)
TWIN_SHELVES = ShelfModelTwin(
    np.array(
        [
            [s.center[0], s.center[1], s.yaw, s.length, s.depth, s.height, s.base_height]
            for s in STORE.shelves
        ]
    ),
    np.array([[s.rows, s.cols] for s in STORE.shelves], np.int32),
    np.array([["front" in s.faces, "back" in s.faces] for s in STORE.shelves], bool),
    0.05,
)
TUPLES = [(c.K, c.dist, c.R, c.t) for c in CAMERAS]
LOCATOR = HandLocator(CAMERAS, SHELVES, elbow_flexion=0.0)  # exact straight arms below


def arm_in_front_of_s5(reach: float = 0.6, straight: bool = True) -> tuple[np.ndarray, ...]:
    """A right arm of a person 0.55 m in front of S5's front face (y = 5.5), reaching in."""
    shoulder = np.array([4.0, 6.05 - 0.0, 1.40])
    target = np.array([4.1, 5.5 - 0.08, 1.05])
    direction = (target - shoulder) / np.linalg.norm(target - shoulder)
    upper = reach / (1 + 0.785)
    elbow = shoulder + direction * upper
    if not straight:
        elbow = elbow + np.array([0.0, 0.0, -0.05])
    wrist = elbow + direction * 0.785 * upper
    return shoulder, elbow, wrist


ALL_CAMERAS = tuple(range(len(CAMERAS)))


def keypoints_of(
    joints: dict[int, np.ndarray],
    cameras: tuple[int, ...] | list[int] = ALL_CAMERAS,
    conf: float = 0.9,
) -> np.ndarray:
    kp = np.zeros((1, len(CAMERAS), 17, 3))
    for c in cameras:
        for j, X in joints.items():
            kp[0, c, j, :2] = CAMERAS[c].image_from_store(X[None])[0]
            kp[0, c, j, 2] = conf
    return kp


FLOOR = np.array([[4.0, 6.05]])


def locate(kp: np.ndarray):
    return LOCATOR.locate([1], FLOOR, kp)


def test_a_wrist_seen_by_every_camera_is_triangulated_exactly() -> None:
    shoulder, elbow, wrist = arm_in_front_of_s5()
    hands = locate(keypoints_of({6: shoulder, 8: elbow, 10: wrist}))
    assert hands.source[0, 1] == HandSource.TRIANGULATED
    assert hands.views[0, 1] == len(CAMERAS)
    np.testing.assert_allclose(hands.xyz[0, 1], wrist, atol=1e-6)
    assert 0 < hands.sigma[0, 1] < 0.05
    assert hands.source[0, 0] == HandSource.NONE  # the left arm was not given


def test_one_wrong_view_is_thrown_out() -> None:
    _shoulder, _elbow, wrist = arm_in_front_of_s5()
    kp = keypoints_of({10: wrist}, cameras=[0, 1, 4, 5])
    kp[0, 4, 10, :2] += [60.0, -40.0]  # another person's wrist in camera 5
    hands = locate(kp)
    assert hands.source[0, 1] == HandSource.TRIANGULATED
    assert hands.views[0, 1] == 3
    np.testing.assert_allclose(hands.xyz[0, 1], wrist, atol=1e-6)


def test_one_wrist_view_and_the_elbow_put_the_wrist_a_forearm_away_on_its_ray() -> None:
    shoulder, elbow, wrist = arm_in_front_of_s5()
    kp = keypoints_of({6: shoulder, 8: elbow})
    kp[0, 2, 10] = [*CAMERAS[2].image_from_store(wrist[None])[0], 0.9]
    hands = locate(kp)
    assert hands.source[0, 1] == HandSource.WRIST_RAY_ELBOW
    np.testing.assert_allclose(hands.xyz[0, 1], wrist, atol=1e-6)


def test_a_hidden_wrist_is_extrapolated_along_a_straight_arm() -> None:
    shoulder, elbow, wrist = arm_in_front_of_s5()
    hands = locate(keypoints_of({6: shoulder, 8: elbow}, conf=0.1))  # hidden: low confidence
    assert hands.source[0, 1] == HandSource.ARM_EXTRAPOLATED
    np.testing.assert_allclose(hands.xyz[0, 1], wrist, atol=1e-6)
    assert hands.sigma[0, 1] >= 0.05  # carries the arm model's uncertainty


def test_hidden_wrists_in_every_view_are_triangulated_at_their_larger_noise() -> None:
    """Pose models place a hidden wrist at low confidence (oracle and shipped model alike):
    with no confident view, the hidden ones triangulate before the arm model guesses."""
    shoulder, elbow, wrist = arm_in_front_of_s5(straight=False)
    kp = keypoints_of({6: shoulder, 8: elbow, 10: wrist})
    kp[0, :, 10, 2] = 0.1  # every wrist view hidden: below min_wrist_confidence (0.5)
    hands = locate(kp)
    assert hands.source[0, 1] == HandSource.TRIANGULATED
    np.testing.assert_allclose(hands.xyz[0, 1], wrist, atol=1e-6)
    seen = locate(keypoints_of({6: shoulder, 8: elbow, 10: wrist}))
    # Same views, exact pixels: the sigma differs only by hidden_pixel_sigma / pixel_sigma.
    assert hands.sigma[0, 1] == pytest.approx(seen.sigma[0, 1] * 7.0 / 4.0, rel=1e-9)
    # Turned off (at or above min_wrist_confidence): the arm model, as before.
    off = HandLocator(CAMERAS, SHELVES, elbow_flexion=0.0, min_hidden_wrist_confidence=0.5)
    assert off.locate([1], FLOOR, kp).source[0, 1] == HandSource.ARM_EXTRAPOLATED


def test_one_confident_and_one_hidden_wrist_view_triangulate_together() -> None:
    shoulder, elbow, wrist = arm_in_front_of_s5()
    kp = keypoints_of({6: shoulder, 8: elbow, 10: wrist}, cameras=[0, 3])
    kp[0, 3, 10, 2] = 0.05
    hands = locate(kp)
    assert hands.source[0, 1] == HandSource.TRIANGULATED
    assert hands.views[0, 1] == 2
    np.testing.assert_allclose(hands.xyz[0, 1], wrist, atol=1e-6)


def test_one_hidden_wrist_view_and_the_elbow_use_the_hidden_wrists_ray() -> None:
    shoulder, elbow, wrist = arm_in_front_of_s5(straight=False)
    kp = keypoints_of({6: shoulder, 8: elbow})
    kp[0, 2, 10] = [*CAMERAS[2].image_from_store(wrist[None])[0], 0.1]
    hands = locate(kp)
    assert hands.source[0, 1] == HandSource.WRIST_RAY_ELBOW
    uv = CAMERAS[2].image_from_store(hands.xyz[0, 1][None])[0]
    np.testing.assert_allclose(uv, kp[0, 2, 10, :2], atol=1e-6)  # on the hidden wrist's ray
    assert np.linalg.norm(hands.xyz[0, 1] - elbow) == pytest.approx(
        0.785 * np.linalg.norm(elbow - shoulder), rel=1e-6
    )


def test_the_arm_model_bends_the_forearm_up_by_elbow_flexion() -> None:
    shoulder, elbow, _ = arm_in_front_of_s5()
    hands = HandLocator(CAMERAS, SHELVES, elbow_flexion=0.5).locate(
        [1], FLOOR, keypoints_of({6: shoulder, 8: elbow}, conf=0.1)
    )
    assert hands.source[0, 1] == HandSource.ARM_EXTRAPOLATED
    upper = elbow - shoulder
    forearm = hands.xyz[0, 1] - elbow
    assert np.linalg.norm(forearm) == pytest.approx(0.785 * np.linalg.norm(upper), rel=1e-6)
    cos = forearm @ upper / np.linalg.norm(forearm) / np.linalg.norm(upper)
    assert np.arccos(np.clip(cos, -1, 1)) == pytest.approx(0.5, abs=1e-6)
    assert hands.xyz[0, 1, 2] > elbow[2] + 0.785 * upper[2]  # above the straight extension


CAM1 = [c.id for c in STORE.cameras].index("cam1")
BESIDE_S3 = np.array([[0.95, 5.2]])  # 0.4 m in front of S3's front face, the plane x = 0.55


def test_one_wrist_view_along_the_face_measures_its_depth() -> None:
    wrist = np.array([0.45, 5.3, 1.1])  # 0.10 m into S3
    hands = LOCATOR.locate([4], BESIDE_S3, keypoints_of({10: wrist}, cameras=[CAM1]))
    assert hands.source[0, 1] == HandSource.FACE_RAY and hands.views[0, 1] == 1
    point = hands.xyz[0, 1]
    # On the wrist's ray ...
    np.testing.assert_allclose(
        CAMERAS[CAM1].image_from_store(point[None])[0],
        CAMERAS[CAM1].image_from_store(wrist[None])[0],
        atol=1e-6,
    )
    # ... and cam1 looks along this face, so the one view measures the depth: near 0.10 m.
    face, coords = SHELVES.nearest_face(point[None])
    assert SHELVES.face_of(int(face[0])) == ("S3", "front")
    assert abs(coords[0, 0] - 0.10) < 0.05
    assert hands.sigma[0, 1] >= 0.08  # carries the prior's uncertainty


def test_one_seen_wrist_looking_into_the_face_is_left_out() -> None:
    _shoulder, _elbow, wrist = arm_in_front_of_s5()
    into = [
        c
        for c in range(len(CAMERAS))
        if abs(CAMERAS[c].rays_from_image(CAMERAS[c].image_from_store(wrist[None]))[0, 1]) > 0.5
    ]  # S5's front normal is +y
    assert into
    hands = locate(keypoints_of({10: wrist}, cameras=[into[0]]))
    assert hands.source[0, 1] == HandSource.NONE  # depth 0 would end reaches others measured


def test_one_hidden_wrist_is_placed_behind_the_face_on_its_arm_ray() -> None:
    shoulder, elbow, _wrist = arm_in_front_of_s5()
    kp = keypoints_of({6: shoulder, 8: elbow}, cameras=[3], conf=0.1)  # hidden, one view
    assert locate(kp).source[0, 1] == HandSource.NONE  # off by default
    hands = HandLocator(CAMERAS, SHELVES, hidden_single_view=True).locate([1], FLOOR, kp)
    assert hands.source[0, 1] == HandSource.FACE_RAY
    # On the ray of the wrist pixel extrapolated along the arm in that image ...
    uv = kp[0, 3, 8, :2] + 0.785 * (kp[0, 3, 8, :2] - kp[0, 3, 6, :2])
    np.testing.assert_allclose(CAMERAS[3].image_from_store(hands.xyz[0, 1][None])[0], uv, atol=1e-6)
    # ... and nearest there to the prior hidden_depth (0.10 m) behind S5's front face.
    face, coords = SHELVES.nearest_face(hands.xyz[0, 1][None])
    assert SHELVES.face_of(int(face[0])) == ("S5", "front")
    assert coords[0, 0] > 0.03  # inside the shelf: a reach the engine can see


def test_one_placed_hidden_wrist_is_used_on_its_own_ray() -> None:
    shoulder, elbow, wrist = arm_in_front_of_s5()
    kp = keypoints_of({6: shoulder, 8: elbow, 10: wrist}, cameras=[3], conf=0.1)
    hands = HandLocator(CAMERAS, SHELVES, hidden_single_view=True).locate([1], FLOOR, kp)
    assert hands.source[0, 1] == HandSource.FACE_RAY
    uv = CAMERAS[3].image_from_store(hands.xyz[0, 1][None])[0]
    np.testing.assert_allclose(uv, kp[0, 3, 10, :2], atol=1e-6)  # the wrist's pixel itself


def test_no_one_view_hand_for_a_person_away_from_every_face() -> None:
    wrist = np.array([6.2, 2.6, 1.0])
    hands = LOCATOR.locate([5], np.array([[6.0, 2.5]]), keypoints_of({10: wrist}, cameras=[CAM1]))
    assert hands.source[0, 1] == HandSource.NONE


def test_a_hand_far_from_its_track_is_someone_elses_and_dropped() -> None:
    shoulder, elbow, wrist = arm_in_front_of_s5()
    kp = keypoints_of({6: shoulder, 8: elbow, 10: wrist})
    near = LOCATOR.locate([1], FLOOR, kp)
    far = LOCATOR.locate(
        [1], FLOOR + np.array([1.5, 0.0]), kp
    )  # the track is 1.5 m away from this arm
    assert near.source[0, 1] == HandSource.TRIANGULATED
    assert far.source[0, 1] == HandSource.NONE
    assert len(far.hands()) == 0


def test_located_hands_become_the_engine_batch() -> None:
    shoulder, elbow, wrist = arm_in_front_of_s5()
    batch = locate(keypoints_of({6: shoulder, 8: elbow, 10: wrist})).hands()
    assert batch.track.tolist() == [1] and batch.side.tolist() == [1]
    np.testing.assert_allclose(batch.position[0], wrist, atol=1e-6)


def test_bad_arguments_name_themselves() -> None:
    with pytest.raises(ValueError, match=r"keypoints: expected shape \(N, 8, 17, 3\)"):
        LOCATOR.locate([1], FLOOR, np.zeros((1, 7, 17, 3)))
    with pytest.raises(ValueError, match=r"track_xy: expected shape \(1, 2\)"):
        LOCATOR.locate([1], np.zeros((2, 2)), np.zeros((1, 8, 17, 3)))
    with pytest.raises(ValueError, match="max_residual_px"):
        HandLocator(CAMERAS, SHELVES, max_residual_px=0.0)
    with pytest.raises(ValueError, match="max_facing_cosine"):
        HandLocator(CAMERAS, SHELVES, max_facing_cosine=1.5)
    with pytest.raises(ValueError, match="hidden_depth"):
        HandLocator(CAMERAS, SHELVES, hidden_depth=-0.1)
    with pytest.raises(
        ValueError, match=r"min_hidden_wrist_confidence: expected a value in \[0, 1\]"
    ):
        HandLocator(CAMERAS, SHELVES, min_hidden_wrist_confidence=1.5)
    with pytest.raises(ValueError, match="hidden_pixel_sigma: expected a finite value > 0"):
        HandLocator(CAMERAS, SHELVES, hidden_pixel_sigma=0.0)
    with pytest.raises(ValueError, match="track_ids: expected 1 ids"):
        LOCATOR.locate([1, 2], FLOOR, np.zeros((1, 8, 17, 3)))


@given(
    seed=st.integers(0, 2**32 - 1),
    people=st.integers(1, 4),
    noise=st.floats(0.0, 6.0),
    drop=st.floats(0.0, 0.9),
    hidden_conf=st.floats(0.0, 1.0),
    hidden_px=st.floats(0.5, 20.0),
)
def test_locator_matches_the_twin(
    seed: int, people: int, noise: float, drop: float, hidden_conf: float, hidden_px: float
) -> None:
    rng = np.random.default_rng(seed)
    kp = np.zeros((people, len(CAMERAS), 17, 3))
    floor = np.zeros((people, 2))
    for p in range(people):
        face = TWIN_SHELVES.faces[rng.integers(len(TWIN_SHELVES.faces))]
        u = rng.uniform(0.2, face.length - 0.2)
        feet = face.origin + face.along * u + face.normal * rng.uniform(0.3, 1.0)
        floor[p] = feet
        for side in (0, 1):
            shoulder = np.r_[feet + face.along * (0.2 if side else -0.2), rng.uniform(1.2, 1.5)]
            target = np.r_[
                face.origin + face.along * u - face.normal * rng.uniform(-0.3, 0.15),
                rng.uniform(0.3, 1.6),
            ]
            direction = (target - shoulder) / np.linalg.norm(target - shoulder)
            elbow = shoulder + direction * 0.3 + rng.normal(0, 0.05, 3)
            wrist = elbow + direction * 0.25 + rng.normal(0, 0.03, 3)
            for joint, X in ((5 + side, shoulder), (7 + side, elbow), (9 + side, wrist)):
                for c, cam in enumerate(CAMERAS):
                    if rng.random() < drop:
                        continue
                    uv = cam.image_from_store(X[None])[0] + rng.normal(0, noise, 2)
                    if rng.random() < 0.05:
                        uv = uv + rng.normal(0, 80, 2)  # a wrong pairing
                    w, h = cam.image_size
                    if np.isfinite(uv).all() and 0 <= uv[0] < w and 0 <= uv[1] < h:  # in the image
                        kp[p, c, joint] = [*uv, rng.uniform(0.01, 1.0)]
    got = LOCATOR.locate(np.arange(people), floor, kp)
    xyz, sigma, source, views = locate_hands(TUPLES, TWIN_SHELVES, kp, floor, elbow_flexion=0.0)
    # Defaults, with the one-view fallback for hidden wrists on and for people seen twice.
    bent = HandLocator(CAMERAS, SHELVES, hidden_single_view=True, max_person_views=2).locate(
        np.arange(people), floor, kp
    )
    xyz_bent, *_ = locate_hands(
        TUPLES, TWIN_SHELVES, kp, floor, hidden_single_view=True, max_person_views=2
    )
    np.testing.assert_allclose(bent.xyz, xyz_bent, atol=1e-6)
    # Random hidden-wrist settings (wrist confidences are drawn over (0.01, 1)).
    hidden = dict(min_hidden_wrist_confidence=hidden_conf, hidden_pixel_sigma=hidden_px)
    tried = HandLocator(CAMERAS, SHELVES, **hidden).locate(np.arange(people), floor, kp)
    xyz_h, sigma_h, source_h, _ = locate_hands(TUPLES, TWIN_SHELVES, kp, floor, **hidden)
    np.testing.assert_array_equal(tried.source, source_h)
    np.testing.assert_allclose(tried.xyz, xyz_h, atol=1e-6)
    np.testing.assert_allclose(tried.sigma, sigma_h, atol=1e-6)
    np.testing.assert_array_equal(got.source, source)
    np.testing.assert_array_equal(got.views, views)
    np.testing.assert_allclose(got.xyz, xyz, atol=1e-6)
    np.testing.assert_allclose(got.sigma, sigma, atol=1e-6)


@given(
    seed=st.integers(0, 2**32 - 1),
    hidden=st.booleans(),
    hidden_wrist=st.booleans(),
    noise=st.floats(0.0, 4.0),
    facing=st.floats(0.1, 1.0),
)
def test_one_view_fallback_matches_the_twin(
    seed: int, hidden: bool, hidden_wrist: bool, noise: float, facing: float
) -> None:
    """Arms seen by one camera only (a seen wrist, or a hidden one with elbow and shoulder and
    perhaps the hidden wrist's own low-confidence keypoint), people near and beside random
    faces: the FACE_RAY branch, C++ against the twin."""
    rng = np.random.default_rng(seed)
    people = 3
    kp = np.zeros((people, len(CAMERAS), 17, 3))
    floor = np.zeros((people, 2))
    for p in range(people):
        face = TWIN_SHELVES.faces[rng.integers(len(TWIN_SHELVES.faces))]
        u = rng.uniform(-0.3, face.length + 0.3)
        feet = face.origin + face.along * u + face.normal * rng.uniform(-0.2, 1.4)
        floor[p] = feet
        cam = int(rng.integers(len(CAMERAS)))
        for side in (0, 1):
            shoulder = np.r_[feet + face.along * (0.2 if side else -0.2), rng.uniform(1.2, 1.5)]
            target = np.r_[
                face.origin + face.along * u - face.normal * rng.uniform(-0.3, 0.15),
                rng.uniform(0.4, 1.6),
            ]
            direction = (target - shoulder) / np.linalg.norm(target - shoulder)
            elbow = shoulder + direction * 0.3
            wrist = elbow + direction * 0.25
            joints = ((5 + side, shoulder), (7 + side, elbow)) + (
                () if hidden and not hidden_wrist else ((9 + side, wrist),)
            )
            for joint, X in joints:
                uv = CAMERAS[cam].image_from_store(X[None])[0] + rng.normal(0, noise, 2)
                w, h = CAMERAS[cam].image_size
                if np.isfinite(uv).all() and 0 <= uv[0] < w and 0 <= uv[1] < h:  # in the image
                    kp[p, cam, joint] = [*uv, 0.1 if hidden else rng.uniform(0.3, 1.0)]
    args = dict(hidden_single_view=True, max_facing_cosine=facing)
    got = HandLocator(CAMERAS, SHELVES, **args).locate(np.arange(people), floor, kp)
    xyz, sigma, source, views = locate_hands(TUPLES, TWIN_SHELVES, kp, floor, **args)
    np.testing.assert_array_equal(got.source, source)
    np.testing.assert_array_equal(got.views, views)
    np.testing.assert_allclose(got.xyz, xyz, atol=1e-6)
    np.testing.assert_allclose(got.sigma, sigma, atol=1e-6)
