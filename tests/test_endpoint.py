"""The sidecar's HTTP endpoint (the Lean package's channel): bound to 127.0.0.1, token required, the documented
schema, served by a real LiveWorkspace (and, at the end, by a real `auto-prove lsp`)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import jsonschema
import pytest

from conftest import PROFILE_VAR, RawLsp, cli_env
from sidecar.endpoint import ENDPOINT_FILE, SCHEMA_FILE, Endpoint, read_endpoint
from sidecar.live import LiveWorkspace
from sidecar.scheduler import ProveOptions

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Endpoint, LiveWorkspace]]:
    live = LiveWorkspace(ProveOptions(budget=10), tmp_path, use_ledger=False)
    ep = Endpoint(tmp_path, live).start()
    try:
        yield ep, live
    finally:
        ep.close()
        live.close()


SCHEMA = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
ANSWER_SCHEMA = {"/v1/health": "HealthResponse", "/v1/suggest": "SuggestResponse", "/v1/sorries": "SorriesResponse"}


def conforms(value: Any, definition: str) -> None:
    """`value` is valid against `definition` of the endpoint's published JSON schema."""
    jsonschema.validate(value, {**SCHEMA, "$ref": f"#/$defs/{definition}"})


def call(ep: Endpoint, method: str, path: str, body: Any = None, token: str | None = "ok",
         raw: bytes | None = None) -> tuple[int, Any]:
    """One request; every answer is checked against the published schema (an Error body for 4xx/5xx)."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(ep.url + path, data=data, method=method)
    if token is not None:
        req.add_header("Authorization", f"Bearer {ep.token if token == 'ok' else token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            status, answer = r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        status, answer = e.code, json.loads(e.read())
    conforms(answer, ANSWER_SCHEMA[urllib.parse.urlsplit(path).path] if status == 200 else "Error")
    if status == 200 and path == "/v1/suggest":
        conforms(body, "SuggestRequest")
    return status, answer


def test_endpoint_file_and_bind_address(served: tuple[Endpoint, LiveWorkspace], tmp_path: Path) -> None:
    ep, _ = served
    f = tmp_path / ENDPOINT_FILE
    data = json.loads(f.read_text())
    conforms(data, "EndpointFile")
    assert data["version"] == 1 and data["token"] == ep.token and data["pid"] == os.getpid()
    assert data["url"].startswith("http://127.0.0.1:") and data["url"] == ep.url
    assert stat.S_IMODE(f.stat().st_mode) == 0o600
    assert read_endpoint(tmp_path) == data == read_endpoint(tmp_path / "sub" / "dir")  # found walking up
    port = int(data["url"].rsplit(":", 1)[1])
    # listening on loopback only: another address of this machine is refused
    others = {a[4][0] for a in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)} - {"127.0.0.1"}
    for addr in others:
        if addr.startswith("127."):
            continue
        with pytest.raises(OSError):
            socket.create_connection((addr, port), timeout=2).close()


def test_requests_without_the_token_are_refused(served: tuple[Endpoint, LiveWorkspace]) -> None:
    ep, _ = served
    assert call(ep, "GET", "/v1/health", token=None)[0] == 401
    assert call(ep, "GET", "/v1/health", token="0" * 32)[0] == 401
    status, body = call(ep, "POST", "/v1/suggest", {"goal": "⊢ True"}, token=None)
    assert status == 401 and "token" in body["error"]
    status, body = call(ep, "GET", "/v1/health")
    assert status == 200 and body["ok"] is True


def test_suggest_schema_and_errors(served: tuple[Endpoint, LiveWorkspace], tmp_path: Path) -> None:
    ep, _ = served
    f = tmp_path / "A.lean"
    f.write_text("theorem t (x : Nat) (h : x = 2) : x + 0 = 2 := by sorry\n")
    status, body = call(ep, "POST", "/v1/suggest", {"backend": "lean", "file": str(f), "line": 1, "column": 48,
                                                     "goal": "x : Nat\nh : x = 2\n⊢ x + 0 = 2"})
    assert status == 200
    tactics = [c["tactic"] for c in body["candidates"]]
    assert {"rfl", "omega", "simp"} <= set(tactics) and all(c["source"] == "strategy" for c in body["candidates"])
    assert "subst h" in tactics and "linarith" not in tactics  # no Mathlib imported
    assert len(tactics) == len(set(tactics)) <= 30
    m = tmp_path / "M.lean"
    m.write_text("import Mathlib\ntheorem u (a b : ℝ) (h : a ≤ b) : a ≤ b + 1 := by sorry\n")
    _, body = call(ep, "POST", "/v1/suggest", {"backend": "lean", "file": str(m), "line": 2, "column": 0,
                                                "goal": "a b : ℝ\nh : a ≤ b\n⊢ a ≤ b + 1"})
    assert "linarith" in [c["tactic"] for c in body["candidates"]]
    for bad in ({"backend": "lean", "file": "rel.lean", "line": 1, "goal": "⊢ True"},
                {"backend": "lean", "file": str(f), "line": 0, "goal": "⊢ True"},
                {"backend": "lean", "file": str(f), "line": 1, "goal": ""},
                {"backend": "isabelle", "file": str(f), "line": 1, "goal": "⊢ True"},
                [1, 2]):
        status, body = call(ep, "POST", "/v1/suggest", bad)
        assert status == 400 and body["error"], bad
    assert call(ep, "POST", "/v1/suggest", raw=b"{not json")[0] == 400
    assert call(ep, "GET", "/v1/suggest")[0] == 405
    assert call(ep, "GET", "/v1/nothing")[0] == 404
    assert call(ep, "GET", "/v1/sorries")[0] == 400


@pytest.mark.skipif(shutil.which("coqc") is None, reason="coqc not installed")
def test_sorries_and_verified_suggestions_come_from_the_workspace(served: tuple[Endpoint, LiveWorkspace],
                                                                  tmp_path: Path) -> None:
    ep, live = served
    f = tmp_path / "S.v"
    text = "Lemma s : forall n : nat, n + 0 = n.\nProof.\nAdmitted.\n"
    f.write_text(text)
    live.start()
    live.open(f, text, 1)
    deadline = time.monotonic() + 90
    goals: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        status, body = call(ep, "GET", "/v1/sorries?file=" + urllib.request.quote(str(f)))
        assert status == 200 and body["file"] == str(f)
        goals = body["goals"]
        if goals and goals[0]["status"] == "proved":
            break
        time.sleep(0.2)
    assert [(g["line"], g["name"], g["kind"]) for g in goals] == [(3, "s", "admitted")]
    assert goals[0]["status"] == "proved" and goals[0]["proof"].endswith("Qed.")
    # the Lean package resolves symlinks, an editor may not: the same file through a symlink is the same file
    (tmp_path / "link").symlink_to(tmp_path, target_is_directory=True)
    _, body = call(ep, "GET", "/v1/sorries?file=" + urllib.request.quote(str(tmp_path / "link" / "S.v")))
    assert body["goals"] == goals
    status, body = call(ep, "POST", "/v1/suggest", {"backend": "coq", "file": str(f), "line": 3, "column": 0,
                                                     "goal": "forall n : nat, n + 0 = n"})
    assert status == 200 and body["candidates"][0]["source"] == "verified"


def test_close_removes_only_its_own_file(tmp_path: Path) -> None:
    live = LiveWorkspace(ProveOptions(), tmp_path, use_ledger=False)
    try:
        a = Endpoint(tmp_path, live).start()
        b = Endpoint(tmp_path, live).start()  # a second sidecar on the same project replaced the file
        a.close()
        assert json.loads((tmp_path / ENDPOINT_FILE).read_text())["token"] == b.token
        b.close()
        assert not (tmp_path / ENDPOINT_FILE).exists()
    finally:
        live.close()


def test_language_server_publishes_its_endpoint(tmp_path: Path) -> None:
    """`auto-prove lsp` writes the endpoint file for its workspace on `initialized` and removes it on exit."""
    env, _ = cli_env()
    srv = RawLsp(env, cwd=tmp_path)
    f = tmp_path / ENDPOINT_FILE
    try:
        srv.initialize(tmp_path)
        deadline = time.monotonic() + 30
        while not f.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        data = json.loads(f.read_text())
        req = urllib.request.Request(data["url"] + "/v1/health", headers={"Authorization": f"Bearer {data['token']}"})
        with urllib.request.urlopen(req, timeout=10) as r:
            assert json.loads(r.read())["project"] == str(tmp_path)
        srv.shutdown()
    finally:
        srv.kill()
    assert not f.exists()


@pytest.mark.skipif(shutil.which("coqc") is None, reason="coqc not installed")
def test_serve_searches_the_project_and_answers(tmp_path: Path) -> None:
    """`auto-prove serve` (no editor): the project's goals are searched and `/v1/sorries` reports them; Ctrl-C
    stops it and removes the endpoint file."""
    import signal

    env, _ = cli_env({PROFILE_VAR: ""})  # serve's own default profile (1)
    f = tmp_path / "P.v"
    f.write_text("Lemma p : forall n : nat, 0 + n = n.\nAdmitted.\n")
    # Ctrl-C as a terminal delivers it, also when this suite runs as a background job (whose children inherit an
    # ignored SIGINT, which Python then leaves ignored, as a backgrounded program should)
    proc = subprocess.Popen([sys.executable, "-m", "sidecar", "serve", str(tmp_path), "--budget", "20"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    ep = tmp_path / ENDPOINT_FILE
    try:
        deadline = time.monotonic() + 30
        while not ep.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        data = json.loads(ep.read_text())
        url = data["url"] + "/v1/sorries?file=" + urllib.request.quote(str(f))
        goals: list[dict[str, Any]] = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            req = urllib.request.Request(url, headers={"Authorization": f"Bearer {data['token']}"})
            with urllib.request.urlopen(req, timeout=10) as r:
                goals = json.loads(r.read())["goals"]
            if goals and goals[0]["status"] == "proved":
                break
            time.sleep(0.2)
        assert goals and goals[0]["status"] == "proved" and goals[0]["proof"], goals
        proc.send_signal(signal.SIGINT)
        out, errs = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, errs
    assert "serving" in out and not ep.exists()
