"""walkout.replay without a server: reading a run folder, shifting times, refusing bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

import server_scenarios as sc
from server_support import STORE
from walkout import protocol
from walkout.replay import Faults, _shift, load_run, replay


def test_load_run_reads_every_message_in_time_order(tmp_path: Path) -> None:
    truth = sc.generate(sc.takes_nothing(), STORE, tmp_path)
    messages = load_run(tmp_path)
    assert messages == sorted(messages, key=lambda m: (m.t_ns, m.src))
    kinds = {m.type for m in messages}
    assert {"tracks", "checkin", "reach", "dwell"} <= kinds
    assert messages[-1].t_ns <= truth["end_ns"]


def test_load_run_names_the_bad_line(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"run\.json"):
        load_run(tmp_path)
    (tmp_path / "messages.jsonl").write_text('{"type": "weight", "src": "x"}\n')
    with pytest.raises(ValueError, match=r"messages\.jsonl:1"):
        load_run(tmp_path)


def test_shift_moves_every_time_together() -> None:
    r = protocol.Reach(src="edge-a", t_ns=30, track=1, shelf="S1", slot="S1/front/r0c0",
                       start_ns=10, end_ns=30, confidence=0.9)
    moved = _shift(r, 100)
    assert (moved.t_ns, moved.start_ns, moved.end_ns) == (130, 110, 130)


def test_replay_refuses_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="speed"):
        replay([protocol.Health(src="x", t_ns=1)], "tcp://127.0.0.1:1", tmp_path,
               tmp_path / "server.key", tmp_path, speed=0)
    with pytest.raises(ValueError, match="messages"):
        replay([], "tcp://127.0.0.1:1", tmp_path, tmp_path / "server.key", tmp_path)
    with pytest.raises(ValueError, match="duplicate_fraction"):
        Faults(duplicate_fraction=2.0)
