"""The edge box's /metrics and /health over real HTTP: the text parses with prometheus_client's
parser, the model's time is a stage of its own (measured around the shipped ONNX model on a
real frame), cameras and the wire are there, and /health names the onnxruntime provider."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import numpy as np

from walkout.edge.cameras import CameraReport, CameraState
from walkout.edge.metrics import EdgeMetrics, MetricsServer

REPO = Path(__file__).resolve().parent.parent


def test_edge_metrics_parse_and_name_the_provider() -> None:
    import onnxruntime as ort
    from prometheus_client.parser import text_string_to_metric_families

    session = ort.InferenceSession(str(REPO / "models" / "walkout-pose.onnx"),
                                   providers=["CPUExecutionProvider"])
    provider = session.get_providers()[0]
    shape = [d if isinstance(d, int) else 1 for d in session.get_inputs()[0].shape]
    frame = np.zeros(shape, np.float32)
    name = session.get_inputs()[0].name
    metrics = EdgeMetrics("edge-a", provider, "walkout-pose.onnx")
    model = metrics.timed(lambda x: session.run(None, {name: x}))
    for _ in range(3):
        model(frame)
    metrics.observe_frameset({"project": 0.001, "track": 0.002}, 0.004)
    metrics.observe_health(
        [CameraReport("cam1", CameraState.STREAMING, 9.8, 2, 0, 1, None),
         CameraReport("cam2", CameraState.RECONNECTING, 0.0, 7, 3, 4, "timeout")],
        {"sent": 10, "resent": 2, "acked": 9, "pending": 1, "spool_fill": 0.01,
         "connected": True, "auth_failures": 0}, dropped=0)
    server = MetricsServer(metrics, 0)
    try:
        with urllib.request.urlopen(server.url + "/metrics", timeout=10) as reply:
            text = reply.read().decode()
        with urllib.request.urlopen(server.url + "/health", timeout=10) as reply:
            health = json.loads(reply.read())
    finally:
        server.close()
    got = {(s.name, tuple(sorted(s.labels.items()))): s.value
           for f in text_string_to_metric_families(text) for s in f.samples}
    assert got[("walkout_edge_stage_latency_seconds", (("quantile", "0.5"), ("stage", "model")))] > 0
    assert got[("walkout_edge_framesets_total", ())] == 1
    assert got[("walkout_camera_fps", (("camera", "cam1"),))] == 9.8
    assert got[("walkout_camera_streaming", (("camera", "cam2"),))] == 0
    assert got[("walkout_camera_reconnects_total", (("camera", "cam2"),))] == 4
    assert got[("walkout_wire_resent_messages_total", ())] == 2
    assert got[("walkout_wire_connected", ())] == 1
    info = [k for k in got if k[0] == "walkout_edge_info"]
    assert info and ("provider", provider) in info[0][1]
    assert health["provider"] == provider == "CPUExecutionProvider"
    assert health["cameras"][1]["state"] == "reconnecting"
