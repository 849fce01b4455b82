"""What the server needs to know about the physical store, indexed for the cart logic: which
product sits in which slot (and whether the slot has a weight sensor), the gate zones on the
floor, and each shelf's engagement zone. Built once from the ``kind: store`` config."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from walkout.config.store import Store


@dataclass(frozen=True)
class SlotProduct:
    """One slot of the planogram and the product it holds."""

    slot: str
    shelf: str
    sku: str
    name: str
    price_cents: int
    unit_weight_g: float
    sensor: str | None
    """weight-sensor id; None = the slot has no sensor (reach-only evidence)"""


@dataclass(frozen=True)
class ProductInfo:
    sku: str
    name: str
    price_cents: int
    unit_weight_g: float


Polygon = tuple[tuple[float, float], ...]


def as_polygon(points: np.ndarray | list[tuple[float, float]]) -> Polygon:
    """Plain float tuples: this runs for every shopper in every frame, and indexing numpy
    scalars one by one is several times slower than tuples."""
    return tuple((float(x), float(y)) for x, y in points)


def point_in_polygon(x: float, y: float, polygon: Polygon) -> bool:
    """Even-odd ray casting; points on an edge may land either side (zones are metres wide,
    so a millimetre on the boundary never decides anything)."""
    inside = False
    n = len(polygon)
    for i in range(n):
        x1, y1 = polygon[i]
        x2, y2 = polygon[(i + 1) % n]
        if (y1 > y) != (y2 > y):
            x_cross = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
            if x < x_cross:
                inside = not inside
    return inside


def distance_to_polygon(x: float, y: float, polygon: Polygon) -> float:
    """Metres from (x, y) to the polygon: 0 inside, else to its nearest edge."""
    if point_in_polygon(x, y, polygon):
        return 0.0
    best = float("inf")
    n = len(polygon)
    for i in range(n):
        x1, y1 = polygon[i]
        x2, y2 = polygon[(i + 1) % n]
        dx, dy = x2 - x1, y2 - y1
        length2 = dx * dx + dy * dy
        u = 0.0 if length2 == 0 else min(1.0, max(0.0, ((x - x1) * dx + (y - y1) * dy) / length2))
        best = min(best, ((x - x1 - u * dx) ** 2 + (y - y1 - u * dy) ** 2) ** 0.5)
    return best


class Planogram:
    """Slots, products, gates and engagement zones of one store, looked up by id."""

    def __init__(self, store: Store) -> None:
        self.currency = store.currency
        self.timezone = store.timezone
        self.products: dict[str, ProductInfo] = {
            p.sku: ProductInfo(p.sku, p.name, p.price_cents, p.unit_weight_g)
            for p in store.products
        }
        self.slots: dict[str, SlotProduct] = {}
        for shelf, slot in store.slots():
            product = self.products[slot.product]
            sid = shelf.slot_id(slot)
            self.slots[sid] = SlotProduct(
                sid, shelf.id, product.sku, product.name, product.price_cents,
                product.unit_weight_g, slot.sensor,
            )
        self.entry_zones: dict[str, Polygon] = {}
        self.exit_zones: dict[str, Polygon] = {}
        for gate in store.gates:
            zones = self.entry_zones if gate.kind == "entry" else self.exit_zones
            zones[gate.id] = as_polygon(gate.zone)
        self.engagement: dict[str, list[Polygon]] = {
            shelf.id: [as_polygon(p) for p in shelf.engagement_polygons()]
            for shelf in store.shelves
        }
        self.edge_boxes: tuple[str, ...] = tuple(box.id for box in store.edge_boxes)

    def slot(self, slot_id: str) -> SlotProduct | None:
        return self.slots.get(slot_id)

    def entry_gate_at(self, x: float, y: float) -> str | None:
        """The entry gate whose zone holds (x, y), if any."""
        for gate, zone in self.entry_zones.items():
            if point_in_polygon(x, y, zone):
                return gate
        return None

    def entry_distance(self, x: float, y: float, gate: str | None = None) -> float:
        """Metres from (x, y) to the entry zone of ``gate`` (any entry gate if None)."""
        zones = [self.entry_zones[gate]] if gate is not None else list(self.entry_zones.values())
        return min((distance_to_polygon(x, y, z) for z in zones), default=float("inf"))

    def in_exit_zone(self, x: float, y: float) -> bool:
        return any(point_in_polygon(x, y, z) for z in self.exit_zones.values())

    def at_shelf(self, shelf: str, x: float, y: float) -> bool:
        """Whether (x, y) lies in the engagement zone of ``shelf``."""
        return any(point_in_polygon(x, y, z) for z in self.engagement.get(shelf, ()))
