"""The running store server: wire receiver in, core thread, receipt publisher and HTTP API out.

Threads:

- the wire receiver (``walkout.wire.Receiver``) stores each accepted batch in the database,
  then acks it, then wakes the core thread;
- the core thread reads what was stored (:meth:`StoreCore.pump`), advances time
  (:meth:`StoreCore.tick`) at least every ``tick_s``, and publishes every receipt that is
  issued but not yet published (ZeroMQ PUB, topic ``receipt``);
- the HTTP API and dashboard (``http_api.py``), behind bearer tokens (``auth.py``);
- the webhook worker (``webhook.py``), when ``webhook`` is configured.

Billing a receipt (issued, or confirmed / corrected by a person) gives it its next version in
the outbox and marks it published in one transaction (``outbox.py``); then it goes out on the
CURVE-encrypted ZeroMQ PUB socket (topic ``receipt``) and the webhook worker delivers the
outbox row. The core is used under one lock, so the API sees a consistent state. After a
crash the server starts by replaying every stored event through the core, then bills
whatever was decided but not published, and the worker delivers every undelivered version.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import zmq

from walkout import protocol
from walkout.config.loader import LoadedServer
from walkout.server.analytics import analytics
from walkout.server.auth import TokenTable
from walkout.server.cart import CartRules
from walkout.server.core import CoreSettings, StoreCore, line_json
from walkout.server.db import SqliteServerStore, StoredReceipt
from walkout.server.floor import layout, shoppers_now
from walkout.server.http_api import HttpApi, tls_context
from walkout.server.outbox import Outbox
from walkout.server.planogram import Planogram
from walkout.server.receipts import corrected_lines
from walkout.server.review import ReviewDesk
from walkout.server.shoppers import ShopperParams
from walkout.server.webhook import WebhookWorker, read_secret

log = logging.getLogger("walkout.server")


class StoreServer:
    """One store's server, configured by a loaded ``kind: server`` file.

    Parameters
    ----------
    loaded:
        The validated server config (with its store).
    settings:
        Overrides of the timing (``CoreSettings``); by default the config's
        ``settle_window_s`` and ``review_threshold``.
    http_port:
        Overrides ``http.port`` (0 = any free port, reported by :attr:`http_port`).
    tick_s:
        Longest the core waits between two looks at the clock; lower issues receipts closer
        to the end of their settle window, higher wakes less when idle.
    synchronous:
        SQLite durability (see :class:`SqliteServerStore`).
    """

    def __init__(self, loaded: LoadedServer, *, settings: CoreSettings | None = None,
                 rules: CartRules | None = None, shopper_params: ShopperParams | None = None,
                 http_port: int | None = None, tick_s: float = 0.1,
                 synchronous: str = "FULL") -> None:
        if tick_s <= 0:
            raise ValueError(f"tick_s: expected seconds > 0, got {tick_s}")
        cfg = loaded.config
        self.loaded = loaded
        self.planogram = Planogram(loaded.store.config)
        base = CoreSettings(settle_window_s=cfg.settle_window_s,
                            review_threshold=cfg.review_threshold,
                            clock_skew_tolerance_s=cfg.clock_skew_tolerance_s)
        self.settings = settings or base
        self.db = SqliteServerStore(loaded.resolve(cfg.database.path),
                                    synchronous=synchronous)  # type: ignore[arg-type]
        self.core = StoreCore(self.planogram, self.db, self.settings, rules or CartRules(),
                              shopper_params or ShopperParams())
        self.tick_s = tick_s
        self.tokens = TokenTable.from_config(cfg.auth, loaded.resolve)
        if not len(self.tokens):
            log.warning("auth.tokens is empty: every HTTP API request will be refused (401)")
        self.outbox = Outbox(self.db)
        self.review = ReviewDesk(self.db, self.outbox, cfg.review.deadline_s)
        self.layout = layout(loaded.store.config)
        self.webhook: WebhookWorker | None = None
        if cfg.webhook is not None:
            self.webhook = WebhookWorker(self.outbox, cfg.webhook,
                                         read_secret(loaded.resolve(cfg.webhook.secret_file)))
        self._tls = (tls_context(loaded.resolve(cfg.http.tls.cert),
                                 loaded.resolve(cfg.http.tls.key)) if cfg.http.tls else None)
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._ctx = zmq.Context()
        self._pub_ctx = zmq.Context()  # its own ZAP handler: subscribers' keys, not sources'
        self._pub_auth: Any = None
        self._pub_gate: Any = None
        self._steps = 0
        self._step_s = 0.0
        self._next_escalation = 0.0
        self._receiver: Any = None
        self._pub: zmq.Socket | None = None
        self._http: HttpApi | None = None
        self._thread: threading.Thread | None = None
        self._http_port = cfg.http.port if http_port is None else http_port
        box = self.outbox.counts()
        self._pub_seq = box["pending"] + box["delivered"]  # versions billed so far
        self.published = 0

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> StoreServer:
        from walkout.wire import Receiver, load_allowed_keys, load_secret_key
        from walkout.wire.keys import make_curve_server, start_key_gate

        cfg = self.loaded.config
        t = time.perf_counter()
        with self._lock:
            replayed = self.core.pump()
            self.core.tick()
        if replayed:
            log.info("recovered %d stored events in %.1f s: %d sessions, %d receipts", replayed,
                     time.perf_counter() - t, len(self.core.sessions), len(self.db.receipts()))
        secret = load_secret_key(self.loaded.resolve(cfg.keys.secret))
        allowed = load_allowed_keys(self.loaded.resolve(p) for p in cfg.keys.allowed)
        subscribers = load_allowed_keys(self.loaded.resolve(p) for p in
                                        (cfg.publish.subscribers or cfg.keys.allowed))
        self._pub_auth, self._pub_gate = start_key_gate(self._pub_ctx, subscribers,
                                                        cfg.publish.endpoint)
        self._pub = self._pub_ctx.socket(zmq.PUB)
        self._pub.linger = 1000
        make_curve_server(self._pub, secret)
        self._pub.bind(cfg.publish.endpoint)
        self._receiver = Receiver(cfg.ingest.endpoint, self.db, secret_key=secret,
                                  allowed_keys=allowed, server_id="server",
                                  on_batch=lambda n: self._wake.set(), context=self._ctx)
        self._receiver.start()
        self._http = HttpApi(self, cfg.http.host, self._http_port, self._tls).start()
        if self.webhook is not None:
            self.webhook.start()
        self._thread = threading.Thread(target=self._run, name="walkout-core", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.webhook is not None and self._thread is not None:
            self.webhook.stop()
        if self._http is not None:
            self._http.stop()
        if self._receiver is not None:
            self._receiver.close()
        if self._pub is not None:
            self._pub.close()
        if self._pub_auth is not None:
            self._pub_auth.stop()
        self._ctx.term()
        self._pub_ctx.term()
        self.db.close()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @property
    def ingest_endpoint(self) -> str:
        return str(self._receiver.last_endpoint) if self._receiver else ""

    @property
    def publish_endpoint(self) -> str:
        if self._pub is None:
            return ""
        return self._pub.getsockopt_string(zmq.LAST_ENDPOINT)

    @property
    def http_url(self) -> str:
        if self._http is None:
            return ""
        return f"{self._http.scheme}://{self._http.host}:{self._http.port}"

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.tick_s)
            self._wake.clear()
            try:
                started = time.perf_counter()
                with self._lock:
                    self.core.pump()
                    self.core.tick()
                self._steps += 1
                self._step_s += time.perf_counter() - started
                self._publish_pending()
                if time.monotonic() >= self._next_escalation:
                    self._next_escalation = time.monotonic() + 1.0
                    self.review.escalate_overdue(time.time_ns())
            except Exception:  # a bad event must not stop the store: log it and go on
                log.exception("server core step failed")
                time.sleep(self.tick_s)

    def _publish_pending(self) -> None:
        assert self._pub is not None
        for receipt in self.db.unpublished():
            version = self.outbox.bill(receipt, self._delivery_body(receipt), time.time_ns())
            if version is None:
                continue
            self._pub_seq += 1
            message = protocol.Receipt(
                src="server", seq=self._pub_seq, t_ns=receipt.issued_ns or time.time_ns(),
                account=receipt.account, session=receipt.session,
                lines=[protocol.ReceiptLine(sku=x["sku"], name=x["name"], qty=x["qty"],
                                            unit_price_cents=x["unit_price_cents"])
                       for x in receipt.lines],
                currency=self.planogram.currency, total_cents=receipt.total_cents,
                confidence=receipt.confidence)
            self._pub.send_multipart(protocol.to_frames(message))
            self.published += 1
            if self.webhook is not None:
                self.webhook.wake()

    def _delivery_body(self, receipt: StoredReceipt) -> dict[str, Any]:
        """What the shopper app's backend receives (the outbox adds ``version``)."""
        return {"receipt": receipt.session, "account": receipt.account,
                "status": receipt.status, "lines": receipt.lines,
                "total_cents": receipt.total_cents, "currency": self.planogram.currency,
                "confidence": receipt.confidence, "entry_ns": receipt.entry_ns,
                "exit_ns": receipt.exit_ns, "issued_ns": receipt.issued_ns}

    # --- what the API calls --------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        with self._lock:
            out = self.core.status()
        out["receipts"] = {s: len(self.db.receipts(s))
                           for s in ("issued", "review", "confirmed", "corrected")}
        out["published"] = self.published
        out["delivery"] = {**self.outbox.counts(), "webhook": self.webhook is not None,
                           "failures": self.webhook.failures if self.webhook else 0}
        if self._receiver is not None:
            stats = self._receiver.stats
            out["wire"] = {k: v for k, v in vars(stats).items() if not k.startswith("_")}
        return out

    def cart(self, session_id: str) -> dict[str, Any]:
        with self._lock:
            draft = self.core.draft(session_id)
        return {"session": session_id, "lines": [line_json(x) for x in draft.lines],
                "total_cents": draft.total_cents, "confidence": draft.confidence,
                "reasons": list(draft.reasons)}

    def receipt_json(self, receipt: StoredReceipt) -> dict[str, Any]:
        """A receipt as the API shows it: its row, the currency and its latest version."""
        return {**receipt.as_json(), "currency": self.planogram.currency,
                "version": self.outbox.latest_version(receipt.session)}

    def confirm(self, session: str, actor: str = "api", note: str = "") -> StoredReceipt:
        receipt = self.db.receipt(session)
        if receipt is None:
            raise KeyError(session)
        out = self.review.decide(session, "confirmed", receipt.lines, receipt.total_cents,
                                 actor, time.time_ns(), note)
        self._wake.set()
        return out

    def correct(self, session: str, lines: list[dict[str, object]], actor: str = "api",
                note: str = "") -> StoredReceipt:
        if self.db.receipt(session) is None:
            raise KeyError(session)
        fixed = corrected_lines(lines, self.planogram)
        rows = [line_json(x) for x in fixed]
        out = self.review.decide(session, "corrected", rows,
                                 sum(x.amount_cents for x in fixed), actor, time.time_ns(), note)
        self._wake.set()
        return out

    def dispute(self, session: str, reason: str, actor: str) -> StoredReceipt:
        return self.review.dispute(session, reason, actor, time.time_ns())

    def floor(self) -> dict[str, Any]:
        with self._lock:
            return shoppers_now(self.core)

    def receiver_stats(self) -> Any:
        return None if self._receiver is None else self._receiver.stats

    def refused_keys(self) -> int:
        return 0 if self._receiver is None else int(self._receiver.refused_keys)

    def step_stats(self) -> tuple[int, float]:
        return self._steps, self._step_s

    def analytics(self) -> dict[str, Any]:
        with self._lock:
            return analytics(self.core)

