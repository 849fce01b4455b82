"""The spool against a plain in-memory model of what it must hold, across reopen and torn
writes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from walkout.wire.spool import Spool, SpoolFull


def _body(n: int) -> bytes:
    return b'{"n":%d,"pad":"%s"}' % (n, b"x" * (n % 97))


def test_append_read_ack_and_seq_survives_reopen(tmp_path: Path) -> None:
    with Spool(tmp_path, 1 << 20) as spool:
        assert [spool.append(b"tracks", _body(i)) for i in range(5)] == [1, 2, 3, 4, 5]
        assert spool.read(2, 2) == [(2, b"tracks", _body(1)), (3, b"tracks", _body(2))]
        spool.ack(3)
        assert spool.read(1, 10) == [(4, b"tracks", _body(3)), (5, b"tracks", _body(4))]
        assert spool.pending == 2
    with Spool(tmp_path, 1 << 20) as spool:
        assert (spool.acked, spool.next_seq) == (3, 6)
        assert [s for s, _, _ in spool.read(1, 10)] == [4, 5]
        spool.ack(5)
    with Spool(tmp_path, 1 << 20) as spool:  # everything acked: the seq still continues
        assert spool.pending == 0 and spool.append(b"reach", b"{}") == 6


def test_a_lost_acked_hint_only_costs_resending(tmp_path: Path) -> None:
    with Spool(tmp_path, 1 << 20, segment_bytes=256) as spool:
        for i in range(20):
            spool.append(b"weight", _body(i))
        spool.ack(12)
    os.remove(tmp_path / "acked")
    with Spool(tmp_path, 1 << 20, segment_bytes=256) as spool:
        assert spool.next_seq == 21
        assert spool.acked < 13  # not known any more: resend from the oldest segment kept
        assert [s for s, _, _ in spool.read(13, 100)] == list(range(13, 21))


def test_a_torn_tail_is_cut_off_and_its_seq_is_not_counted(tmp_path: Path) -> None:
    with Spool(tmp_path, 1 << 20) as spool:
        for i in range(3):
            spool.append(b"tracks", _body(i))
    segment = sorted(tmp_path.glob("seg-*.log"))[-1]
    whole = segment.read_bytes()
    with Spool(tmp_path, 1 << 20) as spool:
        spool.append(b"tracks", _body(3))
    segment.write_bytes(segment.read_bytes()[:-5])  # power cut in the middle of record 4
    with Spool(tmp_path, 1 << 20) as spool:
        assert segment.read_bytes() == whole
        assert spool.next_seq == 4  # record 4 was never durable, so its seq is free again
        assert [s for s, _, _ in spool.read(1, 10)] == [1, 2, 3]


def test_a_corrupt_record_is_detected_by_its_checksum(tmp_path: Path) -> None:
    with Spool(tmp_path, 1 << 20) as spool:
        for i in range(3):
            spool.append(b"tracks", _body(i))
    segment = sorted(tmp_path.glob("seg-*.log"))[-1]
    data = bytearray(segment.read_bytes())
    data[-3] ^= 0xFF
    segment.write_bytes(bytes(data))
    with Spool(tmp_path, 1 << 20) as spool:
        assert [s for s, _, _ in spool.read(1, 10)] == [1, 2]


def test_full_refuses_without_consuming_a_seq(tmp_path: Path) -> None:
    with Spool(tmp_path, 4096) as spool:
        seqs = []
        with pytest.raises(SpoolFull, match="is full"):
            while True:
                seqs.append(spool.append(b"tracks", b"x" * 200))
        assert spool.next_seq == len(seqs) + 1
        spool.ack(spool.last_seq)
        assert spool.append(b"tracks", b"x" * 200) == len(seqs) + 1


@pytest.mark.parametrize("bad", [
    {"max_bytes": 100}, {"durability": "sometimes"},
])
def test_bad_parameters_name_themselves(tmp_path: Path, bad: dict[str, object]) -> None:
    args: dict[str, object] = {"max_bytes": 1 << 20, **bad}
    with pytest.raises(ValueError, match=next(iter(bad))):
        Spool(tmp_path, **args)  # type: ignore[arg-type]


_ops = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.integers(1, 6)),
        st.tuples(st.just("ack"), st.integers(0, 8)),
        st.tuples(st.just("read"), st.integers(0, 10)),
        st.tuples(st.just("reopen"), st.just(0)),
    ),
    max_size=40,
)


@settings(max_examples=60)
@given(ops=_ops, cache=st.sampled_from([0, 300, 1 << 20]), power=st.booleans())
def test_the_spool_behaves_like_a_list_of_unacked_messages(tmp_path_factory: pytest.TempPathFactory,
                                                          ops: list[tuple[str, int]], cache: int,
                                                          power: bool) -> None:
    folder = tmp_path_factory.mktemp("spool")
    kwargs = {"segment_bytes": 200, "cache_bytes": cache,
              "durability": "power" if power else "process"}
    spool = Spool(folder, 1 << 20, **kwargs)  # type: ignore[arg-type]
    model: dict[int, bytes] = {}  # seq -> body, unacked
    acked = last = counter = 0
    try:
        for op, n in ops:
            if op == "append":
                bodies = [_body(counter + i) for i in range(n)]
                counter += n
                seqs = spool.append_many([(b"reach", b) for b in bodies])
                assert seqs == list(range(last + 1, last + n + 1))
                model.update(zip(seqs, bodies, strict=True))
                last += n
            elif op == "ack":
                upto = min(acked + n, last)
                spool.ack(upto)
                for s in range(acked + 1, upto + 1):
                    model.pop(s, None)
                acked = max(acked, upto)
            elif op == "read":
                start = acked + 1 + n // 2
                got = spool.read(start, n)
                want = [(s, b"reach", model[s]) for s in range(start, min(start + n, last + 1))]
                assert got == want
            else:
                spool.close()
                spool = Spool(folder, 1 << 20, **kwargs)  # type: ignore[arg-type]
                assert spool.next_seq == last + 1
                assert spool.acked <= acked  # the hint may only be stale, never ahead
                acked_before = acked
                acked = spool.acked
                assert acked == acked_before  # closed cleanly: the hint is exact
            # whole read back of what is pending equals the model
            assert [s for s, _, _ in spool.read(acked + 1, 10_000)] == sorted(model)
            assert spool.pending == len(model)
    finally:
        spool.close()


def test_replay_reads_deep_into_big_segments(tmp_path: Path) -> None:
    """Found by the benchmark: a read that started more than one read window (1 MiB) into a
    segment skipped to the next segment, so the sender sent a gap it could never fill."""
    body = b"y" * 400
    with Spool(tmp_path, 64 << 20, segment_bytes=4 << 20, cache_bytes=0) as spool:
        for first in range(0, 25_000, 50):
            spool.append_many([(b"tracks", body + b"%d" % i) for i in range(first, first + 50)])
        assert len(list(tmp_path.glob("seg-*.log"))) >= 2
        for start in (1, 4_601, 9_999, 10_001, 24_990):
            got = spool.read(start, 700)
            assert [s for s, _, _ in got] == list(range(start, min(start + 700, 25_001)))
            assert all(b == body + b"%d" % (s - 1) for s, _, b in got)
        # sequential replay from the start, as the sender does after an outage
        seq, seen = 1, 0
        while True:
            got = spool.read(seq, 512)
            if not got:
                break
            assert got[0][0] == seq
            seq, seen = got[-1][0] + 1, seen + len(got)
        assert seen == 25_000
