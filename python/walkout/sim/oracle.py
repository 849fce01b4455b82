"""Oracle mode: ground truth and detections per camera without rendering a pixel.

Truth without pixels (``analytic_truth``): the same bodies projected through the same cameras;
a keypoint is hidden (visibility 1) when the static scene's depth buffer at its pixel is
nearer than the body surface (shelves, exactly as rendered), when a nearer person's body
covers it (each body approximated by its torso-and-legs band: the middle 60 % of its box's
width), or when the person's own body covers it (wrists and elbows behind the torso, the face
when turned away). Rendered runs use the exact per-pixel test of ``walkout.sim.render``.

Detections (``detect``) are made from a camera's truth with documented noise that is at least
as hard as a good real detector at 640x360 (see ``walkout.sim.scenario.Oracle``):

- a person is missed with probability ``miss_rate + miss_per_occlusion * occluded``, where
  ``occluded`` is the hidden share of its silhouette's pixels in rendered runs, or of its
  in-image keypoints in oracle runs (+0.3 when its box is under 24 px tall);
- each box edge moves by a Gaussian of ``box_jitter`` x box width (x) or height (y);
- each keypoint moves by a Gaussian of ``keypoint_px`` (x render width / 640), twice that when
  hidden; seen keypoints get a confidence of 0.55 - 0.95, hidden ones 0.05 - 0.4;
- a hidden wrist moves by ``hidden_wrist_px`` instead, at a confidence drawn in
  ``hidden_wrist_confidence``: both measured on the shipped pose model's hidden wrists
  (``benchmarks/calibrate_oracle_keypoints.py``). Real pose models place every keypoint,
  hidden ones less surely; ``drop_hidden_wrists`` gives the older, harsher oracle that
  dropped them (confidence 0, position 0, 0);
- false positives: Poisson with mean ``false_positives_per_frame`` per camera frame, person-
  shaped boxes anywhere in the image with low scores (0.3 - 0.6) and scattered keypoints;
- detection scores fall with occlusion: 0.92 - 0.5 x occluded + N(0, 0.04), in [0.25, 0.99].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from walkout.sim.crowd import Timeline
from walkout.sim.pose import KEYPOINT_RADIUS, L_WRIST, R_WRIST, joints
from walkout.sim.render import NEAR_M, VISIBILITY_TOLERANCE_M, project_joints
from walkout.sim.scenario import Oracle
from walkout.sim.scene import render_static
from walkout.sim.world import SimCamera, World, camera_for_render

SEEN_CONFIDENCE = (0.55, 0.95)  # a seen keypoint's confidence, drawn uniformly
HIDDEN_CONFIDENCE = (0.05, 0.4)  # a hidden keypoint's (hidden wrists: mapped to the calibrated range)


@dataclass
class CameraTruth:
    """Per-camera truth of many frames: flat records with the frame each belongs to."""

    frame_t: np.ndarray  # (F,) seconds from start of each stored frame
    rec_frame: np.ndarray  # (M,) int32 frame index of each record
    person: np.ndarray  # (M,) int32
    box: np.ndarray  # (M, 4) float32 visible box (oracle: full box clipped to the image)
    box_full: np.ndarray  # (M, 4) float32
    keypoints: np.ndarray  # (M, 17, 3) float32 u, v, visibility
    visible_px: np.ndarray  # (M,) int32 (-1 when not rendered)
    full_px: np.ndarray  # (M,) int32 silhouette pixels alone in the scene (-1 when not rendered)


def _records(timeline: Timeline, frame_t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    idx = np.clip(np.round(frame_t / (timeline.times[1] - timeline.times[0])).astype(int), 0,
                  len(timeline.times) - 1)
    frames, persons = np.nonzero(timeline.present[idx])
    return frames.astype(np.int32), persons.astype(np.int32)


def _in_quad(pt: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """pt (..., 2) inside the convex quad (..., 4, 2) (either winding)."""
    signs = []
    for k in range(4):
        a, b = quad[..., k, :], quad[..., (k + 1) % 4, :]
        signs.append((b[..., 0] - a[..., 0]) * (pt[..., 1] - a[..., 1])
                     - (b[..., 1] - a[..., 1]) * (pt[..., 0] - a[..., 0]))
    s = np.stack(signs, -1)
    return (s >= 0).all(-1) | (s <= 0).all(-1)


# Oracle mode casts the static scene's rays at this fraction of the render size (shelf edges
# then blur by ~2 px at 640x360) so that a camera costs ~1/16 of a full ray cast.
STATIC_SCALE = 4


def static_depth_coarse(world: World, camera: SimCamera) -> np.ndarray:
    """The static depth buffer at 1/STATIC_SCALE of the render size, upsampled by nearest."""
    w, h = max(camera.width // STATIC_SCALE, 8), max(camera.height // STATIC_SCALE, 8)
    small = camera_for_render(camera.calibration, w, h)
    depth = render_static(world, small)[1]
    ys = np.minimum(np.arange(camera.height) * h // camera.height, h - 1)
    xs = np.minimum(np.arange(camera.width) * w // camera.width, w - 1)
    return depth[np.ix_(ys, xs)]


def analytic_truth(timeline: Timeline, camera: SimCamera, static_depth: np.ndarray,
                   frame_t: np.ndarray) -> CameraTruth:
    W, H = camera.width, camera.height
    rec_frame, person = _records(timeline, frame_t)
    m = len(person)
    if m == 0:
        return CameraTruth(frame_t, rec_frame, person, np.zeros((0, 4), np.float32),
                           np.zeros((0, 4), np.float32), np.zeros((0, 17, 3), np.float32),
                           np.zeros(0, np.int32), np.zeros(0, np.int32))
    state = timeline.body_state(frame_t[rec_frame], person)
    J = joints(state)
    uv, z, full = project_joints(camera, J, state.height)
    uv, z = uv[:, :17], z[:, :17]
    u = np.round(uv[..., 0]).astype(np.int64)
    v = np.round(uv[..., 1]).astype(np.int64)
    inside = (u >= 0) & (u < W) & (v >= 0) & (v < H) & (z > NEAR_M)
    surface = z - KEYPOINT_RADIUS[None] * state.height[:, None] - VISIBILITY_TOLERANCE_M
    hidden = static_depth[np.clip(v, 0, H - 1), np.clip(u, 0, W - 1)] < surface
    # Self-occlusion: limbs behind the own torso, face turned away.
    torso = uv[:, [5, 6, 12, 11]]
    torso_z = z[:, [5, 6, 11, 12]].mean(1)
    for k in (7, 8, 9, 10):
        hidden[:, k] |= _in_quad(uv[:, k], torso) & (z[:, k] > torso_z + 0.04)
    head_z = z[:, [3, 4]].mean(1)
    for k in (0, 1, 2):
        hidden[:, k] |= z[:, k] > head_z + 0.02
    # Other people: a nearer person's body band covers the keypoint.
    pelvis_z = z[:, 11:13].mean(1)
    order = np.argsort(rec_frame, kind="stable")
    starts = np.searchsorted(rec_frame[order], np.arange(len(frame_t)))
    ends = np.searchsorted(rec_frame[order], np.arange(len(frame_t)), side="right")
    group = (ends - starts)[rec_frame]
    gmax = int(group.max())
    first = starts[rec_frame]
    for g in range(gmax):
        other = order[np.minimum(first + g, m - 1)]
        valid = (g < group) & (other != np.arange(m)) & (pelvis_z[other] < pelvis_z - 0.1)
        if not valid.any():
            continue
        ob = full[other]
        cx, half = (ob[:, 0] + ob[:, 2]) / 2, (ob[:, 2] - ob[:, 0]) * 0.3
        cover = ((uv[..., 0] >= (cx - half)[:, None]) & (uv[..., 0] <= (cx + half)[:, None])
                 & (uv[..., 1] >= ob[:, 1, None]) & (uv[..., 1] <= ob[:, 3, None]))
        hidden |= cover & valid[:, None]
    vis = np.where(inside, np.where(hidden, 1, 2), 0)
    keep = (vis > 0).any(1)
    box = full.copy()
    box[:, [0, 2]] = np.clip(box[:, [0, 2]], 0, W)
    box[:, [1, 3]] = np.clip(box[:, [1, 3]], 0, H)
    kps = np.concatenate([uv, vis[..., None]], -1).astype(np.float32)
    return CameraTruth(frame_t, rec_frame[keep], person[keep], box[keep].astype(np.float32),
                       full[keep].astype(np.float32), kps[keep],
                       np.full(int(keep.sum()), -1, np.int32), np.full(int(keep.sum()), -1, np.int32))


@dataclass
class Detections:
    """Per-camera oracle detections: flat records with their frame; person -1 = false positive."""

    rec_frame: np.ndarray  # (D,) int32
    box: np.ndarray  # (D, 4) float32 x1 y1 x2 y2
    score: np.ndarray  # (D,) float32
    keypoints: np.ndarray  # (D, 17, 3) float32 u, v, confidence
    person: np.ndarray  # (D,) int32 the true person, -1 for a false positive


def detect(truth: CameraTruth, width: int, height: int, noise: Oracle,
           rng: np.random.Generator) -> Detections:
    m = len(truth.person)
    vis = truth.keypoints[..., 2]
    in_image = np.maximum((vis > 0).sum(1), 1)
    occluded = (vis == 1).sum(1) / in_image
    # Rendered runs know each person's hidden share of pixels exactly: use it where known.
    measured = truth.full_px > 0
    occluded = np.where(measured, 1.0 - truth.visible_px / np.maximum(truth.full_px, 1), occluded)
    box = truth.box.astype(np.float64)
    bw, bh = box[:, 2] - box[:, 0], box[:, 3] - box[:, 1]
    p_miss = noise.miss_rate + noise.miss_per_occlusion * occluded + 0.3 * (bh < 24 * height / 360)
    kept = rng.random(m) >= p_miss
    jitter = rng.normal(0.0, noise.box_jitter, (m, 4)) * np.stack([bw, bh, bw, bh], 1)
    box = box + jitter
    sigma = noise.keypoint_px * width / 640.0
    kp = truth.keypoints[..., :2].astype(np.float64)
    scale = sigma * np.where(vis == 1, 2.0, 1.0)
    wrists = [L_WRIST, R_WRIST]
    hidden_wrist = vis[:, wrists] == 1
    scale[:, wrists] = np.where(hidden_wrist, noise.hidden_wrist_px * width / 640.0, scale[:, wrists])
    kp = kp + rng.normal(0.0, 1.0, kp.shape) * scale[..., None]
    conf = np.where(vis == 2, rng.uniform(*SEEN_CONFIDENCE, vis.shape),
                    rng.uniform(*HIDDEN_CONFIDENCE, vis.shape))
    # Hidden wrists take the calibrated range by an affine map of the same uniform draw, so the
    # random stream (and every other output of a seed) stays what it was.
    lo, hi = noise.hidden_wrist_confidence
    h_lo, h_hi = HIDDEN_CONFIDENCE
    conf[:, wrists] = np.where(hidden_wrist,
                               lo + (conf[:, wrists] - h_lo) / (h_hi - h_lo) * (hi - lo),
                               conf[:, wrists])
    dropped = (vis == 0)
    if noise.drop_hidden_wrists:
        dropped[:, wrists] |= hidden_wrist
    conf[dropped] = 0.0
    kp[dropped] = 0.0
    score = np.clip(0.92 - 0.5 * occluded + rng.normal(0.0, 0.04, m), 0.25, 0.99)
    # False positives: person-shaped boxes anywhere.
    n_frames = len(truth.frame_t)
    per_frame = rng.poisson(noise.false_positives_per_frame, n_frames)
    fp_frame = np.repeat(np.arange(n_frames, dtype=np.int32), per_frame)
    f = len(fp_frame)
    fh = rng.uniform(40, 160, f) * height / 360
    fw = fh * rng.uniform(0.3, 0.5, f)
    fx = rng.uniform(0, np.maximum(width - fw, 1))
    fy = rng.uniform(0, np.maximum(height - fh, 1))
    fbox = np.stack([fx, fy, fx + fw, fy + fh], 1)
    fkp = np.stack([fx[:, None] + rng.random((f, 17)) * fw[:, None],
                    fy[:, None] + rng.random((f, 17)) * fh[:, None],
                    rng.uniform(0.1, 0.5, (f, 17))], -1)
    full_kp = np.concatenate([kp, conf[..., None]], -1)[kept]
    rec = np.concatenate([truth.rec_frame[kept], fp_frame])
    order = np.argsort(rec, kind="stable")
    return Detections(
        rec_frame=rec[order].astype(np.int32),
        box=np.concatenate([box[kept], fbox])[order].astype(np.float32),
        score=np.concatenate([score[kept], rng.uniform(0.3, 0.6, f)])[order].astype(np.float32),
        keypoints=np.concatenate([full_kp, fkp])[order].astype(np.float32),
        person=np.concatenate([truth.person[kept], np.full(f, -1, np.int32)])[order].astype(np.int32),
    )
