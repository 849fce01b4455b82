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


# --- scripted shoppers and shelf events (script:) -------------------------------------------

HARD = SCENARIOS[0].parent / "hard"
STORE = (SCENARIOS[0].parent.parent / "store.yaml").resolve()


def _scripted(tmp_path: Path, script: str, extra: str = "") -> Path:
    path = tmp_path / "scripted.yaml"
    path.write_text(f"kind: scenario\nstore: {STORE}\nduration_s: 30\nshoppers: 0\n"
                    f"render: {{width: 320, height: 180, fps: 5}}\n{extra}script:\n{script}")
    return path


@pytest.mark.parametrize("path", sorted(HARD.glob("*.yaml")), ids=lambda p: p.stem)
def test_hard_scenarios_validate_and_are_short(path: Path) -> None:
    scenario = load_config(path).config
    assert isinstance(scenario, Scenario) and scenario.script is not None
    assert scenario.duration_s <= 60 and scenario.render.width <= 320  # CI stays fast


def test_script_errors_name_the_line_and_key(tmp_path: Path) -> None:
    path = _scripted(tmp_path, "  shoppers:\n  - arrive_s: 1\n    stops:\n"
                     "    - {slot: S1/front/r0c0, tak: 1}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    text = str(info.value)
    assert f"{path}:10: script.shoppers[0].stops[0].tak: unknown key" in text
    path = _scripted(tmp_path, "  shoppers:\n  - arrive_s: 1\n    stops:\n"
                     "    - {slot: S1/front/r0c0, take: 1, put_back: 2}\n")
    with pytest.raises(ConfigError, match=r"script.shoppers\[0\].stops\[0\]: put_back"):
        load_config(path)
    path = _scripted(tmp_path, "  shelf_events:\n  - {at_s: 3, slot: S1/front/r0c0, items: 0}\n")
    with pytest.raises(ConfigError, match=r"script.shelf_events\[0\]: items"):
        load_config(path)
    path = _scripted(tmp_path, "  shoppers:\n  - {account: a, arrive_s: 1}\n"
                     "  - {account: a, arrive_s: 2}\n")
    with pytest.raises(ConfigError, match="'a' is used twice"):
        load_config(path)


def test_script_slots_are_checked_against_the_store_before_anything_runs(tmp_path: Path) -> None:
    from walkout.sim import simulate

    path = _scripted(tmp_path, "  shoppers:\n  - arrive_s: 1\n    stops:\n"
                     "    - {slot: S1/front/r0c0, take: 1}\n"
                     "    - {slot: S9/front/r0c0, take: 2, put_back: 1, into: S2/front/r0c0}\n"
                     "  shelf_events:\n  - {at_s: 3, slot: S1/back/r0c0, items: -1}\n")
    with pytest.raises(ConfigError) as info:
        simulate(path, tmp_path / "run", oracle=True)
    text = str(info.value)
    assert f"{path}:11: script.shoppers[0].stops[1].slot: no slot 'S9/front/r0c0'" in text
    assert f"{path}:13: script.shelf_events[0].slot: no slot 'S1/back/r0c0'" in text
    assert not (tmp_path / "run").exists()
    path = _scripted(tmp_path, "  shoppers:\n  - arrive_s: 1\n    stops:\n"
                     "    - {slot: S1/front/r1c1, take: 2, put_back: 1, into: S2/front/r0c0}\n")
    with pytest.raises(ConfigError, match=r"stops\[0\].into: 'S2/front/r0c0' is not on the face"):
        simulate(path, tmp_path / "run", oracle=True)


def test_a_script_is_played_as_written(tmp_path: Path) -> None:
    """Wrong-slot put-back, a companion on one scan, a shopper who only looks, and items
    knocked out of a tray: the truth holds exactly what the script says, deterministically."""
    from walkout.sim import simulate

    script = ("  shoppers:\n"
              "  - account: acct-ida\n    arrive_s: 0\n    stops:\n"
              "    - {slot: S1/front/r1c1, take: 2, put_back: 1, into: S1/front/r0c1}\n"
              "    companions:\n    - stops: [{slot: S3/front/r1c0, take: 1}]\n"
              "  - {arrive_s: 4, stops: [{slot: S7/front/r1c1, look_s: 2}]}\n"
              "  shelf_events:\n  - {at_s: 6, slot: S4/front/r0c0, items: -2}\n")
    path = _scripted(tmp_path, script, "duration_s: 40\n")
    runs = [simulate(path, tmp_path / f"run{k}", oracle=True) for k in range(2)]
    for name in ("truth/events.json", "truth/receipts.json", "messages/weight.jsonl",
                 "messages/checkin.jsonl", "run.json"):
        assert (runs[0].path / name).read_bytes() == (runs[1].path / name).read_bytes(), name
    run = runs[0]
    reaches = [(r["account"], r["slot"], r["kind"], r["count"]) for r in run.reaches()]
    assert reaches.count(("acct-ida", "S1/front/r1c1", "pick", 1)) == 2
    assert ("acct-ida", "S1/front/r0c1", "put", 1) in reaches
    assert ("acct-ida", "S3/front/r1c0", "pick", 1) in reaches  # the companion, same cart
    assert not [r for r in reaches if r[0] == "script-02"]  # looked, never reached
    receipts = {r["account"]: {x["sku"]: x["qty"] for x in r["lines"]} for r in run.receipts()}
    assert receipts == {"acct-ida": {"COLA-330": 1, "CHIPS-SALT": 1}, "script-02": {}}
    (checkin, other) = sorted(run.checkins(), key=lambda c: c.t_ns)
    assert (checkin.account, checkin.party_size, other.party_size) == ("acct-ida", 2, 1)
    (knocked,) = run.events()["shelf_events"]
    assert (knocked["slot"], knocked["sku"], knocked["count"]) == ("S4/front/r0c0", "NUTS-MIX", -2)
    (change,) = [w for w in run.weights() if w.slot == "S4/front/r0c0"]
    assert change.delta_g == pytest.approx(-2 * 215.0, abs=25)  # two bags of nuts, no hand
    assert 0 <= (change.t_ns - knocked["t_ns"]) / 1e9 < 2.0


def test_scripted_shoppers_leave_the_random_ones_as_they_were(tmp_path: Path) -> None:
    """The random shoppers of a scenario do the same with a script added whose shopper comes
    after they have left: scripted people are drawn from their own stream."""
    from walkout.sim import simulate

    base = (SCENARIOS[0].parent / "tiny.yaml").read_text().replace(
        "store: ../store.yaml", f"store: {STORE}").replace("duration_s: 15", "duration_s: 40")
    plain, scripted = tmp_path / "plain.yaml", tmp_path / "scripted.yaml"
    plain.write_text(base)
    scripted.write_text(base + "script:\n  shoppers:\n  - {arrive_s: 30}\n")
    a = simulate(plain, tmp_path / "a", oracle=True)
    b = simulate(scripted, tmp_path / "b", oracle=True)
    assert a.reaches() == b.reaches() and a.moves() == b.moves()
    ta, tb = a.trajectories(), b.trajectories()
    people = ta["pos"].shape[1]
    assert tb["pos"].shape[1] == people + 1
    assert (ta["pos"] == tb["pos"][:, :people]).all()
    assert [p["account"] for p in b.people][-1] == "script-01"
