"""Receipt delivery by HTTP webhook: the worker that empties the outbox (``outbox.py``).

Each due outbox row is POSTed as its stored JSON body with these headers:

- ``X-Walkout-Signature: t=UNIX_SECONDS,v1=HEX``, where HEX is HMAC-SHA256 with the shared
  secret over ``"{t}.".encode() + body`` (the timestamp inside the signed text stops a replay
  of an old delivery from looking new; :func:`verify_signature` is the receiver's check);
- ``X-Walkout-Receipt`` and ``X-Walkout-Version``, and ``Idempotency-Key: RECEIPT:VERSION``:
  the same version may arrive twice (the server died after the receiver answered but before
  it wrote that down), so a receiver keeps what it has seen by that key.

A row is marked delivered only on a 2xx answer. Anything else (an error status, a refused
connection, a timeout) counts as a failure and the row is tried again after
``backoff_initial_s * 2**(failures - 1)`` seconds, at most ``backoff_max_s``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

from walkout.config.server import Webhook
from walkout.server.auth import read_secret_file
from walkout.server.outbox import Outbox, OutboxRow

log = logging.getLogger("walkout.server.webhook")
_NS = 1_000_000_000


def sign(secret: bytes, body: bytes, t_s: int) -> str:
    mac = hmac.new(secret, f"{t_s}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t_s},v1={mac}"


def verify_signature(secret: bytes, header: str, body: bytes, now_s: float,
                     tolerance_s: float = 300.0) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` within ``tolerance_s`` of now."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        t_s = int(fields["t"])
    except (ValueError, KeyError):
        return False
    if abs(now_s - t_s) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, body, t_s), header)


def read_secret(path: Path) -> bytes:
    return read_secret_file(path, "webhook.secret_file")


def backoff_s(failures: int, initial_s: float, max_s: float) -> float:
    """Wait after the ``failures``-th failure in a row (1, 2, ...)."""
    return min(max_s, initial_s * 2.0 ** min(max(failures - 1, 0), 60))


class WebhookWorker:
    """Delivers the outbox in a daemon thread until :meth:`stop`."""

    def __init__(self, outbox: Outbox, config: Webhook, secret: bytes) -> None:
        self.outbox = outbox
        self.config = config
        self.secret = secret
        self.delivered = 0
        self.failures = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="walkout-webhook", daemon=True)

    def start(self) -> WebhookWorker:
        self._thread.start()
        return self

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=self.config.timeout_s + 5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                for row in self.outbox.due(time.time_ns()):
                    if self._stop.is_set():
                        return
                    self.deliver(row)
                next_ns = self.outbox.next_due_ns()
            except Exception:  # the database closing under us at stop, or a bug: go on
                log.exception("webhook delivery step failed")
                next_ns = None
            wait = 1.0 if next_ns is None else (next_ns - time.time_ns()) / _NS
            self._wake.wait(min(max(wait, 0.01), 1.0))
            self._wake.clear()

    def deliver(self, row: OutboxRow) -> bool:
        body = row.body.encode()
        request = urllib.request.Request(self.config.url, data=body, method="POST", headers={
            "Content-Type": "application/json",
            "X-Walkout-Signature": sign(self.secret, body, int(time.time())),
            "X-Walkout-Receipt": row.receipt,
            "X-Walkout-Version": str(row.version),
            "Idempotency-Key": f"{row.receipt}:{row.version}",
        })
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout_s) as reply:
                status, error = reply.status, ""
        except urllib.error.HTTPError as exc:
            status, error = exc.code, f"HTTP {exc.code}"
            exc.close()
        except (OSError, ValueError) as exc:  # refused, reset, timed out, bad URL
            status, error = 0, f"{type(exc).__name__}: {exc}"
        if 200 <= status < 300:
            self.outbox.delivered(row, time.time_ns(), status)
            self.delivered += 1
            return True
        self.failures += 1
        wait = backoff_s(row.attempts + 1, self.config.backoff_initial_s,
                         self.config.backoff_max_s)
        self.outbox.failed(row, time.time_ns() + int(wait * _NS), error or f"HTTP {status}")
        log.warning("webhook delivery of %s v%d failed (%s, try %d); next in %.1f s",
                    row.receipt, row.version, error or status, row.attempts + 1, wait)
        return False
