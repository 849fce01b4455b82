"""Run the edge pipeline over a simulator run, as the box that owns its cameras would have.

``detections="oracle"`` feeds the run's oracle detections (no model, no pixels: seconds for a
minute of store); ``"model"`` plays the run's videos through the real camera sources
(:class:`walkout.edge.cameras.CameraRig`, timestamps from the run's timestamp files, as fast as
the pipeline takes them) and the ONNX :class:`~walkout.edge.detector.Detector`. Either way the
frames are paired by :class:`walkout.sync.FrameSync` and go through the one
:class:`~walkout.edge.pipeline.EdgePipeline`; every message goes to ``emit`` (a
:class:`walkout.wire.Sender`'s ``send``, a list's ``append``).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from walkout import protocol
from walkout.config.edge import ModelSettings
from walkout.edge.health import Every, LatencyWindow, health_message
from walkout.edge.pipeline import STAGES, EdgePipeline, FramesetResult, PipelineParams
from walkout.edge.sources import Frameset, model_framesets, oracle_framesets

DetectionMode = Literal["oracle", "model"]


@dataclass
class ReplayResult:
    """What a replay produced: every message in order, and per frameset the pipeline's
    seconds per stage (for benchmarks) and the tracker output (for scoring)."""

    messages: list[protocol.Message] = field(default_factory=list)
    results: list[FramesetResult] = field(default_factory=list)
    cameras: list[str] = field(default_factory=list)

    def stage_seconds(self) -> dict[str, list[float]]:
        return {s: [r.stage_s[s] for r in self.results] for s in STAGES}


def run_cameras(run_cameras: Sequence[str], store_cameras_of_box: Sequence[str] | None,
                cameras: Sequence[str] | None) -> list[str]:
    """The cameras to replay: ``cameras`` if given, else those of the box that the run
    recorded, else every camera of the run."""
    if cameras:
        unknown = [c for c in cameras if c not in run_cameras]
        if unknown:
            raise ValueError(f"cameras: {unknown} are not in the run (it has {list(run_cameras)})")
        return list(cameras)
    if store_cameras_of_box is not None:
        chosen = [c for c in run_cameras if c in store_cameras_of_box]
        if not chosen:
            raise ValueError(f"box: none of its cameras {list(store_cameras_of_box)} is in the "
                             f"run (it has {list(run_cameras)})")
        return chosen
    return list(run_cameras)


def replay_run(run_dir: Path | str, *, box: str | None = None,
               cameras: Sequence[str] | None = None,
               detections: DetectionMode = "oracle",
               emit: Callable[[protocol.Message], object] | None = None,
               params: PipelineParams | None = None,
               model: ModelSettings | None = None, model_path: Path | None = None,
               keep_results: bool = True, stop: threading.Event | None = None,
               speed: float | None = 1.0,
               health_interval_s: float | None = None,
               stats: dict[str, object] | None = None) -> ReplayResult:
    """Replay a simulator run through the edge pipeline.

    box: the edge box whose cameras (in the run's store file) are replayed, and the ``src`` of
        the messages; None replays every camera of the run as ``src="replay"``.
    cameras: replay exactly these cameras instead.
    detections: "oracle" or "model" (then ``model`` settings and ``model_path`` are needed).
    emit: called with each message in order (also collected in the result).
    keep_results: keep each frameset's :class:`FramesetResult` (memory grows with the run).
    stop: set it to end the replay early (a signal handler).
    speed: "model" only: video playback speed (1.0 real time, as the cameras would deliver;
        faster makes the sync shed frames the pipeline cannot keep up with, as live; None
        reads the files as fast as the pipeline takes them and sheds nothing).
    health_interval_s: also emit a ``health`` message (pipeline latency percentiles) every
        this many seconds of run time; None emits none.
    stats: "model" only: filled with the cameras' health at the end and the model's images
        and seconds (``walkout edge --stats``, read by ``walkout demo``).
    """
    from walkout.sim.run import Run

    run = Run(run_dir)
    store = run.store()
    box_cameras = None
    if box is not None:
        if box not in {b.id for b in store.config.edge_boxes}:
            raise ValueError(f"box: '{box}' is not an edge box of the run's store "
                             f"({[b.id for b in store.config.edge_boxes]})")
        box_cameras = [c.id for c in store.config.cameras_of(box)]
    chosen = run_cameras(run.cameras, box_cameras, cameras)
    pipeline = EdgePipeline(store, box or "replay", chosen, [run.image_size] * len(chosen),
                            run.fps, params)
    result = ReplayResult(cameras=chosen)
    stop = stop or threading.Event()
    latency = LatencyWindow()
    health_due = Every(health_interval_s) if health_interval_s else None

    def deliver(message: protocol.Message) -> None:
        result.messages.append(message)
        if emit is not None:
            emit(message)

    def consume(framesets: Sequence[Frameset] | object) -> None:
        for t_ns, dets in framesets:  # type: ignore[attr-defined]
            if stop.is_set():
                break
            out = pipeline.step(t_ns, dets)
            if keep_results:
                result.results.append(out)
            for message in out.messages:
                deliver(message)
            latency.add(out.latency_s)
            if health_due is not None and health_due.due(t_ns * 1e-9):
                deliver(health_message(pipeline.src, t_ns, [], latency, None))

    if detections == "oracle":
        consume(oracle_framesets(run, chosen))
    elif detections == "model":
        if model is None or model_path is None:
            raise ValueError("model: detections='model' needs the model settings and file "
                             "(the model section of an edge config)")
        consume(_model_replay(run, chosen, model, model_path, stop, speed, stats))
    else:
        raise ValueError(f"detections: expected 'oracle' or 'model', got {detections!r}")
    for message in pipeline.finish():
        deliver(message)
    return result


def _model_replay(run: object, cameras: Sequence[str], model: ModelSettings, model_path: Path,
                  stop: threading.Event, speed: float | None,
                  stats: dict[str, object] | None = None) -> object:
    from walkout.edge.cameras import CameraOptions, CameraRig
    from walkout.edge.detector import Detector
    from walkout.edge.sources import LosslessSink
    from walkout.sync import FrameSync

    detector = Detector(model, model_path)
    if stats is not None:
        from walkout.edge.health import TimedDetector

        detector = TimedDetector(detector, stats)  # type: ignore[assignment]
    width, height = run.image_size  # type: ignore[attr-defined]
    capacity = 8
    # Frames arrive with their recorded times; the latency budget (arrival clock) must not
    # release a frameset before a camera that is merely slower to decode has delivered.
    sync = FrameSync(len(cameras), run.fps, capacity=capacity,  # type: ignore[attr-defined]
                     latency_budget_ns=None if speed is not None else 10**10)
    options = [CameraOptions(c, str(run.video_path(c)), speed=speed,  # type: ignore[attr-defined]
                             expected_size=(width, height), max_reconnects=0,
                             stall_timeout_s=2.0 if speed is not None else 30.0)
               for c in cameras]
    # At full speed, files wait for the pipeline instead of being shed (a replay should
    # see every recorded frame); at a playback speed they behave as live cameras.
    sink = LosslessSink(sync, capacity, stop) if speed is None else sync
    rig = CameraRig(options, sink)  # type: ignore[arg-type]
    with rig:
        yield from model_framesets(sync, detector, stop, rig=rig)  # type: ignore[misc]
    if stats is not None:
        stats["cameras"] = [dataclasses.asdict(h) for h in rig.health()]
