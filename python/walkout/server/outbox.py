"""The receipt outbox and the audit trail: two tables beside the receipts in the server's
SQLite file.

**Outbox.** Every time a receipt is billed (issued at once, or confirmed / corrected by a
person, again after a dispute) it gets the next *version* and one outbox row, written in the
same transaction that marks the receipt published, so a crash can neither lose a version nor
make one twice. The webhook worker (``webhook.py``) delivers due rows and marks one delivered
only when the receiver answered 2xx; a failed try moves ``next_try_ns`` back (exponential
backoff). ``(receipt, version)`` is the key a receiver de-duplicates by.

**Audit trail.** Every decision about a receipt, with who took it (the token's name) and
when: ``issued``/``review`` by the machine, ``confirmed``/``corrected`` by a reviewer,
``disputed`` by the shopper's app, ``escalated`` past the review deadline, ``delivered``.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from walkout.server.db import SqliteServerStore, StoredReceipt

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS outbox (
        receipt      TEXT    NOT NULL,  -- the receipt's session id
        version      INTEGER NOT NULL,  -- 1 = first billed, +1 for each later decision
        account      TEXT    NOT NULL,
        body         TEXT    NOT NULL,  -- the JSON delivered, exactly as signed
        created_ns   INTEGER NOT NULL,
        attempts     INTEGER NOT NULL DEFAULT 0,
        next_try_ns  INTEGER NOT NULL,
        delivered_ns INTEGER,           -- NULL until a receiver answered 2xx
        last_error   TEXT    NOT NULL DEFAULT '',
        PRIMARY KEY (receipt, version))""",
    "CREATE INDEX IF NOT EXISTS outbox_due ON outbox (delivered_ns, next_try_ns)",
    "CREATE INDEX IF NOT EXISTS outbox_account ON outbox (account, created_ns)",
    """CREATE TABLE IF NOT EXISTS audit (
        id      INTEGER PRIMARY KEY,
        t_ns    INTEGER NOT NULL,       -- wall clock of the decision
        receipt TEXT    NOT NULL,
        action  TEXT    NOT NULL,
        actor   TEXT    NOT NULL,       -- token name, 'server' for the machine, 'app' ...
        detail  TEXT    NOT NULL)""",   # JSON
    "CREATE INDEX IF NOT EXISTS audit_receipt ON audit (receipt, id)",
)


@dataclass(frozen=True)
class OutboxRow:
    receipt: str
    version: int
    account: str
    body: str
    created_ns: int
    attempts: int
    next_try_ns: int
    delivered_ns: int | None
    last_error: str

    def as_json(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "body"}
        out["body"] = json.loads(self.body)
        return out


def audit(con: sqlite3.Connection, t_ns: int, receipt: str, action: str, actor: str,
          **detail: Any) -> None:
    """One audit row, inside the caller's transaction."""
    con.execute("INSERT INTO audit (t_ns, receipt, action, actor, detail) VALUES (?,?,?,?,?)",
                (t_ns, receipt, action, actor, json.dumps(detail, sort_keys=True)))


class Outbox:
    """The outbox and audit tables of one :class:`SqliteServerStore`."""

    def __init__(self, db: SqliteServerStore) -> None:
        self.db = db
        with db.transaction() as con:
            for statement in _SCHEMA:
                con.execute(statement)

    def bill(self, receipt: StoredReceipt, body: dict[str, Any], now_ns: int) -> int | None:
        """Give a billed, unpublished receipt its next version: one outbox row and the receipt
        marked published, atomically. None if it was published meanwhile (nothing written)."""
        with self.db.transaction() as con:
            changed = con.execute("UPDATE receipts SET published=1 WHERE session=? AND "
                                  "published=0", (receipt.session,)).rowcount
            if not changed:
                return None
            version = 1 + int(con.execute("SELECT COALESCE(MAX(version), 0) FROM outbox "
                                          "WHERE receipt=?", (receipt.session,)).fetchone()[0])
            text = json.dumps({**body, "version": version}, sort_keys=True)
            con.execute("INSERT INTO outbox (receipt, version, account, body, created_ns, "
                        "next_try_ns) VALUES (?,?,?,?,?,?)",
                        (receipt.session, version, receipt.account, text, now_ns, now_ns))
            if receipt.status == "issued" and version == 1:
                audit(con, now_ns, receipt.session, "issued", "server",
                      confidence=receipt.confidence, total_cents=receipt.total_cents)
        return version

    def due(self, now_ns: int, limit: int = 100) -> list[OutboxRow]:
        return self._rows("WHERE delivered_ns IS NULL AND next_try_ns <= ? "
                          "ORDER BY next_try_ns, created_ns LIMIT ?", (now_ns, limit))

    def next_due_ns(self) -> int | None:
        with self.db.transaction() as con:
            row = con.execute("SELECT MIN(next_try_ns) FROM outbox WHERE delivered_ns IS NULL"
                              ).fetchone()
        return None if row[0] is None else int(row[0])

    def delivered(self, row: OutboxRow, now_ns: int, status: int) -> None:
        with self.db.transaction() as con:
            con.execute("UPDATE outbox SET delivered_ns=?, attempts=attempts+1, last_error='' "
                        "WHERE receipt=? AND version=?", (now_ns, row.receipt, row.version))
            audit(con, now_ns, row.receipt, "delivered", "server", version=row.version,
                  status=status, attempts=row.attempts + 1)

    def failed(self, row: OutboxRow, next_try_ns: int, error: str) -> None:
        with self.db.transaction() as con:
            con.execute("UPDATE outbox SET attempts=attempts+1, next_try_ns=?, last_error=? "
                        "WHERE receipt=? AND version=?",
                        (next_try_ns, error[:500], row.receipt, row.version))

    def retry_now(self, now_ns: int) -> int:
        """Make every undelivered row due now (an operator after fixing the receiver)."""
        with self.db.transaction() as con:
            return con.execute("UPDATE outbox SET next_try_ns=? WHERE delivered_ns IS NULL",
                               (now_ns,)).rowcount

    def rows(self, receipt: str | None = None, account: str | None = None,
             pending: bool = False) -> list[OutboxRow]:
        where, args = [], []
        if receipt is not None:
            where.append("receipt = ?")
            args.append(receipt)
        if account is not None:
            where.append("account = ?")
            args.append(account)
        if pending:
            where.append("delivered_ns IS NULL")
        clause = ("WHERE " + " AND ".join(where)) if where else ""
        return self._rows(f"{clause} ORDER BY created_ns, receipt, version", tuple(args))

    def latest_version(self, receipt: str) -> int:
        with self.db.transaction() as con:
            return int(con.execute("SELECT COALESCE(MAX(version), 0) FROM outbox WHERE "
                                   "receipt=?", (receipt,)).fetchone()[0])

    def counts(self) -> dict[str, int]:
        with self.db.transaction() as con:
            pending, delivered, tries = con.execute(
                "SELECT COALESCE(SUM(delivered_ns IS NULL), 0), "
                "COALESCE(SUM(delivered_ns IS NOT NULL), 0), COALESCE(SUM(attempts), 0) "
                "FROM outbox").fetchone()
        return {"pending": int(pending), "delivered": int(delivered), "attempts": int(tries)}

    def _rows(self, clause: str, args: tuple[Any, ...]) -> list[OutboxRow]:
        with self.db.transaction() as con:
            rows = con.execute(f"SELECT receipt, version, account, body, created_ns, attempts, "
                               f"next_try_ns, delivered_ns, last_error FROM outbox {clause}",
                               args).fetchall()
        return [OutboxRow(*r) for r in rows]

    # --- the audit trail -----------------------------------------------------------------------

    def trail(self, receipt: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        with self.db.transaction() as con:
            if receipt is None:
                rows = con.execute("SELECT id, t_ns, receipt, action, actor, detail FROM audit "
                                   "ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
            else:
                rows = con.execute("SELECT id, t_ns, receipt, action, actor, detail FROM audit "
                                   "WHERE receipt=? ORDER BY id", (receipt,)).fetchall()
        return [{"id": i, "t_ns": t, "receipt": r, "action": a, "actor": who,
                 "detail": json.loads(d)} for i, t, r, a, who, d in rows]

    def action_counts(self) -> dict[str, int]:
        with self.db.transaction() as con:
            rows = con.execute("SELECT action, COUNT(*) FROM audit GROUP BY action").fetchall()
        return {a: int(n) for a, n in rows}
