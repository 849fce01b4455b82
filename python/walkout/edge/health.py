"""The edge box's ``health`` message: per camera fps, dropped frames and reconnects (from
CameraRig.report(), which merges capture and sync counters), pipeline latency percentiles,
the clock offset and the spool's fill.

Camera *states* (connecting, streaming, stalled, ...) have no field in ``walkout.protocol``'s
``health`` v1; the supervisor logs every state change instead (see :class:`StateLog`).
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from walkout import protocol

if TYPE_CHECKING:
    from walkout.edge.cameras import CameraReport

log = logging.getLogger("walkout.edge")


class LatencyWindow:
    """The last ``size`` pipeline latencies (seconds), as percentiles in milliseconds.

    size: how many framesets the percentiles cover. Larger is steadier and slower to show a
        change (at 10 fps, 600 is the last minute).
    """

    def __init__(self, size: int = 600) -> None:
        if size < 1:
            raise ValueError(f"size: expected at least 1 sample, got {size}")
        self._values: deque[float] = deque(maxlen=size)

    def add(self, seconds: float) -> None:
        self._values.append(float(seconds))

    def __len__(self) -> int:
        return len(self._values)

    def percentiles_ms(self) -> tuple[float, float, float] | None:
        """(p50, p95, p99) in ms, or None before the first sample."""
        if not self._values:
            return None
        p50, p95, p99 = np.percentile(np.fromiter(self._values, float), [50, 95, 99]) * 1e3
        return float(p50), float(p95), float(p99)


def chrony_offset_ns() -> int | None:
    """This machine's clock offset from its time reference, from ``chronyc -c tracking``
    (field 5, "system time", seconds: positive when the clock is fast); None when chrony is
    not installed or not answering (then health carries no offset rather than a guess)."""
    chronyc = shutil.which("chronyc")
    if chronyc is None:
        return None
    try:
        out = subprocess.run([chronyc, "-c", "tracking"], capture_output=True, text=True,
                             timeout=1.0, check=True).stdout
        return round(float(out.strip().split(",")[4]) * 1e9)
    except (subprocess.SubprocessError, OSError, ValueError, IndexError):
        return None


def health_message(src: str, t_ns: int, cameras: Sequence[CameraReport],
                   latency: LatencyWindow, clock_offset_ns: int | None,
                   spool: dict[str, object] | None = None) -> protocol.Health:
    """One ``health`` body (``seq`` is stamped by the sender)."""
    percentiles = latency.percentiles_ms()
    p50, p95, p99 = percentiles if percentiles is not None else (None, None, None)
    spool = spool or {}
    return protocol.Health(
        src=src, t_ns=int(t_ns),
        cameras=[protocol.CameraHealth(camera=c.camera_id, fps=float(min(max(c.fps, 0.0), 1000.0)),
                                       dropped_frames=int(c.dropped_frames),
                                       reconnects=int(c.reconnects)) for c in cameras],
        latency_p50_ms=p50, latency_p95_ms=p95, latency_p99_ms=p99,
        clock_offset_ns=clock_offset_ns,
        spool_fill=None if spool.get("spool_fill") is None
        else float(min(max(float(spool["spool_fill"]), 0.0), 1.0)),  # type: ignore[arg-type]
        spool_full=bool(spool.get("spool_full", False)),
    )


class StateLog:
    """Logs each camera's state changes (the protocol has no field for them)."""

    def __init__(self, logger: logging.Logger = log) -> None:
        self._last: dict[str, str] = {}
        self._log = logger

    def update(self, cameras: Sequence[CameraReport]) -> None:
        for c in cameras:
            state = c.state.value if hasattr(c.state, "value") else str(c.state)
            if self._last.get(c.camera_id) != state:
                level = logging.INFO if state == "streaming" else logging.WARNING
                detail = f" ({c.last_error})" if c.last_error and state != "streaming" else ""
                self._log.log(level, "camera %s: %s%s", c.camera_id, state, detail)
                self._last[c.camera_id] = state


class Every:
    """True once per ``interval`` of a clock (``due(now)``)."""

    def __init__(self, interval: float) -> None:
        if not interval > 0:
            raise ValueError(f"interval: expected > 0 seconds, got {interval}")
        self.interval = interval
        self._next: float | None = None

    def due(self, now: float) -> bool:
        if self._next is None:
            self._next = now + self.interval
            return False
        if now >= self._next:
            self._next = max(self._next + self.interval, now)
            return True
        return False


class TimedDetector:
    """A detector that adds its images and wall seconds to ``stats`` (``model_images``,
    ``model_s``): the model's cost per frame, for ``walkout edge --stats``."""

    def __init__(self, detector: Callable[[Sequence[Any]], list[Any]],
                 stats: dict[str, object]) -> None:
        self.detector = detector
        self.stats = stats
        stats.setdefault("model_images", 0)
        stats.setdefault("model_s", 0.0)

    def __call__(self, frames: Sequence[Any]) -> list[Any]:
        started = time.perf_counter()
        out = self.detector(frames)
        self.stats["model_s"] = float(self.stats["model_s"]) + time.perf_counter() - started  # type: ignore[arg-type]
        self.stats["model_images"] = int(self.stats["model_images"]) + len(frames)  # type: ignore[call-overload]
        return out
