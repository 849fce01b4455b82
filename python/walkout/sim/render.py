"""Rendering one camera: the precomputed static scene, then every person in view as shaded
capsules drawn by the compiled rasteriser with a per-pixel depth test (so shelves hide legs
and people hide each other), sensor noise, and the ground truth of that same frame.

Keypoint visibility follows COCO: 2 = in the image and seen, 1 = in the image but hidden
(by a shelf, another person or the person's own body), 0 = outside the image. A keypoint is
seen when the depth drawn at its pixel is no nearer than the body surface in front of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from walkout import _core
from walkout.sim.crowd import Timeline
from walkout.sim.pose import CAPSULES, KEYPOINT_RADIUS, N_JOINTS, capsule_colours, joints
from walkout.sim.scene import render_static
from walkout.sim.world import SimCamera, World

# A keypoint counts as seen if nothing is nearer than its surface by more than this (metres).
VISIBILITY_TOLERANCE_M = 0.06
# Capsules nearer than this to the camera plane are not drawn (behind or in the lens).
NEAR_M = 0.1
# Precomputed sensor-noise fields per camera; more cost memory (1.4 MB each at 640x360).
_NOISE_FIELDS = 8
_CAP_A = np.array([a for a, _, _, _ in CAPSULES])
_CAP_B = np.array([b for _, b, _, _ in CAPSULES])
_CAP_R = np.array([r for _, _, r, _ in CAPSULES])


@dataclass
class FrameTruth:
    """Ground truth of one frame: one row per person drawn with at least one pixel."""

    person: np.ndarray  # (M,) int32 person ids
    box: np.ndarray  # (M, 4) float32 x1 y1 x2 y2 of the visible pixels (inclusive edges + 1)
    box_full: np.ndarray  # (M, 4) float32 box of the whole projected body, occluded parts too
    keypoints: np.ndarray  # (M, 17, 3) float32 u, v, visibility (0, 1, 2)
    visible_px: np.ndarray  # (M,) int32 pixels of this person in the frame
    # (M,) int32 in-image pixels of the person's silhouette with no shelf and nobody else
    # there: visible_px / full_px is the share not occluded (truncation at the border aside).
    full_px: np.ndarray | None = None


def _joint_radius() -> np.ndarray:
    """Per joint the largest radius (fraction of height) of the capsules ending at it."""
    radius = np.zeros(N_JOINTS)
    for a, b, r, _ in CAPSULES:
        radius[a] = max(radius[a], r)
        radius[b] = max(radius[b], r)
    return radius


_JOINT_R = _joint_radius()


def project_joints(camera: SimCamera, J: np.ndarray, heights: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Joints (P, N_JOINTS, 3) -> pixels (P, N_JOINTS, 2), camera depth (P, N_JOINTS) and the
    amodal box (P, 4) of the projected capsules: the box of their end circles, i.e. of every
    joint's circle at the largest radius of the capsules that end there (the same box the
    capsules give, for a fraction of the work)."""
    P, NJ, _ = J.shape
    uv, z = camera.project(J.reshape(-1, 3))
    uv = uv.reshape(P, NJ, 2)
    z = z.reshape(P, NJ)
    used = _JOINT_R > 0
    r = camera.K[0, 0] * (_JOINT_R[None, used] * heights[:, None]) / np.maximum(z[:, used], NEAR_M)
    lo = (uv[:, used] - r[..., None]).min(1)
    hi = (uv[:, used] + r[..., None]).max(1)
    return uv, z, np.concatenate([lo, hi], 1)


def project_bodies(camera: SimCamera, J: np.ndarray, heights: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Joints (P, N_JOINTS, 3) -> capsules (P*C, 10), keypoint pixels (P, 17, 2), keypoint depth
    (P, 17), amodal boxes (P, 4)."""
    uv, z, box = project_joints(camera, J, heights)
    f = camera.K[0, 0]
    r_world = _CAP_R[None, :] * heights[:, None]  # (P, C)
    za, zb = z[:, _CAP_A], z[:, _CAP_B]
    ra = f * r_world / np.maximum(za, NEAR_M)
    rb = f * r_world / np.maximum(zb, NEAR_M)
    caps = np.stack([uv[:, _CAP_A, 0], uv[:, _CAP_A, 1], za, ra, r_world,
                     uv[:, _CAP_B, 0], uv[:, _CAP_B, 1], zb, rb, r_world], -1)
    near = (za < NEAR_M) | (zb < NEAR_M)
    caps[near] = 0.0  # zero radius: the rasteriser skips it
    return caps.reshape(-1, 10), uv[:, :17], z[:, :17], box


class CameraRenderer:
    def __init__(self, world: World, timeline: Timeline, camera: SimCamera,
                 noise_sigma: float, rng: np.random.Generator, blur_px: float = 0.0) -> None:
        self.world, self.timeline, self.camera = world, timeline, camera
        self.blur_px = blur_px
        # Frames are BGR (OpenCV's order): what cv2.VideoWriter and cv2.imwrite take.
        rgb, self.static_depth = render_static(world, camera)
        # Each camera's exposure and white balance differ a little, as real ones do.
        gain = rng.uniform(0.85, 1.1) * rng.uniform(0.95, 1.05, 3)

        def expose(colours: np.ndarray) -> np.ndarray:
            bgr = colours[..., ::-1].astype(np.float64) * gain[::-1]
            return np.ascontiguousarray(np.clip(bgr + 0.5, 0, 255).astype(np.uint8))

        self.background = expose(rgb)
        self.colours = [expose(capsule_colours(p)) for p in timeline.people]
        # Sensor noise: a few precomputed noise fields cycled per frame (drawing fresh
        # Gaussian noise for every pixel of every frame would cost more than the rendering).
        # Frames draw one of them at random, so the noise has no period a model could learn.
        shape = (_NOISE_FIELDS, camera.height, camera.width, 3)
        noise = np.clip(np.round(rng.normal(0.0, noise_sigma, shape)), -64, 64).astype(np.int16)
        self._noise_plus = np.clip(noise, 0, 255).astype(np.uint8)
        self._noise_minus = np.clip(-noise, 0, 255).astype(np.uint8)
        self._noise_pick = np.random.default_rng(rng.integers(2**63))
        self.labels = np.empty((camera.height, camera.width), np.int32)

    def render(self, t: float, with_noise: bool = True) -> tuple[np.ndarray, FrameTruth]:
        """BGR image (H, W, 3) uint8 at time t (seconds from start) and its ground truth."""
        import cv2

        image = self.background.copy()
        depth = self.static_depth.copy()
        self.labels.fill(-1)
        persons = self.timeline.present_at(t)
        if len(persons):
            state = self.timeline.body_state(t, persons)
            J = joints(state)
            caps, kp_uv, kp_z, full = project_bodies(self.camera, J, state.height)
            colours = np.concatenate([self.colours[p] for p in persons])
            ids = np.repeat(np.arange(len(persons), dtype=np.int32), len(CAPSULES))
            _core.sim_draw_capsules(image, depth, self.labels, caps, colours, ids)
            truth = self._truth(persons, state.height, kp_uv, kp_z, full, depth)
            truth.full_px = _core.sim_silhouette_areas(
                self.camera.height, self.camera.width, caps, ids, len(persons)
            )[np.isin(persons, truth.person)].astype(np.int32)
        else:
            truth = _empty_truth()
        if self.blur_px > 0:  # optics before the sensor: blur, then noise
            size = 3 if self.blur_px <= 1.0 else 2 * round(3 * self.blur_px) + 1
            cv2.GaussianBlur(image, (size, size), self.blur_px, dst=image)
        if with_noise:
            k = int(self._noise_pick.integers(len(self._noise_plus)))
            cv2.add(image, self._noise_plus[k], dst=image)
            cv2.subtract(image, self._noise_minus[k], dst=image)
        return image, truth

    def _truth(self, persons: np.ndarray, heights: np.ndarray, kp_uv: np.ndarray,
               kp_z: np.ndarray, full: np.ndarray, depth: np.ndarray) -> FrameTruth:
        W, H = self.camera.width, self.camera.height
        boxes = _core.sim_label_boxes(self.labels, len(persons))
        seen = boxes[:, 4] > 0
        u = np.round(kp_uv[..., 0]).astype(int)
        v = np.round(kp_uv[..., 1]).astype(int)
        inside = (u >= 0) & (u < W) & (v >= 0) & (v < H) & (kp_z > NEAR_M)
        drawn = depth[np.clip(v, 0, H - 1), np.clip(u, 0, W - 1)]
        surface = kp_z - KEYPOINT_RADIUS[None, :] * heights[:, None] - VISIBILITY_TOLERANCE_M
        vis = np.where(inside, np.where(drawn >= surface, 2, 1), 0)
        kps = np.concatenate([kp_uv, vis[..., None]], -1).astype(np.float32)
        box = boxes[:, :4].astype(np.float32)
        box[:, 2:] += 1.0  # inclusive pixel bounds -> x2, y2 edges
        return FrameTruth(person=persons[seen].astype(np.int32), box=box[seen],
                          box_full=full[seen].astype(np.float32), keypoints=kps[seen],
                          visible_px=boxes[seen, 4].astype(np.int32))


def _empty_truth() -> FrameTruth:
    return FrameTruth(np.zeros(0, np.int32), np.zeros((0, 4), np.float32),
                      np.zeros((0, 4), np.float32), np.zeros((0, 17, 3), np.float32),
                      np.zeros(0, np.int32), np.zeros(0, np.int32))
