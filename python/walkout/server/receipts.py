"""From a session's cart evidence to a receipt: lines, total, confidence, and whether a person
must look at it first."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from walkout.server.cart import LineEvidence, Note
from walkout.server.planogram import Planogram


@dataclass(frozen=True)
class Line:
    sku: str
    name: str
    qty: int
    unit_price_cents: int
    confidence: float
    reasons: tuple[str, ...] = ()

    @property
    def amount_cents(self) -> int:
        return self.qty * self.unit_price_cents


@dataclass(frozen=True)
class Draft:
    """A receipt before it is issued or queued for review."""

    lines: tuple[Line, ...]
    total_cents: int
    confidence: float
    reasons: tuple[str, ...] = field(default=())
    """every doubt, line by line and note by note: what a reviewer must look at"""

    def needs_review(self, threshold: float) -> bool:
        return self.confidence < threshold


def build_draft(lines: list[LineEvidence], notes: list[Note], planogram: Planogram) -> Draft:
    """Sum the evidence per SKU (picks minus put-backs); a line's confidence is its lowest
    contribution's, the receipt's the lowest of every line and note (one doubtful item is
    enough to doubt the total)."""
    qty: dict[str, int] = defaultdict(int)
    conf: dict[str, float] = {}
    reasons: dict[str, list[str]] = defaultdict(list)
    for ev in sorted(lines, key=lambda e: (e.t_ns, e.sku, e.evidence)):
        qty[ev.sku] += ev.qty
        conf[ev.sku] = min(conf.get(ev.sku, 1.0), ev.confidence)
        if ev.reason:
            reasons[ev.sku].append(ev.reason)
    out: list[Line] = []
    all_reasons: list[str] = []
    overall = 1.0
    for sku in sorted(qty):
        n = qty[sku]
        product = planogram.products[sku]
        line_conf = conf[sku]
        line_reasons = list(reasons[sku])
        if n < 0:
            line_reasons.append(f"{-n} more {sku} put back than taken; billed 0")
            line_conf = min(line_conf, 0.5)
            n = 0
        if line_reasons or line_conf < 1.0:
            overall = min(overall, line_conf)
        all_reasons.extend(f"{sku}: {r}" for r in line_reasons)
        if n == 0:
            # Taken and put back (or doubtful): nothing to bill, but a doubt still counts.
            continue
        out.append(Line(sku, product.name, n, product.price_cents, line_conf,
                        tuple(line_reasons)))
    for note in sorted(notes, key=lambda n: (n.t_ns, n.reason)):
        overall = min(overall, note.confidence)
        all_reasons.append(note.reason)
    total = sum(line.amount_cents for line in out)
    return Draft(tuple(out), total, round(overall, 6), tuple(all_reasons))


def corrected_lines(items: list[dict[str, object]], planogram: Planogram) -> tuple[Line, ...]:
    """Lines a reviewer typed (``[{"sku": ..., "qty": ...}]``), priced from the planogram."""
    if not isinstance(items, list):
        raise ValueError("lines: expected a list of {sku, qty}")
    merged: dict[str, int] = defaultdict(int)
    for i, item in enumerate(items):
        if not isinstance(item, dict) or set(item) - {"sku", "qty"}:
            raise ValueError(f"lines[{i}]: expected {{\"sku\": str, \"qty\": int}}")
        sku, n = item.get("sku"), item.get("qty")
        if not isinstance(sku, str) or sku not in planogram.products:
            raise ValueError(f"lines[{i}].sku: expected a SKU of the store, got {sku!r}")
        if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n <= 1000:
            raise ValueError(f"lines[{i}].qty: expected an integer 0..1000, got {n!r}")
        merged[sku] += n
    return tuple(
        Line(sku, planogram.products[sku].name, n, planogram.products[sku].price_cents, 1.0)
        for sku, n in sorted(merged.items()) if n > 0
    )
