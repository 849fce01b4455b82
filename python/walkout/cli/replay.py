"""``walkout replay RUN_DIR --server ENDPOINT [--speed X]``: play a run to a store server."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


def _outage(text: str) -> object:
    from walkout.replay import Outage

    try:
        src, start, length = text.split(":")
        return Outage(src, float(start), float(length))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected SRC:START_S:LENGTH_S (e.g. edge-a:10:3), got {text!r}") from None


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "replay", help="play a run's gate scans, weight changes, tracks and reaches to a server")
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR",
                        help="run folder with messages.jsonl")
    parser.add_argument("--server", required=True, metavar="ENDPOINT",
                        help="the server's ingest endpoint, e.g. tcp://127.0.0.1:5555")
    parser.add_argument("--edge", choices=("truth", "oracle"), default="truth",
                        help="simulator runs: the edge boxes' messages from the ground truth, "
                        "or from the real edge pipeline on the run's oracle detections")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="times faster than recorded (durations in the messages are kept)")
    parser.add_argument("--keys", type=Path, default=Path("keys"), metavar="DIR",
                        help="folder with SRC.key_secret of every source in the run")
    parser.add_argument("--server-key", type=Path, default=None, metavar="FILE",
                        help="the server's public key file (default: DIR/server.key)")
    parser.add_argument("--spool", type=Path, default=None, metavar="DIR",
                        help="spool folders of the sources (default RUN_DIR/spool); keep it "
                        "to continue sequence numbers in a later replay")
    parser.add_argument("--tail", type=float, default=20.0, metavar="S",
                        help="seconds of empty framesets after the run (lets receipts settle)")
    parser.add_argument("--heartbeat", type=float, default=1.0, metavar="S",
                        help="health reports of gates and shelf gateways every S seconds of run "
                        "time, as real ones send them (0 = none)")
    parser.add_argument("--duplicates", type=float, default=0.0, metavar="FRACTION",
                        help="fault: send this share of messages twice")
    parser.add_argument("--reorder", type=float, default=0.0, metavar="S",
                        help="fault: shuffle messages within windows of S seconds")
    parser.add_argument("--outage", type=_outage, action="append", default=[],
                        metavar="SRC:START_S:LENGTH_S", help="fault: cut one source off a while")
    parser.add_argument("--seed", type=int, default=0)
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from walkout.replay import Faults, load_run, replay

    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        messages = load_run(args.run_dir, edge=args.edge)
        report = replay(
            messages, args.server, args.keys, args.server_key or args.keys / "server.key",
            args.spool or args.run_dir / "spool", speed=args.speed, tail_s=args.tail,
            heartbeat_s=args.heartbeat,
            faults=Faults(args.duplicates, args.reorder, tuple(args.outage), args.seed))
    except ValueError as exc:
        print(f"walkout replay: {exc}", file=sys.stderr)
        return 2
    total = sum(report.sent.values())
    print(f"replayed {total} messages from {len(report.sent)} sources in {report.wall_s:.1f} s "
          f"({report.duplicates_sent} duplicates); shift {report.shift_ns} ns; "
          f"{'all acknowledged' if report.flushed else 'NOT all acknowledged'}", flush=True)
    return 0 if report.flushed else 1
