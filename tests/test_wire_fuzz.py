"""Thousands of random and mutated frames at a live receiver, interleaved with a good stream:
the receiver stays up, refuses each bad one with a logged reason, and the good stream arrives
whole."""

from __future__ import annotations

import json
import logging
import random
import threading
from pathlib import Path

import pytest
import zmq
from hypothesis import given
from hypothesis import strategies as st

from protocol_strategies import messages
from walkout import protocol as p
from walkout.wire import Receiver, Sender, SqliteStore
from walkout.wire.keys import load_secret_key, make_curve_client
from wire_support import (
    FAST_RECEIVER,
    FAST_SENDER,
    make_keys,
    numbered,
    sender_args,
    server_args,
    stored,
    wait_for,
)

FUZZ_FRAMES = 3000


def _valid_bodies(src: str) -> list[bytes]:
    out = []
    for k in range(1, 11):
        out.append(p.encode(numbered(src, k)))
    out.append(
        p.encode(p.Dwell(src=src, seq=1, t_ns=5, track=1, shelf="s", enter_ns=1, leave_ns=5))
    )
    out.append(p.encode(p.Checkin(src=src, seq=1, t_ns=5, gate="g", account="a", party_size=2)))
    out.append(
        p.encode(
            p.Health(
                src=src,
                seq=1,
                t_ns=5,
                cameras=[p.CameraHealth(camera="c1", fps=14.5, dropped_frames=3)],
                latency_p95_ms=41.0,
            )
        )
    )
    return [b.replace(b'"seq":0', b'"seq":1') for b in out]


def _mutate(rng: random.Random, body: bytes) -> bytes:
    data = bytearray(body)
    choice = rng.randrange(9)
    if choice == 0 and data:  # flip bytes
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    elif choice == 1:  # truncate
        del data[rng.randrange(len(data) + 1) :]
    elif choice == 2:  # insert junk
        at = rng.randrange(len(data) + 1)
        data[at:at] = rng.randbytes(rng.randint(1, 20))
    elif choice == 3:  # repeat a slice
        a = rng.randrange(len(data) + 1)
        data[a:a] = data[a : a + rng.randint(1, 30)]
    else:  # structural: change one field's value to something of the wrong kind or range
        obj = json.loads(body)
        key = rng.choice(sorted(obj))
        obj[key] = rng.choice(
            [
                None,
                "",
                "x" * 300,
                -1,
                2**70,
                1.5,
                [],
                {},
                True,
                "tracks",
                float("1e308"),
                {"v": 1},
                [1, 2, 3],
            ]
        )
        if rng.random() < 0.3:
            obj[rng.choice(["extra", "V", "type "])] = 1
        return json.dumps(obj).encode()
    return bytes(data)


def _fuzz_frames(rng: random.Random, bodies: list[bytes]) -> list[list[bytes]]:
    topics = [*p.TOPICS, b"", b"ack", b"receipt", b"TRACKS", rng.randbytes(8)]
    frames: list[list[bytes]] = []
    for _ in range(FUZZ_FRAMES):
        body = rng.choice(bodies)
        kind = rng.randrange(6)
        if kind == 0:
            frames.append([rng.randbytes(rng.randint(0, 600))])
        elif kind == 1:
            frames.append([rng.randbytes(rng.randint(0, 600)) for _ in range(rng.randint(2, 5))])
        elif kind == 2:
            frames.append([rng.choice(topics), body])
        elif kind == 3:
            frames.append([json.loads(body)["type"].encode(), body, body])
        else:
            frames.append([json.loads(body)["type"].encode(), _mutate(rng, body)])
    return frames


def test_a_fuzzed_receiver_stays_up_and_the_good_stream_arrives_whole(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    keys = make_keys(tmp_path / "keys", "box-1", "fuzzer")
    caplog.set_level(logging.WARNING, logger="walkout.wire.receiver")
    rng = random.Random(20261129)
    frames = _fuzz_frames(rng, _valid_bodies("fuzzer") + _valid_bodies("box-1"))
    db = tmp_path / "server.sqlite"
    store = SqliteStore(db)
    good = 600
    with Receiver(
        "tcp://127.0.0.1:*",
        store,
        **server_args(keys, "box-1", "fuzzer"),
        log_burst=10 * FUZZ_FRAMES,
        **FAST_RECEIVER,
    ).start() as receiver:
        ctx = zmq.Context()
        fuzzer = ctx.socket(zmq.DEALER)
        fuzzer.sndhwm = 0
        make_curve_client(
            fuzzer,
            load_secret_key(keys / "fuzzer.key_secret"),
            load_secret_key(keys / "server.key_secret").public,
        )
        fuzzer.connect(receiver.last_endpoint)

        with Sender(
            receiver.last_endpoint,
            "box-1",
            tmp_path / "spool",
            **sender_args(keys, "box-1"),
            **FAST_SENDER,
        ) as sender:

            def good_stream() -> None:
                for k in range(1, good + 1):
                    sender.send(numbered("box-1", k))

            thread = threading.Thread(target=good_stream)
            thread.start()
            for message in frames:
                fuzzer.send_multipart(message)
            thread.join()
            assert sender.flush(20), sender.stats()
            wait_for(
                lambda: receiver.stats.by_key["fuzzer"] == FUZZ_FRAMES,
                20,
                "every fuzz frame to be handled",
            )
        fuzzer.close(0)
        ctx.term()
        stats = receiver.stats
        assert receiver._thread is not None and receiver._thread.is_alive()
    rows = stored(db, "box-1")
    store.close()
    assert rows == [(k, k) for k in range(1, good + 1)]
    # every bad frame was refused, and every refusal was logged with its reason
    refusals = [r.getMessage() for r in caplog.records if "refused a message" in r.getMessage()]
    assert len(refusals) == stats.refused > FUZZ_FRAMES // 2
    assert all(": " in m.split("'fuzzer'", 1)[1] for m in refusals)
    reasons = " ".join(stats.refused_by_reason)
    for expected in (
        "expected 2 frames",
        "is not one a source may send",
        "body is not JSON",
        "invalid",
        "is not the name of the key",
    ):
        assert expected in reasons, (expected, stats.refused_by_reason)
    # the fuzzer's frames that happened to be valid messages are accounted for too
    assert stats.received == stats.accepted + stats.duplicates + stats.gaps + stats.refused
    assert stats.accepted >= good


@given(st.binary(max_size=400) | messages.map(p.encode).map(lambda b: b[: len(b) // 2]))
def test_decode_refuses_garbage_with_a_protocol_error_only(body: bytes) -> None:
    try:
        p.decode(body)
    except p.ProtocolError as exc:
        assert exc.reason
