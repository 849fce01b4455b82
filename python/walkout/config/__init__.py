"""Validated configs: ``kind: store | edge | server | scenario`` (and ``camera`` calibration
files). Load with :func:`load_config` (any kind) or the typed loaders; every problem is a
:class:`ConfigError` naming the file, line, key path and what was expected."""

from walkout.config.camera import CameraCalibration, CameraPose
from walkout.config.edge import Edge
from walkout.config.errors import ConfigError, ConfigIssue, format_loc
from walkout.config.loader import (
    KINDS,
    Loaded,
    LoadedEdge,
    LoadedOther,
    LoadedServer,
    LoadedStore,
    load_calibration,
    load_config,
    load_edge,
    load_server,
    load_store,
    missing_runtime_files,
    register_kind,
    resolve,
)
from walkout.config.server import Server
from walkout.config.store import Gate, Product, Shelf, Slot, Store

__all__ = [
    "KINDS",
    "CameraCalibration",
    "CameraPose",
    "ConfigError",
    "ConfigIssue",
    "Edge",
    "Gate",
    "Loaded",
    "LoadedEdge",
    "LoadedOther",
    "LoadedServer",
    "LoadedStore",
    "Product",
    "Server",
    "Shelf",
    "Slot",
    "Store",
    "format_loc",
    "load_calibration",
    "load_config",
    "load_edge",
    "load_server",
    "load_store",
    "missing_runtime_files",
    "register_kind",
    "resolve",
]
