"""Best-first search on a real coqidetop: proofs found replay, budgets and cancellation hold, states are expanded
once, hammer reconstructions are parsed and self-citations refused."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from sidecar.provers.base import Environment, ProofState
from sidecar.provers.coq import CoqProver
from sidecar.search import Search, SearchBudget, SearchResult, hammer_replacements
from sidecar.strategies import Candidate, SearchContext, strategy_for
from sidecar.strategies.coq import CoqPremises, environment_of, leading_binders, parse_search_output, search_terms


def env_for(tmp_path: Path, *sentences: str) -> Environment:
    f = tmp_path / "T.v"
    f.write_text("\n".join(sentences) + "\nAdmitted.\n")
    return Environment(file=f, backend="coq", sentences=tuple(sentences), workdir=tmp_path)


@pytest.fixture()
def prover():
    p = CoqProver()
    yield p
    p.close()


def search(prover: CoqProver, env: Environment, seconds: float = 20.0, **kw) -> SearchResult:
    root = prover.enter(env, 60)
    lemmas, defs, ltacs = environment_of(env.sentences)
    ctx = SearchContext(lemmas=lemmas, definitions=defs, extra={"ltacs": ltacs, "premises": CoqPremises(prover)})
    return Search(prover, strategy_for("coq", 0), ctx, SearchBudget(seconds=seconds), **kw).run(root)


def replays(prover: CoqProver, env: Environment, script: tuple[str, ...]) -> bool:
    state: ProofState = prover.enter(env, 60)
    for tac in script:
        r = prover.run(state, tac, 10)
        if r.outcome not in ("ok", "finished") or r.state is None:
            return False
        state = r.state
    return state.finished


def test_finds_a_proof_that_replays_from_the_statement(prover: CoqProver, tmp_path: Path) -> None:
    env = env_for(tmp_path, "Require Import Arith.", "Lemma t : forall n : nat, n + 0 = n.")
    res = search(prover, env)
    assert res.status == "proved" and res.script
    assert replays(prover, env, res.script)


def test_uses_an_earlier_lemma_of_the_file(prover: CoqProver, tmp_path: Path) -> None:
    env = env_for(
        tmp_path,
        "Definition P (n : nat) : Prop := n = n.",
        "Lemma helper : forall n, P n.",
        "Proof.", "intro n.", "unfold P.", "reflexivity.", "Qed.",
        "Lemma t : P 3 /\\ P 4.",
    )
    res = search(prover, env)
    assert res.status == "proved" and res.script and replays(prover, env, res.script)


def test_induction_with_generalization(prover: CoqProver, tmp_path: Path) -> None:
    env = env_for(
        tmp_path,
        "Require Import Arith Lia.",
        "Fixpoint sacc (n acc : nat) : nat := match n with 0 => acc | S k => sacc k (S acc) end.",
        "Lemma t : forall acc n, sacc n acc = n + acc.",
    )
    res = search(prover, env, seconds=40)
    assert res.status == "proved" and res.script and replays(prover, env, res.script)


def test_unprovable_goal_ends_within_budget(prover: CoqProver, tmp_path: Path) -> None:
    env = env_for(tmp_path, "Lemma t : forall n : nat, n = S n.")
    t0 = time.monotonic()
    res = search(prover, env, seconds=3)
    assert res.status in ("timeout", "exhausted") and res.script is None
    assert time.monotonic() - t0 < 3 + 8  # one tactic deadline of slack


def test_cancellation_stops_promptly(prover: CoqProver, tmp_path: Path) -> None:
    env = env_for(tmp_path, "Lemma t : forall n : nat, n = S n.")
    cancel = threading.Event()
    timer = threading.Timer(0.5, cancel.set)
    timer.start()
    t0 = time.monotonic()
    res = search(prover, env, seconds=60, cancel=cancel)
    assert res.status == "cancelled"
    assert time.monotonic() - t0 < 10


class _Counting:
    """A candidate source that records which states were expanded."""

    def __init__(self) -> None:
        self.inner = strategy_for("coq", 0)
        self.expanded: list[str] = []

    def candidates(self, state: ProofState, ctx: SearchContext, depth: int) -> list[Candidate]:
        self.expanded.append(state.key())
        return self.inner.candidates(state, ctx, depth)


def test_each_distinct_state_is_expanded_once(prover: CoqProver, tmp_path: Path) -> None:
    env = env_for(tmp_path, "Lemma t : forall (P Q : Prop), P -> Q -> Q /\\ P /\\ (P \\/ False).")
    src = _Counting()
    root = prover.enter(env, 60)
    Search(prover, src, SearchContext(), SearchBudget(seconds=5, expansions=40)).run(root)
    assert len(src.expanded) == len(set(src.expanded))


def test_hammer_replacements_are_parsed() -> None:
    msg = ("Reconstructing the proof...\nTactic srun eauto succeeded.\nReplace the hammer tactic with:\n"
           "\tsrun eauto use: Zorder.Zgt_trans, foo.\n")
    assert hammer_replacements(msg) == ["srun eauto use: Zorder.Zgt_trans, foo"]


def test_goal_shape_helpers() -> None:
    from sidecar.provers.base import GoalView

    assert leading_binders("forall (n m : nat) (l : list A), n = m") == ["n", "m", "l"]
    consts, notations = search_terms(GoalView(("A : Type", "l1, l2 : list A"), "Permutation (l1 ++ l2) (l2 ++ l1)"))
    assert consts == ["Permutation"] and notations == ["++"]
    assert parse_search_output("a: forall x,\n  x = x\nb : True\n") == [("a", "forall x, x = x"), ("b", "True")]


def test_premises_never_include_a_lemma_of_the_goals_own_name(prover: CoqProver, tmp_path: Path) -> None:
    env = env_for(tmp_path, "Require Import Arith.", "Lemma add_comm : forall n m : nat, n + m = m + n.")
    root = prover.enter(env, 60)
    strict, loose = CoqPremises(prover, exclude="add_comm"), CoqPremises(prover)
    assert strict(root) and loose(root)
    found_strict = {n for entries in strict._cache.values() for n, _ in entries}
    found_loose = {n for entries in loose._cache.values() for n, _ in entries}
    assert "Nat.add_comm" in found_loose
    assert found_strict and not any(n.split(".")[-1] == "add_comm" for n in found_strict)


def test_a_refused_script_does_not_end_the_search(prover: CoqProver, tmp_path: Path) -> None:
    """The caller's check (verification in the product) refuses the first finished script; the search goes on
    and returns one it accepts."""
    env = env_for(tmp_path, "Lemma t : forall n : nat, n = n.")
    seen: list[tuple[str, ...]] = []

    def accept(script: tuple[str, ...]) -> bool:
        seen.append(script)
        return len(seen) > 1

    res = search(prover, env, accept=accept)
    assert res.status == "proved" and res.script == seen[-1] and len(seen) >= 2
    assert res.refused == len(seen) - 1 and seen[0] != seen[-1]
    assert replays(prover, env, res.script)


def test_a_search_whose_every_script_is_refused_reports_no_proof(prover: CoqProver, tmp_path: Path) -> None:
    env = env_for(tmp_path, "Lemma t : True.")
    res = search(prover, env, seconds=5.0, accept=lambda script: False)
    assert res.status in ("exhausted", "timeout") and res.script is None and res.refused >= 1


def test_cheap_steps_on_a_new_state_run_before_costly_ones_on_its_parent(prover: CoqProver, tmp_path: Path) -> None:
    """Edges, not states, are ordered: after `intros` succeeds, the cheap closers on the new state are tried
    before the root's expensive candidates (induction, library premises)."""
    env = env_for(tmp_path, "Lemma t : forall (P : Prop), P -> P.")
    tried: list[tuple[str, str]] = []
    res = search(prover, env, on_attempt=lambda strategy, tactic, outcome, s: tried.append((strategy, tactic)))
    assert res.status == "proved"
    first_premise = next((i for i, (s, _) in enumerate(tried) if s in ("premise", "induction")), len(tried))
    assert ("intro", "intros") in tried[:first_premise]


def test_foreign_names_are_those_only_an_added_import_loads(prover: CoqProver, tmp_path: Path) -> None:
    from sidecar.coq_source import loaded_libraries, parse_libraries, require_sentences
    from sidecar.strategies.coq import foreign_names

    sentences = ("From Coq Require Import Lia.", "Require Import List.", "Lemma t : forall n : nat, n + 0 = n.")
    root = prover.enter(env_for(tmp_path, *sentences), 60)
    own = loaded_libraries(require_sentences(sentences[1:]))
    session = parse_libraries(prover.run(root, "Print Libraries", 10).message)
    assert own and "Coq.Lists.List" in own and "Coq.micromega.Lia" in session
    foreign = frozenset(session - own)
    assert "Coq.micromega.Lia" in foreign and "Coq.Lists.List" not in foreign
    used = foreign_names(prover, root, ("intros", "induction n", "split", "reflexivity; symmetry",
                                        "rewrite BinInt.Z.add_0_r", "apply app_nil_r", "lia"), foreign)
    assert used == ["Coq.ZArith.BinInt.Z.add_0_r"]  # tactics (lia) and the file's own libraries are fine
    # a Search restricted to the file's own libraries finds nothing from the import's
    names = CoqPremises(prover, outside=sorted(foreign))(root)
    located = foreign_names(prover, root, tuple(f"apply {n}" for n in names), foreign)
    assert names and not located


def test_require_sentences_and_loaded_libraries() -> None:
    from sidecar.coq_source import loaded_libraries, require_sentences

    got = require_sentences(("(* a *) Require Import\n  Arith.", "Definition x := 1.", "From Coq Require Lia.",
                             "Require Export List."))
    assert got == ("Require Import Arith.", "From Coq Require Lia.", "Require Export List.")
    libs = loaded_libraries(("Require Import Arith.",))
    assert libs and "Coq.Arith.PeanoNat" in libs and "Coq.Init.Prelude" in libs
    assert loaded_libraries(("Require Import NoSuchLibraryAnywhere.",)) is None


def test_a_timed_out_candidate_is_retried_later_with_more_time(prover: CoqProver, tmp_path: Path) -> None:
    """A tactic that needs more than its first time limit gets a second, longer run once cheaper work is done."""
    env = env_for(tmp_path, "Parameter Secret : Prop.", "Axiom s : Secret.",
                  "Ltac burn := do 20000 (do 1000 idtac); exact s.", "Lemma t : Secret.")  # ~5 s here
    root = prover.enter(env, 60)
    lemmas, defs, ltacs = environment_of(env.sentences)
    ctx = SearchContext(lemmas=lemmas, definitions=defs, tactic_timeout=1.0, extra={"ltacs": ltacs})
    tried: list[tuple[str, str, str]] = []
    budget = SearchBudget(seconds=90, retry_factor=30.0, retry_max_timeout=30.0)
    res = Search(prover, strategy_for("coq", 0), ctx, budget, accept=lambda script: "burn" in script,
                 on_attempt=lambda strategy, tactic, outcome, s: tried.append((strategy, tactic, outcome))).run(root)
    burns = [o for _, t, o in tried if t == "burn"]
    assert burns[:1] == ["timeout"] and "finished" in burns, tried
    assert res.status == "proved" and res.script == ("burn",)


def test_a_timed_out_sauto_or_hammer_is_not_retried(prover: CoqProver, tmp_path: Path) -> None:
    """CoqHammer's automation succeeds fast or not at all: a timeout of its family is final (no 4× second run)."""
    from sidecar.search import NO_RETRY
    from sidecar.strategies import Candidate

    env = env_for(tmp_path, "Parameter Secret : Prop.", "Axiom s : Secret.",
                  "Ltac burn := do 80000 (do 1000 idtac); exact s.", "Lemma t : Secret.")  # ~20 s here: over 4× its limit
    root = prover.enter(env, 60)

    class Only:
        def candidates(self, state, ctx, depth):  # type: ignore[no-untyped-def]
            return [Candidate("burn", family, 1.0, 0.5) for family in ("sauto", "hammer", "ltac")]

    tried: list[tuple[str, str]] = []
    budget = SearchBudget(seconds=30, retry_factor=4.0)
    Search(prover, Only(), SearchContext(), budget,
           on_attempt=lambda strategy, tactic, outcome, s: tried.append((strategy, outcome))).run(root)
    assert {"sauto", "hammer"} <= NO_RETRY
    assert tried.count(("sauto", "timeout")) == 1 and tried.count(("hammer", "timeout")) == 1
    assert tried.count(("ltac", "timeout")) == 2  # any other family gets its second, longer run


SPLIT_LEMMA = ("Require Import Arith.",
               "Lemma t (n m : nat) (s : {n < m} + {n = m}) : (n ?= m) = (match s with left _ => Lt | right _ => Eq end).")


def test_a_focused_search_closes_the_first_goal_and_leaves_the_others(prover: CoqProver, tmp_path: Path) -> None:
    """Goal by goal: from a state with two goals, the focused search returns the state where the first is closed
    and the second is exactly as it was, with the steps that lead there from the state."""
    env = env_for(tmp_path, *SPLIT_LEMMA)
    root = prover.enter(env, 60)
    split = prover.run(root, "destruct s", 5).state
    assert split is not None and len(split.goals) == 2
    lemmas, defs, ltacs = environment_of(env.sentences)
    ctx = SearchContext(lemmas=lemmas, definitions=defs, extra={"ltacs": ltacs, "premises": CoqPremises(prover)})
    search = Search(prover, strategy_for("coq", 0), ctx, SearchBudget(seconds=20, focus_seconds=10))
    res = SearchResult(status="exhausted")
    got = search._focus(res, split, 20.0)
    assert got is not None
    state, steps = got
    assert state.goals == split.goals[1:] and state.path[:len(split.path)] == split.path
    assert [tac for _, tac, _ in steps] == list(state.path[len(split.path):]) and steps[0][0] == split
    assert res.attempts > 0  # the focused search's attempts count in the caller's


def test_a_search_with_focused_searches_finds_a_proof_that_replays(prover: CoqProver, tmp_path: Path) -> None:
    env = env_for(tmp_path, *SPLIT_LEMMA)
    res = search_with(prover, env, SearchBudget(seconds=30, focus_seconds=3))
    assert res.status == "proved" and res.script and replays(prover, env, res.script)


def test_a_focused_search_leaves_out_all_or_nothing_automation(prover: CoqProver, tmp_path: Path) -> None:
    """`sauto`/`hammer` take long to fail: a focused search (a short burst) does not try them; the main one does."""
    from sidecar.strategies import Candidate

    env = env_for(tmp_path, "Lemma t : True /\\ True.")
    root = prover.enter(env, 60)

    class Split:
        def candidates(self, state, ctx, depth):  # type: ignore[no-untyped-def]
            if not state.path:
                yield Candidate("split", "split", 0.5, 1.0)
            yield Candidate("idtac", "sauto", 0.6, 1.0)
            yield Candidate("exact I", "closer", 0.7, 1.0)

    tried: list[tuple[str, str]] = []
    res = Search(prover, Split(), SearchContext(), SearchBudget(seconds=20, focus_seconds=5),
                 on_attempt=lambda strategy, tactic, outcome, s: tried.append((strategy, tactic))).run(root)
    assert res.status == "proved"
    assert res.script == ("split", "exact I", "exact I")
    # `idtac` (family sauto) is tried at the root only: not on the split's goals, which the focus closes
    assert tried.count(("sauto", "idtac")) == 1


def search_with(prover: CoqProver, env: Environment, budget: SearchBudget) -> SearchResult:
    root = prover.enter(env, 60)
    lemmas, defs, ltacs = environment_of(env.sentences)
    ctx = SearchContext(lemmas=lemmas, definitions=defs, extra={"ltacs": ltacs, "premises": CoqPremises(prover)})
    return Search(prover, strategy_for("coq", 0), ctx, budget).run(root)


def test_premises_with_the_goals_shape_come_first(prover: CoqProver, tmp_path: Path) -> None:
    from sidecar.strategies.coq import goal_pattern

    env = env_for(tmp_path, "Require Import ZArith.", "Open Scope Z_scope.",
                  "Lemma t : forall p q r : Z, 0 <= p -> 0 < q <= r -> p / r <= p / q.")
    root = prover.enter(env, 60)
    r = prover.run(root, "intros p q r H H0", 10)
    assert r.state is not None
    assert goal_pattern(r.state.goals[0]) == "_ / _ <= _ / _"
    names = CoqPremises(prover)(r.state)
    assert "Z.div_le_compat_l" in names[:5] and "H" not in names and "H0" not in names
    res = search(prover, env)
    assert res.status == "proved" and replays(prover, env, res.script or ())


def test_premises_include_equivalences_with_the_goals_shape(prover: CoqProver, tmp_path: Path) -> None:
    """`(n ?= m) = Lt` is one side of `Nat.compare_lt_iff`: no lemma's conclusion has the goal's shape, but
    `apply` takes the equivalence in the direction that fits, and the search closes the goal with it."""
    env = env_for(tmp_path, "Require Import Arith.", "Lemma t : forall n m : nat, n < m -> (n ?= m) = Lt.")
    root = prover.enter(env, 60)
    r = prover.run(root, "intros n m l", 10)
    assert r.state is not None
    names = CoqPremises(prover)(r.state)
    assert {"Nat.compare_lt_iff", "nat_compare_lt"} & set(names[:8]), names
    done = prover.run(r.state, f"apply {next(n for n in names if n in ('Nat.compare_lt_iff', 'nat_compare_lt'))}", 10)
    assert done.state is not None and prover.run(done.state, "assumption", 10).outcome == "finished"


def test_scrutinees_of_if_and_match() -> None:
    from sidecar.strategies.coq import scrutinees

    text = "S (if Nat.eqb x y then S (f x t) else f x t) = match l with | nil => 0 | _ :: _ => 1 end"
    assert scrutinees(text) == ["Nat.eqb x y", "l"]
    assert scrutinees("match f (g x) as y return P y with | O => True | S _ => False end") == ["f (g x)"]
    assert scrutinees("if b then if c then 1 else 2 else 3") == ["b", "c"]
    assert scrutinees("x = y") == []


def test_reflection_lemmas_for_comparisons_and_max() -> None:
    from sidecar.strategies.coq import parse_hypotheses, spec_cases
    pos = parse_hypotheses(("p, q, r : positive", "Hqp : q < p"))
    assert spec_cases("(p - q ?= p - r) = (r ?= q)", pos) == [
        "compare_spec (p - q) (p - r)", "Pos.compare_spec (p - q) (p - r)", "compare_spec r q", "Pos.compare_spec r q"]
    # what a `match` branches on, and a qualified `max` keeps its module
    assert spec_cases("q <= match p ?= q with | Lt => q | _ => p end", pos) == ["compare_spec p q", "Pos.compare_spec p q"]
    assert spec_cases("(if x =? y then 1 else 0) = Nat.max a (b + 1)", parse_hypotheses(("x, y : Z",))) == [
        "eqb_spec x y", "Z.eqb_spec x y", "Nat.max_spec a (b + 1)"]
    assert spec_cases("max (f x) (f y) == f (max x y)", []) == ["max_spec (f x) (f y)", "max_spec x y"]
    assert spec_cases("x = y", pos) == []


def test_case_analysis_by_a_comparisons_reflection_lemma(prover: CoqProver, tmp_path: Path) -> None:
    # after `destruct (p ?= q)` lia knows nothing of the case; after `destruct (Pos.compare_spec p q)` it has p < q
    env = env_for(tmp_path, "Require Import PArith Lia.", "Local Open Scope positive_scope.",
                  "Definition pick (p q : positive) := match p ?= q with Lt => q | _ => p end.",
                  "Lemma pick_ge (p q : positive) : q <= pick p q.")
    res = search(prover, env, 30.0)
    assert res.status == "proved" and res.script
    assert any("compare_spec p q" in tac for tac in res.script), res.script
    assert replays(prover, env, res.script)


def test_case_analysis_on_an_if_inside_an_induction(prover: CoqProver, tmp_path: Path) -> None:
    env = env_for(
        tmp_path,
        "Require Import Arith List.",
        "Import ListNotations.",
        "Fixpoint cnt (x : nat) (l : list nat) : nat := match l with nil => 0 "
        "| y :: t => if Nat.eqb x y then S (cnt x t) else cnt x t end.",
        "Lemma t : forall (x : nat) (l1 l2 : list nat), cnt x (l1 ++ l2) = cnt x l1 + cnt x l2.",
    )
    res = search(prover, env, seconds=60)
    assert res.status == "proved" and replays(prover, env, res.script or ())


def test_locate_output_is_read_as_coq_resolves_names() -> None:
    from sidecar.strategies.coq import located

    assert located("Constant Coq.NArith.BinNat.N.induction\n  (shorter name to refer to it in current context is "
                   "N.induction)\nConstant Coq.ZArith.BinInt.Z.induction\n  (shorter name to refer to it in "
                   "current context is Z.induction)") is None  # `induction` alone names no constant
    assert located("Constant d004.Zgt_trans\nConstant Coq.ZArith.Zorder.Zgt_trans (shorter name to refer to it in "
                   "current context is Zorder.Zgt_trans)") == ("Constant", "d004.Zgt_trans")
    assert located("No object of basename foo") is None
    assert located("Ltac Hammer.Tactics.Tactics.sauto") == ("Ltac", "Hammer.Tactics.Tactics.sauto")


def test_golf_replaces_a_chain_by_one_lemma_that_closes_it(prover: CoqProver, tmp_path: Path) -> None:
    """A chain of four steps gives way to `apply ev_plus4` (a lemma of the file that closes the goal at once, the
    statement up to computation) when golf is given it; without it, no one-step closer exists."""
    from sidecar.golf import golf

    env = env_for(tmp_path, "Inductive ev : nat -> Prop := ev0 : ev 0 | evSS : forall n, ev n -> ev (S (S n)).",
                  "Lemma ev_plus4 : forall n, ev n -> ev (4 + n).",
                  "Proof.", "intros n H.", "simpl.", "apply evSS.", "apply evSS.", "exact H.", "Qed.",
                  "Lemma ev_8 : forall n, ev n -> ev (S (S (S (S n)))).")
    root = prover.enter(env, 60)
    chain = ("intros n H", "apply evSS", "apply evSS", "exact H")
    assert golf(prover, root, chain, lambda s: True, "coq", 10.0, lemmas=("ev_plus4",)) == ("apply ev_plus4",)
    without = golf(prover, root, chain, lambda s: True, "coq", 10.0)
    assert without is None or len(without) > 1
