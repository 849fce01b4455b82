"""The server's end of the wire: a CURVE-authenticated ZeroMQ ROUTER that validates every
message, hands accepted ones to a durable store, and acknowledges them.

Per source the receiver keeps ``position`` = the highest seq stored. A message is

- **accepted** when its seq is ``position + 1`` (so every source is stored in order, with no
  holes, and "highest contiguous seq stored" is simply ``position``);
- a **duplicate** when its seq is ``<= position`` (a resend after a lost ack): dropped;
- a **gap** when its seq is beyond ``position + 1`` (something before it was lost when a
  connection dropped): dropped and reported; the ack it triggers carries ``gap=True`` so the
  sender goes back to ``position + 1`` at once (go-back-N);
- **refused** when it is not a valid message: wrong frame count, unknown topic, malformed or
  wrong-version body, a server-only type, or a ``src`` that is not its key's name. Refusals
  are logged with the reason and never stop the loop.

Accepted messages are collected into a batch (everything already waiting on the socket, up to
``batch_max``), stored with one :meth:`~walkout.wire.store.MessageStore.store` call, and only
then acknowledged: one ``ack`` per source per batch. If the store raises, nothing of the batch
is acknowledged and the sources resend it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import msgspec
import zmq

from walkout import protocol
from walkout.wire.keys import KeyPair, make_curve_server, start_key_gate
from walkout.wire.store import Accepted, MessageStore

log = logging.getLogger("walkout.wire.receiver")

_SERVER_ONLY = frozenset({b"ack", b"receipt"})
_MAX_KNOWN_CONNECTIONS = 10_000


@dataclass
class ReceiverStats:
    """Counters since start; every frame received ends in exactly one of the first four."""

    accepted: int = 0
    duplicates: int = 0
    gaps: int = 0
    refused: int = 0
    refused_by_reason: Counter[str] = field(default_factory=Counter)
    by_key: Counter[str] = field(default_factory=Counter)
    """messages received per sending key name ('' before the key is known)"""
    store_failures: int = 0
    batches: int = 0
    acks_sent: int = 0

    @property
    def received(self) -> int:
        return self.accepted + self.duplicates + self.gaps + self.refused


class _RateLimitedLog:
    """Log every event up to ``burst`` per ``interval_s``, then one summary per interval, so
    a flood of junk from one peer cannot flood the server's log."""

    def __init__(self, logger: logging.Logger, burst: int, interval_s: float) -> None:
        self.logger, self.burst, self.interval_s = logger, burst, interval_s
        self._window_start = 0.0
        self._logged = 0
        self._suppressed = 0

    def warning(self, msg: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._window_start >= self.interval_s:
            if self._suppressed:
                self.logger.warning("... and %d more like these in the last %.0f s (not logged)",
                                    self._suppressed, self.interval_s)
            self._window_start, self._logged, self._suppressed = now, 0, 0
        if self._logged < self.burst:
            self._logged += 1
            self.logger.warning(msg, *args)
        else:
            self._suppressed += 1


class Receiver:
    """Receive, validate, store and acknowledge; see the module docstring for the rules.

    Parameters
    ----------
    endpoint:
        ZeroMQ endpoint to bind, e.g. ``tcp://0.0.0.0:7700`` (the server config's
        ``ingest.endpoint``).
    store:
        Durable store of accepted messages (:class:`~walkout.wire.store.SqliteStore`).
    secret_key:
        The server's key pair (``keys.secret``).
    allowed_keys:
        Public key (Z85) -> key name of every source let in
        (:func:`~walkout.wire.keys.load_allowed_keys` of ``keys.allowed``).
    server_id:
        ``src`` of the acks this receiver sends.
    batch_max:
        Most messages stored in one transaction. Larger batches amortise the commit (and its
        disk flush) over more messages; smaller ones ack sooner and bound the work a failed
        store throws away.
    poll_s:
        How long the loop waits for traffic before it checks whether it was asked to stop;
        lower stops faster, higher wakes less often when idle.
    src_must_match_key:
        Refuse a message whose ``src`` is not the name of the key that sent it (one box cannot
        speak for another). Turn off only where several sources share one key.
    adopt_new_sources:
        A source the store has never seen is accepted from whatever seq it starts with (its
        earlier messages cannot be recovered anyway). Off: it must start at seq 1.
    max_message_bytes:
        Larger ZeroMQ messages make the peer's connection drop (a guard against memory abuse).
    log_burst, log_interval_s:
        At most ``log_burst`` refusals or gaps are logged one by one per ``log_interval_s``; the
        rest are counted in one summary line.
    on_batch:
        Called after each stored and acknowledged batch (for the server to wake its readers).
    """

    def __init__(self, endpoint: str, store: MessageStore, *, secret_key: KeyPair,
                 allowed_keys: dict[bytes, str], server_id: str = "server",
                 batch_max: int = 2000, poll_s: float = 0.1, src_must_match_key: bool = True,
                 adopt_new_sources: bool = True, max_message_bytes: int = 1 << 20,
                 log_burst: int = 50, log_interval_s: float = 10.0,
                 on_batch: Callable[[int], None] | None = None,
                 context: zmq.Context | None = None) -> None:
        if secret_key.secret is None:
            raise ValueError("secret_key: expected the server's secret key (NAME.key_secret)")
        if not allowed_keys:
            raise ValueError("allowed_keys: expected at least one public key; an empty list "
                             "refuses every source")
        if batch_max < 1:
            raise ValueError(f"batch_max: expected >= 1, got {batch_max}")
        self.endpoint = endpoint
        self.store = store
        self.server_id = server_id
        self.batch_max = batch_max
        self.poll_ms = max(1, int(poll_s * 1000))
        self.src_must_match_key = src_must_match_key
        self.adopt_new_sources = adopt_new_sources
        self.on_batch = on_batch
        self.stats = ReceiverStats()
        self._refusals = _RateLimitedLog(log, log_burst, log_interval_s)
        self._gap_log = _RateLimitedLog(log, log_burst, log_interval_s)
        self._own_context = context is None
        self._ctx = context or zmq.Context()
        self._auth, self._gate = start_key_gate(self._ctx, allowed_keys, endpoint)
        self._sock = self._ctx.socket(zmq.ROUTER)
        self._sock.linger = 0
        self._sock.maxmsgsize = max_message_bytes
        self._sock.rcvhwm = 100_000
        make_curve_server(self._sock, secret_key)
        self._sock.bind(endpoint)
        self.positions: dict[str, int] = dict(store.positions())
        self._route: dict[str, bytes] = {}
        self._rid_names: dict[bytes, str] = {}
        self._ack_seq = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        log.info("receiving on %s; %d sources known from the store", endpoint,
                 len(self.positions))

    @property
    def last_endpoint(self) -> str:
        """The bound endpoint (resolves ``tcp://127.0.0.1:*`` to the port chosen)."""
        return self._sock.last_endpoint.decode()

    @property
    def refused_keys(self) -> int:
        """Connections refused for an unknown CURVE key."""
        return self._gate.refused

    # --- running -------------------------------------------------------------------------------

    def start(self) -> Receiver:
        """Run the loop in a background thread."""
        self._thread = threading.Thread(target=self.run, name="walkout-receiver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def close(self) -> None:
        self.stop()
        self._sock.close(0)
        self._auth.stop()
        if self._own_context:
            self._ctx.term()

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(self) -> None:
        """The receive loop, until :meth:`stop`. Never raises for anything a peer sends."""
        sock = self._sock
        while not self._stop.is_set():
            if not sock.poll(self.poll_ms):
                continue
            try:
                self._serve_batch()
            except Exception:
                # A bug of ours must not take the server's ingest down: log it loudly and go
                # on. Nothing of the batch was acknowledged, so the sources will resend it.
                self.stats.store_failures += 1
                log.exception("receiver batch failed; nothing of it acknowledged")

    # --- one batch -----------------------------------------------------------------------------

    def _serve_batch(self) -> None:
        sock = self._sock
        batch: list[Accepted] = []
        touched: dict[str, bool] = {}  # src -> gap seen
        tentative: dict[str, int] = {}
        positions = self.positions
        decoders = protocol._decoders
        stats = self.stats
        recv = sock.recv
        rid_names = self._rid_names
        # Bounded by messages handled, not accepted, so a flood of junk cannot hold back the
        # acks of the good messages already in this batch.
        for _ in range(self.batch_max):
            try:
                rid = recv(zmq.NOBLOCK)  # a ROUTER's first frame: the routing id
            except zmq.Again:
                break
            # The rest as frames: ``Frame.more`` is a direct read, where ``sock.rcvmore`` and
            # ``recv_multipart`` go through pyzmq's generic option lookup (~2 us a frame).
            frame = recv(copy=False)  # a ROUTER always delivers at least one after the id
            key = rid_names.get(rid)
            if key is None:
                key = self._learn_key(rid, frame)
            stats.by_key[key] += 1
            if not frame.more:
                self._refuse(rid, "expected 2 frames [topic, body], got 1")
                continue
            topic = frame.bytes
            frame = recv(copy=False)
            body = frame.bytes
            if frame.more:
                extra = 0
                while frame.more:
                    frame = recv(copy=False)
                    extra += 1
                self._refuse(rid, f"expected 2 frames [topic, body], got {2 + extra}")
                continue
            decoder = decoders.get(topic)
            if decoder is None or topic in _SERVER_ONLY:
                self._refuse(rid, f"topic {topic[:40]!r} is not one a source may send")
                continue
            try:
                message = decoder.decode(body)
            except (msgspec.ValidationError, msgspec.DecodeError):
                try:
                    protocol.decode(body, topic)  # the slow path, for the exact reason
                    reason = "refused by the decoder"
                except protocol.ProtocolError as exc:
                    reason = exc.reason
                self._refuse(rid, reason)
                continue
            src, seq = message.src, message.seq
            if seq < 1:
                self._refuse(rid, f"invalid {message.type}: seq must be >= 1 on the wire - at `$.seq`")
                continue
            if self.src_must_match_key and key != src:
                self._refuse(rid, f"src '{src}' is not the name of the key that sent it "
                                  f"('{key}')")
                continue
            self._route[src] = rid
            position = tentative.get(src)
            if position is None:
                position = positions.get(src)
                if position is None:
                    position = seq - 1 if self.adopt_new_sources else 0
                    # Remember where it started even if this batch fails to store, so a
                    # later message cannot move the start past the ones being resent.
                    positions[src] = position
                    log.info("new source '%s' starts at seq %d", src, seq)
            if seq == position + 1:
                batch.append((message, body))
                tentative[src] = seq
                touched.setdefault(src, False)
            elif seq <= position:
                stats.duplicates += 1
                touched.setdefault(src, False)
            else:
                stats.gaps += 1
                touched[src] = True
                self._gap_log.warning("gap from '%s': got seq %d, expected %d (dropped; the "
                                      "sender resends from %d)", src, seq, position + 1,
                                      position + 1)
        if batch:
            try:
                self.store.store(batch)
            except Exception:
                stats.store_failures += 1
                log.exception("store failed for a batch of %d messages; not acknowledged, "
                              "the sources will resend", len(batch))
                # Tell them now (a gap ack makes a sender go back at once) rather than let
                # them wait for their ack timeout.
                for src in touched:
                    self._send_ack(src, True)
                return
            positions.update(tentative)
            stats.accepted += len(batch)
            stats.batches += 1
        for src, gap in touched.items():
            self._send_ack(src, gap)
        if batch and self.on_batch is not None:
            self.on_batch(len(batch))

    def _learn_key(self, rid: bytes, frame: zmq.Frame) -> str:
        """The key name of a new connection, from its first message's metadata."""
        if len(self._rid_names) >= _MAX_KNOWN_CONNECTIONS:
            # Every reconnection gets a new routing id; forget old ones now and then (a live
            # connection re-learns its key name from its next message).
            self._rid_names.clear()
        # The ZAP handler set User-Id to the name of the key this connection proved.
        name = frame.get("User-Id") or ""
        self._rid_names[rid] = name
        return name

    def _refuse(self, rid: bytes, reason: str) -> None:
        stats = self.stats
        stats.refused += 1
        stats.refused_by_reason[reason.split(":", 1)[0][:60]] += 1
        self._refusals.warning("refused a message from '%s': %s",
                               self._rid_names.get(rid, "?"), reason)

    def _send_ack(self, src: str, gap: bool) -> None:
        rid = self._route.get(src)
        position = self.positions.get(src, 0)
        if rid is None:
            return
        self._ack_seq += 1
        ack = protocol.Ack(src=self.server_id, seq=self._ack_seq, t_ns=time.time_ns(),
                           source=src, upto=position, gap=gap)
        try:
            # A ROUTER drops a message for a peer that is gone; the source resends and gets
            # a fresh ack on its next connection.
            self._sock.send_multipart([rid, b"ack", protocol.encode(ack)], zmq.NOBLOCK)
            self.stats.acks_sent += 1
        except zmq.Again:
            pass
