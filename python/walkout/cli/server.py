"""``walkout server --config SERVER.yaml``: run the store server until interrupted."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "server", help="run the store server: ingest, sessions, carts, receipts, HTTP API")
    parser.add_argument("--config", type=Path, required=True, metavar="SERVER.yaml",
                        help="a kind: server file (validated with its store before start)")
    parser.add_argument("--http-port", type=int, default=None,
                        help="override http.port (0 = any free port, printed at start)")
    parser.add_argument("--settle-window", type=float, default=None, metavar="S",
                        help="override settle_window_s")
    parser.add_argument("--max-source-lag", type=float, default=None, metavar="S",
                        help="longest the tracker waits for a silent edge box (default 10)")
    parser.add_argument("--lost-session", type=float, default=None, metavar="S",
                        help="end a session whose shoppers were lost in the store (or that never "
                        "got one) after S seconds, receipt to review (default 120)")
    parser.add_argument("--sync", choices=("FULL", "NORMAL"), default="FULL",
                        help="SQLite durability: FULL survives a power cut, NORMAL a crash")
    parser.add_argument("--log-level", default="INFO")
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from walkout.config import ConfigError
    from walkout.config.loader import load_server
    from walkout.server.app import StoreServer
    from walkout.server.core import CoreSettings

    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        loaded = load_server(args.config)
    except ConfigError as exc:
        print(f"FAIL {args.config}", file=sys.stderr)
        for issue in exc.issues:
            print(f"  {issue}", file=sys.stderr)
        return 2
    cfg = loaded.config
    settings = CoreSettings(settle_window_s=cfg.settle_window_s,
                            review_threshold=cfg.review_threshold,
                            clock_skew_tolerance_s=cfg.clock_skew_tolerance_s)
    if args.settle_window is not None:
        settings = replace(settings, settle_window_s=args.settle_window)
    if args.max_source_lag is not None:
        settings = replace(settings, max_source_lag_s=args.max_source_lag)
    if args.lost_session is not None:
        settings = replace(settings, lost_session_s=args.lost_session)
    try:
        server = StoreServer(loaded, settings=settings, http_port=args.http_port,
                             synchronous=args.sync).start()
    except (OSError, ValueError) as exc:
        print(f"walkout server: cannot start: {exc}", file=sys.stderr)
        return 1
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"walkout server ready: ingest {server.ingest_endpoint} publish "
          f"{server.publish_endpoint} http {server.http_url}", flush=True)
    stop.wait()
    server.stop()
    return 0
