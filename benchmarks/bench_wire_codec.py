"""Decode + validate one message body: walkout.protocol (msgspec) against pydantic v2's
``TypeAdapter.validate_json`` over the same schema (the choice protocol.py's docstring cites).

Run: ``PYTHONPATH=python python3 benchmarks/bench_wire_codec.py``
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import msgspec

from harness import format_seconds, markdown_table, median_seconds, write_results
from walkout import protocol
from wire_mix import PYDANTIC_MESSAGE, make_messages


def main() -> None:
    messages = make_messages("box-1", 2000, seed=7)
    bodies = [
        protocol.encode(msgspec.structs.replace(m, seq=i + 1)) for i, m in enumerate(messages)
    ]
    # both sides agree on what they read
    for body in bodies[:200]:
        ours, theirs = protocol.decode(body), PYDANTIC_MESSAGE.validate_json(body)
        assert msgspec.to_builtins(ours) == theirs.model_dump(mode="json")
    topics = [m.type.encode() for m in messages]

    def walkout_decode() -> None:
        for topic, body in zip(topics, bodies, strict=True):
            protocol.decode(body, topic)

    def pydantic_decode() -> None:
        for body in bodies:
            PYDANTIC_MESSAGE.validate_json(body)

    def walkout_encode() -> None:
        for m in messages:
            protocol.encode(m)

    def pydantic_encode() -> None:
        for body in pydantic_models:
            body.model_dump_json()

    pydantic_models = [PYDANTIC_MESSAGE.validate_json(b) for b in bodies]
    n = len(bodies)
    rows = []
    for what, ours, theirs in (
        ("decode + validate", walkout_decode, pydantic_decode),
        ("encode", walkout_encode, pydantic_encode),
    ):
        a = median_seconds(ours, repeat=15) / n
        b = median_seconds(theirs, repeat=15) / n
        rows.append([what, format_seconds(a), format_seconds(b), f"{b / a:.1f}x"])
    body = (
        f"{n} bodies of the benchmark mix (90 % tracks with 2-8 tracks), time per message, "
        "median of 15 runs.\n\n"
        + markdown_table(["step", "walkout.protocol (msgspec)", "pydantic v2", "speed-up"], rows)
    )
    write_results("wire_codec", "The wire: message codec, msgspec vs pydantic", body)


if __name__ == "__main__":
    main()
