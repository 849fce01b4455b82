"""Where the receiver puts what it accepts: the store contract, and its SQLite (WAL) form.

The receiver acknowledges a message to its source only after :meth:`MessageStore.store`
returned, so *that* call is the line between "the source must keep it" and "the server has
it". A store must therefore be durable when ``store`` returns, and must be able to say, after a
restart, how far it got with each source (:meth:`MessageStore.positions`): that is how the
receiver keeps dropping duplicates by (src, seq) across its own restarts.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

from walkout.protocol import MESSAGE_CLASSES, Message

Accepted = tuple[Message, bytes]
"""One accepted message: the decoded model and the JSON body exactly as it arrived."""


def open_wal_database(path: Path | str, synchronous: str, schema: str) -> sqlite3.Connection:
    """Open (creating its folder) a durable SQLite file in WAL mode with ``schema`` applied, in
    autocommit mode and usable from several threads (callers serialise with their own lock).
    Shared by the wire receiver's store and the store server's database."""
    if str(path) == ":memory:":
        raise ValueError("path: expected a database file; ':memory:' is not durable")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={synchronous}")
    db.executescript(schema)
    return db


@runtime_checkable
class MessageStore(Protocol):
    """What the receiver needs from the server's storage."""

    def positions(self) -> dict[str, int]:
        """The highest ``seq`` stored for every source (the receiver stores each source's
        messages strictly in seq order, so everything below it is stored too)."""
        ...

    def store(self, batch: Sequence[Accepted]) -> None:
        """Store ``batch`` (in order, possibly from several sources) atomically and durably:
        when this returns the messages must survive a crash; if it raises, none is stored and
        the receiver will not acknowledge them (the sources send them again)."""
        ...


_TAGS = {cls: tag for tag, cls in MESSAGE_CLASSES.items()}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS wire_messages (
    id    INTEGER PRIMARY KEY,      -- arrival order; a cursor for readers of the table
    src   TEXT    NOT NULL,
    seq   INTEGER NOT NULL,
    type  TEXT    NOT NULL,
    t_ns  INTEGER NOT NULL,
    body  TEXT    NOT NULL,         -- the JSON body as received (walkout.protocol.decode reads it)
    UNIQUE (src, seq)               -- a duplicate is a bug upstream: fail the batch loudly
);
"""


class SqliteStore:
    """Accepted messages in one SQLite table (WAL journal), one transaction per batch.

    Parameters
    ----------
    path:
        Database file (created with its folder). ``":memory:"`` is refused: it is not durable.
    synchronous:
        SQLite's ``synchronous`` pragma under WAL. ``"FULL"`` flushes the log to disk on every
        commit (survives a power cut); ``"NORMAL"`` survives a crash of the process but may lose
        the last commits on a power cut, and is faster on slow disks. The receiver commits
        once per batch, so FULL costs one flush per batch, not per message.
    """

    def __init__(
        self, path: Path | str, synchronous: Literal["FULL", "NORMAL", "EXTRA"] = "FULL"
    ) -> None:
        if synchronous not in ("FULL", "NORMAL", "EXTRA"):
            raise ValueError(f"synchronous: expected FULL, NORMAL or EXTRA, got {synchronous!r}")
        self.path = Path(path)
        # The receiver's thread is the only writer; other threads read through their own
        # connections (WAL lets them read while it writes).
        self._db = open_wal_database(path, synchronous, _SCHEMA)
        self._lock = threading.Lock()

    def positions(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT src, MAX(seq) FROM wire_messages GROUP BY src")
            return {src: seq for src, seq in rows}

    def store(self, batch: Sequence[Accepted]) -> None:
        tags = _TAGS
        rows = [(m.src, m.seq, tags[type(m)], m.t_ns, body.decode()) for m, body in batch]
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(
                    "INSERT INTO wire_messages (src, seq, type, t_ns, body) VALUES (?,?,?,?,?)",
                    rows,
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def count(self, src: str | None = None) -> int:
        with self._lock:
            if src is None:
                return int(self._db.execute("SELECT COUNT(*) FROM wire_messages").fetchone()[0])
            return int(
                self._db.execute(
                    "SELECT COUNT(*) FROM wire_messages WHERE src=?", (src,)
                ).fetchone()[0]
            )

    def read_after(
        self, cursor: int = 0, limit: int = 1000
    ) -> Iterator[tuple[int, str, int, str, bytes]]:
        """Rows stored after ``cursor`` in arrival order: (id, src, seq, type, body)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, src, seq, type, body FROM wire_messages WHERE id > ? ORDER BY id "
                "LIMIT ?",
                (cursor, limit),
            ).fetchall()
        for row_id, src, seq, kind, body in rows:
            yield row_id, src, seq, kind, body.encode()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
