"""The edge box's own ``/metrics`` (Prometheus text) and ``/health`` (JSON) on a local port
(``walkout edge --metrics-port N``; loopback only): framesets, per-stage latency including
the model, per-camera fps, dropped frames and reconnects, the wire (messages sent, resent,
acknowledged, spool fill, reconnect state), messages dropped while the spool was full, and
the onnxruntime execution provider the model runs on.

:class:`EdgeMetrics` is fed by the supervisor (one call per frameset, one per health report);
:class:`MetricsServer` serves it. Reading is cheap and takes a lock for a moment only.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from walkout.edge.health import LatencyWindow
from walkout.metrics_text import CONTENT_TYPE, Family, render


class EdgeMetrics:
    def __init__(self, box: str, provider: str, model: str) -> None:
        self.box, self.provider, self.model = box, provider, model
        self.started = time.time()
        self.framesets = 0
        self._stages: dict[str, LatencyWindow] = {}
        self._stage_sum: dict[str, float] = {}
        self._cameras: list[dict[str, Any]] = []
        self._wire: dict[str, Any] = {}
        self._dropped = 0
        self._lock = threading.Lock()

    def timed(self, detector: Callable[..., Any]) -> Callable[..., Any]:
        """``detector`` with each call's time recorded as the ``model`` stage."""
        def run(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return detector(*args, **kwargs)
            finally:
                self.observe_stage("model", time.perf_counter() - started)
        return run

    def observe_stage(self, stage: str, seconds: float) -> None:
        with self._lock:
            self._stages.setdefault(stage, LatencyWindow()).add(seconds)
            self._stage_sum[stage] = self._stage_sum.get(stage, 0.0) + seconds

    def observe_frameset(self, stage_s: dict[str, float], latency_s: float) -> None:
        for stage, seconds in stage_s.items():
            self.observe_stage(stage, seconds)
        self.observe_stage("pipeline", latency_s)
        with self._lock:
            self.framesets += 1

    def observe_health(self, cameras: Sequence[Any], wire: dict[str, Any] | None,
                       dropped: int) -> None:
        rows = [{"camera": c.camera_id, "fps": float(c.fps), "dropped": int(c.dropped_frames),
                 "reconnects": int(c.reconnects),
                 "state": c.state.value if hasattr(c.state, "value") else str(c.state)}
                for c in cameras]
        with self._lock:
            self._cameras, self._wire, self._dropped = rows, dict(wire or {}), int(dropped)

    def health(self) -> dict[str, Any]:
        with self._lock:
            return {"box": self.box, "provider": self.provider, "model": self.model,
                    "uptime_s": round(time.time() - self.started, 1),
                    "framesets": self.framesets, "cameras": list(self._cameras),
                    "wire": dict(self._wire), "dropped_messages": self._dropped}

    def text(self) -> str:
        h = self.health()
        with self._lock:
            stages = {s: (len(w), w.percentiles_ms(), self._stage_sum[s])
                      for s, w in self._stages.items()}
        info = Family("walkout_edge_info", "gauge", "the box, its model and onnxruntime provider")
        info.add(1, box=h["box"], provider=h["provider"], model=h["model"])
        framesets = Family("walkout_edge_framesets", "counter", "framesets processed")
        framesets.add(h["framesets"])
        latency = Family("walkout_edge_stage_latency_seconds", "gauge",
                         "per-stage latency over the last framesets, by quantile")
        total = Family("walkout_edge_stage_seconds", "counter", "time spent per stage")
        for stage, (_, pct, seconds) in sorted(stages.items()):
            total.add(seconds, stage=stage)
            if pct is not None:
                for q, ms in zip(("0.5", "0.95", "0.99"), pct, strict=True):
                    latency.add(ms / 1e3, stage=stage, quantile=q)
        fps = Family("walkout_camera_fps", "gauge", "frames per second a camera delivers")
        dropped = Family("walkout_camera_dropped_frames", "counter", "frames a camera dropped")
        reconnects = Family("walkout_camera_reconnects", "counter", "times a camera was reopened")
        streaming = Family("walkout_camera_streaming", "gauge", "1 while a camera streams")
        for c in h["cameras"]:
            fps.add(c["fps"], camera=c["camera"])
            dropped.add(c["dropped"], camera=c["camera"])
            reconnects.add(c["reconnects"], camera=c["camera"])
            streaming.add(int(c["state"] == "streaming"), camera=c["camera"])
        w = h["wire"]
        sent = Family("walkout_wire_sent_messages", "counter", "messages sent (first time)")
        sent.add(w.get("sent"))
        resent = Family("walkout_wire_resent_messages", "counter", "messages sent again")
        resent.add(w.get("resent"))
        acked = Family("walkout_wire_acked_seq", "gauge", "highest seq the server acknowledged")
        acked.add(w.get("acked"))
        pending = Family("walkout_wire_pending_messages", "gauge", "spooled, not acknowledged")
        pending.add(w.get("pending"))
        spool = Family("walkout_spool_fill", "gauge", "fraction of the on-disk spool in use")
        spool.add(w.get("spool_fill"))
        connected = Family("walkout_wire_connected", "gauge", "1 while connected to the server")
        connected.add(None if "connected" not in w else int(bool(w["connected"])))
        auth = Family("walkout_wire_auth_failures", "counter", "CURVE handshakes that failed")
        auth.add(w.get("auth_failures"))
        lost = Family("walkout_edge_dropped_messages", "counter",
                      "tracks and health dropped (and events lost) while the spool was full")
        lost.add(h["dropped_messages"])
        return render([info, framesets, latency, total, fps, dropped, reconnects, streaming,
                       sent, resent, acked, pending, spool, connected, auth, lost])


class MetricsServer:
    """``GET /metrics`` and ``GET /health`` of an :class:`EdgeMetrics` on host:port."""

    def __init__(self, metrics: EdgeMetrics, port: int, host: str = "127.0.0.1") -> None:
        def reply(handler: BaseHTTPRequestHandler, kind: str, body: bytes,
                  status: int = 200) -> None:
            handler.send_response(status)
            handler.send_header("Content-Type", kind)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                if self.path == "/metrics":
                    reply(self, CONTENT_TYPE, metrics.text().encode())
                elif self.path == "/health":
                    reply(self, "application/json", json.dumps(metrics.health()).encode())
                else:
                    reply(self, "application/json", b'{"error": "no such route"}', 404)

        self._httpd = ThreadingHTTPServer((host, port), Handler)
        self._httpd.daemon_threads = True
        self.port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        name="walkout-edge-metrics", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
