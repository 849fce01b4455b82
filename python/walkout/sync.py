"""Multi-camera frame sync: pairs the frames of unsynchronised cameras taken at the same moment.

Each camera thread pushes ``(t_ns, frame)`` (capture time in integer ns since the Unix epoch);
the consumer pulls :class:`FrameSet` objects: a reference time ``ref_ns`` and, per camera,
the frame nearest to it within the tolerance, or ``None`` for a camera that is missing.
The policy (release when every camera has moved past the reference time or when the latency
budget expires, late and overflow drops, bounded buffers) is documented in docs/rooms/sync.md
and in cpp/include/walkout/sync/frame_sync.hpp; the work happens in C++ with the GIL released
while :meth:`FrameSync.pull` waits. Frames are held by reference: the array you push is the
array you get back.

Example::

    sync = FrameSync(num_cameras=4, fps=30.0)
    sync.push(0, t_ns, frame)            # from each camera's thread
    fs = sync.pull(timeout_s=0.5)        # from the pipeline thread
    if fs is not None:
        for cam, frame in enumerate(fs.frames): ...
"""

from __future__ import annotations

from dataclasses import dataclass

from walkout import _core
from walkout._core import CameraSyncCounters, FrameSet

__all__ = ["CameraSyncCounters", "CameraSyncStats", "FrameSet", "FrameSync", "SyncStats"]


@dataclass(frozen=True)
class CameraSyncStats:
    """One camera's counters, as plain data for the ``health`` message.

    ``received == used + dropped_late + dropped_overflow + buffered`` always holds.
    """

    received: int
    used: int
    dropped_late: int
    dropped_overflow: int
    missing: int
    buffered: int
    live: bool


@dataclass(frozen=True)
class SyncStats:
    """FrameSync counters: framesets released, how many had a camera missing, and per camera."""

    framesets: int
    partial_framesets: int
    cameras: tuple[CameraSyncStats, ...]


class FrameSync(_core.FrameSync):
    """Pairs frames of ``num_cameras`` cameras by capture time (see the module docstring).

    Args:
        num_cameras: cameras are indices ``0 .. num_cameras - 1``.
        fps: frameset rate; give this or ``period_ns``. Equal to the cameras' rate for one
            frameset per camera frame; lower decimates (with a tolerance below half the period,
            :meth:`wants` then lets cameras skip decoding frames that will not be used).
        period_ns: the same as ``fps``, as the spacing of reference times in ns.
        tolerance_ns: how far a frame may lie from the reference time (default half a period).
            Lower pairs views more tightly in time but reports more "missing" under jitter;
            above half a period a frame may go to the farther of two reference times.
        capacity: frames buffered per camera (default 4). More absorbs longer consumer hiccups
            and arrival skew between cameras; fewer holds less memory and sheds load sooner.
        latency_budget_ns: how long a frameset waits, after its first camera delivered, for the
            others (default two periods). More rescues frames delayed by the network; less
            bounds the delay a stalled camera adds to the others.
        grid_origin_ns: pin reference times to ``grid_origin_ns + k * period`` (0: multiples of
            the period since the Unix epoch), so every edge box pairs frames at the same
            instants and the server fuses boxes without interpolating. None (default): the
            first frame sets the grid's phase, which follows a lone box's cameras.
        min_frame_interval_ns: a promise that one camera's frames are at least this far apart
            (default 0: no promise). A camera's choice is then final as soon as its next frame
            could only land beyond the tolerance, instead of when that frame arrives: up to a
            period less latency. It helps only above the tolerance; the camera period minus its
            jitter (say 0.9 periods, cameras at the frameset rate) fits. Above the real spacing
            it may pick a frame that is not the nearest (still within the tolerance).
    """

    def __init__(
        self,
        num_cameras: int,
        fps: float | None = None,
        *,
        period_ns: int | None = None,
        tolerance_ns: int | None = None,
        capacity: int = 4,
        latency_budget_ns: int | None = None,
        grid_origin_ns: int | None = None,
        min_frame_interval_ns: int = 0,
    ) -> None:
        if (fps is None) == (period_ns is None):
            raise ValueError("fps / period_ns: expected exactly one of them")
        if period_ns is None:
            if fps is None or not fps > 0:
                raise ValueError(f"fps: expected a positive frame rate, got {fps!r}")
            period_ns = round(1e9 / fps)
        if capacity < 1:
            raise ValueError(f"capacity: expected at least 1 frame per camera, got {capacity}")
        super().__init__(
            num_cameras=num_cameras,
            period_ns=period_ns,
            tolerance_ns=period_ns // 2 if tolerance_ns is None else tolerance_ns,
            capacity=capacity,
            latency_budget_ns=2 * period_ns if latency_budget_ns is None else latency_budget_ns,
            grid_origin_ns=grid_origin_ns,
            min_frame_interval_ns=min_frame_interval_ns,
        )

    def stats(self) -> SyncStats:
        """A consistent-enough snapshot of every counter (each camera's is taken atomically)."""
        cams = tuple(
            CameraSyncStats(
                received=c.received,
                used=c.used,
                dropped_late=c.dropped_late,
                dropped_overflow=c.dropped_overflow,
                missing=c.missing,
                buffered=c.buffered,
                live=c.live,
            )
            for c in self.counters()
        )
        return SyncStats(
            framesets=self.framesets, partial_framesets=self.partial_framesets, cameras=cams
        )
