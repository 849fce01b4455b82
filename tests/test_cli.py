"""The one `walkout` command: version proves the core loads; config check explains errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import walkout
from walkout.cli import main
from walkout.resources import configs_dir


def test_version_proves_core_loads(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"walkout {walkout.__version__} (core {walkout.__version__}")


def test_config_check_ok_on_examples(capsys: pytest.CaptureFixture[str]) -> None:
    files = [str(configs_dir() / n) for n in ("store.yaml", "edge-a.yaml", "server.yaml")]
    assert main(["config", "check", *files]) == 0
    out = capsys.readouterr().out
    assert out.count("ok ") == 3


def test_config_check_strict_fails_on_missing_runtime_files() -> None:
    assert main(["config", "check", "--strict", str(configs_dir() / "edge-a.yaml")]) == 1


def test_config_check_explains_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "server.yaml"
    bad.write_text("kind: server\nstore: missing.yaml\nsettle_window: 3\n")
    assert main(["config", "check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"FAIL {bad}" in err and "settle_window" in err and "unknown key" in err


def test_config_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "schema", "edge"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert schema["additionalProperties"] is False and "model" in schema["properties"]


def test_config_schema_unknown_kind(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "schema", "warehouse"]) == 2
    assert "unknown kind" in capsys.readouterr().err


def test_bad_arguments_exit_with_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["config", "nonsense"])
    assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
