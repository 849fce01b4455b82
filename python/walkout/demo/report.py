"""``DIR/report.html``: one self-contained page for the store manager (no network).

The headline figures, then plots (PNG files beside the page, also embedded as base64 so the
page stands alone): the floor plan with the shoppers' true and tracked paths, a dwell heat
map of the tracked positions, per-shelf conversion (shoppers who reached vs who bought) and
traffic by hour (check-ins, UTC); then every receipt beside its truth with the differences
marked. Plots need matplotlib (``pip install walkout[report]``); without it the page has the
tables only and says so.
"""

from __future__ import annotations

import base64
import html
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

_NS = 1_000_000_000


def _plots(out: Path, run: Any, paths: dict[int, Any]) -> list[tuple[str, Path]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    store = run.store().config
    w, d = store.floor.width, store.floor.depth
    traj = run.trajectories()
    made: list[tuple[str, Path]] = []

    def floor(ax: Any) -> None:
        for shelf in store.shelves:
            fp = shelf.footprint()
            ax.fill(fp[:, 0], fp[:, 1], color="0.8", zorder=1)
            ax.text(*shelf.center, shelf.id, ha="center", va="center", fontsize=7)
        ax.set_xlim(0, w)
        ax.set_ylim(0, d)
        ax.set_aspect("equal")
        ax.set_xlabel("x (m)")
        ax.set_ylabel("y (m)")

    fig, axes = plt.subplots(1, 2, figsize=(12, 5))
    for ax, title in zip(axes, ("true paths", "tracked paths (store-wide shoppers)"),
                         strict=True):
        floor(ax)
        ax.set_title(title)
    for p in range(traj["pos"].shape[1]):
        seen = traj["present"][:, p]
        axes[0].plot(traj["pos"][seen, p, 0], traj["pos"][seen, p, 1], lw=0.8)
    for _, (_, xy) in paths.items():
        if len(xy) > 1:
            a = np.asarray(xy)
            axes[1].plot(a[:, 0], a[:, 1], lw=0.8)
    made.append(("Floor plan: true and tracked paths", _save(fig, out / "paths.png", plt)))

    pts = np.concatenate([np.asarray(xy) for _, xy in paths.values() if xy] or
                         [np.zeros((0, 2))])
    fig, ax = plt.subplots(figsize=(6.5, 5))
    if len(pts):
        # every kept point is one tracker frame (1/15 s): a bin's count is dwell time
        h, _, _ = np.histogram2d(pts[:, 0], pts[:, 1], bins=(int(w * 2), int(d * 2)),
                                   range=((0, w), (0, d)))
        im = ax.imshow(h.T / 15.0, origin="lower", extent=(0, w, 0, d), cmap="magma")
        fig.colorbar(im, ax=ax, label="seconds spent (all shoppers)")
    floor(ax)
    ax.set_title("Dwell heat map (tracked)")
    made.append(("Dwell heat map", _save(fig, out / "dwell.png", plt)))

    reached: dict[str, set[int]] = {}
    for r in run.reaches():
        reached.setdefault(r["shelf"], set()).add(int(r["person"]))
    bought: dict[str, set[int]] = {}
    slot_shelf = {s.slot_id(slot): s.id for s in store.shelves for slot in s.slots}
    for m in run.moves():
        if m.get("count", 0) > 0 or m.get("kind") == "pick":
            shelf = slot_shelf.get(m.get("slot", ""), str(m.get("slot", "?")).split("/")[0])
            bought.setdefault(shelf, set()).add(int(m["person"]))
    shelves = sorted(set(reached) | set(bought))
    fig, ax = plt.subplots(figsize=(7, 3.5))
    x = np.arange(len(shelves))
    ax.bar(x - 0.2, [len(reached.get(s, ())) for s in shelves], 0.4, label="reached in")
    ax.bar(x + 0.2, [len(bought.get(s, ())) for s in shelves], 0.4, label="took an item")
    ax.set_xticks(x, shelves)
    ax.set_ylabel("shoppers")
    ax.legend()
    ax.set_title("Per-shelf conversion")
    made.append(("Per-shelf conversion", _save(fig, out / "conversion.png", plt)))

    hours = Counter(datetime.fromtimestamp(c.t_ns / _NS, timezone.utc).hour
                    for c in run.checkins())
    fig, ax = plt.subplots(figsize=(7, 3))
    hs = sorted(hours) or [0]
    ax.bar([f"{h:02d}:00" for h in hs], [hours.get(h, 0) for h in hs])
    ax.set_ylabel("check-ins")
    ax.set_title("Traffic by hour (UTC)")
    made.append(("Traffic by hour", _save(fig, out / "traffic.png", plt)))
    return made


def _save(fig: Any, path: Path, plt: Any) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _items(want: dict[str, int], got: dict[str, int], side: str) -> str:
    cells = []
    for sku in sorted(set(want) | set(got)):
        q = (want if side == "truth" else got).get(sku, 0)
        other = (got if side == "truth" else want).get(sku, 0)
        if q == 0:
            continue
        text = f"{q}x {html.escape(sku)}"
        cells.append(f'<span class="diff">{text}</span>' if q != other else text)
    return ", ".join(cells) or "(nothing)"


def write_report(out: Path, run: Any, summary: dict[str, Any]) -> Path:
    from walkout.demo.summary import global_paths

    paths, _ = global_paths(out / "store.db", run.store().config)
    try:
        plots = _plots(out, run, paths)
        note = ""
    except ImportError:
        plots = []
        note = "<p>Plots need matplotlib: <code>pip install walkout[report]</code>.</p>"

    def fmt(v: Any) -> str:
        return "-" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))

    keys = ("detections", "accounts", "receipts_total", "receipts_exact", "receipt_accuracy",
            "review_rate", "wrong_charges", "missed_items", "idf1", "hota", "reach_precision",
            "reach_recall", "receipt_latency_s_p50", "receipt_latency_s_p95", "wall_seconds")
    head = "".join(f"<tr><th>{k}</th><td>{fmt(summary.get(k))}</td></tr>" for k in keys)
    boxes = "".join(
        f"<tr><td>{b}</td><td>{v['status']}</td><td>{fmt(v['frames_in'])}</td>"
        f"<td>{fmt(v['frames_dropped'])}</td><td>{fmt(v['model_ms_per_frame'])}</td></tr>"
        for b, v in summary["boxes"].items())
    rows = "".join(
        f"<tr class=\"{'ok' if r['verdict'] == 'issued, exact' else 'bad'}\">"
        f"<td>{html.escape(r['account'])}</td><td>{_items(r['truth'], r['receipt'], 'truth')}</td>"
        f"<td>{_items(r['truth'], r['receipt'], 'receipt')}</td><td>{html.escape(r['verdict'])}"
        f"</td><td>{html.escape('; '.join(r['reasons']))[:200]}</td></tr>"
        for r in summary["receipts"])
    figures = "".join(
        f"<h2>{html.escape(title)}</h2><img alt=\"{html.escape(title)}\" src=\"data:image/png;"
        f"base64,{base64.b64encode(p.read_bytes()).decode()}\">" for title, p in plots)
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>walkout demo</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:1200px}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:left}}.diff{{background:#fcc}}
tr.ok td:nth-child(4){{color:#070}}tr.bad td:nth-child(4){{color:#a00}}img{{max-width:100%}}</style>
</head><body><h1>walkout demo: {html.escape(str(summary.get('scenario')))}
(seed {summary.get('seed')})</h1>
<table>{head}</table><h2>Edge boxes</h2><table><tr><th>box</th><th>status</th>
<th>frames in</th><th>frames dropped</th><th>model ms / frame</th></tr>{boxes}</table>
{note}{figures}<h2>Receipts beside the truth (differences in red)</h2>
<table><tr><th>account</th><th>true cart</th><th>receipt</th><th>verdict</th><th>why</th></tr>
{rows}</table></body></html>"""
    path = out / "report.html"
    path.write_text(page)
    return path
