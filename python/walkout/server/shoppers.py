"""Global shoppers: the tracks of every edge box joined into one identity per person on the
store floor, by the C++ tracking core (``walkout.track``), not by association code here.

Each box reports its own floor tracks (local ids) per frameset. The server bins those
messages into frames of ``frame_s`` by capture time; in each frame, every box's points are one
"view" of the floor, fused across boxes by :func:`walkout.track.fuse_views` (a person standing
where two boxes overlap is one observation), and the fused points advance one
:class:`walkout.track.FloorTracker`, whose ids are the global shopper ids.

What the rest of the server needs from it:

- ``link(box, local_id, t_ns)``: the global shopper a box's local track was part of (reaches
  and dwells name local ids);
- entry-zone presence (binding gate check-ins) and exits (the session's end);
- who stood at a shelf at a time (weight changes nobody reached for).

Frames are processed strictly in time order and only up to the watermark the server passes
to :meth:`GlobalShoppers.advance`, so a box whose messages are late (reordered, or replayed
from its spool after an outage) still lands in the frames it belongs to, as long as the
watermark waited for it. The same stored stream therefore always gives the same ids.

Identity follows the boxes first: a box track that continues keeps the shopper it belonged to,
whatever id the global tracker gives its point (the tracker may swap two people who cross;
a box's own tracker, with its cameras' appearance cues, is the better judge inside its view).
The global tracker decides only where no box track continues: at a hand-over between boxes,
and for a new shopper. Where the two disagree (a box track continues, but the global tracker
carries the point on a track it had given to someone else), one of them swapped two people
who passed close, and nothing here can tell which: both identities are marked in doubt at
that time (:meth:`identity_doubts`), and the server sends their receipts to review.

Quiet points: when a frame leaves the global tracker with no track at all (the store is
empty, or nobody has been seen for the tracker's lost buffer), the tracker is reset and later
ids continue above every id used so far. A fresh tracker behaves exactly like an empty one, so
this changes nothing but the numbering, and it happens at the same frame however the frames
were batched. It is what lets the server snapshot its derived state (:meth:`snapshot_state`)
without the C++ tracker's internals: at a quiet point the tracker holds nothing.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from walkout import protocol
from walkout.server.planogram import Planogram

_NS = 1_000_000_000


@dataclass
class _Shopper:
    first_ns: int
    last_ns: int
    x: float
    y: float
    in_exit: bool
    entry: dict[str, list[int]] = field(default_factory=dict)
    """entry gate -> [first_ns, last_ns] seen inside its zone"""
    samples_t: list[int] = field(default_factory=list)
    samples_xy: list[tuple[float, float]] = field(default_factory=list)
    exited_ns: int | None = None


@dataclass(frozen=True)
class ShopperParams:
    """Settings of the global join (each: what raising it trades)."""

    frame_s: float = 1 / 15
    """bin width for box framesets; wider fuses boxes whose clocks or frame phases differ
    more, narrower follows fast walkers with less smearing"""
    measurement_std_m: float = 0.2
    """position noise of a box track (metres); higher lets more distant box tracks fuse into
    one person (and two people standing close merge more often)"""
    fuse_gate_probability: float = 0.99
    """gate of the cross-box fusion (chi-square, 2 dof); see walkout.track.fuse_views"""
    lost_buffer_s: float = 1.0
    """the FloorTracker's lost buffer: bridges a shopper unseen this long; longer rides out
    longer gaps between boxes, but a lost track's gate keeps growing, and one left through
    the exit may then be handed to someone entering (a box's own local id bridges longer
    gaps anyway, see the module docstring)"""
    acceleration_std: float = 1.0
    """the FloorTracker's acceleration noise, m/s^2 (walking shoppers: about 1)"""
    exit_confirm_s: float = 1.0
    """a shopper last seen in an exit zone and unseen this long has left; longer survives
    longer occlusions at the door, delays every receipt by as much"""
    relink_after_s: float = 5.0
    """a box track unseen this long starts over as a new stretch (a restarted box reuses its
    local ids); longer bridges longer occlusions inside one box"""
    doubt_unseen_s: float = 0.25
    """an identity doubt is not raised when the identity the global tracker's point carried
    was seen by no box for longer than this (its lost track coasted onto a shopper a box
    follows) and had left or was a fragment (see ``doubt_fragment_s``); higher raises more
    doubts (more receipts to review), lower dismisses doubts where that identity only blinked
    out for a frame or two (the case where a box may have jumped people)"""
    doubt_fragment_s: float = 1.0
    """an identity seen for less than this in all is a fragment (a box track flickering on
    and off, bound to nobody): a stale claim of one is not a doubt (``doubt_unseen_s``);
    higher dismisses more, treating short real visits as fragments"""
    sample_every_s: float = 0.2
    """position history resolution (who stood at a shelf when)"""

    def __post_init__(self) -> None:
        for name in ("doubt_unseen_s", "doubt_fragment_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: expected seconds >= 0, got {getattr(self, name)}")


class GlobalShoppers:
    """See the module docstring. Not thread-safe: the server core owns it."""

    def __init__(self, planogram: Planogram, params: ShopperParams = ShopperParams()) -> None:
        from walkout.track import FloorTracker  # the C++ core; imported here to keep CLI fast

        self.planogram = planogram
        self.params = params
        self._frame_ns = max(1, int(params.frame_s * _NS))
        self._tracker = FloorTracker(fps=1.0 / params.frame_s, min_hits=1,
                                     lost_buffer_s=params.lost_buffer_s,
                                     acceleration_std=params.acceleration_std,
                                     measurement_std=params.measurement_std_m)
        self._pending: dict[int, dict[str, protocol.Tracks]] = defaultdict(dict)
        self._boxes: list[str] = list(planogram.edge_boxes)
        self.processed_ns = 0
        """every frame ending at or before this was processed"""
        self.late_messages = 0
        self._shoppers: dict[int, _Shopper] = {}
        self._tracker_ident: dict[int, int] = {}
        self._box_tracks: dict[tuple[str, int], list[list[int]]] = {}
        """(box, local id) -> stretches [first_ns, last_ns, identity] it was followed"""
        self._active: set[int] = set()
        self._exits: list[tuple[int, int]] = []
        self._doubts: dict[int, list[tuple[int, int]]] = {}
        """identity -> (time, the other identity) where box and tracker disagreed"""
        self._id_base = 0
        """added to the tracker's ids: raised past every id used at each quiet point"""
        self._max_id = 0
        self._tracker_holds = False
        """whether the global tracker may hold a track (False right after a quiet point)"""

    # --- input ---------------------------------------------------------------------------------

    def add(self, message: protocol.Tracks) -> None:
        key = message.t_ns // self._frame_ns
        if (key + 1) * self._frame_ns <= self.processed_ns:
            self.late_messages += 1  # its frame is gone; the watermark did not wait long enough
            return
        if message.src not in self._boxes:
            self._boxes.append(message.src)
        frame = self._pending[key]
        old = frame.get(message.src)
        # Two framesets of one box in one bin: keep the later (deterministically, by time then
        # seq), so arrival order never matters.
        if old is None or (message.t_ns, message.seq) > (old.t_ns, old.seq):
            frame[message.src] = message

    def advance(self, upto_ns: int) -> None:
        """Process every pending frame that ends at or before ``upto_ns``, in time order."""
        end_key = upto_ns // self._frame_ns  # frames with key < end_key end by upto_ns
        for key in sorted(k for k in self._pending if k < end_key):
            self._process(key, self._pending.pop(key))
        self.processed_ns = max(self.processed_ns, end_key * self._frame_ns)
        self._check_exits(self.processed_ns)

    def _process(self, key: int, frame: dict[str, protocol.Tracks]) -> None:
        from walkout.track import fuse_views

        t_ns = (key + 1) * self._frame_ns
        var = self.params.measurement_std_m ** 2
        boxes = sorted(frame)
        points, covs, scores_per_box = [], [], []
        for box in boxes:
            tracks = frame[box].tracks
            p = np.array([[tr.x, tr.y] for tr in tracks], dtype=np.float64).reshape(-1, 2)
            points.append(p)
            covs.append(np.tile(np.eye(2) * var, (len(tracks), 1, 1)))
            scores_per_box.append([tr.confidence for tr in tracks])
        if points:
            fused = fuse_views(points, covs, self.params.fuse_gate_probability)
            f_points, f_covs, members = fused.points, fused.covariances, fused.members
        else:
            f_points, f_covs = np.zeros((0, 2)), np.zeros((0, 2, 2))
            members = np.zeros((0, 0), dtype=np.int64)
        scores = np.array([
            max((scores_per_box[c][r] for c, r in enumerate(row) if r >= 0), default=0.0)
            for row in members
        ], dtype=np.float32)
        # Box tracks are already confirmed people: every fused point may start a global track.
        scores = np.maximum(scores, 0.95).astype(np.float32) if len(scores) else scores
        out = self._tracker.update(f_points, f_covs, scores, t=t_ns / _NS)
        if len(out.ids) == 0:
            # Lost tracks are reported too, so no row means no track at all: a quiet point.
            if self._tracker_holds:
                self._tracker.reset()  # ids start at 1 again, above _id_base
                self._id_base = self._max_id
                self._tracker_ident.clear()  # the old tracker's ids never come back
                self._tracker_holds = False
            return
        self._tracker_holds = True
        for i, raw in enumerate(out.ids.tolist()):
            gid = int(raw) + self._id_base
            self._max_id = max(self._max_id, gid)
            det = int(out.det_index[i])
            if det < 0:
                continue
            x, y = float(out.points[i, 0]), float(out.points[i, 1])
            local = [(boxes[c], frame[boxes[c]].tracks[r].id)
                     for c, r in enumerate(members[det].tolist()) if r >= 0]
            self._observe(gid, local, t_ns, x, y)

    def _observe(self, gid: int, local: list[tuple[str, int]], t_ns: int, x: float,
                 y: float) -> None:
        # Who is this? A box track that continues decides (the box followed this person
        # without a break, which beats a global tracker that may swap two people crossing);
        # with none, the identity the tracker id carried (a hand-over between boxes); else a
        # new shopper named by the tracker id.
        relink = int(self.params.relink_after_s * _NS)
        known = []
        for box_track in local:
            segments = self._box_tracks.get(box_track)
            if segments and t_ns - segments[-1][1] <= relink:
                known.append((segments[0][0], segments[-1][2]))
        ident = min(known)[1] if known else self._tracker_ident.get(gid, gid)
        before = self._tracker_ident.get(gid)
        if known and before is not None and before != ident and not self._stale_claim(
                before, t_ns):
            # The box says `ident`, the global tracker says `before`: a swap by one of them.
            self._doubts.setdefault(ident, []).append((t_ns, before))
            self._doubts.setdefault(before, []).append((t_ns, ident))
        self._tracker_ident[gid] = ident
        for box_track in local:
            segments = self._box_tracks.setdefault(box_track, [])
            if segments and t_ns - segments[-1][1] <= relink:
                segments[-1][1] = t_ns
            else:
                segments.append([t_ns, t_ns, ident])
        s = self._shoppers.get(ident)
        in_exit = self.planogram.in_exit_zone(x, y)
        if s is None:
            s = self._shoppers[ident] = _Shopper(t_ns, t_ns, x, y, in_exit)
        s.last_ns, s.x, s.y, s.in_exit = t_ns, x, y, in_exit
        if s.exited_ns is not None and not in_exit:
            s.exited_ns = None  # back in the store (e.g. stood in the exit zone and turned)
        self._active.add(ident)
        gate = self.planogram.entry_gate_at(x, y)
        if gate is not None:
            span = s.entry.setdefault(gate, [t_ns, t_ns])
            span[1] = t_ns
        if not s.samples_t or t_ns - s.samples_t[-1] >= self.params.sample_every_s * _NS:
            s.samples_t.append(t_ns)
            s.samples_xy.append((x, y))

    def _stale_claim(self, other: int, t_ns: int) -> bool:
        """Whether the global tracker's claim that a point is ``other`` is only its lost
        track coasting onto someone a box follows: ``other`` has been seen by no box for
        ``doubt_unseen_s`` and was either last seen in an exit zone (gone out) or only ever a
        fragment (seen for less than ``doubt_fragment_s``). Then the box's unbroken track
        is the only live evidence, and nobody's items can move: not a doubt.

        Someone last seen inside the store, seen for longer, still raises the doubt: a box
        could have jumped onto them as they came back into view."""
        s = self._shoppers.get(other)
        if s is None or t_ns - s.last_ns <= self.params.doubt_unseen_s * _NS:
            return False
        return s.in_exit or s.last_ns - s.first_ns < self.params.doubt_fragment_s * _NS

    def _check_exits(self, now_ns: int) -> None:
        confirm = int(self.params.exit_confirm_s * _NS)
        for root in sorted(self._active):
            s = self._shoppers[root]
            if s.last_ns + confirm > now_ns:
                continue
            self._active.discard(root)
            if s.in_exit and s.exited_ns is None:
                s.exited_ns = s.last_ns
                self._exits.append((root, s.last_ns))

    # --- snapshots -----------------------------------------------------------------------------

    @property
    def quiet(self) -> bool:
        """True when the global tracker holds no track (see the module docstring)."""
        return not self._tracker_holds

    _NOT_STATE = ("planogram", "params", "_tracker")

    def snapshot_state(self) -> dict[str, object]:
        """Everything derived from the events, for a snapshot; only at a quiet point."""
        if not self.quiet:
            raise ValueError("snapshot_state: the global tracker holds tracks; snapshot only "
                             "at a quiet point (GlobalShoppers.quiet)")
        return {k: v for k, v in vars(self).items() if k not in self._NOT_STATE}

    def restore_state(self, state: dict[str, object]) -> None:
        """Take back :meth:`snapshot_state` (into a fresh instance: its tracker is empty)."""
        if set(state) != set(vars(self)) - set(self._NOT_STATE):
            raise ValueError("restore_state: the snapshot does not match this version's state")
        vars(self).update(state)

    # --- queries -------------------------------------------------------------------------------

    def root(self, ident: int) -> int:
        """Identities are final (see :meth:`_observe`); kept so callers need not know."""
        return ident

    def link(self, box: str, local_id: int, t_ns: int) -> int | None:
        """The global shopper box ``box``'s track ``local_id`` belonged to at ``t_ns`` (the
        stretch of that box track that began last at or before it, else the first)."""
        segments = self._box_tracks.get((box, local_id))
        if not segments:
            return None
        i = bisect.bisect_right([seg[0] for seg in segments], t_ns) - 1
        return int(segments[max(i, 0)][2])

    def entry_candidates(self, gate: str | None, t0_ns: int,
                         t1_ns: int) -> list[tuple[int, int, int]]:
        """(first, last time seen there, root id) of every shopper seen in an entry zone
        (``gate``, or any) between ``t0_ns`` and ``t1_ns``, by first time."""
        out = []
        for root, s in self._shoppers.items():
            for g, (first, last) in s.entry.items():
                if gate is not None and g != gate:
                    continue
                if last < t0_ns or first > t1_ns:
                    continue
                out.append((first, last, root))
                break
        return sorted(out)

    def appeared_near_entry(self, gate: str | None, t0_ns: int, t1_ns: int,
                            margin_m: float) -> list[tuple[int, int]]:
        """(first time seen, root id) of every shopper first seen between ``t0_ns`` and
        ``t1_ns`` within ``margin_m`` of an entry zone (``gate``'s, or any), by first time:
        someone who came in whom the boxes picked up only just past the zone."""
        out = []
        for root, s in self._shoppers.items():
            if not t0_ns <= s.first_ns <= t1_ns or not s.samples_xy:
                continue
            x, y = s.samples_xy[0]  # the first sample is the first sighting
            if self.planogram.entry_distance(x, y, gate) <= margin_m:
                out.append((s.first_ns, root))
        return sorted(out)

    def identity_doubts(self, ident: int, t0_ns: int, t1_ns: int) -> list[tuple[int, int]]:
        """(time, other identity) where the box and the global tracker disagreed whether a
        point was ``ident`` or the other, between ``t0_ns`` and ``t1_ns``."""
        return [(t, o) for t, o in self._doubts.get(ident, ()) if t0_ns <= t <= t1_ns]

    def pop_exits(self) -> list[tuple[int, int]]:
        """(root id, exit time) of shoppers who left through an exit zone since last call."""
        exits, self._exits = self._exits, []
        return exits

    def at_shelf(self, shelf: str, t_ns: int, roots: Iterable[int]) -> list[int]:
        """Which of ``roots`` stood in ``shelf``'s engagement zone around ``t_ns``."""
        near = int(self.params.sample_every_s * 2 * _NS)
        out = []
        for root in roots:
            s = self._shoppers.get(root)
            if s is None or not s.samples_t:
                continue
            i = bisect.bisect_left(s.samples_t, t_ns - near)
            while i < len(s.samples_t) and s.samples_t[i] <= t_ns + near:
                if self.planogram.at_shelf(shelf, *s.samples_xy[i]):
                    out.append(root)
                    break
                i += 1
        return out

    def paths(self) -> dict[int, tuple[list[int], list[tuple[float, float]]]]:
        """Every shopper's sampled floor path: id -> (times, (x, y) each), as kept at
        ``sample_every_s`` (the store-wide tracks, scored by ``walkout demo``)."""
        return {i: (list(s.samples_t), list(s.samples_xy)) for i, s in self._shoppers.items()}

    def position(self, root: int) -> tuple[float, float, int] | None:
        s = self._shoppers.get(root)
        return None if s is None else (s.x, s.y, s.last_ns)

    @property
    def count(self) -> int:
        return len(self._shoppers)
