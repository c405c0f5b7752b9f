"""`auto-prove dashboard`: the dashboard's HTTP server, on 127.0.0.1 only, with a token as the endpoint has one.

The token arrives once in the URL printed at start (`/?token=…`, also in `.auto-prove/dashboard.json`, mode 0600);
the server answers with a cookie (HttpOnly, SameSite=Strict, named after the port) and sends the browser on to `/`
without it. Every request needs that cookie, `Authorization: Bearer <token>` (Prometheus's scrape config) or
`?token=`; and a Host header naming this server (no DNS rebinding). Routes:

- `/` the page; `/static/*` its script and style (bundled in the package: no CDN, no build step)
- `/api/graph` the blueprint drawing, `/api/state` everything that moves (`model.py`)
- `/events` Server-Sent Events: `state` with the same body as `/api/state` whenever it changes (at most
  `MAX_RATE` a second), a comment every `KEEPALIVE` seconds otherwise
- `/metrics` Prometheus's text format (`metrics.py`)
"""

from __future__ import annotations

import errno
import hmac
import json
import logging
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .. import __version__
from ..endpoint import remove_service_file, write_service_file
from ..errors import AutoProveError
from .model import DashboardModel

__all__ = ["DASHBOARD_FILE", "Dashboard", "DashboardError"]

log = logging.getLogger(__name__)

DASHBOARD_FILE = Path(".auto-prove") / "dashboard.json"
STATIC = Path(__file__).with_name("static")
STATIC_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
                ".html": "text/html; charset=utf-8", ".svg": "image/svg+xml"}
MAX_RATE = 4.0
KEEPALIVE = 15.0


class DashboardError(AutoProveError):
    """The dashboard cannot be served (the port is taken, say)."""


class Dashboard:
    """One HTTP server thread over one `DashboardModel`. `start()` writes the dashboard file, `close()` removes it
    and ends the event streams."""

    def __init__(self, model: DashboardModel, port: int = 0) -> None:
        self.model = model
        self.port = port
        self.token = secrets.token_hex(16)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._cache: tuple[int, bytes] = (-1, b"")
        self._cache_lock = threading.Lock()
        self._closing = threading.Event()

    @property
    def base(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def url(self) -> str:
        """What to open in a browser (it carries the token)."""
        return f"{self.base}/?token={self.token}"

    @property
    def file(self) -> Path:
        return self.model.root / DASHBOARD_FILE

    def start(self) -> "Dashboard":
        dash = self

        class Handler(BaseHTTPRequestHandler):
            server_version = f"auto-prove/{__version__}"
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt: str, *args: Any) -> None:
                log.debug("dashboard: " + fmt, *args)

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                dash._handle(self)

        try:
            self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise DashboardError(f"port {self.port} on 127.0.0.1 is in use (another dashboard? --port 0 picks "
                                     "a free one)") from e
            raise DashboardError(f"cannot listen on 127.0.0.1:{self.port}: {e}") from e
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="dashboard", daemon=True)
        self._thread.start()
        write_service_file(self.file, self.base, self.token)
        return self

    def close(self) -> None:
        self._closing.set()
        self.model.changed()  # wakes the event streams, which see `_closing` and end
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        remove_service_file(self.file, self.token)

    # -- requests --------------------------------------------------------------------------------------------

    def _cookie_name(self) -> str:
        return f"autoprove-{self._server.server_address[1] if self._server else 0}"

    def _authorised(self, req: BaseHTTPRequestHandler, query: dict[str, list[str]]) -> bool:
        want = self.token.encode()
        auth = req.headers.get("Authorization", "")
        if auth.startswith("Bearer ") and hmac.compare_digest(auth[7:].strip().encode(), want):
            return True
        if any(hmac.compare_digest(t.encode(), want) for t in query.get("token", [])):
            return True
        name = self._cookie_name() + "="
        for part in req.headers.get("Cookie", "").split(";"):
            part = part.strip()
            if part.startswith(name) and hmac.compare_digest(part[len(name):].encode(), want):
                return True
        return False

    def _host_ok(self, req: BaseHTTPRequestHandler) -> bool:
        port = self._server.server_address[1] if self._server else 0
        return req.headers.get("Host", "") in (f"127.0.0.1:{port}", f"localhost:{port}")

    def _handle(self, req: BaseHTTPRequestHandler) -> None:
        url = urlsplit(req.path)
        query = parse_qs(url.query)
        try:
            if url.path == "/favicon.ico":  # browsers ask for it unprompted
                return self._send(req, 204, b"", "image/x-icon")
            if not self._host_ok(req):
                return self._send(req, 403, b"wrong Host header\n", "text/plain")
            if not self._authorised(req, query):
                return self._send(req, 401, b"missing or wrong token: open the URL auto-prove printed "
                                  b"(also in .auto-prove/dashboard.json)\n", "text/plain")
            path = url.path
            if "token" in query and path == "/":  # first visit: the token moves into a cookie
                req.send_response(303)
                req.send_header("Set-Cookie", f"{self._cookie_name()}={self.token}; HttpOnly; SameSite=Strict; "
                                "Path=/")
                req.send_header("Location", "/")
                req.send_header("Content-Length", "0")
                req.end_headers()
                return None
            if path == "/":
                self.model.start()
                return self._file(req, STATIC / "index.html")
            if path.startswith("/static/"):
                name = path[len("/static/"):]
                if "/" in name or name.startswith(".") or not (STATIC / name).is_file():
                    return self._send(req, 404, b"not found\n", "text/plain")
                return self._file(req, STATIC / name)
            if path == "/api/graph":
                self.model.start()
                return self._json(req, self.model.graph())
            if path == "/api/state":
                self.model.start()
                return self._send(req, 200, self._state_bytes(), "application/json")
            if path == "/events":
                self.model.start()
                return self._events(req)
            if path == "/metrics":
                from .metrics import CONTENT_TYPE, metrics_text

                return self._send(req, 200, metrics_text(self.model), CONTENT_TYPE)
            return self._send(req, 404, b"not found\n", "text/plain")
        except (BrokenPipeError, ConnectionResetError):
            return None
        except Exception as e:  # a bug answers 500; the server goes on
            log.exception("dashboard request %s", req.path)
            try:
                self._send(req, 500, f"internal error: {e!r}\n".encode(), "text/plain")
            except OSError:
                pass
            return None

    def _state_bytes(self) -> bytes:
        """The state's JSON, computed once per version whatever the number of pages open."""
        version = self.model.version
        with self._cache_lock:
            if self._cache[0] != version:
                self._cache = (version, json.dumps(self.model.state()).encode())
            return self._cache[1]

    def _events(self, req: BaseHTTPRequestHandler) -> None:
        req.send_response(200)
        req.send_header("Content-Type", "text/event-stream")
        req.send_header("Cache-Control", "no-store")
        req.send_header("Connection", "close")
        req.end_headers()
        req.close_connection = True
        seen = -1
        last_sent = 0.0
        while not self._closing.is_set() and not self.model.closed:
            version = self.model.version
            if version != seen:
                wait = last_sent + 1.0 / MAX_RATE - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                seen = self.model.version
                req.wfile.write(b"event: state\ndata: " + self._state_bytes() + b"\n\n")
                req.wfile.flush()
                last_sent = time.monotonic()
                continue
            if self.model.wait(seen, KEEPALIVE) == seen and not self._closing.is_set():
                req.wfile.write(b": keepalive\n\n")
                req.wfile.flush()

    def _file(self, req: BaseHTTPRequestHandler, path: Path) -> None:
        self._send(req, 200, path.read_bytes(), STATIC_TYPES.get(path.suffix, "application/octet-stream"))

    def _json(self, req: BaseHTTPRequestHandler, obj: Any) -> None:
        self._send(req, 200, json.dumps(obj).encode(), "application/json")

    @staticmethod
    def _send(req: BaseHTTPRequestHandler, status: int, data: bytes, ctype: str) -> None:
        req.send_response(status)
        req.send_header("Content-Type", ctype)
        req.send_header("Content-Length", str(len(data)))
        req.send_header("Cache-Control", "no-store")
        req.send_header("X-Content-Type-Options", "nosniff")
        req.send_header("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'")
        req.end_headers()
        req.wfile.write(data)
