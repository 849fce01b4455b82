"""Scenario files validate through the config loader and the CLI, with useful errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from walkout.cli import main
from walkout.config import ConfigError, load_config
from walkout.sim import Scenario

SCENARIOS = sorted((Path(__file__).resolve().parent.parent / "configs" / "scenarios").glob("*.yaml"))


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.name)
def test_shipped_scenarios_validate(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert isinstance(load_config(path).config, Scenario)
    assert main(["config", "check", str(path)]) == 0
    assert "kind: scenario" in capsys.readouterr().out


def test_store20_is_the_acceptance_scenario() -> None:
    scenario = load_config(SCENARIOS[0].parent / "store-20.yaml").config
    assert isinstance(scenario, Scenario)
    assert scenario.shoppers == 20 and scenario.duration_s == 300
    assert (scenario.render.width, scenario.render.height, scenario.render.fps) == (640, 360, 10)
    assert scenario.cameras is None  # all 8 cameras


def test_misspelt_key_is_reported_with_its_path(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: scenario\nstore: ../store.yaml\nduration_s: 10\nshoppers: 2\n"
                   "render: {fsp: 10}\n")
    with pytest.raises(ConfigError) as info:
        load_config(bad)
    text = str(info.value)
    assert "render.fsp" in text and "unknown key" in text


def test_inconsistent_stops_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: scenario\nstore: ../store.yaml\nduration_s: 10\nshoppers: 2\n"
                   "shopping: {stops_min: 3, stops_max: 1}\n")
    with pytest.raises(ConfigError, match="stops_min"):
        load_config(bad)


def test_cli_refuses_a_store_file_as_scenario(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = SCENARIOS[0].parent.parent / "store.yaml"
    assert main(["sim", "--scenario", str(store), "--out", str(tmp_path / "r")]) == 1
    assert "expected kind: scenario" in capsys.readouterr().err


def test_unknown_cameras_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    from walkout.sim import simulate

    store = (SCENARIOS[0].parent.parent / "store.yaml").resolve()
    for extra, where in (("cameras: [cam1, cam42]\n", "cameras"),
                         ("cameras: [cam1]\ncamera_failure: {camera: cam4, start_s: 1, duration_s: 1}\n",
                          "camera_failure.camera")):
        path = tmp_path / "s.yaml"
        path.write_text(f"kind: scenario\nstore: {store}\nduration_s: 3\nshoppers: 1\n{extra}")
        with pytest.raises(ValueError, match=where):
            simulate(path, tmp_path / "run")
        assert not (tmp_path / "run").exists()
