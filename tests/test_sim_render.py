"""Rendered runs: keypoints land where the body is drawn, videos honour the timestamp
contract, the same seed gives identical output, and the Run loader checks what it reads."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from walkout.sim import Run, simulate
from walkout.sim.crowd import simulate_crowd
from walkout.sim.render import CameraRenderer
from walkout.sim.runner import load_scenario, stream
from walkout.sim.world import build_world

SCENARIOS = Path(__file__).resolve().parent.parent / "configs" / "scenarios"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return simulate(SCENARIOS / "small.yaml", tmp_path_factory.mktemp("render") / "run")


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_keypoints_project_where_the_body_is_drawn() -> None:
    """Pixel test: re-render frames and check every visible keypoint sits on its own body."""
    scenario, store = load_scenario(SCENARIOS / "small.yaml")
    world = build_world(store, scenario.render.width, scenario.render.height)
    timeline = simulate_crowd(world, scenario, stream(scenario.seed, "crowd"))
    checked = on_body = hidden = 0
    for camera in world.cameras:
        renderer = CameraRenderer(world, timeline, camera, 0.0, np.random.default_rng(0))
        for t in np.arange(5.0, 40.0, 1.3):
            image, truth = renderer.render(float(t), with_noise=False)
            persons = timeline.present_at(float(t))
            for row, person in enumerate(truth.person):
                label = int(np.nonzero(persons == person)[0][0])
                for u, v, vis in truth.keypoints[row]:
                    if vis == 1:
                        hidden += 1
                    if vis != 2:
                        continue
                    x, y = round(float(u)), round(float(v))
                    checked += 1
                    # The keypoint's pixel shows this person (not the scene, not someone else)
                    # and differs from the empty store there.
                    if renderer.labels[y, x] == label and np.any(image[y, x] != renderer.background[y, x]):
                        on_body += 1
                x1, y1, x2, y2 = truth.box[row]
                assert (renderer.labels[int(y1):int(y2), int(x1):int(x2)] == label).any()
    assert checked > 500 and hidden > 50
    assert on_body / checked >= 0.97


def test_videos_follow_the_timestamp_contract(rendered: Run) -> None:
    failure = rendered.meta["scenario"]["camera_failure"]
    period_ns = 1e9 / rendered.fps
    for camera in rendered.cameras:
        index, t_ns = rendered.timestamps(camera)
        assert list(index) == list(range(len(index)))
        assert np.all(np.diff(t_ns) > 0)
        assert t_ns[0] >= rendered.start_ns
        frames = list(rendered.frames(camera))
        assert len(frames) == len(index)  # one row per stored frame, read back by OpenCV
        assert frames[0][2].shape == (rendered.image_size[1], rendered.image_size[0], 3)
        truth = rendered.truth(camera)
        assert np.array_equal(truth["t_ns"], t_ns)
        gaps = np.diff(t_ns) / period_ns
        if camera == failure["camera"]:
            assert gaps.max() >= failure["duration_s"] * rendered.fps * 0.9
        else:
            assert gaps.max() < 3  # only the odd dropped frame
    video = rendered.video_path(rendered.cameras[0])
    assert video.with_suffix(".timestamps.csv").read_text().startswith("frame_index,t_ns\n")


def test_render_truth_has_boxes_and_coco_keypoints(rendered: Run) -> None:
    truth = rendered.truth("cam1")
    assert truth["keypoints"].shape[1:] == (17, 3)
    assert set(np.unique(truth["keypoints"][..., 2])) <= {0.0, 1.0, 2.0}
    box = truth["box"]
    assert np.all(box[:, 2] > box[:, 0]) and np.all(box[:, 3] > box[:, 1])
    assert np.all(truth["visible_px"] > 0)
    # Visible pixels are part of the silhouette; some people are partly hidden.
    assert np.all(truth["full_px"] >= truth["visible_px"])
    hidden_share = 1 - truth["visible_px"] / truth["full_px"]
    assert (hidden_share > 0.2).any() and (hidden_share == 0).any()
    per_frame = rendered.frame_truth("cam1")
    assert sum(len(f.person) for f in per_frame) == len(truth["person"])


def test_same_seed_gives_identical_output(tmp_path: Path) -> None:
    a = simulate(SCENARIOS / "tiny.yaml", tmp_path / "a", workers=1)
    b = simulate(SCENARIOS / "tiny.yaml", tmp_path / "b", workers=2)
    assert _digest(a.path) == _digest(b.path)
    c = simulate(SCENARIOS / "tiny.yaml", tmp_path / "c", seed=4, oracle=True)
    d = simulate(SCENARIOS / "tiny.yaml", tmp_path / "d", seed=4, oracle=True)
    assert _digest(c.path) == _digest(d.path)
    assert a.reaches() != c.reaches() or a.trajectories()["pos"].tobytes() != c.trajectories()["pos"].tobytes()


def test_run_loader_refuses_what_it_cannot_read(rendered: Run, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="path"):
        Run(tmp_path)
    meta = dict(rendered.meta, version=99)
    (tmp_path / "run.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="version 99"):
        Run(tmp_path)
    with pytest.raises(ValueError, match="camera"):
        rendered.truth("cam99")
    with pytest.raises(ValueError, match="out"):
        simulate(SCENARIOS / "tiny.yaml", rendered.path)


def test_decoded_frame_shows_people_at_their_keypoints(rendered: Run) -> None:
    """On the encoded video too: visible torso keypoints differ from the empty store."""
    scenario, store = load_scenario(SCENARIOS / "small.yaml")
    world = build_world(store, scenario.render.width, scenario.render.height)
    timeline = simulate_crowd(world, scenario, stream(scenario.seed, "crowd"))
    background = CameraRenderer(world, timeline, world.cameras[0], 0.0,
                                stream(scenario.seed, "noise/cam1")).background
    truth = rendered.truth("cam1")
    differs = total = 0
    for index, _, image in rendered.frames("cam1"):
        rows = np.nonzero(truth["rec_frame"] == index)[0]
        for r in rows:
            for k in (5, 6, 11, 12):  # shoulders and hips: inside the torso
                u, v, vis = truth["keypoints"][r, k]
                if vis == 2:
                    total += 1
                    diff = np.abs(image[round(v), round(u)].astype(int)
                                  - background[round(v), round(u)].astype(int)).max()
                    differs += diff > 25
    assert total > 100
    assert differs / total >= 0.85


def test_live_stream_matches_the_written_run(tmp_path: Path) -> None:
    from walkout.sim import LiveStore

    run = simulate(SCENARIOS / "tiny.yaml", tmp_path / "run", workers=1)
    live = LiveStore(SCENARIOS / "tiny.yaml")
    frames = list(live.frames("cam5"))
    _, t_ns = run.timestamps("cam5")
    assert [f.t_ns for f in frames] == list(t_ns)
    truth = run.truth("cam5")
    rows = np.nonzero(truth["rec_frame"] == 30)[0]
    np.testing.assert_array_equal(frames[30].truth.keypoints, truth["keypoints"][rows])
    with pytest.raises(ValueError, match="camera"):
        next(live.frames("cam9"))


def test_coco_export_is_readable_by_pycocotools(rendered: Run, tmp_path: Path) -> None:
    from pycocotools.coco import COCO

    from walkout.sim.coco import export_coco

    path = export_coco(rendered, tmp_path / "coco", every=10, cameras=["cam1", "cam7"])
    coco = COCO(str(path))
    assert len(coco.getImgIds()) > 10 and len(coco.getAnnIds()) > 10
    ann = coco.loadAnns(coco.getAnnIds())[0]
    assert len(ann["keypoints"]) == 51 and ann["bbox"][2] > 0
    assert (tmp_path / "coco" / "images" / coco.loadImgs(ann["image_id"])[0]["file_name"]).is_file()


def test_oracle_misses_rise_with_occlusion(rendered: Run) -> None:
    clear = hidden = clear_missed = hidden_missed = 0
    for camera in rendered.cameras:
        truth, det = rendered.truth(camera), rendered.oracle(camera)
        found = set(zip(det["rec_frame"].tolist(), det["person"].tolist(), strict=True))
        share = 1 - truth["visible_px"] / truth["full_px"]
        for frame, person, s in zip(truth["rec_frame"].tolist(), truth["person"].tolist(), share, strict=True):
            missed = (frame, person) not in found
            if s < 0.1:
                clear, clear_missed = clear + 1, clear_missed + missed
            elif s > 0.5:
                hidden, hidden_missed = hidden + 1, hidden_missed + missed
    assert clear > 100 and hidden > 30
    assert clear_missed / clear >= 0.05
    assert hidden_missed / hidden > clear_missed / clear + 0.2
