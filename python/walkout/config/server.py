"""``kind: server``: the store server — where it listens, where it keeps its state, whom it
lets in, and how long it waits before a receipt."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from walkout.config.base import NonNegativeFloat, PositiveFloat, Probability, StrictModel


class Endpoint(StrictModel):
    endpoint: str = Field(pattern=r"^(tcp|ipc)://.+", description="ZeroMQ endpoint to bind")


class Http(StrictModel):
    host: str = Field("127.0.0.1", description="address the HTTP API binds")
    port: int = Field(8080, ge=0, le=65535, description="HTTP port (0 = any free port)")


class Database(StrictModel):
    backend: Literal["sqlite"] = Field("sqlite", description="storage backend")
    path: Path = Field(description="database file, relative to this file")


class ServerKeys(StrictModel):
    secret: Path = Field(description="the server's secret key file")
    allowed: list[Path] = Field(
        min_length=1,
        description="public key files of every edge box, gate and shelf gateway "
        "allowed to connect (CURVE); anyone else is refused",
    )


class Server(StrictModel):
    kind: Literal["server"]
    store: Path = Field(description="store file, relative to this file")
    ingest: Endpoint = Field(description="where boxes, gates and shelf gateways send")
    publish: Endpoint = Field(description="where receipts are published")
    http: Http = Field(default_factory=Http)
    database: Database
    keys: ServerKeys
    settle_window_s: PositiveFloat = Field(
        15.0,
        le=300,
        description="wait after exit for late weight events before the receipt; "
        "longer catches slower shelves, shorter sends receipts sooner",
    )
    review_threshold: Probability = Field(
        0.8,
        description="receipts below this confidence wait for a person; higher is safer "
        "but sends more to review",
    )
    clock_skew_tolerance_s: NonNegativeFloat = Field(
        0.25, description="clock offset tolerated between sources before health warns"
    )
