"""Loading configs: read the YAML, validate it against its kind's model, follow references
(edge → store → camera calibrations), and report every problem with file, line, key path and
what was expected — all before anything starts."""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from pydantic import BaseModel, ValidationError

from walkout.config.camera import CameraCalibration
from walkout.config.edge import Edge
from walkout.config.errors import ConfigError, ConfigIssue, Loc
from walkout.config.server import Server
from walkout.config.store import Store
from walkout.config.store_checks import check_store
from walkout.config.yaml_source import YamlSource, read_yaml

# kind -> model. Other rooms add theirs through register_kind when they are imported (the
# simulator's ``scenario``, walkout.sim.scenario): the runtime's config never imports them, and
# the CLI imports the simulator's side before it checks files (walkout.cli.config).
KINDS: dict[str, type[BaseModel]] = {
    "store": Store,
    "edge": Edge,
    "server": Server,
    "camera": CameraCalibration,
}


def register_kind(kind: str, model: type[BaseModel]) -> None:
    """Make ``kind`` loadable by :func:`load_config` and ``walkout config``."""
    KINDS[kind] = model


def resolve(base_file: Path, path: Path) -> Path:
    """A path from a config, relative to the config file's folder unless absolute."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else (base_file.parent / path).resolve()


# ---------------------------------------------------------------------------------------------
# Turning pydantic's errors into issues a person can act on
# ---------------------------------------------------------------------------------------------


def _unwrap_model(annotation: Any) -> type[BaseModel] | None:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap_model(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType, list, tuple):
        for arg in typing.get_args(annotation):
            model = _unwrap_model(arg)
            if model is not None:
                return model
        return None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _model_at(model: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """The model class that holds the key at ``loc`` (walking fields and list indices)."""
    current: type[BaseModel] | None = model
    for part in loc:
        if current is None:
            return None
        if isinstance(part, int):
            continue
        info = current.model_fields.get(part)
        if info is None:
            return None
        current = _unwrap_model(info.annotation)
    return current


def _issue_from_pydantic(source: YamlSource, model: type[BaseModel], error: Any) -> ConfigIssue:
    loc: Loc = tuple(error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        holder = _model_at(model, loc[:-1])
        allowed = sorted(holder.model_fields) if holder is not None else []
        message = f"unknown key '{loc[-1]}'" + (
            f"; expected one of: {', '.join(allowed)}" if allowed else ""
        )
    elif kind == "missing":
        message = "required key is missing"
        holder = _model_at(model, loc[:-1])
        if holder is not None and isinstance(loc[-1], str) and loc[-1] in holder.model_fields:
            description = holder.model_fields[loc[-1]].description
            if description:
                message += f" (expected: {description})"
    else:
        message = error["msg"]
        if "input" in error and kind not in ("value_error", "assertion_error"):
            shown = repr(error["input"])
            message += f" (got {shown if len(shown) <= 60 else shown[:57] + '...'})"
        if message.startswith("Value error, "):
            message = message[len("Value error, ") :]
    return source.issue(loc, message)


def _validate(source: YamlSource, expected_kind: str | None = None) -> BaseModel:
    data = source.data
    if not isinstance(data, dict):
        raise ConfigError([source.issue((), "expected a YAML mapping starting with 'kind:'")])
    kind = data.get("kind")
    if kind is None:
        raise ConfigError([source.issue((), f"missing 'kind:'; expected one of {sorted(KINDS)}")])
    if expected_kind is not None and kind != expected_kind:
        raise ConfigError(
            [source.issue(("kind",), f"expected kind '{expected_kind}', got '{kind}'")]
        )
    model = KINDS.get(kind)
    if model is None:
        raise ConfigError(
            [source.issue(("kind",), f"unknown kind '{kind}'; expected one of {sorted(KINDS)}")]
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError([_issue_from_pydantic(source, model, e) for e in exc.errors()]) from None


# ---------------------------------------------------------------------------------------------
# Loaded configs, with what they refer to
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadedStore:
    config: Store
    path: Path
    calibrations: dict[str, CameraCalibration] = field(default_factory=dict)


@dataclass(frozen=True)
class LoadedEdge:
    config: Edge
    path: Path
    store: LoadedStore

    def resolve(self, path: Path) -> Path:
        return resolve(self.path, path)


@dataclass(frozen=True)
class LoadedServer:
    config: Server
    path: Path
    store: LoadedStore

    def resolve(self, path: Path) -> Path:
        return resolve(self.path, path)


@dataclass(frozen=True)
class LoadedOther:
    """A config of a kind with no references to follow (camera, scenario, ...)."""

    config: BaseModel
    path: Path


Loaded = LoadedStore | LoadedEdge | LoadedServer | LoadedOther


def load_calibration(path: Path) -> CameraCalibration:
    model = _validate(read_yaml(Path(path)), "camera")
    assert isinstance(model, CameraCalibration)
    return model


def load_store(path: Path | str) -> LoadedStore:
    path = Path(path).resolve()
    source = read_yaml(path)
    store = _validate(source, "store")
    assert isinstance(store, Store)
    issues: list[ConfigIssue] = []
    check_store(store, lambda loc, message: issues.append(source.issue(loc, message)))
    calibrations: dict[str, CameraCalibration] = {}
    for index, camera in enumerate(store.cameras):
        calib_path = resolve(path, camera.calibration)
        loc: Loc = ("cameras", index, "calibration")
        if not calib_path.is_file():
            issues.append(
                source.issue(
                    loc,
                    f"calibration file {calib_path} not found; expected "
                    "a `kind: camera` file written by `walkout calibrate`",
                )
            )
            continue
        try:
            calib = load_calibration(calib_path)
        except ConfigError as exc:
            issues.append(source.issue(loc, f"calibration file {calib_path} is invalid (below)"))
            issues.extend(exc.issues)
            continue
        if calib.camera != camera.id:
            issues.append(
                source.issue(
                    loc,
                    f"calibration file {calib_path} is for camera "
                    f"'{calib.camera}', expected '{camera.id}'",
                )
            )
        if calib.pose is None:
            issues.append(
                source.issue(
                    loc,
                    f"calibration file {calib_path} has no pose; run "
                    "`walkout calibrate extrinsics` for this camera",
                )
            )
        calibrations[camera.id] = calib
    if issues:
        raise ConfigError(issues)
    return LoadedStore(store, path, calibrations)


def _load_referenced_store(source: YamlSource, store_path: Path) -> LoadedStore:
    try:
        return load_store(resolve(source.path, store_path))
    except ConfigError as exc:
        head = source.issue(
            ("store",), f"store file {resolve(source.path, store_path)} is invalid (below)"
        )
        raise ConfigError([head, *exc.issues]) from None


def load_edge(path: Path | str) -> LoadedEdge:
    path = Path(path).resolve()
    source = read_yaml(path)
    edge = _validate(source, "edge")
    assert isinstance(edge, Edge)
    loaded_store = _load_referenced_store(source, edge.store)
    store = loaded_store.config
    issues: list[ConfigIssue] = []
    boxes = {b.id for b in store.edge_boxes}
    if edge.box not in boxes:
        issues.append(
            source.issue(
                ("box",), f"box '{edge.box}' is not in the store's edge_boxes {sorted(boxes)}"
            )
        )
    store_cameras = {c.id: c for c in store.cameras}
    seen: set[str] = set()
    for index, camera in enumerate(edge.cameras):
        loc: Loc = ("cameras", index, "id")
        if camera.id in seen:
            issues.append(source.issue(loc, f"camera '{camera.id}' is listed twice"))
        seen.add(camera.id)
        ref = store_cameras.get(camera.id)
        if ref is None:
            issues.append(
                source.issue(
                    loc,
                    f"camera '{camera.id}' is not in the store file; "
                    f"expected one of {sorted(store_cameras)}",
                )
            )
            continue
        if ref.box != edge.box:
            issues.append(
                source.issue(
                    loc,
                    f"camera '{camera.id}' belongs to box '{ref.box}' in "
                    f"the store file, not to '{edge.box}'",
                )
            )
        calib = loaded_store.calibrations.get(camera.id)
        resolution = edge.camera_resolution(camera)
        if calib is not None:
            try:
                calib.for_image_size(*resolution)
            except ValueError:
                issues.append(
                    source.issue(
                        ("cameras", index, "resolution")
                        if camera.resolution
                        else ("camera_defaults", "resolution"),
                        f"camera '{camera.id}' resolution {resolution[0]}x{resolution[1]} has another "
                        f"aspect ratio than its calibration's image_size {calib.image_size[0]}x"
                        f"{calib.image_size[1]}; expected the calibrated resolution or a scaled copy of "
                        "it (or recalibrate)",
                    )
                )
    for ref in store.cameras_of(edge.box):
        if ref.id not in seen:
            issues.append(
                source.issue(
                    ("cameras",),
                    f"the store assigns camera '{ref.id}' to box "
                    f"'{edge.box}' but this file does not read it",
                )
            )
    width, height = edge.model.input_size
    if width % 32 or height % 32:
        issues.append(
            source.issue(
                ("model", "input_size"),
                f"input_size {width}x{height}: "
                "expected multiples of 32 (the models' largest stride)",
            )
        )
    if issues:
        raise ConfigError(issues)
    return LoadedEdge(edge, path, loaded_store)


def load_server(path: Path | str) -> LoadedServer:
    path = Path(path).resolve()
    source = read_yaml(path)
    server = _validate(source, "server")
    assert isinstance(server, Server)
    return LoadedServer(server, path, _load_referenced_store(source, server.store))


_LOADERS: dict[str, Callable[[Path], Loaded]] = {
    "store": load_store,
    "edge": load_edge,
    "server": load_server,
}


def load_config(path: Path | str) -> Loaded:
    """Load any config file by its ``kind:``, following references; raises ConfigError."""
    path = Path(path).resolve()
    source = read_yaml(path)
    kind = source.data.get("kind") if isinstance(source.data, dict) else None
    loader = _LOADERS.get(kind) if isinstance(kind, str) else None
    if loader is not None:
        return loader(path)
    return LoadedOther(_validate(source), path)


def missing_runtime_files(loaded: Loaded) -> list[str]:
    """Files an edge box or server needs at start that are provisioned on the machine rather
    than shipped in configs/ (the model, key files): each missing one, with how to make it."""
    problems: list[str] = []
    if isinstance(loaded, LoadedEdge):
        edge = loaded.config
        model = loaded.resolve(edge.model.path)
        if not model.is_file():
            problems.append(f"model.path: ONNX model {model} not found")
        for what, p in (
            ("server.server_public_key", edge.server.server_public_key),
            ("keys.secret", edge.keys.secret),
        ):
            if not loaded.resolve(p).is_file():
                problems.append(
                    f"{what}: key file {loaded.resolve(p)} not found "
                    "(create it with `walkout keys generate`)"
                )
    elif isinstance(loaded, LoadedServer):
        keys = loaded.config.keys
        for what, p in [
            ("keys.secret", keys.secret),
            *((f"keys.allowed[{i}]", a) for i, a in enumerate(keys.allowed)),
        ]:
            if not loaded.resolve(p).is_file():
                problems.append(
                    f"{what}: key file {loaded.resolve(p)} not found "
                    "(create it with `walkout keys generate`)"
                )
    return problems
