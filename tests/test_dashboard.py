"""The dashboard: its layout and files (no server), its HTTP server (token, Host, cookie, port in use, SSE, Prometheus
metrics) over the demo blueprint checked by real Coq, and the page in real headless Chromium (Playwright with
Debian's chromium) while a real live workspace proves the demo's goals: the graph draws the demo blueprint and a
proof found during the test turns its node green without a reload. Screenshots of each step are kept in
e2e-artifacts/ when a browser test fails."""

from __future__ import annotations

import http.client
import importlib.util
import json
import os
import shutil
import socket
import threading
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Iterator

import pytest

from conftest import REPO, run_cli
from sidecar.dashboard.export import badge_svg
from sidecar.dashboard.layout import layered_layout
from sidecar.ledger import Ledger

needs_coq = pytest.mark.skipif(shutil.which("coqc") is None, reason="coqc not installed")
# found, never imported here: importing plasTeX replaces the logging module's logger class for the whole process
needs_blueprint = pytest.mark.skipif(importlib.util.find_spec("plasTeX") is None,
                                     reason="plasTeX not installed (make test installs the extra `blueprint`)")
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = REPO / "e2e-artifacts"
BROWSER_REQUIRED = os.environ.get("AUTOPROVE_E2E_REQUIRED") == "1"


def demo_with_blueprint(tmp_path: Path) -> Path:
    project = tmp_path / "demo"
    shutil.copytree(REPO / "bank" / "demo", project)
    shutil.copytree(REPO / "blueprint", project / "blueprint")  # where a project keeps its own
    return project


# -- no server -------------------------------------------------------------------------------------------------


def test_the_layout_puts_what_is_used_above_its_users_and_survives_cycles() -> None:
    deps = {"c": ["a", "b"], "b": ["a"], "d": ["c", "zzz"], "x": ["y"], "y": ["x"], "a": []}
    lay = layered_layout(["a", "b", "c", "d", "x", "y"], deps)
    ys = {n: p[1] for n, p in lay.pos.items()}
    assert ys["a"] < ys["b"] < ys["c"] < ys["d"]
    assert set(lay.pos) == {"a", "b", "c", "d", "x", "y"}  # a cycle is drawn too, and "zzz" (unknown) is not
    assert ("zzz", "d") not in lay.edges and ("a", "c") in lay.edges
    row = [n for n in lay.pos if ys[n] == ys["a"]]
    xs = sorted(lay.pos[n][0] for n in row)
    assert all(b - a >= 150 for a, b in zip(xs, xs[1:]))  # no two nodes of a layer overlap
    big = {f"n{i}": [f"n{j}" for j in (i // 2, i // 3) if j < i] for i in range(500)}
    lay = layered_layout(list(big), big)
    assert len(lay.pos) == 500 and lay.width > 0 and lay.height > 0


def test_the_badge_is_svg_and_the_ledger_keeps_coverage_and_attempt_histograms(tmp_path: Path) -> None:
    ET.fromstring(badge_svg("blueprint", "5/15 proved", "#e05d44"))
    ledger = Ledger(tmp_path)
    for s, outcome in ((0.003, "failed"), (0.2, "ok"), (3.0, "finished")):
        ledger.record_attempt("k", "closer", "auto.", outcome, s)
    ledger.record_coverage(15, 14, 5, 5, 0)
    ledger.record_coverage(15, 14, 6, 5, 1)
    assert [p[1:] for p in ledger.coverage_history()] == [(15, 14, 5, 5, 0), (15, 14, 6, 5, 1)]
    assert ledger.attempt_outcomes() == {("closer", "failed"): 1, ("closer", "ok"): 1, ("closer", "finished"): 1}
    cum, n, total = ledger.attempt_durations((0.01, 1.0, 10.0))["closer"]
    assert cum == [1, 2, 3] and n == 3 and abs(total - 3.203) < 1e-9
    ledger.close()


@needs_coq
@needs_blueprint
def test_the_static_export_writes_markdown_a_badge_and_the_graph(tmp_path: Path) -> None:
    project = demo_with_blueprint(tmp_path)
    ledger = Ledger(project)  # a ticket left by an earlier run
    ledger.record_ticket("k", str(project / "NatFacts.v"), "tri_closed", "tri_closed_helper1",
                         "forall n : nat, n <= tri n", "open")
    ledger.close()
    out = tmp_path / "out"
    r = run_cli("dashboard", project, "--export", out)
    assert r.returncode == 0, r
    md = (out / "dashboard.md").read_text()
    assert "| 15 | 14 | 5 | 5 | 7 |" in md  # nodes, stated, proved, fully proved, can be proved next
    assert "`lem:tri_closed`: depends on NatFacts.tri_closed (admitted)" in md  # the false green
    assert "- `lem:add_sub_cancel`" in md  # the missing green
    assert "| tri_closed | tri_closed_helper1 | open | `forall n : nat, n <= tri n` |" in md
    svg = ET.fromstring((out / "graph.svg").read_text())
    rects = svg.findall(".//{http://www.w3.org/2000/svg}rect")
    assert len(rects) == 1 + 15  # the background and one per node
    assert "5/15 proved" in (out / "coverage.svg").read_text()
    before = {p: p.read_bytes() for p in project.rglob("*") if p.is_file() and ".auto-prove" not in p.parts}
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "web.tex").write_text("\\documentclass{report}\\begin{document}\\input{nothere}\n")
    r = run_cli("dashboard", project, "--blueprint", bad, "--export", tmp_path / "out2")
    assert (tmp_path / "out2" / "dashboard.md").exists()
    assert "No blueprint graph" in (tmp_path / "out2" / "dashboard.md").read_text()
    after = {p: p.read_bytes() for p in project.rglob("*") if p.is_file() and ".auto-prove" not in p.parts}
    assert before == after  # nothing of the user's changed


# -- the server ------------------------------------------------------------------------------------------------


class Client:
    def __init__(self, base: str, token: str) -> None:
        self.base, self.token = base, token

    def get(self, path: str, *, auth: bool = True,
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        h = dict(headers or {})
        if auth:
            h["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(self.base + path, headers=h)

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *a: Any, **k: Any) -> None:
                return None

        try:
            with urllib.request.build_opener(NoRedirect).open(req, timeout=30) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Client]]:
    """A dashboard over the demo blueprint checked by Coq (no live search: the server's own behaviour)."""
    if shutil.which("coqc") is None or importlib.util.find_spec("plasTeX") is None:
        pytest.skip("coqc or plasTeX not installed")
    from sidecar.dashboard.model import DashboardModel
    from sidecar.dashboard.server import Dashboard

    project = demo_with_blueprint(tmp_path_factory.mktemp("served"))
    board = Dashboard(DashboardModel(project, None, poll=0.5)).start()
    board.model.start()
    deadline = time.monotonic() + 120
    while board.model.graph_state in ("loading", "not loaded") and time.monotonic() < deadline:
        time.sleep(0.2)
    try:
        yield board, Client(board.base, board.token)
    finally:
        board.close()
        board.model.close()


def test_every_request_needs_the_token_and_this_host(served: tuple[Any, Client]) -> None:
    board, c = served
    assert c.get("/api/state", auth=False)[0] == 401
    assert c.get("/api/state", auth=False, headers={"Authorization": "Bearer " + "0" * 32})[0] == 401
    assert c.get("/metrics", auth=False)[0] == 401
    assert c.get("/api/state", headers={"Host": "evil.example:80"})[0] == 403  # DNS rebinding
    status, headers, _ = c.get(f"/?token={board.token}", auth=False)
    assert status == 303 and headers["Location"] == "/"
    cookie = headers["Set-Cookie"].split(";")[0]
    assert "HttpOnly" in headers["Set-Cookie"] and "SameSite=Strict" in headers["Set-Cookie"]
    status, _, page = c.get("/", auth=False, headers={"Cookie": cookie})
    assert status == 200 and b"/static/app.js" in page
    assert c.get("/static/app.js", auth=False, headers={"Cookie": cookie})[0] == 200
    assert c.get("/static/..%2fserver.py")[0] == 404 and c.get("/static/../model.py")[0] == 404
    saved = json.loads((board.model.root / ".auto-prove" / "dashboard.json").read_text())
    mode = (board.model.root / ".auto-prove" / "dashboard.json").stat().st_mode
    assert saved["token"] == board.token and oct(mode)[-3:] == "600"


def test_the_graph_and_state_are_the_demo_blueprint_checked_by_coq(served: tuple[Any, Client]) -> None:
    _, c = served
    graph = json.loads(c.get("/api/graph")[2])
    assert graph["state"] == "ready" and len(graph["nodes"]) == 15
    assert ["def:snoc", "lem:snoc_app"] in graph["edges"]
    y = {n["label"]: n["y"] for n in graph["nodes"]}
    assert y["def:snoc"] < y["lem:snoc_app"]
    state = json.loads(c.get("/api/state")[2])
    assert state["coverage"]["proved"] == 5 and state["coverage"]["nodes"] == 15
    assert state["nodes"]["def:snoc"] == "fully proved" and state["nodes"]["lem:sum_app"] == "can prove"
    assert [f["label"] for f in state["falseGreens"]] == ["lem:tri_closed"]
    assert state["history"] and state["history"][-1][1:4] == [15, 14, 5]  # coverage over time, in the ledger


def test_metrics_speak_prometheus(served: tuple[Any, Client]) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    board, c = served
    assert board.model.ledger is not None
    board.model.ledger.record_attempt("k", "closer", "auto.", "failed", 0.02)
    status, headers, body = c.get("/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    fams = {f.name: f for f in text_string_to_metric_families(body.decode())}
    assert {"autoprove_attempts", "autoprove_attempt_duration_seconds", "autoprove_blueprint_nodes"} <= set(fams)
    assert fams["autoprove_attempts"].type == "counter"
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for f in fams.values() for s in f.samples}
    assert samples[("autoprove_attempts_total", (("family", "closer"), ("outcome", "failed")))] >= 1
    assert samples[("autoprove_blueprint_nodes", (("state", "fully proved"),))] == 5


def test_events_stream_the_state_and_end_when_the_dashboard_closes(tmp_path: Path) -> None:
    from sidecar.dashboard.model import DashboardModel
    from sidecar.dashboard.server import Dashboard
    from sidecar.errors import AutoProveError

    project = tmp_path / "empty"
    project.mkdir()
    board = Dashboard(DashboardModel(project, None)).start()
    port = int(board.base.rsplit(":", 1)[1])
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", "/events", headers={"Authorization": f"Bearer {board.token}"})
        resp = conn.getresponse()
        assert resp.status == 200 and resp.getheader("Content-Type") == "text/event-stream"

        def event() -> dict[str, Any]:
            lines = []
            while True:
                line = resp.fp.readline().decode()
                if line == "\n" and lines:
                    break
                if line.strip():
                    lines.append(line.strip())
            assert lines[0] == "event: state", lines
            return json.loads(lines[1][len("data: "):])

        first = event()
        assert first["graph"] in ("loading", "none")  # a folder with no blueprint and no Coq file: said, not fatal
        board.model.changed()
        assert event()["version"] > first["version"]
        other = DashboardModel(project, None)
        with pytest.raises(AutoProveError, match="in use"):
            Dashboard(other, port).start()
        other.close()
        done = threading.Event()

        def drain() -> None:
            resp.read()  # returns when the server ends the stream
            done.set()

        threading.Thread(target=drain, daemon=True).start()
        board.close()
        assert done.wait(10), "the event stream did not end with the dashboard"
        assert not (project / ".auto-prove" / "dashboard.json").exists()
    finally:
        board.close()
        board.model.close()
    conn.close()
    with socket.socket() as s:  # the port is free again (for a server, which reuses addresses as ours does)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))


# -- the page in a real browser ------------------------------------------------------------------------------


def _browser_missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return "chromium is not installed (run .ci/editor-tools)"
    if importlib.util.find_spec("playwright") is None:
        return "playwright (Python) is not installed"
    if shutil.which("coqc") is None or importlib.util.find_spec("plasTeX") is None:
        return "coqc or plasTeX not installed"
    return None


@pytest.fixture
def shots(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Path]:
    d = tmp_path / "screens"
    d.mkdir()
    yield d
    failed = getattr(request.node, "rep_call", None)
    if os.environ.get("AUTOPROVE_E2E_KEEP") == "1" or (failed is not None and failed.failed):
        dest = ARTIFACTS / request.node.name
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(d, dest)
        print(f"screenshots of each step: {dest}")


@pytest.mark.e2e
@pytest.mark.timeout(300)
def test_the_page_draws_the_demo_blueprint_and_a_found_proof_turns_its_node_green(tmp_path: Path, shots: Path) -> None:
    missing = _browser_missing()
    if missing:
        if BROWSER_REQUIRED:
            pytest.fail(missing)
        pytest.skip(missing)
    from editor_harness import browser
    from sidecar.dashboard.model import DashboardModel
    from sidecar.dashboard.server import Dashboard
    from sidecar.live import LiveWorkspace
    from sidecar.scheduler import ProveOptions

    project = demo_with_blueprint(tmp_path)
    live = LiveWorkspace(ProveOptions(budget=30, cpu=0.5, profile=0, library_seconds=0.0), project).start()
    live.scheduler.pause()  # nothing is proved before the page has drawn the graph
    board = Dashboard(DashboardModel(project, live)).start()
    errors: list[str] = []
    n = 0
    try:
        live.add_workspace_files([project / "ListFacts.v"])
        with browser() as b:
            page = b.new_page(viewport={"width": 1400, "height": 900})
            try:
                page.set_default_timeout(90_000)
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

                def shot(name: str) -> None:
                    nonlocal n
                    n += 1
                    page.screenshot(path=str(shots / f"{n:02d}-{name}.png"))

                page.goto(board.url)
                assert page.url.rstrip("/") == board.base  # the token went into a cookie, out of the address bar
                node = 'g.node[data-label="lem:sum_app"]'
                page.wait_for_selector(node + '[data-state]')
                shot("graph")
                assert page.locator("g.node").count() == 15
                assert page.locator('g.node[data-label="def:snoc"]').get_attribute("data-state") == "fully proved"
                assert page.locator('g.node.false-green').count() == 1
                assert page.locator(node).get_attribute("data-state") in ("queued", "can prove")
                page.evaluate("window.__sameDocument = true")
                live.resume()
                page.wait_for_selector(node + '[data-state="found"]')
                shot("found")
                assert page.evaluate("window.__sameDocument === true")  # no reload: the event stream did it
                fill = page.eval_on_selector(node + " rect", "r => getComputedStyle(r).fill")
                assert fill == "rgb(185, 246, 202)", fill  # the green of `found`
                page.wait_for_selector("#proofs details pre .add")  # the proof's diff, with its added lines
                assert "sum_app" in page.inner_text("#proofs")
                assert page.locator("#families tbody tr").count() >= 1
                shot("panels")
            finally:
                page.close()
    finally:
        board.close()
        board.model.close()
        live.close()
    assert not errors, errors


@needs_blueprint
@pytest.mark.skipif(shutil.which("lake") is not None, reason="a Lean toolchain is installed: the blueprint is checked")
def test_a_lean_blueprint_with_no_toolchain_is_drawn_from_its_own_marks(tmp_path: Path) -> None:
    """No Lean here: the graph is still drawn, coloured by the blueprint's marks, and the page and the export say
    that the prover was not asked."""
    from sidecar.dashboard.export import export_dashboard
    from sidecar.dashboard.model import DashboardModel

    project = tmp_path / "leanproj"
    shutil.copytree(REPO / "blueprint", project / "blueprint")
    (project / "lakefile.toml").write_text('name = "demo"\n')
    model = DashboardModel(project, None)
    try:
        export_dashboard(model, tmp_path / "out")
        graph, state = model.graph(), model.state()
    finally:
        model.close()
    assert graph["state"] == "ready" and len(graph["nodes"]) == 15
    assert "not checked against the prover" in graph["error"] and "Lean toolchain" in graph["error"]
    assert state["nodes"]["lem:tri_closed"] == "fully proved"  # marked so: taken at its word, said above
    assert state["falseGreens"] == [] and state["missingGreens"] == []
    assert "Note: not checked against the prover" in (tmp_path / "out" / "dashboard.md").read_text()
