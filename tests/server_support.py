"""Helpers of the server tests: drive a StoreCore in process, and run a real server process."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from conftest import package_root
from walkout import protocol
from walkout.config import load_store
from walkout.server.core import CoreSettings, StoreCore
from walkout.server.db import SqliteServerStore
from walkout.server.planogram import Planogram

REPO = Path(__file__).resolve().parent.parent
STORE = REPO / "configs" / "store.yaml"
SOURCES = ("edge-a", "edge-b", "gate-entry", "shelf-gateway")
SIM_SOURCES = ("edge-a", "edge-b", "entry", *(f"gw-S{i}" for i in range(1, 9)))
"""the sources of a simulator run of the example store: boxes, the gate, a gateway per shelf"""


def store_numbered(db: SqliteServerStore, seqs: dict[str, int],
                   chunk: list[protocol.Message]) -> None:
    """Store ``chunk`` as the receiver would, each message numbered next in its source's
    sequence (``seqs`` carries the numbers between calls)."""
    rows = []
    for m in chunk:
        seqs[m.src] = seqs.get(m.src, 0) + 1
        m = msgspec.structs.replace(m, seq=seqs[m.src])
        rows.append((m, protocol.encode(m)))
    db.store(rows)


def drive_core(messages: list[protocol.Message], db_path: Path, settle_s: float = 3.0,
               batch: int = 10, settings: CoreSettings | None = None,
               tail_s: float = 8.0) -> tuple[StoreCore, SqliteServerStore]:
    """Store ``messages`` in arrival order (numbering each source), stepping the core after
    every batch, then let the boxes report empty frames until every receipt is decided."""
    db = SqliteServerStore(db_path, synchronous="NORMAL")  # a crash test needs no power cut
    core = StoreCore(Planogram(load_store(STORE).config), db,
                     settings or CoreSettings(settle_window_s=settle_s), clock=lambda: 0)
    seqs: dict[str, int] = {}

    def put(chunk: list[protocol.Message]) -> None:
        store_numbered(db, seqs, chunk)
        core.pump()
        core.tick()

    for i in range(0, len(messages), batch):
        put(messages[i:i + batch])
    last = max(m.t_ns for m in messages)
    step = 100_000_000
    tail = [protocol.Tracks(src=b, t_ns=last + k * step, tracks=[])
            for k in range(1, int((settle_s + tail_s) * 10)) for b in ("edge-a", "edge-b")]
    put(tail)
    return core, db


def receipt_items(receipts: list[dict[str, Any]] | list[Any]) -> dict[str, dict[str, int]]:
    """account -> {sku: qty} of stored receipts (dicts from the API or StoredReceipt)."""
    out = {}
    for r in receipts:
        r = r if isinstance(r, dict) else r.as_json()
        out[r["account"]] = {line["sku"]: line["qty"] for line in r["lines"]}
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_keys(folder: Path, sources: tuple[str, ...] = SOURCES + SIM_SOURCES) -> Path:
    from walkout.wire import generate_keys

    for name in ("server", *sources):
        if not (folder / f"{name}.key").exists():
            generate_keys(name, folder)
    return folder


TOKENS = {role: f"test-token-of-the-{role}-0123456789" for role in
          ("viewer", "reviewer", "admin", "app")}
"""one bearer token per role, as written into every test server config"""


def auth_yaml(folder: Path) -> str:
    """The ``auth:`` section of a test config: the admin's token from a file, the others by
    their SHA-256 (both forms of the config)."""
    from walkout.server.auth import token_digest

    (folder / "admin.token").write_text(TOKENS["admin"] + "\n")
    rows = [f"    - {{name: {role}-1, role: {role}, sha256: {token_digest(token)}}}"
            for role, token in TOKENS.items() if role != "admin"]
    rows.append(f"    - {{name: admin-1, role: admin, file: {folder / 'admin.token'}}}")
    return "auth:\n  tokens:\n" + "\n".join(rows) + "\n"


def write_server_config(folder: Path, keys: Path, settle_s: float = 3.0,
                        review_threshold: float = 0.8,
                        sources: tuple[str, ...] = SOURCES + SIM_SOURCES,
                        extra: str = "") -> Path:
    ingest, publish = free_port(), free_port()
    allowed = ", ".join(str(keys / f"{s}.key") for s in dict.fromkeys(sources))
    path = folder / "server.yaml"
    path.write_text(
        f"kind: server\nstore: {STORE}\n"
        f"ingest: {{endpoint: 'tcp://127.0.0.1:{ingest}'}}\n"
        f"publish: {{endpoint: 'tcp://127.0.0.1:{publish}'}}\n"
        "http: {host: 127.0.0.1, port: 0}\n"
        "database: {path: store.db}\n"
        f"keys: {{secret: {keys / 'server.key_secret'}, allowed: [{allowed}]}}\n"
        f"settle_window_s: {settle_s}\nreview_threshold: {review_threshold}\n"
        + auth_yaml(folder) + extra)
    return path


def api_request(url: str, method: str = "GET", body: object = None,
                token: str | None = TOKENS["admin"], timeout: float = 10) -> tuple[int, Any]:
    """(status, decoded JSON or text) of one API call; errors are answers, not exceptions."""
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as reply:
            status, raw, kind = reply.status, reply.read(), reply.headers.get_content_type()
    except urllib.error.HTTPError as exc:
        status, raw, kind = exc.code, exc.read(), exc.headers.get_content_type()
    return status, (json.loads(raw) if kind == "application/json" else raw.decode())


@dataclass
class ServerProcess:
    """A real ``walkout server`` process (started by :func:`start_server`)."""

    proc: subprocess.Popen[str]
    ingest: str
    publish: str
    http: str
    log_path: Path
    log_file: Any = None

    def _close_files(self) -> None:
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        if self.log_file is not None:
            self.log_file.close()

    def get(self, path: str, token: str | None = TOKENS["admin"]) -> Any:
        status, body = api_request(self.http + path, token=token)
        if status != 200:
            raise AssertionError(f"GET {path}: {status} {body}")
        return body

    def post(self, path: str, body: object,
             token: str | None = TOKENS["reviewer"]) -> tuple[int, Any]:
        return api_request(self.http + path, "POST", body, token=token)

    def kill9(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self._close_files()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._close_files()


def start_server(config: Path, *extra: str) -> ServerProcess:
    log_path = config.parent / f"server-{time.monotonic_ns()}.log"
    env = dict(os.environ, PYTHONPATH=str(package_root()))
    log_file = open(log_path, "w")
    proc = subprocess.Popen([sys.executable, "-m", "walkout", "server", "--config", str(config),
                             *extra], stdout=subprocess.PIPE, stderr=log_file, text=True,
                            env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"ingest (\S+) publish (\S+) http (\S+)", line)
    if not match:
        proc.kill()
        proc.wait()
        proc.stdout.close()
        log_file.close()
        raise RuntimeError(f"server did not start: {line!r}\n{log_path.read_text()}")
    return ServerProcess(proc, match[1], match[2], match[3], log_path, log_file)


def wait_for(predicate: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
