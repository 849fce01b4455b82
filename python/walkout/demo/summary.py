"""``DIR/summary.json`` of a demo run: receipts, store-wide tracks, reaches, latency, boxes.

The store-wide tracks are the server's global shoppers, rebuilt from the database the server
wrote (the same stored events through the same ``StoreCore``, with every tracked point kept:
``sample_every_s=0``); the server's ``late_track_messages`` says whether the live run dropped
any frame the rebuild took (0: the rebuild is exactly the live tracks).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from walkout.demo.processes import Child

log = logging.getLogger("walkout.demo")
_NS = 1_000_000_000


_PATHS: dict[str, tuple[dict[int, Any], list[Any]]] = {}


def global_paths(database: Path, store: Any) -> tuple[dict[int, Any], list[Any]]:
    """(shopper id -> (times, points), every stored event) from a server database."""
    from walkout.server.core import StoreCore
    from walkout.server.db import SqliteServerStore
    from walkout.server.planogram import Planogram
    from walkout.server.shoppers import ShopperParams

    if str(database) in _PATHS:  # summary and report read it once
        return _PATHS[str(database)]
    db = SqliteServerStore(database)
    try:
        events = [m for _, m in db.read_after(0, 10**9)]
        core = StoreCore(Planogram(store), db, shopper_params=ShopperParams(sample_every_s=0))
        core.pump()
        newest = max((m.t_ns for m in events), default=0)
        core.tick(newest + 3600 * _NS, decide=False)
        _PATHS[str(database)] = core.shoppers.paths(), events
        return _PATHS[str(database)]
    finally:
        db.close()


def _box(box: str, child: Child | None, out: Path, status: dict[str, Any]) -> dict[str, Any]:
    stats_file = out / f"stats-{box}.json"
    stats = json.loads(stats_file.read_text()) if stats_file.is_file() else {}
    cams = stats.get("cameras", [])
    images = stats.get("model_images", 0)
    code = None if child is None else child.process.returncode
    entry: dict[str, Any] = {
        "status": "ok" if code == 0 else ("killed by the demo" if child and child.killed
                                          else "died"),
        "exit_code": code,
        "framesets": stats.get("framesets"),
        "frames_in": sum(c["frames_decoded"] for c in cams) if cams else None,
        "frames_dropped": sum(c["dropped_at_capture"] + c["frames_refused"] for c in cams)
        if cams else None,
        "model_images": images or None,
        "model_ms_per_frame": 1000.0 * stats["model_s"] / images if images else None,
        "last_t_ns": status.get("sources_last_ns", {}).get(box),
    }
    if child is not None and code != 0:
        entry["log"] = str(child.log)
        entry["log_tail"] = child.tail()
    return entry


def summarize(opts: Any, run: Any, out: Path, truth: dict[str, Any], edges: dict[str, Child],
              samples: list[tuple[int, int]], status: dict[str, Any], *, render_s: float,
              wall_s: float) -> dict[str, Any]:
    from walkout.demo.scoring import latencies_s, reach_metrics, score_receipts, track_metrics
    from walkout.server.db import SqliteServerStore

    _PATHS.pop(str(out / "store.db"), None)  # a new run in the same folder
    db = SqliteServerStore(out / "store.db")
    try:
        receipts = db.receipts()
    finally:
        db.close()
    score = score_receipts(truth, receipts)
    store = run.store().config
    paths, events = global_paths(out / "store.db", store)
    traj = run.trajectories()
    t_truth, pos, present = traj["t_ns"], traj["pos"], traj["present"]
    end_ns = run.start_ns + int(run.meta["duration_s"] * _NS)
    try:
        tracks = track_metrics(t_truth, pos, present, paths, run.start_ns, end_ns)
    except ImportError:
        log.warning("trackeval is not installed: no IDF1/HOTA (pip install trackeval)")
        tracks = {"idf1": None, "hota": None}
    slack = round(1e9 / run.fps)
    reaches = reach_metrics(run.reaches(), events, t_truth, pos, present, slack)
    lat = latencies_s(score.rows, samples)
    issued = score.issued_exact + score.issued_wrong
    boxes = {b.id: _box(b.id, edges.get(b.id), out, status) for b in store.edge_boxes}
    summary: dict[str, Any] = {
        "scenario": str(opts.scenario), "seed": run.meta.get("seed"),
        "detections": "truth" if opts.edge == "truth" else opts.detections,
        "shoppers": run.meta["scenario"]["shoppers"], "duration_s": run.meta["duration_s"],
        "render": list(run.image_size), "fps": run.fps,
        "accounts": score.accounts,
        "receipts_total": score.decided,
        "receipts_issued": issued,
        "receipts_exact": score.issued_exact,
        "receipt_accuracy": score.issued_exact / issued if issued else None,
        "review_rate": score.in_review / score.decided if score.decided else None,
        "review_exact": score.review_exact,
        "wrong_charges": score.issued_wrong,
        "missing_receipts": score.missing,
        "missed_items": score.missed_items,
        "extra_items": score.extra_items,
        "review_reasons": score.review_reasons,
        **tracks,
        **reaches,
        "receipt_latency_s_p50": float(np.percentile(lat, 50)) if lat else None,
        "receipt_latency_s_p95": float(np.percentile(lat, 95)) if lat else None,
        "late_track_messages": status.get("late_track_messages"),
        "render_seconds": render_s,
        "wall_seconds": wall_s,
        "boxes": boxes,
        "receipts": score.rows,
    }
    return summary
