"""A real ``walkout server`` process driven over real sockets by ``walkout.replay`` (one wire
sender per source, each with its own key, seq and spool): the clean run's receipts equal the
truth; the same stream with duplicates, reordering, an outage of one box and a kill -9 of the
server in the middle gives identical receipts and stores no event twice. Then the review
queue over HTTP, the receipt publisher, and ``walkout report``."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
import zmq

import server_scenarios as sc
from conftest import package_root
from server_support import (
    STORE,
    ServerProcess,
    make_keys,
    receipt_items,
    start_server,
    wait_for,
    write_server_config,
)
from walkout import protocol
from walkout.replay import Faults, Outage, ReplayReport, load_run, replay

SPEED = 8.0
OUTAGE_S = 1.5  # wall seconds one box is cut off (its spool replays after)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_keys(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def clean_day_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    folder = tmp_path_factory.mktemp("run")
    truth = sc.generate(sc.clean_day(), STORE, folder)
    return folder, truth


def _replay(run: Path, server: ServerProcess, keys: Path, spool: Path,
            faults: Faults | None = None) -> ReplayReport:
    return replay(load_run(run), server.ingest, keys, keys / "server.key", spool, speed=SPEED,
                  tail_s=8.0, faults=faults or Faults(), flush_s=60)


def _all_decided(server: ServerProcess, n: int) -> bool:
    return len(server.get("/receipts")) >= n


def _stored_events(db: Path, shift_ns: int) -> Counter[tuple[str, str, int]]:
    """Every stored event as (src, type, time in the run): equal multisets = nothing twice."""
    with sqlite3.connect(db) as con:
        rows = con.execute("SELECT src, type, t_ns FROM events").fetchall()
    return Counter((src, kind, t - shift_ns) for src, kind, t in rows)


def test_clean_run_then_faults_and_kill9_give_identical_receipts(
        tmp_path: Path, keys: Path, clean_day_run: tuple[Path, dict]) -> None:
    run, truth = clean_day_run
    n = len(truth["receipts"])

    # 1. The clean run.
    (tmp_path / "clean").mkdir()
    cfg = write_server_config(tmp_path / "clean", keys)
    server = start_server(cfg, "--max-source-lag", "30")
    try:
        report = _replay(run, server, keys, tmp_path / "clean" / "spool")
        assert report.flushed
        wait_for(lambda: _all_decided(server, n), 30, "every receipt of the clean run")
        clean = server.get("/receipts")
        status = server.get("/status")
    finally:
        server.stop()
    assert all(r["status"] == "issued" for r in clean), [r["reasons"] for r in clean]
    assert receipt_items(clean) == truth["receipts"]
    assert status["wire"]["refused"] == 0
    clean_events = _stored_events(tmp_path / "clean" / "store.db", report.shift_ns)

    # 2. Same stream: duplicates, reordering within 0.3 s, edge-b cut off for OUTAGE_S, and a
    # kill -9 of the server while it runs; the senders keep their spools and resend.
    (tmp_path / "faulty").mkdir()
    cfg = write_server_config(tmp_path / "faulty", keys)
    server = start_server(cfg, "--max-source-lag", "30")
    faults = Faults(duplicate_fraction=0.05, reorder_window_s=0.3,
                    outages=(Outage("edge-b", 15.0, OUTAGE_S),), seed=3)
    result: dict[str, ReplayReport] = {}
    player = threading.Thread(target=lambda: result.setdefault(
        "r", _replay(run, server, keys, tmp_path / "faulty" / "spool", faults)))
    player.start()
    # Kill once the first receipts are out (the later shoppers are still in the store).
    wait_for(lambda: len(server.get("/receipts")) >= 2, 60, "the first receipts")
    decided_before = len(server.get("/receipts"))
    server.kill9()
    time.sleep(1.0)
    server = start_server(cfg, "--max-source-lag", "30")
    try:
        player.join(timeout=120)
        assert not player.is_alive() and result["r"].flushed
        assert result["r"].duplicates_sent > 0
        wait_for(lambda: _all_decided(server, n), 30, "every receipt of the faulty run")
        faulty = server.get("/receipts")
    finally:
        server.stop()
    assert decided_before >= 2
    assert [(r["account"], r["status"], r["total_cents"]) for r in faulty] == \
        [(r["account"], r["status"], r["total_cents"]) for r in clean]
    assert receipt_items(faulty) == receipt_items(clean)
    assert _stored_events(tmp_path / "faulty" / "store.db", result["r"].shift_ns) == clean_events


def test_review_queue_over_http_and_receipts_published(tmp_path: Path, keys: Path) -> None:
    run = tmp_path / "run"
    sc.generate(sc.two_at_one_slot(), STORE, run)
    cfg = write_server_config(tmp_path, keys)
    server = start_server(cfg)
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.subscribe(b"receipt")
    sub.connect(server.publish)
    try:
        assert _replay(run, server, keys, tmp_path / "spool").flushed
        wait_for(lambda: _all_decided(server, 2), 30, "both receipts")
        queue = {r["account"]: r for r in server.get("/review")}
        assert set(queue) == {"acct-gus", "acct-hal"}
        gus, hal = queue["acct-gus"]["session"], queue["acct-hal"]["session"]
        assert server.get(f"/sessions/{gus}/cart")["confidence"] < 0.8

        code, body = server.post(f"/review/{gus}/confirm", {})
        assert code == 200 and body["status"] == "confirmed"
        assert [x["sku"] for x in body["lines"]] == ["BANANA"]
        code, body = server.post(f"/review/{hal}/correct",
                                 {"lines": [{"sku": "APPLE", "qty": 1}]})
        assert code == 200 and body["status"] == "corrected" and body["total_cents"] == 45
        assert body["draft"] == []  # what the machine had proposed stays on record
        code, body = server.post(f"/review/{gus}/confirm", {})
        assert code == 409
        code, body = server.post(f"/review/{hal}/correct", {"lines": [{"sku": "NOPE", "qty": 1}]})
        assert code in (400, 409)
        code, body = server.post("/review/no-such-session/confirm", {})
        assert code == 404
        code, body = server.post(f"/review/{gus}/correct", {"lines": "two apples"})
        assert code in (400, 409)
        code, body = server.post("/no/such/route", {})
        assert code == 404 and "no route" in body["error"]
        raw = urllib.request.Request(server.http + f"/review/{hal}/correct", data=b"{not json",
                                     headers={"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as bad:
            urllib.request.urlopen(raw, timeout=10)
        assert bad.value.code == 400  # the body is read before anything else
        bad.value.close()
        assert server.get("/review") == []

        published = {}
        deadline = time.monotonic() + 10
        while len(published) < 2 and time.monotonic() < deadline:
            if sub.poll(200):
                topic, raw = sub.recv_multipart()
                message = protocol.decode(raw, topic)
                assert isinstance(message, protocol.Receipt)
                published[message.account] = message
        assert published["acct-gus"].total_cents == 35
        assert [(x.sku, x.qty) for x in published["acct-hal"].lines] == [("APPLE", 1)]
        assert published["acct-gus"].currency == "EUR"
    finally:
        sub.close(0)
        ctx.term()
        server.stop()


def test_walkout_replay_and_report_commands(tmp_path: Path, keys: Path) -> None:
    run = tmp_path / "run"
    truth = sc.generate(sc.group_on_one_scan(), STORE, run)
    cfg = write_server_config(tmp_path, keys)
    server = start_server(cfg)
    env_py = {"PYTHONPATH": str(package_root())}
    import os

    env = dict(os.environ, **env_py)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "walkout", "replay", str(run), "--server", server.ingest,
             "--keys", str(keys), "--speed", "8", "--tail", "8"],
            capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "all acknowledged" in done.stdout
        wait_for(lambda: _all_decided(server, 2), 30, "both receipts")
        assert receipt_items(server.get("/receipts")) == truth["receipts"]
        shown = subprocess.run([sys.executable, "-m", "walkout", "report", "--url",
                                server.http, "--json"], capture_output=True, text=True,
                               env=env, timeout=60)
        assert shown.returncode == 0, shown.stderr
        live = json.loads(shown.stdout)
    finally:
        server.stop()
    offline = subprocess.run([sys.executable, "-m", "walkout", "report", "--config", str(cfg),
                              "--json"], capture_output=True, text=True, env=env, timeout=60)
    assert offline.returncode == 0, offline.stderr
    assert json.loads(offline.stdout) == live
    assert live["sessions"] == 2
    bought = Counter()
    for items in truth["receipts"].values():
        bought.update(items)
    assert {sku: p["bought"] for sku, p in live["products"].items() if p["bought"]} == bought
    assert live["by_age_band"]["35-44"]["sessions"] == 1
    assert live["shelves"]["S8"]["conversion"] == 1.0
    table = subprocess.run([sys.executable, "-m", "walkout", "report", "--config", str(cfg)],
                           capture_output=True, text=True, env=env, timeout=60)
    assert table.returncode == 0 and "S8" in table.stdout and "SOAP" in table.stdout


def test_server_refuses_a_broken_config(tmp_path: Path) -> None:
    bad = tmp_path / "server.yaml"
    bad.write_text("kind: server\nstore: nowhere.yaml\n")
    done = subprocess.run([sys.executable, "-m", "walkout", "server", "--config", str(bad)],
                          capture_output=True, text=True, timeout=60,
                          env={"PYTHONPATH": str(package_root()), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 2
    assert "FAIL" in done.stderr


def test_unknown_source_is_refused(tmp_path: Path, keys: Path) -> None:
    """A source whose key is not in keys.allowed never gets in (CURVE), so nothing it sends
    is stored."""
    from walkout.wire import Sender, generate_keys, load_key_pair, load_secret_key

    generate_keys("edge-x", tmp_path / "other")
    cfg = write_server_config(tmp_path, keys)
    server = start_server(cfg)
    sender = Sender(server.ingest, "edge-x", tmp_path / "spool",
                    secret_key=load_secret_key(tmp_path / "other" / "edge-x.key_secret"),
                    server_public_key=load_key_pair(keys / "server.key").public)
    try:
        sender.send(protocol.Health(src="edge-x", t_ns=time.time_ns()))
        assert not sender.flush(2.0)
        assert server.get("/status")["events"] == 0
    finally:
        sender.close()
        server.stop()
