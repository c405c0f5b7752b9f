"""Helper-lemma tickets: statements made from what a search left (unit), and with real Coq: checked, refuted when
false at a small instance, dropped when they are the goal in other words, searched, the goal proved again with a
proved one (the whole script verified and compiling); from `prove` to the ledger, `auto-prove tickets`, `--accept`
(the file compiles with the helper in it) and the language server's hover and quick fix."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import run_cli
from sidecar.provers.base import Environment, GoalView, ProofState
from sidecar.search import SearchBudget, SearchResult
from sidecar.tickets import TicketPhase, counterexample_tactics, helper_binders, helper_statement, propose

needs_coq = pytest.mark.skipif(shutil.which("coqc") is None, reason="coqc not installed")


def test_a_goal_is_closed_over_the_context_it_needs() -> None:
    v = GoalView(("n, m : nat", "H : n <= m", "k : nat", "Hk : k = 0", "x := 3 : nat", "H1 : n <= m"), "S n <= S m")
    # k, Hk, x and the twin hypothesis left out
    assert helper_statement(v) == "forall (n : nat) (m : nat) (H : n <= m), S n <= S m"
    full = helper_statement(v, relevant_only=False)
    assert full is not None and full.startswith("forall (n : nat) (m : nat) (H : n <= m) (k : nat) (Hk : k = 0), "
                                                "let x : nat := 3 in S n <= S m")
    assert helper_statement(GoalView(("n : nat",), "?x = n")) is None  # an existential variable: no statement
    assert helper_statement(GoalView(("what is this",), "True")) is None
    assert helper_binders(v) == [("n", "nat", True), ("m", "nat", True), ("H", "n <= m", False)]
    best = ProofState(("intros",), (v, GoalView(("n : nat",), "n = n")), 0)
    root = ProofState((), (GoalView((), "forall n m : nat, n <= m -> S n <= S m"),), 0)
    names = [stmt for _, stmt, _ in propose([best, best], root, "M.le_S")]
    assert names == ["forall (n : nat) (m : nat) (H : n <= m), S n <= S m", "forall (n : nat), n = n"]


def test_counterexamples_are_small_instances_spread_over_every_variable() -> None:
    tacs = counterexample_tactics([("x", "nat", True), ("l", "list nat", True)])
    assert 2 <= len(tacs) <= 16 and all(t.startswith("intro H; specialize (H ") for t in tacs)
    assert any("(H 0 " in t for t in tacs) and any("(H 3 " in t for t in tacs)  # not only the first value of x
    assert counterexample_tactics([("A", "Type", True), ("x", "A", True)])[0].startswith("intro H; specialize (H nat ")
    assert counterexample_tactics([("t", "tree", True)]) == []  # a type with no small values known: nothing tried


LEMMA = "Lemma two_facts : forall n : nat, n + 0 = n /\\ 0 + n = n."


@needs_coq
def test_a_proved_helper_lets_the_goal_be_proved_and_the_whole_script_is_verified(tmp_path: Path) -> None:
    """The search is taken to have stopped after `intros n; split` (a real state): the first goal left becomes a
    ticket, is proved on its own, and the goal is proved again with it; the script — `assert`, the helper's proof,
    the rest — passes the verifier and the patched file compiles."""
    from sidecar.goals import find_goals
    from sidecar.patch import render_replacement
    from sidecar.provers.coq import CoqProver
    from sidecar.strategies import SearchContext, strategy_for
    from sidecar.verify import verify

    f = tmp_path / "T.v"
    f.write_text(LEMMA + "\nAdmitted.\n")
    goal = find_goals(f).goals[0]
    env = Environment(file=f, backend="coq", sentences=(LEMMA,), workdir=tmp_path)
    prover = CoqProver()
    verified: list[tuple[str, ...]] = []

    def accept(script: tuple[str, ...]) -> bool:
        ok = verify(goal, render_replacement(goal, script)).ok
        if ok:
            verified.append(script)
        return ok

    try:
        root = prover.enter(env, 60)
        r = prover.run(root, "intros n; split", 10)
        assert r.outcome == "ok" and r.state is not None and len(r.state.goals) == 2
        stopped = SearchResult(status="exhausted", best=r.state, near=(root,))
        result, tickets = TicketPhase(prover, strategy_for("coq", 0), SearchContext(), SearchBudget(seconds=10), 10.0,
                                      accept=accept).run(root, stopped, goal.lemma)
    finally:
        prover.close()
    assert tickets and tickets[0].status == "used" and tickets[0].proof
    assert tickets[0].statement == "forall n : nat, n + 0 = n"  # as Coq prints it
    assert result.status == "proved" and result.script is not None and result.script in verified
    assert result.script[0].startswith("assert (") and "as two_facts_helper1" in result.script[0]
    patched = tmp_path / "P.v"
    patched.write_text(f.read_text().replace("Admitted.", render_replacement(goal, result.script)))
    assert subprocess.run(["coqc", "-q", str(patched)], cwd=tmp_path, capture_output=True).returncode == 0


@needs_coq
def test_false_and_restated_proposals_are_dropped(tmp_path: Path) -> None:
    """`n = m` (a hypothesis lost on the way) is false at n=0, m=1; the goal after `intros` is the goal itself."""
    from sidecar.provers.coq import CoqProver
    from sidecar.strategies import SearchContext, strategy_for

    stmt = "Lemma inj : forall n m : nat, S n = S m -> n = m."
    (tmp_path / "T.v").write_text(stmt + "\nAdmitted.\n")
    env = Environment(file=tmp_path / "T.v", backend="coq", sentences=(stmt,), workdir=tmp_path)
    prover = CoqProver()
    try:
        root = prover.enter(env, 60)
        lost = ProofState(("x",), (GoalView(("n, m : nat",), "n = m"),), 0, handle=root.handle)
        restated = ProofState(("y",), (GoalView(("n, m : nat", "H : S n = S m"), "n = m"),), 0, handle=root.handle)
        stopped = SearchResult(status="exhausted", best=lost, near=(restated,))
        _, tickets = TicketPhase(prover, strategy_for("coq", 0), SearchContext(), SearchBudget(seconds=5), 0.0,
                                 accept=lambda s: False).run(root, stopped, "inj")
    finally:
        prover.close()
    assert tickets == []


SORTED = """Require Import List Arith.
Import ListNotations.

Fixpoint ins (x : nat) (l : list nat) : list nat :=
  match l with
  | [] => [x]
  | y :: t => if x <=? y then x :: y :: t else y :: ins x t
  end.

Inductive sorted : list nat -> Prop :=
  | sorted_nil : sorted []
  | sorted_one : forall x, sorted [x]
  | sorted_cons : forall x y t, x <= y -> sorted (y :: t) -> sorted (x :: y :: t).

Lemma ins_sorted : forall (x : nat) (l : list nat), sorted l -> sorted (ins x l).
Admitted.
"""


@needs_coq
def test_prove_leaves_tickets_that_the_user_lists_and_accepts_into_the_file(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "_CoqProject").write_text("-R . S\nS.v\n")
    (root / "S.v").write_text(SORTED)
    r = run_cli("prove", root, "--budget", "4", "--profile", "0", "--ticket-seconds", "0", "--json",
                tmp_path / "out.json", timeout=300)
    assert r.returncode == 0, r
    row = json.loads((tmp_path / "out.json").read_text())["goals"][0]
    assert row["status"] != "proved" and row["tickets"], row  # the insertion lemma is beyond 4 s of profile 0
    assert "helper lemmas proposed" in r.stdout and row["tickets"][0]["name"] in r.stdout
    listed = run_cli("tickets", root)
    assert listed.returncode == 0 and "ins_sorted_helper1" in listed.stdout, listed
    assert run_cli("tickets", root, "--accept", "no_such_helper").returncode == 2
    before = (root / "S.v").read_text()
    acc = run_cli("tickets", root, "--accept", "ins_sorted_helper1", timeout=300)
    assert acc.returncode == 0 and "Admitted" in acc.stdout, acc
    after = (root / "S.v").read_text()
    t = row["tickets"][0]
    assert f"Lemma ins_sorted_helper1 : {t['statement']}.\nAdmitted.\n\nLemma ins_sorted :" in after
    assert after.replace(f"Lemma ins_sorted_helper1 : {t['statement']}.\nAdmitted.\n\n", "") == before  # nothing else
    assert subprocess.run(["coqc", "-q", "-R", ".", "S", "S.v"], cwd=root, capture_output=True).returncode == 0
    again = run_cli("tickets", root, "--accept", "ins_sorted_helper1")
    assert again.returncode == 2 and (root / "S.v").read_text() == after  # already there: refused, untouched
