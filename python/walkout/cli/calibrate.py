"""``walkout calibrate intrinsics | extrinsics | check``: calibrate a camera in the field.

- ``intrinsics``: K and distortion from chessboard photos; the distortion model is chosen by
  nested cross-validation (OpenCV's default unless another clearly beats it) or forced with
  ``--model``; writes the camera's calibration file (keeping a pose already there).
- ``extrinsics``: the camera's pose in the store frame from measured floor points; writes the
  pose into the calibration file (keeping the intrinsics).
- ``check``: draws the store plan onto a camera image through the calibration.

Every write is atomic and validated; on any error nothing is written and the exit status is 1.
"""

from __future__ import annotations

import argparse
import glob
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from walkout.calib import IntrinsicsResult

DEFAULT_STORE = Path("configs/store.yaml")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("calibrate", help="calibrate a camera: intrinsics, pose, check")
    sub = parser.add_subparsers(dest="calibrate_command", metavar="ACTION")
    sub.required = True

    intr = sub.add_parser("intrinsics", help="K and distortion from chessboard photos")
    intr.add_argument(
        "--images",
        required=True,
        nargs="+",
        metavar="GLOB",
        help="photos of the chessboard (a quoted glob, or files)",
    )
    intr.add_argument(
        "--pattern",
        required=True,
        type=_pattern,
        metavar="COLSxROWS",
        help="inner corners of the board, e.g. 9x6",
    )
    intr.add_argument(
        "--square",
        required=True,
        type=float,
        metavar="SIZE",
        help="side of one square in metres (any unit works for K; metres keep poses readable)",
    )
    intr.add_argument(
        "--out",
        required=True,
        type=Path,
        metavar="FILE",
        help="the camera's calibration file (kind: camera); a pose in it is kept",
    )
    intr.add_argument(
        "--camera",
        metavar="ID",
        help="camera id for a new file (default: the file's own, else its stem)",
    )
    intr.add_argument(
        "--folds",
        type=int,
        default=4,
        help="cross-validation folds (default 4): more hold out fewer photos each",
    )
    intr.add_argument(
        "--model",
        default="auto",
        metavar="NAME",
        help="distortion model: auto (chosen by nested cross-validation, the default), plain "
        "(OpenCV's default five coefficients), or pinhole, radial2, radial3, rational",
    )
    intr.add_argument(
        "--min-board-fraction",
        type=float,
        default=None,
        help="reject photos whose board covers less of the frame (default 0.01)",
    )
    intr.add_argument("--no-progress", action="store_true", help="no progress bar")
    intr.set_defaults(handler=_intrinsics)

    extr = sub.add_parser("extrinsics", help="the camera's pose in the store from measured points")
    extr.add_argument("--camera", required=True, metavar="ID")
    extr.add_argument(
        "--image",
        required=True,
        type=Path,
        metavar="FILE",
        help="the camera image the point pixels were read from",
    )
    extr.add_argument(
        "--points",
        required=True,
        type=Path,
        metavar="FILE",
        help="CSV (u, v, x, y[, z][, name]) or YAML (points: [{name, pixel, store}])",
    )
    extr.add_argument(
        "--store",
        type=Path,
        default=DEFAULT_STORE,
        metavar="STORE.yaml",
        help="store file naming the camera's calibration file (default configs/store.yaml)",
    )
    extr.add_argument(
        "--calibration",
        type=Path,
        metavar="FILE",
        help="the calibration file to update, instead of the one the store names",
    )
    extr.set_defaults(handler=_extrinsics)

    check = sub.add_parser(
        "check", help="draw the store plan onto an image through the calibration"
    )
    check.add_argument(
        "--config",
        required=True,
        type=Path,
        metavar="EDGE.yaml",
        help="edge (or store) file; its store's plan and calibrations are used",
    )
    check.add_argument("--camera", required=True, metavar="ID")
    check.add_argument("--image", required=True, type=Path, metavar="FILE")
    check.add_argument("--out", required=True, type=Path, metavar="PNG")
    check.add_argument(
        "--points",
        type=Path,
        metavar="FILE",
        help="optional measured points (as for extrinsics) to report errors on",
    )
    check.add_argument(
        "--grid", type=float, default=1.0, metavar="METRES", help="floor grid spacing (default 1 m)"
    )
    check.set_defaults(handler=_check)


def _pattern(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not match or int(match[1]) < 2 or int(match[2]) < 2:
        raise argparse.ArgumentTypeError(
            f"expected COLSxROWS inner corners such as 9x6, got '{text}'"
        )
    return int(match[1]), int(match[2])


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1


# ---------------------------------------------------------------------------------------------
# intrinsics
# ---------------------------------------------------------------------------------------------


def _intrinsics(args: argparse.Namespace) -> int:
    try:
        return _run_intrinsics(args)
    except ValueError as exc:
        return _fail(str(exc))


def _expand(patterns: list[str]) -> list[Path]:
    paths: list[Path] = []
    for pattern in patterns:
        matches = sorted(glob.glob(pattern))
        if not matches and Path(pattern).exists():
            matches = [pattern]
        paths += [Path(m) for m in matches]
    return sorted(dict.fromkeys(paths))


def _run_intrinsics(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from walkout.calib import (
        DISTORTION_MODELS,
        calibrate_intrinsics,
        find_boards,
        write_calibration,
    )
    from walkout.calib.calibration_file import read_existing
    from walkout.calib.chessboard import MIN_BOARD_FRACTION
    from walkout.calib.intrinsics import fit_count, model_names
    from walkout.config import CameraCalibration
    from walkout.config.camera import CalibrationErrors

    paths = _expand(args.images)
    if not paths:
        raise ValueError(f"images: no file matches {' '.join(args.images)}")
    if args.square <= 0:
        raise ValueError(f"square: expected a positive size in metres, got {args.square}")
    if args.folds < 2:
        raise ValueError(f"folds: expected 2 or more, got {args.folds}")
    if args.model not in model_names():
        raise ValueError(f"model: expected one of {', '.join(model_names())}, got '{args.model}'")
    existing = read_existing(args.out)  # fail before the slow part when the file is broken
    if existing is not None and args.camera and existing.camera != args.camera:
        raise ValueError(
            f"camera: {args.out} is the calibration of '{existing.camera}', not '{args.camera}'"
        )

    quiet = args.no_progress
    with tqdm(
        total=len(paths),
        desc="finding boards",
        unit="photo",
        file=sys.stderr,
        disable=quiet,
        leave=False,
    ) as bar:
        views, rejections, size = find_boards(
            paths,
            args.pattern,
            progress=lambda _p: bar.update(),
            min_board_fraction=MIN_BOARD_FRACTION
            if args.min_board_fraction is None
            else args.min_board_fraction,
        )
    if not views:
        raise ValueError(
            f"pattern: the {args.pattern[0]}x{args.pattern[1]} board was not found in "
            f"any of the {len(paths)} photos; check --pattern (inner corners)"
        )
    fits = fit_count(len(views), args.folds, len(DISTORTION_MODELS), args.model)
    with tqdm(
        total=fits, desc="calibrating", unit="fit", file=sys.stderr, disable=quiet, leave=False
    ) as bar:
        result = calibrate_intrinsics(
            views,
            rejections,
            size,
            args.pattern,
            args.square,
            n_folds=args.folds,
            model=args.model,
            tick=bar.update,
        )
    _print_intrinsics(result, len(paths))

    chosen = result.chosen
    camera_id = args.camera or (existing.camera if existing else args.out.stem)
    errors = CalibrationErrors(rms_px=chosen.rms_px, cross_validated_px=result.cross_validated_px)
    pose = None
    if existing is not None:
        pose = existing.pose
        if pose is not None:
            print(
                "kept the pose already in the file; it was solved with the previous intrinsics, "
                "so re-run `walkout calibrate extrinsics` for this camera"
            )
    calib = CameraCalibration(
        kind="camera",
        camera=camera_id,
        image_size=size,
        K=tuple(tuple(float(v) for v in row) for row in chosen.K),
        dist=[float(v) for v in chosen.dist],
        pose=pose,
        errors=errors,
    )
    write_calibration(
        args.out,
        calib,
        f"Intrinsics of {camera_id} from {len(result.views)} "
        f"chessboard photos ({args.pattern[0]}x{args.pattern[1]}, square {args.square:g} m); "
        f"distortion model {chosen.model.name} ({chosen.model.description}).",
    )
    print(f"wrote {args.out}")
    return 0


def _print_intrinsics(result: IntrinsicsResult, n_photos: int) -> None:
    detectors = [v.detector for v in result.views]
    print(
        f"board found and kept in {len(result.views)} of {n_photos} photos "
        f"(classic detector {detectors.count('classic')}, sector-based {detectors.count('sector')}); "
        f"image {result.image_size[0]}x{result.image_size[1]}"
    )
    if result.rejections:
        print("rejected:")
        for rejection in result.rejections:
            print(f"  {rejection.path.name}: {rejection.reason}")
    else:
        print("rejected: none")
    note = (
        ""
        if result.coverage >= 0.5
        else (
            "  (low: add photos with the board near the edges and corners, or the distortion there "
            "is a guess)"
        )
    )
    print(f"frame coverage: {100 * result.coverage:.0f} % of an 8x6 grid has a board corner{note}")
    print(
        f"cross-validation: {len(result.folds)} outer folds, "
        f"{min(map(len, result.folds))}-{max(map(len, result.folds))} photos held out each; "
        "the model is chosen inside each from its training photos alone (nested)"
    )
    comparisons = {c.model: c for c in result.selection.comparisons} if result.selection else {}
    print("  model      coeffs   fit RMS px   cross-validated px   vs plain   signed-rank p")
    for fit in result.candidates:
        c = comparisons.get(fit.model.name)
        ratio = fit.cross_validated_px / result.plain.cross_validated_px
        p = f"{c.p_value:>13.3g}" if c is not None and c.p_value == c.p_value else " " * 13
        mark = "  <- chosen" if fit is result.chosen else ""
        if fit is result.plain:
            mark += "  (plain: OpenCV's default)"
        elif c is not None:
            mark += f"  ({c.note})"
        elif fit.ruled_out:
            mark += f"  (ruled out: {fit.ruled_out})"
        print(
            f"  {fit.model.name:<10} {fit.model.n_coeffs:>6}   {fit.rms_px:>10.3f}   "
            f"{fit.cross_validated_px:>18.3f}   {ratio:>8.3f}   {p}{mark}"
        )
    chosen = result.chosen
    if result.selection is None:
        why = f"forced with --model {result.mode}"
        label = "chosen"
    else:
        why = result.selection.reason
        label = "walkout (nested)"
        inner = ", ".join(c.selection.chosen for c in result.fold_choices)
        print(f"choice inside each outer fold: {inner}")
    print(
        f"held-out error on the outer folds: plain {result.plain.model.name} "
        f"{result.plain.cross_validated_px:.3f} px | {label} {result.cross_validated_px:.3f} px "
        f"(x{result.cross_validated_px / result.plain.cross_validated_px:.3f})"
    )
    print(f"chosen distortion model: {chosen.model.name} ({chosen.model.description}): {why}")
    print(
        f"RMS reprojection error: {chosen.rms_px:.3f} px; cross-validated: "
        f"{result.cross_validated_px:.3f} px (what to expect on new views)"
    )
    print("per-photo RMS px (fit / held out):")
    for index, (view, fit_err) in enumerate(zip(result.views, chosen.per_view_px, strict=True)):
        print(
            f"  {view.path.name}: {fit_err:.3f} / {chosen.held_out_px.get(index, float('nan')):.3f}"
        )
    names = list(chosen.std)
    values = [chosen.K[0, 0], chosen.K[1, 1], chosen.K[0, 2], chosen.K[1, 2], *chosen.dist]
    print("parameters (value ± standard deviation):")
    for name, value in zip(names, values, strict=True):
        print(f"  {name:>3} = {value:12.6g} ± {chosen.std[name]:.3g}")


# ---------------------------------------------------------------------------------------------
# extrinsics
# ---------------------------------------------------------------------------------------------


def _calibration_path(store_path: Path, camera: str) -> Path:
    """The calibration file the store names for ``camera``, read without loading the other
    cameras' calibrations (which may not have a pose yet: that is why we are here)."""
    import yaml
    from pydantic import ValidationError

    from walkout.config import Store, resolve

    try:
        data = yaml.safe_load(store_path.read_text())
        store = Store.model_validate(data)
    except OSError as exc:
        raise ValueError(
            f"store: cannot read {store_path}: {exc.strerror}; pass --store or --calibration"
        ) from None
    except (yaml.YAMLError, ValidationError):
        raise ValueError(
            f"store: {store_path} is not a valid store file; run `walkout config "
            f"check {store_path}`"
        ) from None
    for ref in store.cameras:
        if ref.id == camera:
            return resolve(store_path.resolve(), ref.calibration)
    raise ValueError(
        f"camera: '{camera}' is not in {store_path}; expected one of "
        f"{sorted(c.id for c in store.cameras)}"
    )


def _image_size(path: Path) -> tuple[int, int]:
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ValueError(f"image: cannot read {path} as an image")
    return image.shape[1], image.shape[0]


def _extrinsics(args: argparse.Namespace) -> int:
    try:
        return _run_extrinsics(args)
    except ValueError as exc:
        return _fail(str(exc))


def _run_extrinsics(args: argparse.Namespace) -> int:
    import numpy as np

    from walkout.calib import read_point_pairs, solve_pose, write_calibration
    from walkout.calib.calibration_file import read_existing
    from walkout.config import CameraPose

    path = args.calibration or _calibration_path(args.store, args.camera)
    existing = read_existing(path)
    if existing is None:
        raise ValueError(
            f"calibration: {path} does not exist; run `walkout calibrate intrinsics "
            f"--out {path}` first"
        )
    if existing.camera != args.camera:
        raise ValueError(
            f"camera: {path} is the calibration of '{existing.camera}', not '{args.camera}'"
        )
    width, height = _image_size(args.image)
    calib = existing.for_image_size(width, height)  # the pixels were read at this resolution
    pairs = read_point_pairs(args.points)
    pose = solve_pose(pairs, calib.K_array(), calib.dist_array())
    print(
        f"pose from {len(pairs.names)} points ({pose.method}); camera centre in the store: "
        f"({pose.centre[0]:.3f}, {pose.centre[1]:.3f}, {pose.centre[2]:.3f}) m"
    )
    print("reprojection error per point (px):")
    for name, err in zip(pairs.names, pose.per_point_px, strict=True):
        flag = (
            "  <- check this point"
            if err > max(3 * float(np.median(pose.per_point_px)), 2.0)
            else ""
        )
        print(f"  {name:>8}: {err:.2f}{flag}")
    print(f"RMS: {pose.rms_px:.2f} px")
    if pose.centre[2] <= 0:
        print("warning: the camera centre is at or below the floor; check the point pairing")
    updated = existing.model_copy(
        update={
            "pose": CameraPose(
                R=tuple(tuple(float(v) for v in row) for row in pose.R),
                t=tuple(float(v) for v in pose.t),
            ),
            "errors": existing.errors.model_copy(update={"extrinsics_rms_px": pose.rms_px}),
        }
    )
    write_calibration(
        path,
        updated,
        f"Calibration of {args.camera}; pose from {len(pairs.names)} "
        f"measured points in {args.points.name} ({pose.method}).",
    )
    print(f"wrote {path}")
    return 0


# ---------------------------------------------------------------------------------------------
# check
# ---------------------------------------------------------------------------------------------


def _check(args: argparse.Namespace) -> int:
    try:
        return _run_check(args)
    except ValueError as exc:
        return _fail(str(exc))


def _run_check(args: argparse.Namespace) -> int:
    import cv2
    import numpy as np

    from walkout.calib import read_point_pairs
    from walkout.calib.overlay import coverage, draw_store
    from walkout.config import ConfigError, LoadedEdge, LoadedServer, LoadedStore, load_config
    from walkout.geometry import Camera

    try:
        loaded = load_config(args.config)
    except ConfigError as exc:
        raise ValueError(
            f"config: {args.config} is invalid:\n  " + "\n  ".join(str(i) for i in exc.issues)
        ) from None
    if isinstance(loaded, (LoadedEdge, LoadedServer)):
        store = loaded.store
    elif isinstance(loaded, LoadedStore):
        store = loaded
    else:
        raise ValueError(f"config: {args.config} is neither an edge, server nor store file")
    calib = store.calibrations.get(args.camera)
    if calib is None:
        raise ValueError(
            f"camera: '{args.camera}' is not in the store; expected one of "
            f"{sorted(store.calibrations)}"
        )
    image = cv2.imread(str(args.image), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"image: cannot read {args.image} as an image")
    size = (image.shape[1], image.shape[0])
    cam = Camera.from_calibration(calib, size)
    drawn = draw_store(image, cam, store.config, grid_m=args.grid)
    report = coverage(cam, store.config, size)
    errors = calib.errors
    print(
        f"camera {args.camera}: centre ({cam.centre[0]:.2f}, {cam.centre[1]:.2f}, "
        f"{cam.centre[2]:.2f}) m, image {size[0]}x{size[1]}"
    )
    print(
        f"calibration errors on file: intrinsics RMS {_px(errors.rms_px)}, cross-validated "
        f"{_px(errors.cross_validated_px)}, pose RMS {_px(errors.extrinsics_rms_px)}"
    )
    print(
        f"sees {100 * report.visible_floor_fraction:.0f} % of the floor "
        f"({report.visible_floor_m2:.1f} m²); shelves in view: {', '.join(report.shelves_visible) or 'none'}"
    )
    print(
        f"at the image centre one pixel spans {100 * report.metres_per_pixel_centre:.2f} cm of floor; "
        f"a 1 px error moves a floor point by up to {100 * report.floor_sigma_centre_m:.2f} cm"
    )
    if args.points:
        pairs = read_point_pairs(args.points)
        projected = cam.image_from_store(pairs.store)
        err = np.linalg.norm(projected - pairs.pixels, axis=1)
        print(
            f"measured points: RMS {np.sqrt(np.nanmean(err**2)):.2f} px, worst {np.nanmax(err):.2f} px "
            f"({pairs.names[int(np.nanargmax(err))]})"
        )
        for p, q in zip(pairs.pixels, projected, strict=True):
            cv2.circle(drawn, (round(p[0]), round(p[1])), 5, (0, 0, 255), 1, cv2.LINE_AA)
            if not np.isnan(q).any():
                cv2.drawMarker(
                    drawn,
                    (round(q[0]), round(q[1])),
                    (0, 255, 0),
                    cv2.MARKER_CROSS,
                    8,
                    1,
                    cv2.LINE_AA,
                )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(args.out), drawn):
        raise ValueError(f"out: cannot write {args.out} (use a .png path in a writable folder)")
    print(f"wrote {args.out}")
    return 0


def _px(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f} px"
