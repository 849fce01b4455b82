"""The replay player: play a recorded or simulated run to a store server over real sockets,
exactly as the gates, shelf gateways and edge boxes would: one :class:`walkout.wire.Sender`
per source, each with its own CURVE key, sequence numbers and on-disk spool.

A run folder is a simulator run (see :mod:`walkout.replay.sim_truth`) or holds
``messages.jsonl``: one :mod:`walkout.protocol` body per line (``seq`` is ignored: each
sender numbers its own), in any order. Times are shifted so the run starts now;
durations are kept, and ``speed`` only changes how fast they are sent (a server takes the
later of its clock and the newest event time as "now", so a fast replay is not held back).

After the last message every edge box keeps sending empty framesets for ``tail_s`` seconds of
run time, as a real box does when the store is empty, so the server's clock moves on and the
last receipts are issued.

Faults, for testing the server (:class:`Faults`): duplicates (already acknowledged messages
sent again on a second connection with the same key), reordering within a window, and the
outage of one source (its sender is cut off; what it produces meanwhile waits in its spool
and is sent when the link is back).
"""

from __future__ import annotations

import logging
import random
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import msgspec
import zmq

from walkout import protocol

log = logging.getLogger("walkout.replay")
_NS = 1_000_000_000


@dataclass(frozen=True)
class Outage:
    src: str
    start_s: float
    """when the link drops, seconds of run time after the first message"""
    length_s: float
    """how long it stays down, wall seconds"""


@dataclass(frozen=True)
class Faults:
    duplicate_fraction: float = 0.0
    """share of messages sent a second time after they were acknowledged"""
    reorder_window_s: float = 0.0
    """messages are shuffled within windows of this much run time"""
    outages: tuple[Outage, ...] = ()
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.duplicate_fraction <= 1.0:
            raise ValueError("duplicate_fraction: expected 0..1")
        if self.reorder_window_s < 0:
            raise ValueError("reorder_window_s: expected seconds >= 0")


@dataclass
class ReplayReport:
    sent: dict[str, int] = field(default_factory=dict)
    duplicates_sent: int = 0
    first_ns: int = 0
    """the run's first event time after shifting"""
    shift_ns: int = 0
    """added to every recorded time"""
    wall_s: float = 0.0
    flushed: bool = False


def load_messages_file(path: Path) -> list[protocol.Message]:
    """Every message of a JSON-lines file (one :mod:`walkout.protocol` body per line)."""
    decoder = msgspec.json.Decoder(protocol.Message)
    out: list[protocol.Message] = []
    for n, line in enumerate(path.read_bytes().splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append(decoder.decode(line))
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise ValueError(f"{path}:{n}: not a walkout message ({exc})") from None
    return out


def load_run(run_dir: Path | str,
             edge: Literal["truth", "oracle"] = "truth") -> list[protocol.Message]:
    """The messages of a run folder, in time order: a simulator run (``run.json``; its gate
    scans and weight changes, and the edge boxes' tracks, reaches and dwells made from its
    ground truth (``edge="truth"``, :mod:`walkout.replay.sim_truth`) or by the real edge
    pipeline on its oracle detections (``edge="oracle"``, :mod:`walkout.replay.sim_edge`)),
    or a folder with ``messages.jsonl``."""
    run_dir = Path(run_dir)
    if edge not in ("truth", "oracle"):
        raise ValueError(f"edge: expected 'truth' or 'oracle', got {edge!r}")
    if (run_dir / "run.json").is_file():
        if edge == "oracle":
            from walkout.replay.sim_edge import messages_through_edge

            out = messages_through_edge(run_dir)
        else:
            from walkout.replay.sim_truth import messages_from_truth

            out = messages_from_truth(run_dir)
    elif (run_dir / "messages.jsonl").is_file():
        out = load_messages_file(run_dir / "messages.jsonl")
    else:
        raise ValueError(f"run_dir: expected a simulator run (run.json) or a folder with "
                         f"messages.jsonl; {run_dir} has neither")
    out.sort(key=lambda m: (m.t_ns, m.src))
    return out


def _shift(message: protocol.Message, dt: int) -> protocol.Message:
    """The same message ``dt`` ns later (every ``*_ns`` field moves together)."""
    changes = {"t_ns": message.t_ns + dt}
    for name in ("start_ns", "end_ns", "enter_ns", "leave_ns"):
        if hasattr(message, name):
            changes[name] = getattr(message, name) + dt
    return msgspec.structs.replace(message, **changes)


def _dead_endpoint() -> str:
    """A local TCP endpoint nobody listens on (a link that is down)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"tcp://127.0.0.1:{port}"


class _Source:
    """One source's sender, with the outage switch and the duplicate side channel."""

    def __init__(self, src: str, endpoint: str, keys_dir: Path, spool_dir: Path,
                 server_public: bytes, ctx: zmq.Context) -> None:
        from walkout.wire import load_secret_key

        key_file = keys_dir / f"{src}.key_secret"
        if not key_file.is_file():
            raise ValueError(f"keys_dir: no secret key for source '{src}' ({key_file}); create "
                             f"it with `walkout keys generate {src}` and allow {src}.key on the "
                             "server")
        self.src = src
        self.endpoint = endpoint
        self.key = load_secret_key(key_file)
        self.server_public = server_public
        self.spool_dir = spool_dir / src
        self.ctx = ctx
        self.down = False
        self.sent = 0
        self.sender = self._open(endpoint)
        self._dup: zmq.Socket | None = None

    def _open(self, endpoint: str):
        from walkout.wire import Sender

        return Sender(endpoint, self.src, self.spool_dir, secret_key=self.key,
                      server_public_key=self.server_public, ack_timeout_s=1.0,
                      heartbeat_s=0.5, reconnect_max_s=0.5)

    def send(self, message: protocol.Message) -> int:
        self.sent += 1
        return self.sender.send(message)

    def link(self, up: bool) -> None:
        """Cut the link (keep producing into the spool) or bring it back (spool replays)."""
        if up == (not self.down):
            return
        self.sender.close()
        self.down = not up
        self.sender = self._open(self.endpoint if up else _dead_endpoint())

    def duplicate(self, message: protocol.Message, seq: int) -> None:
        from walkout.wire.keys import make_curve_client

        if self._dup is None:
            self._dup = self.ctx.socket(zmq.DEALER)
            self._dup.linger = 0
            make_curve_client(self._dup, self.key, self.server_public)
            self._dup.connect(self.endpoint)
        frames = protocol.to_frames(msgspec.structs.replace(message, seq=seq))
        self._dup.send_multipart(frames)
        while self._dup.poll(0):  # the receiver acks these too; nobody needs them
            self._dup.recv_multipart()

    def close(self, flush_s: float) -> bool:
        ok = self.sender.flush(flush_s) if not self.down else False
        self.sender.close()
        if self._dup is not None:
            self._dup.close(0)
        return ok


def replay(messages: Sequence[protocol.Message], endpoint: str, keys_dir: Path | str,
           server_public_key: Path | str, spool_dir: Path | str, *, speed: float = 1.0,
           tail_s: float = 20.0, tail_fps: float = 10.0, heartbeat_s: float = 1.0,
           faults: Faults | None = None, flush_s: float = 60.0) -> ReplayReport:
    """Send ``messages`` to the server at ``endpoint``; see the module docstring.

    ``keys_dir`` holds ``SRC.key_secret`` for every source in the run; ``server_public_key``
    is the server's ``.key`` file; ``spool_dir`` gets one spool folder per source (keep it to
    continue the sources' sequence numbers in a later replay to the same database). ``speed``
    above 1 sends faster than the recorded time; ``flush_s`` is how long to wait at the end
    for the server to acknowledge everything. Every source that is not an edge box (gates,
    shelf gateways) sends a ``health`` report every ``heartbeat_s`` seconds of run time, as a
    real one does: it tells the server that source has sent everything up to then (0 = none;
    a fast replay without them can have receipts decided before a slower sender delivered).
    """
    faults = faults or Faults()
    from walkout.wire import load_key_pair

    if speed <= 0:
        raise ValueError(f"speed: expected > 0, got {speed}")
    if not messages:
        raise ValueError("messages: expected at least one message")
    report = ReplayReport()
    keys_dir, spool_dir = Path(keys_dir), Path(spool_dir)
    server_public = load_key_pair(server_public_key).public
    t_first = min(m.t_ns for m in messages)
    t_last = max(m.t_ns for m in messages)
    report.shift_ns = time.time_ns() - t_first
    report.first_ns = t_first + report.shift_ns
    boxes = sorted({m.src for m in messages if isinstance(m, protocol.Tracks)})
    step = int(_NS / tail_fps)
    tail = [protocol.Tracks(src=b, t_ns=t, tracks=[])
            for t in range(t_last + step, t_last + int(tail_s * _NS) + 1, step) for b in boxes]
    if heartbeat_s < 0:
        raise ValueError(f"heartbeat_s: expected seconds >= 0, got {heartbeat_s}")
    beats: list[protocol.Message] = []
    if heartbeat_s > 0:
        beat = int(heartbeat_s * _NS)
        end = t_last + int(tail_s * _NS)
        for src in sorted({m.src for m in messages} - set(boxes)):
            beats.extend(protocol.Health(src=src, t_ns=t) for t in range(t_first, end + 1, beat))
    plan = sorted((_shift(m, report.shift_ns) for m in (*messages, *tail, *beats)),
                  key=lambda m: m.t_ns)
    rng = random.Random(faults.seed)
    if faults.reorder_window_s > 0:
        window = int(faults.reorder_window_s * _NS)
        plan.sort(key=lambda m: ((m.t_ns - report.first_ns) // window, rng.random()))
    ctx = zmq.Context()
    sources = {src: _Source(src, endpoint, keys_dir, spool_dir, server_public, ctx)
               for src in sorted({m.src for m in plan})}
    outages = sorted(faults.outages, key=lambda o: o.start_s)
    for o in outages:
        if o.src not in sources:
            raise ValueError(f"faults.outages: no source '{o.src}' in the run")
    restore: dict[str, float] = {}
    sent_log: list[tuple[protocol.Message, int]] = []
    wall0 = time.monotonic()
    try:
        for message in plan:
            run_s = (message.t_ns - report.first_ns) / _NS
            due = wall0 + max(0.0, run_s) / speed
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
            now = time.monotonic()
            for o in outages:
                if o.src not in restore and o.start_s <= run_s and not sources[o.src].down:
                    log.info("outage: %s is cut off for %.1f s", o.src, o.length_s)
                    sources[o.src].link(False)
                    restore[o.src] = now + o.length_s
            for src, until in list(restore.items()):
                if until is not None and now >= until and sources[src].down:
                    log.info("outage over: %s reconnects, its spool replays", src)
                    sources[src].link(True)
            seq = sources[message.src].send(message)
            if faults.duplicate_fraction and rng.random() < faults.duplicate_fraction:
                sent_log.append((message, seq))
            # Duplicates of earlier, surely acknowledged messages (a second or more ago).
            while sent_log and len(sent_log) > 50:
                old, old_seq = sent_log.pop(0)
                if not sources[old.src].down:
                    sources[old.src].duplicate(old, old_seq)
                    report.duplicates_sent += 1
        for src, until in restore.items():
            if sources[src].down:
                time.sleep(max(0.0, until - time.monotonic()))
                sources[src].link(True)
        for old, old_seq in sent_log:
            sources[old.src].duplicate(old, old_seq)
            report.duplicates_sent += 1
    finally:
        report.flushed = all([s.close(flush_s) for s in sources.values()])
        report.sent = {s.src: s.sent for s in sources.values()}
        ctx.term()
    report.wall_s = time.monotonic() - wall0
    return report
