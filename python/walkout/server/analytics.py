"""Store analytics over the stored events and receipts: time in each shelf's zone, reaches and
purchases per shelf and product, conversion from dwell to purchase, traffic and basket value by
hour, visit length, and the same by the age band shoppers chose to share in the app.

Only anonymous session ids and the profile attributes a shopper shared are used; nothing here
comes from a camera image (the server never receives one).
"""

from __future__ import annotations

import statistics
import zoneinfo
from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

from walkout import protocol
from walkout.server.core import StoreCore

_NS = 1_000_000_000
_BILLED = ("issued", "confirmed", "corrected")


def _hour(t_ns: int, tz: zoneinfo.ZoneInfo) -> str:
    return datetime.fromtimestamp(t_ns / _NS, tz).strftime("%Y-%m-%d %H:00")


def _summary(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "mean": None, "median": None, "p90": None}
    ordered = sorted(values)
    return {"n": len(values), "mean": round(statistics.fmean(values), 3),
            "median": round(statistics.median(values), 3),
            "p90": round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 3)}


def analytics(core: StoreCore, t0_ns: int = 0, t1_ns: int = 2**63 - 1) -> dict[str, Any]:
    """Everything above for events stamped in [t0_ns, t1_ns], as plain JSON-able dicts."""
    plan, db = core.planogram, core.db
    tz = zoneinfo.ZoneInfo(plan.timezone)
    shelf_of_sku: dict[str, str] = {}
    for slot in plan.slots.values():
        shelf_of_sku.setdefault(slot.sku, slot.shelf)

    def session_of(src: str, track: int, t_ns: int) -> str | None:
        root = core.shoppers.link(src, track, t_ns)
        return core.session_of(root)

    dwell_s: dict[str, float] = defaultdict(float)
    dwell_visits: Counter[str] = Counter()
    dwell_sessions: dict[str, set[str]] = defaultdict(set)
    for d in db.events_between(("dwell",), t0_ns, t1_ns):
        assert isinstance(d, protocol.Dwell)
        dwell_s[d.shelf] += (d.leave_ns - d.enter_ns) / _NS
        dwell_visits[d.shelf] += 1
        sid = session_of(d.src, d.track, d.leave_ns)
        if sid is not None:
            dwell_sessions[d.shelf].add(sid)
    reaches_shelf: Counter[str] = Counter()
    reaches_product: Counter[str] = Counter()
    for r in db.events_between(("reach",), t0_ns, t1_ns):
        assert isinstance(r, protocol.Reach)
        reaches_shelf[r.shelf] += 1
        slot = plan.slot(r.slot)
        if slot is not None:
            reaches_product[slot.sku] += 1

    sessions = {s.id: s for s in db.sessions() if t0_ns <= s.entry_ns <= t1_ns}
    bought_shelf: Counter[str] = Counter()
    bought_product: Counter[str] = Counter()
    buyers: dict[str, set[str]] = defaultdict(set)
    basket_by_hour: dict[str, list[float]] = defaultdict(list)
    basket_by_band: dict[str, list[float]] = defaultdict(list)
    for receipt in db.receipts():
        if receipt.status not in _BILLED or receipt.session not in sessions:
            continue
        for line in receipt.lines:
            shelf = shelf_of_sku.get(line["sku"], "?")
            bought_shelf[shelf] += line["qty"]
            bought_product[line["sku"]] += line["qty"]
            buyers[shelf].add(receipt.session)
        basket_by_hour[_hour(receipt.exit_ns, tz)].append(receipt.total_cents)
        band = sessions[receipt.session].profile.get("age_band", "not shared")
        basket_by_band[band].append(receipt.total_cents)

    traffic: Counter[str] = Counter(_hour(s.entry_ns, tz) for s in sessions.values())
    shoppers: Counter[str] = Counter()
    for s in sessions.values():
        shoppers[_hour(s.entry_ns, tz)] += max(1, len(s.members))
    band_traffic: Counter[str] = Counter(s.profile.get("age_band", "not shared")
                                         for s in sessions.values())
    visits = [(s.exit_ns - s.entry_ns) / _NS for s in sessions.values() if s.exit_ns]

    shelves = sorted(set(plan.engagement) | set(dwell_s) | set(reaches_shelf))
    per_shelf = {}
    for shelf in shelves:
        dwelled = dwell_sessions.get(shelf, set())
        converted = dwelled & buyers.get(shelf, set())
        per_shelf[shelf] = {
            "dwell_s": round(dwell_s.get(shelf, 0.0), 3),
            "dwell_visits": dwell_visits.get(shelf, 0),
            "mean_dwell_s": round(dwell_s[shelf] / dwell_visits[shelf], 3)
            if dwell_visits.get(shelf) else None,
            "reaches": reaches_shelf.get(shelf, 0),
            "items_bought": bought_shelf.get(shelf, 0),
            "sessions_dwelled": len(dwelled),
            "sessions_bought": len(buyers.get(shelf, set())),
            "conversion": round(len(converted) / len(dwelled), 4) if dwelled else None,
        }
    products = {
        sku: {"reaches": reaches_product.get(sku, 0), "bought": bought_product.get(sku, 0)}
        for sku in sorted(set(reaches_product) | set(bought_product))
    }
    return {
        "currency": plan.currency,
        "timezone": plan.timezone,
        "sessions": len(sessions),
        "shelves": per_shelf,
        "products": products,
        "by_hour": {
            hour: {"sessions": traffic[hour], "shoppers": shoppers[hour],
                   "basket_cents": _summary(basket_by_hour.get(hour, []))}
            for hour in sorted(traffic | Counter(basket_by_hour.keys()))
        },
        "visit_length_s": _summary(visits),
        "by_age_band": {
            band: {"sessions": band_traffic[band],
                   "basket_cents": _summary(basket_by_band.get(band, []))}
            for band in sorted(band_traffic)
        },
    }
