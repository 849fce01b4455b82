"""``walkout demo``: the simulated store, end to end, on this machine.

1. The simulator runs a scenario of the example store (``walkout.sim``): shoppers check in at
   the gate, walk, reach into slots, take and put back items, and leave; shelf weight sensors
   report changes; every camera yields detections (oracle mode: per-camera detections with
   the documented noise of a good detector, made from the ground truth).
2. A real store server starts (``walkout.server.StoreServer``: ZeroMQ with CURVE keys made
   for this demo, SQLite in WAL mode, the HTTP API).
3. ``walkout.replay`` plays the run to it over real sockets as the gate, the shelf gateways
   and the two edge boxes would — each a ``walkout.wire`` sender with its own key, sequence
   numbers and spool. The edge boxes' tracks, reaches and dwells come from the real edge
   pipeline (floor projection, multi-view fusion, FloorTracker, interaction engine) run on
   the oracle detections (``--edge oracle``), or from the ground truth (``--edge truth``,
   which tests the server's logic alone).
4. When every shopper has left and the settle window has passed, the receipts are scored
   against the simulator's true receipts.

Nothing here is staged: each step is the component the store would run.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

log = logging.getLogger(__name__)


@dataclass
class DemoResult:
    """How the receipts compare with the truth."""

    accounts: int = 0
    issued_exact: int = 0
    issued_wrong: int = 0
    in_review: int = 0
    review_exact: int = 0
    """receipts held for review whose proposed lines already equal the truth (a reviewer
    only confirms them); the rest need a correction"""
    missing: int = 0
    review_reasons: dict[str, int] = field(default_factory=dict)
    rows: list[tuple[str, str, str, str]] = field(default_factory=list)
    run_dir: Path | None = None
    database: Path | None = None


def _server_config(folder: Path, store: Path, keys: Path, sources: list[str],
                   settle_s: float) -> Path:
    allowed = "\n".join(f"    - {keys / f'{s}.key'}" for s in sources)
    path = folder / "server.yaml"
    path.write_text(
        "# Written by `walkout demo` for this run.\n"
        "kind: server\n"
        f"store: {store}\n"
        "ingest: {endpoint: 'tcp://127.0.0.1:*'}\n"
        "publish: {endpoint: 'tcp://127.0.0.1:*'}\n"
        "http: {host: 127.0.0.1, port: 0}\n"
        f"database: {{path: {folder / 'store.db'}}}\n"
        f"keys:\n  secret: {keys / 'server.key_secret'}\n  allowed:\n{allowed}\n"
        f"settle_window_s: {settle_s}\n"
        "review_threshold: 0.8\n"
    )
    return path


def _fmt_items(items: dict[str, int]) -> str:
    return ", ".join(f"{q}x {sku}" for sku, q in sorted(items.items())) or "(nothing)"


def run_demo(scenario: Path, out: Path, *, seed: int | None = None,
             edge: Literal["oracle", "truth"] = "oracle", speed: float = 25.0,
             settle_s: float = 5.0, wait_s: float = 30.0) -> DemoResult:
    """Run the demo into ``out`` (created fresh) and return the scored receipts."""
    import shutil

    from walkout.config import load_server
    from walkout.replay import load_run, replay
    from walkout.replay.sim_truth import true_receipts
    from walkout.server import StoreServer
    from walkout.sim import simulate
    from walkout.wire import generate_keys

    out = Path(out).resolve()  # the server config written below names files by absolute path
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    run_dir = out / "run"
    print(f"[1/4] simulating {scenario} (seed {seed if seed is not None else 'of the scenario'}, "
          "oracle detections) ...", file=sys.stderr)
    simulate(scenario, run_dir, seed=seed, oracle=True)
    print(f"[2/4] making the edge boxes' messages ({edge}) ...", file=sys.stderr)
    messages = load_run(run_dir, edge=edge)
    sources = sorted({m.src for m in messages})
    keys = out / "keys"
    for name in ("server", *sources):
        generate_keys(name, keys)
    config = _server_config(out, run_dir / "store" / "store.yaml", keys, sources, settle_s)
    server = StoreServer(load_server(config)).start()
    truth = true_receipts(run_dir)
    result = DemoResult(accounts=len(truth), run_dir=run_dir, database=out / "store.db")
    try:
        print(f"[3/4] server up (ingest {server.ingest_endpoint}, HTTP {server.http_url}); "
              f"replaying {len(messages)} messages from {len(sources)} sources at {speed}x ...",
              file=sys.stderr)
        # The boxes keep reporting (empty) framesets after the run, as live boxes do, long
        # enough for the server to give up on shoppers lost in the store (120 s) and settle.
        replay(messages, server.ingest_endpoint, keys, keys / "server.key", out / "spool",
               speed=speed, tail_s=settle_s + 130.0)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            decided = {r.account for r in server.db.receipts()}
            if set(truth) <= decided:
                break
            time.sleep(0.2)
        print("[4/4] scoring receipts against the simulator's truth", file=sys.stderr)
        receipts = {r.account: r for r in server.db.receipts()}
    finally:
        server.stop()
    for account in sorted(truth):
        want = truth[account]
        r = receipts.get(account)
        if r is None:
            result.missing += 1
            result.rows.append((account, _fmt_items(want), "-", "NO RECEIPT"))
            continue
        got = {x["sku"]: x["qty"] for x in r.lines}
        if r.status == "issued":
            exact = got == want
            result.issued_exact += exact
            result.issued_wrong += not exact
            verdict = "issued, exact" if exact else "issued, WRONG"
        else:
            result.in_review += 1
            result.review_exact += got == want
            for reason in r.reasons:
                result.review_reasons[reason] = result.review_reasons.get(reason, 0) + 1
            verdict = f"review ({'; '.join(r.reasons)[:60]})"
        result.rows.append((account, _fmt_items(want), _fmt_items(got), verdict))
    return result


def print_result(result: DemoResult) -> None:
    width = max((len(r[1]) for r in result.rows), default=10)
    print(f"{'account':<12} {'true cart':<{width}}  {'receipt':<{width}}  verdict")
    for account, want, got, verdict in result.rows:
        print(f"{account:<12} {want:<{width}}  {got:<{width}}  {verdict}")
    print()
    print(f"{result.accounts} shoppers' accounts left the store: {result.issued_exact} receipts "
          f"issued and exact, {result.issued_wrong} issued and wrong, {result.in_review} held "
          f"for review ({result.review_exact} of them with the right lines, to confirm), "
          f"{result.missing} missing.")
    print(f"run: {result.run_dir}   database: {result.database}")
