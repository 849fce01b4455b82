"""Camera sources for the edge box: one thread per camera, feeding one FrameSync.

Each camera is a small state machine::

    CONNECTING ──open──► STREAMING ◄──frame── STALLED
        │                  │    └──no frame for stall_timeout_s──┘
        │ open fails       │ grab fails (stream lost; blocked reads give up after
        ▼                  ▼            read_timeout_s)
    RECONNECTING ◄─────────┘   retried with exponential backoff
        │
        ▼  stop(), end of a file, a file that does not exist, or max_reconnects
     STOPPED

The thread ``grab()``s every frame (so a live stream never queues up in the decoder) but
``retrieve()``s (decodes) only the frames the sync will use (:meth:`FrameSync.wants`).
Capture timestamps, integer ns UTC, come from the first of: the timestamps file beside a
recorded video (walkout.edge.timestamps), the stream's own presentation times (files, RTSP),
or the monotonic clock at grab mapped to UTC once at start (immune to wall-clock steps).
A camera that is not streaming is marked not live in the sync, so the others never wait for
it; its counters (fps, drops, reconnects, state) are a plain :class:`CameraHealth` for the
``health`` message.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np
import numpy.typing as npt

from walkout.edge.timestamps import FrameTimestamps, find_timestamps

__all__ = [
    "CameraHealth",
    "CameraOptions",
    "CameraReport",
    "CameraRig",
    "CameraSource",
    "CameraState",
    "FrameSink",
    "ReplayClock",
    "source_kind",
]

log = logging.getLogger(__name__)

Frame = npt.NDArray[np.uint8]


class CameraState(str, enum.Enum):
    CONNECTING = "connecting"
    STREAMING = "streaming"
    STALLED = "stalled"
    RECONNECTING = "reconnecting"
    STOPPED = "stopped"


@dataclass(frozen=True)
class CameraOptions:
    """One camera. Every timing is a parameter, so tests run the fault paths in seconds."""

    camera_id: str
    """Name used in logs, errors and health."""
    source: str | int
    """A video file path, a stream URL (rtsp://, http://, ...) or a local device index."""
    speed: float | None = 1.0
    """Files only: 1.0 plays at real time, 2.0 twice as fast, None as fast as possible (tests,
    benchmarks). Faster than the consumer makes the sync shed frames; that is the point of
    real time for the demo."""
    loop: bool = False
    """Files only: start again at the end (timestamps keep increasing) instead of stopping."""
    stall_timeout_s: float = 2.0
    """No frame for this long while streaming: reported STALLED and no longer waited for by the
    sync. Lower detects a dead camera sooner; too low flags a camera whose frames merely
    jitter (keep it several frame periods)."""
    read_timeout_s: float = 5.0
    """Streams: a grab blocked this long gives up, and the camera reconnects. Lower recovers
    sooner from a dead connection; too low reconnects on network hiccups."""
    open_timeout_s: float = 5.0
    """Streams: how long opening may take before it counts as failed."""
    backoff_initial_s: float = 0.5
    """First wait before reconnecting; doubled (backoff_factor) after each failure up to
    backoff_max_s, reset by the first frame. Lower reconnects sooner; higher spares a camera
    (and the network) that is rebooting."""
    backoff_max_s: float = 30.0
    backoff_factor: float = 2.0
    max_reconnects: int | None = None
    """Give up (STOPPED) after this many failed attempts in a row; None retries forever."""
    expected_size: tuple[int, int] | None = None
    """(width, height) the calibration was made for: frames of another size are refused (and
    counted) rather than projected with the wrong intrinsics. None accepts any size."""

    def __post_init__(self) -> None:
        for name in (
            "stall_timeout_s",
            "read_timeout_s",
            "open_timeout_s",
            "backoff_initial_s",
            "backoff_max_s",
        ):
            value = getattr(self, name)
            if not value > 0:
                raise ValueError(
                    f"{name}: expected seconds > 0, got {value!r} (camera {self.camera_id!r})"
                )
        if self.backoff_factor < 1:
            raise ValueError(f"backoff_factor: expected >= 1, got {self.backoff_factor!r}")
        if self.speed is not None and not self.speed > 0:
            raise ValueError(f"speed: expected a positive factor or None, got {self.speed!r}")
        if self.max_reconnects is not None and self.max_reconnects < 0:
            raise ValueError(f"max_reconnects: expected >= 0 or None, got {self.max_reconnects}")


@dataclass(frozen=True)
class CameraHealth:
    """One camera's health, as plain data (the edge's ``health`` message)."""

    camera_id: str
    source: str
    state: CameraState
    fps: float
    """Frames grabbed per second over the last ~second of frames (0 when none)."""
    frames_grabbed: int
    frames_decoded: int
    frames_skipped: int
    """Grabbed but not decoded: the sync would not have used them."""
    frames_refused: int
    """Decoded but refused: not expected_size, or a failed decode."""
    dropped_at_capture: int
    """Frames the camera itself lost (gaps in a recording's frame_index)."""
    reconnects: int
    resolution: tuple[int, int] | None
    resolution_changes: int
    last_error: str | None
    seconds_since_frame: float | None


@dataclass(frozen=True)
class CameraReport:
    """What the edge's ``health`` message says about one camera: its capture health merged
    with its FrameSync counters. Plain data; ``dataclasses.asdict`` makes it JSON-ready
    (``state`` is a str enum)."""

    camera_id: str
    state: CameraState
    fps: float
    dropped_frames: int
    """Lost by the camera + dropped by the sync as late + shed on overflow."""
    missing_in_framesets: int
    """Framesets released without this camera."""
    reconnects: int
    last_error: str | None


class FrameSink(Protocol):
    """Where a camera delivers frames: walkout.sync.FrameSync fits."""

    def wants(self, camera: int, t_ns: int) -> bool: ...
    def push(self, camera: int, t_ns: int, frame: Frame) -> None: ...
    def set_live(self, camera: int, live: bool) -> None: ...


def source_kind(source: str | int) -> str:
    """'device' (an index), 'stream' (a URL) or 'file'."""
    if isinstance(source, int) or (isinstance(source, str) and source.isdigit()):
        return "device"
    if "://" in str(source):
        return "stream"
    return "file"


@dataclass(frozen=True)
class ReplayClock:
    """Maps the monotonic clock to UTC (one anchor pair taken once), and paces file replay.

    Every camera of a rig shares one, so files replayed together keep their recorded
    offsets, and restamped recordings line up with live cameras.
    """

    mono_start_ns: int = field(default_factory=time.monotonic_ns)
    utc_start_ns: int = field(default_factory=time.time_ns)
    recording_start_ns: int | None = None
    """Earliest first timestamp of the rig's recordings: their t = 0 for pacing."""
    restamp: bool = False
    """Present recorded timestamps as live ones (recording_start -> utc_start) instead of as
    recorded. Needed when recordings are mixed with live cameras; keep False to compare with
    a recording's ground truth."""

    def utc_from_monotonic(self, mono_ns: int) -> int:
        return self.utc_start_ns + (mono_ns - self.mono_start_ns)


def _open_capture(source: str | int, options: CameraOptions) -> cv2.VideoCapture:
    kind = source_kind(source)
    if kind == "device":
        return cv2.VideoCapture(int(source))
    params = []
    if kind == "stream":
        params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            int(options.open_timeout_s * 1000),
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            int(options.read_timeout_s * 1000),
        ]
    return cv2.VideoCapture(str(source), cv2.CAP_FFMPEG, params)


class CameraSource:
    """One camera's capture thread: connects, grabs, stamps, decodes what is wanted, delivers.

    Args:
        options: the camera (see :class:`CameraOptions`).
        index: its index in the sink (the FrameSync camera index).
        sink: receives the frames; the camera marks itself live there only while streaming.
        clock: the rig's shared clock (a fresh one when None).
        open_capture: opens a cv2.VideoCapture-like object; the default uses OpenCV's FFmpeg
            back end with the timeouts above.
    """

    def __init__(
        self,
        options: CameraOptions,
        index: int,
        sink: FrameSink,
        clock: ReplayClock | None = None,
        open_capture: Callable[[str | int, CameraOptions], Any] = _open_capture,
    ) -> None:
        self.options = options
        self.index = index
        self._sink = sink
        self.clock = clock or ReplayClock()
        self._open_capture = open_capture
        self._kind = source_kind(options.source)
        self._timestamps: FrameTimestamps | None = (
            find_timestamps(options.source) if self._kind == "file" else None
        )
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._state = CameraState.CONNECTING
        self._grab_times: deque[int] = deque(maxlen=32)
        self._last_frame_mono: int | None = None
        self._counts = dict(
            grabbed=0,
            decoded=0,
            skipped=0,
            refused=0,
            dropped=0,
            reconnects=0,
            resolution_changes=0,
        )
        self._resolution: tuple[int, int] | None = None
        self._last_error: str | None = None
        self._loop_offset_ns = 0
        self._stream_anchor: tuple[int, int] | None = (
            None  # (pts_ns, utc_ns) of a stream's 1st frame
        )
        self._last_t_ns: int | None = None
        self._history: list[CameraState] = [CameraState.CONNECTING]

    # -- public ------------------------------------------------------------------------------
    @property
    def timestamps(self) -> FrameTimestamps | None:
        return self._timestamps

    @property
    def state(self) -> CameraState:
        with self._lock:
            return self._state

    def state_history(self) -> list[CameraState]:
        """Every state entered so far, in order (for logs and tests)."""
        with self._lock:
            return list(self._history)

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError(f"camera {self.options.camera_id!r}: already started")
        self._sink.set_live(self.index, False)  # not waited for until it streams
        self._thread = threading.Thread(
            target=self._run, daemon=True, name=f"camera-{self.options.camera_id}"
        )
        self._thread.start()

    def stop(self, timeout_s: float | None = None) -> None:
        """Asks the thread to stop and waits (a blocked stream read ends within read_timeout_s)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.options.read_timeout_s + 1 if timeout_s is None else timeout_s)

    def check_stall(self, now_mono_ns: int | None = None) -> bool:
        """Marks the camera STALLED when streaming without a frame for stall_timeout_s.

        Called by the rig's watchdog: the capture thread itself may be blocked in grab().
        Returns whether the camera is stalled.
        """
        now = time.monotonic_ns() if now_mono_ns is None else now_mono_ns
        with self._lock:
            if self._state is CameraState.STREAMING and self._last_frame_mono is not None:
                if now - self._last_frame_mono > self.options.stall_timeout_s * 1e9:
                    self._enter(CameraState.STALLED)
                    log.warning(
                        "camera %r: stalled (no frame for %.2f s)",
                        self.options.camera_id,
                        (now - self._last_frame_mono) / 1e9,
                    )
            return self._state is CameraState.STALLED

    def health(self) -> CameraHealth:
        with self._lock:
            times = list(self._grab_times)
            fps = (
                (len(times) - 1) * 1e9 / (times[-1] - times[0])
                if len(times) > 1 and times[-1] > times[0]
                else 0.0
            )
            since = (
                None
                if self._last_frame_mono is None
                else (time.monotonic_ns() - self._last_frame_mono) / 1e9
            )
            c = self._counts
            return CameraHealth(
                camera_id=self.options.camera_id,
                source=str(self.options.source),
                state=self._state,
                fps=fps,
                frames_grabbed=c["grabbed"],
                frames_decoded=c["decoded"],
                frames_skipped=c["skipped"],
                frames_refused=c["refused"],
                dropped_at_capture=c["dropped"],
                reconnects=c["reconnects"],
                resolution=self._resolution,
                resolution_changes=c["resolution_changes"],
                last_error=self._last_error,
                seconds_since_frame=since,
            )

    # -- the thread --------------------------------------------------------------------------
    def _enter(self, state: CameraState) -> None:
        """Switches state (lock held) and tells the sink whether to wait for this camera."""
        if state is self._state:
            return
        self._state = state
        self._history.append(state)
        self._sink.set_live(self.index, state is CameraState.STREAMING)

    def _set_state(self, state: CameraState, error: str | None = None) -> None:
        with self._lock:
            self._enter(state)
            if error is not None:
                self._last_error = error

    def _run(self) -> None:
        opts = self.options
        failures = 0  # failed attempts in a row; reset by a frame
        first = True
        try:
            while not self._stop.is_set():
                self._set_state(CameraState.CONNECTING if first else CameraState.RECONNECTING)
                if self._kind == "file" and not Path(str(opts.source)).is_file():
                    self._give_up(
                        f"camera {opts.camera_id!r}: cannot open {opts.source!r}: no such file"
                    )
                    return
                cap = self._open_capture(opts.source, opts)
                if not cap.isOpened():
                    cap.release()
                    failures += 1
                    error = (
                        f"camera {opts.camera_id!r}: cannot open {opts.source!r} "
                        f"(attempt {failures})"
                    )
                    log.warning("%s", error)
                    if not self._wait_before_retry(failures, error):
                        return
                    first = False
                    continue
                try:
                    outcome = self._stream(cap)
                finally:
                    cap.release()
                if outcome == "frames":  # delivered frames before it ended or was lost
                    failures = 0
                if self._stop.is_set():
                    break
                if outcome == "out_of_rows":
                    self._give_up(
                        f"camera {opts.camera_id!r}: {opts.source} has more frames than"
                        " rows in its timestamps file; stopping there"
                    )
                    return
                if self._kind == "file" and outcome != "lost":
                    if opts.loop and self._counts["grabbed"] > 0:
                        self._begin_next_loop()
                        first = True
                        continue
                    self._set_state(CameraState.STOPPED, f"camera {opts.camera_id!r}: end of file")
                    log.info("camera %r: end of file %s", opts.camera_id, opts.source)
                    return
                failures += 1
                with self._lock:
                    self._counts["reconnects"] += 1
                error = f"camera {opts.camera_id!r}: stream lost ({opts.source})"
                log.warning("%s; reconnecting", error)
                if not self._wait_before_retry(failures, error):
                    return
                first = False
        except Exception as exc:  # never let one camera's fault escape its thread silently
            log.exception("camera %r: capture thread failed", opts.camera_id)
            self._set_state(CameraState.STOPPED, f"camera {opts.camera_id!r}: {exc}")
            return
        self._set_state(CameraState.STOPPED)

    def _give_up(self, error: str) -> None:
        log.error("%s", error)
        self._set_state(CameraState.STOPPED, error)

    def _wait_before_retry(self, failures: int, error: str) -> bool:
        """RECONNECTING for the backoff delay; False when the camera should stop instead."""
        opts = self.options
        if opts.max_reconnects is not None and failures > opts.max_reconnects:
            self._give_up(f"{error}; giving up after {failures} attempts")
            return False
        self._set_state(CameraState.RECONNECTING, error)
        delay = min(
            opts.backoff_max_s, opts.backoff_initial_s * opts.backoff_factor ** (failures - 1)
        )
        return not self._stop.wait(delay)

    def _begin_next_loop(self) -> None:
        """Loops a file: the next pass continues the timeline one frame after this one."""
        ts = self._timestamps
        if ts is not None and len(ts) > 0:
            period = ts.median_period_ns() or 0
            self._loop_offset_ns += int(ts.t_ns[-1] - ts.t_ns[0]) + period
        elif self._last_t_ns is not None:
            # Without recorded times the next pass starts one (median) frame gap later.
            times = list(self._grab_times)
            gap = int(np.median(np.diff(times))) if len(times) > 1 else 1
            self._loop_offset_ns = self._last_t_ns - self.clock.utc_start_ns + max(gap, 1)

    def _stream(self, cap: Any) -> str:
        """Grabs until the stream ends; returns 'frames', 'none' (ended before any), 'lost' or
        'out_of_rows' (a recording with more frames than timestamps)."""
        opts = self.options
        got_any = False
        k = 0  # frames grabbed from this opening
        pace_from: int | None = None
        while not self._stop.is_set():
            ok = cap.grab()
            mono = time.monotonic_ns()
            if not ok:
                if self._kind == "file":
                    return "frames" if got_any else "none"
                return "lost"
            t_ns, rel_ns = self._stamp(cap, k, mono)
            if t_ns is None:  # the timestamps file ended before the video
                return "out_of_rows"
            if self._kind == "file" and opts.speed is not None:
                # Real-time replay: a frame is delivered when its recorded moment comes.
                if pace_from is None:
                    # Recordings of one rig share its start, so they keep their recorded
                    # offsets; anything else starts its timeline at its first frame.
                    shared = (
                        self._timestamps is not None
                        and self._loop_offset_ns == 0
                        and self.clock.recording_start_ns is not None
                    )
                    pace_from = (
                        self.clock.mono_start_ns if shared else mono - int(rel_ns / opts.speed)
                    )
                due = pace_from + int(rel_ns / opts.speed)
                if due > mono and self._stop.wait((due - mono) / 1e9):
                    return "frames" if got_any else "none"
                mono = max(mono, due)
            got_any = True
            with self._lock:
                self._counts["grabbed"] += 1
                if self._timestamps is not None:
                    self._counts["dropped"] += self._timestamps.dropped_before(k) if k else 0
                self._grab_times.append(mono)
                self._last_frame_mono = mono
                self._enter(CameraState.STREAMING)
            self._last_t_ns = t_ns
            k += 1
            if not self._sink.wants(self.index, t_ns):
                with self._lock:
                    self._counts["skipped"] += 1
                continue
            ok, frame = cap.retrieve()
            if not ok or frame is None:
                with self._lock:
                    self._counts["refused"] += 1
                    self._last_error = f"camera {opts.camera_id!r}: a frame failed to decode"
                continue
            if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
                # Grey or 16-bit devices: refused and named, rather than failing the pipeline.
                with self._lock:
                    self._counts["refused"] += 1
                    self._last_error = (
                        f"camera {opts.camera_id!r}: expected uint8 BGR frames "
                        f"(H, W, 3), got {frame.dtype} {frame.shape}"
                    )
                continue
            if not self._accept_size(frame):
                continue
            with self._lock:
                self._counts["decoded"] += 1
            self._sink.push(self.index, t_ns, frame)
        return "frames" if got_any else "none"

    def _accept_size(self, frame: Frame) -> bool:
        size = (int(frame.shape[1]), int(frame.shape[0]))
        opts = self.options
        with self._lock:
            if self._resolution is not None and size != self._resolution:
                self._counts["resolution_changes"] += 1
                self._last_error = (
                    f"camera {opts.camera_id!r}: resolution changed from "
                    f"{self._resolution[0]}x{self._resolution[1]} to "
                    f"{size[0]}x{size[1]}"
                )
                log.warning("%s", self._last_error)
            self._resolution = size
            if opts.expected_size is not None and size != tuple(opts.expected_size):
                self._counts["refused"] += 1
                self._last_error = (
                    f"camera {opts.camera_id!r}: frame is {size[0]}x{size[1]}, "
                    f"expected {opts.expected_size[0]}x{opts.expected_size[1]}; "
                    "refused"
                )
                return False
        return True

    def _stamp(self, cap: Any, k: int, mono_ns: int) -> tuple[int | None, int]:
        """(capture time in UTC ns, time since the recording's start for pacing) of frame k."""
        clock = self.clock
        ts = self._timestamps
        if ts is not None:
            if k >= len(ts):
                return None, 0
            recorded = int(ts.t_ns[k]) + self._loop_offset_ns
            start = (
                clock.recording_start_ns
                if clock.recording_start_ns is not None
                else int(ts.t_ns[0])
            )
            rel = recorded - start
            return (clock.utc_start_ns + rel if clock.restamp else recorded), rel
        if self._kind == "file":
            # The container's presentation time, anchored at replay start.
            pts_ns = int(cap.get(cv2.CAP_PROP_POS_MSEC) * 1e6)
            rel = pts_ns + self._loop_offset_ns
            return clock.utc_start_ns + rel, pts_ns
        if self._kind == "stream" and str(self.options.source).lower().startswith("rtsp"):
            pts_ns = int(cap.get(cv2.CAP_PROP_POS_MSEC) * 1e6)
            utc = clock.utc_from_monotonic(mono_ns)
            if self._stream_anchor is None or pts_ns <= 0:
                self._stream_anchor = (pts_ns, utc) if pts_ns > 0 else None
                return utc, 0
            t = self._stream_anchor[1] + pts_ns - self._stream_anchor[0]
            if self._last_t_ns is not None and t <= self._last_t_ns:
                return utc, 0  # the stream's times went backwards: trust the clock instead
            return t, 0
        return clock.utc_from_monotonic(mono_ns), 0


class CameraRig:
    """Every camera of an edge box feeding one FrameSync, with a watchdog for stalls.

    Args:
        cameras: the cameras, in FrameSync index order.
        sync: where the frames go (``walkout.sync.FrameSync(len(cameras), fps)``).
        watchdog_interval_s: how often stalls are checked. Lower reports a stall sooner (at
            most stall_timeout_s + this); higher costs less CPU.
        restamp_recordings: see :attr:`ReplayClock.restamp`.
        open_capture: see :class:`CameraSource`.
    """

    def __init__(
        self,
        cameras: Sequence[CameraOptions],
        sync: FrameSink,
        *,
        watchdog_interval_s: float = 0.1,
        restamp_recordings: bool = False,
        open_capture: Callable[[str | int, CameraOptions], Any] = _open_capture,
    ) -> None:
        if not cameras:
            raise ValueError("cameras: expected at least one camera")
        ids = [c.camera_id for c in cameras]
        if len(set(ids)) != len(ids):
            raise ValueError(f"cameras: camera ids must be unique, got {ids}")
        if not watchdog_interval_s > 0:
            raise ValueError(
                f"watchdog_interval_s: expected seconds > 0, got {watchdog_interval_s}"
            )
        self.sync = sync
        self._interval = watchdog_interval_s
        self.sources = [
            CameraSource(c, i, sync, open_capture=open_capture) for i, c in enumerate(cameras)
        ]
        starts = [
            int(s.timestamps.t_ns[0])
            for s in self.sources
            if s.timestamps is not None and len(s.timestamps)
        ]
        self.clock = ReplayClock(
            recording_start_ns=min(starts) if starts else None, restamp=restamp_recordings
        )
        for s in self.sources:
            s.clock = self.clock
        self._stop = threading.Event()
        self._watchdog: threading.Thread | None = None

    def start(self) -> CameraRig:
        # One clock for every camera, anchored now: files replay from this moment.
        self.clock = replace(
            self.clock, mono_start_ns=time.monotonic_ns(), utc_start_ns=time.time_ns()
        )
        for s in self.sources:
            s.clock = self.clock
            s.start()
        self._watchdog = threading.Thread(target=self._watch, daemon=True, name="camera-watchdog")
        self._watchdog.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for s in self.sources:
            s._stop.set()
        for s in self.sources:
            s.stop()
        if self._watchdog is not None:
            self._watchdog.join()

    def __enter__(self) -> CameraRig:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def health(self) -> list[CameraHealth]:
        for s in self.sources:
            s.check_stall()
        return [s.health() for s in self.sources]

    def report(self) -> list[CameraReport]:
        """Per camera: health merged with the sync's counters (when the sink keeps them)."""
        counters = self.sync.counters() if hasattr(self.sync, "counters") else None
        reports = []
        for i, h in enumerate(self.health()):
            c = counters[i] if counters is not None else None
            reports.append(
                CameraReport(
                    camera_id=h.camera_id,
                    state=h.state,
                    fps=h.fps,
                    dropped_frames=h.dropped_at_capture
                    + (c.dropped_late + c.dropped_overflow if c is not None else 0),
                    missing_in_framesets=c.missing if c is not None else 0,
                    reconnects=h.reconnects,
                    last_error=h.last_error,
                )
            )
        return reports

    def states(self) -> list[CameraState]:
        return [s.state for s in self.sources]

    def _watch(self) -> None:
        while not self._stop.wait(self._interval):
            for s in self.sources:
                s.check_stall()
