"""Camera sources: timestamp files, file replay (end, loop, pacing), sources that cannot be
opened, decoding only what the sync wants, and resolution changes. All with real OpenCV
captures of small clips written at test time."""

from __future__ import annotations

import socket
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from walkout.edge.cameras import CameraOptions, CameraRig, CameraSource, CameraState, source_kind
from walkout.edge.mjpeg import MjpegServer
from walkout.edge.timestamps import (
    find_timestamps,
    read_timestamps,
    timestamps_path_for,
    write_timestamps,
)
from walkout.sync import FrameSync

PERIOD_NS = 20_000_000  # 50 fps
T0 = 1_767_225_600_000_000_000


def _frames(n: int, size: tuple[int, int] = (64, 48)) -> list[np.ndarray]:
    w, h = size
    return [np.full((h, w, 3), (k * 7) % 256, np.uint8) for k in range(n)]


def _clip(
    path: Path,
    n: int,
    *,
    size: tuple[int, int] = (64, 48),
    rows: int | None = None,
    frame_index: np.ndarray | None = None,
) -> tuple[Path, np.ndarray]:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 50.0, size)
    for f in _frames(n, size):
        writer.write(f)
    writer.release()
    rows = n if rows is None else rows
    index = np.arange(rows) if frame_index is None else frame_index
    t_ns = T0 + index.astype(np.int64) * PERIOD_NS + np.arange(rows) * 1000  # 1 µs drift/frame
    write_timestamps(path, t_ns, index)
    return path, t_ns


def _drain(sync: FrameSync) -> list:
    sync.close()
    out = []
    while (fs := sync.pull(timeout_s=0)) is not None:
        out.append(fs)
    return out


def _run_until_stopped(source: CameraSource, timeout_s: float = 10.0) -> None:
    source.start()
    deadline = time.monotonic() + timeout_s
    while source.state is not CameraState.STOPPED:
        assert time.monotonic() < deadline, f"camera still {source.state}"
        time.sleep(0.01)
    source.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- timestamps files -------------------------------------------------------------------------


def test_timestamps_round_trip_and_dropped_frames(tmp_path) -> None:
    video = tmp_path / "cam.avi"
    path = write_timestamps(video, [10, 20, 45], frame_index=[0, 1, 4])
    assert path == tmp_path / "cam.timestamps.csv" == timestamps_path_for(video)
    assert path.read_text().splitlines()[0] == "frame_index,t_ns"
    rows = read_timestamps(path)
    assert rows.t_ns.tolist() == [10, 20, 45]
    assert rows.dropped_at_capture == 2
    assert [rows.dropped_before(k) for k in range(3)] == [0, 0, 2]
    assert find_timestamps(video) is not None
    assert find_timestamps(tmp_path / "other.avi") is None


@given(st.lists(st.integers(1, 10**12), min_size=0, max_size=50), st.data())
def test_timestamps_round_trip_any_recording(steps, data) -> None:
    t_ns = T0 + np.cumsum(np.asarray(steps, dtype=np.int64))
    gaps = data.draw(st.lists(st.integers(1, 5), min_size=len(steps), max_size=len(steps)))
    index = np.cumsum(np.asarray(gaps, dtype=np.int64)) if gaps else np.zeros(0, np.int64)
    with tempfile.TemporaryDirectory() as tmp:
        rows = read_timestamps(write_timestamps(Path(tmp) / "cam.mp4", t_ns, index))
    assert rows.t_ns.tolist() == t_ns.tolist()
    assert rows.frame_index.tolist() == index.tolist()
    assert rows.dropped_at_capture == (
        int(index[-1] - index[0]) + 1 - len(index) if len(index) else 0
    )


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("t_ns,frame_index\n0,1\n", r":1: expected the header"),
        ("frame_index,t_ns\n0,1\n1\n", r":3: expected 'frame_index,t_ns'"),
        ("frame_index,t_ns\n0,1\n1,x\n", r":3: expected 'frame_index,t_ns'"),
        ("frame_index,t_ns\n0,5\n1,5\n", r"t_ns must increase strictly"),
        ("frame_index,t_ns\n3,5\n2,6\n", r"frame_index must increase strictly"),
        ("", r":1: expected the header"),
    ],
)
def test_bad_timestamps_files_name_file_and_line(tmp_path, text, match) -> None:
    path = tmp_path / "cam.timestamps.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=match):
        read_timestamps(path)


def test_write_timestamps_refuses_bad_arguments(tmp_path) -> None:
    with pytest.raises(ValueError, match="t_ns: expected a 1-D sequence of integer ns"):
        write_timestamps(tmp_path / "a.avi", [1.5, 2.5])
    with pytest.raises(ValueError, match="frame_index: expected 2 integers"):
        write_timestamps(tmp_path / "a.avi", [1, 2], frame_index=[0])
    with pytest.raises(ValueError, match="t_ns must increase strictly"):
        write_timestamps(tmp_path / "a.avi", [2, 1])


# -- file replay ------------------------------------------------------------------------------


def test_file_replay_uses_the_recorded_times_and_stops_at_the_end(tmp_path) -> None:
    index = np.array([0, 1, 2, 5, 6, 7, 8, 9, 12, 13])  # the camera dropped 4 frames
    path, t_ns = _clip(tmp_path / "cam.avi", len(index), frame_index=index)
    sync = FrameSync(1, period_ns=PERIOD_NS, capacity=64)
    source = CameraSource(CameraOptions("cam", str(path), speed=None), 0, sync)
    _run_until_stopped(source)
    health = source.health()
    assert health.state is CameraState.STOPPED
    assert "end of file" in health.last_error
    assert health.frames_grabbed == health.frames_decoded == len(index)
    assert health.dropped_at_capture == 4
    assert health.resolution == (64, 48)
    used = [fs.t_ns[0] for fs in _drain(sync)]
    assert used == t_ns.tolist()  # every stored frame, stamped with its recorded time
    assert source.state_history() == [
        CameraState.CONNECTING,
        CameraState.STREAMING,
        CameraState.STOPPED,
    ]


def test_file_longer_than_its_timestamps_stops_with_a_clear_error(tmp_path) -> None:
    path, _ = _clip(tmp_path / "cam.avi", 8, rows=5)
    sync = FrameSync(1, period_ns=PERIOD_NS, capacity=64)
    source = CameraSource(CameraOptions("cam", str(path), speed=None), 0, sync)
    _run_until_stopped(source)
    assert source.health().frames_grabbed == 5
    assert "more frames than rows in its timestamps file" in source.health().last_error


def test_looped_file_keeps_time_increasing(tmp_path) -> None:
    path, t_ns = _clip(tmp_path / "cam.avi", 6)
    sync = FrameSync(1, period_ns=PERIOD_NS, capacity=64)
    source = CameraSource(CameraOptions("cam", str(path), speed=None, loop=True), 0, sync)
    source.start()
    deadline = time.monotonic() + 10
    while source.health().frames_grabbed < 20:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    source.stop()
    used = [fs.t_ns[0] for fs in _drain(sync)]
    assert len(used) >= 18
    assert used[:6] == t_ns.tolist()
    steps = np.diff(used)
    assert steps.min() > 0 and steps.max() < 2 * PERIOD_NS  # no jump back, no hole at a loop
    assert source.health().reconnects == 0


def test_real_time_replay_is_paced_by_the_recording(tmp_path) -> None:
    path, _ = _clip(tmp_path / "cam.avi", 11)  # 10 periods = 0.2 s of recording
    sync = FrameSync(1, period_ns=PERIOD_NS, capacity=64)
    source = CameraSource(CameraOptions("cam", str(path), speed=1.0), 0, sync)
    start = time.monotonic()
    _run_until_stopped(source)
    assert time.monotonic() - start >= 0.18  # a lower bound: it cannot be early
    fast = CameraSource(
        CameraOptions("cam", str(path), speed=4.0),
        0,
        FrameSync(1, period_ns=PERIOD_NS, capacity=64),
    )
    _run_until_stopped(fast)
    assert fast.health().frames_decoded == 11


def test_rig_restamps_recordings_to_now_keeping_their_offsets(tmp_path) -> None:
    a, ta = _clip(tmp_path / "a.avi", 4)
    b = tmp_path / "b.avi"
    _clip(b, 4)
    tb = ta + 5_000_000  # camera b ticks 5 ms after camera a
    write_timestamps(b, tb)
    sync = FrameSync(2, period_ns=PERIOD_NS, capacity=64)
    rig = CameraRig(
        [CameraOptions("a", str(a), speed=None), CameraOptions("b", str(b), speed=None)],
        sync,
        restamp_recordings=True,
    )
    before = time.time_ns()
    with rig:
        deadline = time.monotonic() + 10
        while rig.states() != [CameraState.STOPPED] * 2:
            assert time.monotonic() < deadline
            time.sleep(0.01)
    framesets = _drain(sync)
    assert len(framesets) == 4 and all(fs.complete for fs in framesets)
    for fs in framesets:
        assert fs.t_ns[1] - fs.t_ns[0] == 5_000_000
        assert abs(fs.t_ns[0] - before) < 60 * 1_000_000_000  # now, not the recording's epoch


# -- sources that cannot be opened, or go away ------------------------------------------------


def test_missing_file_stops_and_is_named(tmp_path) -> None:
    missing = tmp_path / "nope.avi"
    source = CameraSource(CameraOptions("cam7", str(missing)), 0, FrameSync(1, 50.0))
    _run_until_stopped(source)
    health = source.health()
    assert health.state is CameraState.STOPPED
    assert "cam7" in health.last_error and str(missing) in health.last_error


def test_unreachable_stream_retries_with_backoff_then_gives_up() -> None:
    url = f"http://127.0.0.1:{_free_port()}/stream.mjpg"
    opts = CameraOptions(
        "door", url, open_timeout_s=0.5, backoff_initial_s=0.05, backoff_max_s=0.1, max_reconnects=3
    )
    source = CameraSource(opts, 0, FrameSync(1, 50.0))
    start = time.monotonic()
    _run_until_stopped(source)
    assert time.monotonic() - start >= 0.05 + 0.1 + 0.1  # three backoff waits
    health = source.health()
    assert health.state is CameraState.STOPPED
    assert url in health.last_error and "giving up after 4 attempts" in health.last_error
    assert source.state_history() == [
        CameraState.CONNECTING,
        CameraState.RECONNECTING,
        CameraState.STOPPED,
    ]


def test_camera_options_are_checked() -> None:
    with pytest.raises(ValueError, match="stall_timeout_s"):
        CameraOptions("c", "x.avi", stall_timeout_s=0)
    with pytest.raises(ValueError, match="speed"):
        CameraOptions("c", "x.avi", speed=-1.0)
    with pytest.raises(ValueError, match="backoff_factor"):
        CameraOptions("c", "x.avi", backoff_factor=0.5)
    with pytest.raises(ValueError, match="camera ids must be unique"):
        CameraRig([CameraOptions("c", "a.avi"), CameraOptions("c", "b.avi")], FrameSync(2, 50.0))
    assert [source_kind(s) for s in (0, "2", "rtsp://h/x", "http://h/x", "a.avi")] == [
        "device",
        "device",
        "stream",
        "stream",
        "file",
    ]


# -- decoding only what is used ---------------------------------------------------------------


def test_only_frames_the_sync_wants_are_decoded(tmp_path) -> None:
    path, _ = _clip(tmp_path / "cam.avi", 30)
    # Framesets at a third of the camera rate, 4 ms tolerance: two frames in three are useless.
    sync = FrameSync(1, period_ns=3 * PERIOD_NS, tolerance_ns=4_000_000, capacity=64)
    source = CameraSource(CameraOptions("cam", str(path), speed=None), 0, sync)
    source.start()
    framesets = []
    deadline = time.monotonic() + 10
    while source.state is not CameraState.STOPPED or framesets[-1:] != [None]:
        assert time.monotonic() < deadline
        framesets.append(sync.pull(timeout_s=0.05))
    source.stop()
    framesets = [fs for fs in framesets if fs is not None] + _drain(sync)
    health = source.health()
    assert health.frames_grabbed == 30
    assert health.frames_decoded + health.frames_skipped == 30
    assert health.frames_skipped >= 15
    assert len(framesets) >= 9


# -- resolution changes -----------------------------------------------------------------------


def test_resolution_change_is_reported_and_refused_when_unexpected() -> None:
    """OpenCV's FFmpeg back end keeps one connection's frames at the size it opened with (seen
    with OpenCV 5.0), so a camera reconfigured to another size shows it after reconnecting."""
    with MjpegServer(_frames(5, (64, 48)), 100.0) as server:
        sync = FrameSync(1, 100.0, capacity=8)
        opts = CameraOptions(
            "cam",
            server.url,
            expected_size=(64, 48),
            open_timeout_s=1.0,
            read_timeout_s=0.5,
            backoff_initial_s=0.05,
        )
        source = CameraSource(opts, 0, sync)
        source.start()
        deadline = time.monotonic() + 10
        while source.health().frames_decoded < 5:
            assert time.monotonic() < deadline, source.health()
            time.sleep(0.01)
        server.replace_frames(_frames(5, (96, 72)))
        server.refuse()  # the camera reboots with its new configuration
        while source.state is CameraState.STREAMING:
            assert time.monotonic() < deadline, source.health()
            time.sleep(0.01)
        server.restore()
        while source.health().frames_refused < 5:
            assert time.monotonic() < deadline, source.health()
            time.sleep(0.01)
        source.stop()
    health = source.health()
    assert health.resolution == (96, 72) and health.resolution_changes == 1
    assert "expected 64x48" in health.last_error
    assert all(fs.frames[0].shape == (48, 64, 3) for fs in _drain(sync))
