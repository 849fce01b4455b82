"""Capture timestamps beside a recorded video: ``NAME.timestamps.csv`` next to ``NAME.EXT``.

Format (docs/rooms/sync.md): a header line ``frame_index,t_ns`` then one row per frame stored
in the video, in storage order. ``t_ns`` is the capture time in integer nanoseconds since the
Unix epoch (UTC). ``frame_index`` is the camera's capture sequence number: consecutive when
nothing was lost, with a gap where the camera dropped frames (a dropped frame has no row and
no frame in the video). So row k always describes the k-th frame stored in the video, and
both must increase strictly.

The simulator writes these files (:func:`write_timestamps`); the edge reads them
(:func:`read_timestamps`) to replay a recording with its real capture jitter and drops.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

__all__ = [
    "TIMESTAMPS_HEADER",
    "FrameTimestamps",
    "find_timestamps",
    "read_timestamps",
    "timestamps_path_for",
    "write_timestamps",
]

TIMESTAMPS_HEADER = "frame_index,t_ns"


@dataclass(frozen=True)
class FrameTimestamps:
    """The rows of a timestamps file: row k is the k-th frame stored in the video."""

    frame_index: npt.NDArray[np.int64]
    t_ns: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.t_ns)

    @property
    def dropped_at_capture(self) -> int:
        """Frames the camera lost before storage (gaps in frame_index)."""
        if len(self.frame_index) == 0:
            return 0
        return int(self.frame_index[-1] - self.frame_index[0] + 1 - len(self.frame_index))

    def dropped_before(self, k: int) -> int:
        """Frames lost between stored frame k - 1 and stored frame k (0 for the first)."""
        if k <= 0:
            return 0
        return int(self.frame_index[k] - self.frame_index[k - 1] - 1)

    def median_period_ns(self) -> int | None:
        """Median spacing of consecutive captures (None for fewer than two rows)."""
        if len(self.t_ns) < 2:
            return None
        gaps = np.diff(self.t_ns) / np.maximum(np.diff(self.frame_index), 1)
        return int(np.median(gaps))


def timestamps_path_for(video: str | Path) -> Path:
    """``dir/NAME.EXT`` -> ``dir/NAME.timestamps.csv``."""
    return Path(video).with_suffix(".timestamps.csv")


def write_timestamps(
    video: str | Path,
    t_ns: Sequence[int] | npt.NDArray[np.integer],
    frame_index: Sequence[int] | npt.NDArray[np.integer] | None = None,
) -> Path:
    """Writes the timestamps file beside ``video`` (one row per stored frame) and returns its path.

    Args:
        video: the recorded video the rows describe (it need not exist yet).
        t_ns: capture time of each stored frame, integer ns since the Unix epoch (UTC).
        frame_index: the camera's capture sequence number of each stored frame; default
            0, 1, 2, ... (nothing dropped). Leave gaps for frames the camera dropped.
    """
    times = np.asarray(t_ns)
    if times.ndim != 1 or not np.issubdtype(times.dtype, np.integer):
        raise ValueError(
            f"t_ns: expected a 1-D sequence of integer ns, got dtype {times.dtype} "
            f"shape {times.shape}"
        )
    index = np.arange(len(times)) if frame_index is None else np.asarray(frame_index)
    if index.shape != times.shape or not np.issubdtype(index.dtype, np.integer):
        raise ValueError(
            f"frame_index: expected {len(times)} integers (one per t_ns), got dtype "
            f"{index.dtype} shape {index.shape}"
        )
    _check_increasing(index, "frame_index", "t_ns argument")
    _check_increasing(times, "t_ns", "t_ns argument")
    path = timestamps_path_for(video)
    lines = [TIMESTAMPS_HEADER, *(f"{int(i)},{int(t)}" for i, t in zip(index, times, strict=False))]
    path.write_text("\n".join(lines) + "\n")
    return path


def read_timestamps(path: str | Path) -> FrameTimestamps:
    """Reads and checks a timestamps file; ValueError names the file and line of any fault."""
    path = Path(path)
    lines = path.read_text().splitlines()
    if not lines or lines[0].strip() != TIMESTAMPS_HEADER:
        got = lines[0].strip() if lines else "an empty file"
        raise ValueError(f"{path}:1: expected the header {TIMESTAMPS_HEADER!r}, got {got!r}")
    index: list[int] = []
    times: list[int] = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        parts = line.split(",")
        try:
            if len(parts) != 2:
                raise ValueError
            index.append(int(parts[0]))
            times.append(int(parts[1]))
        except ValueError:
            raise ValueError(
                f"{path}:{number}: expected 'frame_index,t_ns' (two integers), got {line!r}"
            ) from None
    rows = FrameTimestamps(np.asarray(index, np.int64), np.asarray(times, np.int64))
    _check_increasing(rows.frame_index, "frame_index", str(path))
    _check_increasing(rows.t_ns, "t_ns", str(path))
    return rows


def find_timestamps(video: str | Path) -> FrameTimestamps | None:
    """The timestamps beside ``video``, or None when there is no such file."""
    path = timestamps_path_for(video)
    return read_timestamps(path) if path.is_file() else None


def _check_increasing(values: npt.NDArray[np.integer], name: str, where: str) -> None:
    bad = np.flatnonzero(np.diff(values) <= 0)
    if len(bad):
        k = int(bad[0]) + 1
        raise ValueError(
            f"{where}: {name} must increase strictly; row {k} ({int(values[k])}) "
            f"follows {int(values[k - 1])}"
        )
