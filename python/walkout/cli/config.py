"""``walkout config check FILE...`` and ``walkout config schema KIND``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("config", help="validate config files or print their schema")
    sub = parser.add_subparsers(dest="config_command", metavar="ACTION")
    sub.required = True

    check = sub.add_parser(
        "check",
        help="validate config files, following their references, and explain every error",
    )
    check.add_argument("files", nargs="+", type=Path, metavar="FILE")
    check.add_argument(
        "--strict",
        action="store_true",
        help="also fail when runtime files (model, keys) are missing",
    )
    check.set_defaults(handler=_check)

    schema = sub.add_parser("schema", help="print the JSON schema of a config kind")
    schema.add_argument("kind", help="store, edge, server, scenario or camera")
    schema.set_defaults(handler=_schema)


def _register_sim_kinds() -> None:
    # The scenario kind registers itself when the simulator's schema is imported; the config
    # loader the runtime uses does not import the simulator (docs/ARCHITECTURE.md).
    try:
        import walkout.sim.scenario  # noqa: F401
    except ImportError:
        pass


def _check(args: argparse.Namespace) -> int:
    from walkout.config import ConfigError, load_config, missing_runtime_files

    _register_sim_kinds()

    failed = False
    for path in args.files:
        try:
            loaded = load_config(path)
        except ConfigError as exc:
            failed = True
            print(f"FAIL {path}", file=sys.stderr)
            for issue in exc.issues:
                print(f"  {issue}", file=sys.stderr)
            continue
        kind = loaded.config.kind  # type: ignore[union-attr]
        missing = missing_runtime_files(loaded)
        print(f"ok   {path} (kind: {kind})")
        for line in missing:
            print(f"  note: {line}")
        if missing and args.strict:
            failed = True
    return 1 if failed else 0


def _schema(args: argparse.Namespace) -> int:
    from walkout.config.loader import KINDS

    _register_sim_kinds()
    model = KINDS.get(args.kind)
    if model is None:
        print(f"unknown kind '{args.kind}'; expected one of {sorted(KINDS)}", file=sys.stderr)
        return 2
    print(json.dumps(model.model_json_schema(), indent=2))
    return 0
