"""The rule that picks a distortion model from held-out errors: plain unless clearly beaten.

The plain model is OpenCV's default, five coefficients (k1 k2 p1 p2 k3): what a field
engineer gets from the usual recipe. Another model replaces it only if, on photos held out
of the fit, it is both

- **better by a margin**: its pooled held-out RMS is at least ``margin`` (5 %) below the
  plain model's; a smaller gain is within what a different split of the same photos moves
  (on the shared set, 4-fold partitions move a model's error by ±25 %), and not worth
  a departure from the recipe whose behaviour is known; and
- **better with confidence**: a one-sided Wilcoxon signed-rank test over the photos' paired
  held-out errors (plain minus candidate, one pair per photo) rejects "no better" at
  ``alpha`` / (number of candidate models), a Bonferroni correction, so the chance that
  *any* candidate wins by luck stays below ``alpha`` (0.05). The test is rank-based, so one
  photo where the plain model blows up (k3 extrapolating past the boards) counts once,
  not by its size; and with 10 photos it needs about 9 of them on the candidate's side.

The photos' held-out errors come from one cross-validation and share training photos, so
they are not independent and the test's nominal confidence is optimistic (no unbiased
estimate of cross-validation's variance exists: Bengio & Grandvalet, JMLR 2004); the margin
is the second guard against that. A candidate that drops a coefficient the next richer
model measures as clearly non-zero is not compared at all (see
:func:`walkout.calib.intrinsics.rule_out_underfits`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PLAIN = "radial3"  # OpenCV's default five coefficients: the recipe to beat


@dataclass(frozen=True)
class SelectionRule:
    """How clearly a model must beat the plain one. ``margin``: the fraction its pooled held-out
    RMS must be below the plain one's; raising it keeps the plain model more often (safer on
    a new camera, slower to take a real gain). ``alpha``: the family-wise chance of a
    candidate winning by luck; lowering it needs more photos on the candidate's side.
    ``significance``: how many standard deviations from zero make a coefficient "clearly
    measured", so that a model dropping it is not compared (raising it lets simpler models
    compete more often: less variance, more bias in K)."""

    margin: float = 0.05
    alpha: float = 0.05
    significance: float = 3.0


@dataclass(frozen=True)
class Comparison:
    """One candidate against the plain model, on the same held-out photos."""

    model: str
    held_out_px: float  # pooled held-out RMS
    ratio: float  # held_out_px / the plain model's
    p_value: float  # one-sided signed-rank: candidate no better than plain (nan: not compared)
    wins: bool
    note: str  # why it wins or does not, in words


@dataclass(frozen=True)
class Selection:
    chosen: str  # a model name
    plain_px: float  # the plain model's pooled held-out RMS
    comparisons: tuple[Comparison, ...]
    reason: str


def signed_rank_p(differences: np.ndarray) -> float:
    """One-sided exact p-value of the Wilcoxon signed-rank test that the differences are
    centred above zero: the chance, if each difference's sign were a coin toss, of a sum of
    positive ranks at least this large. Zero differences are dropped; ties in size get
    their ordinal ranks (held-out errors are continuous, so ties do not happen in practice)."""
    d = np.asarray(differences, dtype=np.float64)
    d = d[~np.isnan(d) & (d != 0)]
    n = len(d)
    if n == 0:
        return 1.0
    ranks = np.empty(n, dtype=np.int64)
    ranks[np.argsort(np.abs(d), kind="stable")] = np.arange(1, n + 1)
    observed = int(ranks[d > 0].sum())
    # Distribution of the positive-rank sum under the null: each rank in or out with p = 1/2.
    total = n * (n + 1) // 2
    prob = np.zeros(total + 1)
    prob[0] = 1.0
    for rank in range(1, n + 1):
        prob[rank:] = 0.5 * prob[rank:] + 0.5 * prob[: total + 1 - rank]
        prob[:rank] *= 0.5
    return float(prob[observed:].sum())


def choose(
    per_photo: dict[str, np.ndarray],
    pooled_px: dict[str, float],
    ruled_out: dict[str, str],
    rule: SelectionRule,
) -> Selection:
    """Applies the rule. ``per_photo``: each model's held-out mean squared corner error per
    photo (the same photos, in the same order, for every model); ``pooled_px``: each model's
    pooled held-out RMS; ``ruled_out``: a reason for each model that may not be chosen."""
    plain = pooled_px[PLAIN]
    # The family is every model but the plain one, fixed before the data are seen: the guard
    # that rules some out is itself a look at the data, so survivors are not counted alone.
    level = rule.alpha / max(1, len(pooled_px) - 1)
    comparisons = []
    for name in pooled_px:
        if name == PLAIN:
            continue
        ratio = pooled_px[name] / plain if plain > 0 else float("nan")
        if ruled_out.get(name):
            comparisons.append(
                Comparison(name, pooled_px[name], ratio, float("nan"), False, ruled_out[name])
            )
            continue
        p = signed_rank_p(per_photo[PLAIN] - per_photo[name])
        better = ratio <= 1.0 - rule.margin
        sure = p <= level
        if better and sure:
            note = f"{100 * (1 - ratio):.0f} % lower, p = {p:.3g} <= {level:.3g}"
        elif not better:
            note = f"not {100 * rule.margin:.0f} % lower (x{ratio:.2f})"
        else:
            note = f"{100 * (1 - ratio):.0f} % lower but not sure: p = {p:.3g} > {level:.3g}"
        comparisons.append(Comparison(name, pooled_px[name], ratio, p, better and sure, note))
    winners = [c for c in comparisons if c.wins]
    if not winners:
        return Selection(
            PLAIN,
            plain,
            tuple(comparisons),
            f"no model beats {PLAIN} by {100 * rule.margin:.0f} % with a signed-rank "
            f"p <= {level:.3g}: kept {PLAIN}",
        )
    best = min(winners, key=lambda c: c.held_out_px)
    return Selection(
        best.model,
        plain,
        tuple(comparisons),
        f"{best.model} beats {PLAIN}: {best.note}",
    )
