"""The sender's bounded on-disk spool: every accepted message, in ``seq`` order, until acked.

Layout of the spool folder::

    seg-00000000000000000001.log   records with seq 1, 2, ...  (name = first seq inside)
    seg-00000000000000004711.log   the current segment, appended to
    acked                          highest seq the server acknowledged (a hint, see below)

A record is a 18-byte header ``<seq u64, topic_len u16, body_len u32, crc32 u32>`` then the
topic and the JSON body. Records are appended with one ``write`` each on an ``O_APPEND``
descriptor, so a message is in the operating system's file cache when :meth:`Spool.append`
returns: a ``kill -9`` of the process loses nothing it accepted. With ``durability="power"``
each append is also ``fdatasync``-ed, which survives a power cut too but costs a disk flush per
call (batch with :meth:`Spool.append_many`). A torn record at the end (power cut mid-write) is
found by its length or checksum on the next open and cut off.

``seq`` is never reused, across restarts too: the newest segment is never deleted, so the
highest seq ever assigned is always on disk; whole segments are deleted once every record in
them is acked. The ``acked`` file only saves resending after a restart: if it is stale, the
receiver drops the duplicates by (src, seq).

Size: :attr:`Spool.used_bytes` counts the segment files; an append that would exceed
``max_bytes`` raises :class:`SpoolFull` and changes nothing (no seq is consumed, so the
receiver never sees a gap). What to do then is the caller's policy (see
:class:`walkout.wire.sender.Sender`).
"""

from __future__ import annotations

import bisect
import logging
import os
import struct
import threading
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

log = logging.getLogger("walkout.wire.spool")

_HEADER = struct.Struct("<QHII")  # seq, topic length, body length, crc32(topic + body)
_PREFIX, _SUFFIX = "seg-", ".log"

Record = tuple[int, bytes, bytes]
"""(seq, topic, body)"""


class SpoolFull(RuntimeError):
    """The spool has no room for this message; it was not accepted and got no seq."""


@dataclass
class _Segment:
    first_seq: int
    path: Path
    size: int
    last_seq: int


def _segment_path(folder: Path, first_seq: int) -> Path:
    return folder / f"{_PREFIX}{first_seq:020d}{_SUFFIX}"


def _encode_record(seq: int, topic: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(body, zlib.crc32(topic))
    return _HEADER.pack(seq, len(topic), len(body), crc) + topic + body


def _parse_records(data: bytes | memoryview, start: int = 0) -> tuple[list[tuple[int, int, bytes, bytes]], int]:
    """Records in ``data`` from offset ``start`` as (offset, seq, topic, body), and the offset
    where the valid records end (a torn or corrupt tail starts there)."""
    records: list[tuple[int, int, bytes, bytes]] = []
    pos, end, hsize = start, len(data), _HEADER.size
    while pos + hsize <= end:
        seq, tlen, blen, crc = _HEADER.unpack_from(data, pos)
        stop = pos + hsize + tlen + blen
        if stop > end:
            break
        topic = bytes(data[pos + hsize: pos + hsize + tlen])
        body = bytes(data[pos + hsize + tlen: stop])
        if zlib.crc32(body, zlib.crc32(topic)) != crc:
            break
        records.append((pos, seq, topic, body))
        pos = stop
    return records, pos


class Spool:
    """A crash-safe, size-bounded, append-only queue of messages keyed by ``seq``.

    Thread-safe: one thread may append while another reads and acks (the sender's case).

    Parameters
    ----------
    directory:
        The spool folder (created). One source per folder: the folder *is* its seq counter.
    max_bytes:
        Limit of the segment files together. Larger rides out longer server outages at the
        cost of disk; at 300 bytes a message and 100 messages/s, 256 MB is about 2.5 hours.
    segment_bytes:
        Size at which a new segment file starts. Smaller frees acked space sooner and makes
        replay start faster after a restart, larger means fewer files. Default: max_bytes / 16,
        between 4 KiB and 8 MiB.
    durability:
        ``"process"``: written to the OS before append returns (survives a crash or kill of
        this process). ``"power"``: also flushed to the disk (survives a power cut; one disk
        flush per append call).
    cache_bytes:
        Recent unacked records kept in memory so that sending does not read the disk back.
        Records older than that are read from the segment files (replay after an outage).
    """

    def __init__(self, directory: Path | str, max_bytes: int, *, segment_bytes: int | None = None,
                 durability: Literal["process", "power"] = "process",
                 cache_bytes: int = 16 << 20) -> None:
        if max_bytes < 4096:
            raise ValueError(f"max_bytes: expected at least 4096 bytes, got {max_bytes}")
        if durability not in ("process", "power"):
            raise ValueError(f"durability: expected 'process' or 'power', got {durability!r}")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_bytes = int(max_bytes)
        self.segment_bytes = int(segment_bytes or min(max(max_bytes // 16, 4096), 8 << 20))
        self.durability = durability
        self.cache_bytes = int(cache_bytes)
        self._lock = threading.Lock()
        self._segments: list[_Segment] = []
        self._used = 0
        self._fd = -1
        self._cache: list[Record] = []  # contiguous seqs; live entries are _cache[_head:]
        self._head = 0
        self._cached_bytes = 0
        self._reader: tuple[int, Path, int] | None = None  # (next seq, segment, offset)
        self.acked = 0
        self.next_seq = 1
        self._recover()

    # --- opening -----------------------------------------------------------------------------

    def _recover(self) -> None:
        paths = sorted(self.directory.glob(f"{_PREFIX}*{_SUFFIX}"))
        last_seq = 0
        for index, path in enumerate(paths):
            data = path.read_bytes()
            records, valid_end = _parse_records(data)
            if valid_end < len(data):
                where = "at its end" if index == len(paths) - 1 else "BEFORE newer segments"
                log.error("spool %s: %d bytes of a torn or corrupt record %s cut off",
                          path, len(data) - valid_end, where)
                with open(path, "r+b") as f:
                    f.truncate(valid_end)
            if not records:
                if index == len(paths) - 1 and last_seq == 0:
                    # An empty newest segment (created, then killed before the write) still
                    # names the next seq to use.
                    last_seq = int(path.name[len(_PREFIX):-len(_SUFFIX)]) - 1
                path.unlink()
                continue
            first, last = records[0][1], records[-1][1]
            if first <= last_seq:
                raise ValueError(f"spool {path}: seq {first} repeats an earlier segment; the "
                                 "spool folder is damaged or shared by two sources")
            self._segments.append(_Segment(first, path, valid_end, last))
            self._used += valid_end
            last_seq = last
        acked_hint = self._read_acked_hint()
        if not self._segments:
            last_seq = max(last_seq, acked_hint)
        first_kept = self._segments[0].first_seq if self._segments else last_seq + 1
        self.acked = max(min(acked_hint, last_seq), first_kept - 1)
        self.next_seq = max(last_seq, self.acked) + 1
        if self._segments:
            self._fd = self._open_append(self._segments[-1].path)

    def _read_acked_hint(self) -> int:
        try:
            return int((self.directory / "acked").read_text().strip() or 0)
        except (OSError, ValueError):
            return 0

    def _open_append(self, path: Path) -> int:
        return os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    # --- state -------------------------------------------------------------------------------

    @property
    def used_bytes(self) -> int:
        """Bytes of unacked data on disk, give or take a segment: whole segment files, less
        the open segment when all of it is acked (the next write replaces it)."""
        if self._segments and self._segments[-1].last_seq <= self.acked:
            return self._used - self._segments[-1].size
        return self._used

    @property
    def fill(self) -> float:
        """Fraction of ``max_bytes`` in use (0..1)."""
        return min(1.0, self.used_bytes / self.max_bytes)

    @property
    def last_seq(self) -> int:
        """The highest seq assigned so far (0 before the first message)."""
        return self.next_seq - 1

    @property
    def pending(self) -> int:
        """Messages accepted but not yet acked."""
        return self.next_seq - 1 - self.acked

    # --- writing -----------------------------------------------------------------------------

    def append(self, topic: bytes, body: bytes) -> int:
        """Store one message; returns its seq. Raises :class:`SpoolFull` (nothing stored)."""
        # The one-record case of append_many, inlined: it runs for every message a source
        # sends, and each helper call here cost about as much as the write itself.
        with self._lock:
            seq = self.next_seq
            blob = b"".join((_HEADER.pack(seq, len(topic), len(body),
                                          zlib.crc32(body, zlib.crc32(topic))), topic, body))
            size = len(blob)
            if self._used + size > self.max_bytes:
                self._make_room(size)
            segments = self._segments
            segment = segments[-1] if segments else None
            if (segment is None or segment.size + size > self.segment_bytes
                    or segment.last_seq <= self.acked):
                self._write(blob, seq, seq)  # rotation and its cases
            else:
                if os.write(self._fd, blob) != size:
                    raise OSError(f"spool {segment.path}: short write (disk full?)")
                if self.durability == "power":
                    os.fdatasync(self._fd)
                segment.size += size
                segment.last_seq = seq
                self._used += size
            self.next_seq = seq + 1
            self._cache.append((seq, topic, body))
            self._cached_bytes += size
            if self._cached_bytes > self.cache_bytes:
                self._cache_add([], 0)  # trims
            return seq

    def append_many(self, items: Sequence[tuple[bytes, bytes]]) -> list[int]:
        """Store several messages with one write; all are stored or none (:class:`SpoolFull`)."""
        with self._lock:
            first = self.next_seq
            seqs = list(range(first, first + len(items)))
            records = [(s, t, b) for s, (t, b) in zip(seqs, items, strict=True)]
            blob = b"".join(_encode_record(s, t, b) for s, t, b in records)
            if not items:
                return []
            self._make_room(len(blob))
            self._write(blob, first, seqs[-1])
            self.next_seq = seqs[-1] + 1
            self._cache_add(records, len(blob))
            return seqs

    def _make_room(self, size: int) -> None:
        if self.used_bytes + size <= self.max_bytes:
            return
        raise SpoolFull(
            f"spool {self.directory} is full: {self._used} of {self.max_bytes} bytes hold "
            f"{self.pending} unacked messages; refusing a {size}-byte write"
        )

    def _write(self, blob: bytes, first: int, last: int) -> None:
        segment = self._segments[-1] if self._segments else None
        if segment is None or (segment.size and segment.size + len(blob) > self.segment_bytes):
            self._rotate(first)
        elif segment.size and segment.last_seq <= self.acked:
            # Everything in the open segment is acked: start a new one with this write and
            # drop the old (the new one now holds the highest seq, so none is ever reused).
            self._rotate(first)
            self._delete(segment)
        segment = self._segments[-1]
        written = os.write(self._fd, blob)
        if written != len(blob):  # a regular file only writes short when the disk is full
            raise OSError(f"spool {segment.path}: short write ({written} of {len(blob)} bytes)")
        if self.durability == "power":
            os.fdatasync(self._fd)
        segment.size += len(blob)
        segment.last_seq = last
        self._used += len(blob)

    def _rotate(self, first_seq: int) -> None:
        if self._fd >= 0:
            os.close(self._fd)
        path = _segment_path(self.directory, first_seq)
        self._fd = self._open_append(path)
        if self.durability == "power":
            dir_fd = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        self._segments.append(_Segment(first_seq, path, 0, first_seq - 1))

    def _delete(self, segment: _Segment) -> None:
        self._segments.remove(segment)
        self._used -= segment.size
        try:
            segment.path.unlink()
        except FileNotFoundError:
            pass

    def _cache_add(self, records: list[Record], size: int) -> None:
        self._cache.extend(records)
        self._cached_bytes += size
        while self._cached_bytes > self.cache_bytes and self._head < len(self._cache):
            self._cache_pop()

    def _cache_pop(self) -> None:
        _, topic, body = self._cache[self._head]
        self._cached_bytes -= _HEADER.size + len(topic) + len(body)
        self._head += 1
        if self._head > 4096 and self._head * 2 > len(self._cache):
            del self._cache[: self._head]
            self._head = 0

    # --- reading and acking --------------------------------------------------------------------

    def read(self, from_seq: int, limit: int) -> list[Record]:
        """Up to ``limit`` unacked records starting at ``from_seq`` (fewer at the end)."""
        with self._lock:
            from_seq = max(from_seq, self.acked + 1)
            if from_seq >= self.next_seq or limit <= 0:
                return []
            if self._head < len(self._cache):
                first_cached = self._cache[self._head][0]
                if from_seq >= first_cached:
                    i = self._head + from_seq - first_cached
                    return self._cache[i: i + limit]
            return self._read_disk(from_seq, limit)

    def _read_disk(self, from_seq: int, limit: int) -> list[Record]:
        firsts = [segment.first_seq for segment in self._segments]
        out: list[Record] = []
        seq = from_seq
        while len(out) < limit and seq < self.next_seq:
            index = bisect.bisect_right(firsts, seq) - 1
            if index < 0:
                break
            got = self._scan_segment(self._segments[index], seq, limit - len(out))
            out += got
            if got:
                seq = got[-1][0] + 1
            if len(out) < limit:  # that segment is exhausted: go on with the next one
                if index + 1 >= len(self._segments):
                    break
                seq = max(seq, firsts[index + 1])
        return out

    def _scan_segment(self, segment: _Segment, seq: int, limit: int) -> list[Record]:
        """Up to ``limit`` records of one segment from ``seq`` on, read window by window (a
        replay reads on from where the previous call stopped instead of from the start)."""
        offset = 0
        if self._reader is not None and self._reader[:2] == (seq, segment.path):
            offset = self._reader[2]
        out: list[Record] = []
        window = 1 << 20
        with open(segment.path, "rb") as f:
            while len(out) < limit and offset < segment.size:
                f.seek(offset)
                data = f.read(min(window, segment.size - offset))
                parsed, valid_end = _parse_records(data)
                if not parsed:
                    if len(data) < window:
                        break  # damaged after this point (cut off at the next open)
                    window *= 2  # one record larger than the window
                    continue
                for pos, rec_seq, topic, body in parsed:
                    if rec_seq < seq:
                        continue
                    out.append((rec_seq, topic, body))
                    if len(out) >= limit:
                        valid_end = pos + _HEADER.size + len(topic) + len(body)
                        break
                offset += valid_end
        if out:
            self._reader = (out[-1][0] + 1, segment.path, offset)
        return out

    def ack(self, upto: int) -> None:
        """Everything up to ``upto`` is stored by the receiver: free what can be freed."""
        with self._lock:
            upto = min(upto, self.next_seq - 1)
            if upto <= self.acked:
                return
            while self._head < len(self._cache) and self._cache[self._head][0] <= upto:
                self._cache_pop()
            for segment in list(self._segments[:-1]):
                if segment.last_seq <= upto:
                    self._delete(segment)
                else:
                    break
            # Last, so a reader of ``acked`` in another thread (flush) sees the space freed.
            self.acked = upto

    def save_acked(self) -> None:
        """Write the ``acked`` hint (atomically); call it now and then, and at close."""
        tmp = self.directory / "acked.tmp"
        tmp.write_text(f"{self.acked}\n")
        os.replace(tmp, self.directory / "acked")

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
        self.save_acked()

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
