"""The one ``walkout`` command. Each subcommand lives in its own module here and registers
itself through ``register(subparsers)``; heavy imports happen inside the handlers so that
``walkout --help`` stays fast on an edge box."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

import walkout

# Modules under walkout.cli that each add one subcommand (or a group of them).
_COMMAND_MODULES: tuple[str, ...] = (
    "config",
    "calibrate",
    "sim",
    "keys",
    "server",
    "replay",
    "report",
    "edge",
    "demo",
)


def _version_text() -> str:
    from walkout import _core  # proves the compiled module loads

    info = _core.build_info
    return (
        f"walkout {walkout.__version__} (core {info['version']}, {info['compiler']}, "
        f"{info['build_type']}, baseline {info['simd_baseline']})"
    )


class _VersionAction(argparse.Action):
    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print(_version_text())
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="walkout", description="walkout: an open runtime for checkout-free stores."
    )
    parser.add_argument("--version", action=_VersionAction)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in _COMMAND_MODULES:
        importlib.import_module(f"walkout.cli.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
