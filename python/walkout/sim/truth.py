"""Ground truth of what people did: every reach with the times the hand really crossed the
shelf face (measured on the articulated body, not the schedule), every pick and put (who,
which cart, product, count), and each cart's true receipt."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from walkout.sim.crowd import Reach, Timeline
from walkout.sim.pose import joints
from walkout.sim.world import World

_SAMPLE_HZ = 200.0  # resolution of the face-crossing times
CLOSE_M = 1.2  # another shopper this near while reaching makes the reach ambiguous


@dataclass(frozen=True)
class TrueReach:
    person: int
    account: str
    hand: str  # "left" | "right"
    shelf: str
    slot: str
    start_s: float  # hand crossed the face plane inwards
    end_s: float  # and back out
    kind: str  # pick | put | touch
    count: int
    sku: str | None
    neighbours: int  # other people within CLOSE_M of the reacher mid-reach: a close encounter


@dataclass(frozen=True)
class Move:
    """Items leaving a slot (pick, count > 0) or landing in one (put)."""

    person: int
    account: str
    kind: str
    sku: str
    count: int
    shelf: str
    slot: str
    t_s: float


def face_crossing(world: World, timeline: Timeline, reach: Reach) -> tuple[float, float] | None:
    """When the reaching wrist was past the face plane of the slot: (first, last) time."""
    info = world.slots[reach.slot]
    times = np.arange(reach.t_start, reach.t_end, 1.0 / _SAMPLE_HZ)
    persons = np.full(len(times), reach.person)
    J = joints(timeline.body_state(times, persons))
    wrist = J[:, 9 + reach.hand, :2]
    depth = (info.face_point[:2] - wrist) @ info.normal
    inside = np.nonzero(depth > 0)[0]
    if len(inside) == 0:
        return None
    return float(times[inside[0]]), float(times[inside[-1]])


def true_reaches(world: World, timeline: Timeline) -> list[TrueReach]:
    out = []
    for reach in timeline.reaches:
        crossing = face_crossing(world, timeline, reach)
        if crossing is None:
            continue  # never reached into the shelf: not a reach (and moved nothing)
        info = world.slots[reach.slot]
        k = min(round(0.5 * (crossing[0] + crossing[1]) / (timeline.times[1] - timeline.times[0])),
                len(timeline.times) - 1)
        others = np.nonzero(timeline.present[k])[0]
        others = others[others != reach.person]
        near = int((np.linalg.norm(timeline.pos[k, others] - timeline.pos[k, reach.person], axis=1)
                    < CLOSE_M).sum())
        out.append(TrueReach(reach.person, timeline.people[reach.person].account,
                             ("left", "right")[reach.hand], info.shelf.id, info.slot_id,
                             crossing[0], crossing[1], reach.kind, reach.count, reach.sku, near))
    return out


def moves(world: World, timeline: Timeline) -> list[Move]:
    out = []
    for reach in timeline.reaches:
        if reach.kind == "touch" or reach.count == 0 or reach.sku is None:
            continue
        info = world.slots[reach.slot]
        out.append(Move(reach.person, timeline.people[reach.person].account, reach.kind,
                        reach.sku, reach.count, info.shelf.id, info.slot_id, reach.t_move))
    return out


def receipts(world: World, timeline: Timeline, all_moves: list[Move]) -> list[dict]:
    """One true receipt per account: picks minus puts per SKU, lines with a positive count."""
    store = world.store
    accounts = sorted({p.account for p in timeline.people})
    out = []
    for account in accounts:
        qty: dict[str, int] = {}
        for move in all_moves:
            if move.account == account:
                qty[move.sku] = qty.get(move.sku, 0) + (move.count if move.kind == "pick" else -move.count)
        lines = [{"sku": sku, "name": store.product(sku).name, "qty": n,
                  "unit_price_cents": store.product(sku).price_cents}
                 for sku, n in sorted(qty.items()) if n > 0]
        members = [p.id for p in timeline.people if p.account == account]
        out.append({"account": account, "people": members, "lines": lines,
                    "currency": store.currency,
                    "total_cents": sum(line["qty"] * line["unit_price_cents"] for line in lines),
                    "exited": all(m in timeline.exits for m in members)})
    return out


def as_dicts(items: list[TrueReach] | list[Move]) -> list[dict]:
    return [asdict(item) for item in items]
