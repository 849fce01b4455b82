"""FrameSync's policy case by case, its errors, and its behaviour across threads."""

from __future__ import annotations

import gc
import threading
import time
import weakref

import numpy as np
import pytest

from walkout.sync import FrameSync, SyncStats

MS = 1_000_000


def _frame(h: int = 2, w: int = 2) -> np.ndarray:
    return np.zeros((h, w, 3), np.uint8)


def test_defaults_derive_from_the_period() -> None:
    sync = FrameSync(3, 25.0)
    assert sync.period_ns == 40 * MS
    assert sync.tolerance_ns == 20 * MS
    assert sync.latency_budget_ns == 80 * MS
    assert sync.capacity == 4
    assert sync.num_cameras == 3


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        (dict(num_cameras=0, fps=30.0), "num_cameras"),
        (dict(num_cameras=2), "fps / period_ns"),
        (dict(num_cameras=2, fps=30.0, period_ns=10), "fps / period_ns"),
        (dict(num_cameras=2, fps=-1.0), "fps"),
        (dict(num_cameras=2, period_ns=0), "period_ns"),
        (dict(num_cameras=2, period_ns=10, tolerance_ns=11), "tolerance_ns"),
        (dict(num_cameras=2, period_ns=10, tolerance_ns=0), "tolerance_ns"),
        (dict(num_cameras=2, period_ns=10, capacity=0), "capacity"),
        (dict(num_cameras=2, period_ns=10, latency_budget_ns=-1), "latency_budget_ns"),
    ],
)
def test_bad_options_name_the_argument(kwargs, name) -> None:
    with pytest.raises(ValueError, match=name.replace("/", ".")):
        FrameSync(**kwargs)


@pytest.mark.parametrize(
    "frame",
    [
        np.zeros((2, 2), np.uint8),
        np.zeros((2, 2, 4), np.uint8),
        np.zeros((2, 2, 3), np.float32),
        [[0, 0, 0]],
        None,
    ],
)
def test_bad_frames_are_refused_with_the_expected_layout(frame) -> None:
    sync = FrameSync(1, period_ns=10)
    with pytest.raises(
        ValueError, match=r"frame: expected a uint8 numpy array of shape \(H, W, 3\)"
    ):
        sync.push(0, 0, frame)
    assert sync.counters()[0].received == 0


def test_bad_camera_index_is_a_value_error() -> None:
    sync = FrameSync(2, period_ns=10)
    for cam in (-1, 2):
        with pytest.raises(ValueError, match=r"camera: expected an index in \[0, 2\)"):
            sync.push(cam, 0, _frame())
    with pytest.raises(ValueError, match="camera"):
        sync.set_live(5, False)
    with pytest.raises(ValueError, match="timeout_s"):
        sync.pull(-1.0)
    with pytest.raises(ValueError, match=r"t_ns: expected integer ns within"):
        sync.push(0, 2**63 - 1, _frame())
    with pytest.raises(ValueError, match=r"arrival_ns: expected integer ns within"):
        sync.push(0, 0, _frame(), arrival_ns=-(2**63))
    assert sync.counters()[0].received == 0


def test_nearest_frame_wins_and_ties_go_to_the_earlier() -> None:
    sync = FrameSync(2, period_ns=100 * MS, capacity=8)
    a, b, c, d = _frame(), _frame(), _frame(), _frame()
    sync.push(0, 0, a, 0)  # anchors the first reference time at 0
    sync.push(1, -10 * MS, b, 0)
    sync.push(1, 10 * MS, c, 0)
    sync.push(1, 30 * MS, d, 0)
    fs = sync.poll(0)
    assert fs.ref_ns == -10 * MS  # the earliest frame anchors the grid
    # Camera 0's frame at 0 is 10 ms from -10 ms; camera 1's frame at -10 ms is exact.
    assert fs.frames[0] is a and fs.frames[1] is b
    sync2 = FrameSync(2, period_ns=100 * MS, capacity=8)
    sync2.push(0, 0, a, 0)
    sync2.push(0, 200 * MS, _frame(), 0)
    sync2.push(1, 90 * MS, b, 0)
    sync2.push(1, 110 * MS, c, 0)  # 90 and 110 are both 10 ms from ref 100
    sync2.push(1, 200 * MS, _frame(), 0)
    first = sync2.poll(0)
    assert first.ref_ns == 0 and first.frames[1] is None  # 90 ms is beyond the 50 ms tolerance
    second = sync2.poll(0)
    assert second.ref_ns == 100 * MS
    assert second.frames[0] is None and second.frames[1] is b  # the tie goes to 90 ms
    assert sync2.counters()[1].dropped_late == 0  # 110 ms is kept: it may suit ref 200
    sync2.close()
    third = sync2.poll(0)
    assert third.ref_ns == 200 * MS
    assert sync2.counters()[1].dropped_late == 1


def test_a_stalled_camera_costs_one_budget_then_is_reported_missing() -> None:
    sync = FrameSync(2, period_ns=100 * MS, latency_budget_ns=30 * MS)
    sync.push(0, 0, _frame(), arrival_ns=1_000 * MS)
    sync.push(1, 5 * MS, _frame(), arrival_ns=1_000 * MS)
    assert sync.poll(1_000 * MS).complete
    sync.push(0, 100 * MS, _frame(), arrival_ns=1_100 * MS)  # camera 1 stalls from here
    assert sync.poll(1_129 * MS) is None  # waiting for camera 1 within the budget
    fs = sync.poll(1_130 * MS)
    assert fs is not None and fs.waited_out and not fs.complete
    assert fs.frames[1] is None
    assert sync.counters()[1].missing == 1
    # Marked not live, the stalled camera is no longer waited for.
    sync.set_live(1, False)
    sync.push(0, 200 * MS, _frame(), arrival_ns=1_200 * MS)
    fs = sync.poll(1_200 * MS)
    assert fs is not None and fs.ref_ns == 200 * MS and not fs.waited_out
    assert not sync.counters()[1].live


def test_slow_consumer_sheds_the_oldest_frames() -> None:
    sync = FrameSync(1, period_ns=10, capacity=3)
    frames = [_frame() for _ in range(10)]
    for k, f in enumerate(frames):
        sync.push(0, k * 10, f, 0)
    c = sync.counters()[0]
    assert (c.received, c.buffered, c.dropped_overflow) == (10, 3, 7)
    fs = sync.poll(0)
    assert fs.frames[0] is frames[7]


def test_late_frames_are_dropped_at_push_and_not_wanted() -> None:
    sync = FrameSync(1, period_ns=100, tolerance_ns=20)
    sync.push(0, 1000, _frame(), 0)
    assert sync.poll(0).ref_ns == 1000
    assert not sync.wants(0, 1079)  # nearer to nothing usable: the next reference is 1100
    assert sync.wants(0, 1080) and sync.wants(0, 1120)
    assert not sync.wants(0, 1150)  # between reference times when the tolerance is small
    assert sync.wants(0, 1190)
    sync.push(0, 1050, _frame(), 0)
    assert sync.counters()[0].dropped_late == 1


def test_shared_outage_skips_ahead_without_empty_framesets() -> None:
    sync = FrameSync(2, period_ns=100)
    sync.push(0, 0, _frame(), 0)
    sync.push(1, 0, _frame(), 0)
    assert sync.poll(0).ref_ns == 0
    sync.push(0, 100_030, _frame(), 0)  # both cameras were away for ~1000 periods
    sync.push(1, 100_010, _frame(), 0)
    fs = sync.poll(0)
    assert fs.ref_ns == 100_010 and fs.complete
    assert sync.framesets == 2


def test_dropped_and_consumed_frames_are_released() -> None:
    sync = FrameSync(1, period_ns=10, capacity=1)
    first, second = _frame(), _frame()
    ref_first = weakref.ref(first)
    sync.push(0, 0, first, 0)
    sync.push(0, 10, second, 0)  # overflow drops `first`
    del first
    gc.collect()
    assert ref_first() is None
    fs = sync.poll(0)
    assert fs.frames[0] is second  # the very array pushed: no copy
    ref_second = weakref.ref(second)
    del second, fs
    gc.collect()
    assert ref_second() is None


def test_stats_are_plain_data() -> None:
    sync = FrameSync(2, period_ns=10)
    sync.push(0, 0, _frame(), 0)
    stats = sync.stats()
    assert isinstance(stats, SyncStats)
    assert stats.cameras[0].received == 1 and stats.cameras[0].buffered == 1
    assert stats.framesets == 0


def test_pull_waits_without_the_gil_and_wakes_on_push() -> None:
    sync = FrameSync(2, period_ns=10 * MS, latency_budget_ns=10_000 * MS)
    got = []
    consumer = threading.Thread(target=lambda: got.append(sync.pull(timeout_s=10.0)))
    consumer.start()
    # This thread keeps running Python while the consumer waits: the GIL is not held there.
    spins = 0
    deadline = time.monotonic() + 0.2
    while time.monotonic() < deadline:
        spins += 1
    assert spins > 1000
    sync.push(0, 0, _frame())
    sync.push(1, 1 * MS, _frame())
    consumer.join(5.0)
    assert not consumer.is_alive()
    assert got[0] is not None and got[0].complete


def test_pull_times_out_and_close_wakes_it() -> None:
    sync = FrameSync(1, period_ns=10 * MS)
    assert sync.pull(timeout_s=0.01) is None
    got = []
    consumer = threading.Thread(target=lambda: got.append(sync.pull()))
    consumer.start()
    time.sleep(0.05)
    sync.close()
    consumer.join(5.0)
    assert not consumer.is_alive() and got == [None] and sync.closed


def test_pull_releases_on_the_budget_for_a_camera_that_never_comes() -> None:
    sync = FrameSync(2, period_ns=10 * MS, latency_budget_ns=20 * MS)
    sync.push(0, 0, _frame())
    fs = sync.pull(timeout_s=5.0)
    assert fs is not None and fs.waited_out and fs.frames[1] is None


def test_concurrent_producers_keep_the_counters_consistent() -> None:
    n, per_cam, period = 4, 300, 1 * MS
    sync = FrameSync(n, period_ns=period, capacity=3, latency_budget_ns=2 * MS)
    out = []

    def produce(cam: int) -> None:
        for k in range(per_cam):
            sync.push(cam, k * period + cam * 1000, _frame())
            if k % 50 == 0:
                time.sleep(0.001)

    def consume() -> None:
        while (fs := sync.pull(timeout_s=2.0)) is not None:
            out.append(fs)

    consumer = threading.Thread(target=consume)
    producers = [threading.Thread(target=produce, args=(c,)) for c in range(n)]
    consumer.start()
    for p in producers:
        p.start()
    for p in producers:
        p.join()
    sync.close()
    consumer.join(10.0)
    assert not consumer.is_alive()
    refs = [fs.ref_ns for fs in out]
    assert refs == sorted(set(refs))
    for c in sync.counters():
        assert c.received == per_cam
        assert c.received == c.used + c.dropped_late + c.dropped_overflow + c.buffered
        assert c.buffered == 0


def test_a_waiting_consumer_wakes_at_the_budget_opened_by_a_later_push() -> None:
    """push() wakes the consumer only when it matters: here to re-plan its wake-up."""
    sync = FrameSync(2, period_ns=10 * MS, latency_budget_ns=30 * MS)
    got = []
    consumer = threading.Thread(target=lambda: got.append(sync.pull(timeout_s=10.0)))
    consumer.start()
    time.sleep(0.05)  # the consumer sleeps with nothing to wait for
    sync.push(0, 0, _frame())  # camera 1 never comes: the budget must release it
    consumer.join(5.0)
    assert not consumer.is_alive()
    assert got[0] is not None and got[0].waited_out and got[0].frames[1] is None


def test_two_consumers_share_the_framesets() -> None:
    sync = FrameSync(1, period_ns=1 * MS, capacity=1000)
    got: list = []
    lock = threading.Lock()

    def consume() -> None:
        while (fs := sync.pull(timeout_s=5.0)) is not None:
            with lock:
                got.append(fs.ref_ns)

    consumers = [threading.Thread(target=consume) for _ in range(2)]
    for c in consumers:
        c.start()
    for k in range(200):
        sync.push(0, k * MS, _frame())
    sync.close()
    for c in consumers:
        c.join(10.0)
    assert sorted(got) == [k * MS for k in range(200)]


def test_a_grid_origin_makes_two_boxes_pair_at_the_same_instants() -> None:
    period = 33_333_333
    refs = []
    for first_frame in (1_767_225_600_012_345_678, 1_767_225_600_029_000_001):
        box = FrameSync(1, period_ns=period, grid_origin_ns=0, capacity=16)
        assert box.grid_origin_ns == 0
        for k in range(5):
            box.push(0, first_frame + k * period, _frame(), 0)
        box.close()
        refs.append([fs.ref_ns for fs in iter(lambda b=box: b.pull(0), None)])
    assert refs[0][1:] == refs[1][:4] or refs[0] == refs[1]  # one shared grid
    assert all(r % period == 0 for r in refs[0] + refs[1])
    assert FrameSync(1, period_ns=period).grid_origin_ns is None


def test_wants_follows_the_grid_origin_before_the_first_frame() -> None:
    sync = FrameSync(1, period_ns=100, tolerance_ns=10, grid_origin_ns=5)
    assert sync.wants(0, 1005) and sync.wants(0, 995) and sync.wants(0, 1015)
    assert not sync.wants(0, 1050)


def test_min_frame_interval_releases_without_waiting_for_the_next_frame() -> None:
    # The grid origin pins the reference time at 0; camera 1's frame is 5 ms before it.
    # Without the promise, camera 1 must wait for its next frame (or the budget).
    sync = FrameSync(2, period_ns=100 * MS, grid_origin_ns=0)
    sync.push(0, 0, _frame(), arrival_ns=0)
    sync.push(1, -5 * MS, _frame(), arrival_ns=0)
    assert sync.poll(0) is None
    # With it (frames >= 60 ms apart), the next can only land beyond +50 ms: final now.
    sync = FrameSync(2, period_ns=100 * MS, grid_origin_ns=0, min_frame_interval_ns=60 * MS)
    sync.push(0, 0, _frame(), arrival_ns=0)
    sync.push(1, -5 * MS, _frame(), arrival_ns=0)
    fs = sync.poll(0)
    assert fs is not None and fs.complete and fs.t_ns == [0, -5 * MS]
    sync = FrameSync(2, period_ns=100 * MS, grid_origin_ns=0, min_frame_interval_ns=60 * MS)
    sync.push(0, 0, _frame(), arrival_ns=0)
    sync.push(1, -45 * MS, _frame(), arrival_ns=0)  # its next frame may still come at +15 ms
    assert sync.poll(0) is None
    with pytest.raises(ValueError, match="min_frame_interval_ns"):
        FrameSync(2, period_ns=10, min_frame_interval_ns=-1)
