"""Intrinsics: rendered chessboards with known truth, and the real photos against the plain
OpenCV recipe on the same folds."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np
import pytest
from scipy.stats import wilcoxon

from walkout.calib import (
    BoardView,
    calibrate_intrinsics,
    find_boards,
    interleaved_folds,
)
from walkout.calib.chessboard import board_points
from walkout.calib.intrinsics import held_out_errors
from walkout.calib.lenses import LENSES, board_photos, synthetic_camera
from walkout.calib.selection import SelectionRule, choose, signed_rank_p
from walkout.calib.synthetic import board_views, render_chessboard
from walkout.geometry import Camera

PATTERN, SQUARE, SIZE = (9, 6), 0.025, (640, 480)
TRUE_K = np.array([[600.0, 0.0, 324.5], [0.0, 600.0, 236.5], [0.0, 0.0, 1.0]])
TRUE_DIST = np.array([-0.25, 0.08, 0.001, -0.0005])


@pytest.fixture(scope="session")
def rendered_boards(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("boards")
    paths = []
    for k, (R, t) in enumerate(board_views(12, PATTERN, SQUARE, seed=1)):
        image = render_chessboard(Camera(TRUE_K, TRUE_DIST, R, t), SIZE, PATTERN, SQUARE, seed=k)
        path = folder / f"board{k:02d}.png"
        cv2.imwrite(str(path), image)
        paths.append(path)
    return paths


def _ray_gap_px(K: np.ndarray, dist: np.ndarray, views: list[BoardView]) -> np.ndarray:
    """How far apart (in pixels at the true focal length) the rays of the fitted and the true
    camera are, at pixels where the boards were (a calibration is only known where it saw),
    after the best common rotation: a small principal-point error turns every ray alike, and
    the pose absorbs that turn exactly (Kabsch alignment of the two ray bundles)."""
    pixels = np.concatenate([v.corners for v in views]).astype(np.float64)
    fitted = Camera(K, dist, np.eye(3), np.zeros(3)).rays_from_image(pixels)
    truth = Camera(TRUE_K, TRUE_DIST, np.eye(3), np.zeros(3)).rays_from_image(pixels)
    U, _s, Vt = np.linalg.svd(fitted.T @ truth)
    R = (U @ np.diag([1.0, 1.0, np.linalg.det(U @ Vt)]) @ Vt).T
    fitted = fitted @ R.T
    return 600.0 * np.linalg.norm(fitted / fitted[:, 2:] - truth / truth[:, 2:], axis=1)


def test_rendered_boards_give_back_the_true_camera(rendered_boards: list[Path]) -> None:
    views, rejections, size = find_boards(rendered_boards, PATTERN)
    assert size == SIZE and not rejections and len(views) == 12
    result = calibrate_intrinsics(views, rejections, size, PATTERN, SQUARE)
    fit = result.chosen
    assert fit.model.n_coeffs > 0  # a lens this distorted is never chosen as a pinhole
    np.testing.assert_allclose([fit.K[0, 0], fit.K[1, 1]], [600.0, 600.0], rtol=0.003)
    np.testing.assert_allclose([fit.K[0, 2], fit.K[1, 2]], [324.5, 236.5], atol=2.0)
    # The whole lens model, not the coefficients one by one (they trade off against each other):
    # every board corner's ray agrees with the truth to a fraction of a pixel.
    gap = _ray_gap_px(fit.K, fit.dist, result.views)
    assert gap.max() < 1.0 and np.median(gap) < 0.3, (gap.max(), np.median(gap))
    assert fit.rms_px < 0.3 and fit.cross_validated_px < 0.3
    assert all(np.isfinite(s) and s > 0 for s in fit.std.values())
    pinhole = next(c for c in result.candidates if c.model.n_coeffs == 0)
    assert pinhole.cross_validated_px > 2 * fit.cross_validated_px
    assert "k1 = -0.2" in pinhole.ruled_out  # the lens's k1 is measured far from zero
    assert not any(c.ruled_out for c in result.candidates if c.model.n_coeffs >= 5)


def test_an_outlier_photo_is_rejected_and_named(rendered_boards: list[Path]) -> None:
    views, rejections, size = find_boards(rendered_boards, PATTERN)
    rng = np.random.default_rng(0)
    bad = views[3]
    views[3] = BoardView(
        bad.path,
        bad.corners + rng.normal(0, 4.0, bad.corners.shape).astype(np.float32),
        bad.detector,
        bad.square_px,
        bad.board_fraction,
    )
    result = calibrate_intrinsics(views, rejections, size, PATTERN, SQUARE)
    assert [r.path for r in result.rejections] == [bad.path]
    assert "outlier error" in result.rejections[0].reason
    assert len(result.views) == 11


def test_small_boards_and_unreadable_files_are_rejected_with_the_reason(
    rendered_boards: list[Path], tmp_path: Path
) -> None:
    junk = tmp_path / "notes.jpg"
    junk.write_text("not an image")
    views, rejections, _ = find_boards(
        [*rendered_boards[:3], junk], PATTERN, min_board_fraction=0.9
    )
    assert not views
    reasons = {r.path.name: r.reason for r in rejections}
    assert reasons["notes.jpg"] == "cannot be read as an image"
    assert all("too little coverage of the frame" in reasons[p.name] for p in rendered_boards[:3])
    views, rejections, _ = find_boards(rendered_boards[:2], (7, 4))
    assert not views and all("board not found" in r.reason for r in rejections)


def test_too_few_photos_is_a_clear_error(rendered_boards: list[Path]) -> None:
    views, rejections, size = find_boards(rendered_boards[:4], PATTERN)
    with pytest.raises(ValueError, match="at least 6 are needed"):
        calibrate_intrinsics(views, rejections, size, PATTERN, SQUARE)
    with pytest.raises(ValueError, match="square"):
        calibrate_intrinsics(views, rejections, size, PATTERN, 0.0)


def test_interleaved_folds_cover_every_photo_once() -> None:
    folds = interleaved_folds(14, 4)
    assert folds == [[0, 4, 8, 12], [1, 5, 9, 13], [2, 6, 10], [3, 7, 11]]
    assert sorted(i for f in interleaved_folds(7, 4) for i in f) == list(range(7))


# ---------------------------------------------------------------------------------------------
# Real photos: walkout vs the plain OpenCV recipe, computed here on the same folds.
# ---------------------------------------------------------------------------------------------


def _plain_recipe(paths: list[Path], folds: list[list[int]]):
    """What most tutorials do: classic corners, cornerSubPix (11 x 11), five coefficients.
    Returns the full fit (rms, K, std of fx fy cx cy) and its cross-validated RMS, each held
    out photo's pose solved with the fold's intrinsics."""
    pattern = (7, 5)
    obj = np.zeros((35, 3), np.float32)
    obj[:, :2] = np.mgrid[0:7, 0:5].T.reshape(-1, 2)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 30, 0.001)
    corners = []
    for path in paths:
        gray = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        found, c = cv2.findChessboardCorners(gray, pattern)
        assert found, path
        corners.append(cv2.cornerSubPix(gray, c, (11, 11), (-1, -1), criteria).reshape(-1, 1, 2))
    size = gray.shape[::-1]
    rms, K, _d, _r, _t, std, _e, _pv = cv2.calibrateCameraExtended(
        [obj] * len(corners), corners, size, None, None
    )
    sse, count = 0.0, 0
    for fold in folds:
        train = [c for i, c in enumerate(corners) if i not in fold]
        _, Kf, df, *_ = cv2.calibrateCamera([obj] * len(train), train, size, None, None)
        for i in fold:
            _ok, rvec, tvec = cv2.solvePnP(obj, corners[i], Kf, df)
            err = cv2.projectPoints(obj, rvec, tvec, Kf, df)[0].reshape(-1, 2) - corners[i].reshape(
                -1, 2
            )
            sse += float(np.sum(err**2))
            count += len(err)
    return rms, K, std.ravel()[:4], np.sqrt(sse / count)


@pytest.mark.realdata
@pytest.mark.slow
def test_real_photos_are_never_worse_than_the_plain_recipe(shared_data: Path) -> None:
    paths = sorted((shared_data / "calib" / "chessboard_7x5").glob("left*.jpg"))
    assert len(paths) == 14
    views, rejections, size = find_boards(paths, (7, 5))
    result = calibrate_intrinsics(views, rejections, size, (7, 5), 1.0)
    assert len(result.views) == 14, [r.reason for r in result.rejections]  # same photos, same folds
    plain_rms, plain_K, plain_std, plain_cv = _plain_recipe(paths, result.folds)
    assert 0.40 < plain_rms < 0.50  # the recipe's own fit: ~0.45 px, as documented for this set
    # The plain candidate is the recipe, up to the sub-pixel window (shrunk on small squares).
    assert abs(result.plain.cross_validated_px - plain_cv) < 0.05 * plain_cv
    # The honest (nested) error of the whole procedure: never more than 2 % above the recipe.
    assert result.cross_validated_px <= 1.02 * plain_cv, (result.cross_validated_px, plain_cv)
    assert len(result.fold_choices) == 4
    assert {c.held_out for c in result.fold_choices} == {tuple(f) for f in result.folds}
    # Lowest on these folds is k1 k2 p1 p2 (31 % below), which the previous rule chose; but its
    # photo-by-photo edge is not sure enough (signed-rank p ~ 0.03 > 0.05 / 2), so plain stays.
    radial2 = next(c for c in result.selection.comparisons if c.model == "radial2")
    assert radial2.ratio < 0.75 and not radial2.wins
    ours = result.chosen
    ours_k = np.array([ours.K[0, 0], ours.K[1, 1], ours.K[0, 2], ours.K[1, 2]])
    theirs = np.array([plain_K[0, 0], plain_K[1, 1], plain_K[0, 2], plain_K[1, 2]])
    assert (np.abs(ours_k - theirs) <= plain_std).all(), (ours_k, theirs, plain_std)
    pinhole = next(c for c in result.candidates if c.model.n_coeffs == 0)
    assert "k2 = " in pinhole.ruled_out  # drops k2, measured at ~8 standard deviations
    # Forcing a model fits it, and reports its own (un-nested) cross-validated error.
    forced = calibrate_intrinsics(views, [], size, (7, 5), 1.0, model="radial2")
    assert forced.chosen.model.name == "radial2" and forced.selection is None
    assert forced.cross_validated_px == pytest.approx(radial2.held_out_px)


# ---------------------------------------------------------------------------------------------
# The selection rule, and synthetic cameras with known lenses.
# ---------------------------------------------------------------------------------------------


def test_signed_rank_p_matches_scipy() -> None:
    rng = np.random.default_rng(3)
    for n in (1, 5, 10, 14, 30):
        d = rng.normal(0.2, 1.0, n)
        ours = signed_rank_p(d)
        theirs = wilcoxon(d, alternative="greater", method="exact").pvalue
        assert ours == pytest.approx(theirs, rel=1e-9), n
    assert signed_rank_p(np.zeros(4)) == 1.0
    assert signed_rank_p(np.ones(10)) == pytest.approx(1 / 1024)


def test_the_plain_model_stays_unless_clearly_beaten() -> None:
    rng = np.random.default_rng(0)
    plain = rng.uniform(0.05, 0.15, 12)
    pooled = {"radial3": float(np.sqrt(plain.mean()))}
    # 10 % lower on every photo: wins.
    per_photo = {"radial3": plain, "rational": 0.8 * plain, "radial2": plain * 1.01}
    pooled |= {k: float(np.sqrt(v.mean())) for k, v in per_photo.items() if k != "radial3"}
    picked = choose(per_photo, pooled, {}, SelectionRule())
    assert picked.chosen == "rational" and "beats radial3" in picked.reason
    # Lower on average because of one photo where plain blew up: not sure, plain stays.
    blown = plain.copy()
    blown[0] = 5.0
    per_photo = {"radial3": blown, "rational": plain * rng.uniform(0.9, 1.1, 12)}
    pooled = {k: float(np.sqrt(v.mean())) for k, v in per_photo.items()}
    picked = choose(per_photo, pooled, {}, SelectionRule())
    assert picked.chosen == "radial3" and "kept radial3" in picked.reason
    assert "not sure" in picked.comparisons[0].note
    # A ruled-out model is never compared, however low.
    per_photo = {"radial3": plain, "pinhole": 0.5 * plain}
    pooled = {k: float(np.sqrt(v.mean())) for k, v in per_photo.items()}
    picked = choose(per_photo, pooled, {"pinhole": "drops k1"}, SelectionRule())
    assert picked.chosen == "radial3" and picked.comparisons[0].note == "drops k1"


def test_a_wrong_model_name_is_a_clear_error() -> None:
    camera = synthetic_camera("none", 0)
    views = board_photos(camera, 8)
    with pytest.raises(ValueError, match="model: expected one of plain, auto, pinhole"):
        calibrate_intrinsics(views, [], camera.image_size, (7, 5), 1.0, model="fisheye")
    with pytest.raises(ValueError, match="lens: expected one of none, mild-barrel"):
        synthetic_camera("tele", 0)


def _truth_px(camera, K: np.ndarray, dist: np.ndarray) -> float:
    """RMS error of a fitted lens on fresh noise-free views of ``camera`` (pose solved)."""
    views = board_photos(camera, 6, session=1, noisy=False)
    errors = held_out_errors(views, board_points((7, 5), 1.0), K, dist)
    return float(np.sqrt(sum(e for e, _ in errors) / sum(n for _, n in errors)))


# Seeds 200-: not among the benchmark's development (0-5) or report (100-) seeds.
@pytest.mark.slow
@pytest.mark.parametrize("lens", list(LENSES))
def test_synthetic_lenses_recover_the_truth_and_never_lose_to_plain(lens: str) -> None:
    camera = synthetic_camera(lens, 200)
    if lens == "fisheye-rational":
        # Sharp photos (0.08 px corner noise), a full session: where five coefficients' misfit
        # at the frame's edges shows above the noise. (At 0.2-0.3 px it often does not, and
        # the rule rightly keeps plain: see benchmarks/results/calib_intrinsics.md.)
        camera = dataclasses.replace(camera, noise_px=0.08)
    views = board_photos(camera, 14 if lens == "fisheye-rational" else 12)
    result = calibrate_intrinsics(views, [], camera.image_size, (7, 5), 1.0)
    plain, chosen = result.plain, result.chosen
    assert result.cross_validated_px <= 1.02 * plain.cross_validated_px
    # The held-out error is noise (sqrt(2) sigma for a 2-D corner) plus what the model misses.
    noise_floor = np.sqrt(2) * camera.noise_px
    if lens == "fisheye-rational":
        # Five coefficients cannot follow this lens: the rule takes the rational model.
        assert chosen.model.name == "rational"
        assert result.cross_validated_px < 0.8 * plain.cross_validated_px
        assert _truth_px(camera, chosen.K, chosen.dist) < 0.5 * _truth_px(
            camera, plain.K, plain.dist
        )
    assert result.cross_validated_px < 1.25 * noise_floor, (result.cross_validated_px, noise_floor)
    assert _truth_px(camera, chosen.K, chosen.dist) < 0.15
    np.testing.assert_allclose(chosen.K[[0, 1], [0, 1]], camera.K[[0, 1], [0, 1]], rtol=0.01)
    np.testing.assert_allclose(chosen.K[:2, 2], camera.K[:2, 2], atol=4.0)
