"""Shared pieces of the wire tests: keys, free ports, short timings, and the peer processes
(tests/wire_peers.py) started with subprocess so that they can be killed for real."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from conftest import package_root
from walkout import protocol as p
from walkout.wire import generate_keys, load_allowed_keys, load_secret_key

TESTS = Path(__file__).resolve().parent
PYTHON_DIR = package_root()

# Every timing of the wire is a parameter; these make the fault tests run in seconds.
FAST_SENDER = {
    "ack_timeout_s": 0.5,
    "heartbeat_s": 0.2,
    "reconnect_s": 0.02,
    "reconnect_max_s": 0.2,
    "gap_holdoff_s": 0.05,
    "ack_save_s": 0.1,
}
FAST_RECEIVER = {"poll_s": 0.02}


def make_keys(folder: Path, *names: str) -> Path:
    for name in ("server", *names):
        if not (folder / f"{name}.key").exists():
            generate_keys(name, folder)
    return folder


def server_args(keys: Path, *allowed: str) -> dict[str, object]:
    return {
        "secret_key": load_secret_key(keys / "server.key_secret"),
        "allowed_keys": load_allowed_keys(keys / f"{n}.key" for n in allowed),
    }


def sender_args(keys: Path, name: str) -> dict[str, object]:
    return {
        "secret_key": load_secret_key(keys / f"{name}.key_secret"),
        "server_public_key": load_secret_key(keys / "server.key_secret").public,
    }


def free_endpoint() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


def numbered(src: str, k: int) -> p.Message:
    """Message number ``k`` of a test stream: ``t_ns`` carries k so the order can be checked.
    Mostly tracks, with the other source types mixed in."""
    kind = k % 10
    if kind == 7:
        return p.Weight(
            src=src, t_ns=k, shelf="s1", slot="s1/front/r0c0", delta_g=-350.0, after_g=1050.0
        )
    if kind == 8:
        return p.Reach(
            src=src,
            t_ns=k,
            track=k % 50,
            shelf="s1",
            slot="s1/front/r0c0",
            start_ns=k,
            end_ns=k,
            hand="right",
            confidence=0.8,
        )
    return p.Tracks(
        src=src,
        t_ns=k,
        tracks=[
            p.TrackState(id=i, x=1.0 + i, y=2.0, vx=0.1, vy=0.0, confidence=0.9, cameras=["c1"])
            for i in range(3)
        ],
    )


def stored(db: Path, src: str) -> list[tuple[int, int]]:
    """(seq, t_ns) of ``src`` in arrival order, read through a connection of our own."""
    with sqlite3.connect(db) as con:
        return con.execute(
            "SELECT seq, t_ns FROM wire_messages WHERE src=? ORDER BY id", (src,)
        ).fetchall()


def count_rows(db: Path) -> int:
    try:
        with sqlite3.connect(db) as con:
            return int(con.execute("SELECT COUNT(*) FROM wire_messages").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.01)


def start_peer(*args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(PYTHON_DIR), str(TESTS)]))
    return subprocess.Popen(
        [sys.executable, str(TESTS / "wire_peers.py"), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
    )


def start_receiver(endpoint: str, db: Path, keys: Path, *allowed: str) -> subprocess.Popen[str]:
    proc = start_peer("receiver", endpoint, str(db), str(keys), ",".join(allowed))
    line = proc.stdout.readline()  # type: ignore[union-attr]
    assert line.startswith("ready"), f"receiver did not start: {line!r} {proc.stderr.read()}"  # type: ignore[union-attr]
    return proc
