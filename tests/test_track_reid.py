"""FloorTracker re-identification across gaps: a slow lost track's prediction stops
drifting (velocity decay) while a walker's coasts, its gate grows with the time lost up to a cap, a tentative track started
beside a lost one is claimed back by the old ID; IDs are still never duplicated or reused;
the compiled tracker agrees with its numpy twin under every one of these settings."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from test_track_trackers import box_sequences, check_floor_twin_agrees, check_identity_invariants
from walkout.track import FloorTracker, TrackState

FPS = 10.0
DT = 1.0 / FPS
R = np.eye(2) * 0.05**2  # a well-seen point: 5 cm


def _frame(points, t, tracker, scores=None):
    pts = np.asarray(points, float).reshape(-1, 2)
    return tracker.update(pts, np.repeat(R[None], len(pts), 0), scores, t=t)


def _walk_then_hide(tracker, start, velocity, walk_s, t0=0.0):
    """A shopper walks for walk_s seconds, then stops where they are; returns (id, stop, t)."""
    p = np.asarray(start, float)
    t = t0
    for _ in range(round(walk_s * FPS)):
        tr = _frame([p], t, tracker)
        p = p + np.asarray(velocity) * DT
        t += DT
    tr = _frame([p], t, tracker)  # the last sight, standing at the shelf
    (k,) = np.flatnonzero(tr.det_index == 0)
    return int(tr.ids[k]), p, t


@given(hidden_s=st.floats(0.5, 4.0), stand_s=st.floats(0.5, 2.0), speed=st.floats(0.4, 1.6),
       angle=st.floats(0, 2 * np.pi), offset=st.floats(0.0, 0.25), seed=st.integers(0, 1000))
def test_shopper_hidden_at_a_shelf_keeps_their_id(hidden_s, stand_s, speed, angle, offset, seed):
    """A shopper walks up to a shelf, stands there (seen) for stand_s, is hidden (3-4 deep at
    the shelf) for up to 4 s and is seen again within 25 cm of where they stood, while another
    shopper walks by two metres away: the same ID comes back."""
    rng = np.random.default_rng(seed)
    tracker = FloorTracker(fps=FPS, lost_buffer_s=5.0)
    v = speed * np.array([np.cos(angle), np.sin(angle)])
    sid, stop, t = _walk_then_hide(tracker, [5.0, 5.0], v, 2.0)
    for _ in range(round(stand_s * FPS)):
        t += DT
        _frame([stop], t, tracker)
    other = stop + np.array([2.0, 2.0])
    for _ in range(round(hidden_s * FPS)):
        t += DT
        other = other + np.array([0.0, 0.1])
        tr = _frame([other], t, tracker)
        assert sid in tr.ids.tolist()  # lost, not dropped
    t += DT
    back = stop + offset * np.array([np.cos(rng.uniform(0, 6.3)), np.sin(rng.uniform(0, 6.3))])
    tr = _frame([back, other], t, tracker)
    (k,) = np.flatnonzero(tr.det_index == 0)
    assert tr.ids[k] == sid


def test_walkers_coast_and_slow_shoppers_stay_where_they_were_lost():
    """While lost, a walker's prediction goes on at constant velocity (someone walking on
    behind others, or out through the exit) and a slow shopper's (about to stand at a shelf)
    stops within speed x lost_velocity_decay_s of where they were last seen."""
    moved = {}
    for speed in (1.2, 0.3):
        tracker = FloorTracker(fps=FPS, lost_buffer_s=5.0, lost_stand_speed=0.5)
        sid, stop, t = _walk_then_hide(tracker, [2.0, 2.0], [speed, 0.0], 3.0)
        tracker.update(np.zeros((0, 2)), t=t + DT)  # the first miss: lost from here on
        tr = tracker.update(np.zeros((0, 2)), t=t + 2.0)
        k = int(np.flatnonzero(tr.ids == sid)[0])
        assert tr.states[k] == TrackState.LOST
        moved[speed] = tr.points[k][0] - stop[0]
    assert moved[1.2] == pytest.approx(1.2 * 2.0, rel=0.1)
    assert 0 <= moved[0.3] <= 0.3 * DT + 0.3 * 0.5 + 0.02


@given(tau=st.floats(0.2, 5.0), cap=st.floats(0.1, 2.0), speed=st.floats(0.05, 2.0),
       stand=st.sampled_from([0.5, np.inf]), hidden=st.integers(1, 60))
def test_lost_prediction_stays_within_reach_and_its_gate_is_capped(tau, cap, speed, stand, hidden):
    """While lost, a slow track's prediction (below lost_stand_speed) moves at most speed x
    tau from the last estimate (the integral of an exponentially decaying velocity), a fast
    one moves at constant velocity, and the position std never passes the cap."""
    tracker = FloorTracker(fps=FPS, lost_buffer_s=10.0, lost_velocity_decay_s=tau,
                           lost_max_std_m=cap, lost_stand_speed=stand)
    sid, _, t = _walk_then_hide(tracker, [1.0, 1.0], [speed, 0.0], 2.0)
    tr = tracker.update(np.zeros((0, 2)), t=t + DT / 2)  # confirmed, missed once: now lost
    k = int(np.flatnonzero(tr.ids == sid)[0])
    start, v = tr.points[k].copy(), tr.velocities[k].copy()
    slow = np.linalg.norm(v) < stand
    t0 = t = t + DT / 2
    for _ in range(hidden):
        t += DT
        tr = tracker.update(np.zeros((0, 2)), t=t)
        k = int(np.flatnonzero(tr.ids == sid)[0])
        assert tr.states[k] == TrackState.LOST
        moved = np.linalg.norm(tr.points[k] - start)
        if slow:
            assert moved <= np.linalg.norm(v) * tau * (1 + 1e-9) + 1e-9
        else:
            np.testing.assert_allclose(tr.points[k], start + v * (t - t0), rtol=1e-9, atol=1e-9)
        assert np.all(np.diag(tr.covariances[k]) <= cap**2 * (1 + 1e-9))
        assert np.all(np.linalg.eigvalsh(tr.covariances[k]) > 0)


def test_a_tentative_track_beside_a_lost_one_is_claimed_back_by_the_old_id():
    """A shopper hidden for a second comes back 0.8 m away, just outside the lost track's
    gate: a tentative track starts there; as the lost gate grows it reaches the points first
    (lost tracks associate before tentative ones), the old ID continues and the tentative
    one dies without ever being confirmed."""
    tracker = FloorTracker(fps=FPS, lost_buffer_s=5.0, min_hits=3)
    sid, stop, t = _walk_then_hide(tracker, [3.0, 3.0], [0.0, 0.0], 1.0)
    for _ in range(8):
        t += DT
        _frame(np.zeros((0, 2)), t, tracker)
    seen = []
    for _ in range(6):
        t += DT
        tr = _frame([stop + np.array([0.8, 0.0])], t, tracker)
        k = int(np.flatnonzero(tr.det_index == 0)[0])
        seen.append((int(tr.ids[k]), int(tr.states[k])))
    assert seen[0][0] != sid and seen[0][1] == TrackState.TENTATIVE  # outside the gate at first
    assert seen[-1] == (sid, TrackState.CONFIRMED)
    assert all(state != TrackState.CONFIRMED for i, state in seen if i != sid)


@given(box_sequences(), st.sampled_from([1, 2, 3]), st.sampled_from([0.3, 1.0, np.inf]),
       st.sampled_from([0.2, 1.0, np.inf]), st.sampled_from([0.0, 0.9]))
def test_ids_never_duplicated_or_reused_with_reidentification(frames, min_hits, tau, cap, birth):
    tracker = FloorTracker(lost_buffer_s=3.0, min_hits=min_hits, lost_velocity_decay_s=tau,
                           lost_max_std_m=cap, birth_gate_probability=birth)
    history = []
    for k, (boxes, scores) in enumerate(frames):
        points = boxes[:, :2].astype(float) / 50.0
        covs = np.repeat(np.eye(2)[None] * 0.02, len(points), 0)
        tr = tracker.update(points, covs, scores, t=0.1 * k)
        history.append((tr.ids, tr.det_index, len(points)))
    check_identity_invariants(history)


@given(st.integers(0, 2**32 - 1), st.integers(1, 40), st.sampled_from([1, 2, 3]),
       st.sampled_from([0.3, 1.0, np.inf]), st.sampled_from([0.2, 0.6, np.inf]),
       st.sampled_from([0.0, 0.9]), st.sampled_from([0.0, 0.1]), st.sampled_from([0.5, np.inf]))
def test_floor_tracker_with_reidentification_agrees_with_numpy_twin(seed, frames, min_hits, tau,
                                                                    cap, birth, error, stand):
    from twins.track import FloorTrackerTwin

    rng = np.random.default_rng(seed)
    params = dict(fps=10, min_hits=min_hits, lost_buffer_s=2.0, lost_velocity_decay_s=tau,
                  lost_max_std_m=cap, birth_gate_probability=birth,
                  model_error_std=error, lost_stand_speed=stand)
    check_floor_twin_agrees(FloorTracker(**params), FloorTrackerTwin(**params), rng, frames,
                            miss_rate=0.35, max_dt=0.3)  # long gaps: lost tracks matter


@pytest.mark.parametrize("name, value, match", [
    ("lost_velocity_decay_s", 0.0, "lost_velocity_decay_s: expected seconds > 0"),
    ("lost_velocity_decay_s", float("nan"), "lost_velocity_decay_s"),
    ("lost_max_std_m", -1.0, "lost_max_std_m: expected metres > 0"),
    ("lost_stand_speed", -0.5, "lost_stand_speed: expected m/s >= 0"),
    ("birth_gate_probability", 1.0, "birth_gate_probability: expected a probability in"),
    ("model_error_std", -0.1, "model_error_std: expected metres >= 0"),
])
def test_bad_reidentification_parameters_raise(name, value, match):
    with pytest.raises(ValueError, match=match):
        FloorTracker(**{name: value})


@given(st.integers(0, 2**32 - 1), st.integers(1, 30))
def test_predicted_changes_nothing_and_matches_the_next_update_prediction(seed, frames):
    """Asking for the fusion priors never changes what the tracker does next; a confirmed
    track that gets no point is predicted exactly where the next update leaves it (lost)."""
    rng = np.random.default_rng(seed)
    plain, asked = FloorTracker(fps=10), FloorTracker(fps=10)
    people = rng.uniform(0, 8, (rng.integers(1, 5), 2))
    velocity = rng.normal(0, 1.0, people.shape)
    for k in range(frames):
        t = 0.1 * (k + 1)
        people += velocity * 0.1
        seen = people[rng.random(len(people)) > 0.3]
        points = seen + rng.normal(0, 0.05, seen.shape)
        ahead = asked.predicted(t)
        a, b = plain.update(points, t=t), asked.update(points, t=t)
        np.testing.assert_array_equal(a.ids, b.ids)
        np.testing.assert_array_equal(a.det_index, b.det_index)
        np.testing.assert_array_equal(a.points, b.points)
        for i, track in enumerate(ahead.ids.tolist()):
            j = np.flatnonzero(b.ids == track)
            if len(j) and b.det_index[j[0]] < 0 and b.states[j[0]] == TrackState.LOST:
                np.testing.assert_allclose(b.points[j[0]], ahead.points[i], atol=1e-12)


def test_predicted_refuses_a_time_before_the_last_frame():
    tracker = FloorTracker(fps=10)
    tracker.update(np.array([[1.0, 1.0]]), t=1.0)
    with pytest.raises(ValueError, match="t: expected a time after"):
        tracker.predicted(0.5)
    assert len(tracker.predicted().ids) == 1  # one period on; the first frame confirms
