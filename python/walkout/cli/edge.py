"""``walkout edge``: run one edge box, on its live cameras or over a simulator run.

    walkout edge --config EDGE.yaml                                   # live cameras
    walkout edge --run RUN_DIR --box edge-a --detections oracle \\
        --server tcp://HOST:5555 --secret-key K.key_secret --server-key S.key --spool DIR
    walkout edge --run RUN_DIR --config EDGE.yaml --detections model  # keys, spool, model
    walkout edge --run RUN_DIR --box edge-a --out messages.jsonl      # no server: a file
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "edge", help="run an edge box: cameras (or a simulator run) -> tracks, reaches, health")
    parser.add_argument("--config", type=Path, metavar="EDGE.yaml",
                        help="a kind: edge file (validated with its store before start); "
                        "with --run it supplies the box, model, keys, spool and server")
    parser.add_argument("--run", type=Path, metavar="RUN_DIR",
                        help="replay a simulator run (walkout sim) instead of live cameras")
    parser.add_argument("--box", help="with --run: the edge box whose cameras are replayed "
                        "(default: the config's box, else every camera of the run)")
    parser.add_argument("--cameras", nargs="+", metavar="CAM",
                        help="with --run: replay exactly these cameras")
    parser.add_argument("--detections", choices=("oracle", "model"), default="oracle",
                        help="with --run: the run's oracle detections, or its videos through "
                        "the camera sources and the model of --config")
    parser.add_argument("--server", metavar="ENDPOINT",
                        help="server ingest endpoint (overrides the config's)")
    parser.add_argument("--secret-key", type=Path, metavar="FILE",
                        help="with --run and no --config: this box's secret key file")
    parser.add_argument("--server-key", type=Path, metavar="FILE",
                        help="with --run and no --config: the server's public key file")
    parser.add_argument("--spool", type=Path, metavar="DIR",
                        help="spool folder (overrides the config's; needed with --run and "
                        "no --config)")
    parser.add_argument("--out", type=Path, metavar="FILE.jsonl",
                        help="with --run: write the messages to this file instead of a server")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="file cameras: playback speed (0 = as fast as possible)")
    parser.add_argument("--health-interval", type=float, default=5.0, metavar="S",
                        help="seconds between health messages")
    parser.add_argument("--stats", type=Path, metavar="FILE.json",
                        help="with --run: write the box's counters at the end (framesets, "
                        "messages, per-camera frames, model images and seconds)")
    parser.add_argument("--metrics-port", type=int, default=None, metavar="PORT",
                        help="live cameras: serve /metrics (Prometheus) and /health (JSON, with "
                        "the onnxruntime provider) on 127.0.0.1:PORT")
    parser.add_argument("--log-level", default="INFO")
    parser.set_defaults(handler=_run)


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    return stop


def _run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.run is None and args.config is None:
        print("walkout edge: expected --config EDGE.yaml (live) or --run RUN_DIR (replay)",
              file=sys.stderr)
        return 2
    from walkout.edge.supervisor import StartError

    try:
        return _replay(args) if args.run is not None else _live(args)
    except StartError as exc:
        print(f"walkout edge: cannot start: {exc}", file=sys.stderr)
        return 2


def _live(args: argparse.Namespace) -> int:
    from walkout.edge.supervisor import EdgeSupervisor, SupervisorOptions

    options = SupervisorOptions(health_interval_s=args.health_interval, spool_dir=args.spool,
                                endpoint=args.server,
                                camera_speed=args.speed if args.speed > 0 else None,
                                metrics_port=args.metrics_port)
    supervisor = EdgeSupervisor(args.config, options)
    stop = _stop_on_signals()
    print(f"walkout edge ready: box {supervisor.edge.config.box}", flush=True)
    done = supervisor.run(stop)
    print(f"walkout edge stopped after {done} framesets", flush=True)
    return 0


def _replay(args: argparse.Namespace) -> int:
    from walkout.edge.replay import replay_run
    from walkout.edge.supervisor import StartError, load_for_start

    edge = load_for_start(args.config) if args.config is not None else None
    box = args.box or (edge.config.box if edge is not None else None)
    model = model_path = None
    if args.detections == "model":
        if edge is None:
            raise StartError("--detections model needs --config EDGE.yaml (its model section)")
        model, model_path = edge.config.model, edge.resolve(edge.config.model.path)
    sink, close = _sink(args, edge, box)
    stop = _stop_on_signals()
    stats: dict[str, object] = {}
    try:
        result = replay_run(args.run, box=box, cameras=args.cameras, detections=args.detections,
                            emit=sink, model=model, model_path=model_path, keep_results=False,
                            stop=stop, speed=args.speed if args.speed > 0 else None,
                            health_interval_s=args.health_interval, stats=stats)
    except ValueError as exc:
        raise StartError(str(exc)) from None
    finally:
        close()
    counts: dict[str, int] = {}
    for m in result.messages:
        counts[m.type] = counts.get(m.type, 0) + 1
    print("walkout edge: replayed " + ", ".join(f"{n} {t}" for t, n in sorted(counts.items())),
          flush=True)
    if args.stats is not None:
        import json

        stats.update(box=box, detections=args.detections, framesets=counts.get("tracks", 0),
                     messages=counts)
        args.stats.write_text(json.dumps(stats, indent=1, default=str))
    return 0


def _sink(args: argparse.Namespace, edge: object, box: str | None) -> tuple:
    """(emit, close) for --out or the wire sender."""
    from walkout import protocol
    from walkout.edge.supervisor import StartError

    if args.out is not None:
        handle = args.out.open("wb")

        def write(message: protocol.Message) -> None:
            handle.write(protocol.encode(message) + b"\n")

        return write, handle.close
    from walkout.wire.keys import load_key_pair, load_secret_key
    from walkout.wire.sender import Sender

    if edge is not None:
        config = edge.config  # type: ignore[attr-defined]
        endpoint = args.server or config.server.endpoint
        secret = edge.resolve(config.keys.secret)  # type: ignore[attr-defined]
        server_key = edge.resolve(config.server.server_public_key)  # type: ignore[attr-defined]
        spool = args.spool or edge.resolve(config.spool.dir)  # type: ignore[attr-defined]
    else:
        missing = [name for name, v in (("--server", args.server), ("--secret-key", args.secret_key),
                                        ("--server-key", args.server_key), ("--spool", args.spool))
                   if v is None]
        if missing:
            raise StartError(f"--run without --config needs {', '.join(missing)} (or --out FILE)")
        endpoint, secret, server_key, spool = args.server, args.secret_key, args.server_key, args.spool
    for what, path in (("secret key", secret), ("server key", server_key)):
        if not Path(path).is_file():
            raise StartError(f"{what} file {path} not found (create it with `walkout keys generate`)")
    sender = Sender(endpoint, box or "replay", spool, secret_key=load_secret_key(secret),
                    server_public_key=load_key_pair(server_key).public)

    def close() -> None:
        if not sender.flush(10.0):
            logging.getLogger("walkout.edge").warning(
                "server did not acknowledge everything; the rest stays in the spool %s", spool)
        sender.close()

    return sender.send, close
