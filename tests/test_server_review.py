"""The review desk and the outbox on a real SQLite file: versions, the audit trail, disputes,
the deadline, and the webhook's signature and backoff."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest

from walkout.server.db import SqliteServerStore, StoredReceipt
from walkout.server.outbox import Outbox
from walkout.server.review import NotInReview, ReviewDesk
from walkout.server.webhook import backoff_s, sign, verify_signature

S = 1_000_000_000


def _receipt(session: str, status: str) -> StoredReceipt:
    line = {"sku": "COLA", "name": "Cola", "qty": 2, "unit_price_cents": 150}
    return StoredReceipt(session, "acct-1", status, 0.5 if status == "review" else 0.98, 300,
                         [line], ["COLA: two shoppers at one slot"] if status == "review" else [],
                         0, 10 * S, 100 * S, None if status == "review" else 100 * S, False,
                         [line])


@pytest.fixture()
def desk(tmp_path: Path) -> ReviewDesk:
    db = SqliteServerStore(tmp_path / "store.db", synchronous="NORMAL")
    return ReviewDesk(db, Outbox(db), deadline_s=60)


def test_versions_audit_and_dispute(desk: ReviewDesk) -> None:
    db, box = desk.db, desk.outbox
    db.add_receipt(_receipt("s1", "issued"))
    assert box.bill(db.unpublished()[0], {"receipt": "s1"}, 101 * S) == 1
    assert box.bill(db.receipt("s1"), {"receipt": "s1"}, 101 * S) is None  # published: no v2
    assert not db.unpublished()
    desk.dispute("s1", "I put one back", "app-1", 200 * S)
    assert db.receipt("s1").status == "review"
    assert db.receipt("s1").reasons[-1] == "disputed by the shopper: I put one back"
    with pytest.raises(NotInReview):
        desk.dispute("s1", "again", "app-1", 201 * S)
    desk.decide("s1", "corrected", [{"sku": "COLA", "qty": 1}], 150, "rev-1", 230 * S, "ok")
    with pytest.raises(NotInReview):
        desk.decide("s1", "confirmed", [], 0, "rev-2", 231 * S)
    assert box.bill(db.unpublished()[0], {"receipt": "s1"}, 232 * S) == 2
    assert [(r.version, json.loads(r.body)["version"]) for r in box.rows("s1")] == [(1, 1), (2, 2)]
    trail = [(a["action"], a["actor"]) for a in box.trail("s1")]
    assert trail == [("issued", "server"), ("disputed", "app-1"), ("corrected", "rev-1")]
    corrected = box.trail("s1")[-1]["detail"]
    assert corrected["waited_s"] == 30.0 and corrected["lines_before"][0]["qty"] == 2
    with pytest.raises(KeyError):
        desk.dispute("nobody", "x", "app-1", 1)
    with pytest.raises(ValueError, match="reason"):
        desk.dispute("s1", "  ", "app-1", 1)


def test_a_receipt_past_its_deadline_escalates_once(desk: ReviewDesk) -> None:
    desk.db.add_receipt(_receipt("s2", "review"))
    assert desk.escalate_overdue(150 * S) == []  # 50 s in review, deadline 60 s
    assert desk.escalate_overdue(161 * S) == ["s2"]
    assert desk.escalate_overdue(200 * S) == []  # once per stay in review
    queue = desk.queue(200 * S)
    assert queue[0]["escalated"] and queue[0]["overdue"]
    assert queue[0]["deadline_ns"] == 160 * S and queue[0]["reasons"]


def test_outbox_failure_moves_the_next_try_and_retry_now(desk: ReviewDesk) -> None:
    db, box = desk.db, desk.outbox
    db.add_receipt(_receipt("s3", "issued"))
    box.bill(db.unpublished()[0], {"receipt": "s3"}, 10 * S)
    row = box.due(10 * S)[0]
    box.failed(row, 20 * S, "ConnectionRefusedError")
    assert box.due(15 * S) == [] and box.next_due_ns() == 20 * S
    assert box.retry_now(16 * S) == 1 and box.due(16 * S)[0].attempts == 1
    box.delivered(box.due(16 * S)[0], 17 * S, 204)
    assert box.counts() == {"pending": 0, "delivered": 1, "attempts": 2}


def test_signature_and_backoff() -> None:
    secret, body = b"0123456789abcdef", b'{"receipt": "s1", "version": 1}'
    header = sign(secret, body, 1_700_000_000)
    t, v1 = (p.split("=", 1)[1] for p in header.split(","))
    assert v1 == hmac.new(secret, f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    assert verify_signature(secret, header, body, 1_700_000_010)
    assert not verify_signature(secret, header, body + b" ", 1_700_000_010)
    assert not verify_signature(b"another-secret-16b", header, body, 1_700_000_010)
    assert not verify_signature(secret, header, body, 1_700_001_000)  # too old: a replay
    assert not verify_signature(secret, "garbage", body, 1_700_000_000)
    assert [backoff_s(n, 1.0, 10.0) for n in (1, 2, 3, 4, 5, 100)] == [1, 2, 4, 8, 10, 10]
