"""A scripted language-model server for the profile-2 tests: a real local HTTP server that speaks the OpenAI Chat
Completions API (`POST /v1/chat/completions`) and the Anthropic Messages API (`POST /v1/messages`), answering
from a script instead of a model (the stand-in for paid APIs: no key, no network).

Each script step is one of: a text answer (`"```coq\\nauto.\\n```"`), an HTTP status to fail with (`429`, `500`),
`"garbage"` (a body that is not JSON), `("sleep", seconds, step)`, or a function of the request's JSON body giving
a step (to answer by what is asked). Past the end of the script the last step repeats. Every request's JSON body is
kept in `requests`.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class ScriptedLLM:
    def __init__(self, script: list[Any]) -> None:
        self.script = list(script)
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    @property
    def anthropic_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def prompts(self) -> list[str]:
        """The text of each request's messages (both APIs), in order."""
        out = []
        for body in self.requests:
            texts = []
            for m in body.get("messages", []):
                c = m.get("content")
                if isinstance(c, str):
                    texts.append(c)
                else:
                    texts.extend(b.get("text", "") for b in c or [])
            out.append("\n".join(texts))
        return out

    def systems(self) -> list[str]:
        """The system prompt of each request (both APIs), in order."""
        return [system_prompt(body) for body in self.requests]

    def __enter__(self) -> "ScriptedLLM":
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with owner._lock:
                    owner.requests.append(body)
                    k = len(owner.requests) - 1
                    step = owner.script[min(k, len(owner.script) - 1)]
                if callable(step):
                    step = step(body)
                while isinstance(step, tuple) and step[0] == "sleep":
                    time.sleep(step[1])
                    step = step[2]
                if isinstance(step, int):
                    self._send(step, {"error": {"type": "scripted", "message": f"scripted status {step}"}})
                elif step == "garbage":
                    self._raw(200, b"<html>not json</html>", "text/html")
                elif self.path.endswith("/messages"):
                    self._send(200, {"id": f"msg_{k}", "type": "message", "role": "assistant", "model": body["model"],
                                     "content": [{"type": "text", "text": step}], "stop_reason": "end_turn",
                                     "stop_sequence": None,
                                     "usage": {"input_tokens": 100 + k, "output_tokens": 20,
                                               "cache_read_input_tokens": 50 if k else 0,
                                               "cache_creation_input_tokens": 0 if k else 50}})
                else:
                    self._send(200, {"id": f"cmpl-{k}", "object": "chat.completion", "created": 0,
                                     "model": body["model"],
                                     "choices": [{"index": 0, "finish_reason": "stop",
                                                  "message": {"role": "assistant", "content": step}}],
                                     "usage": {"prompt_tokens": 100 + k, "completion_tokens": 20,
                                               "total_tokens": 120 + k}})

            def _send(self, status: int, obj: Any) -> None:
                self._raw(status, json.dumps(obj).encode(), "application/json")

            def _raw(self, status: int, data: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                if status == 429:
                    self.send_header("retry-after-ms", "10")
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def system_prompt(body: dict[str, Any]) -> str:
    """A request's system prompt: Anthropic's `system` (a string or blocks), or OpenAI's first `system` message."""
    system = body.get("system")
    if system is None:
        system = next((m.get("content") for m in body.get("messages", []) if m.get("role") == "system"), "")
    if isinstance(system, list):
        return "\n".join(b.get("text", "") for b in system)
    return str(system or "")


def asks_steps(body: dict[str, Any]) -> bool:
    """Whether a request asks for next tactics inside the search (else for a whole proof)."""
    return "next tactics" in system_prompt(body)
