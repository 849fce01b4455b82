"""Reading and writing ``kind: camera`` calibration files (walkout/config/camera.py).

Writes are atomic: the text goes to a temporary file in the same folder, is validated by
loading it back through :func:`walkout.config.load_calibration`, and only then replaces the
target with ``os.replace`` (atomic on POSIX and Windows within one file system). A crash or a
validation error leaves the old file as it was.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from walkout.config import CameraCalibration, ConfigError, load_calibration


def read_existing(path: Path) -> CameraCalibration | None:
    """The calibration already in ``path``, None when there is no file. An invalid file
    raises ValueError: merging into it would hide what is wrong with it."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        return load_calibration(path)
    except ConfigError as exc:
        details = "\n  ".join(str(i) for i in exc.issues)
        raise ValueError(f"{path} exists but is not a valid calibration file; fix or remove it "
                         f"first:\n  {details}") from None


def _num(value: float) -> str:
    return repr(float(value)) if value == value else ".nan"


def _row(values) -> str:
    return "[" + ", ".join(_num(v) for v in values) + "]"


def calibration_yaml(calib: CameraCalibration, comment: str = "") -> str:
    """The file text: the same layout as the example store's files, full float precision."""
    lines = [f"# {line}" for line in comment.splitlines()]
    lines += [
        "kind: camera",
        f"camera: {calib.camera}",
        f"image_size: [{int(calib.image_size[0])}, {int(calib.image_size[1])}]",
        "K:",
        *[f"- {_row(row)}" for row in calib.K],
        f"dist: {_row(calib.dist)}",
    ]
    if calib.pose is not None:
        lines += ["pose:", "  R:", *[f"  - {_row(row)}" for row in calib.pose.R],
                  f"  t: {_row(calib.pose.t)}"]
    errors = {k: v for k, v in calib.errors.model_dump().items() if v is not None}
    if errors:
        lines.append("errors:")
        lines += [f"  {key}: {_num(value)}" for key, value in errors.items()]
    return "\n".join(lines) + "\n"


def write_calibration(path: Path, calib: CameraCalibration, comment: str = "") -> Path:
    """Writes ``calib`` to ``path`` atomically, after validating the written text."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    text = calibration_yaml(calib, f"{comment}\nWritten by `walkout calibrate` on {stamp}." if comment
                            else f"Written by `walkout calibrate` on {stamp}.")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            load_calibration(tmp)
        except ConfigError as exc:  # a bug here, never the user's: refuse rather than write it
            raise ValueError("refusing to write an invalid calibration: "
                             + "; ".join(str(i) for i in exc.issues)) from None
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path
