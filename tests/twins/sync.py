"""Readable twin of walkout._core.FrameSync (cpp/src/sync/frame_sync.cpp): the same policy in
plain Python, one step at a time. Property tests replay identical event streams through both
and require identical framesets and counters; the benchmark wraps it in a lock and a
condition variable as the "plain Python implementation" a user would otherwise write.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

NEVER = 2**63 - 1


@dataclass
class TwinCounters:
    received: int = 0
    used: int = 0
    dropped_late: int = 0
    dropped_overflow: int = 0
    missing: int = 0
    buffered: int = 0
    live: bool = True


@dataclass
class TwinFrameSet:
    ref_ns: int
    frames: list[Any]
    t_ns: list[int | None]
    complete: bool
    waited_out: bool


@dataclass
class _Camera:
    times: list[int] = field(default_factory=list)  # sorted capture times
    arrivals: list[int] = field(default_factory=list)
    frames: list[Any] = field(default_factory=list)
    counters: TwinCounters = field(default_factory=TwinCounters)


class FrameSyncTwin:
    """FrameSync's policy without threads: push() and poll(now_ns) as in the C++ core."""

    def __init__(
        self,
        num_cameras: int,
        period_ns: int,
        tolerance_ns: int,
        capacity: int,
        latency_budget_ns: int,
        grid_origin_ns: int | None = None,
        min_frame_interval_ns: int = 0,
    ) -> None:
        self.origin = grid_origin_ns
        self.min_gap = min_frame_interval_ns
        self.period = period_ns
        self.tol = tolerance_ns
        self.capacity = capacity
        self.budget = latency_budget_ns
        self.cams = [_Camera() for _ in range(num_cameras)]
        self.last_ref: int | None = None
        self.closed = False
        self.framesets = 0
        self.partial_framesets = 0

    # -- producers ---------------------------------------------------------------------------
    def push(self, camera: int, t_ns: int, frame: Any, arrival_ns: int) -> None:
        cam = self.cams[camera]
        cam.counters.received += 1
        if self.last_ref is not None and t_ns < self.last_ref + self.period - self.tol:
            cam.counters.dropped_late += 1  # no future reference time can use it
            return
        i = bisect.bisect_right(cam.times, t_ns)  # equal times keep arrival order
        cam.times.insert(i, t_ns)
        cam.arrivals.insert(i, arrival_ns)
        cam.frames.insert(i, frame)
        if len(cam.times) > self.capacity:  # shed the oldest frame
            self._pop(cam, 0)
            cam.counters.dropped_overflow += 1

    def set_live(self, camera: int, live: bool) -> None:
        self.cams[camera].counters.live = live

    def close(self) -> None:
        self.closed = True

    def resume_ref(self, earliest: int) -> int:
        """Reference time to resume at when `earliest` is the next frame anyone has."""
        if self.origin is None:
            return earliest
        # The first grid point whose window reaches back to `earliest` (a ceiling division).
        k = -((self.origin - (earliest - self.tol)) // self.period)
        return self.origin + k * self.period

    def wants(self, camera: int, t_ns: int) -> bool:
        if self.last_ref is not None and t_ns < self.last_ref + self.period - self.tol:
            return False
        if self.last_ref is None and self.origin is None:
            return True
        base = self.last_ref if self.last_ref is not None else self.origin
        phase = (t_ns - base) % self.period  # Python's % is a floor modulo
        return phase <= self.tol or self.period - phase <= self.tol

    # -- consumer ----------------------------------------------------------------------------
    def poll(self, now_ns: int) -> TwinFrameSet | None:
        """Releases one frameset if the policy allows at monotonic time now_ns."""
        while True:
            if self.last_ref is not None:
                for cam in self.cams:
                    self._drop_older_than(cam, self.last_ref + self.period - self.tol)
            heads = [cam.times[0] for cam in self.cams if cam.times]
            if not heads:
                return None
            earliest = min(heads)
            ref = (
                self.resume_ref(earliest) if self.last_ref is None else self.last_ref + self.period
            )

            # Decided: the camera has a frame at or past ref (or is not waited for).
            all_decided = True
            opened = NEVER
            for cam in self.cams:
                past = [a for t, a in zip(cam.times, cam.arrivals, strict=True) if t >= ref]
                if past:
                    opened = min(opened, past[0])
                decided = bool(past) or not cam.counters.live or self.closed
                # The promised spacing puts the next frame beyond the window: already final.
                if self.min_gap > 0 and cam.times and cam.times[-1] + self.min_gap > ref + self.tol:
                    decided = True
                all_decided = all_decided and decided
            expired = opened != NEVER and now_ns >= opened + self.budget
            if not (all_decided or expired):
                return None

            chosen: list[int | None] = []
            for cam in self.cams:
                best, best_d = None, None
                for i, t in enumerate(cam.times):
                    d = abs(t - ref)
                    if d <= self.tol and (best_d is None or d < best_d):  # ties: earlier wins
                        best, best_d = i, d
                chosen.append(best)

            if all(c is None for c in chosen):
                # An outage every camera shares: skip ref, jump to the next frame anyone has.
                self.last_ref = ref
                if earliest > ref + self.period + self.tol:
                    self.last_ref = self.resume_ref(earliest) - self.period
                continue

            frames: list[Any] = []
            times: list[int | None] = []
            for cam, i in zip(self.cams, chosen, strict=True):
                if i is None:
                    frames.append(None)
                    times.append(None)
                    cam.counters.missing += 1
                else:
                    times.append(cam.times[i])
                    frames.append(self._pop(cam, i))
                    cam.counters.used += 1
                self._drop_older_than(cam, ref)
            complete = all(i is not None for i in chosen)
            self.last_ref = ref
            self.framesets += 1
            self.partial_framesets += not complete
            return TwinFrameSet(ref, frames, times, complete, not all_decided)

    def counters(self) -> list[TwinCounters]:
        out = []
        for cam in self.cams:
            c = cam.counters
            out.append(
                TwinCounters(
                    c.received,
                    c.used,
                    c.dropped_late,
                    c.dropped_overflow,
                    c.missing,
                    len(cam.times),
                    c.live,
                )
            )
        return out

    # -- helpers -----------------------------------------------------------------------------
    @staticmethod
    def _pop(cam: _Camera, i: int) -> Any:
        cam.times.pop(i)
        cam.arrivals.pop(i)
        return cam.frames.pop(i)

    def _drop_older_than(self, cam: _Camera, t_ns: int) -> None:
        while cam.times and cam.times[0] < t_ns:
            self._pop(cam, 0)
            cam.counters.dropped_late += 1
