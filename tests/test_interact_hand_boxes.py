"""Hand boxes to the nearest arm (interact_assign_hand_boxes): known answers, the gate, argument
checks, and agreement with the numpy twin on random people and boxes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from twins.interact import assign_hand_boxes as assign_twin
from walkout.interact import assign_hand_boxes


def person(left_elbow, left_wrist, right_elbow, right_wrist, conf: float = 0.9) -> np.ndarray:
    kp = np.zeros((17, 3))
    for j, uv in ((7, left_elbow), (9, left_wrist), (8, right_elbow), (10, right_wrist)):
        if uv is not None:
            kp[j] = [*uv, conf]
    return kp


def box_at(cx: float, cy: float, half: float = 10.0) -> list[float]:
    return [cx - half, cy - half, cx + half, cy + half]


def test_each_box_goes_to_the_arm_whose_hand_it_is() -> None:
    a = person((100, 100), (100, 150), (200, 100), (200, 150))
    b = person((400, 100), (400, 150), (500, 100), (500, 150))
    boxes = [box_at(500, 168), box_at(100, 168), box_at(200, 170)]  # b right, a left, a right
    who, side = assign_hand_boxes(boxes, np.stack([a, b]))
    assert who.tolist() == [1, 0, 0]
    assert side.tolist() == [1, 0, 1]


def test_a_box_far_from_every_arm_is_left_unassigned() -> None:
    a = person((100, 100), (100, 150), None, None)
    who, side = assign_hand_boxes([box_at(300, 300)], a[None])
    assert who.tolist() == [-1] and side.tolist() == [-1]


def test_an_arm_takes_one_box_the_nearest() -> None:
    a = person((100, 100), (100, 150), None, None)
    who, _ = assign_hand_boxes([box_at(100, 190), box_at(100, 170)], a[None])
    assert who.tolist() == [-1, 0]


def test_bad_arguments_name_themselves() -> None:
    with pytest.raises(ValueError, match=r"boxes: expected shape \(N, 4\)"):
        assign_hand_boxes(np.zeros((2, 3)), np.zeros((1, 17, 3)))
    with pytest.raises(ValueError, match=r"keypoints: expected shape \(N, 17, 3\)"):
        assign_hand_boxes(np.zeros((2, 4)), np.zeros((1, 16, 3)))
    with pytest.raises(ValueError, match="max_distance_px"):
        assign_hand_boxes(np.zeros((2, 4)), np.zeros((1, 17, 3)), max_distance_px=0.0)


@given(
    seed=st.integers(0, 2**32 - 1),
    people=st.integers(0, 6),
    hands=st.integers(0, 10),
    gate=st.floats(5.0, 200.0),
)
def test_matches_the_twin(seed: int, people: int, hands: int, gate: float) -> None:
    rng = np.random.default_rng(seed)
    kp = np.zeros((people, 17, 3))
    kp[:, :, :2] = rng.uniform(0, 640, (people, 17, 2))
    kp[:, :, 2] = rng.choice([0.0, 0.1, 0.5, 0.9], (people, 17))
    centres = rng.uniform(0, 640, (hands, 2))
    boxes = np.c_[centres - 8, centres + 8]
    got = assign_hand_boxes(boxes, kp, max_distance_px=gate)
    want = assign_twin(boxes, kp, max_distance_px=gate)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])
    assigned = got[0] >= 0
    arms = list(zip(got[0][assigned].tolist(), got[1][assigned].tolist(), strict=True))
    assert len(arms) == len(set(arms))  # each arm at most once
