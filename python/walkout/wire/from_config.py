"""Both ends of the wire built from the validated configs (``kind: edge`` / ``kind: server``),
so the edge supervisor, gates, gateways and the store server open the wire the same way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from walkout.config.loader import LoadedEdge, LoadedServer
from walkout.wire.keys import load_allowed_keys, load_key_pair, load_secret_key
from walkout.wire.receiver import Receiver
from walkout.wire.sender import Sender
from walkout.wire.store import MessageStore, SqliteStore


def sender_for_edge(
    edge: LoadedEdge, *, spool_dir: Path | str | None = None, **options: Any
) -> Sender:
    """The :class:`Sender` of an edge box: ``src`` = ``box``, endpoint, keys and spool from
    its edge file. ``spool_dir`` overrides ``spool.dir``; ``options`` go to :class:`Sender`
    (timings, window, durability)."""
    config = edge.config
    return Sender(
        config.server.endpoint,
        config.box,
        spool_dir if spool_dir is not None else edge.resolve(config.spool.dir),
        secret_key=load_secret_key(edge.resolve(config.keys.secret)),
        server_public_key=load_key_pair(edge.resolve(config.server.server_public_key)).public,
        max_spool_bytes=int(config.spool.max_mb * 1024 * 1024),
        **options,
    )


def receiver_for_server(
    server: LoadedServer,
    store: MessageStore | None = None,
    *,
    endpoint: str | None = None,
    **options: Any,
) -> Receiver:
    """The :class:`Receiver` of the store server: ``ingest.endpoint``, ``keys.secret``,
    ``keys.allowed``; ``store`` defaults to :class:`SqliteStore` at ``database.path``.
    ``endpoint`` overrides the config's; ``options`` go to :class:`Receiver`."""
    config = server.config
    if store is None:
        store = SqliteStore(server.resolve(config.database.path))
    return Receiver(
        endpoint or config.ingest.endpoint,
        store,
        secret_key=load_secret_key(server.resolve(config.keys.secret)),
        allowed_keys=load_allowed_keys(server.resolve(p) for p in config.keys.allowed),
        **options,
    )
