"""The Lean backend (`LeanProver`, the search, the CLI) against the stand-in REPL, started as the real one would be:
lean-interact runs `lake env <checkout>/.lake/build/bin/repl` through the stand-in `lake` (tests/lean_standin).

The stand-in answers only requests the real REPL was recorded answering, in a recorded order: so these tests send
exactly what a recorded session sent, through the backend's own requests (`enter` → `Command`, `run` →
`ProofStep`), and check that the backend reads the answers right and reaches `Completed`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import psutil
import pytest

from conftest import RawLsp, cli_env
from lean_standin import repl as standin
from sidecar.endpoint import read_endpoint
from sidecar.errors import ProverUnavailable
from sidecar.goals import find_lean_goals
from sidecar.provers.base import Environment, ProofState
from sidecar.provers.lean import SORT_PROBE, LeanProver, find_toolchain
from sidecar.search import Search, SearchBudget
from sidecar.strategies import Candidate, SearchContext

pytest.importorskip("lean_interact")
pytestmark = [pytest.mark.timeout(60)]

LAKE = Path(__file__).resolve().parent / "lean_standin" / "lake"


@pytest.fixture
def lean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A Lake project using the stand-in toolchain (what `find_toolchain` finds through the environment)."""
    project = standin.make_project(tmp_path / "project")
    monkeypatch.setenv("AUTOPROVE_LAKE", str(LAKE))
    monkeypatch.setenv("AUTOPROVE_LEAN_REPL", str(standin.make_checkout(tmp_path / "repl")))
    return project


@pytest.fixture
def prover() -> Iterator[LeanProver]:
    p = LeanProver()
    try:
        yield p
    finally:
        p.close()


def env_for(project: Path, source: str, name: str = "A.lean") -> Environment:
    f = project / name
    f.write_text(source)
    a = source.rindex("sorry")
    return Environment(file=f, backend="lean", source=source, placeholder=(a, a + len("sorry")), workdir=project)


class Scripted:
    """A strategy that proposes, at each depth, the tactic a recorded session applied there."""

    def __init__(self, steps: list[str]) -> None:
        self.steps = steps

    def candidates(self, state: ProofState, ctx: SearchContext, depth: int) -> Iterator[Candidate]:
        if depth < len(self.steps):
            yield Candidate(self.steps[depth], "scripted", 1.0, 5.0)


def test_toolchain_is_found_through_the_environment(lean: Path) -> None:
    tc = find_toolchain(lean / "A.lean")
    assert tc.project == lean and tc.lake == LAKE and tc.repl is not None


def test_no_toolchain_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTOPROVE_LAKE", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(ProverUnavailable, match="no Lean toolchain"):
        find_toolchain(tmp_path)


def test_proof_step_transcript_through_the_backend(lean: Path, prover: LeanProver) -> None:
    """proof_step: a `sorry` of a definition, two tactics on its state, one on a child: Completed."""
    root = prover.enter(env_for(lean, "def f : Nat := by sorry"), timeout=20)
    assert root.goals[0].conclusion == "Nat" and root.handle == 0
    r = prover.run(root, "apply Int.natAbs", 10)
    assert r.outcome == "ok" and r.state is not None and r.state.goals[0].conclusion == "Int"
    r = prover.run(root, "have t : Nat := 42", 10)
    assert r.outcome == "ok" and r.state is not None and r.state.goals[0].hypotheses == ("t : Nat",)
    done = prover.run(r.state, "exact t", 10)
    assert done.outcome == "finished" and done.state is not None and done.state.finished
    assert done.state.path == ("have t : Nat := 42", "exact t")


@pytest.mark.parametrize("name, steps", [
    ("assumption_proof", ["assumption"]),
    ("proof_branching", ["apply And.intro", "exact h1.left", "apply h2", "exact h1.right"]),
])
def test_search_reaches_completed_through_the_backend(lean: Path, prover: LeanProver, name: str,
                                                      steps: list[str]) -> None:
    cmd = json.loads((standin.default_transcripts() / f"{name}.in").read_text().split("\n\n")[0])["cmd"]
    root = prover.enter(env_for(lean, cmd), timeout=20)
    result = Search(prover, Scripted(steps), SearchContext(), SearchBudget(seconds=30, tactic_timeout=5)).run(root)
    assert result.status == "proved" and result.script == tuple(steps), result


def test_a_killed_repl_is_restarted_and_the_state_rebuilt(lean: Path, prover: LeanProver) -> None:
    """The REPL dies between two steps: the next step starts a new one, runs the file and replays the path (all
    recorded requests, in the recorded order) and goes on."""
    cmd = "theorem complex_and (p q r : Prop) (h1 : p ∧ q) (h2 : q → r) : p ∧ r := by sorry"
    root = prover.enter(env_for(lean, cmd), timeout=20)
    first = prover.run(root, "apply And.intro", 10)
    assert first.state is not None
    for pid in prover.pids():
        psutil.Process(pid).send_signal(signal.SIGKILL)
    psutil.wait_procs([psutil.Process(p) for p in prover.pids() if psutil.pid_exists(p)], timeout=5)
    second = prover.run(first.state, "exact h1.left", 20)
    assert second.outcome == "ok", second
    assert second.state is not None and second.state.goals[0].conclusion == "r"


def test_an_unknown_tactic_is_a_failure_not_a_crash(lean: Path, prover: LeanProver) -> None:
    root = prover.enter(env_for(lean, "def f : Nat := by sorry"), timeout=20)
    r = prover.run(root, "no_such_tactic", 10)
    assert r.outcome == "failed" and r.message


def test_cli_prove_on_a_lean_file_runs_and_reports(lean: Path, tmp_path: Path) -> None:
    """`auto-prove prove` on a `.lean` file with a (stand-in) toolchain: the sorry is found through the REPL and
    searched; the stand-in cannot answer the search's own tactics, so no proof is claimed, and none is written."""
    f = lean / "Main.lean"
    source = "theorem aa (x : Nat) (h1 : x  = 2) : x = 2 := by sorry"
    f.write_text(source)
    env, _ = cli_env({"AUTOPROVE_LAKE": os.environ["AUTOPROVE_LAKE"],
                      "AUTOPROVE_LEAN_REPL": os.environ["AUTOPROVE_LEAN_REPL"]})
    out = tmp_path / "r.json"
    run = subprocess.run([sys.executable, "-m", "sidecar", "prove", str(f), "--budget", "5", "--json", str(out)],
                         env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    goals = json.loads(out.read_text())["goals"]
    assert [(g["line"], g["name"], g["kind"]) for g in goals] == [(1, "aa", "sorry")]
    assert goals[0]["status"] in ("exhausted", "timeout") and goals[0]["proof"] is None
    assert f.read_text() == source


def test_language_server_searches_a_lean_document(lean: Path) -> None:
    """A `.lean` document opened in `auto-prove lsp` with a (stand-in) toolchain: its sorry gets the status
    diagnostics, found through the REPL, and the search ends without claiming a proof."""
    f = lean / "Main.lean"
    source = "theorem aa (x : Nat) (h1 : x  = 2) : x = 2 := by sorry"
    f.write_text(source)
    env, _ = cli_env({"AUTOPROVE_LAKE": os.environ["AUTOPROVE_LAKE"],
                      "AUTOPROVE_LEAN_REPL": os.environ["AUTOPROVE_LEAN_REPL"]})
    srv = RawLsp(env, cwd=lean, stdout=subprocess.PIPE)
    codes: list[str] = []
    try:
        srv.send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "capabilities": {}, "rootUri": lean.as_uri(), "processId": None,
            "initializationOptions": {"autoProve": {"budgetSeconds": 5}}}})
        srv.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        srv.send({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": f.as_uri(), "languageId": "lean4", "version": 1, "text": source}}})
        while not codes or codes[-1] not in ("exhausted", "timeout", "proved", "error"):
            msg = srv.read()
            if msg.get("method") == "textDocument/publishDiagnostics" and msg["params"]["uri"] == f.as_uri():
                ours = [d for d in msg["params"]["diagnostics"] if d.get("source") == "auto-prove"]
                if ours:
                    assert ours[0]["range"]["start"] == {"line": 0, "character": 49}
                    codes.append(ours[0]["code"])
        srv.shutdown()
    finally:
        srv.kill()
    assert codes[0] == "queued" and codes[-1] in ("exhausted", "timeout"), codes


def test_language_server_finds_the_sorries_of_lean_files_that_are_not_open(lean: Path, tmp_path: Path) -> None:
    """With a (stand-in) toolchain the workspace's Lean files are searched too: a file with a `sorry` is run in the
    REPL and its goal tracked (seen through the HTTP endpoint); a file without one is never run; nothing under
    `.lake/` (dependencies such as Mathlib) is looked at."""
    other = lean / "Other.lean"
    other.write_text("theorem aa (x : Nat) (h1 : x  = 2) : x = 2 := by sorry")
    clean = lean / "Clean.lean"
    clean.write_text("-- a comment that says sorry\ntheorem bb : True := trivial\n")
    dep = lean / ".lake" / "packages" / "dep" / "Dep.lean"
    dep.parent.mkdir(parents=True)
    dep.write_text("theorem cc (x : Nat) (h1 : x  = 2) : x = 2 := by sorry")
    log = tmp_path / "standin.jsonl"
    env, _ = cli_env({"AUTOPROVE_LAKE": os.environ["AUTOPROVE_LAKE"],
                      "AUTOPROVE_LEAN_REPL": os.environ["AUTOPROVE_LEAN_REPL"], standin.LOG_VAR: str(log)})
    srv = RawLsp(env, cwd=lean)
    try:
        srv.send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "capabilities": {}, "rootUri": lean.as_uri(), "processId": None,
            "initializationOptions": {"autoProve": {"budgetSeconds": 5}}}})
        srv.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        deadline = time.monotonic() + 45
        goals: dict[str, list[Any]] = {}
        while time.monotonic() < deadline:
            ep = read_endpoint(lean)
            if ep is not None:
                for f in (other, clean, dep):
                    req = urllib.request.Request(ep["url"] + "/v1/sorries?file=" + urllib.parse.quote(str(f)),
                                                 headers={"Authorization": "Bearer " + ep["token"]})
                    with urllib.request.urlopen(req, timeout=10) as r:
                        goals[f.name] = json.loads(r.read())["goals"]
                if goals["Other.lean"] and goals["Other.lean"][0]["status"] in ("exhausted", "timeout"):
                    break
            time.sleep(0.3)
        srv.shutdown()
    finally:
        srv.kill()
    assert [(g["line"], g["name"]) for g in goals["Other.lean"]] == [(1, "aa")], goals
    assert goals["Other.lean"][0]["status"] in ("exhausted", "timeout")
    assert goals["Clean.lean"] == [] and goals["Dep.lean"] == []
    commands = [json.dumps(e) for e in map(json.loads, log.read_text().splitlines())]
    assert any("theorem aa" in c for c in commands) and not any("theorem bb" in c or "theorem cc" in c
                                                                  for c in commands)


def test_cli_bank_on_lean_runs_and_counts_every_lemma(lean: Path, tmp_path: Path) -> None:
    """`auto-prove bank --backend lean` (what `lake exe auto_prove_bank` runs) with a (stand-in) toolchain: the
    bank's Lean files are run in the REPL; the stand-in has no recording for them and refuses each, and every
    such lemma still counts, unsolved with the reason, instead of vanishing from the solve rate."""
    out = tmp_path / "bank.json"
    env, _ = cli_env({"AUTOPROVE_LAKE": os.environ["AUTOPROVE_LAKE"],
                      "AUTOPROVE_LEAN_REPL": os.environ["AUTOPROVE_LEAN_REPL"]})
    run = subprocess.run([sys.executable, "-m", "sidecar", "bank", "--backend", "lean", "--limit", "1",
                          "--budget", "5", "--json", str(out)], env=env, capture_output=True, text=True, timeout=120,
                         cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    doc = json.loads(out.read_text())
    assert (doc["backend"], doc["total"], doc["solved"]) == ("lean", 3, 0)
    assert all(g["status"] == "error" and "refused" in g["message"] for g in doc["goals"])
    assert "solved 0/3" in run.stdout


# --------------------------------------------------------------------------------------------------
# only propositions are goals: the sort probe through the stand-in (answers hand-written in the recorded shape,
# tests/lean_standin/handwritten/README.md; recorded sessions up to the probe)


def first_command(folder: Path, name: str) -> str:
    return json.loads((folder / f"{name}.in").read_text().split("\n\n")[0])["cmd"]


DEFINITIONS = first_command(standin.HANDWRITTEN_TRANSCRIPTS, "sort_definitions")


@pytest.mark.parametrize("recorded, sort", [
    ("tactic_sorry", "data"),  # def f : Nat := by sorry
    ("term_sorry", "data"),  # def f : Nat := sorry
    ("readme", "data"),  # def f (x : Unit) : Nat := by sorry
    ("dup_sorries", "prop"),  # theorem thm1 : 1 = 1 := sorry
    ("assumption_proof", "prop"),  # theorem aa (x : Nat) (h1 : x  = 2) : x = 2 := by sorry
    ("invalid_tactic", "prop"),
    ("proof_branching", "prop"),
    ("sorry_hypotheses", "unknown"),  # no answer to the probe: the stand-in's off-record error
])
def test_goals_carry_the_sort_lean_gave(lean: Path, prover: LeanProver, recorded: str, sort: str) -> None:
    """`find_lean_goals` runs the file, then asks the same REPL about each sorry with the probe."""
    f = lean / "A.lean"
    f.write_text(first_command(standin.default_transcripts(), recorded))
    (goal,) = find_lean_goals(f, prover=prover, timeout=30).goals
    assert goal.sort == sort and goal.fillable is (sort == "prop")


def test_definitions_instances_and_witnesses_are_data(lean: Path, prover: LeanProver) -> None:
    """A `def` of a function, an `instance`, the witness of `⟨sorry, rfl, sorry⟩`: data; the proof in that same
    constructor, a `def` whose type is a proposition and a theorem about the sorried `def`: propositions."""
    f = lean / "Defs.lean"
    f.write_text(DEFINITIONS)
    found = find_lean_goals(f, prover=prover, timeout=30)
    assert [(g.lemma, g.line, g.column, g.sort) for g in found.goals] == [
        ("f", 4, 21, "data"), ("instance", 6, 28, "data"), ("ex", 8, 41, "data"), ("ex", 8, 53, "prop"),
        ("d", 10, 17, "prop"), ("t", 13, 2, "prop")]


def test_sort_of_needs_the_repl_that_ran_the_file(lean: Path, prover: LeanProver, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A goal that shows a metavariable is not probed; a proof state of a REPL that is gone is not asked about."""
    log = tmp_path / "standin.jsonl"
    monkeypatch.setenv(standin.LOG_VAR, str(log))
    source = first_command(standin.default_transcripts(), "assumption_proof")
    prover.run_file(lean / "A.lean", source, lean, 20)
    assert prover.sort_of(0, 10, goal="x : ?m.12\n⊢ x") == "unknown"
    assert prover.sort_of(0, 10, goal="x : Nat\nh1 : x = 2\n⊢ x = 2") == "prop"
    queries = [json.loads(e["lines"][0]) for e in map(json.loads, log.read_text().splitlines())
               if e.get("event") == "query"]
    assert [q.get("tactic") for q in queries] == [None, SORT_PROBE]
    for pid in prover.pids():
        psutil.Process(pid).send_signal(signal.SIGKILL)
    psutil.wait_procs([psutil.Process(p) for p in prover.pids() if psutil.pid_exists(p)], timeout=5)
    assert prover.sort_of(0, 10) == "unknown"
    prover.enter(env_for(lean, source), timeout=20)  # a new REPL: its proof state 0 is not the one asked about
    assert prover.sort_of(0, 10) == "unknown"


def cli_prove(lean: Path, f: Path, out: Path, extra: dict[str, str] | None = None) -> list[dict[str, Any]]:
    env, _ = cli_env({"AUTOPROVE_LAKE": os.environ["AUTOPROVE_LAKE"],
                      "AUTOPROVE_LEAN_REPL": os.environ["AUTOPROVE_LEAN_REPL"], **(extra or {})})
    run = subprocess.run([sys.executable, "-m", "sidecar", "prove", str(f), "--budget", "3", "--json", str(out)],
                         env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    goals: list[dict[str, Any]] = json.loads(out.read_text())["goals"]
    return goals


def test_cli_lists_definitions_as_data_and_never_fills_them(lean: Path, tmp_path: Path) -> None:
    """`auto-prove prove` on a Lean file with definitions: each data sorry is reported `kind: "data"`, `skipped`,
    "a definition's body: not filled", with no proof; the propositions are searched (the stand-in cannot answer the
    search's tactics, so none is proved) and the file is left alone."""
    f = lean / "Defs.lean"
    f.write_text(DEFINITIONS)
    goals = cli_prove(lean, f, tmp_path / "r.json")
    data = [(g["line"], g["name"], g["kind"], g["status"], g["message"], g["proof"]) for g in goals
            if g["kind"] == "data"]
    assert data == [(4, "f", "data", "skipped", "a definition's body: not filled", None),
                    (6, "instance", "data", "skipped", "a definition's body: not filled", None),
                    (8, "ex", "data", "skipped", "a definition's body: not filled", None)]
    props = [(g["line"], g["name"], g["kind"]) for g in goals if g["kind"] != "data"]
    assert props == [(8, "ex", "sorry"), (10, "d", "sorry"), (13, "t", "sorry")]
    assert all(g["status"] in ("exhausted", "timeout") for g in goals if g["kind"] != "data")
    assert f.read_text() == DEFINITIONS


def test_cli_never_searches_a_sorry_lean_did_not_confirm(lean: Path, tmp_path: Path) -> None:
    """No answer to the probe (here: off the record) means "unknown", treated as data: skipped, and the REPL is
    asked nothing beyond the file and the probe — no search starts."""
    from sidecar.sorts import SKIP_MESSAGES

    f = lean / "Main.lean"
    f.write_text(first_command(standin.default_transcripts(), "sorry_hypotheses"))
    log = tmp_path / "standin.jsonl"
    goals = cli_prove(lean, f, tmp_path / "r.json", {standin.LOG_VAR: str(log)})
    assert [(g["line"], g["name"], g["kind"], g["status"], g["message"]) for g in goals] == [
        (1, "foo", "data", "skipped", SKIP_MESSAGES["unknown"])]
    events = [e for e in map(json.loads, log.read_text().splitlines()) if e["program"] == "repl"]
    assert [e["event"] for e in events] == ["start", "query", "query"]
    assert json.loads(events[2]["lines"][0]) == {"proofState": 0, "tactic": SORT_PROBE}
