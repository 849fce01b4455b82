"""The SQLite event store: one row per (src, seq) whatever is offered twice, durable reads in
arrival and time order, one receipt per session, and review decisions only on receipts in
review."""

from __future__ import annotations

from pathlib import Path

import pytest

from walkout import protocol
from walkout.server.db import SessionRow, SqliteServerStore, StoredReceipt
from walkout.wire import MessageStore


def _weight(seq: int, t: int, src: str = "shelf-gateway") -> tuple[protocol.Message, bytes]:
    m = protocol.Weight(src=src, seq=seq, t_ns=t, shelf="S1", slot="S1/front/r0c0",
                        delta_g=-520.0, after_g=1000.0)
    return m, protocol.encode(m)


def _receipt(session: str, status: str = "review") -> StoredReceipt:
    return StoredReceipt(session, "acct", status, 0.5, 89, [{"sku": "WATER-500", "qty": 1}],
                         ["why"], 1, 2, 3, None, False, [])


def test_events_are_stored_once_and_read_in_order(tmp_path: Path) -> None:
    db = SqliteServerStore(tmp_path / "s.db")
    assert isinstance(db, MessageStore)  # the wire receiver can write to it
    db.store([_weight(1, 30), _weight(2, 10), _weight(1, 20, "other")])
    db.store([_weight(2, 10), _weight(3, 5)])  # seq 2 again: ignored, counted
    assert db.count_events() == 4 and db.duplicate_events() == 1
    assert db.positions() == {"shelf-gateway": 3, "other": 1}
    assert [m.seq for _, m in db.read_after(0)] == [1, 2, 1, 3]
    assert [m.t_ns for m in db.events_between(("weight",), 0, 25)] == [5, 10, 20]
    assert db.events_between(("reach",), 0, 100) == []
    db.close()
    again = SqliteServerStore(tmp_path / "s.db")  # and it is all still there
    assert again.count_events() == 4
    again.close()


def test_one_receipt_per_session_and_review_decisions(tmp_path: Path) -> None:
    db = SqliteServerStore(tmp_path / "s.db")
    assert db.add_receipt(_receipt("s1"))
    assert not db.add_receipt(_receipt("s1", "issued"))  # never twice
    done = db.decide_review("s1", "confirmed", [], 0, 99)
    assert done.status == "confirmed" and done.issued_ns == 99 and not done.published
    with pytest.raises(ValueError, match="not in review"):
        db.decide_review("s1", "corrected", [], 0, 100)
    with pytest.raises(KeyError):
        db.decide_review("nope", "confirmed", [], 0, 100)
    db.mark_published("s1")
    assert db.receipt("s1").published  # type: ignore[union-attr]
    db.save_session(SessionRow("s1", "acct", "entry", 1, None, [1, 2], 2, {"age_band": "65+"}))
    db.save_session(SessionRow("s1", "acct", "entry", 1, 5, [1, 2], 2, {"age_band": "65+"}))
    (row,) = db.sessions()
    assert row.exit_ns == 5 and row.members == [1, 2]
    db.add_anomalies([("misplaced", "k", "slot", 1, "d"), ("misplaced", "k", "slot", 1, "d")])
    assert len(db.anomalies()) == 1
    db.close()


def test_refuses_a_memory_database_and_bad_sync() -> None:
    with pytest.raises(ValueError, match="path"):
        SqliteServerStore(":memory:")
    with pytest.raises(ValueError, match="synchronous"):
        SqliteServerStore("/tmp/x.db", synchronous="OFF")  # type: ignore[arg-type]
