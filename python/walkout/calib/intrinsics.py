"""Intrinsics from chessboard views, the distortion model chosen by nested cross-validation.

A calibration's RMS error measures how well it fits the photos it was fitted to; more
distortion coefficients always lower it. What a field engineer needs is how well it predicts
views it has not seen, so every model is cross-validated: fitted k times, each time without
one fold of photos, and measured on the held-out photos (their board pose solved with the
fold's intrinsics, the pose free and the intrinsics not).

Choosing the model with the lowest cross-validated error and reporting that error fits the
choice to the folds it is scored on: it wins on the camera it was tuned on and can lose on
the next one (issue #21). So the choice is itself cross-validated (nested): inside each
outer fold, the model is chosen by the rule of :mod:`walkout.calib.selection` from an inner
cross-validation of that fold's training photos only, and the outer fold's held-out photos
score the chosen model. That outer error is the honest estimate of the whole procedure;
the calibration written is the model the same rule chooses on all photos (whose inner
cross-validation is the outer one), fitted to all photos.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

import cv2
import numpy as np

from walkout.calib.chessboard import BoardView, Rejection, board_points, frame_coverage
from walkout.calib.selection import PLAIN, Selection, SelectionRule, choose


@dataclass(frozen=True)
class DistortionModel:
    """One OpenCV distortion model: how many coefficients it writes and the flags that fit it."""

    name: str
    n_coeffs: int  # as written to the calibration file (0, 4, 5 or 8)
    flags: int
    description: str


# The candidates, simplest first: OpenCV's own coefficient counts.
DISTORTION_MODELS: tuple[DistortionModel, ...] = (
    DistortionModel(
        "pinhole",
        0,
        cv2.CALIB_FIX_K1 | cv2.CALIB_FIX_K2 | cv2.CALIB_FIX_K3 | cv2.CALIB_ZERO_TANGENT_DIST,
        "no distortion",
    ),
    DistortionModel("radial2", 4, cv2.CALIB_FIX_K3, "k1 k2 p1 p2"),
    DistortionModel("radial3", 5, 0, "k1 k2 p1 p2 k3 (OpenCV's default)"),
    DistortionModel("rational", 8, cv2.CALIB_RATIONAL_MODEL, "k1 k2 p1 p2 k3 k4 k5 k6"),
)

_PARAM_NAMES = ("fx", "fy", "cx", "cy", "k1", "k2", "p1", "p2", "k3", "k4", "k5", "k6")

# Fewest usable views: OpenCV needs 3 views of a plane for K alone; with 4 folds held out in
# turn, 6 leaves every outer fit at least 4 views and every inner (nested) fit at least 3.
MIN_VIEWS = 6

_CRITERIA = (cv2.TERM_CRITERIA_COUNT + cv2.TERM_CRITERIA_EPS, 100, 1e-12)


@dataclass
class ModelFit:
    """One distortion model fitted to a set of views, with its cross-validated error."""

    model: DistortionModel
    K: np.ndarray
    dist: np.ndarray  # model.n_coeffs values
    rms_px: float
    per_view_px: np.ndarray  # RMS per view, pixels
    std: dict[str, float]  # standard deviation of each fitted parameter (OpenCV's estimate)
    # Outer folds with this model fixed: the pooled held-out RMS and each view's.
    cross_validated_px: float = float("nan")
    held_out_px: dict[int, float] = field(default_factory=dict)  # view index -> held-out RMS
    # Why this model may not be chosen (a coefficient it drops is clearly non-zero); "" if it may.
    ruled_out: str = ""


@dataclass(frozen=True)
class FoldChoice:
    """What the rule chose inside one outer fold, from its training photos only."""

    held_out: tuple[int, ...]  # the outer fold's held-out view indices
    selection: Selection
    held_out_px: float  # the chosen model's RMS on the held-out photos


@dataclass
class IntrinsicsResult:
    image_size: tuple[int, int]
    views: list[BoardView]  # kept
    rejections: list[Rejection]
    folds: list[list[int]]  # outer folds, indices into views
    candidates: list[ModelFit]  # fitted to all kept views
    chosen: ModelFit
    plain: ModelFit  # OpenCV's default model, the recipe to beat
    mode: str  # "auto", or the model forced with --model
    selection: Selection | None  # the rule applied to all views (None when forced)
    fold_choices: list[FoldChoice]  # the rule inside each outer fold (empty when forced)
    # Outer-fold error of what was done: for "auto" the nested estimate (the choice made
    # inside each fold), for a forced model that model's own cross-validated error.
    cross_validated_px: float
    coverage: float  # fraction of the frame's 8 x 6 cells with a corner


@dataclass
class _Validated:
    """One model cross-validated: each view's held-out squared error and corner count, and
    the model fitted to each fold's training views."""

    sse: np.ndarray
    count: np.ndarray
    fold_fits: list[ModelFit]

    def pooled_px(self, indices: Sequence[int] | None = None) -> float:
        idx = slice(None) if indices is None else list(indices)
        return float(np.sqrt(self.sse[idx].sum() / self.count[idx].sum()))

    def per_photo(self) -> np.ndarray:
        return self.sse / self.count


def interleaved_folds(n: int, k: int = 4) -> list[list[int]]:
    """Fold f holds views f, f + k, f + 2k, ...: held-out photos spread over the session
    rather than one run of similar poses (photos are taken in sequence, neighbours alike)."""
    k = max(2, min(k, n))
    return [list(range(f, n, k)) for f in range(k)]


def model_names(models: Sequence[DistortionModel] = DISTORTION_MODELS) -> list[str]:
    """What ``model=`` (and ``--model``) accepts: plain, auto and each model's name."""
    return ["plain", "auto", *(m.name for m in models)]


def fit_intrinsics(
    views: Sequence[BoardView],
    image_size: tuple[int, int],
    object_points: np.ndarray,
    model: DistortionModel,
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(rms, K, dist[:n_coeffs], per-view RMS, std of intrinsics) of one model on ``views``."""
    rms, K, dist, _r, _t, std, _se, per_view = cv2.calibrateCameraExtended(
        [object_points] * len(views),
        [v.corners.reshape(-1, 1, 2) for v in views],
        image_size,
        None,
        None,
        flags=model.flags,
        criteria=_CRITERIA,
    )
    return float(rms), K, dist.ravel()[: model.n_coeffs].copy(), per_view.ravel(), std.ravel()


def _model_fit(
    views: Sequence[BoardView],
    image_size: tuple[int, int],
    object_points: np.ndarray,
    model: DistortionModel,
) -> ModelFit:
    rms, K, dist, per_view, std = fit_intrinsics(views, image_size, object_points, model)
    names = _PARAM_NAMES[: 4 + model.n_coeffs]
    return ModelFit(
        model, K, dist, rms, per_view, {name: float(std[i]) for i, name in enumerate(names)}
    )


def held_out_errors(
    views: Sequence[BoardView], object_points: np.ndarray, K: np.ndarray, dist: np.ndarray
) -> list[tuple[float, int]]:
    """(sum of squared pixel errors, corner count) per view, its pose solved with K, dist."""
    out = []
    d = dist if dist.size else None
    for view in views:
        ok, rvec, tvec = cv2.solvePnP(
            object_points, view.corners, K, d, flags=cv2.SOLVEPNP_ITERATIVE
        )
        if not ok:
            out.append((float("inf"), len(view.corners)))
            continue
        projected = cv2.projectPoints(object_points, rvec, tvec, K, d)[0].reshape(-1, 2)
        err = projected - view.corners.reshape(-1, 2)
        out.append((float(np.sum(err**2)), len(err)))
    return out


def _cross_validate(
    views: Sequence[BoardView],
    image_size: tuple[int, int],
    object_points: np.ndarray,
    model: DistortionModel,
    folds: Sequence[Sequence[int]],
    tick: Callable[[], None] | None,
) -> _Validated:
    sse = np.zeros(len(views))
    count = np.zeros(len(views))
    fold_fits = []
    for fold in folds:
        held = set(fold)
        train = [v for i, v in enumerate(views) if i not in held]
        fit = _model_fit(train, image_size, object_points, model)
        fold_fits.append(fit)
        errors = held_out_errors([views[i] for i in fold], object_points, fit.K, fit.dist)
        for i, (e, n) in zip(fold, errors, strict=True):
            sse[i], count[i] = e, n
        if tick:
            tick()
    return _Validated(sse, count, fold_fits)


def _choose(
    fits: Sequence[ModelFit], validated: Sequence[_Validated], rule: SelectionRule
) -> Selection:
    rule_out_underfits(fits, rule.significance)
    names = [f.model.name for f in fits]
    return choose(
        {n: v.per_photo() for n, v in zip(names, validated, strict=True)},
        {n: v.pooled_px() for n, v in zip(names, validated, strict=True)},
        {f.model.name: f.ruled_out for f in fits},
        rule,
    )


def calibrate_intrinsics(
    views: Sequence[BoardView],
    rejections: Sequence[Rejection],
    image_size: tuple[int, int],
    pattern: tuple[int, int],
    square: float,
    *,
    models: Sequence[DistortionModel] = DISTORTION_MODELS,
    n_folds: int = 4,
    outlier_factor: float = 3.0,
    outlier_floor_px: float = 1.0,
    rule: SelectionRule | None = None,
    model: str = "auto",
    tick: Callable[[], None] | None = None,
) -> IntrinsicsResult:
    """Calibrates, rejects outlier photos, and picks the distortion model by nested
    cross-validation (``model="auto"``), or fits the one named (``"plain"``: OpenCV's default).

    ``outlier_factor``, ``outlier_floor_px``: a photo whose own RMS error (in a first fit with
    OpenCV's default model) exceeds max(factor x median, floor) is rejected as an outlier (a
    mis-detected board, motion blur, a bent board). Raising either keeps more photos and
    risks a biased fit; lowering them rejects good photos of the frame's edges, where errors
    are naturally larger. ``n_folds``: outer folds, and inner folds within each (more hold out
    fewer photos each: an estimate closer to the fit on all photos, but noisier and slower).
    ``rule``: how clearly a model must beat the plain one (:class:`SelectionRule`). ``tick``
    is called after each fit, for a progress bar (:func:`fit_count` fits).
    """
    rule = rule or SelectionRule()
    by_name = {m.name: m for m in models}
    if model not in model_names(models):
        raise ValueError(f"model: expected one of {', '.join(model_names(models))}, got '{model}'")
    if PLAIN not in by_name:
        raise ValueError(f"models: the plain model '{PLAIN}' must be among the candidates")
    if square <= 0:
        raise ValueError(f"square: expected a positive size in metres, got {square}")
    views = list(views)
    rejections = list(rejections)
    if len(views) < MIN_VIEWS:
        raise ValueError(
            f"images: the board was found in {len(views)} usable photos; at least "
            f"{MIN_VIEWS} are needed (rejected: {len(rejections)})"
        )
    object_points = board_points(pattern, square)
    views = _reject_outliers(
        views,
        rejections,
        image_size,
        object_points,
        by_name[PLAIN],
        outlier_factor,
        outlier_floor_px,
    )
    if tick:
        tick()

    folds = interleaved_folds(len(views), n_folds)
    candidates, validated = [], []
    for m in models:
        fit = _model_fit(views, image_size, object_points, m)
        if tick:
            tick()
        cv = _cross_validate(views, image_size, object_points, m, folds, tick)
        fit.cross_validated_px = cv.pooled_px()
        per_view = np.sqrt(cv.per_photo())
        fit.held_out_px = {i: float(e) for i, e in enumerate(per_view)}
        candidates.append(fit)
        validated.append(cv)
    fits_by_name = {f.model.name: f for f in candidates}
    plain = fits_by_name[PLAIN]

    if model != "auto":
        # Forced: no choice made, so the model's own cross-validated error is honest.
        rule_out_underfits(candidates, rule.significance)  # still shown, not applied
        chosen = fits_by_name[PLAIN if model == "plain" else model]
        return IntrinsicsResult(
            image_size,
            views,
            rejections,
            folds,
            candidates,
            chosen,
            plain,
            model,
            None,
            [],
            chosen.cross_validated_px,
            frame_coverage(views, image_size),
        )

    # The rule on all photos: its inner cross-validation is the outer one.
    selection = _choose(candidates, validated, rule)
    # Nested: the rule again inside each outer fold, on that fold's training photos only.
    fold_choices = []
    sse = count = 0.0
    for f, fold in enumerate(folds):
        held = set(fold)
        train = [v for i, v in enumerate(views) if i not in held]
        inner_folds = interleaved_folds(len(train), n_folds)
        inner = [
            _cross_validate(train, image_size, object_points, m, inner_folds, tick) for m in models
        ]
        choice = _choose([cv.fold_fits[f] for cv in validated], inner, rule)
        scored = validated[[m.name for m in models].index(choice.chosen)]
        fold_choices.append(FoldChoice(tuple(fold), choice, scored.pooled_px(fold)))
        sse += float(scored.sse[fold].sum())
        count += float(scored.count[fold].sum())
    return IntrinsicsResult(
        image_size,
        views,
        rejections,
        folds,
        candidates,
        fits_by_name[selection.chosen],
        plain,
        "auto",
        selection,
        fold_choices,
        float(np.sqrt(sse / count)),
        frame_coverage(views, image_size),
    )


def fit_count(
    n_views: int, n_folds: int = 4, n_models: int = len(DISTORTION_MODELS), model: str = "auto"
) -> int:
    """How many calibrations :func:`calibrate_intrinsics` runs (for a progress bar), before
    outliers are rejected (each one rejected makes it fewer, never more)."""
    k = max(2, min(n_folds, n_views))
    outer = 1 + n_models * (1 + k)
    return outer + (k * n_models * k if model == "auto" else 0)


def _reject_outliers(
    views: list[BoardView],
    rejections: list[Rejection],
    image_size: tuple[int, int],
    object_points: np.ndarray,
    default: DistortionModel,
    outlier_factor: float,
    outlier_floor_px: float,
) -> list[BoardView]:
    """Drops (into ``rejections``) the photos fitting far worse than the rest, judged in a
    first fit with OpenCV's default model."""
    _rms, _K, _d, per_view, _std = fit_intrinsics(views, image_size, object_points, default)
    limit = max(outlier_factor * float(np.median(per_view)), outlier_floor_px)
    kept = []
    for view, err in zip(views, per_view, strict=True):
        if err > limit:
            rejections.append(
                Rejection(
                    view.path,
                    f"outlier error: {err:.2f} px RMS > {limit:.2f} px "
                    f"({outlier_factor:g} x the median photo)",
                )
            )
        else:
            kept.append(view)
    if len(kept) < MIN_VIEWS:
        raise ValueError(
            f"images: only {len(kept)} photos remain after rejecting outliers; at "
            f"least {MIN_VIEWS} are needed"
        )
    return kept


def rule_out_underfits(candidates: Sequence[ModelFit], significance: float) -> None:
    """Marks each model that drops a coefficient the next richer model measures as clearly
    non-zero (|value| > significance x its standard deviation). Candidates are nested, simplest
    first; OpenCV's default (5 coefficients) and the richest model are never ruled out."""
    ruled_out_below = ""
    for simpler, richer in reversed(list(pairwise(candidates))):
        dropped = list(richer.std)[4 + simpler.model.n_coeffs :]
        values = richer.dist[simpler.model.n_coeffs :]
        clear = [
            f"{name} = {value:.3g} ± {richer.std[name]:.2g}"
            for name, value in zip(dropped, values, strict=False)
            if abs(value) > significance * richer.std[name]
        ]
        if simpler.model.n_coeffs == 5:
            ruled_out_below = ""  # OpenCV's default stays a candidate
            continue
        if clear:
            ruled_out_below = f"drops {', '.join(clear)} (measured by {richer.model.name})"
        simpler.ruled_out = ruled_out_below
