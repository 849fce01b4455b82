"""The live floor the dashboard draws: the store's layout once (floor, shelves, gates) and, as
often as it asks, where each shopper in the store is now (floor metres), with the session
and account they belong to. Positions are the server's global shoppers, fused from every box;
nothing here comes from an image.
"""

from __future__ import annotations

import math
from typing import Any

from walkout.config.store import Store
from walkout.server.core import StoreCore

_NS = 1_000_000_000
STALE_S = 5.0
"""a shopper unseen for longer than this (store time) is not drawn"""


def _corners(cx: float, cy: float, yaw: float, length: float, depth: float) -> list[list[float]]:
    c, s = math.cos(yaw), math.sin(yaw)
    out = []
    for u, v in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
        x, y = u * length / 2, v * depth / 2
        out.append([round(cx + c * x - s * y, 3), round(cy + s * x + c * y, 3)])
    return out


def layout(store: Store) -> dict[str, Any]:
    return {
        "name": store.name,
        "floor": {"width": store.floor.width, "depth": store.floor.depth},
        "shelves": [{"id": s.id, "polygon": _corners(*s.center, s.yaw, s.length, s.depth)}
                    for s in store.shelves],
        "gates": [{"id": g.id, "kind": g.kind, "polygon": [list(p) for p in g.zone]}
                  for g in store.gates],
    }


def shoppers_now(core: StoreCore) -> dict[str, Any]:
    """Every open session's shoppers where they were last seen (call under the core's lock)."""
    now = core.shoppers.processed_ns
    dots = []
    for session in core.sessions.values():
        if session.exit_ns is not None:
            continue
        for member in session.members:
            where = core.shoppers.position(core.shoppers.root(member))
            if where is None or now - where[2] > STALE_S * _NS:
                continue
            dots.append({"shopper": member, "session": session.id,
                         "account": session.account,
                         "x": round(where[0], 3), "y": round(where[1], 3)})
    dots.sort(key=lambda d: (d["session"], d["shopper"]))
    return {"t_ns": now, "shoppers": dots}
