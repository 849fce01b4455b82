"""Articulated bodies: from a person's state (floor position, heading, gait phase, reach) to
3D joints, vectorised over any number of (person, time) samples.

Joints 0..16 are the 17 COCO keypoints in COCO order (nose, left/right eye, ear, shoulder,
elbow, wrist, hip, knee, ankle); 17.. are extra joints the renderer needs (neck, head centre,
hands, toes, pelvis). "Left" is the person's own left. The body is drawn as capsules between
joints (``CAPSULES``), so a keypoint lies on the axis of the part that carries it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from walkout.sim.people import Person

COCO_NAMES = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
              "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
              "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")
NECK, HEAD, L_HAND, R_HAND, L_TOE, R_TOE, PELVIS = 17, 18, 19, 20, 21, 22, 23
N_JOINTS = 24
L_WRIST, R_WRIST = 9, 10

# Capsules: (joint a, joint b, radius as a fraction of height, colour role).
# Roles: 0 shirt, 1 trousers, 2 skin, 3 hair, 4 shoes.
CAPSULES: tuple[tuple[int, int, float, int], ...] = (
    (11, 13, 0.042, 1), (13, 15, 0.033, 1), (12, 14, 0.042, 1), (14, 16, 0.033, 1),  # legs
    (15, L_TOE, 0.028, 4), (16, R_TOE, 0.028, 4),  # feet
    (11, 5, 0.060, 0), (12, 6, 0.060, 0), (PELVIS, NECK, 0.066, 0),  # torso: three columns
    (5, 7, 0.027, 0), (7, 9, 0.022, 2), (9, L_HAND, 0.024, 2),  # left arm
    (6, 8, 0.027, 0), (8, 10, 0.022, 2), (10, R_HAND, 0.024, 2),  # right arm
    (NECK, HEAD, 0.030, 2), (HEAD, HEAD, 0.062, 2),  # neck, face
    (3, 4, 0.045, 3),  # hair across the back of the head
)
# Radius (fraction of height) of the capsule each COCO keypoint sits in: how far in front of
# the keypoint the body's surface is, for the visibility test.
KEYPOINT_RADIUS = np.array([0.0, 0.0, 0.0, 0.02, 0.02, 0.05, 0.05, 0.027, 0.027, 0.024, 0.024,
                            0.05, 0.05, 0.04, 0.04, 0.033, 0.033])

_UP = np.array([0.0, 0.0, 1.0])


@dataclass
class BodyState:
    """N samples of body state (one per person per time), all arrays with leading N."""

    height: np.ndarray  # (N,) metres
    build: np.ndarray  # (N,) girth factor
    child: np.ndarray  # (N,) bool
    pos: np.ndarray  # (N, 2) floor position
    heading: np.ndarray  # (N,) radians, direction the body faces
    phase: np.ndarray  # (N,) gait phase, radians
    amp: np.ndarray  # (N,) gait amplitude 0 (standing) .. 1 (walking)
    hand: np.ndarray  # (N,) -1 no reach, 0 left, 1 right
    target: np.ndarray  # (N, 3) where the reaching hand goes
    ext: np.ndarray  # (N,) 0 (arm at rest) .. 1 (hand at target)

    @staticmethod
    def standing(people: list[Person], pos: np.ndarray, heading: np.ndarray) -> BodyState:
        n = len(people)
        return BodyState(
            height=np.array([p.height_m for p in people]), build=np.array([p.build for p in people]),
            child=np.array([p.child for p in people]), pos=np.asarray(pos, np.float64).reshape(n, 2),
            heading=np.asarray(heading, np.float64).reshape(n), phase=np.zeros(n), amp=np.zeros(n),
            hand=np.full(n, -1), target=np.zeros((n, 3)), ext=np.zeros(n))


def _smooth(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def crouch_for(height: np.ndarray, target_z: np.ndarray) -> np.ndarray:
    """How far the hips drop to bring a low target within reach (0 for targets above ~hip)."""
    shoulder = 0.818 * height
    return np.clip(shoulder - (target_z + 0.2 * height), 0.0, 0.42 * height)


def joints(state: BodyState) -> np.ndarray:
    """(N, N_JOINTS, 3) joint positions in the store frame."""
    n = len(state.height)
    h = state.height[:, None]
    s = h / 1.75
    f = np.stack([np.cos(state.heading), np.sin(state.heading), np.zeros(n)], -1)
    left = np.stack([-np.sin(state.heading), np.cos(state.heading), np.zeros(n)], -1)
    ground = np.concatenate([state.pos, np.zeros((n, 1))], -1)
    reaching = state.hand >= 0
    e = _smooth(state.ext) * reaching
    crouch = crouch_for(state.height, state.target[:, 2]) * e
    lean = np.minimum(0.6 * crouch + 0.12 * e * state.height / 1.75, 0.3)[:, None]
    c = crouch[:, None]
    hip_w = 0.10 * s * state.build[:, None]
    sh_w = (0.17 * s * state.build[:, None]) * np.where(state.child, 0.9, 1.0)[:, None]
    out = np.zeros((n, N_JOINTS, 3))

    # Feet first (they stay on the floor): walking swings them along the heading and lifts
    # the swing foot a little.
    stride = 0.36 * h * state.amp[:, None]
    for k, side, ph in ((15, 1.0, state.phase), (16, -1.0, state.phase + np.pi)):
        swing = np.sin(ph)[:, None]
        lift = (0.05 * s * state.amp[:, None]) * np.maximum(0.0, np.cos(ph))[:, None]
        out[:, k] = ground + left * (side * 0.9 * hip_w) + f * (stride * 0.5 * swing) + _UP * (0.04 * h + lift)
        out[:, k + 6] = out[:, k] + f * (0.08 * s) - _UP * (0.03 * h)  # toes (21, 22)
    # The pelvis drops (crouch, long strides) so that neither leg is longer than two segments.
    seg = 0.250 * h
    pelvis = ground - f * (0.4 * lean)
    z = 0.53 * h - c
    for side, ankle in ((1.0, 15), (-1.0, 16)):
        hip_xy = pelvis + left * (side * hip_w)
        flat = np.linalg.norm((hip_xy - out[:, ankle])[:, :2], axis=-1, keepdims=True)
        reach = np.sqrt(np.maximum((1.999 * seg) ** 2 - flat**2, 0.0))
        z = np.minimum(z, out[:, ankle, 2:3] + reach)
    pelvis = pelvis + _UP * z
    out[:, PELVIS] = pelvis
    out[:, 11] = pelvis + left * hip_w
    out[:, 12] = pelvis - left * hip_w
    # Knees: two equal segments, bent forward as far as the hip-ankle distance requires.
    for knee, hip, ankle in ((13, 11, 15), (14, 12, 16)):
        mid = 0.5 * (out[:, hip] + out[:, ankle])
        leg = out[:, hip] - out[:, ankle]
        half = np.linalg.norm(leg, axis=-1, keepdims=True) / 2
        bend = np.sqrt(np.maximum(seg**2 - half**2, 0.0))
        # Forward, made perpendicular to the leg so that both segments keep their length;
        # tilted up just enough never to point down (a deep squat folds the knee up).
        axis = leg / np.maximum(2 * half, 1e-9)
        fwd = f - axis * (f * axis).sum(-1, keepdims=True)
        up = _UP - axis * axis[:, 2:3]
        tilt = np.maximum(-fwd[:, 2:3], 0.0) / np.maximum(up[:, 2:3], 1e-6) * 1.1
        fwd = fwd + tilt * up
        fwd = fwd / np.maximum(np.linalg.norm(fwd, axis=-1, keepdims=True), 1e-9)
        out[:, knee] = mid + fwd * bend
    # Upper body, leaning forward when reaching low.
    chest = pelvis + _UP * (0.288 * h) + f * lean
    out[:, 5] = chest + left * sh_w
    out[:, 6] = chest - left * sh_w
    out[:, NECK] = chest + _UP * (0.05 * h)
    head_r = np.where(state.child, 0.075, 0.062)[:, None] * h
    head = chest + _UP * (0.05 * h + head_r * 1.55) + f * (0.012 * h)
    out[:, HEAD] = head
    out[:, 0] = head + f * (0.95 * head_r) - _UP * (0.15 * head_r)
    out[:, 1] = head + f * (0.8 * head_r) + _UP * (0.2 * head_r) + left * (0.35 * head_r)
    out[:, 2] = head + f * (0.8 * head_r) + _UP * (0.2 * head_r) - left * (0.35 * head_r)
    out[:, 3] = head + left * (0.95 * head_r) - f * (0.1 * head_r)
    out[:, 4] = head - left * (0.95 * head_r) - f * (0.1 * head_r)
    # Arms at rest swing opposite to the legs; the reaching arm is solved by two-bone IK.
    upper, fore = 0.186 * h, 0.146 * h
    for side, shoulder, elbow, wrist, hand_j, ph in ((0, 5, 7, 9, L_HAND, state.phase + np.pi),
                                                      (1, 6, 8, 10, R_HAND, state.phase)):
        sign = 1.0 if side == 0 else -1.0
        swing = (0.35 * state.amp * np.sin(ph))[:, None]
        down = -_UP * np.cos(swing) + f * np.sin(swing) + left * (sign * 0.1)
        down = down / np.linalg.norm(down, axis=-1, keepdims=True)  # arms hang slightly out
        rest_elbow = out[:, shoulder] + upper * down
        rest_wrist = rest_elbow + fore * (down * 0.95 + f * 0.3) / np.linalg.norm(
            down * 0.95 + f * 0.3, axis=-1, keepdims=True)
        active = (state.hand == side)[:, None]
        goal = rest_wrist + (state.target - rest_wrist) * e[:, None]
        vec = goal - out[:, shoulder]
        dist = np.linalg.norm(vec, axis=-1, keepdims=True)
        direction = vec / np.maximum(dist, 1e-9)
        dist = np.clip(dist, 0.2 * (upper + fore), 0.999 * (upper + fore))
        wrist_ik = out[:, shoulder] + direction * dist
        a = (upper**2 - fore**2 + dist**2) / (2 * dist)
        hgt = np.sqrt(np.maximum(upper**2 - a**2, 0.0))
        pole = -_UP + left * (sign * 0.5)
        pole = pole - direction * (pole * direction).sum(-1, keepdims=True)
        pole = pole / np.maximum(np.linalg.norm(pole, axis=-1, keepdims=True), 1e-9)
        elbow_ik = out[:, shoulder] + direction * a + pole * hgt
        out[:, elbow] = np.where(active, elbow_ik, rest_elbow)
        out[:, wrist] = np.where(active, wrist_ik, rest_wrist)
        fwd = out[:, wrist] - out[:, elbow]
        out[:, hand_j] = out[:, wrist] + fwd / np.maximum(
            np.linalg.norm(fwd, axis=-1, keepdims=True), 1e-9) * (0.06 * h)
    return out


def capsule_colours(person: Person) -> np.ndarray:
    """(len(CAPSULES), 3) RGB colour of each capsule of this person."""
    roles = (person.shirt, person.trousers, person.skin, person.hair, (35, 35, 35))
    return np.array([roles[role] for _, _, _, role in CAPSULES], np.uint8)
