"""The server's logic, without sockets: events in, sessions, carts and receipts out.

:class:`StoreCore` reads accepted events from the store in arrival order (``pump``) and turns
time into decisions (``tick``). Everything it derives is a function of the stored events, so
after a crash :meth:`StoreCore.pump` from the first event rebuilds the same sessions and carts;
the receipts table (one row per session, ever) keeps a restart from issuing a receipt twice.

Time. The server's "now" is the later of the wall clock and the newest event time it has seen
(so a replay played faster than real time is not held back by the wall clock). The watermark
is the oldest "latest time" among the periodic sources: the edge boxes (their framesets) and
every source that sends ``health`` (gates and shelf gateways report it periodically). Each
source's messages arrive in order, so once its watermark passed T, everything it stamped
before T is stored. A source that is late or away holds tracking and receipts back (its spool
will replay into the right place), but never longer than ``max_source_lag_s`` behind now.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from walkout import protocol
from walkout.server.cart import (
    Attribution,
    CartRules,
    Note,
    ReachEvidence,
    WeightEvidence,
    attribute,
)
from walkout.server.db import ServerStore, SessionRow, StoredReceipt
from walkout.server.planogram import Planogram
from walkout.server.receipts import Draft, Line, build_draft
from walkout.server.shoppers import GlobalShoppers, ShopperParams

log = logging.getLogger("walkout.server")
_NS = 1_000_000_000
_SNAPSHOT_FORMAT = 2  # raise when the derived state's shape changes: old snapshots are ignored
_CORE_STATE = ("cursor", "sessions", "_by_root", "_pending_checkins", "_exited", "_source_last",
               "_newest_ns", "health", "events_seen", "_snapshot_ns")


@dataclass(frozen=True)
class CoreSettings:
    """Timing of the server's decisions (each: what raising it trades)."""

    settle_window_s: float = 15.0
    """wait after exit for late weight events before the receipt; longer catches slower
    shelves and later messages, shorter sends receipts sooner"""
    review_threshold: float = 0.8
    """receipts below this confidence wait for a person; higher is safer, sends more to review"""
    bind_window_s: float = 3.0
    """a check-in binds to shoppers seen in the entry zone within this many seconds of the
    scan; wider tolerates slow gates and clock offsets, risks binding the next person in line"""
    late_bind_s: float = 4.0
    """a check-in that finds nobody in the entry zone around the scan binds to the shopper
    first seen nearest in time to it, up to this many seconds after the scan, within
    ``entry_margin_m`` of the entry zone (the boxes may confirm a track only a moment later,
    just past the zone); longer rescues slower confirmations, risks taking the next
    shopper's track (every scan's own scanner is reserved first); every binding waits this
    long (receipts do not: they wait for the exit)"""
    entry_margin_m: float = 0.5
    """how far outside the entry zone a late-bound shopper may first be seen; wider rescues
    tracks confirmed further in, risks binding someone who was already inside"""
    max_source_lag_s: float = 10.0
    """longest the tracker waits for a silent edge box; longer rides out longer outages
    without losing its tracks, delays receipts by as much while a box is away"""
    lost_session_s: float = 120.0
    """a session whose shoppers were all lost in the store (not seen leaving) for this long
    ends, and its receipt goes to review; shorter bills sooner after a tracking loss, longer
    waits out longer occlusions (a shopper behind a shelf end for minutes)"""
    transit_s: float = 0.25
    """how long a message of a live source may take to be stored; lower decides receipts
    sooner, too low decides one before the last weight change of a slow link is in"""
    live_gap_s: float = 2.0
    """a source heard from within this long counts as live (see watermark_ns); must exceed
    the sources' health interval"""
    clock_skew_tolerance_s: float = 0.25
    """a source whose health reports a larger clock offset is flagged in the status (and
    logged): its events may be paired with the wrong reaches"""
    identity_doubt_confidence: float = 0.6
    """a receipt whose shopper a box track and the global tracker disagreed about (one of
    them swapped two people who passed close) gets at most this confidence; at or above the
    review threshold such receipts are issued anyway (more issued, some billed for another's
    items), below it they wait for a person"""
    snapshot_every_s: float = 300.0
    """store the derived state at the first quiet point (nobody tracked) at least this many
    seconds of store time after the last snapshot, so a restart replays only the events
    after it; shorter restarts faster, writes the (growing) state more often; 0 never
    snapshots (a restart replays every event)"""
    reorder_s: float = 0.5
    """extra wait for messages of one box arriving out of order; longer tolerates more
    jitter, adds the same to every receipt"""

    def __post_init__(self) -> None:
        for name in ("settle_window_s", "bind_window_s", "max_source_lag_s", "lost_session_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name}: expected seconds > 0, got {getattr(self, name)}")
        if self.reorder_s < 0:
            raise ValueError(f"reorder_s: expected seconds >= 0, got {self.reorder_s}")
        if self.snapshot_every_s < 0:
            raise ValueError(f"snapshot_every_s: expected seconds >= 0 (0: never), got "
                             f"{self.snapshot_every_s}")
        if self.late_bind_s < 0 or self.entry_margin_m < 0:
            raise ValueError(f"late_bind_s, entry_margin_m: expected >= 0, got "
                             f"{self.late_bind_s}, {self.entry_margin_m}")
        if not 0.0 <= self.identity_doubt_confidence <= 1.0:
            raise ValueError(f"identity_doubt_confidence: expected 0..1, got "
                             f"{self.identity_doubt_confidence}")
        if not 0.0 <= self.review_threshold <= 1.0:
            raise ValueError(f"review_threshold: expected 0..1, got {self.review_threshold}")


@dataclass
class Session:
    id: str
    account: str
    gate: str
    entry_ns: int
    party_size: int
    profile: dict[str, Any]
    members: list[int] = field(default_factory=list)
    exits: dict[int, int] = field(default_factory=dict)
    exit_ns: int | None = None
    lost: list[int] = field(default_factory=list)
    """members whose track was lost in the store instead of leaving through an exit"""

    def row(self) -> SessionRow:
        return SessionRow(self.id, self.account, self.gate, self.entry_ns, self.exit_ns,
                          list(self.members), self.party_size, dict(self.profile))


def line_json(line: Line) -> dict[str, Any]:
    return {"sku": line.sku, "name": line.name, "qty": line.qty,
            "unit_price_cents": line.unit_price_cents, "confidence": line.confidence,
            "reasons": list(line.reasons)}


class StoreCore:
    """Sessions, carts and receipts of one store. Not thread-safe: one thread drives it."""

    def __init__(self, planogram: Planogram, db: ServerStore,
                 settings: CoreSettings | None = None, rules: CartRules | None = None,
                 shopper_params: ShopperParams | None = None,
                 clock: Callable[[], int] = time.time_ns) -> None:
        self.planogram = planogram
        self.db = db
        self.settings = settings or CoreSettings()
        self.rules = rules or CartRules()
        self.clock = clock
        self.shoppers = GlobalShoppers(planogram, shopper_params or ShopperParams())
        self.cursor = 0
        self.sessions: dict[str, Session] = {}
        self._by_root: dict[int, str] = {}
        self._pending_checkins: list[protocol.Checkin] = []
        self._exited: dict[int, int] = {}
        self._source_last: dict[str, int] = {b: 0 for b in planogram.edge_boxes}
        self._newest_ns = 0
        self.health: dict[str, dict[str, Any]] = {}
        self.events_seen = 0
        self._snapshot_ns = 0
        self._decided = {r.session for r in db.receipts()}
        self._version = hashlib.sha256(repr((
            _SNAPSHOT_FORMAT, self.settings, self.rules, self.shoppers.params,
        )).encode()).hexdigest()[:16]
        self.restored_cursor = self._restore()
        """the event id the state was restored from a snapshot at (0: none)"""

    # --- input ---------------------------------------------------------------------------------

    def pump(self, limit: int = 5000) -> int:
        """Read events stored since the last call and take them in; returns how many."""
        total = 0
        while True:
            rows = self.db.read_after(self.cursor, limit)
            for row_id, message in rows:
                self.cursor = row_id
                self.feed(message)
            total += len(rows)
            if len(rows) < limit:
                return total

    def feed(self, message: protocol.Message) -> None:
        self.events_seen += 1
        self._newest_ns = max(self._newest_ns, message.t_ns)
        if isinstance(message, protocol.Tracks):
            self.shoppers.add(message)
            self._source_last[message.src] = max(self._source_last.get(message.src, 0), message.t_ns)
        elif isinstance(message, protocol.Checkin):
            self._pending_checkins.append(message)
        elif isinstance(message, protocol.Health):
            # A source that reports health is periodic: it joins the watermark, so events it
            # sends before a health report are known to be in when the report is.
            self._source_last[message.src] = max(self._source_last.get(message.src, 0),
                                                 message.t_ns)
            self.health[message.src] = {
                "t_ns": message.t_ns, "clock_offset_ns": message.clock_offset_ns,
                "spool_fill": message.spool_fill, "spool_full": message.spool_full,
                "latency_p95_ms": message.latency_p95_ms,
                "clock_skewed": message.clock_offset_ns is not None and abs(
                    message.clock_offset_ns) > self.settings.clock_skew_tolerance_s * _NS,
                "cameras": [{"camera": c.camera, "fps": c.fps, "dropped": c.dropped_frames,
                             "reconnects": c.reconnects} for c in message.cameras],
            }
            if self.health[message.src]["clock_skewed"]:
                log.warning("source %s reports a clock offset of %.3f s (tolerated: %.3f s)",
                            message.src, (message.clock_offset_ns or 0) / _NS,
                            self.settings.clock_skew_tolerance_s)
        # reach, dwell and weight are read back from the store when a cart is computed.

    # --- time ----------------------------------------------------------------------------------

    def now_ns(self) -> int:
        return max(self.clock(), self._newest_ns)

    def watermark_ns(self, now_ns: int | None = None) -> int:
        """Time up to which every periodic source has reported (or was waited for)."""
        now = self.now_ns() if now_ns is None else now_ns
        floor = now - int(self.settings.max_source_lag_s * _NS)
        # A live source (heard from within live_gap_s) that delivers in order has sent
        # everything it stamped before wall - transit_s; so heartbeats every second do not add
        # a second to every receipt. A replay faster than real time runs ahead of the wall
        # clock, and there only what a source has actually sent counts.
        wall = self.clock() - int(self.settings.transit_s * _NS)
        gap = int(self.settings.live_gap_s * _NS)
        marks = [max(last, min(wall, last + gap)) for last in self._source_last.values()]
        oldest = min(marks) if marks else now
        return max(oldest, floor) - int(self.settings.reorder_s * _NS)

    def tick(self, now_ns: int | None = None, decide: bool = True) -> list[StoredReceipt]:
        """Advance tracking, bind check-ins, end sessions, and (with ``decide``) decide every
        receipt whose settle window has passed; returns the receipts decided now. Without
        ``decide`` the state is rebuilt but no receipt is decided (reports on a database)."""
        now = self.now_ns() if now_ns is None else now_ns
        mark = self.watermark_ns(now)
        self.shoppers.advance(mark)
        done = self.shoppers.processed_ns
        self._bind_checkins(done)
        for root, t_exit in self.shoppers.pop_exits():
            self._exited[root] = t_exit
            sid = self._by_root.get(root)
            if sid is not None:
                self._maybe_end(self.sessions[sid])
        for session in self.sessions.values():
            if session.exit_ns is None and session.members:
                self._maybe_end(session, done)
        every = int(self.settings.snapshot_every_s * _NS)
        # Only the server's own core writes snapshots (decide), never a report reading the
        # same database beside it.
        if decide and every and self.shoppers.quiet and done - self._snapshot_ns >= every:
            self._snapshot(done)
        decided: list[StoredReceipt] = []
        if not decide:
            return decided
        settle = int(self.settings.settle_window_s * _NS)
        reorder = int(self.settings.reorder_s * _NS)
        for session in sorted(self.sessions.values(), key=lambda s: (s.exit_ns or 0, s.id)):
            if session.exit_ns is None or session.id in self._decided:
                continue
            # The reorder margin is for the tracker's frames; the settle window already
            # covers late events, so the decision waits only for the sources themselves.
            if min(now, mark + reorder) >= session.exit_ns + settle:
                receipt = self._decide(session, now)
                if receipt is not None:
                    decided.append(receipt)
        return decided

    def _bind_checkins(self, done_ns: int) -> None:
        """Bind each scan the tracker has passed by ``bind_window_s`` to its shoppers.

        The one who scanned is the shopper in the entry zone at the scan time who came in last
        before it (the one at the reader). Every scan the tracker has reached reserves its
        scanner first, so a group's companions are never taken from the next group's scanner:
        companions are the nearest other entrants (by first time in the zone) within the
        window. Scans are bound in time order, so the result never depends on arrival order.
        """
        window = int(self.settings.bind_window_s * _NS)
        late = int(self.settings.late_bind_s * _NS)
        wait = max(window, late)
        ready = sorted((c for c in self._pending_checkins if c.t_ns + wait <= done_ns),
                       key=lambda c: (c.t_ns, c.src, c.seq))
        if not ready:
            return
        scans = sorted((c for c in self._pending_checkins if c.t_ns <= done_ns),
                       key=lambda c: (c.t_ns, c.src, c.seq))
        keys = {(c.src, c.seq) for c in ready}
        self._pending_checkins = [c for c in self._pending_checkins
                                  if (c.src, c.seq) not in keys]
        leaders: dict[tuple[str, int], int] = {}
        for scan in scans:
            gate = scan.gate if scan.gate in self.planogram.entry_zones else None
            there = [(first, root) for first, last, root in self.shoppers.entry_candidates(
                gate, scan.t_ns - window, scan.t_ns)
                if first <= scan.t_ns and root not in self._by_root
                and root not in leaders.values()]
            if there:
                leaders[(scan.src, scan.seq)] = max(there)[1]
        for checkin in ready:
            gate = checkin.gate if checkin.gate in self.planogram.entry_zones else None
            sid = f"{checkin.gate}:{checkin.account}:{checkin.t_ns}"
            if sid in self.sessions:
                continue
            party = checkin.party_size or 1
            leader = leaders.pop((checkin.src, checkin.seq), None)
            members = [] if leader is None else [leader]
            others = sorted(
                (abs(first - checkin.t_ns), first, root)
                for first, _, root in self.shoppers.entry_candidates(
                    gate, checkin.t_ns - window, checkin.t_ns + window)
                if root not in self._by_root and root not in leaders.values()
                and root != leader)
            for _, _, root in others:
                if len(members) >= party:
                    break
                members.append(root)
            if not members:
                # Nobody in the zone around the scan: the boxes may have picked the scanner
                # up only a moment later, just past the zone. The shopper first seen there
                # nearest in time to the scan (not anyone's scanner, not bound) it is.
                late_ones = sorted(
                    (abs(first - checkin.t_ns), first, root)
                    for first, root in self.shoppers.appeared_near_entry(
                        gate, checkin.t_ns - window, checkin.t_ns + late,
                        self.settings.entry_margin_m)
                    if root not in self._by_root and root not in leaders.values())
                if late_ones:
                    members.append(late_ones[0][2])
            profile = {k: v for k, v in (("age_band", checkin.profile.age_band),) if v}
            session = Session(sid, checkin.account, checkin.gate, checkin.t_ns, party, profile,
                              members)
            self.sessions[sid] = session
            for root in members:
                self._by_root[root] = sid
            if not members:
                # Nobody can join it later (binding happens once, here): it expires now, and
                # its (empty) receipt goes to review after the settle window, saying why.
                session.exit_ns = checkin.t_ns
                log.warning("check-in of %s at %s: nobody in or near the entry zone from "
                            "%.1f s before to %.1f s after the scan; the session expires",
                            checkin.account, checkin.gate, self.settings.bind_window_s,
                            self.settings.late_bind_s)
            self._maybe_end(session)
            self.db.save_session(session.row())

    def _maybe_end(self, session: Session, done_ns: int | None = None) -> None:
        """A session ends when every member left through an exit (the last one's time), or,
        given ``done_ns``, when the others have been unseen for ``lost_session_s``: then its
        receipt goes to review, saying the exit was not seen (better than never a receipt)."""
        if session.exit_ns is not None or not session.members:
            return
        exits = [self._exited.get(m) for m in session.members]
        if all(t is not None for t in exits):
            session.exit_ns = max(t for t in exits if t is not None)
            self.db.save_session(session.row())
            return
        if done_ns is None:
            return
        lost_ns = int(self.settings.lost_session_s * _NS)
        ends = []
        lost = []
        for member, t in zip(session.members, exits, strict=True):
            if t is not None:
                ends.append(t)
                continue
            seen = self.shoppers.position(member)
            if seen is None or seen[2] + lost_ns > done_ns:
                return  # still about (or seen too recently to give up on)
            ends.append(seen[2])
            lost.append(member)
        session.exit_ns = max(ends)
        session.lost = lost
        log.warning("session %s: %d shopper(s) lost in the store, unseen for %.0f s; its "
                    "receipt goes to review", session.id, len(lost), self.settings.lost_session_s)
        self.db.save_session(session.row())

    # --- carts and receipts --------------------------------------------------------------------

    def session_of(self, root: int | None) -> str | None:
        """The session a global shopper (any of its merged ids) belongs to."""
        if root is None:
            return None
        return self._by_root.get(self.shoppers.root(root))

    def attribution(self, t0_ns: int, t1_ns: int) -> Attribution:
        """Pair every weight change and reach stamped in [t0_ns, t1_ns] (see cart.py)."""
        margin = int((self.rules.before_s + self.rules.after_s) * _NS)
        reaches = []
        for r in self.db.events_between(("reach",), t0_ns - margin, t1_ns):
            assert isinstance(r, protocol.Reach)
            sid = self.session_of(self.shoppers.link(r.src, r.track, r.end_ns))
            reaches.append(ReachEvidence(f"{r.src}#{r.seq}", sid, r.slot, r.start_ns, r.end_ns,
                                         r.confidence))
        weights = []
        for w in self.db.events_between(("weight",), t0_ns, t1_ns):
            assert isinstance(w, protocol.Weight)
            weights.append(WeightEvidence(f"{w.src}#{w.seq}", w.slot, w.t_ns, w.delta_g))
        return attribute(weights, reaches, self.planogram, self.rules, self._shoppers_at_shelf)

    def _shoppers_at_shelf(self, shelf: str, t_ns: int) -> list[str]:
        roots = {}
        for s in self.sessions.values():
            if s.entry_ns <= t_ns and (s.exit_ns is None or t_ns <= s.exit_ns):
                for m in s.members:
                    roots[m] = s.id
        return sorted({roots[r] for r in self.shoppers.at_shelf(shelf, t_ns, roots)})

    def draft(self, session_id: str, upto_ns: int | None = None) -> Draft:
        """The cart of a session as it stands (up to ``upto_ns``, default its settle end)."""
        session = self.sessions[session_id]
        if upto_ns is None:
            end = session.exit_ns if session.exit_ns is not None else self.now_ns()
            upto_ns = end + int(self.settings.settle_window_s * _NS)
        att = self.attribution(session.entry_ns, upto_ns)
        lines, notes = att.for_shopper(session_id)
        return build_draft(lines, notes, self.planogram)

    def _decide(self, session: Session, now_ns: int) -> StoredReceipt | None:
        assert session.exit_ns is not None
        upto = session.exit_ns + int(self.settings.settle_window_s * _NS)
        att = self.attribution(session.entry_ns, upto)
        lines, notes = att.for_shopper(session.id)
        unbound = []
        if not session.members:
            why = (f"no shopper bound to this check-in: nobody in or near the entry zone from "
                   f"{self.settings.bind_window_s:g} s before to {self.settings.late_bind_s:g} s "
                   "after the scan")
            notes.append(Note(session.id, 0.0, why, session.entry_ns))
            unbound.append(("unbound_checkin", session.id, "", session.entry_ns,
                            f"{session.account} at {session.gate}: {why}"))
        for member in session.members:
            doubts = self.shoppers.identity_doubts(member, session.entry_ns, session.exit_ns)
            if doubts:
                t_ns, other = doubts[0]
                notes.append(Note(
                    session.id, self.settings.identity_doubt_confidence,
                    f"identity in doubt: {(t_ns - session.entry_ns) / _NS:.1f} s after entry a "
                    f"box's track and the floor tracker disagreed whether shopper {member} was "
                    f"shopper {other} ({len(doubts)} time(s)); items may be another's", t_ns))
        for member in session.lost:
            where = self.shoppers.position(member)
            x, y = (where[0], where[1]) if where else (float("nan"), float("nan"))
            notes.append(Note(session.id, 0.0, f"exit not seen: shopper {member} was lost at "
                              f"({x:.1f}, {y:.1f}) m and unseen for "
                              f"{self.settings.lost_session_s:.0f} s", session.exit_ns))
        draft = build_draft(lines, notes, self.planogram)
        review = draft.needs_review(self.settings.review_threshold)
        wall = self.clock()
        line_rows = [line_json(line) for line in draft.lines]
        receipt = StoredReceipt(
            session=session.id, account=session.account,
            status="review" if review else "issued", confidence=draft.confidence,
            total_cents=draft.total_cents, lines=line_rows, reasons=list(draft.reasons),
            entry_ns=session.entry_ns, exit_ns=session.exit_ns, decided_ns=wall,
            issued_ns=None if review else wall, published=False, draft=line_rows)
        self.db.add_anomalies([(a.kind, a.key, a.slot, a.t_ns, a.detail)
                               for a in att.anomalies] + unbound)
        self._decided.add(session.id)
        if not self.db.add_receipt(receipt):
            return None  # decided before a restart: never twice
        log.info("receipt %s for %s: %s, %d lines, total %d, confidence %.2f", session.id,
                 session.account, receipt.status, len(line_rows), receipt.total_cents,
                 receipt.confidence)
        return receipt

    # --- snapshots -----------------------------------------------------------------------------

    def _snapshot(self, done_ns: int) -> None:
        """Store everything derived so far with the event cursor it covers. Taken only at a
        quiet point, where the C++ tracker holds nothing (see shoppers.py), so the Python
        state is the whole state; receipts are not in it (they are rows of their own)."""
        self._snapshot_ns = done_ns
        state = {"core": {k: getattr(self, k) for k in _CORE_STATE},
                 "shoppers": self.shoppers.snapshot_state()}
        self.db.save_snapshot(self.cursor, self._version,
                              pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL))

    def _restore(self) -> int:
        """Take the newest snapshot this code and these settings made, if any; returns its
        cursor (pump goes on from there) or 0."""
        found = self.db.latest_snapshot(self._version)
        if found is None:
            return 0
        cursor, blob = found
        state = pickle.loads(blob)  # our own database: as trusted as the events in it
        for key, value in state["core"].items():
            setattr(self, key, value)
        self.shoppers.restore_state(state["shoppers"])
        log.info("restored the derived state at event %d from a snapshot", cursor)
        return cursor

    # --- views ---------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        return {
            "events": self.events_seen,
            "restored_from_event": self.restored_cursor,
            "now_ns": self.now_ns(),
            "tracked_up_to_ns": self.shoppers.processed_ns,
            "late_track_messages": self.shoppers.late_messages,
            "global_shoppers": self.shoppers.count,
            "open_sessions": sum(1 for s in self.sessions.values() if s.exit_ns is None),
            "pending_checkins": len(self._pending_checkins),
            "sources_last_ns": dict(self._source_last),
            "sources": self.health,
        }
