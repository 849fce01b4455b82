"""Checks of a store that a schema cannot express: references between sections, uniqueness,
and geometry (shelves and zones on the floor, shelves not overlapping)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from walkout.config.errors import ConfigIssue, Loc
from walkout.config.store import Store

# Touching shelves (back to back gondolas) are fine; overlaps deeper than this are not.
_OVERLAP_TOLERANCE_M = 1e-6
_INSIDE_TOLERANCE_M = 1e-6

Report = Callable[[Loc, str], None]


def _duplicates(values: Iterable[str]) -> set[str]:
    seen: set[str] = set()
    repeated: set[str] = set()
    for value in values:
        (repeated if value in seen else seen).add(value)
    return repeated


def _outside_floor(points: np.ndarray, width: float, depth: float) -> bool:
    t = _INSIDE_TOLERANCE_M
    return bool(
        np.any(points[:, 0] < -t) or np.any(points[:, 0] > width + t)
        or np.any(points[:, 1] < -t) or np.any(points[:, 1] > depth + t)
    )


def _convex_overlap_depth(a: np.ndarray, b: np.ndarray) -> float:
    """Smallest penetration depth over the separating-axis candidates of two convex polygons
    (<= 0 means they are separated or only touch)."""
    depth = np.inf
    for poly in (a, b):
        edges = np.roll(poly, -1, axis=0) - poly
        for ex, ey in edges:
            axis = np.array([-ey, ex])
            norm = np.hypot(*axis)
            if norm == 0:
                continue
            axis /= norm
            pa, pb = a @ axis, b @ axis
            depth = min(depth, min(pa.max(), pb.max()) - max(pa.min(), pb.min()))
    return float(depth)


def _check_unique(report: Report, section: str, ids: list[str], key: str) -> None:
    for dup in sorted(_duplicates(ids)):
        index = ids.index(dup, ids.index(dup) + 1)
        report((section, index, key), f"duplicate {key} '{dup}': each must be unique")


def check_store(store: Store, report: Report) -> None:
    """Report every cross-reference and geometry problem of ``store`` through ``report``."""
    width, depth = store.floor.width, store.floor.depth
    _check_unique(report, "products", [p.sku for p in store.products], "sku")
    _check_unique(report, "shelves", [s.id for s in store.shelves], "id")
    _check_unique(report, "gates", [g.id for g in store.gates], "id")
    _check_unique(report, "edge_boxes", [b.id for b in store.edge_boxes], "id")
    _check_unique(report, "cameras", [c.id for c in store.cameras], "id")

    skus = {p.sku for p in store.products}
    boxes = {b.id for b in store.edge_boxes}
    slot_ids: dict[str, Loc] = {}
    sensors: dict[str, Loc] = {}
    for si, shelf in enumerate(store.shelves):
        if _outside_floor(shelf.footprint(), width, depth):
            report(("shelves", si, "center"),
                   f"shelf '{shelf.id}' footprint leaves the floor [0, {width}] x [0, {depth}] m")
        for zi, zone in enumerate(shelf.engagement_polygons()):
            if _outside_floor(zone, width, depth):
                what = ("engagement_zone" if shelf.engagement_zone is not None
                        else f"the {shelf.faces[zi]} face's engagement strip")
                report(("shelves", si, "engagement_zone" if shelf.engagement_zone else "faces"),
                       f"{what} of shelf '{shelf.id}' leaves the floor (does the face look at a "
                       f"wall?); expected inside [0, {width}] x [0, {depth}] m")
        cells: set[tuple[str, int, int]] = set()
        for li, slot in enumerate(shelf.slots):
            loc: Loc = ("shelves", si, "slots", li)
            if slot.product not in skus:
                report((*loc, "product"),
                       f"unknown product '{slot.product}'; expected a sku listed under products")
            if slot.row >= shelf.rows:
                report((*loc, "row"), f"row {slot.row} out of range; shelf has rows 0..{shelf.rows - 1}")
            if slot.col >= shelf.cols:
                report((*loc, "col"), f"col {slot.col} out of range; shelf has cols 0..{shelf.cols - 1}")
            if slot.face not in shelf.faces:
                report((*loc, "face"),
                       f"face '{slot.face}' is not open on this shelf; expected one of {shelf.faces}")
            cell = (slot.face, slot.row, slot.col)
            if cell in cells:
                report(loc, f"two slots at face {slot.face} row {slot.row} col {slot.col}")
            cells.add(cell)
            sid = shelf.slot_id(slot)
            if sid in slot_ids:
                report((*loc, "id"), f"duplicate slot id '{sid}'")
            slot_ids[sid] = loc
            if slot.sensor is not None:
                if slot.sensor in sensors:
                    report((*loc, "sensor"), f"weight sensor '{slot.sensor}' is already used by "
                           "another slot; expected one sensor per slot")
                sensors[slot.sensor] = loc
    for i in range(len(store.shelves)):
        for j in range(i + 1, len(store.shelves)):
            a, b = store.shelves[i], store.shelves[j]
            if _convex_overlap_depth(a.footprint(), b.footprint()) > _OVERLAP_TOLERANCE_M:
                report(("shelves", j, "center"), f"shelf '{b.id}' overlaps shelf '{a.id}'")

    for gi, gate in enumerate(store.gates):
        if _outside_floor(np.asarray(gate.zone), width, depth):
            report(("gates", gi, "zone"),
                   f"gate '{gate.id}' zone leaves the floor; expected inside [0, {width}] x [0, {depth}] m")
    kinds = {g.kind for g in store.gates}
    for needed in ("entry", "exit"):
        if needed not in kinds:
            report(("gates",), f"no {needed} gate; a store needs at least one entry and one exit")

    for ci, camera in enumerate(store.cameras):
        if camera.box not in boxes:
            report(("cameras", ci, "box"),
                   f"edge box '{camera.box}' is not listed; expected one of {sorted(boxes)}")
