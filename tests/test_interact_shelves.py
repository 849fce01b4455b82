"""The shelf model (InteractShelves): faces from the store config, slot grids, slot
probabilities and engagement zones; known answers, and agreement with the numpy twin."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from twins.interact import ShelfModelTwin
from walkout import _core
from walkout.config import load_store
from walkout.interact import Shelves
from walkout.resources import configs_dir


@pytest.fixture(scope="module")
def example() -> Shelves:
    return Shelves(load_store(configs_dir() / "store.yaml"))


def test_example_store_faces_and_slot_ids(example: Shelves) -> None:
    store = load_store(configs_dir() / "store.yaml").config
    faces = example.core.faces()
    assert len(faces) == sum(len(s.faces) for s in store.shelves)
    assert example.core.slot_count == sum(s.rows * s.cols * len(s.faces) for s in store.shelves)
    assert len(example.slot_ids) == len(set(example.slot_ids)) == example.core.slot_count
    # Every configured slot keeps its config id and sits at its row and column.
    for shelf, slot in store.slots():
        index = example.slot_index(shelf.slot_id(slot))
        face = next(i for i, f in enumerate(faces) if example.shelf_ids[f[0]] == shelf.id)
        _shelf, _side, _rows, cols, first = faces[face]
        assert index == first + slot.row * cols + slot.col
    assert example.core.zone_count == sum(len(s.engagement_polygons()) for s in store.shelves)


def test_front_face_of_a_shelf_at_yaw_zero(example: Shelves) -> None:
    # S5: centre (4, 5.2), yaw 0, length 3, depth 0.6, height 1.5, base 0.1: the front face is
    # the plane y = 5.5 with outward normal +y; u runs from x = 2.5, v from z = 0.1.
    face, coords = example.nearest_face([[3.2, 5.45, 1.0]])
    assert example.face_of(int(face[0])) == ("S5", "front")
    depth, effective, u, v = coords[0]
    assert depth == pytest.approx(0.05)
    assert effective == pytest.approx(0.05)
    assert u == pytest.approx(0.7)
    assert v == pytest.approx(0.9)


def test_yaw_pi_shelf_faces_minus_y_and_counts_columns_from_its_local_minus_x(
    example: Shelves,
) -> None:
    # S1: centre (3, 8.7), yaw pi: front normal (0, -1), the face plane y = 8.45, local +x is
    # store -x so column 0 is at store x = 5.
    face, coords = example.nearest_face([[4.9, 8.55, 0.5]])
    assert example.face_of(int(face[0])) == ("S1", "front")
    assert coords[0, 0] == pytest.approx(0.10, abs=1e-5)  # the config rounds pi
    assert coords[0, 2] == pytest.approx(0.1, abs=1e-5)
    slot = int(example.core.slot_of(int(face[0]), coords[:, 2:4])[0])
    assert example.slot_ids[slot] == "S1/front/r0c0"


def test_a_hand_beyond_the_back_plane_is_outside(example: Shelves) -> None:
    # Behind S6's front plane by 1.5 m is the aisle on the other side of S5: not inside S6.
    _, coords = example.nearest_face([[3.2, 5.8, 1.0]])
    assert coords[0, 1] < 0


def test_slot_probabilities_concentrate_in_the_cell_and_split_at_a_border(
    example: Shelves,
) -> None:
    face = example.slot_index("S5/front/r0c0") // 6  # S5 has one face of 3 x 2 slots
    centre = example.core.slot_probabilities(4, 0.75, 0.2, 0.01)
    assert centre.shape == (3, 2)
    assert centre[0, 0] == pytest.approx(1.0)
    border = example.core.slot_probabilities(4, 1.5, 0.2, 0.05)  # on the column border
    assert border[0, 0] == pytest.approx(0.5, abs=1e-3)
    assert border[0, 1] == pytest.approx(0.5, abs=1e-3)
    assert border.sum() == pytest.approx(1.0)
    assert face == 4


def test_engagement_zone_in_front_of_a_shelf(example: Shelves) -> None:
    zone = 4  # S5's front strip: y in [5.5, 6.5], x in [2.5, 5.5]
    assert example.core.zone_shelf(zone) == 4
    inside = example.core.zone_contains(zone, np.array([[4.0, 6.0], [4.0, 7.0], [2.0, 6.0]]))
    assert inside.tolist() == [True, False, False]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"boxes": np.zeros((2, 6))}, "boxes: expected shape (N, 7)"),
        ({"grid": np.ones((1, 2), np.int32)}, "grid: expected shape (2, 2)"),
        ({"open_faces": np.ones((2, 3), bool)}, "open_faces: expected shape (2, 2)"),
        ({"face_margin": -1.0}, "face_margin"),
    ],
)
def test_bad_shelf_arrays_name_the_argument(kwargs: dict, message: str) -> None:
    args = {
        "boxes": np.array([[1, 1, 0, 2, 0.5, 1.8, 0.1]] * 2, float),
        "grid": np.array([[3, 2]] * 2, np.int32),
        "open_faces": np.array([[True, False]] * 2),
        "face_margin": 0.05,
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _core.InteractShelves(**args)


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        (3, 0.0, r"shelves\[1\]: length, depth and height"),
        (6, 2.0, r"shelves\[1\]: base_height"),
    ],
)
def test_bad_shelf_sizes_name_the_shelf(column: int, value: float, message: str) -> None:
    boxes = np.array([[1, 1, 0, 2, 0.5, 1.8, 0.1]] * 2, float)
    boxes[1, column] = value
    with pytest.raises(ValueError, match=message):
        _core.InteractShelves(boxes, np.array([[3, 2]] * 2, np.int32), np.ones((2, 2), bool), 0.05)


def test_bad_query_arguments_name_the_argument(example: Shelves) -> None:
    with pytest.raises(ValueError, match=r"points: expected shape \(N, 3\)"):
        example.core.nearest_face(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="face: expected an index"):
        example.core.slot_probabilities(99, 0.0, 0.0, 0.1)
    with pytest.raises(ValueError, match=r"polygon: expected shape \(k, 2\) with k >= 3"):
        example.core.add_zone(0, np.zeros((2, 2)))


# --- agreement with the numpy twin on random shelves -------------------------------------------

finite = {"allow_nan": False, "allow_infinity": False}


@st.composite
def shelf_sets(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    n = draw(st.integers(1, 5))
    boxes = np.empty((n, 7))
    for i in range(n):
        height = draw(st.floats(0.8, 2.2))
        boxes[i] = [
            draw(st.floats(0, 12)),
            draw(st.floats(0, 9)),
            draw(st.floats(-math.pi, math.pi)),
            draw(st.floats(0.5, 5)),
            draw(st.floats(0.3, 1.2)),
            height,
            draw(st.floats(0, height * 0.5)),
        ]
    grid = np.array(
        [[draw(st.integers(1, 6)), draw(st.integers(1, 12))] for _ in range(n)], np.int32
    )
    faces = np.array([draw(st.sampled_from([(1, 0), (0, 1), (1, 1)])) for _ in range(n)], bool)
    return boxes, grid, faces, draw(st.floats(0, 0.2))


def build(spec: tuple[np.ndarray, np.ndarray, np.ndarray, float]):
    return _core.InteractShelves(*spec), ShelfModelTwin(*spec)


@given(
    spec=shelf_sets(), points=hnp.arrays(np.float64, (20, 3), elements=st.floats(-1, 13, **finite))
)
def test_nearest_face_and_coords_match_the_twin(spec, points: np.ndarray) -> None:
    core, twin = build(spec)
    face, coords = core.nearest_face(points)
    face_t, coords_t = twin.nearest_face(points)
    np.testing.assert_array_equal(face, face_t)
    np.testing.assert_allclose(coords, coords_t, rtol=0, atol=1e-12)
    for f in range(len(twin.faces)):
        np.testing.assert_allclose(
            core.face_coords(f, points), twin.face_coords(f, points), atol=1e-12
        )


@given(
    spec=shelf_sets(),
    uv=st.tuples(st.floats(-1, 6, **finite), st.floats(-1, 3, **finite)),
    sigma=st.one_of(st.just(0.0), st.floats(1e-3, 1.0)),
)
def test_slots_and_slot_probabilities_match_the_twin(spec, uv, sigma: float) -> None:
    core, twin = build(spec)
    for f in range(len(twin.faces)):
        assert int(core.slot_of(f, np.array([uv]))[0]) == twin.slot_of(f, *uv)
        probs = core.slot_probabilities(f, uv[0], uv[1], sigma)
        np.testing.assert_allclose(
            probs, twin.slot_probabilities(f, uv[0], uv[1], sigma), atol=1e-12
        )
        assert probs.sum() == pytest.approx(1.0)
        assert (probs >= 0).all()


@given(
    polygon=hnp.arrays(
        np.float64, st.tuples(st.integers(3, 8), st.just(2)), elements=st.floats(0, 10, **finite)
    ),
    points=hnp.arrays(np.float64, (30, 2), elements=st.floats(-1, 11, **finite)),
)
def test_zone_contains_matches_the_twin(polygon: np.ndarray, points: np.ndarray) -> None:
    spec = (
        np.array([[5, 5, 0, 1, 0.5, 1.8, 0.1]]),
        np.array([[1, 1]], np.int32),
        np.ones((1, 2), bool),
        0.0,
    )
    core, twin = build(spec)
    core.add_zone(0, polygon)
    twin.add_zone(0, polygon)
    np.testing.assert_array_equal(core.zone_contains(0, points), twin.zone_contains(0, points))
