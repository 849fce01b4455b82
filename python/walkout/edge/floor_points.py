"""One camera's person detections → floor points in the store frame, with their covariance.

Where a person stands is the point between their feet. The pose model gives the ankles; when
at least one ankle is seen with confidence, the floor point is the mean of the seen ankles,
back-projected onto the horizontal plane at ankle height (not the floor: an ankle sits about
4 % of body height above it, 0.039 H in Drillis & Contini's segment table, and projecting it to
z = 0 would push the point away from the camera by that height times the ray's slope). When no
ankle is seen (legs hidden behind a shelf or another shopper, or a detect-only model), the
floor point is the bottom centre of the box, a cruder guess that is given a larger pixel noise.

The covariance is geometry's first-order floor covariance of the pixel (the Jacobian of the
back-projection times the pixel noise), with a pixel noise proportional to the box height:
a far person is measured less precisely in metres, and the floor tracker and the multi-view
fusion weigh the views accordingly (the UCMCTrack idea).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from walkout.detect import Detections
from walkout.geometry import Camera

LEFT_ANKLE, RIGHT_ANKLE = 15, 16


@dataclass(frozen=True)
class FloorPointParams:
    """How detections become floor points.

    min_score: detections below are not projected (the floor tracker's low_score pass still
        sees everything above this). Raising it drops false positives before fusion, lowering
        it keeps heavily occluded people the tracker might rescue.
    ankle_confidence: keypoint confidence above which an ankle counts as seen. Raising it
        uses the box bottom more often (robust, cruder); lowering it trusts guessed ankles.
    ankle_height_m: height of the ankle keypoint above the floor, metres (0.039 x body height
        per Drillis & Contini; 0.07 for a 1.75 m adult). Only shifts the point along the ray.
    ankle_sigma: pixel noise of an ankle point as a fraction of the box height. Raising it
        makes the tracker smooth more and trust the motion model.
    box_sigma: pixel noise of a box-bottom point as a fraction of the box height (larger:
        the box bottom is often a shelf edge or a cropped leg, not the feet).
    min_sigma_px: floor of the pixel noise, pixels (keypoint jitter of a pose model is a few
        pixels at 640 px wide; raise it for noisier models or smaller inputs).
    body_sigma_m: isotropic floor noise added to every point, metres: where a person "is" is
        itself uncertain by about this much (feet up to a stride apart, one ankle seen, a
        leaning body), whatever the camera. Raising it lets fusion merge views further apart
        and the tracker smooth more; lowering it lets two people close together stay apart.
    one_ankle_sigma_m: body_sigma_m when only one ankle is seen: the other foot may be a
        stride (~0.3 m) away, so the point between the feet is less certain.
    floor_margin_m: points further than this outside the floor rectangle are dropped (a
        false positive on a wall, or a ray nearly parallel to the floor).
    """

    min_score: float = 0.1
    ankle_confidence: float = 0.5
    ankle_height_m: float = 0.07
    ankle_sigma: float = 0.02
    box_sigma: float = 0.05
    min_sigma_px: float = 3.0
    body_sigma_m: float = 0.15
    one_ankle_sigma_m: float = 0.20
    floor_margin_m: float = 0.5


@dataclass(frozen=True)
class FloorObservations:
    """One camera's floor points of one frameset.

    points: (N, 2) metres; covariances: (N, 2, 2) m²; scores: (N,) detection scores;
    rows: (N,) the detection row each point came from (detections that gave no point are
    absent); from_ankles: (N,) True where ankles, False where the box bottom, gave the point.
    """

    points: npt.NDArray[np.float64]
    covariances: npt.NDArray[np.float64]
    scores: npt.NDArray[np.float32]
    rows: npt.NDArray[np.int64]
    from_ankles: npt.NDArray[np.bool_]

    @staticmethod
    def empty() -> FloorObservations:
        return FloorObservations(np.zeros((0, 2)), np.zeros((0, 2, 2)),
                                 np.zeros(0, np.float32), np.zeros(0, np.int64),
                                 np.zeros(0, bool))

    def __len__(self) -> int:
        return len(self.rows)


def foot_pixels(detections: Detections, ankle_confidence: float
                ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """(M, 2) foot pixel per detection and (M,) how many ankles gave it (0, 1 or 2): the mean
    of the ankles seen above ``ankle_confidence``, else (0) the bottom centre of the box."""
    boxes = np.asarray(detections.boxes, dtype=np.float64).reshape(-1, 4)
    pixels = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, boxes[:, 3]], axis=1)
    kp = detections.keypoints
    if kp is None or kp.shape[1] <= RIGHT_ANKLE or len(boxes) == 0:
        return pixels, np.zeros(len(boxes), np.int64)
    ankles = np.asarray(kp[:, [LEFT_ANKLE, RIGHT_ANKLE]], dtype=np.float64)  # (M, 2, 3)
    seen = ankles[..., 2] > ankle_confidence
    count = seen.sum(axis=1).astype(np.int64)
    mean = (ankles[..., :2] * seen[..., None]).sum(axis=1) / np.maximum(count, 1)[:, None]
    pixels[count > 0] = mean[count > 0]
    return pixels, count


def floor_observations(detections: Detections, camera: Camera, params: FloorPointParams,
                       floor_size: tuple[float, float]) -> FloorObservations:
    """The floor point and covariance of each usable detection of one camera."""
    keep = np.flatnonzero(np.asarray(detections.scores) >= params.min_score)
    if len(keep) == 0:
        return FloorObservations.empty()
    subset = Detections(detections.boxes[keep], detections.scores[keep],
                        detections.class_ids[keep],
                        None if detections.keypoints is None else detections.keypoints[keep])
    pixels, ankle_count = foot_pixels(subset, params.ankle_confidence)
    from_ankles = ankle_count > 0
    points = camera.floor_from_image(pixels)
    if from_ankles.any():
        lifted = camera.plane_from_image(pixels[from_ankles], (0.0, 0.0, 1.0),
                                         params.ankle_height_m)
        points[from_ankles] = lifted[:, :2]
    heights = np.asarray(subset.boxes[:, 3] - subset.boxes[:, 1], dtype=np.float64)
    sigma = np.where(from_ankles, params.ankle_sigma, params.box_sigma) * heights
    sigma = np.maximum(sigma, params.min_sigma_px)
    # The covariance is linear in sigma² (first order), so one unit-sigma call serves all.
    covariances = camera.floor_covariance(pixels, 1.0) * (sigma**2)[:, None, None]
    body = np.where(ankle_count == 1, params.one_ankle_sigma_m, params.body_sigma_m)
    covariances += np.eye(2) * (body**2)[:, None, None]
    width, depth = floor_size
    m = params.floor_margin_m
    ok = (np.isfinite(points).all(axis=1) & np.isfinite(covariances).all(axis=(1, 2))
          & (points[:, 0] >= -m) & (points[:, 0] <= width + m)
          & (points[:, 1] >= -m) & (points[:, 1] <= depth + m))
    return FloorObservations(
        np.ascontiguousarray(points[ok]), np.ascontiguousarray(covariances[ok]),
        np.asarray(subset.scores[ok], dtype=np.float32), keep[ok].astype(np.int64),
        from_ankles[ok])
