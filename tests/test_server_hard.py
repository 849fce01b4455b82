"""The hard cases, each built from a simulator scenario (configs/scenarios/hard/*.yaml, scripted
shoppers and shelf events, oracle mode) and replayed over real sockets to a real ``walkout
server`` process, as the gate, the shelf gateways and the edge boxes would send it:

- two shoppers reach into one slot at once -> both receipts in review, each naming the other;
- a put-back into the wrong slot -> misplaced stock reported, the right receipt issued;
- a group on one scan -> one cart for the group;
- a weight change with no reach -> nobody charged, an anomaly (and the receipt of the one
  shopper standing at that shelf waits for a person, naming the change);
- shoppers who take nothing -> an empty receipt each, issued.

With ``edge=truth`` the boxes' tracks and reaches are made from the run's ground truth (the
server's own logic, exact expectations); with ``edge=oracle`` by the real edge pipeline on
the run's oracle detections, where a box tracker's identity swap may hold a receipt for a
person (see ORACLE_CASES) but never bill it wrong.

In every run: each receipt issued without review equals the simulator's true receipt.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest

from conftest import package_root
from server_support import (
    REPO,
    TOKENS,
    ServerProcess,
    make_keys,
    receipt_items,
    start_server,
    wait_for,
    write_server_config,
)
from walkout.replay import load_run, replay
from walkout.replay.sim_truth import true_receipts

HARD = REPO / "configs" / "scenarios" / "hard"
SPEED = 12.0
LOST_SESSION_S = 20.0  # a shopper the real edge pipeline loses ends up in review this soon

# Through the real edge pipeline every case runs too, with what the pipeline can give: in
# group-one-scan edge-b's box tracker swapped jon's and kim's local ids where their paths
# cross at S5 (t = 13 s) before the floor tracker learnt to re-identify; where that happens the
# server sees its floor tracker disagree and holds jon's receipt (which then holds kim's juice)
# for a person, "identity in doubt", instead of issuing it.
ORACLE_CASES = ("two-at-one-slot", "wrong-slot", "group-one-scan", "weight-no-reach",
                "takes-nothing")
DOUBT = "identity in doubt"


@dataclass
class Outcome:
    truth: dict[str, dict[str, int]]
    receipts: dict[str, dict[str, Any]]
    anomalies: list[dict[str, Any]]
    sessions: dict[str, dict[str, Any]]
    server: ServerProcess
    edge: str
    keys: Path


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_keys(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from walkout.sim import simulate

    folder = tmp_path_factory.mktemp("hard")
    return {p.stem: simulate(p, folder / p.stem, oracle=True).path
            for p in sorted(HARD.glob("*.yaml"))}


def _serve(run: Path, edge: Literal["truth", "oracle"], folder: Path, keys: Path,
           check: Callable[[Outcome], None], via_cli: bool = False) -> None:
    """Start a server, play the run to it, wait for every true account's receipt, then
    ``check`` the outcome while the server still runs (so a check may use the HTTP API)."""
    folder.mkdir(parents=True, exist_ok=True)
    cfg = write_server_config(folder, keys)
    server = start_server(cfg, "--lost-session", str(LOST_SESSION_S))
    truth = true_receipts(run)
    tail = 8.0 + (LOST_SESSION_S + 5.0 if edge == "oracle" else 0.0)
    try:
        if via_cli:
            done = subprocess.run(
                [sys.executable, "-m", "walkout", "replay", str(run), "--server", server.ingest,
                 "--keys", str(keys), "--speed", str(SPEED), "--tail", str(tail),
                 "--edge", edge], capture_output=True, text=True, timeout=120,
                env=dict(os.environ, PYTHONPATH=str(package_root())))
            assert done.returncode == 0, done.stderr
            assert "all acknowledged" in done.stdout
        else:
            report = replay(load_run(run, edge=edge), server.ingest, keys, keys / "server.key",
                            folder / "spool", speed=SPEED, tail_s=tail)
            assert report.flushed
        wait_for(lambda: set(truth) <= {r["account"] for r in server.get("/receipts")}, 30,
                 f"a receipt for each of {sorted(truth)}")
        receipts = {r["account"]: r for r in server.get("/receipts")}
        outcome = Outcome(truth, receipts, server.get("/anomalies"),
                          {s["account"]: s for s in server.get("/sessions")}, server, edge,
                          keys)
        # What every run must hold: nothing issued differs from the truth; nothing is held
        # for review without saying why; no account outside the truth got a receipt.
        assert set(receipts) == set(truth)
        for account, r in receipts.items():
            if r["status"] == "issued":
                assert receipt_items([r])[account] == truth[account], r
            else:
                assert r["status"] == "review" and r["reasons"], r
        check(outcome)
    finally:
        server.stop()


def _reasons(r: dict[str, Any]) -> str:
    return " | ".join(r["reasons"])


# --- the five cases -------------------------------------------------------------------------


def check_two_at_one_slot(o: Outcome) -> None:
    assert o.truth == {"acct-gus": {"BANANA": 1}, "acct-hal": {}}
    gus, hal = o.receipts["acct-gus"], o.receipts["acct-hal"]
    sessions = {a: o.sessions[a]["id"] for a in ("acct-gus", "acct-hal")}
    if o.edge == "oracle" and gus["status"] == "review" and "exit not seen" in _reasons(gus):
        # The pipeline lost gus before the exit; his reach still made the change shared.
        assert hal["status"] == "review" and "S7/front/r0c0" in _reasons(hal)
        return
    for me, other in (("acct-gus", "acct-hal"), ("acct-hal", "acct-gus")):
        r = o.receipts[me]
        assert r["status"] == "review", r
        # The doubt names the slot and the other shopper (by session).
        assert any("S7/front/r0c0" in why and sessions[other] in why for why in r["reasons"]), \
            (me, r["reasons"])
    if o.edge == "truth":
        _settle_over_http(o, sessions)


def _settle_over_http(o: Outcome, sessions: dict[str, str]) -> None:
    """A person settles the review queue over HTTP; each decision is published once."""
    import zmq

    from walkout import protocol

    assert o.server.get(f"/sessions/{sessions['acct-gus']}/cart")["confidence"] < 0.8
    from walkout.wire.keys import load_key_pair, load_secret_key, make_curve_client

    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.subscribe(b"receipt")
    # The receipt stream is CURVE like the inbound wire: any allowed key may subscribe.
    make_curve_client(sub, load_secret_key(o.keys / "edge-a.key_secret"),
                      load_key_pair(o.keys / "server.key").public)
    sub.connect(o.server.publish)
    time.sleep(0.5)  # a SUB socket misses what is published before it has joined
    try:
        _decide_reviews(o, sessions)
        published: dict[str, protocol.Receipt] = {}
        deadline = time.monotonic() + 10
        while len(published) < 2 and time.monotonic() < deadline:
            if sub.poll(200):
                topic, raw = sub.recv_multipart()
                message = protocol.decode(raw, topic)
                assert isinstance(message, protocol.Receipt)
                published[message.account] = message
    finally:
        sub.close(0)
        ctx.term()
    assert [(x.sku, x.qty) for x in published["acct-gus"].lines] == [("BANANA", 1)]
    assert published["acct-gus"].total_cents == 35 and published["acct-gus"].currency == "EUR"
    assert published["acct-hal"].lines == [] and published["acct-hal"].total_cents == 0


def _decide_reviews(o: Outcome, sessions: dict[str, str]) -> None:
    # The machine's guess (the reach that ended closest to the change) may be either
    # shopper; the reviewer gives the banana to gus and nothing to hal.
    server = o.server
    for account, lines in (("acct-gus", [{"sku": "BANANA", "qty": 1}]), ("acct-hal", [])):
        guess = {x["sku"]: x["qty"] for x in o.receipts[account]["lines"]}
        want = {x["sku"]: x["qty"] for x in lines}
        session = sessions[account]
        if guess == want:
            code, body = server.post(f"/review/{session}/confirm", {})
            assert code == 200 and body["status"] == "confirmed"
        else:
            code, body = server.post(f"/review/{session}/correct", {"lines": lines})
            assert code == 200 and body["status"] == "corrected"
            assert {x["sku"]: x["qty"] for x in body["draft"]} == guess  # kept on record
        assert body["total_cents"] == (35 if want else 0)
    gus, hal = sessions["acct-gus"], sessions["acct-hal"]
    assert server.post(f"/review/{gus}/confirm", {})[0] == 409  # decided already
    assert server.post(f"/review/{hal}/correct", {"lines": [{"sku": "NOPE", "qty": 1}]})[0] \
        in (400, 409)
    assert server.post("/review/no-such-session/confirm", {})[0] == 404
    assert server.post(f"/review/{gus}/correct", {"lines": "two apples"})[0] in (400, 409)
    code, body = server.post("/no/such/route", {})
    assert code == 404 and "no route" in body["error"]
    raw = urllib.request.Request(server.http + f"/review/{hal}/correct", data=b"{not json",
                                 headers={"Content-Type": "application/json",
                                          "Authorization": f"Bearer {TOKENS['reviewer']}"})
    with pytest.raises(urllib.error.HTTPError) as bad:
        urllib.request.urlopen(raw, timeout=10)
    assert bad.value.code == 400  # the body is read before anything else
    bad.value.close()
    assert server.get("/review") == []


def check_wrong_slot(o: Outcome) -> None:
    assert o.truth == {"acct-ida": {"COLA-330": 1}}
    ida = o.receipts["acct-ida"]
    assert ida["status"] == "issued" and ida["total_cents"] == 119
    misplaced = [a for a in o.anomalies if a["kind"] == "misplaced"]
    assert len(misplaced) == 1, o.anomalies
    assert misplaced[0]["slot"] == "S1/front/r0c1" and "COLA-330" in misplaced[0]["detail"]


def check_group_one_scan(o: Outcome) -> None:
    assert o.truth == {"acct-jon": {"PROTEIN": 1, "SOAP": 2}, "acct-kim": {"AJ-1000": 1}}
    jon, kim = o.sessions["acct-jon"], o.sessions["acct-kim"]
    assert jon["party_size"] == 2 and len(jon["members"]) == 2
    assert len(kim["members"]) == 1 and not set(kim["members"]) & set(jon["members"])
    assert len(o.receipts) == 2  # one cart for the pair
    if o.edge == "truth":
        assert all(r["status"] == "issued" for r in o.receipts.values())
        return
    # Through the pipeline (see ORACLE_CASES) the box tracker may swap jon and kim where their
    # paths cross at S5 (it did before the floor tracker's re-identification): then jon's cart
    # holds kim's juice and must wait for a person, never be issued.
    r = o.receipts["acct-jon"]
    if r["status"] == "issued":
        assert receipt_items([r])["acct-jon"] == o.truth["acct-jon"], r
    else:
        assert r["status"] == "review" and DOUBT in _reasons(r), r


def check_weight_no_reach(o: Outcome) -> None:
    assert o.truth == {"acct-lea": {"SANDW-HAM": 1}, "acct-max": {"LEMON-330": 1}}
    # Two bags of nuts left S4 with nobody near: nobody is charged, staff are told.
    unexplained = [a for a in o.anomalies if a["kind"] == "unattributed_weight"]
    assert [a["slot"] for a in unexplained] == ["S4/front/r0c0"], o.anomalies
    assert all("NUTS-MIX" not in receipt_items([r])[a] for a, r in o.receipts.items())
    # Crackers fell while lea stood at S5: her receipt waits for a person, naming that change.
    lea = o.receipts["acct-lea"]
    assert lea["status"] == "review"
    assert any("no reach" in why and "S5/front/r1c1" in why for why in lea["reasons"]), \
        lea["reasons"]
    assert o.receipts["acct-max"]["status"] == "issued"


def check_takes_nothing(o: Outcome) -> None:
    assert o.truth == {"acct-ned": {}, "acct-ola": {}}
    for r in o.receipts.values():
        assert r["lines"] == [] and r["total_cents"] == 0
        # Through the pipeline a box swap near ned (see ORACLE_CASES) may hold his for review.
        assert r["status"] == "issued" or (o.edge == "oracle" and DOUBT in _reasons(r)), r
    # ned handled a sandwich and put it down: noted, not a doubt worth a person's time.
    assert any("no weight change" in why for why in o.receipts["acct-ned"]["reasons"])


CHECKS = {"two-at-one-slot": check_two_at_one_slot, "wrong-slot": check_wrong_slot,
          "group-one-scan": check_group_one_scan, "weight-no-reach": check_weight_no_reach,
          "takes-nothing": check_takes_nothing}


def test_every_hard_case_has_a_scenario_and_a_check() -> None:
    assert {p.stem for p in HARD.glob("*.yaml")} == set(CHECKS)
    assert set(ORACLE_CASES) <= set(CHECKS)


@pytest.mark.parametrize("case", sorted(set(CHECKS) - {"group-one-scan"}))
def test_hard_case_edge_truth(case: str, runs: dict[str, Path], keys: Path,
                              tmp_path: Path) -> None:
    _serve(runs[case], "truth", tmp_path, keys, CHECKS[case])


def test_group_on_one_scan_through_the_replay_and_report_commands(
        runs: dict[str, Path], keys: Path, tmp_path: Path) -> None:
    """The group case played by the ``walkout replay`` command; then ``walkout report``
    (live over HTTP and offline from the database) agrees with what was bought."""
    run = runs["group-one-scan"]
    live: dict[str, Any] = {}

    def check(o: Outcome) -> None:
        check_group_one_scan(o)
        env = dict(os.environ, PYTHONPATH=str(package_root()))
        shown = subprocess.run([sys.executable, "-m", "walkout", "report", "--url",
                                o.server.http, "--json", "--token-file",
                                str(o.server.log_path.parent / "admin.token")],
                               capture_output=True, text=True,
                               env=env, timeout=60)
        assert shown.returncode == 0, shown.stderr
        live.update(json.loads(shown.stdout))

    _serve(run, "truth", tmp_path, keys, check, via_cli=True)
    env = dict(os.environ, PYTHONPATH=str(package_root()))
    offline = subprocess.run([sys.executable, "-m", "walkout", "report", "--config",
                              str(tmp_path / "server.yaml"), "--json"], capture_output=True,
                             text=True, env=env, timeout=60)
    assert offline.returncode == 0, offline.stderr
    assert json.loads(offline.stdout) == live
    assert live["sessions"] == 2
    assert {sku: p["bought"] for sku, p in live["products"].items() if p["bought"]} == \
        {"PROTEIN": 1, "SOAP": 2, "AJ-1000": 1}
    assert live["shelves"]["S8"]["conversion"] == 1.0
    table = subprocess.run([sys.executable, "-m", "walkout", "report", "--config",
                            str(tmp_path / "server.yaml")], capture_output=True, text=True,
                           env=env, timeout=60)
    assert table.returncode == 0 and "S8" in table.stdout and "SOAP" in table.stdout


@pytest.mark.parametrize("case", ORACLE_CASES)
def test_hard_case_edge_oracle(case: str, runs: dict[str, Path], keys: Path,
                               tmp_path: Path) -> None:
    _serve(runs[case], "oracle", tmp_path, keys, CHECKS[case])
