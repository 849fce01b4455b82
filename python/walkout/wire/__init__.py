"""The wire: reliable, ordered, exactly-once delivery of :mod:`walkout.protocol` messages from
every source (edge boxes, gates, shelf gateways, replay) to the store server, over ZeroMQ with
CURVE encryption and authentication.

- :class:`Sender` (any source): seq, on-disk spool, DEALER, resend until acked.
- :class:`Receiver` (server): ROUTER, validation, dedup by (src, seq), durable store, acks.
- :class:`SqliteStore`: the store the receiver writes to (:class:`MessageStore` is the contract).
- :mod:`walkout.wire.keys`: key pairs in ZeroMQ's certificate format.
"""

from walkout.wire.keys import (
    KeyPair,
    generate_keys,
    load_allowed_keys,
    load_key_pair,
    load_secret_key,
)
from walkout.wire.receiver import Receiver, ReceiverStats
from walkout.wire.sender import Sender, SenderStats
from walkout.wire.spool import Spool, SpoolFull
from walkout.wire.store import Accepted, MessageStore, SqliteStore

__all__ = [
    "Accepted",
    "KeyPair",
    "MessageStore",
    "Receiver",
    "ReceiverStats",
    "Sender",
    "SenderStats",
    "Spool",
    "SpoolFull",
    "SqliteStore",
    "generate_keys",
    "load_allowed_keys",
    "load_key_pair",
    "load_secret_key",
]
