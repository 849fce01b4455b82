"""The server's HTTP API and dashboard (stdlib ``http.server`` in threads; JSON in and out).

Every route is one row of :data:`ROUTES`: method, path pattern, the roles that may use it
(``auth.py``), and its handler. Requests carry ``Authorization: Bearer TOKEN``; without a
known token the answer is 401, with a token of another role 403. Only the dashboard's static
files (which hold no data: the page asks for a token and sends it with each call) are open.

Errors are JSON ``{"error": ...}``: 400 (bad request, naming the field), 401, 403, 404, 409
(the receipt is not in the state the request needs), 413 (body too large). The API binds to
loopback by default (``http.host``); ``http.tls`` serves HTTPS.
"""

from __future__ import annotations

import json
import logging
import re
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlparse

from walkout.metrics_text import CONTENT_TYPE as METRICS_TYPE
from walkout.server.auth import (
    ADMIN,
    APP,
    DECIDE,
    PUBLIC,
    READ,
    ROLES,
    AuthError,
    Principal,
    check_role,
)
from walkout.server.review import NotInReview

if TYPE_CHECKING:
    from walkout.server.app import StoreServer

log = logging.getLogger("walkout.server.http")
_MAX_BODY = 1 << 20
_STATIC_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                 ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
_STATIC_NAME = re.compile(r"^[a-z0-9_-]+\.(html|js|css|svg)$")
LIVE_INTERVAL_S = 0.5
"""how often the live floor stream sends the shoppers' positions"""


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Raw:
    """A reply that is not JSON (metrics text, a static file)."""

    content_type: str
    body: bytes


@dataclass(frozen=True)
class Stream:
    """A server-sent-events reply: each item of ``events`` is one ``data:`` line."""

    events: Iterator[object]


@dataclass(frozen=True)
class Request:
    server: StoreServer
    params: dict[str, str]
    query: dict[str, str]
    body: Any
    who: Principal | None


@dataclass(frozen=True)
class Route:
    method: str
    pattern: str
    roles: frozenset[str]
    handler: Callable[[Request], object]
    doc: str

    def match(self, method: str, parts: list[str]) -> dict[str, str] | None:
        want = [p for p in self.pattern.strip("/").split("/") if p]
        if method != self.method or len(want) != len(parts):
            return None
        params = {}
        for w, p in zip(want, parts, strict=True):
            if w.startswith("{"):
                params[w[1:-1]] = p
            elif w != p:
                return None
        return params


# --- handlers ----------------------------------------------------------------------------------


def _receipt(r: Request) -> object:
    receipt = r.server.db.receipt(r.params["id"])
    if receipt is None:
        raise KeyError(r.params["id"])
    return r.server.receipt_json(receipt)


def _decide(status: str) -> Callable[[Request], object]:
    def handler(r: Request) -> object:
        assert r.who is not None
        body = r.body if isinstance(r.body, dict) else {}
        note = body.get("note", "")
        if not isinstance(note, str) or len(note) > 1000:
            raise ValueError("note: expected a string of at most 1000 characters")
        if status == "confirmed":
            return r.server.confirm(r.params["id"], r.who.name, note).as_json()
        if not isinstance(r.body, dict) or "lines" not in r.body:
            raise ValueError('body: expected {"lines": [{"sku": str, "qty": int}, ...]}')
        return r.server.correct(r.params["id"], r.body["lines"], r.who.name, note).as_json()
    return handler


def _dispute(r: Request) -> object:
    assert r.who is not None
    if not isinstance(r.body, dict) or "reason" not in r.body:
        raise ValueError('body: expected {"reason": str}')
    return r.server.dispute(r.params["id"], r.body["reason"], r.who.name).as_json()


def _account_receipts(r: Request) -> object:
    return [r.server.receipt_json(x) for x in r.server.db.receipts()
            if x.account == r.params["id"]]


def _live(r: Request) -> object:
    def events() -> Iterator[object]:
        while not r.server.stopping:
            yield r.server.floor()
            time.sleep(LIVE_INTERVAL_S)
    return Stream(events())


def _metrics(r: Request) -> object:
    from walkout.server.metrics import server_metrics

    return Raw(METRICS_TYPE, server_metrics(r.server).encode())


def _static(name: str) -> Raw:
    if not _STATIC_NAME.match(name):
        raise KeyError(name)
    try:
        data = resources.files("walkout.server").joinpath("dashboard", name).read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        raise KeyError(name) from None
    return Raw(_STATIC_TYPES[Path(name).suffix], data)


def _retry(r: Request) -> object:
    return {"made_due": r.server.outbox.retry_now(time.time_ns())}


ROUTES: tuple[Route, ...] = (
    Route("GET", "/", PUBLIC, lambda r: _static("index.html"), "the dashboard"),
    Route("GET", "/dashboard/{file}", PUBLIC, lambda r: _static(r.params["file"]),
          "the dashboard's static files (no data)"),
    Route("GET", "/whoami", frozenset(ROLES),
          lambda r: {"name": r.who.name, "role": r.who.role} if r.who else {},
          "the token's holder and role"),
    Route("GET", "/status", READ, lambda r: r.server.status(),
          "events, tracking watermark, sources' health, receipts by status, delivery"),
    Route("GET", "/sessions", READ, lambda r: [s.as_json() for s in r.server.db.sessions()],
          "every session (account, members, entry, exit)"),
    Route("GET", "/sessions/{id}/cart", READ, lambda r: r.server.cart(r.params["id"]),
          "a session's cart as it stands now"),
    Route("GET", "/receipts", READ,
          lambda r: [r.server.receipt_json(x) for x in r.server.db.receipts(r.query.get("status"))],
          "receipts [?status=issued|review|confirmed|corrected]"),
    Route("GET", "/receipts/{id}", READ, _receipt, "one receipt, with its version"),
    Route("GET", "/receipts/{id}/audit", READ,
          lambda r: r.server.outbox.trail(r.params["id"]), "one receipt's audit trail"),
    Route("POST", "/receipts/{id}/dispute", APP, _dispute,
          'the shopper reopens a billed receipt into review: {"reason": str}'),
    Route("GET", "/accounts/{id}/receipts", APP | READ, _account_receipts,
          "an account's receipts (for the shopper app)"),
    Route("GET", "/review", READ, lambda r: r.server.review.queue(time.time_ns()),
          "the review queue: doubts, evidence, deadline, escalated first"),
    Route("POST", "/review/{id}/confirm", DECIDE, _decide("confirmed"),
          'bill the machine\'s lines as they are [{"note": str}]'),
    Route("POST", "/review/{id}/correct", DECIDE, _decide("corrected"),
          'bill these lines instead: {"lines": [{"sku": str, "qty": int}], "note": str}'),
    Route("GET", "/anomalies", READ, lambda r: r.server.db.anomalies(),
          "misplaced stock, unexplained weight changes, unknown reachers"),
    Route("GET", "/analytics", READ, lambda r: r.server.analytics(),
          "dwell, reaches, conversion per shelf, traffic and basket by hour"),
    Route("GET", "/floor", READ, lambda r: {**r.server.layout, **r.server.floor()},
          "the store's layout and the shoppers' positions now"),
    Route("GET", "/live", READ, _live,
          f"server-sent events: the shoppers' positions every {LIVE_INTERVAL_S} s"),
    Route("GET", "/metrics", READ, _metrics, "Prometheus text metrics"),
    Route("GET", "/audit", ADMIN, lambda r: r.server.outbox.trail(),
          "the whole audit trail, newest first"),
    Route("GET", "/outbox", ADMIN,
          lambda r: [x.as_json() for x in r.server.outbox.rows(pending="pending" in r.query)],
          "receipt deliveries (webhook) and their state [?pending]"),
    Route("POST", "/outbox/retry", ADMIN, _retry, "try every undelivered receipt now"),
)


def find_route(method: str, parts: list[str]) -> tuple[Route, dict[str, str]] | None:
    for route in ROUTES:
        params = route.match(method, parts)
        if params is not None:
            return route, params
    return None


def _parse(raw: bytes, method: str) -> Any:
    if method != "POST":
        return None
    try:
        return json.loads(raw or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"body: expected JSON ({exc})") from None


def _handler(server: StoreServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt: str, *args: Any) -> None:  # route to logging, not stderr
            log.debug("%s " + fmt, self.address_string(), *args)

        def _send(self, status: int, content_type: str, body: bytes,
                  extra: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def _reply(self, status: int, payload: object) -> None:
            extra = {"WWW-Authenticate": 'Bearer realm="walkout"'} if status == 401 else None
            self._send(status, "application/json", json.dumps(payload, indent=1).encode(),
                       extra)

        def _stream(self, stream: Stream) -> None:
            self.close_connection = True
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Connection", "close")
            self.end_headers()
            try:
                for event in stream.events:
                    self.wfile.write(b"data: " + json.dumps(event).encode() + b"\n\n")
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
                return  # the page went away

        def _raw_body(self, method: str) -> bytes:
            if method != "POST":
                return b""
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                self.close_connection = True
                raise ApiError(400, "Content-Length: expected an integer") from None
            if length > _MAX_BODY:
                self.close_connection = True  # the body is not read: the stream is lost
                raise ApiError(413, f"body: expected at most {_MAX_BODY} bytes")
            return self.rfile.read(length) if length else b""

        def _run(self, method: str) -> None:
            url = urlparse(self.path)
            parts = [unquote(p) for p in url.path.strip("/").split("/") if p]
            query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
            try:
                raw = self._raw_body(method)  # read first, so the connection stays in step
                found = find_route(method, parts)
                if found is None:
                    raise ApiError(404, f"no route {method} /{'/'.join(parts)}")
                route, params = found
                who = None
                if route.roles:
                    who = server.tokens.who(self.headers.get("Authorization"))
                    check_role(who, route.roles, f"{method} {route.pattern}")
                out = route.handler(Request(server, params, query, _parse(raw, method), who))
                if isinstance(out, Stream):
                    self._stream(out)
                elif isinstance(out, Raw):
                    self._send(200, out.content_type, out.body)
                else:
                    self._reply(200, out)
            except (ApiError, AuthError) as exc:
                self._reply(exc.status, {"error": str(exc)})
            except NotInReview as exc:
                self._reply(409, {"error": str(exc)})
            except KeyError as exc:
                self._reply(404, {"error": f"not found: {exc.args[0]}"})
            except ValueError as exc:
                self._reply(400, {"error": str(exc)})
            except Exception as exc:  # never let one request take the API down
                log.exception("HTTP %s %s failed", method, self.path)
                self._reply(500, {"error": f"internal error: {type(exc).__name__}"})

        def do_GET(self) -> None:
            self._run("GET")

        def do_POST(self) -> None:
            self._run("POST")

    return Handler


def tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(str(cert), str(key))
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(f"http.tls: cannot load certificate {cert} and key {key}: "
                         f"{exc}") from None
    return context


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that speaks plain HTTP to the TLS port, or hangs up mid-request: log it
        # with the logger instead of printing a traceback to stderr.
        log.debug("HTTP connection from %s failed", client_address, exc_info=True)


class HttpApi:
    """The API on ``host:port`` (0 = any free port; see :attr:`port`) in a daemon thread,
    HTTPS when given a ``tls`` context."""

    def __init__(self, server: StoreServer, host: str, port: int,
                 tls: ssl.SSLContext | None = None) -> None:
        self._httpd = _Server((host, port), _handler(server))
        if tls is not None:
            # The handshake happens on the first read, in the request's own thread, so a slow
            # client cannot hold up the accept loop.
            self._httpd.socket = tls.wrap_socket(self._httpd.socket, server_side=True,
                                                 do_handshake_on_connect=False)
        self.scheme = "https" if tls is not None else "http"
        self.host, self.port = self._httpd.server_address[:2]
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="walkout-http",
                                        daemon=True)

    def start(self) -> HttpApi:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
