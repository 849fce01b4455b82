"""``kind: server``: the store server — where it listens, where it keeps its state, whom it
lets in, and how long it waits before a receipt."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from walkout.config.base import (
    Identifier,
    NonNegativeFloat,
    PositiveFloat,
    Probability,
    StrictModel,
)


class Endpoint(StrictModel):
    endpoint: str = Field(pattern=r"^(tcp|ipc)://.+", description="ZeroMQ endpoint to bind")


class Publish(Endpoint):
    subscribers: list[Path] = Field(
        default_factory=list,
        description="public key files allowed to subscribe to the receipt stream (CURVE, "
        "with the server's key pair, like the inbound wire); empty: the keys of keys.allowed",
    )


class Tls(StrictModel):
    cert: Path = Field(description="PEM certificate (chain) file, relative to this file")
    key: Path = Field(description="PEM private key file, relative to this file")


class Http(StrictModel):
    host: str = Field(
        "127.0.0.1",
        description="address the HTTP API binds; loopback by default: another address exposes "
        "the API (and dashboard) to the network, so give it tls too",
    )
    port: int = Field(8080, ge=0, le=65535, description="HTTP port (0 = any free port)")
    tls: Tls | None = Field(None, description="serve HTTPS with this certificate and key")


Role = Literal["viewer", "reviewer", "admin", "app"]


class Token(StrictModel):
    name: Identifier = Field(description="who holds it: the reviewer identity in the audit trail")
    role: Role = Field(
        description="viewer: read everything; reviewer: viewer + decide reviews; admin: "
        "everything; app: the shopper app's backend (an account's receipts, disputes)"
    )
    sha256: str | None = Field(
        None, pattern=r"^[0-9a-f]{64}$",
        description="hex SHA-256 of the token (`walkout keys token NAME --role R --out FILE` prints it): the "
        "config then holds no secret",
    )
    file: Path | None = Field(
        None, description="a file holding the token itself (mode 0600, outside the repo)"
    )

    @model_validator(mode="after")
    def _one_source(self) -> Token:
        if (self.sha256 is None) == (self.file is None):
            raise ValueError(f"token {self.name!r}: expected exactly one of sha256 or file")
        return self


class Auth(StrictModel):
    tokens: list[Token] = Field(
        default_factory=list,
        description="bearer tokens of the HTTP API; with none, every API request is refused "
        "(401) and only the dashboard's static files are served",
    )

    @model_validator(mode="after")
    def _unique_names(self) -> Auth:
        names = [t.name for t in self.tokens]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"tokens: names must be unique, repeated: {', '.join(dupes)}")
        return self


class Webhook(StrictModel):
    url: str = Field(pattern=r"^https?://.+", description="where receipts are POSTed")
    secret_file: Path = Field(
        description="file holding the HMAC-SHA256 key that signs each delivery "
        "(header X-Walkout-Signature)"
    )
    timeout_s: PositiveFloat = Field(10.0, le=120, description="one POST's time limit")
    backoff_initial_s: PositiveFloat = Field(
        1.0, description="wait after the first failure; doubled after each next one"
    )
    backoff_max_s: PositiveFloat = Field(
        300.0, description="longest wait between two tries; shorter delivers sooner after an "
        "outage, longer knocks less on a receiver that is down"
    )


class Review(StrictModel):
    deadline_s: PositiveFloat = Field(
        900.0,
        description="a receipt waiting for a person this long escalates (flagged first in "
        "the queue, logged, counted in /metrics); shorter bills sooner, longer bothers less",
    )


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
    publish: Publish = Field(description="where receipts are published (ZeroMQ PUB, CURVE)")
    http: Http = Field(default_factory=Http)
    auth: Auth = Field(default_factory=Auth)
    webhook: Webhook | None = Field(
        None, description="deliver every billed receipt to the shopper app's backend"
    )
    review: Review = Field(default_factory=Review)
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
