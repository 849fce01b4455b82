"""Synthetic scenes of walkers crossing a store floor, seen by one ceiling camera, for the
trackers' tests and benchmarks (in the spirit of motpy's shipped scene generator): ground
truth identities without a dataset.

Deterministic per seed. What makes them hard, on purpose:
- walkers cross each other in the image (left-to-right and right-to-left at many depths);
- a walker behind a nearer one is partly covered: from 30 % covered its detection score falls
  into the low range (0.15-0.5), from 70 % it is missed (ByteTrack's case);
- random misses, position and size jitter proportional to the box, false positives with
  mostly low scores;
- a walker that leaves the floor is replaced by a newcomer with a new identity.

Geometry (a simple pinhole, camera behind the floor's near edge looking along +y): floor
[0, 10] x [0, 8] m; depth d = y + 5 m; pixels per metre 800 / d; image 1920 x 1080.
The floor view gives each walker's floor point with a covariance that grows with depth.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

FLOOR_W, FLOOR_D = 10.0, 8.0
IMAGE_W, IMAGE_H = 1920, 1080


@dataclass
class Frame:
    t: float
    gt_ids: npt.NDArray[np.int64]
    gt_boxes: npt.NDArray[np.float64]  # (G, 4) xyxy, walkers in view
    gt_points: npt.NDArray[np.float64]  # (G, 2) metres
    boxes: npt.NDArray[np.float32]  # (N, 4) detections xyxy
    scores: npt.NDArray[np.float32]  # (N,)
    det_ids: npt.NDArray[np.int64]  # (N,) true walker id, -1 for a false positive
    points: npt.NDArray[np.float64]  # (N, 2) floor points of the detections
    point_covs: npt.NDArray[np.float64]  # (N, 2, 2)


@dataclass
class Scene:
    fps: float
    frames: list[Frame] = field(default_factory=list)

    def gt_boxes_by_frame(self) -> dict[int, tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]]:
        return {f + 1: (fr.gt_ids, fr.gt_boxes) for f, fr in enumerate(self.frames)}


def box_of(x: float, y: float) -> npt.NDArray[np.float64]:
    """Image box (xyxy) of a 1.7 m tall, 0.55 m wide person standing at floor point (x, y)."""
    d = y + 5.0
    s = 800.0 / d
    u = IMAGE_W / 2 + s * (x - FLOOR_W / 2)
    foot = 300.0 + 1.6 * s
    h, w = 1.7 * s, 0.55 * s
    return np.array([u - w / 2, foot - h, u + w / 2, foot])


def _covered_fraction(boxes: npt.NDArray[np.float64], depths: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """For each box, the largest share of it covered by a single nearer box."""
    n = len(boxes)
    out = np.zeros(n)
    for i in range(n):
        area = (boxes[i, 2] - boxes[i, 0]) * (boxes[i, 3] - boxes[i, 1])
        for j in range(n):
            if j == i or depths[j] >= depths[i]:
                continue
            iw = min(boxes[i, 2], boxes[j, 2]) - max(boxes[i, 0], boxes[j, 0])
            ih = min(boxes[i, 3], boxes[j, 3]) - max(boxes[i, 1], boxes[j, 1])
            if iw > 0 and ih > 0:
                out[i] = max(out[i], iw * ih / area)
    return out


def crossing_walkers(
    seed: int,
    *,
    walkers: int = 10,
    frames: int = 300,
    fps: float = 30.0,
    miss_rate: float = 0.05,
    jitter: float = 0.03,
    false_positives_per_frame: float = 0.5,
    low_score_cover: float = 0.3,
    miss_cover: float = 0.7,
) -> Scene:
    """A scene of `walkers` people crossing the floor at any time, for `frames` frames.

    miss_rate: chance a visible, uncovered walker is not detected in a frame.
    jitter: detection noise std as a fraction of the box height (position and size).
    false_positives_per_frame: mean number of spurious detections (mostly low scores).
    low_score_cover, miss_cover: covered fractions from which a detection scores low / is lost.
    """
    rng = np.random.default_rng(seed)
    next_id = 1

    def spawn(anywhere: bool) -> list[float]:
        nonlocal next_id
        leftward = rng.random() < 0.5
        x = rng.uniform(0, FLOOR_W) if anywhere else (FLOOR_W + 0.3 if leftward else -0.3)
        y = rng.uniform(0.3, FLOOR_D - 0.3)
        speed = rng.uniform(0.7, 1.6)
        heading = (np.pi if leftward else 0.0) + rng.normal(0, 0.35)
        w = [float(next_id), x, y, speed * np.cos(heading), speed * np.sin(heading)]
        next_id += 1
        return w

    state = [spawn(anywhere=True) for _ in range(walkers)]
    scene = Scene(fps=fps)
    dt = 1.0 / fps
    for f in range(frames):
        t = f * dt
        # Motion: a gentle random walk of the velocity, bouncing off the floor's long sides.
        for w in state:
            w[3] += rng.normal(0, 0.3) * dt
            w[4] += rng.normal(0, 0.3) * dt
            w[1] += w[3] * dt
            w[2] += w[4] * dt
            if not 0.2 < w[2] < FLOOR_D - 0.2:
                w[4] = -w[4]
                w[2] = float(np.clip(w[2], 0.2, FLOOR_D - 0.2))
        state = [w if -0.5 <= w[1] <= FLOOR_W + 0.5 else spawn(anywhere=False) for w in state]
        ids = np.array([int(w[0]) for w in state], np.int64)
        pts = np.array([[w[1], w[2]] for w in state])
        boxes = np.array([box_of(x, y) for x, y in pts])
        in_view = (boxes[:, 2] > 0) & (boxes[:, 0] < IMAGE_W)
        ids, pts, boxes = ids[in_view], pts[in_view], boxes[in_view]
        covered = _covered_fraction(boxes, pts[:, 1])

        det_boxes, det_scores, det_ids, det_pts, det_covs = [], [], [], [], []
        for k in range(len(ids)):
            if covered[k] >= miss_cover or rng.random() < miss_rate:
                continue
            h = boxes[k, 3] - boxes[k, 1]
            cx, cy = (boxes[k, 0] + boxes[k, 2]) / 2, (boxes[k, 1] + boxes[k, 3]) / 2
            bw, bh = boxes[k, 2] - boxes[k, 0], h
            cx, cy = cx + rng.normal(0, jitter * h), cy + rng.normal(0, jitter * h)
            bw, bh = bw * (1 + rng.normal(0, jitter)), bh * (1 + rng.normal(0, jitter))
            det_boxes.append([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2])
            low = covered[k] >= low_score_cover
            det_scores.append(rng.uniform(0.15, 0.5) if low else rng.uniform(0.65, 0.98))
            det_ids.append(ids[k])
            # Floor error grows with depth (pixel error maps to more metres further away).
            sigma = 0.04 + 0.015 * (pts[k, 1] + 5.0)
            det_pts.append(pts[k] + rng.normal(0, sigma, 2))
            det_covs.append(np.eye(2) * sigma**2)
        for _ in range(rng.poisson(false_positives_per_frame)):
            x, y = rng.uniform(0, FLOOR_W), rng.uniform(0, FLOOR_D)
            b = box_of(x, y)
            det_boxes.append(list(b))
            det_scores.append(rng.uniform(0.1, 0.75))
            det_ids.append(-1)
            det_pts.append([x, y])
            sigma = 0.04 + 0.015 * (y + 5.0)
            det_covs.append(np.eye(2) * sigma**2)
        order = rng.permutation(len(det_boxes))  # detector output order carries no identity
        scene.frames.append(Frame(
            t=t, gt_ids=ids, gt_boxes=boxes, gt_points=pts,
            boxes=np.array(det_boxes, np.float32).reshape(-1, 4)[order],
            scores=np.array(det_scores, np.float32)[order],
            det_ids=np.array(det_ids, np.int64)[order],
            points=np.array(det_pts, float).reshape(-1, 2)[order],
            point_covs=np.array(det_covs, float).reshape(-1, 2, 2)[order],
        ))
    return scene


def with_false_positive_stream(
    scene: Scene,
    seed: int,
    *,
    clutter_sites: int = 4,
    clutter_rate: float = 0.6,
    duplicate_rate: float = 0.15,
    flicker_per_frame: float = 1.0,
    max_score: float = 0.45,
) -> Scene:
    """The scene with a detector's low-score false positives added, as a real detector run
    with every score >= 0.1 passed in produces them (scores in [0.1, max_score]):

    - clutter: ``clutter_sites`` fixed person-sized spots (a mannequin, a poster, a
      reflection) each firing in a frame with chance ``clutter_rate``, slightly jittered;
      the hard case, since it repeats where a track could latch on;
    - duplicates: with chance ``duplicate_rate`` per true detection, a second box on part of
      that person (upper body, one side, or shifted), whose bottom lies above the person's;
    - flicker: ``flicker_per_frame`` (Poisson) one-frame boxes anywhere on the floor.

    Ground truth is unchanged; the added rows have det_ids -1.
    """
    rng = np.random.default_rng(seed)
    sites = np.array([box_of(rng.uniform(0.5, FLOOR_W - 0.5), rng.uniform(0.5, FLOOR_D - 0.5))
                      for _ in range(clutter_sites)]).reshape(-1, 4)
    out = Scene(fps=scene.fps)
    for fr in scene.frames:
        extra = []
        for b in sites:
            if rng.random() < clutter_rate:
                h = b[3] - b[1]
                extra.append(b + rng.normal(0, 0.02 * h, 4))
        for b, i in zip(fr.boxes.astype(float), fr.det_ids, strict=True):
            if i < 0 or rng.random() >= duplicate_rate:
                continue
            w, h = b[2] - b[0], b[3] - b[1]
            kind = rng.integers(3)
            if kind == 0:  # upper body
                part = np.array([b[0], b[1], b[2], b[1] + rng.uniform(0.4, 0.7) * h])
            elif kind == 1:  # one side
                a = rng.uniform(0.3, 0.6) * w
                part = np.array([b[0], b[1], b[0] + a, b[3] - 0.1 * h]) if rng.random() < 0.5 \
                    else np.array([b[2] - a, b[1], b[2], b[3] - 0.1 * h])
            else:  # shifted and shrunk
                part = b + np.array([0.2 * w, 0.15 * h, -0.2 * w, -0.1 * h]) * rng.uniform(0.5, 1.5)
            extra.append(part)
        for _ in range(rng.poisson(flicker_per_frame)):
            extra.append(box_of(rng.uniform(0, FLOOR_W), rng.uniform(0, FLOOR_D)) * rng.uniform(0.9, 1.1))
        n = len(extra)
        boxes = np.vstack([fr.boxes, np.array(extra, np.float32).reshape(-1, 4)])
        scores = np.concatenate([fr.scores, rng.uniform(0.1, max_score, n).astype(np.float32)])
        order = rng.permutation(len(boxes))
        pts = np.vstack([fr.points, np.zeros((n, 2))])  # floor points: not modelled for these
        covs = np.concatenate([fr.point_covs, np.repeat(np.eye(2)[None], n, 0)])
        out.frames.append(Frame(
            t=fr.t, gt_ids=fr.gt_ids, gt_boxes=fr.gt_boxes, gt_points=fr.gt_points,
            boxes=boxes[order], scores=scores[order],
            det_ids=np.concatenate([fr.det_ids, np.full(n, -1, np.int64)])[order],
            points=pts[order], point_covs=covs[order],
        ))
    return out
