"""The entry gate and the shelf weight gateways of a demo run: one ``walkout.wire.Sender`` per
source (its own CURVE key, sequence numbers and spool), paced by the edge boxes' progress.

The boxes read their videos as fast as the model lets them, slower or faster than real time,
so the gateways cannot follow the wall clock. They follow the boxes instead: ``advance(T)``
sends every scan and weight change stamped up to ``T`` and then a ``health`` report at ``T``,
which tells the server that this source has sent everything up to then. The demo calls it
with ``T`` = the slowest live box's last frameset + ``lead_s``: the gateways are never the
source the server waits for, and never more than ``lead_s`` ahead of what the boxes have seen
(a scan that arrives long before its shopper is harmless too: the server binds it when its
tracker has passed the scan).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from walkout import protocol


class Gateways:
    def __init__(self, messages: Sequence[protocol.Message], endpoint: str, keys: Path,
                 spool: Path) -> None:
        from walkout.wire import Sender, load_key_pair, load_secret_key

        server_public = load_key_pair(keys / "server.key").public
        self.pending = sorted(messages, key=lambda m: (m.t_ns, m.src))
        self.sources = sorted({m.src for m in messages})
        self.senders = {
            src: Sender(endpoint, src, spool / src, secret_key=load_secret_key(
                keys / f"{src}.key_secret"), server_public_key=server_public)
            for src in self.sources}
        self.sent = 0
        self.declared_ns = 0
        """every message stamped up to this was handed to its sender"""

    def advance(self, upto_ns: int) -> None:
        if upto_ns <= self.declared_ns:
            return
        while self.pending and self.pending[0].t_ns <= upto_ns:
            message = self.pending.pop(0)
            self.senders[message.src].send(message)
            self.sent += 1
        for src, sender in self.senders.items():
            sender.send(protocol.Health(src=src, t_ns=upto_ns))
        self.declared_ns = upto_ns

    def close(self, flush_s: float = 30.0) -> bool:
        ok = True
        for sender in self.senders.values():
            ok = sender.flush(flush_s) and ok
            sender.close()
        return ok
