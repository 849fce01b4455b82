"""The HTTP API's locks, route by route, on a real server (in process, real sockets): every
route of the route table refuses a request without a token or with an unknown one (401), and
every role the route does not allow (403), and lets the allowed roles through. The table is
also compared with the one written here, so a new route without a line here fails.

Also: ``/metrics`` parses with prometheus_client's own parser and carries what a real edge
box's ``health`` message (sent over the real wire) reported; a bad token config is refused;
TLS serves HTTPS; the receipt stream refuses a subscriber whose key is not allowed.
"""

from __future__ import annotations

import ssl
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq

from server_support import TOKENS, api_request, make_keys, wait_for, write_server_config
from walkout import protocol
from walkout.config import ConfigError
from walkout.config.loader import load_server
from walkout.server import StoreServer
from walkout.server.auth import ROLES
from walkout.server.http_api import ROUTES

R, D, A, P = "viewer reviewer admin", "reviewer admin", "admin", "app admin"
EXPECTED = {
    ("GET", "/"): "",
    ("GET", "/dashboard/{file}"): "",
    ("GET", "/whoami"): "viewer reviewer admin app",
    ("GET", "/status"): R,
    ("GET", "/sessions"): R,
    ("GET", "/sessions/{id}/cart"): R,
    ("GET", "/receipts"): R,
    ("GET", "/receipts/{id}"): R,
    ("GET", "/receipts/{id}/audit"): R,
    ("POST", "/receipts/{id}/dispute"): P,
    ("GET", "/accounts/{id}/receipts"): "viewer reviewer admin app",
    ("GET", "/review"): R,
    ("POST", "/review/{id}/confirm"): D,
    ("POST", "/review/{id}/correct"): D,
    ("GET", "/anomalies"): R,
    ("GET", "/analytics"): R,
    ("GET", "/floor"): R,
    ("GET", "/live"): R,
    ("GET", "/metrics"): R,
    ("GET", "/audit"): A,
    ("GET", "/outbox"): A,
    ("POST", "/outbox/retry"): A,
}
"""every route and the roles allowed on it ('' = open to anyone)"""

FILL = {"id": "no-such-id", "file": "app.js"}


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_keys(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, keys: Path) -> Iterator[StoreServer]:
    folder = tmp_path_factory.mktemp("server")
    running = StoreServer(load_server(write_server_config(folder, keys))).start()
    yield running
    running.stop()


def _path(pattern: str) -> str:
    return pattern.format(**FILL)


def _call(server: StoreServer, method: str, pattern: str, token: str | None) -> int:
    if pattern == "/live":  # a stream: the status line is the answer, then hang up
        req = urllib.request.Request(server.http_url + "/live", headers=(
            {"Authorization": f"Bearer {token}"} if token else {}))
        try:
            with urllib.request.urlopen(req, timeout=10) as reply:
                return int(reply.status)
        except urllib.error.HTTPError as exc:
            exc.close()
            return int(exc.code)
    body = {} if method == "POST" else None
    return api_request(server.http_url + _path(pattern), method, body, token=token)[0]


def test_the_route_table_is_the_one_tested_here() -> None:
    table = {(r.method, r.pattern): " ".join(sorted(r.roles)) for r in ROUTES}
    assert table == {k: " ".join(sorted(v.split())) for k, v in EXPECTED.items()}


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.pattern}")
def test_every_route_refuses_the_unknown_and_the_wrong_role(server: StoreServer,
                                                            route: object) -> None:
    method, pattern, allowed = route.method, route.pattern, route.roles  # type: ignore[attr-defined]
    if not allowed:  # the dashboard's static files: open, and no data in them
        assert _call(server, method, pattern, None) == 200
        return
    assert _call(server, method, pattern, None) == 401
    assert _call(server, method, pattern, "not-a-token-of-this-store-at-all") == 401
    for role in ROLES:
        code = _call(server, method, pattern, TOKENS[role])
        if role in allowed:
            assert code not in (401, 403), (role, code)
        else:
            assert code == 403, (role, code)


def test_wrong_scheme_and_unknown_route(server: StoreServer) -> None:
    req = urllib.request.Request(server.http_url + "/status",
                                 headers={"Authorization": f"Basic {TOKENS['admin']}"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(req, timeout=10)
    assert refused.value.code == 401
    assert refused.value.headers["WWW-Authenticate"].startswith("Bearer")
    refused.value.close()
    code, body = api_request(server.http_url + "/no/such/route", token=None)
    assert code == 404 and "no route" in body["error"]
    assert api_request(server.http_url + "/dashboard/..%2Fapp.py", token=None)[0] == 404
    code, me = api_request(server.http_url + "/whoami", token=TOKENS["reviewer"])
    assert code == 200 and me == {"name": "reviewer-1", "role": "reviewer"}


def test_metrics_parse_and_carry_a_real_health_report(server: StoreServer, keys: Path,
                                                      tmp_path: Path) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    from walkout.wire import Sender, load_key_pair, load_secret_key

    sender = Sender(server.ingest_endpoint, "edge-a", tmp_path / "spool",
                    secret_key=load_secret_key(keys / "edge-a.key_secret"),
                    server_public_key=load_key_pair(keys / "server.key").public)
    try:
        sender.send(protocol.Health(
            src="edge-a", t_ns=time.time_ns(), latency_p95_ms=42.0, spool_fill=0.25,
            cameras=[protocol.CameraHealth(camera="cam-1", fps=9.5, dropped_frames=3,
                                           reconnects=1)]))
        assert sender.flush(10)
    finally:
        sender.close()

    def samples() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        code, text = api_request(server.http_url + "/metrics", token=TOKENS["viewer"])
        assert code == 200
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for fam in text_string_to_metric_families(text) for s in fam.samples}

    wait_for(lambda: ("walkout_camera_fps", (("camera", "cam-1"), ("src", "edge-a")))
             in samples(), 10, "edge-a's camera in /metrics")
    got = samples()
    cam = (("camera", "cam-1"), ("src", "edge-a"))
    assert got[("walkout_camera_fps", cam)] == 9.5
    assert got[("walkout_camera_dropped_frames", cam)] == 3
    assert got[("walkout_camera_reconnects", cam)] == 1
    assert got[("walkout_source_spool_fill", (("src", "edge-a"),))] == 0.25
    assert got[("walkout_source_latency_p95_seconds", (("src", "edge-a"),))] == 0.042
    assert got[("walkout_wire_messages_total", (("outcome", "accepted"),))] >= 1
    assert got[("walkout_wire_acks_total", ())] >= 1
    for name in ("walkout_receipts_issued_total", "walkout_webhook_failures_total",
                 "walkout_review_queue", "walkout_server_step_seconds_count"):
        assert any(key[0] == name for key in got), name
    # And through curl, as an operator would scrape it.
    shown = subprocess.run(["curl", "-sf", "-H", f"Authorization: Bearer {TOKENS['viewer']}",
                            server.http_url + "/metrics"], capture_output=True, text=True,
                           timeout=30)
    if shown.returncode != 127:  # curl present
        assert shown.returncode == 0
        names = {f.name for f in text_string_to_metric_families(shown.stdout)}
        assert {"walkout_camera_fps", "walkout_wire_messages"} <= names


def test_receipt_stream_refuses_an_unknown_subscriber(server: StoreServer, keys: Path,
                                                      tmp_path: Path) -> None:
    from walkout.wire import generate_keys
    from walkout.wire.keys import load_key_pair, load_secret_key, make_curve_client

    generate_keys("stranger", tmp_path)
    ctx = zmq.Context()
    try:
        sub = ctx.socket(zmq.SUB)
        sub.linger = 0
        make_curve_client(sub, load_secret_key(tmp_path / "stranger.key_secret"),
                          load_key_pair(keys / "server.key").public)
        monitor = sub.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED
                                         | zmq.EVENT_HANDSHAKE_FAILED_AUTH)
        sub.connect(server.publish_endpoint)
        from zmq.utils.monitor import recv_monitor_message

        assert monitor.poll(5000)
        assert recv_monitor_message(monitor)["event"] == zmq.EVENT_HANDSHAKE_FAILED_AUTH
        sub.disable_monitor()
        monitor.close(0)
        sub.close(0)
    finally:
        ctx.term()


def test_bad_token_config_is_refused(tmp_path: Path, keys: Path) -> None:
    cfg = write_server_config(tmp_path, keys, extra="")
    text = cfg.read_text().replace("role: viewer", "role: boss")
    cfg.write_text(text)
    with pytest.raises(ConfigError, match="role"):
        load_server(cfg)
    cfg.write_text(text.replace("role: boss", "role: viewer").replace(
        "sha256: ", "sha256: 12", 1))
    with pytest.raises(ConfigError, match="sha256"):
        load_server(cfg)


def test_tls_serves_https(tmp_path: Path, keys: Path) -> None:
    made = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                           "-keyout", str(tmp_path / "key.pem"), "-out",
                           str(tmp_path / "cert.pem"), "-days", "1", "-subj", "/CN=127.0.0.1",
                           "-addext", "subjectAltName=IP:127.0.0.1"],
                          capture_output=True, timeout=60)
    if made.returncode != 0:
        pytest.skip(f"openssl cannot make a test certificate: {made.stderr[-200:]!r}")
    cfg = write_server_config(tmp_path, keys)
    cfg.write_text(cfg.read_text().replace(
        "http: {host: 127.0.0.1, port: 0}",
        f"http: {{host: 127.0.0.1, port: 0, tls: {{cert: {tmp_path / 'cert.pem'}, "
        f"key: {tmp_path / 'key.pem'}}}}}"))
    running = StoreServer(load_server(cfg)).start()
    try:
        assert running.http_url.startswith("https://")
        context = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))
        req = urllib.request.Request(running.http_url + "/whoami",
                                     headers={"Authorization": f"Bearer {TOKENS['admin']}"})
        with urllib.request.urlopen(req, timeout=10, context=context) as reply:
            assert reply.status == 200
        with pytest.raises((urllib.error.URLError, ConnectionError)):  # plain HTTP
            urllib.request.urlopen(running.http_url.replace("https", "http") + "/", timeout=5)
    finally:
        running.stop()
