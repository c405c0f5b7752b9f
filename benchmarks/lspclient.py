"""A minimal LSP client over stdio for the benchmarks: starts `python -m sidecar lsp`, sends requests and
notifications, and records every message the server sends with its arrival time (a reader thread)."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from sidecar.procs import spawn  # noqa: E402


class Client:
    def __init__(self, root: Path, init_options: dict[str, Any] | None = None,
                 env: dict[str, str] | None = None) -> None:
        env = dict(env if env is not None else os.environ)
        env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
        log = os.environ.get("AUTOPROVE_BENCH_LOG")  # a file for the server's debug log (phase timings)
        self.proc = spawn([sys.executable, "-m", "sidecar", "lsp", *(["-v"] if log else [])],  # dies with us
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=open(log, "a") if log else subprocess.DEVNULL, env=env, cwd=root)
        self.messages: list[tuple[float, dict[str, Any]]] = []
        self._cv = threading.Condition()
        self._ids = itertools.count(1)
        threading.Thread(target=self._read, daemon=True).start()
        self.request("initialize", {"processId": os.getpid(), "rootUri": root.as_uri(), "capabilities": {},
                                    "initializationOptions": init_options or {}})
        self.notify("initialized", {})

    def _read(self) -> None:
        out = self.proc.stdout
        assert out is not None
        while True:
            header = b""
            while not header.endswith(b"\r\n\r\n"):
                ch = out.read(1)
                if not ch:
                    return
                header += ch
            n = int(header.split(b"Content-Length:")[1].split(b"\r\n")[0])
            msg = json.loads(out.read(n))
            with self._cv:
                self.messages.append((time.monotonic(), msg))
                self._cv.notify_all()

    def _send(self, msg: dict[str, Any]) -> None:
        body = json.dumps(msg).encode()
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def notify(self, method: str, params: Any) -> float:
        t = time.monotonic()
        self._send({"jsonrpc": "2.0", "method": method, "params": params})
        return t

    def request(self, method: str, params: Any, timeout: float = 60.0) -> Any:
        i = next(self._ids)
        self._send({"jsonrpc": "2.0", "id": i, "method": method, "params": params})
        _, msg = self.wait(lambda m: m.get("id") == i and "method" not in m, timeout)
        return msg.get("result")

    def wait(self, pred: Callable[[dict[str, Any]], bool], timeout: float, since: float = 0.0
             ) -> tuple[float, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                for t, m in self.messages:
                    if t >= since and pred(m):
                        return t, m
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no matching message")
                self._cv.wait(left)

    def wait_diagnostics(self, uri: str, pred: Callable[[dict[str, Any]], bool], timeout: float, since: float = 0.0
                         ) -> tuple[float, list[dict[str, Any]]]:
        """The first diagnostics published for `uri` (at or after `since`) with one diagnostic satisfying `pred`:
        (arrival time, those diagnostics)."""
        t, msg = self.wait(lambda m: m.get("method") == "textDocument/publishDiagnostics"
                           and m["params"]["uri"] == uri and any(pred(d) for d in m["params"]["diagnostics"]),
                           timeout, since)
        return t, msg["params"]["diagnostics"]

    def open(self, path: Path, text: str, version: int = 1) -> float:
        return self.notify("textDocument/didOpen", {"textDocument": {
            "uri": path.as_uri(), "languageId": "coq", "version": version, "text": text}})

    def close(self) -> None:
        try:
            self.request("shutdown", None, timeout=60)
            self.notify("exit", None)
            self.proc.wait(timeout=30)
        except Exception:
            self.proc.kill()
