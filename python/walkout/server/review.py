"""The review desk: a person decides the receipts the machine doubted, a shopper disputes an
issued one, and a receipt that waits too long escalates.

Every decision is one transaction: the receipt's new state and its audit row (who, when,
what) together. A confirmed or corrected receipt is then billed again by the server loop,
which gives it its next version in the outbox (``outbox.py``).

The queue shows each receipt's doubts as the machine wrote them: ``reasons`` (one sentence
each) and any structured evidence the receipt row carries (read generically: whatever
fields of the row are neither the lines nor the bookkeeping), with the time it entered
review and its deadline.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from walkout.server.db import SqliteServerStore, StoredReceipt
from walkout.server.outbox import Outbox, audit

log = logging.getLogger("walkout.server.review")
_NS = 1_000_000_000
_BILLED = ("issued", "confirmed", "corrected")


class NotInReview(Exception):
    """The receipt is not in the state the request needs (the API answers 409)."""


class ReviewDesk:
    def __init__(self, db: SqliteServerStore, outbox: Outbox, deadline_s: float) -> None:
        if deadline_s <= 0:
            raise ValueError(f"deadline_s: expected seconds > 0, got {deadline_s}")
        self.db = db
        self.outbox = outbox
        self.deadline_ns = int(deadline_s * _NS)
        self.escalated = 0

    def decide(self, session: str, status: str, lines: list[dict[str, Any]],
               total_cents: int, actor: str, now_ns: int, note: str = "") -> StoredReceipt:
        """Close a review as ``confirmed`` or ``corrected`` (billing ``lines``), by ``actor``."""
        if status not in ("confirmed", "corrected"):
            raise ValueError(f"status: expected 'confirmed' or 'corrected', got {status!r}")
        before = self._get(session)
        waited_s = round((now_ns - self.review_since(before)) / _NS, 3)
        with self.db.transaction() as con:
            changed = con.execute(
                "UPDATE receipts SET status=?, lines=?, total_cents=?, issued_ns=?, published=0 "
                "WHERE session=? AND status='review'",
                (status, json.dumps(lines), total_cents, now_ns, session)).rowcount
            if changed:
                audit(con, now_ns, session, status, actor, note=note,
                      lines_before=before.lines, lines=lines, total_cents=total_cents,
                      waited_s=waited_s)
        after = self._get(session)
        if not changed:
            raise NotInReview(f"receipt {session} is {after.status}, not in review")
        log.info("receipt %s %s by %s", session, status, actor)
        return after

    def dispute(self, session: str, reason: str, actor: str, now_ns: int) -> StoredReceipt:
        """The shopper reopens a billed receipt: back into review, the reason added to its
        doubts; the next decision bills it as a new version."""
        if not isinstance(reason, str) or not reason.strip() or len(reason) > 1000:
            raise ValueError("reason: expected a non-empty string of at most 1000 characters")
        before = self._get(session)
        reasons = [*before.reasons, f"disputed by the shopper: {reason.strip()}"]
        marks = ",".join("?" * len(_BILLED))
        with self.db.transaction() as con:
            changed = con.execute(
                f"UPDATE receipts SET status='review', reasons=? WHERE session=? AND status IN "
                f"({marks}) AND published=1", (json.dumps(reasons), session, *_BILLED)).rowcount
            if changed:
                audit(con, now_ns, session, "disputed", actor, reason=reason.strip(),
                      status_before=before.status)
        after = self._get(session)
        if not changed:
            raise NotInReview(f"receipt {session} is {after.status}"
                              f"{'' if after.published else ' (not yet delivered)'}: only a "
                              "billed, delivered receipt can be disputed")
        log.info("receipt %s disputed by %s: %s", session, actor, reason.strip())
        return after

    def review_since(self, receipt: StoredReceipt,
                     trail: list[dict[str, Any]] | None = None) -> int:
        """When the receipt (last) entered review: its dispute, else the machine's decision."""
        trail = self.outbox.trail(receipt.session) if trail is None else trail
        return max([receipt.decided_ns, *(a["t_ns"] for a in trail if a["action"] == "disputed")])

    def queue(self, now_ns: int) -> list[dict[str, Any]]:
        """Receipts waiting for a person, escalated first, then oldest first."""
        out = []
        for receipt in self.db.receipts("review"):
            trail = self.outbox.trail(receipt.session)
            since = self.review_since(receipt, trail)
            item = receipt.as_json()
            item.update(since_ns=since, deadline_ns=since + self.deadline_ns,
                        escalated=any(a["action"] == "escalated" and a["t_ns"] >= since
                                      for a in trail),
                        overdue=now_ns > since + self.deadline_ns, audit=trail)
            out.append(item)
        out.sort(key=lambda x: (not x["escalated"], x["since_ns"], x["session"]))
        return out

    def escalate_overdue(self, now_ns: int) -> list[str]:
        """Escalate (once per stay in review) every receipt past its deadline."""
        done = []
        for item in self.queue(now_ns):
            if item["overdue"] and not item["escalated"]:
                with self.db.transaction() as con:
                    audit(con, now_ns, item["session"], "escalated", "server",
                          waited_s=round((now_ns - item["since_ns"]) / _NS, 1),
                          deadline_s=self.deadline_ns / _NS)
                log.warning("receipt %s for %s waited %.0f s for review (deadline %.0f s): "
                            "escalated", item["session"], item["account"],
                            (now_ns - item["since_ns"]) / _NS, self.deadline_ns / _NS)
                self.escalated += 1
                done.append(item["session"])
        return done

    def _get(self, session: str) -> StoredReceipt:
        receipt = self.db.receipt(session)
        if receipt is None:
            raise KeyError(session)
        return receipt
