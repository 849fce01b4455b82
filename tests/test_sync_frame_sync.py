"""FrameSync (C++) against its readable twin, plus the policy's invariants under random
arrival orders, jitter, drops, stalls and slow consumers."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from twins.sync import FrameSyncTwin
from walkout.sync import FrameSync

FAR_FUTURE = 2**62


def _frame() -> np.ndarray:
    return np.zeros((1, 1, 3), np.uint8)


@st.composite
def scenarios(draw):
    """A random multi-camera capture: per camera its phase, clock drift, jitter, dropped
    frames, capture gaps and delivery stalls; events sorted by arrival (so cameras interleave
    at random, and a camera's own frames may arrive out of order)."""
    n = draw(st.integers(1, 6))
    period = draw(st.integers(1_000, 50_000_000))
    tol = max(1, int(period * draw(st.floats(0.05, 1.0))))
    capacity = draw(st.integers(1, 6))
    budget = int(period * draw(st.floats(0.0, 4.0)))
    origin = draw(st.one_of(st.none(), st.integers(-(2**40), 2**40)))
    min_gap = int(period * draw(st.sampled_from([0.0, 0.0, 0.3, 0.5, 0.9, 1.5])))
    seed = draw(st.integers(0, 2**32 - 1))
    frames_per_cam = draw(st.integers(1, 50))
    consume_p = draw(st.floats(0.05, 1.0))  # low: a slow consumer, buffers overflow
    rng = np.random.default_rng(seed)
    events = []
    for cam in range(n):
        t = int(rng.integers(0, period))
        drift = rng.uniform(0.9, 1.1)
        jitter = rng.uniform(0, 0.3) * period
        drop_p = rng.uniform(0, 0.3)
        delay = rng.uniform(0, 3) * period
        stall_at = int(rng.integers(0, frames_per_cam + 1))
        stall_len = int(rng.integers(0, 6)) if rng.random() < 0.5 else 0
        for k in range(frames_per_cam):
            t += int(period * drift)
            if k == stall_at and stall_len:
                if rng.random() < 0.5:
                    t += stall_len * period  # the camera captured nothing for a while
                else:
                    delay += stall_len * period  # the network held frames back
            if rng.random() < drop_p:
                continue
            capture = t + int(rng.normal(0, jitter))
            arrival = capture + int(delay + rng.exponential(0.2 * period))
            events.append((arrival, float(rng.random()), cam, capture))
    events.sort()
    consume = [bool(rng.random() < consume_p) for _ in events]
    # Now and then the camera watchdog marks a camera not live (stalled) or live again.
    toggles = [int(rng.integers(0, n)) if rng.random() < 0.05 else -1 for _ in events]
    return dict(
        n=n,
        period=period,
        tol=tol,
        capacity=capacity,
        budget=budget,
        origin=origin,
        min_gap=min_gap,
        events=events,
        consume=consume,
        toggles=toggles,
    )


def _assert_same(fs, tw) -> None:
    assert (fs is None) == (tw is None)
    if fs is None:
        return
    assert fs.ref_ns == tw.ref_ns
    assert fs.t_ns == tw.t_ns
    assert all(a is b for a, b in zip(fs.frames, tw.frames, strict=True))
    assert fs.complete == tw.complete
    assert fs.waited_out == tw.waited_out


def _counter_tuples(counters) -> list[tuple]:
    return [
        (c.received, c.used, c.dropped_late, c.dropped_overflow, c.missing, c.buffered)
        for c in counters
    ]


@given(scenarios())
def test_frame_sync_matches_twin_and_keeps_invariants(sc) -> None:
    n, tol, capacity = sc["n"], sc["tol"], sc["capacity"]
    sync = FrameSync(
        n,
        period_ns=sc["period"],
        tolerance_ns=tol,
        capacity=capacity,
        latency_budget_ns=sc["budget"],
        grid_origin_ns=sc["origin"],
        min_frame_interval_ns=sc["min_gap"],
    )
    twin = FrameSyncTwin(n, sc["period"], tol, capacity, sc["budget"], sc["origin"], sc["min_gap"])
    camera_of: dict[int, int] = {}
    released = []

    def drain(now: int) -> None:
        while True:
            fs = sync.poll(now)
            _assert_same(fs, twin.poll(now))
            if fs is None:
                return
            released.append(fs)

    live = [True] * n
    for (arrival, _, cam, capture), consume, toggle in zip(
        sc["events"], sc["consume"], sc["toggles"], strict=True
    ):
        if toggle >= 0:
            live[toggle] = not live[toggle]
            sync.set_live(toggle, live[toggle])
            twin.set_live(toggle, live[toggle])
        frame = _frame()
        camera_of[id(frame)] = cam
        assert sync.wants(cam, capture) == twin.wants(cam, capture)
        sync.push(cam, capture, frame, arrival)
        twin.push(cam, capture, frame, arrival)
        counters = sync.counters()
        assert all(c.buffered <= capacity for c in counters)
        assert _counter_tuples(counters) == _counter_tuples(twin.counters())
        if consume:
            drain(arrival)
    drain(FAR_FUTURE)
    sync.close()
    twin.close()
    drain(FAR_FUTURE)

    used = set()
    last_ref = None
    for fs in released:
        if last_ref is not None:
            assert fs.ref_ns > last_ref  # reference times strictly increase
        last_ref = fs.ref_ns
        if sc["origin"] is not None:
            assert (fs.ref_ns - sc["origin"]) % sc["period"] == 0  # on the pinned grid
        assert any(f is not None for f in fs.frames)  # no all-missing framesets
        for cam, (frame, t) in enumerate(zip(fs.frames, fs.t_ns, strict=True)):
            if frame is None:
                assert t is None
                continue
            assert abs(t - fs.ref_ns) <= tol  # within the tolerance of its reference time
            assert camera_of[id(frame)] == cam
            assert id(frame) not in used  # no frame used twice
            used.add(id(frame))
    counters = sync.counters()
    for c in counters:
        assert c.received == c.used + c.dropped_late + c.dropped_overflow + c.buffered
        assert c.buffered == 0  # closed and drained
        assert c.used + c.missing == len(released)
    assert sum(c.used for c in counters) == len(used)
    assert sum(c.received for c in counters) == len(sc["events"])
    assert sync.framesets == len(released) == twin.framesets
    assert sync.partial_framesets == sum(not fs.complete for fs in released)


@given(st.integers(1, 8), st.integers(2, 40), st.integers(0, 2**32 - 1))
def test_perfect_cameras_give_complete_framesets(n, frames, seed) -> None:
    """Cameras at the same rate with any phase: every frame is used, no frameset is partial."""
    period = 33_333_333
    rng = np.random.default_rng(seed)
    phases = rng.integers(0, period // 2, n)  # all within half a period of camera 0
    sync = FrameSync(n, period_ns=period, capacity=frames + 1)
    for k in range(frames):
        for cam in range(n):
            sync.push(cam, int(phases[cam] + k * period), _frame(), 0)
    sync.close()
    out = []
    while (fs := sync.pull(0)) is not None:
        out.append(fs)
    assert len(out) == frames
    assert all(fs.complete and not fs.waited_out for fs in out[:-1])
    assert [c.used for c in sync.counters()] == [frames] * n
