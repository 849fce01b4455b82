"""Bearer tokens and roles of the HTTP API.

Each token in the server config (``auth.tokens``) has a name (who holds it: the reviewer
identity written in the audit trail) and a role:

- ``viewer``: reads everything (dashboard, receipts, analytics, metrics);
- ``reviewer``: a viewer who also decides reviews;
- ``admin``: everything, including the delivery outbox;
- ``app``: the shopper app's backend: an account's receipts and disputes, nothing else.

A request carries ``Authorization: Bearer TOKEN``. The server keeps only each token's SHA-256
(from the config, or hashed from a token file at start) and compares digests in constant
time. No token: 401; a token whose role may not use the route: 403.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from walkout.config.server import Auth

ROLES = ("viewer", "reviewer", "admin", "app")
READ = frozenset({"viewer", "reviewer", "admin"})
DECIDE = frozenset({"reviewer", "admin"})
ADMIN = frozenset({"admin"})
APP = frozenset({"app", "admin"})
PUBLIC: frozenset[str] = frozenset()
"""routes open to anyone (the dashboard's static files, which hold no data)"""


@dataclass(frozen=True)
class Principal:
    name: str
    role: str


class AuthError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A fresh random token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def read_secret_file(path: Path, what: str) -> bytes:
    """A secret kept in its own file (API token, webhook key), stripped; ``what`` names it
    in the error. Shorter than 16 bytes is refused: too easy to guess."""
    try:
        secret = path.read_bytes().strip()
    except OSError as exc:
        raise ValueError(f"{what} {path}: cannot read ({exc.strerror})") from None
    if len(secret) < 16:
        raise ValueError(f"{what} {path}: expected a secret of at least 16 bytes")
    return secret


def read_token_file(path: Path) -> str:
    return read_secret_file(path, "auth token file").decode()


class TokenTable:
    """Token digests -> who holds them (built once at start from ``auth``)."""

    def __init__(self, entries: Iterable[tuple[str, str, str]]) -> None:
        self._entries = [(bytes.fromhex(d), Principal(n, r)) for d, n, r in entries]

    @classmethod
    def from_config(cls, auth: Auth, resolve: object) -> TokenTable:
        rows = []
        for t in auth.tokens:
            if t.sha256 is not None:
                digest = t.sha256
            else:
                assert t.file is not None
                digest = token_digest(read_token_file(resolve(t.file)))  # type: ignore[operator]
            rows.append((digest, t.name, t.role))
        return cls(rows)

    def __len__(self) -> int:
        return len(self._entries)

    def who(self, authorization: str | None) -> Principal:
        """The holder of the header's token, or AuthError(401)."""
        if not authorization:
            raise AuthError(401, "authorization: expected 'Bearer TOKEN'")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError(401, "authorization: expected 'Bearer TOKEN'")
        digest = hashlib.sha256(token.strip().encode()).digest()
        found = None
        for known, who in self._entries:  # every entry compared: no early exit on a match
            if hmac.compare_digest(known, digest):
                found = who
        if found is None:
            raise AuthError(401, "authorization: unknown token")
        return found


def check_role(who: Principal, allowed: frozenset[str], what: str) -> None:
    if who.role not in allowed:
        raise AuthError(403, f"{what}: role {who.role!r} may not; needs one of "
                        f"{', '.join(sorted(allowed))}")
