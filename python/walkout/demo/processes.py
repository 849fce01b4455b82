"""The demo's real processes: one ``walkout server`` and one ``walkout edge`` per edge box,
each with the config, keys and spool written for this run, its output in ``logs/``."""

from __future__ import annotations

import json
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class DemoError(RuntimeError):
    """The demo cannot go on: says what failed and where (a file, a log, a port)."""


def check_port(port: int) -> None:
    """Refuse a fixed ingest port that something else holds (0 = any free port)."""
    if port == 0:
        return
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError as exc:
            raise DemoError(f"--port {port}: 127.0.0.1:{port} is in use by another process "
                            f"({exc.strerror}); choose another port, or 0 for any free one"
                            ) from None


def write_server_config(folder: Path, store: Path, keys: Path, sources: list[str],
                        port: int, settle_s: float) -> Path:
    allowed = "\n".join(f"    - {keys / f'{s}.key'}" for s in sources)
    # The HTTP API answers only bearer tokens: the demo reads /status as an admin of its own.
    token_file = folder / TOKEN_FILE
    token_file.write_text(secrets.token_urlsafe(32) + "\n")
    token_file.chmod(0o600)
    path = folder / "server.yaml"
    path.write_text(
        "# Written by `walkout demo` for this run.\n"
        "kind: server\n"
        f"store: {store}\n"
        f"ingest: {{endpoint: 'tcp://127.0.0.1:{port or '*'}'}}\n"
        "publish: {endpoint: 'tcp://127.0.0.1:*'}\n"
        "http: {host: 127.0.0.1, port: 0}\n"
        f"database: {{path: {folder / 'store.db'}}}\n"
        f"keys:\n  secret: {keys / 'server.key_secret'}\n  allowed:\n{allowed}\n"
        f"settle_window_s: {settle_s}\n"
        "review_threshold: 0.8\n"
        f"auth:\n  tokens:\n    - {{name: demo, role: admin, file: {token_file}}}\n"
    )
    return path


def write_edge_config(folder: Path, box: str, run: Any, cameras: list[str], model: Path,
                      endpoint: str, keys: Path) -> Path:
    """A ``kind: edge`` file for ``box``: the run's videos as its cameras, the shipped model's
    settings (from the example edge config) with ``model`` as its file, this run's keys."""
    from walkout.resources import example_config

    settings = yaml.safe_load(example_config("edge-a.yaml").read_text())["model"]
    settings["path"] = str(model)
    width, height = run.image_size
    config = {
        "kind": "edge", "box": box, "store": str(run.path / "store" / "store.yaml"),
        "camera_defaults": {"resolution": [width, height], "fps": run.fps},
        "cameras": [{"id": c, "source": str(run.video_path(c))} for c in cameras],
        "model": settings,
        "server": {"endpoint": endpoint, "server_public_key": str(keys / "server.key")},
        "keys": {"secret": str(keys / f"{box}.key_secret")},
        "spool": {"dir": str(folder / "spool" / box), "max_mb": 256},
    }
    path = folder / f"edge-{box}.yaml"
    path.write_text("# Written by `walkout demo` for this run.\n" + yaml.safe_dump(config))
    return path


def _tail(path: Path, lines: int = 12) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n    ".join(text[-lines:]) or "(empty log)"


@dataclass
class Child:
    """A started ``walkout`` subcommand with its log file."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path
    killed: bool = False
    """stopped by the demo itself (a fault it injected)"""

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self) -> str:
        return _tail(self.log)


def start(name: str, args: list[str], logs: Path) -> Child:
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{name}.log"
    handle = log.open("wb")
    process = subprocess.Popen([sys.executable, "-m", "walkout", *args], stdout=handle,
                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    handle.close()
    return Child(name, process, log)


def stop(child: Child, timeout_s: float = 20.0) -> int | None:
    if child.alive():
        child.process.terminate()
        try:
            child.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            child.process.kill()
            child.process.wait(5)
    return child.process.returncode


TOKEN_FILE = "demo.token"
"""the admin token the demo writes beside its server config"""

_READY = re.compile(r"walkout server ready: ingest (\S+) publish (\S+) http (\S+)")


@dataclass
class ServerProcess:
    child: Child
    ingest: str
    http: str
    token: str = ""
    receipts_seen: list[dict[str, Any]] = field(default_factory=list)

    def get(self, path: str) -> Any:
        request = urllib.request.Request(self.http + path,
                                         headers={"Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as reply:
            return json.loads(reply.read())


def start_server(config: Path, logs: Path, settle_s: float, max_lag_s: float,
                 timeout_s: float = 120.0) -> ServerProcess:
    child = start("server", ["server", "--config", str(config), "--http-port", "0",
                             "--settle-window", str(settle_s),
                             "--max-source-lag", str(max_lag_s), "--sync", "NORMAL"], logs)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = _READY.search(child.log.read_text(errors="replace"))
        if found:
            return ServerProcess(child, found.group(1), found.group(3),
                                 token=(config.parent / TOKEN_FILE).read_text().strip())
        if not child.alive():
            raise DemoError(f"walkout server exited with code {child.process.returncode} "
                            f"before it was ready (config {config}, log {child.log}):\n    "
                            f"{child.tail()}")
        time.sleep(0.1)
    stop(child)
    raise DemoError(f"walkout server was not ready after {timeout_s:.0f} s (log {child.log})")
