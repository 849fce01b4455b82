"""Who took what: pair each slot weight change with the reaches into that slot.

This is a pure function of the evidence (reaches already mapped to sessions, weight changes,
the planogram), so the same stored events always give the same carts: whatever order they
arrived in, duplicated or replayed after a crash.

Rules (each a field of :class:`CartRules`):

- A weight change at slot S at time t is explained by the reaches into S whose interval
  ``[start - before_s, end + after_s]`` contains t.
- A drop of k unit weights is k items picked, a rise a put-back of k items. A change that is
  not a whole number of units (within the tolerance) is still counted (rounded, at least one)
  but the line gets ``count_misfit_confidence`` and says so.
- A rise that does not fit the slot's product (or fits it, but the reacher holds none of it)
  and fits a product the reacher holds is that product put back into the wrong slot: it
  leaves the reacher's cart and is reported as misplaced stock.
- Two or more shoppers reaching S around t: the change goes to the one whose reach ended
  closest to t; every candidate's receipt gets ``shared_slot_confidence`` and the reason.
- A change with no reach: given to the only shopper standing at the shelf (at
  ``no_reach_confidence``) or, with nobody or several there, reported as unattributed (and
  each shopper there is flagged).
- A change reached only by shoppers bound to no session (a broken-up track) is treated like a
  change with no reach (an anomaly either way).
- A reach into a sensored slot with no weight change lowers confidence a little (touched,
  maybe took something the scale missed).
- A slot without a sensor counts each reach as one item, at ``reach_only_confidence``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from walkout.server.planogram import Planogram, SlotProduct

_NS = 1_000_000_000


@dataclass(frozen=True)
class ReachEvidence:
    """A reach, with the session of the shopper it belongs to (None: nobody identified)."""

    key: str
    """(src, seq) of the reach message as ``"src#seq"``"""
    shopper: str | None
    slot: str
    start_ns: int
    end_ns: int
    confidence: float = 1.0


@dataclass(frozen=True)
class WeightEvidence:
    key: str
    slot: str
    t_ns: int
    delta_g: float


@dataclass(frozen=True)
class CartRules:
    """How weight changes and reaches are paired, and what each kind of doubt costs.

    Every confidence is the confidence of the receipt line (or note) it applies to; a receipt
    whose lowest confidence is below the server's ``review_threshold`` goes to review.
    """

    before_s: float = 1.0
    """a change may be stamped this long before the reach starts (sensor clocks, a hand
    already pressing); longer tolerates worse clocks, risks pairing a neighbour's reach"""
    after_s: float = 1.5
    """a change may settle this long after the reach ends (scales wait for a stable reading);
    longer catches slow scales, makes two shoppers at one slot look simultaneous more often"""
    unit_tolerance: float = 0.2
    """a change fits k units if within this fraction of one unit weight of k units; higher
    accepts noisier scales, lower flags more counts as not fitting"""
    clean_confidence: float = 0.98
    """one reacher, a whole number of units"""
    shared_slot_confidence: float = 0.5
    """two or more shoppers reached the slot around the change"""
    no_reach_confidence: float = 0.6
    """a change nobody reached for, given to the only shopper at the shelf"""
    count_misfit_confidence: float = 0.5
    """the change is not a whole number of the slot product's unit weight"""
    misplaced_confidence: float = 0.9
    """an item of the cart put back into another product's slot (identified by weight)"""
    ambiguous_put_back_confidence: float = 0.5
    """a rise in another product's slot that fits two or more products of the reacher's
    cart (a 213 g rise, with a 210 g pretzel bag and a 205 g sandwich in the cart): given to
    the one taken last, and the receipt waits for a person"""
    reach_without_change_confidence: float = 0.9
    """a reach into a sensored slot with no weight change"""
    reach_only_confidence: float = 0.6
    """a reach into a slot without a weight sensor, counted as one item"""

    def __post_init__(self) -> None:
        if self.before_s < 0 or self.after_s < 0:
            raise ValueError("before_s, after_s: expected seconds >= 0")
        if not 0.0 < self.unit_tolerance < 0.5:
            raise ValueError("unit_tolerance: expected a fraction in (0, 0.5)")


@dataclass(frozen=True)
class LineEvidence:
    """One contribution to a shopper's cart: +qty picked or -qty put back."""

    shopper: str
    sku: str
    qty: int
    confidence: float
    reason: str | None
    t_ns: int
    slot: str
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class Note:
    """Doubt about a shopper's cart that is not a line of its own."""

    shopper: str
    confidence: float
    reason: str
    t_ns: int


@dataclass(frozen=True)
class Anomaly:
    """Something the store should know about: misplaced stock, unexplained weight changes,
    reaches by nobody identified."""

    kind: str
    key: str
    slot: str
    t_ns: int
    detail: str


@dataclass
class Attribution:
    lines: list[LineEvidence] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    anomalies: list[Anomaly] = field(default_factory=list)
    reach_slots: dict[str, list[str]] = field(default_factory=dict)
    """shopper -> slots reached (for analytics)"""

    def for_shopper(self, shopper: str) -> tuple[list[LineEvidence], list[Note]]:
        return ([x for x in self.lines if x.shopper == shopper],
                [n for n in self.notes if n.shopper == shopper])


def fit_units(grams: float, unit_g: float, tolerance: float) -> tuple[int, bool]:
    """(k, fits): the nearest whole number of units (at least 1) in ``grams`` and whether it
    lies within ``tolerance`` units of it."""
    k = max(1, round(grams / unit_g))
    return k, abs(grams - k * unit_g) <= tolerance * unit_g


ShoppersAtShelf = Callable[[str, int], list[str]]
"""(shelf, t_ns) -> sessions whose shopper stood in that shelf's engagement zone then"""


def attribute(
    weights: Iterable[WeightEvidence],
    reaches: Iterable[ReachEvidence],
    planogram: Planogram,
    rules: CartRules = CartRules(),
    shoppers_at_shelf: ShoppersAtShelf | None = None,
) -> Attribution:
    """Pair every weight change with its reaches; see the module docstring for the rules."""
    out = Attribution()
    by_slot: dict[str, list[ReachEvidence]] = defaultdict(list)
    all_reaches = sorted(reaches, key=lambda r: (r.end_ns, r.key))
    for reach in all_reaches:
        by_slot[reach.slot].append(reach)
        if reach.shopper is not None:
            out.reach_slots.setdefault(reach.shopper, []).append(reach.slot)
    used: set[str] = set()
    carts: dict[str, Counter[str]] = defaultdict(Counter)
    before, after = int(rules.before_s * _NS), int(rules.after_s * _NS)

    taken_at: dict[str, dict[str, int]] = defaultdict(dict)  # shopper -> sku -> last pick

    def add_line(line: LineEvidence) -> None:
        out.lines.append(line)
        carts[line.shopper][line.sku] += line.qty
        if line.qty > 0:
            taken_at[line.shopper][line.sku] = line.t_ns

    for w in sorted(weights, key=lambda w: (w.t_ns, w.key)):
        slot = planogram.slot(w.slot)
        if slot is None:
            out.anomalies.append(Anomaly("unknown_slot", w.key, w.slot, w.t_ns,
                                         f"weight change of {w.delta_g:+.0f} g at a slot "
                                         "not in the planogram"))
            continue
        candidates = [r for r in by_slot.get(w.slot, ())
                      if r.start_ns - before <= w.t_ns <= r.end_ns + after]
        used.update(r.key for r in candidates)
        # Closest reach end first; the key breaks ties so the order never depends on arrival.
        candidates.sort(key=lambda r: (abs(w.t_ns - r.end_ns), r.key))
        shoppers: list[str | None] = []
        for r in candidates:
            if r.shopper not in shoppers:
                shoppers.append(r.shopper)
        if not shoppers:
            _no_reach(w, slot, rules, shoppers_at_shelf, out, add_line)
            continue
        chosen, others = shoppers[0], [s for s in shoppers[1:] if s is not None]
        if chosen is None:
            out.anomalies.append(Anomaly(
                "unidentified_reach", w.key, w.slot, w.t_ns,
                f"weight change of {w.delta_g:+.0f} g explained by a reach of a shopper not "
                "bound to any session"))
            for other in others:
                out.notes.append(Note(other, rules.shared_slot_confidence,
                                      f"reached {w.slot} with an unidentified shopper when its "
                                      f"weight changed by {w.delta_g:+.0f} g", w.t_ns))
            if not others:
                # Nobody identified reached: the reacher may be a shopper whose track broke up
                # (a fragment bound to no session). Treat it as a change with no reach, so the
                # shopper standing there is not billed silently without it.
                _no_reach(w, slot, rules, shoppers_at_shelf, out, add_line,
                          why="reached only by an unidentified shopper")
            continue
        evidence = (w.key, *(r.key for r in candidates))
        conf, reasons = rules.clean_confidence, []
        if others:
            conf = min(conf, rules.shared_slot_confidence)
            reasons.append(f"{len(others) + 1} shoppers reached {w.slot} at once "
                           f"({', '.join([chosen, *others])}); given to the one whose reach "
                           "ended closest to the weight change")
        _pair(w, slot, chosen, conf, reasons, evidence, rules, planogram, out, carts,
              taken_at[chosen], add_line)
        for other in others:
            out.notes.append(Note(other, rules.shared_slot_confidence,
                                  f"reached {w.slot} together with another shopper "
                                  f"({chosen}) when its weight changed by {w.delta_g:+.0f} g; "
                                  "the change was given to the other shopper", w.t_ns))

    for r in all_reaches:
        if r.key in used:
            continue
        slot = planogram.slot(r.slot)
        if r.shopper is None:
            out.anomalies.append(Anomaly("unidentified_reach", r.key, r.slot, r.end_ns,
                                         "reach by a shopper not bound to any session"))
        elif slot is None:
            out.anomalies.append(Anomaly("unknown_slot", r.key, r.slot, r.end_ns,
                                         "reach into a slot not in the planogram"))
        elif slot.sensor is None:
            add_line(LineEvidence(r.shopper, slot.sku, 1, rules.reach_only_confidence,
                                  f"{r.slot} has no weight sensor: counted from the reach alone",
                                  r.end_ns, r.slot, (r.key,)))
        else:
            out.notes.append(Note(r.shopper, rules.reach_without_change_confidence,
                                  f"reached {r.slot} with no weight change", r.end_ns))
    return out


def _pair(w: WeightEvidence, slot: SlotProduct, shopper: str, conf: float, reasons: list[str],
          evidence: tuple[str, ...], rules: CartRules, planogram: Planogram, out: Attribution,
          carts: dict[str, Counter[str]], taken_at: dict[str, int],
          add_line: Callable[[LineEvidence], None]) -> None:
    grams = abs(w.delta_g)
    k, fits = fit_units(grams, slot.unit_weight_g, rules.unit_tolerance)
    if w.delta_g < 0:
        if not fits:
            conf = min(conf, rules.count_misfit_confidence)
            reasons.append(f"a drop of {grams:.0f} g is not a whole number of "
                           f"{slot.unit_weight_g:.0f} g units of {slot.sku}; counted {k}")
        add_line(LineEvidence(shopper, slot.sku, k, conf, "; ".join(reasons) or None, w.t_ns,
                              w.slot, evidence))
        return
    if fits and carts[shopper][slot.sku] >= k:
        add_line(LineEvidence(shopper, slot.sku, -k, conf, "; ".join(reasons) or None, w.t_ns,
                              w.slot, evidence))
        return
    # A rise that is not this slot's product, or that the reacher does not hold (one cannot
    # put back what one never took: products of close weights, 520 g water into the 525 g
    # sparkling slot): look in the reacher's cart for what fits.
    fitting: list[tuple[int, float, str, int]] = []
    for sku, held in sorted(carts[shopper].items()):
        if held <= 0 or sku == slot.sku:
            continue
        unit = planogram.products[sku].unit_weight_g
        kp, fits_p = fit_units(grams, unit, rules.unit_tolerance)
        if fits_p and kp <= held:
            fitting.append((-taken_at.get(sku, 0), abs(grams - kp * unit) / unit, sku, kp))
    if fitting:
        # More than one fits: the weight alone cannot tell. People mostly put back what they
        # just took, so the guess is the one taken last (then the closer weight); a person
        # checks it. (Closest weight alone billed a shopper a sandwich for a pretzel bag.)
        fitting.sort()
        _, _, sku, kp = fitting[0]
        conf = min(conf, rules.misplaced_confidence)
        if len(fitting) > 1:
            conf = min(conf, rules.ambiguous_put_back_confidence)
            reasons.append(f"a rise of {grams:.0f} g at {w.slot} fits "
                           f"{' or '.join(sorted(f[2] for f in fitting))} from the cart; taken as the "
                           "one taken last")
        reasons.append(f"{kp} x {sku} put back into {w.slot} (the slot of {slot.sku})")
        add_line(LineEvidence(shopper, sku, -kp, conf, "; ".join(reasons), w.t_ns, w.slot,
                              evidence))
        out.anomalies.append(Anomaly("misplaced", w.key, w.slot, w.t_ns,
                                     f"{kp} x {sku} put into {w.slot}, the slot of {slot.sku}"))
        return
    if fits:
        # Fits the slot's product though the reacher holds none: a put-back of something
        # taken before the session, or a miscount; the draft flags the negative count.
        add_line(LineEvidence(shopper, slot.sku, -k, conf, "; ".join(reasons) or None, w.t_ns,
                              w.slot, evidence))
        return
    conf = min(conf, rules.count_misfit_confidence)
    reasons.append(f"a rise of {grams:.0f} g at {w.slot} fits neither {slot.sku} nor anything "
                   "in the cart")
    out.notes.append(Note(shopper, conf, "; ".join(reasons), w.t_ns))
    out.anomalies.append(Anomaly("misplaced", w.key, w.slot, w.t_ns,
                                 f"unknown item of {grams:.0f} g put into {w.slot}"))


def _no_reach(w: WeightEvidence, slot: SlotProduct, rules: CartRules,
              shoppers_at_shelf: ShoppersAtShelf | None, out: Attribution,
              add_line: Callable[[LineEvidence], None], why: str = "with no reach") -> None:
    near = sorted(set(shoppers_at_shelf(slot.shelf, w.t_ns))) if shoppers_at_shelf else []
    if len(near) == 1:
        reasons = [f"weight change of {w.delta_g:+.0f} g at {w.slot} {why}; given to "
                   "the only shopper at the shelf"]
        grams = abs(w.delta_g)
        k, fits = fit_units(grams, slot.unit_weight_g, rules.unit_tolerance)
        conf = rules.no_reach_confidence if fits else min(rules.no_reach_confidence,
                                                          rules.count_misfit_confidence)
        add_line(LineEvidence(near[0], slot.sku, k if w.delta_g < 0 else -k, conf,
                              reasons[0], w.t_ns, w.slot, (w.key,)))
        return
    out.anomalies.append(Anomaly(
        "unattributed_weight", w.key, w.slot, w.t_ns,
        f"weight change of {w.delta_g:+.0f} g at {w.slot} {why} and "
        f"{len(near)} shoppers at the shelf"))
    for shopper in near:
        out.notes.append(Note(shopper, rules.no_reach_confidence,
                              f"stood at {slot.shelf} when {w.slot} changed by "
                              f"{w.delta_g:+.0f} g {why}", w.t_ns))
