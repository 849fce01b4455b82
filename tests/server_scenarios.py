"""Scripted store scenarios for the server tests: shoppers who walk from the entry gate to
shelf slots and out through the exit, with the messages edge boxes, the gate and the shelf
weight gateway would send, and the true receipt of every account.

Why scripted and not ``walkout.sim``: the simulator's run loader (``walkout.sim.Run``) was not
ready when these tests were written; this writes the same run-folder layout
``walkout replay`` reads (``messages.jsonl`` + ``truth.json``), with the simulator's reach
conventions (extend 0.5 s, hold, retract 0.5 s; items move at the middle of the hold).
Positions carry Gaussian noise; each box has its own local track ids and sees its half of the
store with an overlap in the middle, so the server must join them into one shopper.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import numpy as np

from walkout import protocol
from walkout.config import load_store
from walkout.config.store import Store

T0_NS = 1_700_000_000 * 1_000_000_000
ENTRY = (1.5, 0.5)
EXIT = (10.5, 0.5)
OUTSIDE = (10.5, -1.5)
WALK_MPS = 1.2
FPS = 10.0
BOX_VIEW = {"edge-a": (-1.0, 6.6), "edge-b": (5.4, 13.0)}  # x ranges each box sees


@dataclass
class Action:
    slot: str
    kind: str  # "pick", "put", "touch"
    count: int = 1
    sku: str | None = None  # for a put: the product put back (default: the slot's)
    weight: bool = True  # False: the scale misses it (a reach with no weight change)


@dataclass
class Stop:
    slot: str  # where to stand (in front of this slot)
    actions: list[Action]
    at_s: float | None = None  # start of the first reach (seconds from T0); default: on arrival


@dataclass
class Shopper:
    account: str
    arrive_s: float
    stops: list[Stop]
    party: int = 1  # >1: the first shopper of a group scans for everyone
    follows: str | None = None  # account of the one who scanned (companions)
    age_band: str | None = None
    offset: tuple[float, float] = (0.0, 0.0)  # stand this far from the usual point


@dataclass
class Scenario:
    shoppers: list[Shopper]
    extra_weights: list[tuple[float, str, float]] = field(default_factory=list)
    """(time s, slot, delta g): weight changes nobody reached for"""
    seed: int = 0
    noise_m: float = 0.03


def _slot_geometry(store: Store) -> dict[str, tuple[np.ndarray, str]]:
    out = {}
    for shelf in store.shelves:
        ax, ay = shelf.axes()
        for slot in shelf.slots:
            n = ay if slot.face == "front" else -ay
            along = ((slot.col + 0.5) / shelf.cols - 0.5) * shelf.length
            face = np.asarray(shelf.center) + ax * along + n * shelf.depth / 2
            stand = face + n * 0.45
            out[shelf.slot_id(slot)] = (stand, shelf.id)
    return out


def generate(scenario: Scenario, store_path: Path, out_dir: Path) -> dict[str, object]:
    """Write ``out_dir/messages.jsonl`` and ``out_dir/truth.json``; returns the truth."""
    store = load_store(store_path).config
    geo = _slot_geometry(store)
    slot_of = {s: p for s, p in ((sh.slot_id(sl), sl) for sh, sl in store.slots())}
    unit = {p.sku: p.unit_weight_g for p in store.products}
    rng = np.random.default_rng(scenario.seed)
    messages: list[protocol.Message] = []
    paths: dict[str, list[tuple[float, float, float]]] = {}  # account/i -> (t, x, y)
    truth: dict[str, Counter[str]] = defaultdict(Counter)
    loads = {s: 20 * unit[p.product] for s, p in slot_of.items()}
    gate_seq = 0

    def walk(points: list[tuple[float, float, float]], to: tuple[float, float]) -> None:
        t, x, y = points[-1]
        d = math.hypot(to[0] - x, to[1] - y)
        n = max(1, int(d / WALK_MPS * FPS))
        for i in range(1, n + 1):
            points.append((t + i / FPS * (d / WALK_MPS) / (n / FPS),
                           x + (to[0] - x) * i / n, y + (to[1] - y) * i / n))

    def stay(points: list[tuple[float, float, float]], until: float) -> None:
        t, x, y = points[-1]
        while t + 1 / FPS <= until:
            t += 1 / FPS
            points.append((t, x, y))

    reaches_by: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
    dwells_by: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
    for shopper in scenario.shoppers:
        key = shopper.account + ("" if shopper.follows is None else "+")
        start = (ENTRY[0] + shopper.offset[0], ENTRY[1] + shopper.offset[1])
        pts = [(shopper.arrive_s, *start)]
        stay(pts, shopper.arrive_s + 1.5)
        if shopper.follows is None:
            gate_seq += 1
            profile = protocol.SharedProfile(age_band=shopper.age_band)  # type: ignore[arg-type]
            messages.append(protocol.Checkin(
                src="gate-entry", t_ns=T0_NS + int((shopper.arrive_s + 0.7) * 1e9),
                gate="entry", account=shopper.account,
                party_size=shopper.party if shopper.party > 1 else None, profile=profile))
        owner = shopper.follows or shopper.account
        for stop in shopper.stops:
            stand, shelf = geo[stop.slot]
            stand = stand + np.asarray(shopper.offset)
            walk(pts, (float(stand[0]), float(stand[1])))
            arrive = pts[-1][0]
            t = max(arrive + 0.5, stop.at_s if stop.at_s is not None else 0.0)
            stay(pts, t)
            for action in stop.actions:
                r0, r1 = t, t + 2.0
                t_move = 0.5 * ((r0 + 0.5) + (r1 - 0.5))
                reaches_by[key].append((r0, r1, action.slot))
                product = slot_of[action.slot].product
                if action.kind == "pick":
                    truth[owner][product] += action.count
                    delta = -action.count * unit[product]
                elif action.kind == "put":
                    sku = action.sku or product
                    truth[owner][sku] -= action.count
                    delta = action.count * unit[sku]
                else:
                    delta = 0.0
                if delta and action.weight:
                    loads[action.slot] += delta
                    messages.append(protocol.Weight(
                        src="shelf-gateway", t_ns=T0_NS + int((t_move + 0.6) * 1e9),
                        shelf=geo[action.slot][1], slot=action.slot,
                        delta_g=round(delta + float(rng.normal(0, 2.0)), 1),
                        after_g=round(float(loads[action.slot]), 1)))
                t = r1 + 0.3
            stay(pts, t + 0.5)
            dwells_by[key].append((arrive, pts[-1][0], shelf))
        lane = 0.25 * (len(paths) % 5) - 0.5  # people leave side by side, not through one point
        walk(pts, (EXIT[0] + lane + shopper.offset[0], EXIT[1]))
        stay(pts, pts[-1][0] + 1.0)
        walk(pts, (OUTSIDE[0] + lane + shopper.offset[0], OUTSIDE[1]))
        paths[key] = [(t, float(x), float(y)) for t, x, y in pts]
    for t_s, slot, delta in scenario.extra_weights:
        loads[slot] += delta
        messages.append(protocol.Weight(src="shelf-gateway", t_ns=T0_NS + int(t_s * 1e9),
                                        shelf=geo[slot][1], slot=slot, delta_g=delta,
                                        after_g=round(float(loads[slot]), 1)))

    # Edge boxes: per frame, every shopper on the floor inside the box's view, with a local id
    # that is new each time the shopper comes into that box's view.
    end = max(p[-1][0] for p in paths.values()) + 1.0
    frames = np.arange(0.0, end, 1 / FPS)
    local_ids: dict[str, dict[str, int]] = {b: {} for b in BOX_VIEW}
    counters = {b: 0 for b in BOX_VIEW}
    def position(key: str, t: float) -> tuple[float, float] | None:
        pts = paths[key]
        if t < pts[0][0] or t > pts[-1][0]:
            return None
        i = min(round((t - pts[0][0]) * FPS), len(pts) - 1)
        _, x, y = pts[i]
        return (x, y) if y >= 0.0 else None
    lid_at: dict[tuple[str, str, int], int] = {}
    for fi, t in enumerate(frames):
        for box, (x0, x1) in BOX_VIEW.items():
            tracks = []
            for key in sorted(paths):
                pos = position(key, t)
                if pos is None or not x0 <= pos[0] <= x1:
                    local_ids[box].pop(key, None)
                    continue
                if key not in local_ids[box]:
                    counters[box] += 1
                    local_ids[box][key] = counters[box]
                lid = local_ids[box][key]
                lid_at[(box, key, fi)] = lid
                nx, ny = rng.normal(0, scenario.noise_m, 2)
                tracks.append(protocol.TrackState(id=lid, x=round(float(pos[0] + nx), 3),
                                                  y=round(float(pos[1] + ny), 3),
                                                  confidence=0.9))
            # Box clocks are a few ms apart, as with real capture.
            t_ns = T0_NS + int(t * 1e9) + (3_000_000 if box == "edge-b" else 0)
            messages.append(protocol.Tracks(src=box, t_ns=t_ns, tracks=tracks))

    def box_and_id(key: str, t: float) -> tuple[str, int]:
        fi = round(t * FPS)
        pos = position(key, t)
        assert pos is not None
        box = "edge-a" if pos[0] < 6.0 else "edge-b"
        return box, lid_at[(box, key, fi)]

    for key, reaches in reaches_by.items():
        for r0, r1, slot in reaches:
            box, lid = box_and_id(key, r1)
            messages.append(protocol.Reach(src=box, t_ns=T0_NS + int(r1 * 1e9), track=lid,
                                           shelf=geo[slot][1], slot=slot,
                                           start_ns=T0_NS + int(r0 * 1e9),
                                           end_ns=T0_NS + int(r1 * 1e9), confidence=0.9))
    for key, dwells in dwells_by.items():
        for a, b, shelf in dwells:
            box, lid = box_and_id(key, b)
            messages.append(protocol.Dwell(src=box, t_ns=T0_NS + int(b * 1e9), track=lid,
                                           shelf=shelf, enter_ns=T0_NS + int(a * 1e9),
                                           leave_ns=T0_NS + int(b * 1e9)))

    messages.sort(key=lambda m: (m.t_ns, m.src))
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / "messages.jsonl", "wb") as f:
        for m in messages:
            f.write(protocol.encode(m) + b"\n")
    receipts = {
        account: {sku: n for sku, n in sorted(items.items()) if n > 0}
        for account, items in truth.items()
    }
    for shopper in scenario.shoppers:
        if shopper.follows is None:
            receipts.setdefault(shopper.account, {})
    result = {"receipts": receipts, "store": str(store_path.resolve()), "t0_ns": T0_NS,
              "end_ns": T0_NS + int(end * 1e9)}
    (out_dir / "truth.json").write_text(json.dumps(result, indent=1))
    return result


def load_messages(run_dir: Path) -> list[protocol.Message]:
    decoder = msgspec.json.Decoder(protocol.Message)
    return [decoder.decode(line) for line in (run_dir / "messages.jsonl").read_bytes().splitlines()
            if line.strip()]


# --- the scenarios of the tests -------------------------------------------------------------


def clean_day() -> Scenario:
    """Six shoppers, one after another and side by side, picks and put-backs, no doubt."""
    return Scenario([
        Shopper("acct-ana", 0.0, [Stop("S5/front/r1c0", [Action("S5/front/r1c0", "pick", 2)]),
                                  Stop("S8/front/r0c1", [Action("S8/front/r0c1", "pick")])],
                age_band="25-34"),
        Shopper("acct-ben", 6.0, [Stop("S1/front/r1c1", [Action("S1/front/r1c1", "pick"),
                                                         Action("S1/front/r1c1", "put")]),
                                  Stop("S7/front/r0c0", [Action("S7/front/r0c0", "pick")])]),
        Shopper("acct-cem", 12.0, [Stop("S2/front/r0c0", [Action("S2/front/r0c0", "pick", 3)])],
                age_band="45-54"),
        Shopper("acct-dia", 18.0, [Stop("S6/front/r2c0", [Action("S6/front/r2c0", "pick")]),
                                   Stop("S3/front/r1c0", [Action("S3/front/r1c0", "pick")])]),
        Shopper("acct-eli", 24.0, [Stop("S4/front/r0c1", [Action("S4/front/r0c1", "pick", 2),
                                                          Action("S4/front/r0c1", "put")])]),
        Shopper("acct-fay", 30.0, [Stop("S7/front/r1c1", [Action("S7/front/r1c1", "pick")])]),
    ], seed=1)


def two_at_one_slot() -> Scenario:
    """Two shoppers side by side reach into one slot at the same moment; one takes a banana."""
    return Scenario([
        Shopper("acct-gus", 0.0, [Stop("S7/front/r0c0", [Action("S7/front/r0c0", "pick")],
                                       at_s=12.0)], offset=(-0.35, 0.0)),
        Shopper("acct-hal", 1.0, [Stop("S7/front/r0c0", [Action("S7/front/r0c0", "touch")],
                                       at_s=12.2)], offset=(0.35, 0.0)),
    ], seed=2)


def wrong_slot() -> Scenario:
    """A can of cola taken, then put back into the sparkling-water slot next to it."""
    return Scenario([
        Shopper("acct-ida", 0.0, [
            Stop("S1/front/r1c1", [Action("S1/front/r1c1", "pick"),
                                   Action("S1/front/r0c0", "pick")]),
            Stop("S1/front/r1c0", [Action("S1/front/r1c0", "put", sku="COLA-330")]),
        ]),
    ], seed=3)


def group_on_one_scan() -> Scenario:
    """Two people enter on one scan (party of 2) and shop apart: one receipt for both."""
    return Scenario([
        Shopper("acct-jon", 0.0, [Stop("S5/front/r0c1", [Action("S5/front/r0c1", "pick")])],
                party=2, age_band="35-44"),
        Shopper("acct-jon", 0.0, [Stop("S8/front/r1c1", [Action("S8/front/r1c1", "pick", 2)])],
                follows="acct-jon", offset=(0.7, 0.0)),
        Shopper("acct-kim", 8.0, [Stop("S2/front/r1c0", [Action("S2/front/r1c0", "pick")])]),
    ], seed=4)


def weight_without_reach() -> Scenario:
    """A slot loses a pack of crackers while one shopper stands at that shelf reaching for
    something else, and another slot loses weight while nobody is near it."""
    return Scenario([
        Shopper("acct-lea", 0.0, [Stop("S5/front/r1c0", [Action("S5/front/r1c0", "pick")],
                                       at_s=9.0)]),
        Shopper("acct-max", 3.0, [Stop("S2/front/r0c0", [Action("S2/front/r0c0", "pick")])]),
    ], extra_weights=[(10.0, "S5/front/r1c1", -262.0), (5.0, "S4/front/r0c0", -470.0)], seed=5)


def takes_nothing() -> Scenario:
    """One shopper looks and touches but takes nothing; another walks straight through."""
    return Scenario([
        Shopper("acct-ned", 0.0, [Stop("S6/front/r0c0", [Action("S6/front/r0c0", "touch")])]),
        Shopper("acct-ola", 4.0, []),
    ], seed=6)


def many_shoppers(n: int, seed: int = 0, every_s: float = 2.5) -> Scenario:
    """``n`` shoppers arriving ``every_s`` apart, each picking at two random sensored slots
    (a busy hour, for throughput)."""
    store = load_store(Path(__file__).resolve().parent.parent / "configs" / "store.yaml").config
    slots = sorted(sh.slot_id(sl) for sh, sl in store.slots() if sl.sensor)
    rng = np.random.default_rng(seed)
    shoppers = []
    for i in range(n):
        picks = rng.choice(len(slots), size=2, replace=False)
        stops = [Stop(slots[j], [Action(slots[j], "pick", int(rng.integers(1, 3)))])
                 for j in picks]
        shoppers.append(Shopper(f"acct-{i:04d}", i * every_s, stops))
    return Scenario(shoppers, seed=seed)
