"""``walkout demo``: the simulated store end to end (renderer → edge box processes with the
model → store server process → receipts), scored against the truth, with a report."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo", help="run the simulated store end to end through cameras, the model and the "
        "server, and score it against the truth")
    parser.add_argument("--scenario", type=Path, default=None,
                        help="scenario file (default: the example store's demo.yaml)")
    parser.add_argument("--shoppers", type=int, default=None, help="override the scenario's")
    parser.add_argument("--minutes", type=float, default=None,
                        help="override the scenario's length (arrivals scale with it)")
    parser.add_argument("--seed", type=int, default=None, help="default: the scenario's seed")
    parser.add_argument("--report", type=Path, default=Path("runs/demo"), metavar="DIR",
                        help="folder for the run, logs, keys, spools, database, summary.json "
                        "and report.html (recreated)")
    parser.add_argument("--detections", choices=("model", "oracle"), default="model",
                        help="the edge boxes run the shipped model on the rendered videos, or "
                        "read the simulator's oracle detections (fast, nothing rendered)")
    parser.add_argument("--edge", choices=("live", "truth"), default="live",
                        help="live edge box processes, or the boxes' messages made from the "
                        "ground truth (the server's logic alone)")
    parser.add_argument("--render", metavar="WxH", default=None,
                        help="override the scenario's render size, e.g. 320x180")
    parser.add_argument("--model", type=Path, default=None, help="ONNX model file of the boxes")
    parser.add_argument("--port", type=int, default=0,
                        help="the server's ingest port on 127.0.0.1 (0 = any free port)")
    parser.add_argument("--settle", type=float, default=15.0,
                        help="the server's settle window in seconds")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(handler=_run)


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise SystemExit(f"walkout demo: --render: expected WxH such as 320x180, got {text!r}"
                         ) from None
    return w, h


def _run(args: argparse.Namespace) -> int:
    from walkout.config import ConfigError
    from walkout.demo import DemoError, DemoOptions, run_demo
    from walkout.resources import configs_dir

    out = args.report.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    # Library warnings and logs go to a file beside the report, not over the progress bars.
    handler = logging.FileHandler(out.parent / f"{out.name}-demo.log", mode="w")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    logging.captureWarnings(True)
    scenario = args.scenario or configs_dir() / "scenarios" / "demo.yaml"
    opts = DemoOptions(scenario=scenario, out=out, seed=args.seed, shoppers=args.shoppers,
                       minutes=args.minutes, detections=args.detections, edge=args.edge,
                       render=_size(args.render) if args.render else None, model=args.model,
                       port=args.port, settle_s=args.settle, progress=not args.no_progress)
    try:
        result = run_demo(opts)
    except ConfigError as exc:
        print(f"walkout demo: FAIL {scenario}", file=sys.stderr)
        for issue in exc.issues:
            print(f"  {issue}", file=sys.stderr)
        return 2
    except (DemoError, ValueError) as exc:
        print(f"walkout demo: {exc}", file=sys.stderr)
        return 2
    s = result.summary
    for row in s["receipts"]:
        print(f"{row['account']:<12} {row['verdict']}")
    print(f"\n{s['accounts']} accounts left: {s['receipts_exact']} receipts issued and exact, "
          f"{s['wrong_charges']} issued wrong, {s['receipts_total'] - s['receipts_issued']} "
          f"held for review ({s['review_exact']} of them right), {s['missing_receipts']} "
          f"missing; IDF1 {s['idf1']}, HOTA {s['hota']}, reaches precision "
          f"{s['reach_precision']:.3f} recall {s['reach_recall']:.3f}; "
          f"{s['wall_seconds']:.0f} s ({s['detections']} detections)")
    for box, b in s["boxes"].items():
        if b["status"] != "ok":
            print(f"edge box {box}: {b['status']} (exit code {b['exit_code']}; log "
                  f"{b.get('log')})")
    print(f"summary: {out / 'summary.json'}   report: {out / 'report.html'}")
    # A receipt issued wrong is a wrong charge: that fails the demo.
    return 1 if s["wrong_charges"] else 0
