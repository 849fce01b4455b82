"""Whole-server throughput with the store logic on, against the wire transport alone.

A busy scripted scenario (many shoppers, two edge boxes at 10 framesets/s each, reaches,
dwells, weight changes, check-ins) is sent as fast as the senders go (``walkout.replay`` with
a huge speed, one sender per source over real CURVE sockets) to

1. the wire alone: a ``walkout.wire.Receiver`` storing into the wire's own ``SqliteStore``
   (what the transport costs; the wire room's benchmark measures it in depth), and
2. a real ``walkout server`` process: receiver, event store, the global tracker (C++ fusion and
   FloorTracker), sessions, carts and receipts.

Throughput = messages / wall time until the last one is stored (and, for the server, taken in
by its core). Reported per system and as a ratio; the server run also checks every receipt
against the truth. Also the core alone, in process: events per second through
``StoreCore`` from a filled database (what recovery after a crash costs).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "benchmarks")]

import server_scenarios as sc  # noqa: E402
from harness import markdown_table, write_results  # noqa: E402
from server_support import (  # noqa: E402
    SOURCES,
    STORE,
    make_keys,
    receipt_items,
    start_server,
    wait_for,
    write_server_config,
)
from walkout.config import load_store  # noqa: E402
from walkout.replay import load_run, replay  # noqa: E402
from walkout.server.core import CoreSettings, StoreCore  # noqa: E402
from walkout.server.db import SqliteServerStore  # noqa: E402
from walkout.server.planogram import Planogram  # noqa: E402

FAST = 1e6


def wire_only(messages: list, keys: Path, work: Path) -> float:
    from server_support import free_port
    from walkout.wire import Receiver, SqliteStore, load_allowed_keys, load_secret_key

    store = SqliteStore(work / "wire.db")
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    receiver = Receiver(endpoint, store, secret_key=load_secret_key(keys / "server.key_secret"),
                        allowed_keys=load_allowed_keys(keys / f"{s}.key" for s in SOURCES))
    receiver.start()
    try:
        t = time.perf_counter()
        report = replay(messages, endpoint, keys, keys / "server.key", work / "spool-w",
                        speed=FAST, tail_s=0.0)
        wait_for(lambda: store.count() >= sum(report.sent.values()), 120, "wire store")
        return sum(report.sent.values()) / (time.perf_counter() - t)
    finally:
        receiver.close()
        store.close()


def server(messages: list, keys: Path, work: Path, truth: dict) -> float:
    work.mkdir(parents=True, exist_ok=True)
    cfg = write_server_config(work, keys, settle_s=3.0)
    # At full speed the senders deliver at very different rates (the gate's few messages are
    # in at once, a box's thousands trail by a minute of run time); the server must wait for
    # the slowest instead of giving up on it after max_source_lag_s, as it would live.
    proc = start_server(cfg, "--max-source-lag", "3600")
    try:
        t = time.perf_counter()
        report = replay(messages, proc.ingest, keys, keys / "server.key", work / "spool-s",
                        speed=FAST, tail_s=6.0)
        total = sum(report.sent.values())
        wait_for(lambda: proc.get("/status")["events"] >= total, 300, "server core")
        rate = total / (time.perf_counter() - t)
        wait_for(lambda: len(proc.get("/receipts")) >= len(truth["receipts"]), 60, "receipts")
        got = receipt_items(proc.get("/receipts"))
    finally:
        proc.stop()
    wrong = {a for a, items in truth["receipts"].items() if got.get(a) != items}
    assert not wrong, f"receipts differ from the truth for {sorted(wrong)}"
    return rate


def core_only(db_path: Path) -> float:
    db = SqliteServerStore(db_path)
    core = StoreCore(Planogram(load_store(STORE).config), db, CoreSettings(settle_window_s=3.0),
                     clock=lambda: 0)
    t = time.perf_counter()
    n = core.pump()
    core.tick(decide=False)
    rate = n / (time.perf_counter() - t)
    db.close()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shoppers", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="walkout-bench-throughput-"))
    keys = make_keys(work / "keys")
    truth = sc.generate(sc.many_shoppers(args.shoppers, seed=5), STORE, work / "run")
    messages = load_run(work / "run")
    wire, full, core = [], [], []
    for i in range(args.repeat):
        wire.append(wire_only(messages, keys, work / f"w{i}"))
        full.append(server(messages, keys, work / f"s{i}", truth))
        core.append(core_only(work / f"s{i}" / "store.db"))
    w, s, c = statistics.median(wire), statistics.median(full), statistics.median(core)
    rows = [
        ["wire alone (receiver + SQLite store)", f"{w:,.0f}", "1.00"],
        ["walkout server (store logic on)", f"{s:,.0f}", f"{s / w:.2f}"],
        ["server core alone, in process (recovery)", f"{c:,.0f}", f"{c / w:.2f}"],
    ]
    write_results(
        "server_throughput", "Store server: whole-server throughput",
        markdown_table(["system", "messages / s (median)", "ratio to the wire"], rows)
        + f"\n\n{len(messages)} messages ({args.shoppers} shoppers, 2 boxes at 10 framesets/s, "
        f"plus a {6} s tail of empty framesets for the server run), median of {args.repeat} "
        "runs; in every server run every receipt's lines equal the truth (a few are held for "
        "review where two scripted shoppers reached one slot within the pairing window). "
        "Sender and server share the machine's cores, so the senders' own cost is part of "
        "every number.")


if __name__ == "__main__":
    main()
