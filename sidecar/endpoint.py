"""The sidecar's HTTP endpoint for in-editor callers that are not LSP clients: the Lean package's `auto_prove`
tactic and `#sorries` command (lean/LeanHooks) call it with `curl`.

Bound to 127.0.0.1 only, on a port the system picks; the URL and a random token are written to
`<project>/.auto-prove/endpoint.json` (mode 0600, replaced atomically, removed on close). Every request must carry
`Authorization: Bearer <token>`; anything else is answered 401 before the request is looked at.

Schema (version 1; every body is JSON, every error is `{"error": "<message>"}` with a 4xx/5xx status). The JSON
Schema of every body and of the endpoint file is `endpoint_schema.json` beside this module (`SCHEMA_FILE`):

- `GET /v1/health` → `{"ok": true, "version": "<auto-prove version>", "project": "<root>"}`
- `POST /v1/suggest` with `{"backend": "lean"|"coq", "file": "<absolute path>", "line": <1-based>,
  "column": <0-based, code points>, "goal": "<pretty-printed goal>"}` → `{"candidates": [{"tactic": "<script>",
  "source": "verified"|"strategy"}]}`: the verified proof of the goal at that place if the sidecar has one, then
  general candidates for the goal's shape (the search's own profile 0), best first, at most `MAX_CANDIDATES`.
  The caller runs each inside its prover and keeps one that closes the goal: nothing here is trusted.
- `GET /v1/sorries?file=<absolute path>` → `{"file": "...", "goals": [{"line", "column", "name", "kind",
  "status", "message", "proof"}]}`: the goals the sidecar knows in that file (`proof` only when verified).

The endpoint knows no prover and no editor: it asks a `Service` (the live workspace) for what it knows.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import secrets
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from . import __version__

__all__ = ["Endpoint", "Service", "Suggestion", "ENDPOINT_FILE", "MAX_CANDIDATES", "SCHEMA_FILE", "read_endpoint",
           "remove_service_file", "write_service_file"]

log = logging.getLogger(__name__)

ENDPOINT_FILE = Path(".auto-prove") / "endpoint.json"
MAX_CANDIDATES = 30
SCHEMA_FILE = Path(__file__).with_name("endpoint_schema.json")
MAX_BODY = 1 << 20  # bytes


@dataclass(frozen=True)
class Suggestion:
    tactic: str
    source: str  # "verified" | "strategy"


class Service(Protocol):
    """What the endpoint asks; the live workspace implements it."""

    def suggest(self, backend: str, file: Path, line: int, column: int, goal: str) -> list[Suggestion]:
        ...

    def sorries(self, file: Path) -> list[dict[str, Any]]:
        ...


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _as_path(value: object, field: str) -> Path:
    if not isinstance(value, str) or not value or "\0" in value:
        raise _Refused(400, f"`{field}` must be a non-empty path")
    p = Path(value)
    if not p.is_absolute():
        raise _Refused(400, f"`{field}` must be an absolute path")
    return p


def _as_int(value: object, field: str, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise _Refused(400, f"`{field}` must be an integer >= {minimum}")
    return value


class Endpoint:
    """One HTTP server thread for one project root. `start()` writes the endpoint file, `close()` removes it."""

    def __init__(self, root: Path, service: Service) -> None:
        self.root = Path(root)
        self.service = service
        self.token = secrets.token_hex(16)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def file(self) -> Path:
        return self.root / ENDPOINT_FILE

    def start(self) -> "Endpoint":
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            server_version = f"auto-prove/{__version__}"

            def log_message(self, fmt: str, *args: Any) -> None:  # quiet: requests go to the debug log
                log.debug("endpoint: " + fmt, *args)

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                endpoint._handle(self, "GET")

            def do_POST(self) -> None:  # noqa: N802
                endpoint._handle(self, "POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="endpoint", daemon=True)
        self._thread.start()
        self._write_file()
        return self

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        remove_service_file(self.file, self.token)

    def _write_file(self) -> None:
        write_service_file(self.file, self.url, self.token)

    # -- requests --------------------------------------------------------------------------------------------

    def _handle(self, req: BaseHTTPRequestHandler, method: str) -> None:
        try:
            auth = req.headers.get("Authorization", "")
            if not hmac.compare_digest(auth.encode(), f"Bearer {self.token}".encode()):
                raise _Refused(401, "missing or wrong token (see .auto-prove/endpoint.json)")
            url = urlsplit(req.path)
            body = self._body(req) if method == "POST" else None
            answer = self._route(method, url.path, parse_qs(url.query), body)
            self._send(req, 200, answer)
        except _Refused as e:
            self._send(req, e.status, {"error": str(e)})
        except Exception as e:  # a bug answers 500; the server goes on
            log.exception("endpoint request %s %s", method, req.path)
            self._send(req, 500, {"error": f"internal error: {e!r}"})

    def _body(self, req: BaseHTTPRequestHandler) -> dict[str, Any]:
        try:
            n = int(req.headers.get("Content-Length", "0"))
        except ValueError:
            raise _Refused(400, "bad Content-Length") from None
        if n > MAX_BODY:
            raise _Refused(413, f"body larger than {MAX_BODY} bytes")
        try:
            data = json.loads(req.rfile.read(n) or b"null")
        except ValueError as e:
            raise _Refused(400, f"body is not JSON: {e}") from None
        if not isinstance(data, dict):
            raise _Refused(400, "body must be a JSON object")
        return data

    def _route(self, method: str, path: str, query: dict[str, list[str]], body: dict[str, Any] | None) -> Any:
        if path == "/v1/health" and method == "GET":
            return {"ok": True, "version": __version__, "project": str(self.root)}
        if path == "/v1/suggest" and method == "POST":
            assert body is not None
            backend = body.get("backend", "lean")
            if backend not in ("lean", "coq"):
                raise _Refused(400, "`backend` must be \"lean\" or \"coq\"")
            goal = body.get("goal")
            if not isinstance(goal, str) or not goal.strip():
                raise _Refused(400, "`goal` must be the pretty-printed goal")
            file = _as_path(body.get("file"), "file")
            line = _as_int(body.get("line"), "line", 1)
            column = _as_int(body.get("column", 0), "column", 0)
            found = self.service.suggest(backend, file, line, column, goal)[:MAX_CANDIDATES]
            return {"candidates": [{"tactic": s.tactic, "source": s.source} for s in found]}
        if path == "/v1/sorries" and method == "GET":
            files = query.get("file") or []
            if len(files) != 1:
                raise _Refused(400, "give exactly one `file` query parameter")
            file = _as_path(files[0], "file")
            return {"file": str(file), "goals": self.service.sorries(file)}
        if path in ("/v1/health", "/v1/suggest", "/v1/sorries"):
            raise _Refused(405, f"{method} is not allowed on {path}")
        raise _Refused(404, f"no such endpoint: {path}")

    @staticmethod
    def _send(req: BaseHTTPRequestHandler, status: int, obj: Any) -> None:
        data = json.dumps(obj).encode()
        try:
            req.send_response(status)
            req.send_header("Content-Type", "application/json")
            req.send_header("Content-Length", str(len(data)))
            req.end_headers()
            req.wfile.write(data)
        except OSError:
            pass  # the client went away


def write_service_file(file: Path, url: str, token: str) -> None:
    """Publish a local service: `{"version": 1, "url", "token", "pid"}` written atomically, readable by the owner
    only (mode 0600). The editor's endpoint and the MCP server (`mcp_server.py`) both use it."""
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_name(f".{file.stem}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"version": 1, "url": url, "token": token, "pid": os.getpid()}, f)
    os.replace(tmp, file)


def remove_service_file(file: Path, token: str) -> None:
    """Remove `file` if it is still ours (its token): another process may have replaced it meanwhile."""
    try:
        if json.loads(file.read_text()).get("token") == token:
            file.unlink()
    except (OSError, ValueError):
        pass


def read_endpoint(start: Path) -> dict[str, Any] | None:
    """The endpoint file of the first folder at or above `start` that has one (what the Lean side does)."""
    for d in [start, *start.parents]:
        f = d / ENDPOINT_FILE
        if f.is_file():
            try:
                data = json.loads(f.read_text())
            except (OSError, ValueError):
                return None
            return data if isinstance(data, dict) else None
    return None
