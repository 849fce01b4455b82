"""`walkout demo` end to end through real processes: the simulator renders the cameras, one
`walkout edge` process per box runs the shipped model on the videos, a `walkout server`
process decides receipts; summary.json is checked against the receipts in its database."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from walkout.config import ConfigError
from walkout.demo import DemoError, DemoOptions, run_demo
from walkout.replay.sim_truth import true_receipts
from walkout.resources import configs_dir
from walkout.server.db import SqliteServerStore

SMALL = configs_dir() / "scenarios" / "small.yaml"
KEYS = ("receipts_total", "receipts_exact", "receipt_accuracy", "review_rate",
        "wrong_charges", "missed_items", "idf1", "hota", "reach_precision", "reach_recall",
        "receipt_latency_s_p50", "receipt_latency_s_p95", "wall_seconds", "detections",
        "boxes")


def _check_against_database(out: Path) -> dict:
    summary = json.loads((out / "summary.json").read_text())
    for key in KEYS:
        assert key in summary, key
    db = SqliteServerStore(out / "store.db")
    try:
        receipts = db.receipts()
    finally:
        db.close()
    truth = true_receipts(out / "run")
    assert summary["accounts"] == len(truth)
    assert summary["receipts_total"] == len({r.account for r in receipts} & set(truth))
    issued = [r for r in receipts if r.status == "issued" and r.account in truth]
    exact = [r for r in issued if {x["sku"]: x["qty"] for x in r.lines} == truth[r.account]]
    assert summary["receipts_exact"] == len(exact)
    assert summary["wrong_charges"] == len(issued) - len(exact)
    review = [r for r in receipts if r.status == "review" and r.account in truth]
    if receipts:
        assert summary["review_rate"] == pytest.approx(len(review) / summary["receipts_total"])
    assert 0.0 <= summary["idf1"] <= 1.0 and 0.0 <= summary["hota"] <= 1.0
    assert 0.0 <= summary["reach_precision"] <= 1.0 and 0.0 <= summary["reach_recall"] <= 1.0
    assert (out / "report.html").is_file()
    assert "http://" not in (out / "report.html").read_text().replace(
        "http://www.w3.org", "")  # nothing fetched from the network
    return summary


@pytest.mark.slow
def test_demo_model_path_through_real_processes(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    run_demo(DemoOptions(SMALL, out, progress=False))
    summary = _check_against_database(out)
    assert summary["detections"] == "model"
    for box, b in summary["boxes"].items():
        assert b["status"] == "ok", (box, b)
        assert b["frames_in"] > 0 and b["model_ms_per_frame"] > 0
        assert b["framesets"] > 0
    # the model found people: the store-wide tracks follow some of them
    assert summary["idf1"] > 0.2
    assert summary["receipts_total"] >= 1


@pytest.mark.slow
def test_demo_reports_a_dead_edge_box_and_completes(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    run_demo(DemoOptions(SMALL, out, detections="oracle", progress=False,
                         kill_box=("edge-b", 8.0)))
    summary = _check_against_database(out)
    dead = summary["boxes"]["edge-b"]
    assert dead["status"] == "killed by the demo" and dead["exit_code"] != 0
    assert "log" in dead
    assert summary["boxes"]["edge-a"]["status"] == "ok"


def test_unknown_scenario_key_names_file_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(SMALL.read_text().replace("store: ../store.yaml",
                                             f"store: {configs_dir() / 'store.yaml'}")
                   + "shopers: 3\n")
    with pytest.raises(ConfigError) as err:
        run_demo(DemoOptions(bad, tmp_path / "out", detections="oracle", progress=False))
    assert "shopers" in str(err.value) and "bad.yaml" in str(err.value)


def test_missing_model_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.onnx"
    with pytest.raises(DemoError, match=r"model file .*nope\.onnx not found"):
        run_demo(DemoOptions(SMALL, tmp_path / "out", model=missing, progress=False))


def test_port_in_use_is_named(tmp_path: Path) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        with pytest.raises(DemoError, match=rf"--port {port}: 127\.0\.0\.1:{port} is in use"):
            run_demo(DemoOptions(SMALL, tmp_path / "out", port=port, detections="oracle",
                                 progress=False))
