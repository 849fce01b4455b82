"""``walkout report``: print the store's analytics, from a running server or its database."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report", help="analytics: dwell, reaches, purchases, conversion, traffic by hour")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--url", help="a running server's HTTP API, e.g. http://127.0.0.1:8080")
    source.add_argument("--config", type=Path, metavar="SERVER.yaml",
                        help="read the server's database directly (the server may be stopped)")
    parser.add_argument("--token-file", type=Path, metavar="FILE",
                        help="with --url: a file holding a bearer token of the API (viewer "
                        "or above); default: the WALKOUT_TOKEN environment variable")
    parser.add_argument("--json", action="store_true", help="print the JSON as served")
    parser.set_defaults(handler=_run)


def _fetch(url: str, token: str | None) -> dict[str, Any]:
    from urllib.request import Request, urlopen

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with urlopen(Request(url.rstrip("/") + "/analytics", headers=headers), timeout=30) as reply:
        return json.loads(reply.read())  # type: ignore[no-any-return]


def _token(args: argparse.Namespace) -> str | None:
    import os

    if args.token_file is not None:
        return str(args.token_file.read_text().strip())
    return os.environ.get("WALKOUT_TOKEN")


def _from_database(path: Path) -> dict[str, Any]:
    from walkout.config.loader import load_server
    from walkout.server.analytics import analytics
    from walkout.server.core import CoreSettings, StoreCore
    from walkout.server.db import SqliteServerStore
    from walkout.server.planogram import Planogram

    loaded = load_server(path)
    db = SqliteServerStore(loaded.resolve(loaded.config.database.path))
    try:
        core = StoreCore(Planogram(loaded.store.config), db,
                         CoreSettings(settle_window_s=loaded.config.settle_window_s))
        core.pump()  # rebuild the shopper links that dwells and reaches name
        core.tick(decide=False)
        return analytics(core)
    finally:
        db.close()


def _money(cents: float | None, currency: str) -> str:
    return "-" if cents is None else f"{cents / 100:.2f} {currency}"


def _run(args: argparse.Namespace) -> int:
    data = _fetch(args.url, _token(args)) if args.url else _from_database(args.config)
    if args.json:
        print(json.dumps(data, indent=1))
        return 0
    cur = data["currency"]
    out = sys.stdout
    out.write(f"sessions: {data['sessions']}   visit length: median "
              f"{data['visit_length_s']['median']} s, p90 {data['visit_length_s']['p90']} s\n\n")
    out.write(f"{'shelf':8} {'dwell s':>9} {'visits':>7} {'reaches':>8} {'bought':>7} "
              f"{'conversion':>11}\n")
    for shelf, s in data["shelves"].items():
        conv = "-" if s["conversion"] is None else f"{100 * s['conversion']:.0f}%"
        out.write(f"{shelf:8} {s['dwell_s']:9.1f} {s['dwell_visits']:7d} {s['reaches']:8d} "
                  f"{s['items_bought']:7d} {conv:>11}\n")
    out.write(f"\n{'product':14} {'reaches':>8} {'bought':>7}\n")
    for sku, p in data["products"].items():
        out.write(f"{sku:14} {p['reaches']:8d} {p['bought']:7d}\n")
    out.write(f"\n{'hour':17} {'sessions':>9} {'shoppers':>9} {'mean basket':>14}\n")
    for hour, h in data["by_hour"].items():
        out.write(f"{hour:17} {h['sessions']:9d} {h['shoppers']:9d} "
                  f"{_money(h['basket_cents']['mean'], cur):>14}\n")
    out.write(f"\n{'age band (shared)':17} {'sessions':>9} {'mean basket':>14}\n")
    for band, b in data["by_age_band"].items():
        out.write(f"{band:17} {b['sessions']:9d} {_money(b['basket_cents']['mean'], cur):>14}\n")
    return 0
