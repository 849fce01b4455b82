"""``walkout calibrate``, end to end through the CLI: files written, kept, refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from walkout.calib.synthetic import board_views, render_chessboard
from walkout.cli import main
from walkout.config import load_calibration, load_store
from walkout.geometry import Camera

PATTERN, SQUARE, SIZE = (9, 6), 0.025, (640, 480)
TRUE_K = np.array([[610.0, 0.0, 318.0], [0.0, 610.0, 242.0], [0.0, 0.0, 1.0]])
TRUE_DIST = np.array([-0.2, 0.05, 0.0, 0.0])


@pytest.fixture(scope="module")
def boards(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli_boards")
    for k, (R, t) in enumerate(board_views(8, PATTERN, SQUARE, seed=5)):
        image = render_chessboard(Camera(TRUE_K, TRUE_DIST, R, t), SIZE, PATTERN, SQUARE, seed=k)
        cv2.imwrite(str(folder / f"b{k}.png"), image)
    return folder


@pytest.fixture
def configs(tmp_path: Path, repo_root: Path) -> Path:
    shutil.copytree(repo_root / "configs", tmp_path / "configs")
    return tmp_path / "configs"


def _intrinsics(boards: Path, out: Path, *extra: str) -> int:
    return main(
        [
            "calibrate",
            "intrinsics",
            "--images",
            str(boards / "*.png"),
            "--pattern",
            "9x6",
            "--square",
            str(SQUARE),
            "--out",
            str(out),
            "--no-progress",
            *extra,
        ]
    )


def test_intrinsics_writes_a_valid_calibration(
    boards: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "calib" / "cam9.yaml"
    assert _intrinsics(boards, out) == 0
    text = capsys.readouterr().out
    for expected in (
        "board found and kept in 8 of 8 photos",
        "rejected: none",
        "chosen distortion model",
        "held-out error on the outer folds: plain radial3",
        "choice inside each outer fold",
        "cross-validated",
        "per-photo RMS px",
        "fx =",
        "wrote",
    ):
        assert expected in text
    calib = load_calibration(out)
    assert calib.camera == "cam9" and tuple(calib.image_size) == SIZE and calib.pose is None
    np.testing.assert_allclose(calib.K_array()[[0, 1], [0, 1]], [610.0, 610.0], rtol=0.005)
    assert calib.errors.rms_px < 0.3 and calib.errors.cross_validated_px < 0.3
    assert not list(out.parent.glob(".*.tmp"))  # no temporary file left behind


def test_intrinsics_model_can_be_forced_and_a_wrong_name_is_refused(
    boards: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cam9.yaml"
    assert _intrinsics(boards, out, "--model", "radial2") == 0
    text = capsys.readouterr().out
    assert "forced with --model radial2" in text and "plain radial3" in text
    assert len(load_calibration(out).dist) == 4
    assert _intrinsics(boards, tmp_path / "other.yaml", "--model", "fisheye") == 1
    err = capsys.readouterr().err
    assert "model: expected one of plain, auto, pinhole, radial2, radial3, rational" in err
    assert "'fisheye'" in err and not (tmp_path / "other.yaml").exists()


def test_intrinsics_keeps_the_pose_already_in_the_file(
    boards: Path, configs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = configs / "calib" / "cam1.yaml"
    before = load_calibration(path)
    assert _intrinsics(boards, path) == 0
    assert "kept the pose" in capsys.readouterr().out
    after = load_calibration(path)
    assert after.pose == before.pose and after.camera == "cam1"
    assert after.K != before.K and tuple(after.image_size) == SIZE


def test_extrinsics_writes_the_pose_and_keeps_the_intrinsics(
    configs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = configs / "calib" / "cam2.yaml"
    truth = load_calibration(path)
    cam = Camera.from_calibration(truth)
    # Floor marks the installer measured: a 1 m grid of tiles the camera sees.
    grid = np.stack(np.meshgrid(np.arange(0.0, 12.5), np.arange(0.0, 9.5)), -1).reshape(-1, 2)
    store = np.column_stack([grid, np.zeros(len(grid))])
    pixels = cam.image_from_store(store)
    seen = (
        ~np.isnan(pixels).any(axis=1)
        & (pixels[:, 0] > 5)
        & (pixels[:, 0] < 1275)
        & (pixels[:, 1] > 5)
        & (pixels[:, 1] < 715)
    )
    assert seen.sum() >= 6
    pixels += np.random.default_rng(0).normal(0, 0.3, pixels.shape)
    marks = tmp_path / "marks.csv"
    marks.write_text(
        "u,v,x,y,name\n"
        + "".join(
            f"{p[0]:.3f},{p[1]:.3f},{s[0]},{s[1]},tile{i}\n"
            for i, (p, s) in enumerate(zip(pixels[seen], store[seen], strict=True))
        )
    )
    # The file has intrinsics but no pose yet (a freshly calibrated camera).
    path.write_text(
        "\n".join(
            line for line in path.read_text().splitlines() if not line.startswith(("pose:", "  "))
        )
        + "\n"
    )
    assert load_calibration(path).pose is None
    image = tmp_path / "cam2.png"
    cv2.imwrite(str(image), np.zeros((720, 1280, 3), np.uint8))
    assert (
        main(
            [
                "calibrate",
                "extrinsics",
                "--camera",
                "cam2",
                "--image",
                str(image),
                "--points",
                str(marks),
                "--store",
                str(configs / "store.yaml"),
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "reprojection error per point" in text and "tile" in text and "IPPE" in text
    after = load_calibration(path)
    assert after.K == truth.K and after.dist == truth.dist
    assert after.pose is not None and after.errors.extrinsics_rms_px < 1.0
    np.testing.assert_allclose(
        after.pose.centre_in_store(), truth.pose.centre_in_store(), atol=0.05
    )
    load_store(configs / "store.yaml")  # the store loads again, every camera posed


def test_check_draws_the_store_plan(
    configs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = tmp_path / "frame.png"
    cv2.imwrite(str(image), np.zeros((720, 1280, 3), np.uint8))
    out = tmp_path / "check" / "cam1.png"
    def check(frame: Path, drawn_to: Path) -> list[str]:
        return ["calibrate", "check", "--config", str(configs / "edge-a.yaml"), "--camera",
                "cam1", "--image", str(frame), "--out", str(drawn_to)]

    assert main(check(image, out)) == 0
    text = capsys.readouterr().out
    assert "% of the floor" in text and "shelves in view: S" in text and "one pixel spans" in text
    drawn = cv2.imread(str(out))
    assert drawn.shape == (720, 1280, 3) and (drawn > 0).any(axis=2).mean() > 0.01
    # Measured marks reported against the calibration: exact for points it projected itself.
    cam = Camera.from_calibration(load_calibration(configs / "calib" / "cam1.yaml"))
    marks_store = np.array([[2.0, 2.0, 0.0], [4.0, 3.0, 0.0], [6.0, 5.0, 0.0], [3.0, 6.0, 0.0]])
    marks_px = cam.image_from_store(marks_store)
    marks_px[3] += np.array([3.0, 4.0])  # one mark read 5 px off
    marks = tmp_path / "marks.csv"
    marks.write_text(
        "".join(
            f"{p[0]},{p[1]},{q[0]},{q[1]},m{i}\n"
            for i, (p, q) in enumerate(zip(marks_px, marks_store, strict=True))
        )
    )
    assert main([*check(image, out), "--points", str(marks)]) == 0
    assert "measured points: RMS 2.50 px, worst 5.00 px (m3)" in capsys.readouterr().out
    # Half-resolution frames are drawn through the rescaled calibration.
    small = tmp_path / "small.png"
    cv2.imwrite(str(small), np.zeros((360, 640, 3), np.uint8))
    assert main(check(small, tmp_path / "small_out.png")) == 0


def test_failures_are_clear_and_leave_the_file_untouched(
    boards: Path, configs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = configs / "calib" / "cam3.yaml"
    before = path.read_bytes()
    # A pattern that is never found.
    assert (
        main(
            [
                "calibrate",
                "intrinsics",
                "--images",
                str(boards / "b[12].png"),
                "--pattern",
                "11x8",
                "--square",
                "0.025",
                "--out",
                str(path),
                "--no-progress",
            ]
        )
        == 1
    )
    assert "was not found in any of the 2 photos" in capsys.readouterr().err
    # Too few photos.
    assert (
        main(
            [
                "calibrate",
                "intrinsics",
                "--images",
                str(boards / "b1.png"),
                str(boards / "b2.png"),
                "--pattern",
                "9x6",
                "--square",
                "0.025",
                "--out",
                str(path),
                "--no-progress",
            ]
        )
        == 1
    )
    assert "at least 6 are needed" in capsys.readouterr().err
    # Nothing matches the glob.
    assert _intrinsics(tmp_path / "nowhere", path) == 1
    assert "no file matches" in capsys.readouterr().err
    # Another camera's file.
    assert _intrinsics(boards, path, "--camera", "cam4") == 1
    assert "is the calibration of 'cam3'" in capsys.readouterr().err
    # An unreadable image for extrinsics, and a degenerate point set.
    marks = tmp_path / "marks.csv"
    marks.write_text("1,1,0,0\n2,2,1,1\n3,3,2,2\n4,4,3,3\n")
    junk = tmp_path / "frame.png"
    junk.write_text("no image")
    args = [
        "calibrate",
        "extrinsics",
        "--camera",
        "cam3",
        "--image",
        str(junk),
        "--points",
        str(marks),
        "--store",
        str(configs / "store.yaml"),
    ]
    assert main(args) == 1
    assert "cannot read" in capsys.readouterr().err
    cv2.imwrite(str(junk), np.zeros((720, 1280, 3), np.uint8))
    assert main(args) == 1
    assert "degenerate point set" in capsys.readouterr().err
    assert main([*args[:3], "cam99", *args[4:]]) == 1
    assert "'cam99' is not in" in capsys.readouterr().err
    assert path.read_bytes() == before
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "calibrate",
                "intrinsics",
                "--images",
                "x",
                "--pattern",
                "9by6",
                "--square",
                "1",
                "--out",
                "y",
            ]
        )
    assert exc.value.code == 2
    assert "expected COLSxROWS" in capsys.readouterr().err
