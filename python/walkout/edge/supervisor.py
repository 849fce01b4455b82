"""The edge supervisor: one headless process per edge box (``walkout edge --config EDGE.yaml``).

Start (every check before anything opens, each failure a :class:`StartError` naming the file):
the edge config and the store it points to (``walkout.config.load_edge``), the model and key
files, the model itself (input size, output layout). Then it builds the one
:class:`~walkout.edge.pipeline.EdgePipeline`, opens the wire sender (spooled on disk and
acknowledged: a server that is away is simply waited for while the spool holds the data),
starts the cameras (:class:`~walkout.edge.cameras.CameraRig` into a
:class:`~walkout.sync.FrameSync`) and runs until ``stop`` is set (SIGINT/SIGTERM in the CLI).

Every frameset: detector → pipeline → ``sender.send_many``. Every ``health_interval_s``: a
``health`` message. On stop: cameras closed, open reaches and dwells closed and sent, a last
health, and the sender flushed for up to ``flush_timeout_s`` (what is not acknowledged by then
stays in the spool and goes out at the next start).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from walkout import protocol
from walkout.config.errors import ConfigError
from walkout.config.loader import LoadedEdge, load_edge, missing_runtime_files
from walkout.edge.health import Every, LatencyWindow, StateLog, chrony_offset_ns, health_message
from walkout.edge.pipeline import EdgePipeline, PipelineParams

log = logging.getLogger("walkout.edge")


class StartError(RuntimeError):
    """The box cannot start: a config, model or key problem, named with its file."""


class MessageSink(Protocol):
    """Where messages go: :class:`walkout.wire.Sender` fits."""

    def send_many(self, messages: list[protocol.Message]) -> list[int]: ...


@dataclass(frozen=True)
class SupervisorOptions:
    """Run-time knobs of the supervisor (the edge config holds the box's own settings).

    health_interval_s: seconds between ``health`` messages. Lower shows a failing camera
        sooner on the dashboard, at a few hundred bytes each.
    flush_timeout_s: on stop, how long to wait for the server to acknowledge what is
        spooled. Longer gets more out before exit; the rest is sent at the next start anyway.
    event_backlog: events (reach, dwell) the spool refused while full are kept in memory, up
        to this many, and offered again each frameset (tracks and health are not: the next
        ones supersede them).
    spool_dir: override of the config's ``spool.dir`` (tests, a read-only config volume).
    endpoint: override of the config's ``server.endpoint``.
    camera_speed: file cameras only: playback speed (1.0 real time, None as fast as possible).
    metrics_port: serve ``/metrics`` and ``/health`` on 127.0.0.1 at this port while running
        (0 = any free port; None = not at all). See :mod:`walkout.edge.metrics`.
    """

    health_interval_s: float = 5.0
    flush_timeout_s: float = 5.0
    event_backlog: int = 10_000
    spool_dir: Path | None = None
    endpoint: str | None = None
    camera_speed: float | None = 1.0
    metrics_port: int | None = None


def load_for_start(config_path: Path | str) -> LoadedEdge:
    """The validated edge config with every file it needs present, or a StartError."""
    try:
        edge = load_edge(config_path)
    except ConfigError as exc:
        raise StartError(f"edge config {config_path} is invalid:\n{exc}") from None
    except (OSError, ValueError) as exc:
        raise StartError(f"edge config {config_path}: {exc}") from None
    problems = missing_runtime_files(edge)
    if problems:
        raise StartError(f"edge config {edge.path}:\n  " + "\n  ".join(problems))
    return edge


class Publisher:
    """Hands messages to the sender; keeps refused events for later, drops refused tracks and
    health (superseded by the next ones), and never raises into the pipeline loop."""

    def __init__(self, sink: MessageSink, backlog: int) -> None:
        self.sink = sink
        self.backlog: deque[protocol.Message] = deque(maxlen=backlog)
        self.dropped = 0

    def publish(self, messages: Iterable[protocol.Message]) -> None:
        from walkout.wire.spool import SpoolFull

        fresh = list(messages)
        if self.backlog:
            fresh = [*self.backlog, *fresh]
            self.backlog.clear()
        if not fresh:
            return
        try:
            self.sink.send_many(fresh)
            return
        except SpoolFull:
            pass  # the sender logged the alarm; try events alone below
        events = [m for m in fresh if m.type not in ("tracks", "health")]
        self.dropped += len(fresh) - len(events)
        if events:
            try:
                self.sink.send_many(events)
            except SpoolFull:
                overflow = max(0, len(self.backlog) + len(events) - (self.backlog.maxlen or 0))
                self.dropped += overflow
                if overflow:
                    log.error("event backlog full: %d events lost", overflow)
                self.backlog.extend(events)


class EdgeSupervisor:
    """One edge box at run time (see the module docstring).

    Args:
        config_path: the ``kind: edge`` file.
        options: :class:`SupervisorOptions`.
        params: the pipeline's :class:`PipelineParams`.
        sink: where messages go; default the wire sender the config describes (tests may
            pass a list-backed sink; the supervisor then opens no socket).
        open_capture: passed to the camera sources (tests of odd cameras).
    """

    def __init__(self, config_path: Path | str, options: SupervisorOptions | None = None,
                 params: PipelineParams | None = None, sink: MessageSink | None = None,
                 open_capture: Callable[..., Any] | None = None) -> None:
        from walkout.edge.detector import Detector, ModelError

        self.options = options or SupervisorOptions()
        self.edge = load_for_start(config_path)
        config = self.edge.config
        model_path = self.edge.resolve(config.model.path)
        try:
            self.detector = Detector(config.model, model_path)
        except ModelError as exc:
            raise StartError(f"edge config {self.edge.path}: {exc}") from None
        log.info("model %s on %s: input %s, output %s", model_path, self.detector.info.provider,
                 self.detector.info.input_size, self.detector.info.output_shape)
        self.pipeline = EdgePipeline.from_edge(self.edge, params)
        self._own_sink = sink is None
        self.sink: MessageSink = sink if sink is not None else self._open_sender()
        self.publisher = Publisher(self.sink, self.options.event_backlog)
        self.latency = LatencyWindow()
        self.framesets = 0
        from walkout.edge.metrics import EdgeMetrics

        self.metrics = EdgeMetrics(config.box, self.detector.info.provider, model_path.name)
        self.metrics_server: Any = None
        self._open_capture = open_capture

    def _open_sender(self) -> MessageSink:
        from walkout.wire.from_config import sender_for_edge

        try:
            sender = sender_for_edge(self.edge, spool_dir=self.options.spool_dir)
        except (OSError, ValueError) as exc:
            raise StartError(f"edge config {self.edge.path}: cannot open the sender: "
                             f"{exc}") from None
        if self.options.endpoint is not None and self.options.endpoint != sender.endpoint:
            sender.close()
            from walkout.wire.keys import load_key_pair, load_secret_key
            from walkout.wire.sender import Sender

            config = self.edge.config
            sender = Sender(
                self.options.endpoint, config.box,
                self.options.spool_dir or self.edge.resolve(config.spool.dir),
                secret_key=load_secret_key(self.edge.resolve(config.keys.secret)),
                server_public_key=load_key_pair(
                    self.edge.resolve(config.server.server_public_key)).public,
                max_spool_bytes=int(config.spool.max_mb * 1024 * 1024))
        return sender

    def camera_options(self) -> list[Any]:
        from walkout.edge.cameras import CameraOptions

        config = self.edge.config
        options = []
        for camera in config.cameras:
            source: str | int = camera.source
            if source.isdigit():
                source = int(source)
            elif "://" not in source:
                source = str(self.edge.resolve(Path(source)))
            options.append(CameraOptions(camera.id, source, speed=self.options.camera_speed,
                                         expected_size=config.camera_resolution(camera)))
        return options

    def run(self, stop: threading.Event) -> int:
        """Run until ``stop`` is set (or every file camera has ended); returns framesets done."""
        from walkout.edge.cameras import CameraRig
        from walkout.edge.sources import model_framesets
        from walkout.sync import FrameSync

        config = self.edge.config
        sync = FrameSync(len(config.cameras), self.pipeline_fps())
        rig_args: dict[str, Any] = {}
        if self._open_capture is not None:
            rig_args["open_capture"] = self._open_capture
        rig = CameraRig(self.camera_options(), sync, **rig_args)
        states = StateLog()
        health_due = Every(self.options.health_interval_s)
        log.info("edge box %s: %d cameras, sending to %s", config.box, len(config.cameras),
                 self.options.endpoint or config.server.endpoint)
        if self.options.metrics_port is not None:
            from walkout.edge.metrics import MetricsServer

            self.metrics_server = MetricsServer(self.metrics, self.options.metrics_port)
            log.info("metrics on %s/metrics", self.metrics_server.url)
        try:
            with rig:
                for frameset in model_framesets(sync, self.metrics.timed(self.detector), stop,
                                                rig=rig, yield_idle=True):  # type: ignore[arg-type]
                    if frameset is not None:  # None: no frameset for a while (cameras down)
                        started = time.perf_counter()
                        result = self.pipeline.step(*frameset)
                        self.publisher.publish(result.messages)
                        self.latency.add(time.perf_counter() - started)
                        self.metrics.observe_frameset(result.stage_s, result.latency_s)
                        self.framesets += 1
                    if health_due.due(time.monotonic()):
                        self._send_health(rig, states)
        finally:
            self.publisher.publish(self.pipeline.finish())
            self._send_health(rig, states)
            self.close()
        return self.framesets

    def pipeline_fps(self) -> float:
        config = self.edge.config
        return max(config.camera_fps(c) for c in config.cameras)

    def _send_health(self, rig: Any, states: StateLog) -> None:
        reports = rig.report()
        states.update(reports)
        spool = self.sink.health_fields() if hasattr(self.sink, "health_fields") else None
        stats = self.sink.stats() if hasattr(self.sink, "stats") else None
        self.metrics.observe_health(reports, vars(stats) if stats is not None else spool,
                                    self.publisher.dropped)
        self.publisher.publish([health_message(self.edge.config.box, time.time_ns(), reports,
                                               self.latency, chrony_offset_ns(), spool)])

    def close(self) -> None:
        """Flush and close the sender (if this supervisor opened it)."""
        if self._own_sink and hasattr(self.sink, "close"):
            flush = getattr(self.sink, "flush", None)
            if flush is not None and not flush(self.options.flush_timeout_s):
                log.warning("server did not acknowledge everything within %.1f s; the rest "
                            "stays in the spool for the next start", self.options.flush_timeout_s)
            self.sink.close()  # type: ignore[attr-defined]
            self._own_sink = False
        if self.metrics_server is not None:
            self.metrics_server.close()
            self.metrics_server = None
