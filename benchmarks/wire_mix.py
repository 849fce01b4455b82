"""A realistic message mix for the wire benchmarks, and the pydantic mirror of the schema that
the peer loop validates with (what a user would write without walkout.wire)."""

from __future__ import annotations

import random
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from walkout import protocol as p

# Share of each type in one store's traffic: tracks for every processed frameset dominate.
MIX = (
    ("tracks", 0.90),
    ("reach", 0.03),
    ("dwell", 0.02),
    ("weight", 0.02),
    ("checkin", 0.01),
    ("health", 0.02),
)


def make_messages(src: str, count: int, seed: int = 0) -> list[p.Message]:
    """``count`` messages of ``src`` in the proportions of :data:`MIX` (seq left to the sender)."""
    rng = random.Random(seed)
    kinds = rng.choices([k for k, _ in MIX], weights=[w for _, w in MIX], k=count)
    out: list[p.Message] = []
    t = 1_764_400_000_000_000_000
    for i, kind in enumerate(kinds):
        t += 66_666_667
        if kind == "tracks":
            out.append(
                p.Tracks(
                    src=src,
                    t_ns=t,
                    tracks=[
                        p.TrackState(
                            id=(i + j) % 97,
                            x=rng.uniform(0, 20),
                            y=rng.uniform(0, 12),
                            vx=rng.uniform(-1, 1),
                            vy=rng.uniform(-1, 1),
                            confidence=rng.uniform(0.5, 1.0),
                            cameras=["cam-1", "cam-2"],
                        )
                        for j in range(rng.randint(2, 8))
                    ],
                )
            )
        elif kind == "reach":
            out.append(
                p.Reach(
                    src=src,
                    t_ns=t,
                    track=i % 97,
                    shelf="shelf-3",
                    slot="shelf-3/front/r1c2",
                    start_ns=t - 900_000_000,
                    end_ns=t,
                    hand="right",
                    confidence=0.87,
                )
            )
        elif kind == "dwell":
            out.append(
                p.Dwell(
                    src=src,
                    t_ns=t,
                    track=i % 97,
                    shelf="shelf-3",
                    enter_ns=t - 5_000_000_000,
                    leave_ns=t,
                )
            )
        elif kind == "weight":
            out.append(
                p.Weight(
                    src=src,
                    t_ns=t,
                    shelf="shelf-3",
                    slot="shelf-3/front/r1c2",
                    delta_g=-355.0,
                    after_g=1420.0,
                )
            )
        elif kind == "checkin":
            out.append(
                p.Checkin(
                    src=src,
                    t_ns=t,
                    gate="gate-1",
                    account=f"acct-{i}",
                    party_size=2,
                    profile=p.SharedProfile(age_band="25-34"),
                )
            )
        else:
            out.append(
                p.Health(
                    src=src,
                    t_ns=t,
                    cameras=[
                        p.CameraHealth(camera=f"cam-{c}", fps=14.8, dropped_frames=3, reconnects=0)
                        for c in range(1, 5)
                    ],
                    latency_p50_ms=38.0,
                    latency_p95_ms=61.0,
                    latency_p99_ms=80.0,
                    clock_offset_ns=-120_000,
                )
            )
    return out


# --- the peer's models: the same schema written the usual pydantic way -------------------------


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _Head(_M):
    v: Literal[1]
    src: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
    seq: int = Field(ge=1)
    t_ns: int = Field(ge=0)


class _TrackState(_M):
    id: int = Field(ge=0)
    x: float
    y: float
    vx: float = 0.0
    vy: float = 0.0
    confidence: float = Field(ge=0, le=1)
    cameras: list[str] = []


class _Tracks(_Head):
    type: Literal["tracks"]
    tracks: list[_TrackState]


class _Reach(_Head):
    type: Literal["reach"]
    track: int
    shelf: str
    slot: str
    start_ns: int
    end_ns: int
    hand: Literal["left", "right", "unknown"] = "unknown"
    confidence: float = Field(ge=0, le=1)


class _Dwell(_Head):
    type: Literal["dwell"]
    track: int
    shelf: str
    enter_ns: int
    leave_ns: int


class _Weight(_Head):
    type: Literal["weight"]
    shelf: str
    slot: str
    delta_g: float
    after_g: float


class _Profile(_M):
    age_band: str | None = None


class _Checkin(_Head):
    type: Literal["checkin"]
    gate: str
    account: str
    party_size: int | None = None
    profile: _Profile = _Profile()


class _CameraHealth(_M):
    camera: str
    fps: float
    dropped_frames: int = 0
    reconnects: int = 0


class _Health(_Head):
    type: Literal["health"]
    cameras: list[_CameraHealth] = []
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None
    latency_p99_ms: float | None = None
    clock_offset_ns: int | None = None
    spool_fill: float | None = None
    spool_full: bool = False


PYDANTIC_MESSAGE = TypeAdapter(
    Annotated[
        Union[_Tracks, _Reach, _Dwell, _Weight, _Checkin, _Health],  # noqa: UP007
        Field(discriminator="type"),
    ]
)
"""``PYDANTIC_MESSAGE.validate_json(body)``: the peer's validation."""
