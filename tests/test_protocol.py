"""walkout.protocol: every message type round-trips; every malformed body is refused with a
reason that names the field."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol_strategies import messages
from walkout import protocol as p


def _tracks(**kw: object) -> p.Tracks:
    fields: dict[str, object] = {
        "src": "box-1",
        "seq": 7,
        "t_ns": 1_700_000_000_000_000_000,
        "tracks": [
            p.TrackState(
                id=3, x=1.5, y=2.0, vx=0.1, vy=-0.2, confidence=0.9, cameras=["cam-1", "cam-2"]
            )
        ],
    }
    fields.update(kw)
    return p.Tracks(**fields)  # type: ignore[arg-type]


@given(messages)
def test_every_message_round_trips_through_bytes(message: p.Message) -> None:
    topic, body = p.to_frames(message)
    assert topic == message.type.encode()
    assert p.decode(body) == message
    assert p.decode(body, topic) == message
    # the body is plain JSON that names its own type and version
    as_json = json.loads(body)
    assert as_json["type"] == message.type and as_json["v"] == p.PROTOCOL_VERSION


@given(messages, st.sampled_from(p.MESSAGE_TYPES))
def test_a_body_under_another_topic_is_refused(message: p.Message, topic: str) -> None:
    body = p.encode(message)
    if topic == message.type:
        assert p.decode(body, topic.encode()) == message
    else:
        with pytest.raises(p.ProtocolError, match=r"\$\.type"):
            p.decode(body, topic.encode())


def test_every_type_has_a_topic_and_the_union_covers_them() -> None:
    assert set(p.MESSAGE_TYPES) == {
        "tracks",
        "reach",
        "dwell",
        "weight",
        "checkin",
        "health",
        "ack",
        "receipt",
    }
    for name, cls in p.MESSAGE_CLASSES.items():
        assert p.TOPICS[name.encode()] is cls


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (
            lambda d: d["tracks"][0].update(x="far"),
            r"Expected `float`, got `str` - at `\$\.tracks\[0\]\.x`",
        ),
        (lambda d: d["tracks"][0].update(confidence=1.5), r"\$\.tracks\[0\]\.confidence"),
        (lambda d: d.update(seq=0), r"seq must be >= 1"),
        (lambda d: d.update(seq=-3), r"\$\.seq"),
        (lambda d: d.update(t_ns=1.5), r"\$\.t_ns"),
        (lambda d: d.update(src=""), r"\$\.src"),
        (lambda d: d.update(src="bad id"), r"\$\.src"),
        (lambda d: d.update(extra=1), r"unknown field `extra`"),
        (lambda d: d.pop("t_ns"), r"missing required field `t_ns`"),
        (lambda d: d.update(type="nope"), r"\$\.type"),
        (lambda d: d.update(v=2), r"unsupported schema version v=2"),
        (lambda d: d.update(v=[1]), r"\$\.v"),  # found by the fuzz test: was a TypeError
        (lambda d: d.update(v="1"), r"\$\.v"),
        (lambda d: d.update(v=2, new_field=[1]), r"unsupported schema version v=2"),
    ],
)
def test_a_malformed_body_is_refused_naming_the_field(mutate, reason) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(p.encode(_tracks()))
    mutate(data)
    with pytest.raises(p.ProtocolError, match=reason):
        p.decode(json.dumps(data).encode())


@pytest.mark.parametrize("body", [b"", b"{", b"[1,2]", b"null", b"\xff\xfe", b'"tracks"'])
def test_garbage_is_refused(body: bytes) -> None:
    with pytest.raises(p.ProtocolError):
        p.decode(body)


def test_unknown_topic_is_refused() -> None:
    with pytest.raises(p.ProtocolError, match="unknown topic"):
        p.decode(p.encode(_tracks()), b"teleport")


def test_intervals_must_not_run_backwards() -> None:
    with pytest.raises(ValueError, match="end_ns"):
        p.Reach(
            src="b",
            t_ns=5,
            track=1,
            shelf="s",
            slot="s/front/r0c0",
            start_ns=6,
            end_ns=5,
            confidence=0.5,
        )
    body = json.dumps(
        {
            "type": "dwell",
            "v": 1,
            "src": "b",
            "seq": 1,
            "t_ns": 1,
            "track": 1,
            "shelf": "s",
            "enter_ns": 9,
            "leave_ns": 3,
        }
    ).encode()
    with pytest.raises(p.ProtocolError, match="leave_ns"):
        p.decode(body)


def test_seq_is_stamped_without_touching_the_original() -> None:
    import msgspec

    original = _tracks(seq=0)
    stamped = msgspec.structs.replace(original, seq=42)
    assert original.seq == 0 and stamped.seq == 42 and stamped.tracks is original.tracks


def test_json_schema_names_every_type() -> None:
    text = json.dumps(p.json_schema())
    for name in p.MESSAGE_TYPES:
        assert f'"{name}"' in text
