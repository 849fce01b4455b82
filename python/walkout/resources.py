"""Where the package data lives: the example configs and the shipped models.

An installed wheel carries them inside the package (``walkout/configs``, ``walkout/models``);
a source checkout used with ``PYTHONPATH=python`` finds them at the top of the repository.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def _data_dir(name: str) -> Path:
    installed = _PACKAGE_DIR / name
    if installed.is_dir():
        return installed
    source_tree = _PACKAGE_DIR.parent.parent / name
    if source_tree.is_dir():
        return source_tree
    raise FileNotFoundError(
        f"walkout package data '{name}' not found: looked in {installed} (installed wheel) "
        f"and {source_tree} (source checkout)"
    )


def configs_dir() -> Path:
    """The folder holding the example store, edge and server configs."""
    return _data_dir("configs")


def models_dir() -> Path:
    """The folder holding the shipped ONNX models and their model cards."""
    return _data_dir("models")


def example_config(name: str) -> Path:
    """Path of one example config, e.g. ``example_config("store.yaml")``."""
    path = configs_dir() / name
    if not path.is_file():
        available = sorted(p.name for p in configs_dir().glob("*.yaml"))
        raise FileNotFoundError(f"no example config '{name}'; available: {', '.join(available)}")
    return path
