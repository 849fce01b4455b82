"""Peer processes for the wire's fault tests: ``receiver`` and ``sender`` as real processes,
so the tests can SIGKILL them mid-stream."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from walkout.wire import Receiver, Sender, SqliteStore
from wire_support import FAST_RECEIVER, FAST_SENDER, numbered, sender_args, server_args


def _receiver(args: argparse.Namespace) -> int:
    store = SqliteStore(args.db)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    receiver = Receiver(
        args.endpoint,
        store,
        **server_args(Path(args.keys), *args.allowed.split(",")),
        **FAST_RECEIVER,
    )
    receiver.start()
    print("ready", receiver.last_endpoint, flush=True)
    stop.wait()
    receiver.close()
    store.close()
    return 0


def _sender(args: argparse.Namespace) -> int:
    with Sender(
        args.endpoint, args.src, args.spool, **sender_args(Path(args.keys), args.src), **FAST_SENDER
    ) as sender:
        print("ready", flush=True)
        for k in range(args.first, args.first + args.count):
            seq = sender.send(numbered(args.src, k))
            print("accepted", seq, k, flush=True)
        ok = sender.flush(args.flush_s)
        print("flushed" if ok else "not-flushed", flush=True)
        return 0 if ok else 3


def main() -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="role", required=True)
    r = sub.add_parser("receiver")
    r.add_argument("endpoint")
    r.add_argument("db", type=Path)
    r.add_argument("keys")
    r.add_argument("allowed")
    r.set_defaults(run=_receiver)
    s = sub.add_parser("sender")
    s.add_argument("endpoint")
    s.add_argument("src")
    s.add_argument("spool", type=Path)
    s.add_argument("keys")
    s.add_argument("--first", type=int, default=1)
    s.add_argument("--count", type=int, default=1000)
    s.add_argument("--flush-s", type=float, default=20.0)
    s.set_defaults(run=_sender)
    args = parser.parse_args()
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
