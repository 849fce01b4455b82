"""The server's storage: every accepted event and the state derived from them, behind one
small interface (:class:`ServerStore`) so that a chain can later point many stores at a shared
database. :class:`SqliteServerStore` is the default: one SQLite file in WAL mode, no set-up.

Events are the source of truth. Sessions and carts are re-derived from them after a restart
(the server replays its events through the same code); what must never happen twice — a
receipt issued, published, confirmed or corrected — is stored as it happens, keyed by the
session, so a restart cannot issue it again.

The class is also the :class:`walkout.wire.store.MessageStore` the wire receiver writes to:
``store(batch)`` commits before it returns, so the receiver acks only what is on disk.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from walkout import protocol
from walkout.wire.store import open_wal_database

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id    INTEGER PRIMARY KEY,      -- arrival order: the cursor the server core reads by
    src   TEXT    NOT NULL,
    seq   INTEGER NOT NULL,
    type  TEXT    NOT NULL,
    t_ns  INTEGER NOT NULL,
    body  TEXT    NOT NULL,         -- the JSON body exactly as received
    UNIQUE (src, seq)               -- an event is stored once, whatever is resent
);
CREATE INDEX IF NOT EXISTS events_type_time ON events (type, t_ns);
CREATE TABLE IF NOT EXISTS receipts (
    session     TEXT PRIMARY KEY,   -- one receipt per session, ever
    account     TEXT NOT NULL,
    status      TEXT NOT NULL,      -- issued | review | confirmed | corrected
    confidence  REAL NOT NULL,
    total_cents INTEGER NOT NULL,
    lines       TEXT NOT NULL,      -- JSON list of lines
    reasons     TEXT NOT NULL,      -- JSON list of doubts
    entry_ns    INTEGER NOT NULL,
    exit_ns     INTEGER NOT NULL,
    decided_ns  INTEGER NOT NULL,   -- when the settle window closed (wall clock)
    issued_ns   INTEGER,            -- when it went out (NULL while in review)
    published   INTEGER NOT NULL DEFAULT 0,
    draft       TEXT NOT NULL       -- the machine's lines, kept when a reviewer corrects
);
CREATE INDEX IF NOT EXISTS receipts_to_publish ON receipts (published, status);
CREATE TABLE IF NOT EXISTS sessions (
    id          TEXT PRIMARY KEY,
    account     TEXT NOT NULL,
    gate        TEXT NOT NULL,
    entry_ns    INTEGER NOT NULL,
    exit_ns     INTEGER,
    members     TEXT NOT NULL,      -- JSON list of global shopper ids
    party_size  INTEGER NOT NULL,
    profile     TEXT NOT NULL       -- JSON: only what the shopper shared in the app
);
CREATE TABLE IF NOT EXISTS anomalies (
    kind   TEXT NOT NULL,
    key    TEXT NOT NULL,
    slot   TEXT NOT NULL,
    t_ns   INTEGER NOT NULL,
    detail TEXT NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE TABLE IF NOT EXISTS snapshots (
    cursor  INTEGER PRIMARY KEY,    -- the last event id the state has taken in
    version TEXT    NOT NULL,       -- code + settings it was made with; another is ignored
    state   BLOB    NOT NULL        -- the derived state (pickle; this file is trusted anyway)
);
"""


@dataclass(frozen=True)
class StoredReceipt:
    session: str
    account: str
    status: str
    confidence: float
    total_cents: int
    lines: list[dict[str, Any]]
    reasons: list[str]
    entry_ns: int
    exit_ns: int
    decided_ns: int
    issued_ns: int | None
    published: bool
    draft: list[dict[str, Any]]

    def as_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class SessionRow:
    id: str
    account: str
    gate: str
    entry_ns: int
    exit_ns: int | None
    members: list[int]
    party_size: int
    profile: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


class ServerStore(Protocol):
    """What the server needs from its storage (see the module docstring)."""

    def positions(self) -> dict[str, int]: ...
    def store(self, batch: Sequence[tuple[protocol.Message, bytes]]) -> None: ...
    def read_after(self, cursor: int, limit: int) -> list[tuple[int, protocol.Message]]: ...
    def events_between(self, types: Sequence[str], t0_ns: int,
                       t1_ns: int) -> list[protocol.Message]: ...
    def count_events(self) -> int: ...
    def duplicate_events(self) -> int: ...
    def save_session(self, row: SessionRow) -> None: ...
    def sessions(self) -> list[SessionRow]: ...
    def add_receipt(self, receipt: StoredReceipt) -> bool: ...
    def receipt(self, session: str) -> StoredReceipt | None: ...
    def receipts(self, status: str | None = None) -> list[StoredReceipt]: ...
    def unpublished(self) -> list[StoredReceipt]: ...
    def decide_review(self, session: str, status: str, lines: list[dict[str, Any]],
                      total_cents: int, issued_ns: int) -> StoredReceipt: ...
    def mark_published(self, session: str) -> None: ...
    def add_anomalies(self, rows: Sequence[tuple[str, str, str, int, str]]) -> None: ...
    def anomalies(self) -> list[dict[str, Any]]: ...
    def save_snapshot(self, cursor: int, version: str, state: bytes, keep: int = 2) -> None: ...
    def latest_snapshot(self, version: str) -> tuple[int, bytes] | None: ...
    def close(self) -> None: ...


class SqliteServerStore:
    """:class:`ServerStore` in one SQLite file (WAL journal).

    Parameters
    ----------
    path:
        Database file (its folder is created). ``":memory:"`` is refused: not durable.
    synchronous:
        ``"FULL"`` flushes the WAL on every commit (survives a power cut); ``"NORMAL"``
        survives a crash of the process (kill -9) but may lose the last commits on a power
        cut, and is faster on slow disks. One commit per received batch either way.
    """

    def __init__(self, path: Path | str,
                 synchronous: Literal["FULL", "NORMAL"] = "FULL") -> None:
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous: expected 'FULL' or 'NORMAL', got {synchronous!r}")
        self.path = Path(path)
        # One connection shared by the receiver, core and HTTP threads under one lock: the
        # work per call is small, and one writer is what SQLite wants anyway.
        self._db = open_wal_database(path, synchronous, _SCHEMA)
        self._lock = threading.Lock()
        self._duplicates = 0

    # --- events (the wire receiver's MessageStore) ---------------------------------------------

    def positions(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT src, MAX(seq) FROM events GROUP BY src").fetchall()
        return {src: int(seq) for src, seq in rows}

    def store(self, batch: Sequence[tuple[protocol.Message, bytes]]) -> None:
        rows = [(m.src, m.seq, m.type, m.t_ns, bytes(body).decode()) for m, body in batch]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                before = self._db.total_changes
                # OR IGNORE: the receiver already drops duplicates by (src, seq); this is the
                # second line of defence, and counted so tests can see it never fires.
                self._db.executemany(
                    "INSERT OR IGNORE INTO events (src, seq, type, t_ns, body) "
                    "VALUES (?,?,?,?,?)", rows)
                self._duplicates += len(rows) - (self._db.total_changes - before)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def read_after(self, cursor: int, limit: int = 5000) -> list[tuple[int, protocol.Message]]:
        """Events stored after ``cursor`` in arrival order, decoded."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, type, body FROM events WHERE id > ? ORDER BY id LIMIT ?",
                (cursor, limit)).fetchall()
        return [(i, protocol.decode(body.encode(), kind.encode())) for i, kind, body in rows]

    def events_between(self, types: Sequence[str], t0_ns: int,
                       t1_ns: int) -> list[protocol.Message]:
        """Events of ``types`` with ``t0_ns <= t_ns <= t1_ns``, in (t_ns, src, seq) order."""
        marks = ",".join("?" * len(types))
        with self._lock:
            rows = self._db.execute(
                f"SELECT type, body FROM events WHERE type IN ({marks}) AND t_ns BETWEEN ? AND ? "
                "ORDER BY t_ns, src, seq", (*types, t0_ns, t1_ns)).fetchall()
        return [protocol.decode(body.encode(), kind.encode()) for kind, body in rows]

    def count_events(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM events").fetchone()[0])

    def duplicate_events(self) -> int:
        """Rows offered to :meth:`store` that were already stored (since this process began)."""
        return self._duplicates

    # --- derived state -------------------------------------------------------------------------

    def save_session(self, row: SessionRow) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO sessions VALUES (?,?,?,?,?,?,?,?)",
                (row.id, row.account, row.gate, row.entry_ns, row.exit_ns,
                 json.dumps(row.members), row.party_size, json.dumps(row.profile)))

    def sessions(self) -> list[SessionRow]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM sessions ORDER BY entry_ns, id").fetchall()
        return [SessionRow(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), r[6],
                           json.loads(r[7])) for r in rows]

    def add_receipt(self, receipt: StoredReceipt) -> bool:
        """Store a decided receipt; False (and nothing changes) if the session has one."""
        r = receipt
        with self._lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO receipts VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (r.session, r.account, r.status, r.confidence, r.total_cents,
                 json.dumps(r.lines), json.dumps(r.reasons), r.entry_ns, r.exit_ns,
                 r.decided_ns, r.issued_ns, int(r.published), json.dumps(r.draft)))
            return cur.rowcount == 1

    def _receipt_rows(self, where: str, args: tuple[Any, ...]) -> list[StoredReceipt]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT * FROM receipts {where} ORDER BY exit_ns, session", args).fetchall()
        return [StoredReceipt(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), json.loads(r[6]),
                              r[7], r[8], r[9], r[10], bool(r[11]), json.loads(r[12]))
                for r in rows]

    def unpublished(self) -> list[StoredReceipt]:
        """Receipts decided for billing (issued, confirmed, corrected) not yet published."""
        return self._receipt_rows(
            "WHERE published = 0 AND status IN ('issued', 'confirmed', 'corrected')", ())

    def receipt(self, session: str) -> StoredReceipt | None:
        rows = self._receipt_rows("WHERE session = ?", (session,))
        return rows[0] if rows else None

    def receipts(self, status: str | None = None) -> list[StoredReceipt]:
        if status is None:
            return self._receipt_rows("", ())
        return self._receipt_rows("WHERE status = ?", (status,))

    def decide_review(self, session: str, status: str, lines: list[dict[str, Any]],
                      total_cents: int, issued_ns: int) -> StoredReceipt:
        """Close a review: ``status`` confirmed or corrected, with the lines to bill."""
        with self._lock:
            cur = self._db.execute(
                "UPDATE receipts SET status=?, lines=?, total_cents=?, issued_ns=?, published=0 "
                "WHERE session=? AND status='review'",
                (status, json.dumps(lines), total_cents, issued_ns, session))
            changed = cur.rowcount
        receipt = self.receipt(session)
        if receipt is None:
            raise KeyError(session)
        if not changed:
            raise ValueError(f"session: receipt {session!r} is {receipt.status}, not in review")
        return receipt

    def mark_published(self, session: str) -> None:
        with self._lock:
            self._db.execute("UPDATE receipts SET published=1 WHERE session=?", (session,))

    def add_anomalies(self, rows: Sequence[tuple[str, str, str, int, str]]) -> None:
        with self._lock:
            self._db.executemany("INSERT OR IGNORE INTO anomalies VALUES (?,?,?,?,?)", rows)

    def anomalies(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT kind, key, slot, t_ns, detail FROM anomalies ORDER BY t_ns, kind, key"
            ).fetchall()
        return [dict(zip(("kind", "key", "slot", "t_ns", "detail"), r, strict=True)) for r in rows]

    def save_snapshot(self, cursor: int, version: str, state: bytes, keep: int = 2) -> None:
        """Store the derived state as of event ``cursor``; keep the newest ``keep``."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("INSERT OR REPLACE INTO snapshots VALUES (?,?,?)",
                                 (cursor, version, state))
                self._db.execute("DELETE FROM snapshots WHERE cursor NOT IN (SELECT cursor "
                                 "FROM snapshots ORDER BY cursor DESC LIMIT ?)", (max(1, keep),))
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def latest_snapshot(self, version: str) -> tuple[int, bytes] | None:
        """(cursor, state) of the newest snapshot made by ``version``, if any."""
        with self._lock:
            row = self._db.execute("SELECT cursor, state FROM snapshots WHERE version = ? "
                                   "ORDER BY cursor DESC LIMIT 1", (version,)).fetchone()
        return None if row is None else (int(row[0]), bytes(row[1]))

    # --- the operations tables (outbox, audit trail: walkout.server.outbox) ------------------

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """The connection under this store's lock, inside one ``BEGIN IMMEDIATE`` transaction
        committed when the block ends (rolled back if it raises): for tables of other modules
        that must change together with a receipt (the outbox and the audit trail)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()
