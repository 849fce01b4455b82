"""The interaction engine (InteractEngine): agreement with the numpy twin on random hand paths
with dropouts and vanishing tracks, argument validation, and the Python face's events."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from twins.interact import EngineTwin, ShelfModelTwin
from walkout import _core
from walkout.config import load_store
from walkout.interact import Dwell, Hands, InteractionEngine, Reach, Shelves
from walkout.resources import configs_dir

STORE = load_store(configs_dir() / "store.yaml").config


def example_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    boxes = np.array(
        [
            [s.center[0], s.center[1], s.yaw, s.length, s.depth, s.height, s.base_height]
            for s in STORE.shelves
        ]
    )
    grid = np.array([[s.rows, s.cols] for s in STORE.shelves], np.int32)
    faces = np.array([["front" in s.faces, "back" in s.faces] for s in STORE.shelves], bool)
    return boxes, grid, faces


def with_zones(model, shelves=STORE.shelves):
    for i, shelf in enumerate(shelves):
        for polygon in shelf.engagement_polygons():
            model.add_zone(i, polygon)
    return model


def default_params(**overrides: float) -> dict[str, float]:
    params = dict(
        enter_depth=0.05,
        exit_depth=0.02,
        min_inside_s=0.10,
        min_outside_s=0.20,
        hand_lost_s=0.50,
        hand_motion_std=0.0,
        duplicate_radius=0.0,
        max_behind_face=math.inf,
        lost_confidence=0.5,
        slot_prob_min=0.02,
        dwell_exit_s=1.0,
        min_dwell_s=1.0,
    )
    params.update(overrides)
    return params


@st.composite
def params(draw: st.DrawFn) -> dict[str, float]:
    enter = draw(st.floats(0.0, 0.15))
    return default_params(
        enter_depth=enter,
        exit_depth=enter - draw(st.floats(0.005, 0.08)),
        min_inside_s=draw(st.floats(0.0, 0.3)),
        min_outside_s=draw(st.floats(0.0, 0.4)),
        hand_lost_s=draw(st.floats(0.1, 0.8)),
        hand_motion_std=draw(st.one_of(st.just(0.0), st.floats(0.05, 2.0))),
        duplicate_radius=draw(st.one_of(st.just(0.0), st.floats(0.05, 1.0))),
        max_behind_face=draw(st.one_of(st.just(math.inf), st.floats(-0.3, 0.6))),
        slot_prob_min=draw(st.floats(0.0, 0.2)),
        dwell_exit_s=draw(st.floats(0.0, 1.5)),
        min_dwell_s=draw(st.floats(0.0, 1.5)),
    )


@st.composite
def scenarios(draw: st.DrawFn) -> list[tuple]:
    """Frames of (t, ids, xy, hand_track, hand_side, hand_xyz, hand_sigma): people walking the
    example store with hands wandering in and out of the shelf faces, hands and whole tracks
    dropping out now and then, irregular frame times (some gaps beyond hand_lost_s)."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    twin = ShelfModelTwin(*example_arrays(), 0.05)
    n_people = draw(st.integers(1, 6))
    n_frames = draw(st.integers(5, 120))
    people = []
    for pid in range(n_people):
        face = twin.faces[rng.integers(len(twin.faces))]
        people.append(
            dict(
                id=pid + 1,
                face=face,
                u=rng.uniform(0, face.length, 2),
                v=rng.uniform(0, face.z1 - face.z0, 2),
                depth=rng.uniform(-0.3, 0.1, 2),
                sigma=rng.uniform(0, 0.06, 2),
                # where the body stands off the face plane: mostly in front, sometimes beside
                # the shelf's end (behind the plane), for max_behind_face
                stand=float(rng.choice([0.5, rng.uniform(-0.7, 0.7)])),
            )
        )
    frames, t = [], rng.uniform(0, 100)
    for _ in range(n_frames):
        t += float(rng.choice([rng.uniform(0.005, 0.07), rng.uniform(0.07, 0.7)], p=[0.9, 0.1]))
        ids, xy, ht, hs, hx, sg = [], [], [], [], [], []
        for p in people:
            if rng.random() < 0.03:  # the tracker drops this person; a new id may come back
                p["id"] += 1000
            if rng.random() < 0.05:
                continue
            f = p["face"]
            p["u"] += rng.normal(0, 0.05, 2)
            p["v"] += rng.normal(0, 0.05, 2)
            p["depth"] = np.clip(p["depth"] + rng.normal(0, 0.06, 2), -0.5, 0.4)
            body = f.origin + f.along * p["u"].mean() + f.normal * p["stand"]
            ids.append(p["id"])
            xy.append(body)
            for side in (0, 1):
                if rng.random() < 0.15:
                    continue
                pos = np.r_[
                    f.origin + f.along * p["u"][side] - f.normal * p["depth"][side],
                    f.z0 + p["v"][side],
                ]
                ht.append(p["id"])
                hs.append(side)
                hx.append(pos)
                sg.append(p["sigma"][side])
        frames.append(
            (
                t,
                np.array(ids, np.int64),
                np.array(xy, float).reshape(-1, 2),
                np.array(ht, np.int64),
                np.array(hs, np.int32),
                np.array(hx, float).reshape(-1, 3),
                np.array(sg, float),
            )
        )
    return frames


def assert_same_events(core_events, twin_events) -> None:
    (reaches, dwells), (reaches_t, dwells_t) = core_events, twin_events
    assert len(reaches) == len(reaches_t)
    for r, q in zip(reaches, reaches_t, strict=False):
        assert (r.track, r.hand, r.shelf, r.face, r.slot, r.lost) == (
            q.track,
            q.hand,
            q.shelf,
            q.face,
            q.slot,
            q.lost,
        )
        np.testing.assert_allclose(
            [r.start, r.end, r.max_depth, r.confidence],
            [q.start, q.end, q.max_depth, q.confidence],
            atol=1e-9,
        )
        assert [s for s, _ in r.slot_probs] == [s for s, _ in q.slot_probs]
        np.testing.assert_allclose(
            [p for _, p in r.slot_probs], [p for _, p in q.slot_probs], atol=1e-9
        )
    assert [(d.track, d.shelf, d.zone) for d in dwells] == [
        (d.track, d.shelf, d.zone) for d in dwells_t
    ]
    np.testing.assert_allclose(
        [(d.enter, d.leave) for d in dwells], [(d.enter, d.leave) for d in dwells_t]
    )


@given(frames=scenarios(), p=params())
def test_engine_matches_the_twin_event_for_event(frames, p) -> None:
    core = _core.InteractEngine(with_zones(_core.InteractShelves(*example_arrays(), 0.05)), **p)
    twin = EngineTwin(with_zones(ShelfModelTwin(*example_arrays(), 0.05)), **p)
    for frame in frames:
        assert_same_events(core.update(*frame), twin.update(*frame))
    assert_same_events(core.close_all(), twin.close_all())
    assert core.open_reaches == 0


# --- validation ---------------------------------------------------------------------------------


@pytest.fixture()
def engine() -> _core.InteractEngine:
    return _core.InteractEngine(
        with_zones(_core.InteractShelves(*example_arrays(), 0.05)), **default_params()
    )


def frame(**overrides):
    args = dict(
        t=1.0,
        track_ids=np.array([1, 2], np.int64),
        track_xy=np.zeros((2, 2)),
        hand_track=np.array([1], np.int64),
        hand_side=np.array([0], np.int32),
        hand_xyz=np.zeros((1, 3)),
        hand_sigma=np.array([0.02]),
    )
    args.update(overrides)
    return args


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"t": math.nan}, "t: expected a finite time"),
        ({"track_xy": np.zeros((3, 2))}, r"track_xy: expected shape \(2, 2\)"),
        ({"hand_xyz": np.zeros((1, 2))}, r"hand_xyz: expected shape \(1, 3\)"),
        (
            {"hand_side": np.array([2], np.int32)},
            "hand_side: expected 0 \\(left\\) or 1 \\(right\\)",
        ),
        ({"hand_track": np.array([9], np.int64)}, "hand_track: track 9 is not in track_ids"),
        ({"hand_sigma": np.array([-1.0])}, "hand_sigma: expected finite values >= 0"),
        ({"hand_xyz": np.full((1, 3), np.inf)}, "hand_xyz: expected finite positions"),
        ({"track_ids": np.array([1, 1], np.int64)}, "track_ids: expected unique ids"),
        (
            {
                "hand_track": np.array([1, 1], np.int64),
                "hand_side": np.array([0, 0], np.int32),
                "hand_xyz": np.zeros((2, 3)),
                "hand_sigma": np.zeros(2),
            },
            r"the same \(track, side\) appears twice",
        ),
    ],
)
def test_bad_frames_raise_naming_the_argument_and_change_nothing(
    engine, overrides, message
) -> None:
    with pytest.raises(ValueError, match=message):
        engine.update(**frame(**overrides))
    assert engine.track_count == 0
    engine.update(**frame())
    assert engine.track_count == 2


def test_time_must_not_run_backwards(engine) -> None:
    engine.update(**frame(t=5.0))
    with pytest.raises(ValueError, match="t: expected non-decreasing times"):
        engine.update(**frame(t=4.0))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"exit_depth": 0.06}, "exit_depth: expected a finite value below enter_depth"),
        ({"min_inside_s": -1.0}, "min_inside_s"),
        ({"hand_lost_s": 0.0}, "hand_lost_s"),
        ({"lost_confidence": 2.0}, "lost_confidence"),
        ({"max_behind_face": math.nan}, "max_behind_face"),
    ],
)
def test_bad_parameters_name_the_parameter(overrides, message) -> None:
    with pytest.raises(ValueError, match=message):
        _core.InteractEngine(
            _core.InteractShelves(*example_arrays(), 0.05), **default_params(**overrides)
        )


# --- the Python face ----------------------------------------------------------------------------


def test_python_face_reports_config_ids_and_hand_names() -> None:
    engine = InteractionEngine(Shelves(STORE), enter_depth=0.05, exit_depth=0.02)
    tracks = SimpleNamespace(ids=np.array([7]), points=np.array([[4.0, 6.0]]))
    events = []
    for i in range(150):  # a right hand into S5's front face and out, 30 fps
        t = i / 30
        y = 5.8 - 0.5 * math.sin(math.pi * min(max(t - 1, 0), 1))
        events += engine.update(t, tracks, Hands.of([7], [1], [[3.2, y, 1.0]], [0.02]))
    events += engine.close_all()
    reaches = [e for e in events if isinstance(e, Reach)]
    dwells = [e for e in events if isinstance(e, Dwell)]
    assert len(reaches) == 1
    r = reaches[0]
    assert (r.track, r.hand, r.shelf, r.face, r.slot, r.lost) == (
        7,
        "right",
        "S5",
        "front",
        "S5/front/r1c0",
        False,
    )
    # The hand is 5 cm behind the face when sin(pi (t - 1)) = 0.7 going in and 2 cm (exit)
    # when it is 0.64 coming out; start and end are the first and last frames in between.
    t_in, t_out = 1 + math.asin(0.7) / math.pi, 2 - math.asin(0.64) / math.pi
    assert t_in <= r.start < t_in + 1 / 30
    assert t_out - 1 / 30 < r.end <= t_out
    assert r.max_depth == pytest.approx(0.2, abs=1e-3)  # smoothed by the hand filter
    assert r.slot_probs[0][0] == "S5/front/r1c0" and r.slot_probs[0][1] > 0.9
    assert [(d.track, d.shelf) for d in dwells] == [(7, "S5")]
    assert dwells[0].enter == 0.0 and dwells[0].leave == pytest.approx(149 / 30)


def test_a_track_lost_mid_reach_closes_it_with_lower_confidence() -> None:
    engine = InteractionEngine(Shelves(STORE))
    tracks = SimpleNamespace(ids=np.array([3]), points=np.array([[4.0, 6.0]]))
    for i in range(20):
        engine.update(i / 30, tracks, Hands.of([3], [0], [[3.2, 5.3, 1.0]], [0.02]))
    assert engine.open_reaches == 1
    gone = SimpleNamespace(ids=np.zeros(0, np.int64), points=np.zeros((0, 2)))
    events = engine.update(20 / 30, gone)
    (reach,) = [e for e in events if isinstance(e, Reach)]
    assert reach.lost and reach.confidence <= 0.5
    assert reach.end == pytest.approx(19 / 30)
    assert engine.open_reaches == 0


@pytest.mark.parametrize(("stand_y", "max_behind_face", "reaches"), [
    (5.2, 0.1, 0),  # beside S5's +x end, 0.3 m behind its front plane: an idle hand, no reach
    (5.2, math.inf, 1),  # the check off: the same hand is a reach
    (5.55, 0.1, 1),  # 5 cm in front of the plane (at the corner): a reach
])
def test_no_reach_through_a_face_from_behind_its_plane(stand_y, max_behind_face, reaches) -> None:
    # A person in the cross aisle at S5's end (x = 5.5) holds a hand 3 cm inside the box's end
    # (wrist noise) at mid height for a second: through the front face's rectangle grown by
    # face_margin it is 8 cm deep, but nobody reaches through a face from behind its plane.
    engine = InteractionEngine(Shelves(STORE), max_behind_face=max_behind_face)
    tracks = SimpleNamespace(ids=np.array([3]), points=np.array([[5.8, stand_y]]))
    events = []
    for i in range(90):
        t = i / 30
        x = 5.47 if 0.5 <= t < 1.5 else 5.75
        events += engine.update(t, tracks, Hands.of([3], [0], [[x, 5.2, 0.8]], [0.02]))
    events += engine.close_all()
    assert len([e for e in events if isinstance(e, Reach)]) == reaches
