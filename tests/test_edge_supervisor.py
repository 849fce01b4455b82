"""The edge supervisor with real parts: a rendered simulator run played through the camera
sources and the real ONNX model, sent over CURVE (keys made here) to a real ``walkout.wire``
receiver on 127.0.0.1; oracle replays through the CLI; start errors that name their file; a
clean stop on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from conftest import package_root
from walkout import protocol
from walkout.cli import main
from walkout.edge.supervisor import EdgeSupervisor, StartError, SupervisorOptions, load_for_start
from walkout.wire import Receiver, SqliteStore, generate_keys, load_allowed_keys, load_secret_key

REPO = Path(__file__).resolve().parent.parent
LIVE_SCENARIO = """\
kind: scenario
name: edge-live
store: {store}
seed: 3
duration_s: 5
shoppers: 2
arrival_window_s: 1
group_rate: 0.0
cameras: [cam1, cam2, cam3, cam4]
shopping: {{stops_min: 1, stops_max: 1, max_items: 1}}
render: {{width: 320, height: 180, fps: 5}}
"""
FAST_SENDER = {"ack_timeout_s": 0.5, "heartbeat_s": 0.2, "reconnect_s": 0.02,
               "reconnect_max_s": 0.2}


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("keys")
    for name in ("server", "edge-a", "stranger"):
        generate_keys(name, folder)
    return folder


@pytest.fixture(scope="module")
def rendered_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from walkout.sim import simulate

    folder = tmp_path_factory.mktemp("live")
    scenario = folder / "scenario.yaml"
    scenario.write_text(LIVE_SCENARIO.format(store=REPO / "configs" / "store.yaml"))
    simulate(scenario, folder / "run")
    return folder / "run"


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from walkout.sim import simulate

    out = tmp_path_factory.mktemp("tiny") / "run"
    simulate(REPO / "configs" / "scenarios" / "tiny.yaml", out, oracle=True)
    return out


def _free_endpoint() -> str:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


def _receiver(endpoint: str, db: Path, keys: Path) -> Receiver:
    return Receiver(endpoint, SqliteStore(db), secret_key=load_secret_key(keys / "server.key_secret"),
                    allowed_keys=load_allowed_keys([keys / "edge-a.key"]), poll_s=0.02)


def _stored(db: Path) -> list[protocol.Message]:
    store = SqliteStore(db)
    try:
        return [protocol.decode(body) for _, _, _, _, body in store.read_after(0, 100_000)]
    finally:
        store.close()


def _edge_config(folder: Path, run: Path, keys: Path, model: Path, endpoint: str,
                 changes: dict[str, object] | None = None) -> Path:
    data: dict[str, object] = {
        "kind": "edge", "box": "edge-a", "store": str(run / "store" / "store.yaml"),
        "camera_defaults": {"resolution": [320, 180], "fps": 5},
        "cameras": [{"id": c, "source": str(run / "video" / f"{c}.avi")}
                    for c in ("cam1", "cam2", "cam3", "cam4")],
        "model": {"path": str(model), "layout": "yolox", "letterbox": "yolox",
                  "input_size": [416, 416], "conf_threshold": 0.3, "classes": [0],
                  "provider": "cpu"},
        "server": {"endpoint": endpoint, "server_public_key": str(keys / "server.key")},
        "keys": {"secret": str(keys / "edge-a.key_secret")},
        "spool": {"dir": str(folder / "spool"), "max_mb": 16},
    }
    data.update(changes or {})
    path = folder / "edge.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture()
def yolox(shared_data: Path) -> Path:
    path = shared_data / "models" / "yolox_nano.onnx"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return path


@pytest.mark.realdata
def test_live_cameras_reach_a_server_that_comes_late(tmp_path: Path, rendered_run: Path,
                                                     keys: Path, yolox: Path) -> None:
    endpoint = _free_endpoint()
    config = _edge_config(tmp_path, rendered_run, keys, yolox, endpoint)
    supervisor = EdgeSupervisor(config, SupervisorOptions(health_interval_s=0.5,
                                                          flush_timeout_s=20.0,
                                                          camera_speed=2.0))
    db = tmp_path / "server.db"
    receiver: list[Receiver] = []
    # The server is away when the box starts: the spool holds everything until it comes.
    starter = threading.Timer(1.0, lambda: receiver.append(_receiver(endpoint, db, keys).start()))
    starter.start()
    try:
        framesets = supervisor.run(threading.Event())  # returns when the files end
    finally:
        starter.join()
        for r in receiver:
            r.close()
    assert framesets >= 5
    messages = _stored(db)
    tracks = [m for m in messages if isinstance(m, protocol.Tracks)]
    health = [m for m in messages if isinstance(m, protocol.Health)]
    assert len(tracks) == framesets  # every frameset's message, exactly once
    assert [m.seq for m in messages] == list(range(1, len(messages) + 1))
    assert {m.src for m in messages} == {"edge-a"}
    # The real model finds the rendered shoppers, and the tracker follows them on the floor.
    assert max(len(m.tracks) for m in tracks) >= 1
    assert health and [c.camera for c in health[-1].cameras] == ["cam1", "cam2", "cam3", "cam4"]
    assert health[-1].latency_p50_ms is not None and health[-1].latency_p50_ms > 0
    assert all(c.fps >= 0 for c in health[-1].cameras)


def test_oracle_replay_through_the_cli_to_a_receiver(tmp_path: Path, tiny_run: Path,
                                                     keys: Path, capsys: pytest.CaptureFixture[str]
                                                     ) -> None:
    from walkout.edge.replay import replay_run

    endpoint = _free_endpoint()
    db = tmp_path / "server.db"
    with _receiver(endpoint, db, keys).start():
        code = main(["edge", "--run", str(tiny_run), "--box", "edge-a", "--detections", "oracle",
                     "--server", endpoint, "--secret-key", str(keys / "edge-a.key_secret"),
                     "--server-key", str(keys / "server.key"), "--spool", str(tmp_path / "spool"),
                     "--health-interval", "5"])
    assert code == 0
    assert "walkout edge: replayed" in capsys.readouterr().out
    expected = replay_run(tiny_run, box="edge-a", health_interval_s=5.0).messages
    stored = _stored(db)
    assert len(stored) == len(expected)
    # Latency values differ run to run; everything else arrives exactly as the pipeline made it.
    for got, want in zip(stored, expected, strict=True):
        assert got.type == want.type and got.t_ns == want.t_ns
        if not isinstance(want, protocol.Health):
            assert protocol.encode(got.__class__(**{**_fields(want), "seq": got.seq})) == \
                protocol.encode(got)


def _fields(message: protocol.Message) -> dict[str, object]:
    return {f: getattr(message, f) for f in message.__struct_fields__}


def test_oracle_replay_to_a_file(tmp_path: Path, tiny_run: Path) -> None:
    out = tmp_path / "messages.jsonl"
    assert main(["edge", "--run", str(tiny_run), "--out", str(out)]) == 0
    lines = out.read_bytes().splitlines()
    kinds = {protocol.decode(line.replace(b'"seq":0', b'"seq":1')).type for line in lines}
    assert {"tracks", "reach", "dwell", "health"} <= kinds


# -- start errors: every one names the file --------------------------------------------------


def test_missing_model_is_a_start_error(tmp_path: Path, tiny_run: Path, keys: Path) -> None:
    config = _edge_config(tmp_path, tiny_run, keys, tmp_path / "absent.onnx", _free_endpoint())
    with pytest.raises(StartError, match=r"model.path: ONNX model .*absent.onnx not found"):
        load_for_start(config)


@pytest.mark.realdata
def test_missing_key_is_a_start_error(tmp_path: Path, tiny_run: Path, keys: Path,
                                      yolox: Path) -> None:
    config = _edge_config(tmp_path, tiny_run, keys, yolox, _free_endpoint(),
                          {"keys": {"secret": str(tmp_path / "nope.key_secret")}})
    with pytest.raises(StartError, match=r"keys.secret: key file .*nope.key_secret not found"):
        EdgeSupervisor(config)


@pytest.mark.realdata
def test_wrong_model_layout_is_a_start_error(tmp_path: Path, tiny_run: Path, keys: Path,
                                             yolox: Path) -> None:
    config = _edge_config(tmp_path, tiny_run, keys, yolox, _free_endpoint())
    data = yaml.safe_load(config.read_text())
    data["model"]["layout"] = "yolov8-pose"
    config.write_text(yaml.safe_dump(data))
    with pytest.raises(StartError, match=r"edge.yaml: .*does not fit layout 'yolov8-pose'"):
        EdgeSupervisor(config)


def test_invalid_config_is_a_start_error_naming_the_key(tmp_path: Path, tiny_run: Path,
                                                        keys: Path,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    config = _edge_config(tmp_path, tiny_run, keys, tmp_path / "m.onnx", _free_endpoint(),
                          {"camera_default": {"fps": 5}})
    with pytest.raises(StartError, match=r"unknown key 'camera_default'"):
        load_for_start(config)
    assert main(["edge", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "cannot start" in err and str(config) in err
    assert main(["edge"]) == 2
    assert main(["edge", "--run", str(tiny_run)]) == 2  # no server and no --out
    assert "needs --server" in capsys.readouterr().err


@pytest.mark.realdata
def test_sigterm_stops_cleanly(tmp_path: Path, rendered_run: Path, keys: Path,
                               yolox: Path) -> None:
    endpoint = _free_endpoint()
    config = _edge_config(tmp_path, rendered_run, keys, yolox, endpoint)
    env = {**os.environ, "PYTHONPATH": str(package_root())}
    proc = subprocess.Popen([sys.executable, "-m", "walkout", "edge", "--config", str(config),
                             "--speed", "0.5", "--log-level", "WARNING"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("walkout edge ready"), line + (proc.stderr.read() if proc.stderr else "")
        time.sleep(1.0)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "stopped after" in out
    # What could not be delivered (no server here) waits in the spool for the next start.
    assert any((tmp_path / "spool").iterdir())


def test_a_full_spool_drops_tracks_and_keeps_events(tmp_path: Path, keys: Path) -> None:
    from walkout.edge.supervisor import Publisher
    from walkout.wire import Sender

    # A real sender with a tiny spool and no server: it fills, and refuses as documented.
    sender = Sender(_free_endpoint(), "edge-a", tmp_path / "spool",
                    secret_key=load_secret_key(keys / "edge-a.key_secret"),
                    server_public_key=load_secret_key(keys / "server.key_secret").public,
                    max_spool_bytes=6000, **FAST_SENDER)
    try:
        publisher = Publisher(sender, backlog=100)
        track = protocol.TrackState(id=1, x=1.0, y=2.0, confidence=0.9, cameras=["cam1"])
        for k in range(60):
            publisher.publish([protocol.Tracks(src="edge-a", t_ns=k + 1, tracks=[track] * 3)])
        assert publisher.dropped > 0  # tracks beyond the limit were refused, not queued
        reaches = [protocol.Reach(src="edge-a", t_ns=100 + k, track=1, shelf="S1",
                                  slot="S1/front/r0c0", start_ns=90 + k, end_ns=100 + k,
                                  hand="left", confidence=0.9) for k in range(40)]
        for reach in reaches:
            publisher.publish([reach])
        spooled = sender.stats().last_seq
        kept = [m for m in publisher.backlog if m.type == "reach"]
        # Every event is either in the spool (the event reserve) or waiting in the backlog.
        in_spool = spooled - (60 - publisher.dropped)
        assert in_spool + len(kept) == len(reaches)
        assert len(kept) > 0
    finally:
        sender.close()


@pytest.mark.realdata
def test_model_replay_at_full_speed_sees_every_frame(rendered_run: Path, yolox: Path) -> None:
    from walkout.config.edge import ModelSettings
    from walkout.edge.replay import replay_run
    from walkout.sim import Run

    model = ModelSettings(path=yolox, layout="yolox", letterbox="yolox", input_size=(416, 416),
                          conf_threshold=0.3, provider="cpu")
    result = replay_run(rendered_run, box="edge-a", detections="model", model=model,
                        model_path=yolox, speed=None)
    run = Run(rendered_run)
    frames = max(len(run.timestamps(c)[0]) for c in run.cameras)
    # The files wait for the pipeline instead of being shed: one frameset per frame time.
    assert len(result.results) >= frames - 1
    assert max(len(r.messages[0].tracks) for r in result.results) >= 1  # type: ignore[attr-defined]


@pytest.mark.realdata
def test_health_goes_on_while_every_camera_is_down(tmp_path: Path, tiny_run: Path, keys: Path,
                                                   yolox: Path) -> None:
    endpoint = _free_endpoint()
    config = _edge_config(tmp_path, tiny_run, keys, yolox, endpoint, {
        "cameras": [{"id": c, "source": "rtsp://127.0.0.1:9/nothing-here"}
                    for c in ("cam1", "cam2", "cam3", "cam4")]})
    db = tmp_path / "server.db"
    supervisor = EdgeSupervisor(config, SupervisorOptions(health_interval_s=0.3,
                                                          flush_timeout_s=10.0))
    stop = threading.Event()
    threading.Timer(2.0, stop.set).start()
    with _receiver(endpoint, db, keys).start():
        assert supervisor.run(stop) == 0  # no frameset, and a clean stop
    health = [m for m in _stored(db) if isinstance(m, protocol.Health)]
    assert len(health) >= 3  # periodic, not only at the end
    assert all(c.fps == 0 for h in health for c in h.cameras)
    assert [c.camera for c in health[-1].cameras] == ["cam1", "cam2", "cam3", "cam4"]
