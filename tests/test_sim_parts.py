"""The simulator's parts on their own: the body model, the weight gateway, the planner."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from walkout.sim.people import draw_person
from walkout.sim.planner import Planner
from walkout.sim.pose import BodyState, joints
from walkout.sim.scenario import Weights
from walkout.sim.weights import SensorTrace, gateway_events
from walkout.sim.world import CLEARANCE_M, build_world

STORE = Path(__file__).resolve().parent.parent / "configs" / "store.yaml"
WORLD = build_world(STORE, 320, 180)


@given(st.integers(0, 10_000), st.floats(-np.pi, np.pi), st.floats(0, 20), st.floats(0, 1),
       st.integers(-1, 1), st.floats(0, 1), st.floats(0.2, 1.8))
def test_bodies_keep_their_bone_lengths(seed: int, heading: float, phase: float, amp: float,
                                        hand: int, ext: float, target_z: float) -> None:
    rng = np.random.default_rng(seed)
    person = draw_person(rng, 0, "a", 0, bool(seed % 3 == 0), 1.1)
    state = BodyState.standing([person], np.array([[5.0, 3.0]]), np.array([heading]))
    state.phase[0], state.amp[0], state.hand[0], state.ext[0] = phase, amp, hand, ext
    state.target[0] = (5.5, 3.2, target_z)
    J = joints(state)[0]
    h = person.height_m
    assert np.isfinite(J).all()
    for shoulder, elbow, wrist in ((5, 7, 9), (6, 8, 10)):
        assert abs(np.linalg.norm(J[elbow] - J[shoulder]) - 0.186 * h) < 1e-9
        assert abs(np.linalg.norm(J[wrist] - J[elbow]) - 0.146 * h) < 1e-9
    for hip, knee, ankle in ((11, 13, 15), (12, 14, 16)):
        assert abs(np.linalg.norm(J[knee] - J[hip]) - 0.25 * h) < 1e-9
        assert abs(np.linalg.norm(J[ankle] - J[knee]) - 0.25 * h) < 1e-9
        assert J[ankle, 2] >= 0.0 and J[knee, 2] > J[ankle, 2]
    assert J[0, 2] > J[5, 2] > J[11, 2]  # nose above shoulders above hips


def _trace(steps: list[tuple[float, float]], noise: float, seed: int) -> SensorTrace:
    times = np.arange(0, 30, 0.1)
    true = np.full(len(times), 5000.0)
    for t, grams in steps:
        true[times >= t] += grams
    rng = np.random.default_rng(seed)
    return SensorTrace(0, times, true, true + rng.normal(0, noise, len(times)))


@given(st.integers(0, 1000), st.sampled_from([35.0, 108.0, 350.0, 1560.0]), st.integers(1, 3))
def test_gateway_reports_each_settled_change(seed: int, unit: float, count: int) -> None:
    settings = Weights()
    trace = _trace([(5.0, -count * unit), (15.0, unit)], settings.noise_g, seed)
    events = gateway_events(trace, settings)
    assert len(events) == 2
    assert abs(events[0].delta_g + count * unit) < 8 and abs(events[1].delta_g - unit) < 8
    assert 5.0 <= events[0].t_settled <= 5.0 + settings.settle_s + 0.2


@given(st.integers(0, 1000))
def test_gateway_stays_quiet_on_noise(seed: int) -> None:
    assert gateway_events(_trace([], Weights().noise_g, seed), Weights()) == []


def test_paths_go_around_shelves() -> None:
    planner = Planner(WORLD)
    for a in WORLD.slots[::4]:
        for b in (WORLD.exit_point, WORLD.entry_point, WORLD.slots[-1].stand_point):
            path = planner.path(a.stand_point, b)
            assert path and np.allclose(path[-1], b)
            points = [a.stand_point, *path]
            for p, q in itertools.pairwise(points):
                samples = p + np.linspace(0, 1, 50)[:, None] * (q - p)
                assert WORLD.shelf_distance(samples).min() >= CLEARANCE_M - 0.05
