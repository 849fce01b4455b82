"""The edge pipeline on a real simulator run (configs/scenarios/tiny.yaml, oracle mode, made
here in seconds): tracks whose ids follow the true people and reaches that match the true
reaches, scored against the run's ground truth; plus its parts on exact geometry."""

from __future__ import annotations

from pathlib import Path

import msgspec
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_scoring import score_reaches, score_tracks
from walkout import protocol
from walkout.config.loader import load_store
from walkout.detect import Detections
from walkout.edge.floor_points import FloorPointParams, floor_observations, foot_pixels
from walkout.edge.pipeline import EdgePipeline
from walkout.edge.replay import replay_run
from walkout.geometry import Camera

REPO = Path(__file__).resolve().parent.parent
STORE = load_store(REPO / "configs" / "store.yaml")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from walkout.sim import simulate

    out = tmp_path_factory.mktemp("edge") / "tiny"
    simulate(REPO / "configs" / "scenarios" / "tiny.yaml", out, oracle=True)
    return out


@pytest.fixture(scope="module")
def tiny_replay(tiny_run: Path):
    return replay_run(tiny_run)


def test_tracks_follow_the_true_people(tiny_run: Path, tiny_replay) -> None:
    from walkout.sim import Run

    run = Run(tiny_run)
    score = score_tracks(run, tiny_replay.cameras, tiny_replay.messages)
    assert score.person_frames > 50
    assert score.coverage >= 0.8, score
    assert score.id_consistency >= 0.95, score
    # One track per person over the whole run, and no track shared by two people.
    assert set(score.tracks_per_person) == {p["id"] for p in run.people}
    assert max(score.tracks_per_person.values()) == 1, score.tracks_per_person
    assert score.shared_tracks == 0
    assert len(set(score.track_person.values())) == len(score.track_person)


def test_reaches_match_the_true_reaches(tiny_run: Path, tiny_replay) -> None:
    from walkout.sim import Run

    run = Run(tiny_run)
    tracks = score_tracks(run, tiny_replay.cameras, tiny_replay.messages)
    reaches = score_reaches(run, tiny_replay.messages, tracks.track_person)
    assert reaches.true >= 1
    assert reaches.recall == 1.0, reaches
    assert reaches.precision == 1.0, reaches
    assert reaches.slot_accuracy == 1.0, reaches


def test_every_message_is_a_valid_wire_body(tiny_run: Path, tiny_replay) -> None:
    from walkout.sim import Run

    run = Run(tiny_run)
    messages = tiny_replay.messages
    kinds = {m.type for m in messages}
    assert {"tracks", "reach", "dwell"} <= kinds
    assert sum(m.type == "tracks" for m in messages) == len(tiny_replay.results)
    end_ns = run.start_ns + int(run.meta["duration_s"] * 1e9) + 10**9
    for seq, m in enumerate(messages, start=1):
        # Strict decoding checks every field's range, as the server's receiver does (the
        # sender stamps seq; here it is stamped by hand).
        stamped = msgspec.structs.replace(m, seq=seq)
        assert protocol.decode(protocol.encode(stamped), m.type.encode()) == stamped
        assert m.src == "replay"
        assert run.start_ns <= m.t_ns <= end_ns
    times = [m.t_ns for m in messages if m.type == "tracks"]
    assert times == sorted(times) and len(set(times)) == len(times)
    # Only floor positions, ids and events leave the box: no pixels, no keypoints.
    body = b"".join(protocol.encode(m) for m in messages)
    assert b"keypoint" not in body and b"box" not in body


def test_replay_of_one_box_uses_its_cameras(tiny_run: Path) -> None:
    result = replay_run(tiny_run, box="edge-a")
    assert result.cameras == ["cam1"]  # the run rendered cam1 (edge-a) and cam5 (edge-b)
    assert {m.src for m in result.messages} == {"edge-a"}
    with pytest.raises(ValueError, match="box: 'edge-z'"):
        replay_run(tiny_run, box="edge-z")
    with pytest.raises(ValueError, match="cameras: \\['cam3'\\]"):
        replay_run(tiny_run, cameras=["cam3"])
    with pytest.raises(ValueError, match="detections"):
        replay_run(tiny_run, detections="magic")  # type: ignore[arg-type]


def test_replay_emits_health_with_latency(tiny_run: Path) -> None:
    seen: list[protocol.Message] = []
    result = replay_run(tiny_run, emit=seen.append, health_interval_s=5.0)
    assert seen == result.messages
    health = [m for m in seen if isinstance(m, protocol.Health)]
    assert len(health) >= 2
    assert all(h.latency_p50_ms is not None and 0 < h.latency_p50_ms <= h.latency_p99_ms
               for h in health)  # type: ignore[operator]


# -- the step's contract ---------------------------------------------------------------------


def _pipeline(cameras: list[str], size: tuple[int, int] = (1280, 720)) -> EdgePipeline:
    return EdgePipeline(STORE, "edge-a", cameras, [size] * len(cameras), 10.0)


def _empty() -> Detections:
    return Detections(np.zeros((0, 4), np.float32), np.zeros(0, np.float32),
                      np.zeros(0, np.int64), np.zeros((0, 17, 3), np.float32))


def test_step_refuses_bad_input() -> None:
    pipeline = _pipeline(["cam1", "cam2"])
    with pytest.raises(ValueError, match="detections: expected one entry per camera"):
        pipeline.step(1, [_empty()])
    pipeline.step(10, [_empty(), None])
    with pytest.raises(ValueError, match="t_ns: framesets must come in increasing time"):
        pipeline.step(10, [_empty(), None])
    with pytest.raises(ValueError, match="camera_ids: \\['cam9'\\]"):
        _pipeline(["cam9"])
    with pytest.raises(ValueError, match="image_sizes"):
        EdgePipeline(STORE, "edge-a", ["cam1"], [], 10.0)


def test_time_is_converted_once_both_ways() -> None:
    pipeline = _pipeline(["cam1"])
    t0 = 1_772_442_000_123_456_789
    out = pipeline.step(t0, [None])
    assert out.messages[0].t_ns == t0 and pipeline.seconds(t0) == 0.0
    for dt in (1, 999, 123_456_789, 3_600 * 10**9):
        assert pipeline.nanoseconds(pipeline.seconds(t0 + dt)) == t0 + dt


def test_a_person_seen_by_two_cameras_becomes_one_track_with_both() -> None:
    pipeline = _pipeline(["cam1", "cam2"])
    cams = pipeline.cameras
    person = np.array([3.0, 2.5])
    t0 = 1_700_000_000_000_000_000
    for k in range(6):
        dets = [_person_detection(cam, person, FloorPointParams().ankle_height_m) for cam in cams]
        out = pipeline.step(t0 + k * 100_000_000, dets)
    tracks = out.messages[0]
    assert isinstance(tracks, protocol.Tracks)
    assert len(tracks.tracks) == 1
    state = tracks.tracks[0]
    assert np.hypot(state.x - person[0], state.y - person[1]) < 1e-3
    assert state.cameras == ["cam1", "cam2"]


def _person_detection(cam: Camera, floor_xy: np.ndarray, ankle_height: float,
                      wrists: tuple[np.ndarray, np.ndarray] | None = None) -> Detections:
    """A detection whose ankles (feet together) and box come from a standing person."""
    ankle = cam.image_from_store(np.array([[floor_xy[0], floor_xy[1], ankle_height]]))[0]
    head = cam.image_from_store(np.array([[floor_xy[0], floor_xy[1], 1.75]]))[0]
    top, bottom = min(head[1], ankle[1]), max(head[1], ankle[1])
    half = 0.2 * (bottom - top)
    kp = np.zeros((1, 17, 3), np.float32)
    kp[0, 15] = kp[0, 16] = (ankle[0], ankle[1], 0.9)
    if wrists is not None:
        for index, point in zip((9, 10), wrists, strict=True):
            kp[0, index, :2] = cam.image_from_store(point[None, :])[0]
            kp[0, index, 2] = 0.9
    box = np.array([[ankle[0] - half, top, ankle[0] + half, bottom]], np.float32)
    return Detections(box, np.array([0.9], np.float32), np.zeros(1, np.int64), kp)


# -- floor points ------------------------------------------------------------------------------


@given(x=st.floats(1.0, 5.0), y=st.floats(1.0, 4.0), from_ankles=st.booleans())
def test_floor_point_recovers_where_the_person_stands(x: float, y: float,
                                                      from_ankles: bool) -> None:
    params = FloorPointParams()
    cam = Camera.from_calibration(STORE.calibrations["cam1"], (1280, 720))
    det = _person_detection(cam, np.array([x, y]), params.ankle_height_m)
    if not from_ankles:
        # No ankles: the box bottom, made to be the floor point's own pixel.
        foot = cam.image_from_store(np.array([[x, y, 0.0]]))[0]
        width = det.boxes[0, 2] - det.boxes[0, 0]
        det.boxes[0] = (foot[0] - width / 2, det.boxes[0, 1], foot[0] + width / 2, foot[1])
        det.keypoints[0, 15:17, 2] = 0.0  # type: ignore[index]
    _pixels, ankles = foot_pixels(det, params.ankle_confidence)
    assert ankles[0] == (2 if from_ankles else 0)
    obs = floor_observations(det, cam, params, (12.0, 9.0))
    assert len(obs) == 1 and obs.rows.tolist() == [0]
    assert np.allclose(obs.points[0], (x, y), atol=1e-3)
    cov = obs.covariances[0]
    assert np.allclose(cov, cov.T)
    assert np.linalg.eigvalsh(cov).min() >= params.body_sigma_m**2 * (1 - 1e-9)


def test_floor_points_drop_low_scores_and_off_floor_points() -> None:
    cam = Camera.from_calibration(STORE.calibrations["cam1"], (1280, 720))
    params = FloorPointParams()
    inside = _person_detection(cam, np.array([3.0, 2.0]), params.ankle_height_m)
    outside = _person_detection(cam, np.array([30.0, 2.0]), params.ankle_height_m)
    both = Detections(np.concatenate([inside.boxes, inside.boxes, outside.boxes]),
                      np.array([0.9, 0.05, 0.9], np.float32), np.zeros(3, np.int64),
                      np.concatenate([inside.keypoints, inside.keypoints,  # type: ignore[list-item]
                                      outside.keypoints]))
    obs = floor_observations(both, cam, params, (12.0, 9.0))
    assert obs.rows.tolist() == [0]  # row 1 scored too low, row 2 stands off the floor


# -- hands ---------------------------------------------------------------------------------
# Hands in 3-D are walkout.interact.HandLocator's (tests/test_interact_hands.py); here only that
# the pipeline hands it the fused detections' keypoints and its parameters.


def test_the_locator_gets_the_pipelines_keypoints_and_parameters(tiny_run: Path,
                                                                  tiny_replay) -> None:
    from walkout.edge.pipeline import PipelineParams

    assert sum(len(r.hands) for r in tiny_replay.results) > 0
    for result in tiny_replay.results:  # hands only of tracks matched this frameset
        matched = set(result.tracks.ids[result.tracks.det_index >= 0].tolist())
        assert set(result.hands.track.tolist()) <= matched
    blind = replay_run(tiny_run, params=PipelineParams(
        locator={"min_wrist_confidence": 1.0, "min_hidden_wrist_confidence": 1.0,
                 "min_arm_confidence": 1.0}))
    assert sum(len(r.hands) for r in blind.results) == 0  # no keypoint is that sure
    tracks = [m for m in blind.messages if m.type == "tracks"]
    assert tracks == [m for m in tiny_replay.messages if m.type == "tracks"]


def test_observations_closer_than_a_body_are_one_person() -> None:
    from walkout.edge.pipeline import merge_close
    from walkout.track import FusedViews

    points = np.array([[1.0, 1.0], [1.2, 1.0], [3.0, 1.0]])
    covs = np.array([np.eye(2) * 0.01, np.eye(2) * 0.03, np.eye(2) * 0.01])
    members = np.array([[0, 1, -1], [-1, -1, 4], [2, -1, -1]])
    scores = np.array([0.9, 0.95, 0.8], np.float32)
    fused, merged_scores = merge_close(FusedViews(points, covs, members), scores.copy(), 0.3)
    assert len(fused.points) == 2
    # The two-camera observation absorbs the one-camera one, information-weighted.
    assert np.allclose(fused.points[0], [1.05, 1.0])
    assert np.allclose(fused.covariances[0], np.eye(2) * 0.0075)
    assert fused.members[0].tolist() == [0, 1, 4]
    assert merged_scores.tolist() == pytest.approx([0.95, 0.8])
    assert fused.points[1].tolist() == [3.0, 1.0]
    apart, _ = merge_close(FusedViews(points, covs, members), scores.copy(), 0.1)
    assert len(apart.points) == 3
