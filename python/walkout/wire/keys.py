"""CURVE key pairs in ZeroMQ's own certificate format, and the gate that lets only known keys in.

``walkout keys generate NAME`` writes ``NAME.key`` (public, share it with the server) and
``NAME.key_secret`` (secret, stays on the machine), exactly as ``zmq.auth.create_certificates``
and czmq's ``zcert`` do, so keys made by either tool work with the other.

Name each source's key after its id (``box-1.key`` for the box whose ``src`` is ``box-1``): the
receiver uses the file name as the key's identity and refuses a message whose ``src`` is not
the name of the key that sent it, so one box cannot speak for another.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

log = logging.getLogger("walkout.wire.keys")


@dataclass(frozen=True)
class KeyPair:
    """A CURVE key pair as Z85 text (40 ASCII bytes each); ``secret`` is None for public-only."""

    name: str
    public: bytes
    secret: bytes | None


def generate_keys(
    name: str, directory: Path | str = ".", *, overwrite: bool = False
) -> tuple[Path, Path]:
    """Write ``NAME.key`` and ``NAME.key_secret`` in ``directory``; returns (public, secret) paths.

    Refuses to overwrite an existing pair unless ``overwrite`` (a replaced secret locks that
    source out until the server's allowed list is updated). The secret file is made readable
    by its owner only.
    """
    if not name or any(c in name for c in "/\\\0") or name.startswith("."):
        raise ValueError(f"name: expected a plain file name such as 'box-1', got {name!r}")
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    public, secret = folder / f"{name}.key", folder / f"{name}.key_secret"
    if not overwrite and (public.exists() or secret.exists()):
        raise FileExistsError(
            f"{public} or {secret} already exists (use --force, or overwrite=True, to replace it)"
        )
    public_path, secret_path = zmq.auth.create_certificates(str(folder), name)
    os.chmod(secret_path, 0o600)
    return Path(public_path), Path(secret_path)


def load_key_pair(path: Path | str) -> KeyPair:
    """Read a certificate file (``.key`` or ``.key_secret``); ValueError names the file."""
    path = Path(path)
    try:
        public, secret = zmq.auth.load_certificate(str(path))
    except (OSError, ValueError) as exc:
        raise ValueError(f"key file {path}: expected a ZeroMQ certificate ({exc})") from None
    name = path.name.removesuffix("_secret").removesuffix(".key")
    return KeyPair(name=name, public=public, secret=secret)


def load_secret_key(path: Path | str) -> KeyPair:
    """A key pair that must include the secret (a ``.key_secret`` file)."""
    pair = load_key_pair(path)
    if pair.secret is None:
        raise ValueError(
            f"key file {path}: expected a secret key (NAME.key_secret), found only a public key"
        )
    return pair


def load_allowed_keys(paths: Iterable[Path | str]) -> dict[bytes, str]:
    """Public key (Z85) -> name, from the server config's ``keys.allowed`` files."""
    allowed: dict[bytes, str] = {}
    for path in paths:
        pair = load_key_pair(path)
        allowed[pair.public] = pair.name
    return allowed


class _KeyGate:
    """The ZAP credentials check: known keys pass, unknown ones are logged with their key."""

    def __init__(self, allowed: dict[bytes, str], endpoint: str) -> None:
        self.allowed = allowed
        self.endpoint = endpoint
        self.refused = 0

    def callback(self, domain: str, key: bytes) -> bool:
        if key in self.allowed:
            return True
        self.refused += 1
        log.warning(
            "refused a connection to %s: unknown CURVE public key %s (add its .key "
            "file to keys.allowed to let it in)",
            self.endpoint,
            key.decode("ascii"),
        )
        return False


class _NamedAuthenticator(ThreadAuthenticator):
    """Reports each connection's key *name* as its ZeroMQ User-Id, so the receiver can check
    that a message's ``src`` matches the key that sent it."""

    def __init__(self, context: zmq.Context, allowed: dict[bytes, str]) -> None:
        super().__init__(context, log=logging.getLogger("walkout.wire.zap"))
        self._names = allowed

    def curve_user_id(self, client_public_key: bytes) -> str:
        from zmq.utils import z85

        return self._names.get(z85.encode(client_public_key), "")


def start_key_gate(
    context: zmq.Context, allowed: dict[bytes, str], endpoint: str
) -> tuple[ThreadAuthenticator, _KeyGate]:
    """Start the ZAP handler of ``context`` that admits only ``allowed`` public keys."""
    if not allowed:
        raise ValueError(
            "allowed: expected at least one public key; an empty list refuses every source"
        )
    auth = _NamedAuthenticator(context, allowed)
    auth.start()
    gate = _KeyGate(allowed, endpoint)
    auth.configure_curve_callback(domain="*", credentials_provider=gate)
    return auth, gate


def make_curve_server(socket: zmq.Socket, secret: KeyPair) -> None:
    """Turn ``socket`` into a CURVE server with this key pair (before bind)."""
    socket.curve_secretkey = secret.secret
    socket.curve_publickey = secret.public
    socket.curve_server = True


def make_curve_client(socket: zmq.Socket, secret: KeyPair, server_public: bytes) -> None:
    """Turn ``socket`` into a CURVE client that trusts only ``server_public`` (before connect)."""
    socket.curve_secretkey = secret.secret
    socket.curve_publickey = secret.public
    socket.curve_serverkey = server_public
