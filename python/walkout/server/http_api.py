"""The server's HTTP API (stdlib ``http.server`` in a thread; JSON in and out).

GET  /status                      the server's state: events, tracking watermark, sources' health
GET  /sessions                    every session (account, members, entry, exit)
GET  /sessions/{id}/cart          a session's cart as it stands now (lines, confidence, doubts)
GET  /receipts[?status=S]         receipts (issued, review, confirmed, corrected)
GET  /receipts/{session}          one receipt
GET  /review                      the review queue (receipts waiting for a person)
POST /review/{session}/confirm    bill the machine's lines as they are
POST /review/{session}/correct    bill these lines instead: {"lines": [{"sku": ..., "qty": ...}]}
GET  /anomalies                   misplaced stock, unexplained weight changes, unknown reachers
GET  /analytics                   see walkout.server.analytics

Errors are JSON ``{"error": ...}`` with 400 (bad request, naming the field), 404 or 409
(the receipt is not in review). The API binds to localhost by default: put it behind the
store's authenticating proxy before exposing it.
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlparse

if TYPE_CHECKING:
    from walkout.server.app import StoreServer

log = logging.getLogger("walkout.server.http")
_MAX_BODY = 1 << 20


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _handler(server: StoreServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt: str, *args: Any) -> None:  # route to logging, not stderr
            log.debug("%s " + fmt, self.address_string(), *args)

        def _reply(self, status: int, payload: object) -> None:
            body = json.dumps(payload, indent=1).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _run(self, method: str) -> None:
            url = urlparse(self.path)
            parts = [unquote(p) for p in url.path.strip("/").split("/") if p]
            query = {k: v[-1] for k, v in parse_qs(url.query).items()}
            try:
                body = None
                if method == "POST":
                    length = int(self.headers.get("Content-Length") or 0)
                    if length > _MAX_BODY:
                        raise ApiError(413, f"body: expected at most {_MAX_BODY} bytes")
                    raw = self.rfile.read(length) if length else b"{}"
                    try:
                        body = json.loads(raw or b"{}")
                    except json.JSONDecodeError as exc:
                        raise ApiError(400, f"body: expected JSON ({exc})") from None
                self._reply(200, route(server, method, parts, query, body))
            except ApiError as exc:
                self._reply(exc.status, {"error": str(exc)})
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


def route(server: StoreServer, method: str, parts: list[str], query: dict[str, str],
          body: Any) -> object:
    """Dispatch one request (separate from the handler so it is easy to read and test)."""
    if method == "GET":
        if parts == ["status"]:
            return server.status()
        if parts == ["sessions"]:
            return [s.as_json() for s in server.db.sessions()]
        if len(parts) == 3 and parts[0] == "sessions" and parts[2] == "cart":
            return server.cart(parts[1])
        if parts == ["receipts"]:
            return [r.as_json() for r in server.db.receipts(query.get("status"))]
        if len(parts) == 2 and parts[0] == "receipts":
            receipt = server.db.receipt(parts[1])
            if receipt is None:
                raise KeyError(parts[1])
            return receipt.as_json()
        if parts == ["review"]:
            return [r.as_json() for r in server.db.receipts("review")]
        if parts == ["anomalies"]:
            return server.db.anomalies()
        if parts == ["analytics"]:
            return server.analytics()
    if method == "POST" and len(parts) == 3 and parts[0] == "review":
        receipt = server.db.receipt(parts[1])
        if receipt is None:
            raise KeyError(parts[1])
        if receipt.status != "review":
            raise ApiError(409, f"receipt {parts[1]} is {receipt.status}, not in review")
        if parts[2] == "confirm":
            return server.confirm(parts[1]).as_json()
        if parts[2] == "correct":
            if not isinstance(body, dict) or "lines" not in body:
                raise ValueError('body: expected {"lines": [{"sku": str, "qty": int}, ...]}')
            return server.correct(parts[1], body["lines"]).as_json()
    raise ApiError(404, f"no route {method} /{'/'.join(parts)}")


class HttpApi:
    """The API on ``host:port`` (0 = any free port; see :attr:`port`) in a daemon thread."""

    def __init__(self, server: StoreServer, host: str, port: int) -> None:
        self._httpd = ThreadingHTTPServer((host, port), _handler(server))
        self._httpd.daemon_threads = True
        self.host, self.port = self._httpd.server_address[:2]
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="walkout-http",
                                        daemon=True)

    def start(self) -> HttpApi:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
