"""Receipt delivery end to end: a real ``walkout server`` process delivers to a real webhook
receiver (``http.server`` on 127.0.0.1 in a thread of this test) that checks every signature
itself (hashlib/hmac, not the server's code). The receiver goes down for 30 s after the first
delivery; meanwhile more receipts are issued, the shopper app disputes one, a reviewer
corrects it (version 2), and the server is killed with SIGKILL and restarted on the same
database. When the receiver is back, every (receipt, version) has arrived exactly once, each
body signed, none lost, and the corrected version carries the reviewer's lines.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import server_scenarios as sc
from server_support import (
    STORE,
    TOKENS,
    api_request,
    free_port,
    make_keys,
    start_server,
    wait_for,
    write_server_config,
)
from walkout.replay import ReplayReport, load_run, replay

OUTAGE_S = 30.0
SECRET = b"a-shared-webhook-secret-for-tests"


class Receiver:
    """The shopper app's backend, as far as receipts go: a real HTTP server on one port that
    can go down and come back on the same port."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.seen: Counter[tuple[str, int]] = Counter()
        self.bodies: dict[tuple[str, int], dict[str, Any]] = {}
        self.bad_signatures = 0
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    def up(self) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                fields = dict(p.split("=", 1) for p in
                              self.headers.get("X-Walkout-Signature", "t=0,v1=").split(","))
                want = hmac.new(SECRET, f"{fields['t']}.".encode() + body,
                                hashlib.sha256).hexdigest()
                fresh = abs(time.time() - int(fields["t"])) < 300
                ok = fresh and hmac.compare_digest(want, fields.get("v1", ""))
                data = json.loads(body)
                key = (self.headers["X-Walkout-Receipt"], int(self.headers["X-Walkout-Version"]))
                with outer._lock:
                    if not ok or key != (data["receipt"], data["version"]) or \
                            self.headers["Idempotency-Key"] != f"{key[0]}:{key[1]}":
                        outer.bad_signatures += 1
                    else:
                        outer.seen[key] += 1
                        outer.bodies[key] = data
                self.send_response(200 if ok else 401)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def down(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        self._httpd = None

    def count(self) -> int:
        with self._lock:
            return sum(self.seen.values())


@pytest.mark.slow
def test_receiver_down_30s_and_a_kill9_lose_nothing_and_repeat_nothing(tmp_path: Path) -> None:
    keys = make_keys(tmp_path / "keys")
    run = tmp_path / "run"
    truth = sc.generate(sc.clean_day(), STORE, run)
    n = len(truth["receipts"])
    (tmp_path / "hook.secret").write_bytes(SECRET + b"\n")
    hook = Receiver(free_port())
    cfg = write_server_config(tmp_path, keys, extra=(
        f"webhook: {{url: 'http://127.0.0.1:{hook.port}/receipts', secret_file: "
        f"{tmp_path / 'hook.secret'}, timeout_s: 2, backoff_initial_s: 0.5, "
        "backoff_max_s: 2}\n"))
    hook.up()
    server = start_server(cfg, "--max-source-lag", "30")
    result: dict[str, ReplayReport] = {}
    player = threading.Thread(target=lambda: result.setdefault("r", replay(
        load_run(run), server.ingest, keys, keys / "server.key", tmp_path / "spool",
        speed=8.0, tail_s=8.0, flush_s=90)))
    try:
        player.start()
        wait_for(lambda: hook.count() >= 1, 60, "the first delivery")
        hook.down()
        down_at = time.monotonic()
        delivered_before = hook.count()

        # While the receiver is down: a delivered receipt is disputed by the app and
        # corrected by a reviewer (its version 2 waits in the outbox) ...
        first = next(iter(hook.seen))[0]
        code, body = server.post(f"/receipts/{first}/dispute", {"reason": "I took no milk"},
                                 token=TOKENS["app"])
        assert code == 200 and body["status"] == "review", body
        assert server.post(f"/receipts/{first}/dispute", {"reason": "again"},
                           token=TOKENS["app"])[0] == 409  # in review already
        code, body = server.post(f"/review/{first}/correct", {"lines": [], "note": "refund"})
        assert code == 200 and body["status"] == "corrected" and body["total_cents"] == 0
        # ... more receipts are issued, and tries fail ...
        wait_for(lambda: len(server.get("/receipts")) >= min(n, 3), 60, "more receipts")
        wait_for(lambda: any(r["attempts"] >= 1 for r in server.get("/outbox?pending")), 20,
                 "a failed try")
        # ... and the server dies without a word, then starts again on the same database.
        server.kill9()
        server = start_server(cfg, "--max-source-lag", "30")
        player.join(timeout=120)
        assert not player.is_alive() and result["r"].flushed
        wait_for(lambda: len(server.get("/receipts")) >= n, 60, "every receipt decided")
        assert hook.count() == delivered_before  # nothing got through while it was down
        assert server.get("/outbox?pending"), "versions should be waiting for the receiver"

        time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down_at)))
        hook.up()
        wait_for(lambda: not server.get("/outbox?pending"), 30, "every version delivered")

        outbox = server.get("/outbox")
        receipts = server.get("/receipts")
        code, metrics = api_request(server.http + "/metrics", token=TOKENS["viewer"])
        code_app, mine = api_request(
            server.http + f"/accounts/{hook.bodies[(first, 1)]['account']}/receipts",
            token=TOKENS["app"])
        trail = server.get(f"/receipts/{first}/audit")
    finally:
        server.stop()
        player.join(timeout=5)
        hook.down()

    assert hook.bad_signatures == 0
    want = {(r["receipt"], r["version"]) for r in outbox}
    assert len(receipts) == n and {r["session"] for r in receipts} == {k[0] for k in want}
    assert (first, 2) in want and len(want) == n + 1
    assert set(hook.seen) == want
    assert all(times == 1 for times in hook.seen.values()), hook.seen
    assert hook.bodies[(first, 2)]["lines"] == [] and hook.bodies[(first, 2)]["status"] == \
        "corrected"
    assert hook.bodies[(first, 1)]["lines"] != []
    for key, body in hook.bodies.items():
        assert body == next(r["body"] for r in outbox if (r["receipt"], r["version"]) == key)
    assert code_app == 200 and [r["version"] for r in mine] == [2]
    actions = [(a["action"], a["actor"]) for a in trail]
    assert ("disputed", "app-1") in actions and ("corrected", "reviewer-1") in actions
    assert [a for a, _ in actions].count("delivered") == 2

    from prometheus_client.parser import text_string_to_metric_families

    assert code == 200
    got = {s.name: s.value for f in text_string_to_metric_families(metrics) for s in f.samples
           if not s.labels}
    assert got["walkout_webhook_failures_total"] >= 1  # the restarted process's tries
    assert got["walkout_webhook_delivered_total"] == n + 1
    assert got["walkout_webhook_pending"] == 0
