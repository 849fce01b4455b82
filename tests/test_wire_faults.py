"""The wire under faults, over real sockets on 127.0.0.1, with real processes killed by SIGKILL.

Every timing is a parameter (wire_support.FAST_*), so each test runs in a few seconds."""

from __future__ import annotations

import logging
import signal
import subprocess
import threading
from pathlib import Path

import pytest

from walkout import protocol as p
from walkout.wire import Receiver, Sender, SpoolFull, SqliteStore
from wire_support import (
    FAST_RECEIVER,
    FAST_SENDER,
    count_rows,
    free_endpoint,
    make_keys,
    numbered,
    sender_args,
    server_args,
    start_peer,
    start_receiver,
    stored,
    wait_for,
)


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    return make_keys(tmp_path / "keys", "box-1", "box-2", "gate-1", "intruder")


def _kill(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


def test_receiver_away_and_back_gets_everything_once_in_order(keys: Path, tmp_path: Path) -> None:
    endpoint, db = free_endpoint(), tmp_path / "server.sqlite"
    with Sender(endpoint, "box-1", tmp_path / "spool", **sender_args(keys, "box-1"),
                **FAST_SENDER) as sender:
        for k in range(1, 201):  # nobody listening yet: all spooled
            sender.send(numbered("box-1", k))
        receiver = start_receiver(endpoint, db, keys, "box-1")
        for k in range(201, 401):
            sender.send(numbered("box-1", k))
        assert sender.flush(15)
        _stop(receiver)  # away (a clean stop) ...
        for k in range(401, 601):
            sender.send(numbered("box-1", k))
        assert sender.stats().pending == 200
        receiver = start_receiver(endpoint, db, keys, "box-1")  # ... and back
        assert sender.flush(15)
        _kill(receiver)  # away (a crash) ...
        for k in range(601, 801):
            sender.send(numbered("box-1", k))
        receiver = start_receiver(endpoint, db, keys, "box-1")  # ... and back
        assert sender.flush(15)
        _stop(receiver)
    assert stored(db, "box-1") == [(k, k) for k in range(1, 801)]


def test_sender_killed_mid_stream_loses_nothing_and_never_reuses_a_seq(keys: Path,
                                                                       tmp_path: Path) -> None:
    db, spool = tmp_path / "server.sqlite", tmp_path / "spool"
    store = SqliteStore(db)
    with Receiver("tcp://127.0.0.1:*", store, **server_args(keys, "box-1"),
                  **FAST_RECEIVER).start() as receiver:
        endpoint = receiver.last_endpoint
        first = start_peer("sender", endpoint, "box-1", str(spool), str(keys), "--count",
                           "1000000")
        accepted = 0
        for line in first.stdout:  # type: ignore[union-attr]
            if line.startswith("accepted"):
                accepted = int(line.split()[1])
                if accepted >= 1500:
                    break
        _kill(first)  # mid-stream: some of what it accepted was never sent or acked
        second = start_peer("sender", endpoint, "box-1", str(spool), str(keys), "--first",
                            "1000001", "--count", "300")
        out, err = second.communicate(timeout=30)
        assert second.returncode == 0, err
        seqs = [int(line.split()[1]) for line in out.splitlines() if line.startswith("accepted")]
    rows = stored(db, "box-1")
    store.close()
    # every seq once, in order, no hole: 1..M
    assert [seq for seq, _ in rows] == list(range(1, len(rows) + 1))
    first_run = [k for _, k in rows if k < 1_000_001]
    second_run = [k for _, k in rows if k >= 1_000_001]
    # the killed sender's messages are a prefix 1..K that holds at least all it reported
    assert first_run == list(range(1, len(first_run) + 1)) and len(first_run) >= accepted
    assert second_run == list(range(1_000_001, 1_000_301))
    # the restarted sender continued the seq where the killed one stopped
    assert seqs == list(range(len(first_run) + 1, len(first_run) + 301))


def test_receiver_killed_mid_stream_stores_nothing_twice_and_loses_nothing(
        keys: Path, tmp_path: Path) -> None:
    endpoint, db = free_endpoint(), tmp_path / "server.sqlite"
    receiver = start_receiver(endpoint, db, keys, "box-1", "box-2")
    senders = [Sender(endpoint, src, tmp_path / f"spool-{src}", **sender_args(keys, src),
                      **FAST_SENDER) for src in ("box-1", "box-2")]
    total = 3000

    def produce(sender: Sender) -> None:
        for k in range(1, total + 1):
            sender.send(numbered(sender.src, k))

    threads = [threading.Thread(target=produce, args=(s,)) for s in senders]
    for t in threads:
        t.start()
    wait_for(lambda: count_rows(db) >= 1000, 20, "the receiver to store 1000 rows")
    _kill(receiver)  # mid-stream, with batches in flight
    for t in threads:
        t.join()
    receiver = start_receiver(endpoint, db, keys, "box-1", "box-2")
    try:
        for sender in senders:
            assert sender.flush(20), sender.stats()
    finally:
        for sender in senders:
            sender.close()
        _stop(receiver)
    for src in ("box-1", "box-2"):
        assert stored(db, src) == [(k, k) for k in range(1, total + 1)]


def test_a_full_spool_raises_the_alarm_and_keeps_what_it_accepted(
        keys: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    endpoint, db = free_endpoint(), tmp_path / "server.sqlite"
    caplog.set_level(logging.INFO, logger="walkout.wire")
    with Sender(endpoint, "box-1", tmp_path / "spool", **sender_args(keys, "box-1"),
                max_spool_bytes=32 * 1024, event_reserve=0.25, **FAST_SENDER) as sender:
        accepted: list[int] = []  # t_ns of every message send() accepted
        k = 0
        with pytest.raises(SpoolFull, match="tracks/health"):
            while True:  # no server: tracks fill the spool up to 75 %
                k += 10  # k % 10 == 0: tracks
                sender.send(numbered("box-1", k))
                accepted.append(k)
        assert 0.70 < sender.stats().spool_fill <= 0.75
        alarms = [r for r in caplog.records if "SPOOL FULL" in r.getMessage()]
        assert len(alarms) == 1 and alarms[0].levelno == logging.ERROR
        assert sender.health_fields()["spool_full"] is True
        assert sender.health_fields()["spool_full"] is False  # reported once per health
        # events still get the reserve ...
        with pytest.raises(SpoolFull, match="is full"):
            while True:
                k += 10
                sender.send(numbered("box-1", k + 7))  # weight
                accepted.append(k + 7)
        assert sender.stats().spool_fill > 0.9
        assert len([r for r in caplog.records if "SPOOL FULL" in r.getMessage()]) == 1
        assert sender.stats().last_seq == len(accepted)  # a refusal consumes no seq
        # ... and nothing accepted is lost once the server is back
        receiver = start_receiver(endpoint, db, keys, "box-1")
        try:
            assert sender.flush(15)
            sender.send(numbered("box-1", 10**6))  # room again
            accepted.append(10**6)
            assert sender.flush(15)
        finally:
            _stop(receiver)
        assert any("room again" in r.getMessage() for r in caplog.records)
    assert stored(db, "box-1") == list(enumerate(accepted, start=1))


def test_an_unknown_key_is_refused_and_logged_with_its_public_key(
        keys: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="walkout.wire")
    store = SqliteStore(tmp_path / "server.sqlite")
    with Receiver("tcp://127.0.0.1:*", store, **server_args(keys, "box-1"),
                  **FAST_RECEIVER).start() as receiver, \
         Sender(receiver.last_endpoint, "intruder", tmp_path / "spool",
                **sender_args(keys, "intruder"), **FAST_SENDER) as intruder:
        intruder.send(numbered("intruder", 1))
        wait_for(lambda: intruder.stats().auth_failures >= 1, 10, "the handshake to be refused")
        assert receiver.refused_keys >= 1
        assert not intruder.flush(0.3)
        assert receiver.stats.received == 0
    assert store.count() == 0
    public = (keys / "intruder.key").read_text().split('"')[1]
    assert any(public in r.getMessage() and "unknown CURVE public key" in r.getMessage()
               for r in caplog.records)
    assert any("refused the key of 'intruder'" in r.getMessage() for r in caplog.records)


def test_a_source_cannot_speak_for_another(keys: Path, tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "server.sqlite")
    with Receiver("tcp://127.0.0.1:*", store, **server_args(keys, "box-1", "box-2"),
                  **FAST_RECEIVER).start() as receiver:
        # box-2's key, box-1's name: the sender itself is honest, so build the lie by hand
        import zmq

        from walkout.wire.keys import load_secret_key, make_curve_client

        ctx = zmq.Context()
        dealer = ctx.socket(zmq.DEALER)
        make_curve_client(dealer, load_secret_key(keys / "box-2.key_secret"),
                          load_secret_key(keys / "server.key_secret").public)
        dealer.connect(receiver.last_endpoint)
        forged = p.Weight(src="box-1", seq=1, t_ns=1, shelf="s", slot="s/front/r0c0",
                          delta_g=-1.0, after_g=0.0)
        dealer.send_multipart(p.to_frames(forged))
        wait_for(lambda: receiver.stats.refused == 1, 10, "the forged message to be refused")
        assert "is not the name of the key" in next(iter(receiver.stats.refused_by_reason))
        dealer.close(0)
        ctx.term()
    assert store.count() == 0


class _FlakyStore(SqliteStore):
    """A real SQLite store whose first ``failures`` commits fail, like a full disk would."""

    def __init__(self, path: Path, failures: int) -> None:
        super().__init__(path)
        self.failures = failures

    def store(self, batch):  # type: ignore[no-untyped-def]
        if self.failures > 0:
            self.failures -= 1
            raise OSError("disk full (injected)")
        super().store(batch)


def test_a_failing_store_is_not_acked_and_the_sender_resends(keys: Path, tmp_path: Path) -> None:
    store = _FlakyStore(tmp_path / "server.sqlite", failures=3)
    with Receiver("tcp://127.0.0.1:*", store, **server_args(keys, "gate-1"),
                  **FAST_RECEIVER).start() as receiver, \
         Sender(receiver.last_endpoint, "gate-1", tmp_path / "spool",
                **sender_args(keys, "gate-1"),
                # a long ack timeout: recovery must come from the receiver's gap ack
                **{**FAST_SENDER, "ack_timeout_s": 60.0}) as sender:
        for k in range(1, 51):
            sender.send(p.Checkin(src="gate-1", t_ns=k, gate="g1", account=f"acct-{k}"))
        assert sender.flush(15)
        assert receiver.stats.store_failures == 3
    rows = stored(tmp_path / "server.sqlite", "gate-1")
    assert rows == [(k, k) for k in range(1, 51)]


def test_a_frozen_receiver_is_detected_by_heartbeat_and_nothing_is_doubled(
        keys: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """SIGSTOP: the server hangs without closing its sockets. The sender's heartbeat declares
    it gone, goes back, and everything still arrives exactly once, in order."""
    caplog.set_level(logging.INFO, logger="walkout.wire")
    endpoint, db = free_endpoint(), tmp_path / "server.sqlite"
    receiver = start_receiver(endpoint, db, keys, "box-1")
    with Sender(endpoint, "box-1", tmp_path / "spool", **sender_args(keys, "box-1"),
                **FAST_SENDER) as sender:
        for k in range(1, 301):
            sender.send(numbered("box-1", k))
        assert sender.flush(15)
        receiver.send_signal(signal.SIGSTOP)
        try:
            for k in range(301, 601):
                sender.send(numbered("box-1", k))
            wait_for(lambda: any("lost the connection" in r.getMessage()
                                 for r in caplog.records), 10, "the heartbeat to time out")
        finally:
            receiver.send_signal(signal.SIGCONT)
        assert sender.flush(20), sender.stats()
        _stop(receiver)
    assert stored(db, "box-1") == [(k, k) for k in range(1, 601)]
