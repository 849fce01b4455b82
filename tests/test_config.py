"""Config loading: the example configs load, and broken configs fail with a message that
names the file, the key path and what was expected."""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from walkout.config import (
    ConfigError,
    LoadedEdge,
    LoadedServer,
    LoadedStore,
    format_loc,
    load_config,
    load_edge,
    load_server,
    load_store,
    missing_runtime_files,
)
from walkout.resources import configs_dir

EXAMPLES = configs_dir()


def test_example_store_loads() -> None:
    loaded = load_store(EXAMPLES / "store.yaml")
    store = loaded.config
    assert 6 <= len(store.shelves) <= 10
    assert len(store.products) >= 40
    assert {g.kind for g in store.gates} == {"entry", "exit"}
    assert 6 <= len(store.cameras) <= 8
    assert len(store.edge_boxes) == 2
    assert set(loaded.calibrations) == {c.id for c in store.cameras}
    # every camera sees the floor: its centre is above the floor, inside the store
    for calib in loaded.calibrations.values():
        assert calib.pose is not None
        centre = calib.pose.centre_in_store()
        assert 0 <= centre[0] <= store.floor.width and 0 <= centre[1] <= store.floor.depth
        assert centre[2] > 2.0


@pytest.mark.parametrize("name", ["edge-a.yaml", "edge-b.yaml"])
def test_example_edges_load_against_their_store(name: str) -> None:
    loaded = load_edge(EXAMPLES / name)
    assert isinstance(loaded, LoadedEdge)
    ids = {c.id for c in loaded.config.cameras}
    assert ids == {c.id for c in loaded.store.config.cameras_of(loaded.config.box)}


def test_example_server_loads() -> None:
    loaded = load_server(EXAMPLES / "server.yaml")
    assert isinstance(loaded, LoadedServer)
    assert loaded.config.settle_window_s <= 20


def test_load_config_dispatches_on_kind() -> None:
    assert isinstance(load_config(EXAMPLES / "store.yaml"), LoadedStore)
    assert isinstance(load_config(EXAMPLES / "server.yaml"), LoadedServer)


def test_runtime_files_are_reported_not_fatal() -> None:
    missing = missing_runtime_files(load_edge(EXAMPLES / "edge-a.yaml"))
    assert any("keys.secret" in line for line in missing)


# ---------------------------------------------------------------------------------------------
# Broken configs: each mutation of a copy of the example store must fail naming the file,
# the key path and the expectation.
# ---------------------------------------------------------------------------------------------


@pytest.fixture()
def store_copy(tmp_path: Path) -> Path:
    """A writable copy of the example configs (store, edges, server, calibrations)."""
    target = tmp_path / "configs"
    shutil.copytree(EXAMPLES, target, ignore=shutil.ignore_patterns("scenarios"))
    return target


def _edit(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _set(*keys: Any, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        node = data
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value

    return change


def _delete(*keys: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        node = data
        for key in keys[:-1]:
            node = node[key]
        del node[keys[-1]]

    return change


def _append_shelf(data: dict[str, Any]) -> None:
    twin = copy.deepcopy(data["shelves"][4])
    twin["id"] = "S9"
    twin["center"] = [twin["center"][0] + 0.5, twin["center"][1]]
    for slot in twin["slots"]:
        slot.pop("sensor", None)
    data["shelves"].append(twin)


STORE_BREAKS: list[tuple[str, Callable[[dict[str, Any]], None], str, str]] = [
    # (name, mutation, key path expected in the message, words expected in the message)
    ("unknown top-level key", _set("floorplan", value=1), "floorplan", "unknown key"),
    (
        "misspelt shelf key",
        _set("shelves", 0, "lenght", value=2.0),
        "shelves[0].lenght",
        "expected one of",
    ),
    ("missing currency", _delete("currency"), "currency", "required"),
    ("lowercase currency", _set("currency", value="eur"), "currency", "pattern"),
    ("unknown timezone", _set("timezone", value="Mars/Olympus"), "timezone", "time zone"),
    ("negative floor width", _set("floor", "width", value=-3), "floor.width", "greater than 0"),
    ("floor depth not a number", _set("floor", "depth", value="deep"), "floor.depth", "number"),
    (
        "fractional price",
        _set("products", 0, "price_cents", value=1.5),
        "products[0].price_cents",
        "integer",
    ),
    (
        "zero unit weight",
        _set("products", 3, "unit_weight_g", value=0),
        "products[3].unit_weight_g",
        "greater than 0",
    ),
    (
        "duplicate sku",
        _set("products", 1, "sku", value="WATER-500"),
        "products[1].sku",
        "duplicate",
    ),
    (
        "slot with unknown product",
        _set("shelves", 2, "slots", 1, "product", value="NOPE"),
        "shelves[2].slots[1].product",
        "unknown product",
    ),
    (
        "slot row out of range",
        _set("shelves", 0, "slots", 0, "row", value=9),
        "shelves[0].slots[0].row",
        "out of range",
    ),
    (
        "slot on a closed face",
        _set("shelves", 0, "slots", 0, "face", value="back"),
        "shelves[0].slots[0].face",
        "not open",
    ),
    (
        "sensor used twice",
        _set("shelves", 1, "slots", 0, "sensor", value="W-S1-r0c0"),
        "shelves[1].slots[0].sensor",
        "already used",
    ),
    (
        "shelf outside the floor",
        _set("shelves", 0, "center", value=[11.5, 8.7]),
        "shelves[0].center",
        "leaves the floor",
    ),
    ("shelves overlap", _append_shelf, "shelves[8].center", "overlaps"),
    ("shelf faces the wall", _set("shelves", 0, "yaw", value=0.0), "shelves[0].faces", "wall"),
    (
        "gate zone outside the floor",
        _set("gates", 0, "zone", value=[[-1, 0], [1, 0], [1, 1]]),
        "gates[0].zone",
        "leaves the floor",
    ),
    (
        "gate zone with two points",
        _set("gates", 1, "zone", value=[[9.5, 0], [11, 0]]),
        "gates[1].zone",
        "at least 3",
    ),
    ("no exit gate", _set("gates", 1, "kind", value="entry"), "gates", "no exit gate"),
    (
        "camera on an unlisted box",
        _set("cameras", 3, "box", value="edge-z"),
        "cameras[3].box",
        "not listed",
    ),
    (
        "missing calibration file",
        _set("cameras", 0, "calibration", value="calib/none.yaml"),
        "cameras[0].calibration",
        "not found",
    ),
    ("bad id characters", _set("shelves", 0, "id", value="shelf one"), "shelves[0].id", "pattern"),
    ("infinite yaw", _set("shelves", 0, "yaw", value=float("inf")), "shelves[0].yaw", "finite"),
]


@pytest.mark.parametrize(
    ("name", "change", "loc", "words"), STORE_BREAKS, ids=[b[0] for b in STORE_BREAKS]
)
def test_broken_store_names_file_and_key_path(
    store_copy: Path, name: str, change: Callable[[dict[str, Any]], None], loc: str, words: str
) -> None:
    path = store_copy / "store.yaml"
    _edit(path, change)
    with pytest.raises(ConfigError) as info:
        load_store(path)
    text = str(info.value)
    matching = [str(issue) for issue in info.value.issues if issue.loc and loc in str(issue)]
    assert matching, f"{name}: no issue names {loc!r}:\n{text}"
    assert any(words.lower() in line.lower() for line in matching), f"{name}: {text}"
    assert str(path) in text or "calib" in text


CALIB_BREAKS: list[tuple[str, Callable[[dict[str, Any]], None], str, str]] = [
    (
        "rotation not orthonormal",
        _set("pose", "R", 0, value=[1.0, 1.0, 0.0]),
        "pose.R",
        "orthonormal",
    ),
    (
        "wrong number of distortion coefficients",
        _set("dist", value=[0.1, 0.2, 0.3]),
        "dist",
        "coefficients",
    ),
    ("negative focal length", _set("K", 0, value=[-700.0, 0.0, 639.5]), "(top level)", "focal"),
    (
        "calibration of another camera",
        _set("camera", value="cam9"),
        "cameras[0].calibration",
        "expected 'cam1'",
    ),
    ("calibration without pose", _delete("pose"), "cameras[0].calibration", "no pose"),
]


@pytest.mark.parametrize(
    ("name", "change", "loc", "words"), CALIB_BREAKS, ids=[b[0] for b in CALIB_BREAKS]
)
def test_broken_calibration_is_reported_through_the_store(
    store_copy: Path, name: str, change: Callable[[dict[str, Any]], None], loc: str, words: str
) -> None:
    calib = store_copy / "calib" / "cam1.yaml"
    _edit(calib, change)
    with pytest.raises(ConfigError) as info:
        load_store(store_copy / "store.yaml")
    lines = [str(issue) for issue in info.value.issues]
    assert any(loc in line and words.lower() in line.lower() for line in lines), "\n".join(lines)


EDGE_BREAKS: list[tuple[str, Callable[[dict[str, Any]], None], str, str]] = [
    (
        "camera not in the store",
        _set("cameras", 0, "id", value="cam42"),
        "cameras[0].id",
        "not in the store",
    ),
    (
        "camera of the other box",
        _set("cameras", 0, "id", value="cam5"),
        "cameras[0].id",
        "belongs to box",
    ),
    ("box not in the store", _set("box", value="edge-q"), "box", "not in the store"),
    ("unknown model layout", _set("model", "layout", value="yolov5"), "model.layout", "yolov8"),
    (
        "input size not a multiple of 32",
        _set("model", "input_size", value=[640, 360]),
        "model.input_size",
        "multiples of 32",
    ),
    (
        "threshold above 1",
        _set("model", "conf_threshold", value=1.5),
        "model.conf_threshold",
        "less than or equal to 1",
    ),
    (
        "resolution with another aspect",
        _set("camera_defaults", "resolution", value=[640, 480]),
        "camera_defaults.resolution",
        "aspect ratio",
    ),
    (
        "endpoint without scheme",
        _set("server", "endpoint", value="store-server:5555"),
        "server.endpoint",
        "pattern",
    ),
    ("store file missing", _set("store", value="nowhere.yaml"), "store", "invalid"),
]


@pytest.mark.parametrize(
    ("name", "change", "loc", "words"), EDGE_BREAKS, ids=[b[0] for b in EDGE_BREAKS]
)
def test_broken_edge_names_file_and_key_path(
    store_copy: Path, name: str, change: Callable[[dict[str, Any]], None], loc: str, words: str
) -> None:
    path = store_copy / "edge-a.yaml"
    _edit(path, change)
    with pytest.raises(ConfigError) as info:
        load_edge(path)
    lines = [str(issue) for issue in info.value.issues]
    assert any(
        str(path) in line and loc in line and words.lower() in line.lower() for line in lines
    ), "\n".join(lines)


def test_broken_server_names_file_and_key_path(store_copy: Path) -> None:
    path = store_copy / "server.yaml"
    _edit(path, _set("review_threshold", value=2))
    with pytest.raises(ConfigError) as info:
        load_server(path)
    assert f"{path}:" in str(info.value) and "review_threshold" in str(info.value)


def test_store_errors_in_an_edge_file_name_the_store_file(store_copy: Path) -> None:
    _edit(store_copy / "store.yaml", _set("currency", value="euro"))
    with pytest.raises(ConfigError) as info:
        load_edge(store_copy / "edge-b.yaml")
    lines = [str(issue) for issue in info.value.issues]
    assert any("edge-b.yaml" in line and "store" in line for line in lines)
    assert any("store.yaml" in line and "currency" in line for line in lines)


def test_error_points_at_the_yaml_line(store_copy: Path) -> None:
    path = store_copy / "store.yaml"
    text = path.read_text().replace("timezone: Europe/Berlin", "timezone: Nowhere/Town")
    path.write_text(text)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if row.startswith("timezone:"))
    with pytest.raises(ConfigError) as info:
        load_store(path)
    assert f"{path}:{line}: timezone" in str(info.value)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("kind: store\nfloor: [1, 2\n", "not valid YAML"),
        ("- just\n- a list\n", "mapping"),
        ("name: no kind\n", "missing 'kind:'"),
        ("kind: warehouse\n", "unknown kind 'warehouse'"),
        ("", "mapping"),
    ],
)
def test_malformed_files(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert words in str(info.value) and str(path) in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "absent.yaml")


def test_every_problem_is_reported_at_once(store_copy: Path) -> None:
    path = store_copy / "store.yaml"

    def two_problems(data: dict[str, Any]) -> None:
        data["shelves"][0]["slots"][0]["product"] = "NOPE"
        data["cameras"][2]["box"] = "edge-z"

    _edit(path, two_problems)
    with pytest.raises(ConfigError) as info:
        load_store(path)
    assert len(info.value.issues) >= 2


# ---------------------------------------------------------------------------------------------
# Property tests: random damage to the example store is always caught with a key path.
# ---------------------------------------------------------------------------------------------

_EXAMPLE = yaml.safe_load((EXAMPLES / "store.yaml").read_text())


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = []
    if isinstance(node, dict):
        for key, value in node.items():
            out.append((*prefix, key))
            out += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            out += _paths(value, (*prefix, index))
    return out


_MAPPING_PATHS = [p for p in _paths(_EXAMPLE) if isinstance(p[-1], str) and p[-1] != "kind"]


def _get(data: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        data = data[key]
    return data


@given(path=st.sampled_from(_MAPPING_PATHS), junk=st.from_regex(r"[a-z]{3,10}_x", fullmatch=True))
def test_any_unknown_key_is_named(
    tmp_path_factory: pytest.TempPathFactory, path: tuple[Any, ...], junk: str
) -> None:
    data = copy.deepcopy(_EXAMPLE)
    _get(data, path[:-1])[junk] = 1
    target = tmp_path_factory.mktemp("k") / "store.yaml"
    shutil.copytree(EXAMPLES / "calib", target.parent / "calib")
    target.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as info:
        load_store(target)
    expected = format_loc((*path[:-1], junk))
    assert any(expected in str(i) and "unknown key" in str(i) for i in info.value.issues), str(
        info.value
    )


_NUMERIC = [
    p
    for p in _MAPPING_PATHS
    if isinstance(_get(_EXAMPLE, p), (int, float))
    and not isinstance(_get(_EXAMPLE, p), bool)
    and p[-1] != "yaw"
]


@given(path=st.sampled_from(_NUMERIC), junk=st.sampled_from(["many", "", None, [1, 2], {"a": 1}]))
def test_any_number_replaced_by_junk_is_named(
    tmp_path_factory: pytest.TempPathFactory, path: tuple[Any, ...], junk: Any
) -> None:
    data = copy.deepcopy(_EXAMPLE)
    _get(data, path[:-1])[path[-1]] = junk
    target = tmp_path_factory.mktemp("n") / "store.yaml"
    shutil.copytree(EXAMPLES / "calib", target.parent / "calib")
    target.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as info:
        load_store(target)
    assert any(format_loc(path) in str(i) for i in info.value.issues), str(info.value)


_REQUIRED = [
    p
    for p in _MAPPING_PATHS
    if p[-1]
    in {
        "sku",
        "name",
        "price_cents",
        "unit_weight_g",
        "center",
        "length",
        "depth",
        "height",
        "rows",
        "cols",
        "product",
        "row",
        "col",
        "zone",
        "box",
        "calibration",
        "width",
    }
]


@given(path=st.sampled_from(_REQUIRED))
def test_any_required_key_removed_is_named(
    tmp_path_factory: pytest.TempPathFactory, path: tuple[Any, ...]
) -> None:
    data = copy.deepcopy(_EXAMPLE)
    del _get(data, path[:-1])[path[-1]]
    target = tmp_path_factory.mktemp("r") / "store.yaml"
    shutil.copytree(EXAMPLES / "calib", target.parent / "calib")
    target.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as info:
        load_store(target)
    assert any(format_loc(path) in str(i) and "missing" in str(i) for i in info.value.issues), str(
        info.value
    )
