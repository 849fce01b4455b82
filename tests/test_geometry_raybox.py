"""Rays against oriented boxes (shelves): compiled code vs the twin and the box's own faces."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from twins import geometry as twin
from walkout.config import Shelf
from walkout.geometry import OrientedBox, ray_box_intersection


def _rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    cz, sz, cy, sy, cx, sx = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch), np.cos(roll), np.sin(roll)
    Rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    Ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    Rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    return Rz @ Ry @ Rx


angles = st.floats(-np.pi, np.pi)


@given(angles, angles, angles, st.integers(0, 2**32 - 1))
def test_ray_box_matches_the_twin_and_lands_on_the_named_face(yaw, pitch, roll, seed) -> None:
    rng = np.random.default_rng(seed)
    box = OrientedBox(rng.uniform(-2, 2, 3), _rotation(yaw, pitch, roll), rng.uniform(0.1, 1.5, 3))
    origins = rng.uniform(-5, 5, (200, 3))
    # Half the rays aim at a point inside the box, half anywhere.
    aim = box.centre + (rng.uniform(-1, 1, (200, 3)) * box.half_size) @ box.rotation.T
    directions = np.where(np.arange(200)[:, None] % 2 == 0, aim - origins, rng.normal(size=(200, 3)))
    hits = ray_box_intersection(origins, directions, box)
    t_in, t_out = twin.ray_box(origins, directions, box.centre, box.rotation, box.half_size)
    np.testing.assert_array_equal(hits.hit, ~np.isnan(t_in))
    np.testing.assert_allclose(hits.t_enter[hits.hit], t_in[hits.hit], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(hits.t_exit[hits.hit], t_out[hits.hit], rtol=1e-9, atol=1e-9)
    assert hits.hit[::2].all()  # every ray aimed inside hits (from outside or from inside)
    entering = hits.face >= 0
    entry = origins[entering] + hits.t_enter[entering, None] * directions[entering]
    local = (entry - box.centre) @ box.rotation  # box frame
    axis, sign = hits.face[entering] // 2, np.where(hits.face[entering] % 2 == 1, 1.0, -1.0)
    rows = np.arange(len(local))
    np.testing.assert_allclose(local[rows, axis], sign * box.half_size[axis], atol=1e-9)
    assert (np.abs(local) <= box.half_size + 1e-9).all()


def test_shelf_box_front_face_is_hit_from_the_aisle() -> None:
    shelf = Shelf(id="S1", center=(3.0, 8.7), yaw=np.pi, length=4.0, depth=0.5, height=1.8,
                  rows=3, cols=2)
    box = OrientedBox.from_shelf(shelf)
    # The front of a shelf with yaw π faces -y (towards the aisle at smaller y).
    hand = np.array([[3.0, 7.5, 1.0]])
    hits = ray_box_intersection(hand, np.array([[0.0, 1.0, 0.0]]), box)
    assert hits.face[0] == 3  # +y of the box frame = the front face
    np.testing.assert_allclose(hand[0] + hits.t_enter[0] * np.array([0, 1, 0]), [3.0, 8.45, 1.0], atol=1e-9)
    np.testing.assert_allclose(hits.t_exit, [1.45], atol=1e-9)  # leaves through the back at y = 8.95
    away = ray_box_intersection(hand, np.array([[0.0, -1.0, 0.0]]), box)
    assert not away.hit[0] and away.face[0] == -1
    inside = ray_box_intersection(np.array([[3.0, 8.7, 1.0]]), np.array([[1.0, 0.0, 0.0]]), box)
    assert inside.t_enter[0] < 0 < inside.t_exit[0] and inside.face[0] == -1
    np.testing.assert_allclose(box.corners()[:, 2].reshape(2, 4), [[0] * 4, [1.8] * 4], atol=1e-12)


def test_ray_box_refuses_bad_input() -> None:
    box = OrientedBox(np.zeros(3), np.eye(3), np.ones(3))
    with pytest.raises(ValueError, match=r"directions: expected shape \(N, 3\)"):
        ray_box_intersection(np.zeros((2, 3)), np.zeros((2, 2)), box)
    with pytest.raises(ValueError, match="rotation: expected an orthonormal"):
        ray_box_intersection(np.zeros((1, 3)), np.ones((1, 3)), OrientedBox(np.zeros(3), np.ones((3, 3)), np.ones(3)))
    with pytest.raises(ValueError, match="half_size"):
        ray_box_intersection(np.zeros((1, 3)), np.ones((1, 3)), OrientedBox(np.zeros(3), np.eye(3), -np.ones(3)))
    zero = ray_box_intersection(np.zeros((1, 3)), np.zeros((1, 3)), box)
    assert not zero.hit[0]


def test_camera_rays_share_the_centre_as_origin() -> None:
    from twins.geometry_cases import make_camera

    cam = make_camera([0.0, 0.0, 3.0], [3.0, 3.0, 0.0])
    box = OrientedBox(np.array([3.0, 3.0, 0.5]), np.eye(3), np.array([0.5, 0.5, 0.5]))
    pixels = cam.image_from_store(np.array([[3.2, 3.2, 1.0], [9.0, 0.0, 0.0]]))  # top face, and a miss
    hits = ray_box_intersection(cam.centre[None], cam.rays_from_image(pixels), box)
    assert hits.hit.tolist() == [True, False]
    entry = cam.centre + hits.t_enter[0] * cam.rays_from_image(pixels)[0]
    assert hits.face[0] == 5  # enters through the top (+z)
    np.testing.assert_allclose(entry, [3.2, 3.2, 1.0], atol=1e-6)
