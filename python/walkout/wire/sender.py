"""The sending end of the wire, for any source: edge box, entry gate, shelf gateway, replay.

:meth:`Sender.send` stamps the next ``seq`` on the message, appends it to the on-disk
:class:`~walkout.wire.spool.Spool` and returns: from then on the message is the wire's
responsibility and survives a ``kill -9`` of this process. A background thread sends spooled
messages over a CURVE-encrypted ZeroMQ DEALER (``[topic, body]``), deletes them when the
server acknowledges them, and goes back to the first unacknowledged message ("go-back-N") when

- the connection to the server drops (what was in flight on it may be lost),
- the server reports a gap (``ack.gap``: something was lost in a reconnect), or
- nothing was acknowledged for ``ack_timeout_s`` while messages were outstanding.

The receiver drops what it already has by (src, seq), so each message is stored exactly once.

**When the spool is full** (policy): the new message is refused — :meth:`send` raises
:class:`~walkout.wire.spool.SpoolFull`, no seq is consumed and nothing already accepted is ever
dropped. ``tracks`` and ``health`` (frequent, and superseded by the next one) are refused once
the spool is ``1 - event_reserve`` full, so the last part of the spool stays free for the
events a receipt depends on (``reach``, ``dwell``, ``weight``, ``checkin``). The first refusal
logs an ERROR (the alarm) and sets :attr:`SenderStats.spool_full`, which :meth:`health_fields`
reports in the next ``health`` message; a WARNING says when there is room again.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import msgspec
import zmq
from zmq.utils.monitor import recv_monitor_message

from walkout import protocol
from walkout.wire.keys import KeyPair, make_curve_client
from walkout.wire.spool import Spool, SpoolFull

log = logging.getLogger("walkout.wire.sender")

_SUPERSEDED_TYPES = frozenset({"tracks", "health"})
_TOPIC_BYTES = {name: name.encode() for name in protocol.MESSAGE_TYPES}
_SNDMORE_NOBLOCK = zmq.SNDMORE | zmq.NOBLOCK
_raw_send = zmq.backend.Socket.send
_wake_ids = itertools.count()


@dataclass
class SenderStats:
    last_seq: int
    acked: int
    pending: int
    spool_fill: float
    spool_bytes: int
    spool_full: bool
    """a message was refused for lack of room since the last :meth:`Sender.health_fields`"""
    refused: int
    sent: int
    resent: int
    connected: bool
    auth_failures: int


class Sender:
    """Reliable, ordered, exactly-once (with the receiver) delivery of one source's messages.

    Parameters
    ----------
    endpoint:
        The server's ingest endpoint (edge config ``server.endpoint``).
    src:
        This source's id; every message sent must carry it. Name its key file after it.
    spool_dir:
        The spool folder (edge config ``spool.dir``); it holds the seq counter, so never share
        it between sources and never delete it to "fix" something (seqs would be reused and
        the server would drop the new messages as duplicates).
    secret_key:
        This source's key pair (edge config ``keys.secret``).
    server_public_key:
        The server's public key, Z85 (edge config ``server.server_public_key``).
    max_spool_bytes:
        Spool size limit (edge config ``spool.max_mb``); see :class:`~walkout.wire.spool.Spool`.
    durability:
        ``"process"`` survives a kill of this process, ``"power"`` a power cut too (a disk
        flush per :meth:`send` call: batch with :meth:`send_many`).
    window:
        Most messages sent but not yet acknowledged. Larger keeps a long, fast link busy;
        smaller bounds what one go-back-N resends and, with many sources, how long the
        server's queue (and so its ack delay) can grow: sources x window messages.
    ack_timeout_s:
        Outstanding messages with no ack progress for this long are sent again. This is the
        last resort: a dropped connection, a gap and a failed store are all reported at once
        (disconnect event, ``ack.gap``). Lower recovers sooner from a silent loss; too low
        and a merely busy server (queue of sources x window messages) is flooded with resends.
    gap_holdoff_s:
        After going back for a gap, further gap reports are ignored this long (the messages
        already in flight would each report the same gap).
    heartbeat_s:
        ZeroMQ heartbeat interval; a silent server is declared gone after three of them, which
        triggers reconnection and a resend.
    reconnect_s, reconnect_max_s:
        First and longest wait between reconnection attempts (ZeroMQ backs off in between).
    event_reserve:
        Fraction of the spool kept for events (reach, dwell, weight, checkin) when it fills:
        tracks and health are refused above ``1 - event_reserve``.
    linger_s:
        When the thread has sent everything, it waits this long for more before it asks
        :meth:`send` to wake it. Longer sends a busy source's messages in bigger bursts with
        fewer wake-ups (less CPU); it is also the most a message can wait to go out.
    ack_save_s:
        How often the acknowledged seq is saved in the spool (only saves resending after a
        restart; losing it costs duplicates the receiver drops).
    """

    def __init__(self, endpoint: str, src: str, spool_dir: Path | str, *, secret_key: KeyPair,
                 server_public_key: bytes, max_spool_bytes: int = 256 << 20,
                 durability: Literal["process", "power"] = "process", window: int = 2000,
                 ack_timeout_s: float = 10.0, gap_holdoff_s: float = 1.0,
                 heartbeat_s: float = 1.0, reconnect_s: float = 0.1,
                 reconnect_max_s: float = 2.0, event_reserve: float = 0.1,
                 ack_save_s: float = 0.5, linger_s: float = 0.002,
                 context: zmq.Context | None = None) -> None:
        if secret_key.secret is None:
            raise ValueError("secret_key: expected this source's secret key (NAME.key_secret)")
        if len(server_public_key) != 40:
            raise ValueError("server_public_key: expected a 40-character Z85 public key, got "
                             f"{len(server_public_key)} bytes")
        if not 0.0 <= event_reserve < 1.0:
            raise ValueError(f"event_reserve: expected a fraction in [0, 1), got {event_reserve}")
        if window < 1:
            raise ValueError(f"window: expected >= 1, got {window}")
        self.endpoint = endpoint
        self.src = src
        self.window = window
        self.ack_timeout_s = ack_timeout_s
        self.gap_holdoff_s = gap_holdoff_s
        self.ack_save_s = ack_save_s
        self.event_reserve = event_reserve
        self.spool = Spool(spool_dir, max_spool_bytes, durability=durability)
        self._superseded_bytes = self.spool.max_bytes * (1.0 - event_reserve)
        self._lock = threading.Lock()
        self._own_context = context is None
        self._ctx = context or zmq.Context()
        self._wake_addr = f"inproc://walkout-sender-wake-{id(self)}-{next(_wake_ids)}"
        self._wake_rx = self._ctx.socket(zmq.PULL)
        self._wake_rx.bind(self._wake_addr)
        self._wake_tx = self._ctx.socket(zmq.PUSH)
        self._wake_tx.connect(self._wake_addr)
        self._dealer = self._ctx.socket(zmq.DEALER)
        d = self._dealer
        d.linger = 0
        d.immediate = 1  # queue only to a live, authenticated connection: no silent pile-up
        d.sndhwm = 10_000
        d.heartbeat_ivl = int(heartbeat_s * 1000)
        d.heartbeat_timeout = int(3 * heartbeat_s * 1000)
        d.reconnect_ivl = int(reconnect_s * 1000)
        d.reconnect_ivl_max = int(reconnect_max_s * 1000)
        make_curve_client(d, secret_key, server_public_key)
        self._monitor = d.get_monitor_socket(
            zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED
            | zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
            | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)
        d.connect(endpoint)
        # Thread state (touched only by the IO thread, except the counters read by stats()).
        self._next_send = self.spool.acked + 1
        self._connected = False
        self._last_progress = time.monotonic()
        self._last_gap_rewind = 0.0
        self._acked_at_gap_rewind = 0
        self._gap_pending = False
        self._sleeping = False
        self._idle_rounds = 0
        self._linger_ms = max(0, int(linger_s * 1000))
        self._stop = False
        self._sent = 0
        self._resent = 0
        self._refused = 0
        self._full_flag = False
        self._in_full_episode = False
        self._auth_failures = 0
        self._thread = threading.Thread(target=self._run, name=f"walkout-sender-{src}",
                                        daemon=True)
        self._thread.start()
        log.info("sender '%s' -> %s: seq continues at %d, %d unacked in the spool",
                 src, endpoint, self.spool.next_seq, self.spool.pending)

    # --- the caller's side ---------------------------------------------------------------------

    def send(self, message: protocol.Message) -> int:
        """Accept one message (``seq`` is stamped here; the one it carries is ignored);
        returns its seq once it is in the spool. Raises SpoolFull (see the module docstring)
        and ValueError when ``message.src`` is not this sender's."""
        # The one-message case of send_many, kept short: it runs for every message of a box.
        if message.src != self.src:
            raise ValueError(f"message.src: expected '{self.src}' (this sender), got "
                             f"'{message.src}'")
        kind = message.type
        with self._lock:
            spool = self.spool
            seq = spool.next_seq
            body = protocol.encode(msgspec.structs.replace(message, seq=seq))
            topic = _TOPIC_BYTES[kind]
            if (kind in _SUPERSEDED_TYPES
                    and spool.used_bytes + 18 + len(topic) + len(body) > self._superseded_bytes):
                self._check_room((message,), 18 + len(topic) + len(body))  # raises, with alarm
            try:
                spool.append(topic, body)
            except SpoolFull as exc:
                self._alarm(str(exc))
                raise
            if self._in_full_episode:
                self._end_full_episode()
            if self._sleeping:
                self._sleeping = False
                self._wake()
        return seq

    def send_many(self, messages: Sequence[protocol.Message]) -> list[int]:
        """Accept several messages with one spool write (all or none)."""
        for message in messages:
            if message.src != self.src:
                raise ValueError(f"message.src: expected '{self.src}' (this sender), got "
                                 f"'{message.src}'")
        replace, encode = msgspec.structs.replace, protocol.encode
        with self._lock:
            spool = self.spool
            first = spool.next_seq
            items = [(m.type.encode(), encode(replace(m, seq=first + i)))
                     for i, m in enumerate(messages)]
            self._check_room(messages, sum(18 + len(t) + len(b) for t, b in items))
            try:
                seqs = spool.append_many(items)
            except SpoolFull as exc:
                self._alarm(str(exc))
                raise
            if self._in_full_episode:
                self._end_full_episode()
            if self._sleeping:
                self._sleeping = False
                self._wake()
        return seqs

    def _end_full_episode(self) -> None:
        spool = self.spool
        if spool.used_bytes < self._superseded_limit():
            self._in_full_episode = False
            log.warning("spool of '%s' has room again (%.0f%% full); %d messages were "
                        "refused while it was full", self.src, 100 * spool.fill, self._refused)

    def _wake(self) -> None:
        try:
            self._wake_tx.send(b"", zmq.NOBLOCK)
        except zmq.Again:
            pass  # wake-ups already queued: the thread is about to look anyway

    def _superseded_limit(self) -> float:
        """Spool bytes above which tracks and health are refused."""
        return self._superseded_bytes

    def _check_room(self, messages: Iterable[protocol.Message], size: int) -> None:
        spool = self.spool
        if all(m.type in _SUPERSEDED_TYPES for m in messages):
            if spool.used_bytes + size > self._superseded_limit():
                self._alarm(f"spool {spool.directory} is {100 * spool.fill:.0f}% full; tracks "
                            f"and health are refused above {100 * (1 - self.event_reserve):.0f}% "
                            "to keep room for events")
                raise SpoolFull(f"spool is above the tracks/health limit ({spool.used_bytes} of "
                                f"{spool.max_bytes} bytes used)")

    def _alarm(self, what: str) -> None:
        self._refused += 1
        self._full_flag = True
        if not self._in_full_episode:
            self._in_full_episode = True
            log.error("SPOOL FULL for source '%s': %s. New messages are refused until the "
                      "server acknowledges (is it reachable at %s?)", self.src, what,
                      self.endpoint)

    def stats(self) -> SenderStats:
        s = self.spool
        return SenderStats(
            last_seq=s.last_seq, acked=s.acked, pending=s.pending, spool_fill=s.fill,
            spool_bytes=s.used_bytes, spool_full=self._full_flag, refused=self._refused,
            sent=self._sent, resent=self._resent, connected=self._connected,
            auth_failures=self._auth_failures)

    def health_fields(self) -> dict[str, object]:
        """``spool_fill`` and ``spool_full`` for the next ``health`` message (resets the flag)."""
        full, self._full_flag = self._full_flag, False
        return {"spool_fill": self.spool.fill, "spool_full": full}

    def flush(self, timeout_s: float) -> bool:
        """Wait until everything accepted so far is acknowledged; False on timeout."""
        target = self.spool.last_seq
        deadline = time.monotonic() + timeout_s
        while self.spool.acked < target:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)
        return True

    def close(self) -> None:
        """Stop sending; what is not acknowledged stays in the spool for next time."""
        if self._thread.is_alive():
            self._stop = True
            with self._lock:
                self._wake()
            self._thread.join()
        self.spool.close()
        self._wake_tx.close(0)
        if self._own_context:
            self._ctx.term()

    def __enter__(self) -> Sender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the IO thread -------------------------------------------------------------------------

    def _run(self) -> None:
        poller = zmq.Poller()
        poller.register(self._dealer, zmq.POLLIN)
        poller.register(self._monitor, zmq.POLLIN)
        poller.register(self._wake_rx, zmq.POLLIN)
        tick_ms = max(1, int(min(self.ack_timeout_s / 4, self.ack_save_s, 0.1) * 1000))
        last_save = time.monotonic()
        try:
            while not self._stop:
                try:
                    last_save = self._step(poller, tick_ms, last_save)
                except Exception:
                    # A bug here must not silently stop delivery: everything is still in the
                    # spool, so log it and carry on (the resend logic restores the stream).
                    log.exception("sender '%s' IO step failed; continuing", self.src)
                    self._rewind()
                    time.sleep(tick_ms / 1000)
        finally:
            self._dealer.disable_monitor()
            self._monitor.close(0)
            self._dealer.close(0)
            self._wake_rx.close(0)

    def _step(self, poller: zmq.Poller, tick_ms: int, last_save: float) -> float:
        """One round of the IO loop: send, wait, handle events; returns when acks were saved."""
        state = self._pump()
        timeout_ms = tick_ms
        if state == "idle":
            self._idle_rounds += 1
            if self._idle_rounds == 1:
                # Just ran dry: linger a moment before asking send() to wake us, so that a
                # busy producer's messages go out in batches instead of one wake-up each.
                timeout_ms = self._linger_ms
        else:
            self._idle_rounds = 0
        with self._lock:
            # send() wakes the thread only when it waits for data; a full window or
            # a socket that cannot take more wakes it through the poller instead (an
            # ack, or the socket becoming writable), so producers never ping-pong it.
            idle = state == "idle" and self._next_send > self.spool.last_seq
            self._sleeping = idle and self._idle_rounds > 1
        if state == "idle" and not idle:
            timeout_ms = 0  # something arrived meanwhile
        poller.modify(self._dealer,
                      zmq.POLLIN | (zmq.POLLOUT if state == "again" else 0))
        events = dict(poller.poll(timeout_ms))
        self._sleeping = False
        if self._wake_rx in events:
            while self._wake_rx.poll(0):
                self._wake_rx.recv()
        if self._monitor in events:
            self._on_monitor()
        if events.get(self._dealer, 0) & zmq.POLLIN:
            self._on_acks()
        now = time.monotonic()
        if self._gap_pending:
            self._rewind_for_gap(now)
        self._check_timeout(now)
        if now - last_save >= self.ack_save_s:
            self.spool.save_acked()
            last_save = now
        return last_save

    def _pump(self) -> Literal["idle", "window", "again"]:
        """Send what the window allows. Returns why it stopped: nothing left to send, the
        window is full (wait for acks), or the socket took no more (not connected, or its
        queue is full: wait until it is writable)."""
        spool, dealer = self.spool, self._dealer
        # pyzmq's Python-level Socket.send wrapper costs as much as the send itself; call the
        # compiled one (same arguments, no routing_id/group/Frame handling needed here).
        send = _raw_send
        while True:
            room = self.window - (self._next_send - 1 - spool.acked)
            if room <= 0:
                return "window"
            records = spool.read(self._next_send, min(room, 512))
            if not records:
                return "idle"
            sent = 0
            try:
                for _, topic, body in records:
                    send(dealer, topic, _SNDMORE_NOBLOCK)
                    # The high-water mark is checked on the first frame only; the second can
                    # still fail if the connection died in between, and then ZeroMQ rolls
                    # the whole message back, so it simply counts as not sent.
                    send(dealer, body, zmq.NOBLOCK)
                    sent += 1
            except zmq.Again:
                pass
            if sent:
                if self._next_send - 1 == spool.acked:
                    self._last_progress = time.monotonic()  # the ack clock starts now
                self._next_send = records[sent - 1][0] + 1
                self._sent += sent
            if sent < len(records):
                return "again"

    def _on_monitor(self) -> None:
        while self._monitor.poll(0):
            event = recv_monitor_message(self._monitor)["event"]
            if event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                self._connected = True
                self._last_progress = time.monotonic()
                log.info("'%s' connected to %s; %d messages to send from seq %d", self.src,
                         self.endpoint, self.spool.pending, self.spool.acked + 1)
            elif event == zmq.EVENT_DISCONNECTED:
                if self._connected:
                    log.warning("'%s' lost the connection to %s; spooling", self.src,
                                self.endpoint)
                self._connected = False
                # What was in flight on that connection may be lost: go back now, so the
                # next connection starts with the oldest unacked message. (Messages sent
                # before this event on a new connection are merely sent twice; the receiver
                # drops the copies.)
                self._rewind()
            elif event == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
                self._auth_failures += 1
                if self._auth_failures in (1, 10, 100) or self._auth_failures % 1000 == 0:
                    log.error("%s refused the key of '%s' (%d times): is its public key in "
                              "the server's keys.allowed?", self.endpoint, self.src,
                              self._auth_failures)
            else:
                log.warning("CURVE handshake with %s failed (event %d): wrong server key?",
                            self.endpoint, event)

    def _on_acks(self) -> None:
        while True:
            try:
                topic, body = self._dealer.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            except ValueError:
                log.warning("unexpected frame count from %s; ignored", self.endpoint)
                continue
            try:
                ack = protocol.decode(body, topic)
            except protocol.ProtocolError as exc:
                log.warning("bad message from %s: %s", self.endpoint, exc.reason)
                continue
            if not isinstance(ack, protocol.Ack) or ack.source != self.src:
                log.warning("unexpected %s from %s; ignored", ack.type, self.endpoint)
                continue
            self._on_ack(ack)

    def _on_ack(self, ack: protocol.Ack) -> None:
        spool = self.spool
        if ack.upto > spool.last_seq:
            log.error("%s acknowledged seq %d of '%s' but only %d were ever sent: was the "
                      "spool folder replaced?", self.endpoint, ack.upto, self.src,
                      spool.last_seq)
            return
        if ack.upto > spool.acked:
            spool.ack(ack.upto)
            self._last_progress = time.monotonic()
        if self._next_send <= ack.upto:
            self._next_send = ack.upto + 1
        if ack.gap:
            self._gap_pending = True
            self._rewind_for_gap(time.monotonic())

    def _rewind_for_gap(self, now: float) -> None:
        """Go back for a reported gap, at most once per ``gap_holdoff_s``: the messages that
        were in flight when we went back report the same gap again. A report held off is
        kept, and acted on when the holdoff ends if no ack progress was made since."""
        if now - self._last_gap_rewind < self.gap_holdoff_s:
            return
        self._gap_pending = False
        if self._last_gap_rewind and self.spool.acked > self._acked_at_gap_rewind:
            self._last_gap_rewind = 0.0  # the resent stream is being stored: that gap is past
            return
        self._last_gap_rewind = now
        self._acked_at_gap_rewind = self.spool.acked
        self._rewind()

    def _check_timeout(self, now: float) -> None:
        # While disconnected nothing can be acked; the reconnect itself triggers the resend.
        if (self._connected and self._next_send - 1 > self.spool.acked
                and now - self._last_progress > self.ack_timeout_s):
            log.warning("no ack from %s for %.1f s with %d outstanding; resending from seq %d",
                        self.endpoint, now - self._last_progress,
                        self._next_send - 1 - self.spool.acked, self.spool.acked + 1)
            self._last_progress = now
            self._rewind()

    def _rewind(self) -> None:
        first = self.spool.acked + 1
        if self._next_send > first:
            self._resent += self._next_send - first
        self._next_send = first
