"""A real ``walkout server`` process driven over real sockets by ``walkout.replay`` (one wire
sender per source, each with its own key, seq and spool): the clean run's receipts equal the
truth; the same stream with duplicates, reordering, an outage of one box and a kill -9 of the
server in the middle gives identical receipts and stores no event twice. A broken config and
an unknown source are refused. (The review queue over HTTP, the receipt publisher, `walkout
replay` and `walkout report` as commands are tested on the simulator's hard cases in
test_server_hard.py.)

The stream here is scripted (server_scenarios.clean_day): fault injection needs a run whose
clean receipts are all issued and whose timing is known, which a scripted day gives exactly."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

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
