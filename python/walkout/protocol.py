"""The messages every walkout part exchanges, as typed, versioned, strictly checked models.

On the wire a message is a ZeroMQ multipart: the topic (the message ``type`` as ASCII bytes)
in its own frame, then one JSON body. Every body carries

- ``v``     schema version (:data:`PROTOCOL_VERSION`); a reader refuses versions it does not know,
- ``type``  one of :data:`MESSAGE_TYPES`, the same string as the topic frame,
- ``src``   the id of the box, gate, shelf gateway or server that produced it,
- ``seq``   per-source sequence number, 1, 2, 3, ... assigned by :mod:`walkout.wire`'s sender
            (0 means "not assigned yet" and is refused on the wire),
- ``t_ns``  when the reported thing *happened* (capture time, reach end, scan), as integer
            nanoseconds since the Unix epoch (UTC) — never the time the message was sent.

Units follow the design: metres, m/s, grams, integer cents, radians; every timestamp is an
integer ``*_ns``; durations that are only reported (latency) are float ``*_ms``.

The models are :mod:`msgspec` structs rather than pydantic models because this code runs for
every message on every box and on the server: on the benchmark mix, msgspec decodes and
validates a body 1.3-1.6x faster and encodes one 5-6x faster than pydantic v2's
``TypeAdapter`` over the same schema (``benchmarks/bench_wire_codec.py``; parsing the floats
of a ``tracks`` body dominates both). They are frozen:
change a field with ``msgspec.structs.replace(msg, seq=...)``.

Compatibility rule: within one ``v``, changes are additive only (new optional fields with
defaults, new message types); renaming or removing a field bumps :data:`PROTOCOL_VERSION`.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal, Union

import msgspec
from msgspec import Meta

PROTOCOL_VERSION: Final = 1
"""The schema version this build writes and reads."""

SUPPORTED_VERSIONS: Final = frozenset({PROTOCOL_VERSION})

# --- small constrained types (msgspec checks them while decoding) -----------------------------

Id = Annotated[
    str,
    Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$",
         description="an id as in the configs: letters, digits, '_', '.', ':' or '-'"),
]
SlotId = Annotated[
    str,
    Meta(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/-]*$",
         description="slot id as in the store file, e.g. 'shelf-3/front/r0c2'"),
]
CameraRef = Annotated[
    str,
    Meta(min_length=1, max_length=64, description="a camera id as in the store file"),
]
# No pattern on CameraRef: a tracks body names 2 cameras for each of up to dozens of tracks,
# and a regex on each doubled the decode time of the whole message; the server checks camera
# ids against the store file anyway, which a pattern could not do.
TimeNs = Annotated[int, Meta(ge=0, description="nanoseconds since the Unix epoch, UTC")]
Seq = Annotated[int, Meta(ge=0, description="per-source sequence number; 0 = not assigned yet")]
Count = Annotated[int, Meta(ge=0)]
Confidence = Annotated[float, Meta(ge=0.0, le=1.0)]
Metres = Annotated[float, Meta(ge=-1e4, le=1e4, description="metres, store frame")]
Speed = Annotated[float, Meta(ge=-100.0, le=100.0, description="metres per second")]
Grams = Annotated[float, Meta(ge=-1e6, le=1e6, description="grams")]
Cents = Annotated[int, Meta(ge=-(10**12), le=10**12, description="integer minor currency units")]
Millis = Annotated[float, Meta(ge=0.0, le=1e7, description="milliseconds")]
TrackId = Annotated[int, Meta(ge=0, description="track id local to the sending box")]


class _Body(msgspec.Struct, tag_field="type", kw_only=True, frozen=True,
            forbid_unknown_fields=True):
    """Fields every message body carries (see the module docstring)."""

    v: Literal[1] = PROTOCOL_VERSION  # a Literal: checked in C while decoding, no Python hook
    src: Id
    seq: Seq = 0
    t_ns: TimeNs

    @property
    def type(self) -> str:
        """The message type: the ``type`` field on the wire and the topic frame."""
        return self.__struct_config__.tag  # type: ignore[return-value]


class _Part(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """A nested record inside a body (no header of its own)."""


# --- edge box -> server -----------------------------------------------------------------------


class TrackState(_Part, kw_only=True):
    """One person on the floor as one box sees them in one frameset."""

    id: TrackId
    x: Metres
    y: Metres
    vx: Speed = 0.0
    vy: Speed = 0.0
    confidence: Confidence
    cameras: list[CameraRef] = msgspec.field(default_factory=list)
    """the cameras whose detections were fused into this floor position"""


class Tracks(_Body, tag="tracks", kw_only=True):
    """Every track of one processed frameset; ``t_ns`` is the frameset's capture time."""

    tracks: Annotated[list[TrackState], Meta(max_length=1000)]


class Reach(_Body, tag="reach", kw_only=True):
    """A hand went into a shelf slot. ``t_ns`` is ``end_ns`` (when the reach was complete)."""

    track: TrackId
    shelf: Id
    slot: SlotId
    start_ns: TimeNs
    end_ns: TimeNs
    hand: Literal["left", "right", "unknown"] = "unknown"
    confidence: Confidence

    def __post_init__(self) -> None:
        # msgspec runs this after decoding too, so the ValueError becomes a refusal.
        if self.end_ns < self.start_ns:
            raise ValueError(f"end_ns ({self.end_ns}) is before start_ns ({self.start_ns})")


class Dwell(_Body, tag="dwell", kw_only=True):
    """A track stood in a shelf's engagement zone. ``t_ns`` is ``leave_ns``."""

    track: TrackId
    shelf: Id
    enter_ns: TimeNs
    leave_ns: TimeNs

    def __post_init__(self) -> None:
        if self.leave_ns < self.enter_ns:
            raise ValueError(f"leave_ns ({self.leave_ns}) is before enter_ns ({self.enter_ns})")


# --- shelf weight gateway and entry gate -> server --------------------------------------------


class Weight(_Body, tag="weight", kw_only=True):
    """A slot's weight changed; ``t_ns`` is when it settled. A drop is negative ``delta_g``."""

    shelf: Id
    slot: SlotId
    delta_g: Grams
    after_g: Grams


AgeBand = Literal["under-18", "18-24", "25-34", "35-44", "45-54", "55-64", "65+"]


class SharedProfile(_Part, kw_only=True):
    """Only what the shopper chose to share in the app, for analytics; never from a camera."""

    age_band: AgeBand | None = None


class Checkin(_Body, tag="checkin", kw_only=True):
    """An app scan at an entry gate; ``t_ns`` is the scan time."""

    gate: Id
    account: Annotated[str, Meta(min_length=1, max_length=128)]
    party_size: Annotated[int, Meta(ge=1, le=50)] | None = None
    profile: SharedProfile = msgspec.field(default_factory=SharedProfile)


# --- health (any source -> server) ------------------------------------------------------------


class CameraHealth(_Part, kw_only=True):
    camera: Id
    fps: Annotated[float, Meta(ge=0.0, le=1000.0)]
    dropped_frames: Count = 0
    reconnects: Count = 0


class Health(_Body, tag="health", kw_only=True):
    """Periodic state of a source; ``t_ns`` is when it was measured."""

    cameras: list[CameraHealth] = msgspec.field(default_factory=list)
    latency_p50_ms: Millis | None = None
    latency_p95_ms: Millis | None = None
    latency_p99_ms: Millis | None = None
    clock_offset_ns: int | None = None
    """measured offset of this source's clock from the reference (chrony/PTP), signed"""
    spool_fill: Confidence | None = None
    """fraction of the sender's on-disk spool in use (0..1)"""
    spool_full: bool = False
    """the spool refused a message since the last health report (the wire's alarm)"""


# --- server -> source / out -------------------------------------------------------------------


class Ack(_Body, tag="ack", kw_only=True):
    """Server -> source: everything of ``source`` up to ``upto`` is durably stored.

    ``gap`` says the receiver refused messages after ``upto`` because one before them is
    missing (lost in a reconnect): the sender should resend from ``upto + 1`` now rather than
    wait for its timeout.
    """

    source: Id
    upto: Seq
    gap: bool = False


class ReceiptLine(_Part, kw_only=True):
    sku: Annotated[str, Meta(min_length=1, max_length=64)]
    name: Annotated[str, Meta(max_length=256)]
    qty: Annotated[int, Meta(ge=-1000, le=1000)]
    unit_price_cents: Cents


class Receipt(_Body, tag="receipt", kw_only=True):
    """Server -> out: what a shopper is charged. ``t_ns`` is when it was issued."""

    account: Annotated[str, Meta(min_length=1, max_length=128)]
    session: Annotated[str, Meta(max_length=128)] = ""
    lines: list[ReceiptLine]
    currency: Annotated[str, Meta(pattern=r"^[A-Z]{3}$")]
    total_cents: Cents
    confidence: Confidence


Message = Union[Tracks, Reach, Dwell, Weight, Checkin, Health, Ack, Receipt]  # noqa: UP007
"""Any message body (a tagged union on ``type``)."""

MESSAGE_CLASSES: Final[dict[str, type[_Body]]] = {
    cls.__struct_config__.tag: cls  # type: ignore[misc]
    for cls in (Tracks, Reach, Dwell, Weight, Checkin, Health, Ack, Receipt)
}
MESSAGE_TYPES: Final = tuple(MESSAGE_CLASSES)
TOPICS: Final[dict[bytes, type[_Body]]] = {t.encode(): c for t, c in MESSAGE_CLASSES.items()}


# --- encode / decode --------------------------------------------------------------------------


class ProtocolError(ValueError):
    """A frame that is not a valid message; ``reason`` names the field and what was expected."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_encoder = msgspec.json.Encoder()
_any_decoder = msgspec.json.Decoder(Message)
_decoders: Final[dict[bytes, msgspec.json.Decoder]] = {
    topic: msgspec.json.Decoder(cls) for topic, cls in TOPICS.items()
}


class _VersionOnly(msgspec.Struct):
    v: object = None


_version_decoder = msgspec.json.Decoder(_VersionOnly)


def encode(message: Message) -> bytes:
    """The JSON body of ``message`` (UTF-8 bytes, ``type`` first)."""
    return _encoder.encode(message)


def to_frames(message: Message) -> list[bytes]:
    """The ZeroMQ multipart of ``message``: ``[topic, body]``."""
    return [message.type.encode(), _encoder.encode(message)]


def decode(body: bytes | bytearray | memoryview | str, topic: bytes | None = None) -> Message:
    """Validate and decode one JSON body; with ``topic`` the body must be that type.

    Raises :class:`ProtocolError` (a ``ValueError``) whose ``reason`` names the offending field
    (``$.tracks[2].x``), an unknown topic or type, or an unsupported version. On the wire
    ``seq`` must be at least 1.
    """
    if topic is None:
        decoder = _any_decoder
    else:
        decoder = _decoders.get(bytes(topic))  # type: ignore[assignment]
        if decoder is None:
            raise ProtocolError(
                f"unknown topic {bytes(topic)[:40]!r}; expected one of {list(MESSAGE_TYPES)}"
            )
    try:
        message = decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise ProtocolError(_version_reason(body) or f"invalid {_what(topic)}: {exc}") from None
    except msgspec.DecodeError as exc:
        raise ProtocolError(f"body is not JSON: {exc}") from None
    if message.seq < 1:
        raise ProtocolError(f"invalid {message.type}: seq must be >= 1 on the wire - at `$.seq`")
    return message


def _what(topic: bytes | None) -> str:
    return "message" if topic is None else bytes(topic).decode("ascii", "replace")


def _version_reason(body: bytes | bytearray | memoryview | str) -> str | None:
    """If a body failed because it is another schema version, say so instead of the field."""
    try:
        v = _version_decoder.decode(body).v
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    if v is None or (type(v) is int and v in SUPPORTED_VERSIONS):
        return None
    if type(v) is not int:
        return f"invalid message: `v` must be an integer schema version, got {v!r:.40} - at `$.v`"
    return f"unsupported schema version v={v!r} (this build reads {sorted(SUPPORTED_VERSIONS)})"


def json_schema() -> dict[str, object]:
    """The JSON schema of every message (for documentation and other languages)."""
    return msgspec.json.schema(Message)  # type: ignore[no-any-return]
