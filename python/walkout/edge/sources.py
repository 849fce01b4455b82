"""Where a frameset's detections come from: the ONNX detector on live camera frames, or a
simulator run's oracle detections (so the whole chain runs without a trained model).

Both yield ``(t_ns, [Detections | None per camera])`` in increasing time and pair cameras the
same way: through :class:`walkout.sync.FrameSync`, the live box's own policy. The oracle source
pushes one placeholder frame per recorded detection frame with its capture time as its arrival
time and polls the sync on that clock, so a replay pairs views exactly as a box would have.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np

from walkout.detect import Detections
from walkout.sync import FrameSync

if TYPE_CHECKING:
    from walkout.edge.cameras import CameraRig
    from walkout.edge.detector import Detector
    from walkout.sim.run import Run

Frameset = tuple[int, list[Detections | None]]

# One tiny frame stands for every oracle frame: FrameSync holds frames by reference and only
# their capture times matter here.
_PLACEHOLDER = np.zeros((1, 1, 3), np.uint8)


def oracle_detections(run: Run, camera: str) -> tuple[np.ndarray, list[Detections]]:
    """(t_ns per stored frame, the oracle's Detections of each frame) of one camera."""
    truth = run.truth(camera)
    oracle = run.oracle(camera)
    t_ns = np.asarray(truth["t_ns"], np.int64)
    bounds = np.searchsorted(oracle["rec_frame"], np.arange(len(t_ns) + 1))
    boxes, scores, kps = oracle["box"], oracle["score"], oracle["keypoints"]
    per_frame = [
        Detections(np.ascontiguousarray(boxes[a:b], np.float32),
                   np.ascontiguousarray(scores[a:b], np.float32), np.zeros(b - a, np.int64),
                   np.ascontiguousarray(kps[a:b], np.float32))
        for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True)
    ]
    return t_ns, per_frame


def oracle_framesets(run: Run, cameras: Sequence[str], fps: float | None = None,
                     **sync_options: int) -> Iterator[Frameset]:
    """The run's oracle detections of ``cameras``, paired into framesets by FrameSync at
    ``fps`` (default the run's). ``sync_options`` go to :class:`FrameSync`."""
    fps = fps or run.fps
    per_camera = [oracle_detections(run, c) for c in cameras]
    sync = FrameSync(len(cameras), fps, capacity=sync_options.pop("capacity", 64),
                     **sync_options)
    # Every stored frame of every camera, in capture order (ties by camera index).
    times = np.concatenate([t for t, _ in per_camera])
    cams = np.concatenate([np.full(len(t), c) for c, (t, _) in enumerate(per_camera)])
    order = np.lexsort((cams, times))
    lookup = [dict(zip(t.tolist(), range(len(t)), strict=True)) for t, _ in per_camera]

    def frameset(fs: object) -> Frameset:
        chosen: list[Detections | None] = []
        for c, t in enumerate(fs.t_ns):  # type: ignore[attr-defined]
            chosen.append(None if t is None else per_camera[c][1][lookup[c][t]])
        return int(fs.ref_ns), chosen  # type: ignore[attr-defined]

    for k in order.tolist():
        t = int(times[k])
        sync.push(int(cams[k]), t, _PLACEHOLDER, arrival_ns=t)
        while (fs := sync.poll(now_ns=t)) is not None:
            yield frameset(fs)
    end = int(times.max()) + 10 * round(1e9 / fps) if len(times) else 0
    while (fs := sync.poll(now_ns=end)) is not None:
        yield frameset(fs)


class LosslessSink:
    """A FrameSync front for *replays* of recorded files at full speed: a camera thread's
    ``push`` waits while that camera already has ``capacity - 1`` frames buffered, so files
    are read as fast as the pipeline takes them and no frame is shed (live cameras must never
    wait: use the FrameSync itself there). ``stop`` ends any wait."""

    def __init__(self, sync: FrameSync, capacity: int, stop: threading.Event,
                 poll_s: float = 0.002) -> None:
        self.sync = sync
        self.capacity = capacity
        self.stop = stop
        self.poll_s = poll_s

    def wants(self, camera: int, t_ns: int) -> bool:
        return bool(self.sync.wants(camera, t_ns))

    def push(self, camera: int, t_ns: int, frame: np.ndarray) -> None:
        while (not self.stop.is_set() and not self.sync.closed
               and self.sync.counters()[camera].buffered >= self.capacity - 1):
            self.stop.wait(self.poll_s)
        self.sync.push(camera, t_ns, frame)

    def set_live(self, camera: int, live: bool) -> None:
        self.sync.set_live(camera, live)

    def counters(self) -> list:  # CameraRig.report() reads the sync's counters through this
        return list(self.sync.counters())


def model_framesets(sync: FrameSync, detector: Detector, stop: threading.Event,
                    poll_timeout_s: float = 0.2, rig: CameraRig | None = None,
                    yield_idle: bool = False) -> Iterator[Frameset | None]:
    """Framesets pulled from a live ``sync`` (fed by a CameraRig), each camera's frame run
    through the detector in one batch, until ``stop`` is set or the sync is closed. With
    ``rig`` given, the iteration also ends once every camera has stopped (files that ended)
    and nothing is left in the sync. With ``yield_idle``, a ``None`` comes after every
    ``poll_timeout_s`` without a frameset, so the caller keeps its periodic work (health)
    going while every camera is down."""
    from walkout.edge.cameras import CameraState

    while not stop.is_set():
        fs = sync.pull(timeout_s=poll_timeout_s)
        if fs is None:
            if sync.closed:
                return
            if rig is not None and all(s == CameraState.STOPPED for s in rig.states()):
                # Files that ended: let the sync release what it still holds, then finish.
                while (rest := sync.poll(now_ns=FrameSync.now_ns() + 10**12)) is not None:
                    yield _detect(rest.ref_ns, rest.frames, detector)
                return
            if yield_idle:
                yield None
            continue
        yield _detect(fs.ref_ns, fs.frames, detector)


def _detect(ref_ns: int, frames: Sequence[np.ndarray | None], detector: Detector) -> Frameset:
    present = [i for i, f in enumerate(frames) if f is not None]
    results: list[Detections | None] = [None] * len(frames)
    if present:
        found = detector([frames[i] for i in present])  # type: ignore[misc]
        for i, d in zip(present, found, strict=True):
            results[i] = d
    return int(ref_ns), results
