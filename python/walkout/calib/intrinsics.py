"""Intrinsics from chessboard views, with the distortion model chosen by cross-validation.

A calibration's RMS error measures how well it fits the photos it was fitted to; more
distortion coefficients always lower it. What a field engineer needs to know is how well it
will predict views it has not seen. So every candidate model is fitted k times, each time
without one fold of photos, and measured on the held-out photos (their board pose solved
with the fold's intrinsics, the pose being free and the intrinsics not). The model with the
lowest pooled held-out RMS wins; on a tie the one with fewer coefficients.

With a dozen photos the held-out error is itself noisy, and on its own it can prefer a model
that drops a term the photos measure clearly (on the real 7x5 set, "no distortion" wins on
some fold assignments although k2 is 8 standard deviations from zero, and its fx then lies
3 standard deviations away). So a model may only win if every coefficient it drops is
within ``significance`` standard deviations of zero in the fit of the next richer model. The
guard never rules out OpenCV's default five coefficients (the plain recipe), so on the same
folds walkout is never worse than it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

import cv2
import numpy as np

from walkout.calib.chessboard import BoardView, Rejection, board_points, frame_coverage


@dataclass(frozen=True)
class DistortionModel:
    """One OpenCV distortion model: how many coefficients it writes and the flags that fit it."""

    name: str
    n_coeffs: int  # as written to the calibration file (0, 4, 5 or 8)
    flags: int
    description: str


# The candidates, simplest first: OpenCV's own coefficient counts.
DISTORTION_MODELS: tuple[DistortionModel, ...] = (
    DistortionModel("pinhole", 0, cv2.CALIB_FIX_K1 | cv2.CALIB_FIX_K2 | cv2.CALIB_FIX_K3
                    | cv2.CALIB_ZERO_TANGENT_DIST, "no distortion"),
    DistortionModel("radial2", 4, cv2.CALIB_FIX_K3, "k1 k2 p1 p2"),
    DistortionModel("radial3", 5, 0, "k1 k2 p1 p2 k3 (OpenCV's default)"),
    DistortionModel("rational", 8, cv2.CALIB_RATIONAL_MODEL, "k1 k2 p1 p2 k3 k4 k5 k6"),
)

_PARAM_NAMES = ("fx", "fy", "cx", "cy", "k1", "k2", "p1", "p2", "k3", "k4", "k5", "k6")

# Fewest usable views: OpenCV needs 3 views of a plane for K alone; with 4 folds held out in
# turn, 6 leaves every fit at least 4 views.
MIN_VIEWS = 6

_CRITERIA = (cv2.TERM_CRITERIA_COUNT + cv2.TERM_CRITERIA_EPS, 100, 1e-12)


@dataclass
class ModelFit:
    """One distortion model fitted to all kept views, with its cross-validated error."""

    model: DistortionModel
    K: np.ndarray
    dist: np.ndarray  # model.n_coeffs values
    rms_px: float
    per_view_px: np.ndarray  # RMS per kept view, pixels
    std: dict[str, float]  # standard deviation of each fitted parameter (OpenCV's estimate)
    cross_validated_px: float = float("nan")
    held_out_px: dict[int, float] = field(default_factory=dict)  # view index -> held-out RMS
    # Why this model may not be chosen (a coefficient it drops is clearly non-zero); "" if it may.
    ruled_out: str = ""


@dataclass
class IntrinsicsResult:
    image_size: tuple[int, int]
    views: list[BoardView]  # kept
    rejections: list[Rejection]
    folds: list[list[int]]  # indices into views
    candidates: list[ModelFit]
    chosen: ModelFit
    coverage: float  # fraction of the frame's 8 x 6 cells with a corner


def interleaved_folds(n: int, k: int = 4) -> list[list[int]]:
    """Fold f holds views f, f + k, f + 2k, ...: held-out photos spread over the session
    rather than one run of similar poses (photos are taken in sequence, neighbours alike)."""
    k = max(2, min(k, n))
    return [list(range(f, n, k)) for f in range(k)]


def fit_intrinsics(views: Sequence[BoardView], image_size: tuple[int, int],
                   object_points: np.ndarray, model: DistortionModel,
                   ) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(rms, K, dist[:n_coeffs], per-view RMS, std of intrinsics) of one model on ``views``."""
    rms, K, dist, _r, _t, std, _se, per_view = cv2.calibrateCameraExtended(
        [object_points] * len(views), [v.corners.reshape(-1, 1, 2) for v in views], image_size,
        None, None, flags=model.flags, criteria=_CRITERIA)
    return float(rms), K, dist.ravel()[: model.n_coeffs].copy(), per_view.ravel(), std.ravel()


def held_out_errors(views: Sequence[BoardView], object_points: np.ndarray, K: np.ndarray,
                    dist: np.ndarray) -> list[tuple[float, int]]:
    """(sum of squared pixel errors, corner count) per view, its pose solved with K, dist."""
    out = []
    d = dist if dist.size else None
    for view in views:
        ok, rvec, tvec = cv2.solvePnP(object_points, view.corners, K, d, flags=cv2.SOLVEPNP_ITERATIVE)
        if not ok:
            out.append((float("inf"), len(view.corners)))
            continue
        projected = cv2.projectPoints(object_points, rvec, tvec, K, d)[0].reshape(-1, 2)
        err = projected - view.corners.reshape(-1, 2)
        out.append((float(np.sum(err**2)), len(err)))
    return out


def cross_validate(views: Sequence[BoardView], image_size: tuple[int, int],
                   object_points: np.ndarray, model: DistortionModel, folds: Sequence[Sequence[int]],
                   tick: Callable[[], None] | None = None) -> tuple[float, dict[int, float]]:
    """Pooled held-out RMS over all folds, and each view's held-out RMS."""
    total, count, per_view = 0.0, 0, {}
    for fold in folds:
        held = set(fold)
        train = [v for i, v in enumerate(views) if i not in held]
        _rms, K, dist, _pv, _std = fit_intrinsics(train, image_size, object_points, model)
        for i, (sse, n) in zip(fold, held_out_errors([views[i] for i in fold], object_points, K, dist),
                               strict=True):
            total += sse
            count += n
            per_view[i] = float(np.sqrt(sse / n))
        if tick:
            tick()
    return float(np.sqrt(total / count)), per_view


def calibrate_intrinsics(views: Sequence[BoardView], rejections: Sequence[Rejection],
                         image_size: tuple[int, int], pattern: tuple[int, int], square: float, *,
                         models: Sequence[DistortionModel] = DISTORTION_MODELS, n_folds: int = 4,
                         outlier_factor: float = 3.0, outlier_floor_px: float = 1.0,
                         significance: float = 3.0,
                         tick: Callable[[], None] | None = None) -> IntrinsicsResult:
    """Calibrates, rejects outlier photos, and picks the distortion model by cross-validation.

    ``outlier_factor``, ``outlier_floor_px``: a photo whose own RMS error (in a first fit with
    OpenCV's default model) exceeds max(factor x median, floor) is rejected as an outlier (a
    mis-detected board, motion blur, a bent board). Raising either keeps more photos and
    risks a biased fit; lowering them rejects good photos of the frame's edges, where errors
    are naturally larger. ``n_folds``: more folds hold out fewer photos each (an estimate
    closer to the fit on all photos, but noisier and slower). ``significance``: how many
    standard deviations from zero make a coefficient "clearly measured", so that a model
    dropping it is ruled out; raising it lets simpler models win more often (less variance,
    more bias in K), lowering it keeps richer ones. ``tick`` is called after each
    fit, for a progress bar (1 + len(models) x (n_folds + 1) fits).
    """
    if square <= 0:
        raise ValueError(f"square: expected a positive size in metres, got {square}")
    views = list(views)
    rejections = list(rejections)
    if len(views) < MIN_VIEWS:
        raise ValueError(f"images: the board was found in {len(views)} usable photos; at least "
                         f"{MIN_VIEWS} are needed (rejected: {len(rejections)})")
    object_points = board_points(pattern, square)

    # Outlier photos, judged in a first fit with OpenCV's default model.
    default = next((m for m in models if m.n_coeffs == 5), models[-1])
    _rms, _K, _d, per_view, _std = fit_intrinsics(views, image_size, object_points, default)
    if tick:
        tick()
    limit = max(outlier_factor * float(np.median(per_view)), outlier_floor_px)
    kept = []
    for view, err in zip(views, per_view, strict=True):
        if err > limit:
            rejections.append(Rejection(view.path, f"outlier error: {err:.2f} px RMS > {limit:.2f} px "
                                        f"({outlier_factor:g} x the median photo)"))
        else:
            kept.append(view)
    if len(kept) < MIN_VIEWS:
        raise ValueError(f"images: only {len(kept)} photos remain after rejecting outliers; at "
                         f"least {MIN_VIEWS} are needed")
    views = kept

    folds = interleaved_folds(len(views), n_folds)
    candidates = []
    for model in models:
        rms, K, dist, per_view, std = fit_intrinsics(views, image_size, object_points, model)
        if tick:
            tick()
        names = _PARAM_NAMES[: 4 + model.n_coeffs]
        fit = ModelFit(model, K, dist, rms, per_view,
                       {name: float(std[i]) for i, name in enumerate(names)})
        fit.cross_validated_px, fit.held_out_px = cross_validate(
            views, image_size, object_points, model, folds, tick)
        candidates.append(fit)
    _rule_out_underfits(candidates, significance)
    # Lowest held-out error among the allowed wins; candidates are in order of complexity, so
    # min() keeps the simplest among exact ties.
    chosen = min((f for f in candidates if not f.ruled_out), key=lambda f: f.cross_validated_px)
    return IntrinsicsResult(image_size, views, rejections, folds, candidates, chosen,
                            frame_coverage(views, image_size))


def _rule_out_underfits(candidates: Sequence[ModelFit], significance: float) -> None:
    """Marks each model that drops a coefficient the next richer model measures as clearly
    non-zero (|value| > significance x its standard deviation). Candidates are nested, simplest
    first; OpenCV's default (5 coefficients) and the richest model are never ruled out."""
    ruled_out_below = ""
    for simpler, richer in reversed(list(pairwise(candidates))):
        dropped = list(richer.std)[4 + simpler.model.n_coeffs:]
        values = richer.dist[simpler.model.n_coeffs:]
        clear = [f"{name} = {value:.3g} ± {richer.std[name]:.2g}"
                 for name, value in zip(dropped, values, strict=False)
                 if abs(value) > significance * richer.std[name]]
        if simpler.model.n_coeffs == 5:
            ruled_out_below = ""  # OpenCV's default stays a candidate
            continue
        if clear:
            ruled_out_below = f"drops {', '.join(clear)} (measured by {richer.model.name})"
        simpler.ruled_out = ruled_out_below
