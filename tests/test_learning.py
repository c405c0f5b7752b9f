"""Profile 1's learning core: state features, the k-NN tactic memory, proof reuse, the learned strategy, and a real
search that uses them (real coqidetop)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Sequence

import pytest

from sidecar.learn import LemmaProof, TacticExample
from sidecar.learn.features import parse_term, state_features, statement_binders, statement_features
from sidecar.learn.memory import ProofMemory, TacticMemory, adapt_names
from sidecar.strategies import Candidate, SearchContext, strategy_for
from sidecar.strategies.learned import LearnedProfile

needs_coq = pytest.mark.skipif(shutil.which("coqidetop.opt") is None, reason="coqidetop.opt not installed")


def ex(hyps: Sequence[str], goal: str, tactic: str, lemma: str = "l", origin: str = "Lib", order: int = 0) -> TacticExample:
    return TacticExample(tuple(hyps), goal, tactic, lemma, origin, order)


def test_features_ignore_local_names_and_see_structure() -> None:
    a = state_features(["n, m : nat", "H : n <= m"], "S n <= S m")
    b = state_features(["a, b : nat", "Hab : a <= b"], "S a <= S b")
    c = state_features(["l : list nat"], "rev (rev l) = l")
    assert a == b and len(a & c) < len(a) / 3
    tree = parse_term("forall x : nat, x + 0 = x")
    assert tree.label == "forall" and tree.children[-1].label == "="
    assert statement_binders("Lemma x {A} (l : list A) (H : l <> nil) : forall k, In k l.") == ["A", "l", "H", "k"]
    assert statement_features("Lemma a (n : nat) : n + 0 = n.") == statement_features("Theorem b (m : nat) : m + 0 = m.")


def test_memory_predicts_the_nearest_tactic_adapted_to_local_names() -> None:
    m = TacticMemory()
    m.add([ex(["n, m : nat", "H : n <= m"], "S n <= S m", "apply le_n_S; exact H"),
           ex(["l : list nat"], "rev (rev l) = l", "apply rev_involutive"),
           ex(["l, l' : list nat"], "length (l ++ l') = length l + length l'", "apply app_length")])
    (first, *_) = m.predict(["a, b : nat", "Hab : a <= b"], "S a <= S b")
    assert first.tactic == "apply le_n_S; exact Hab" and first.score > 0.99
    assert m.predict(["xs : list nat"], "rev (rev xs) = xs")[0].tactic == "apply rev_involutive"
    # a tactic naming a local this state cannot supply is dropped
    assert adapt_names("exact H", ["H"], ["H : n <= m"], ["x"], ["x : nat"]) is None
    # visibility is the caller's predicate, applied at query time
    assert m.predict(["xs : list nat"], "rev (rev xs) = xs", allows=lambda e: e.tactic != "apply rev_involutive")[0] \
        .tactic != "apply rev_involutive"


def test_memory_is_online() -> None:
    m = TacticMemory()
    assert m.predict([], "True") == []
    assert m.add([ex([], "True", "exact I")]) == 1 and m.add([ex([], "True", "exact I")]) == 0
    assert m.predict([], "True")[0].tactic == "exact I"


def test_index_scores_do_not_depend_on_when_items_were_added() -> None:
    """Norms computed in bulk (a reweigh) and for items added between queries agree: the same similarities."""
    import random

    from sidecar.learn.memory import FeatureIndex

    rng = random.Random(3)
    items = [frozenset(rng.sample(range(60), rng.randint(1, 12))) for _ in range(300)]
    bulk: FeatureIndex[int] = FeatureIndex()
    for i, f in enumerate(items):
        bulk.add(i, f, i)
    online: FeatureIndex[int] = FeatureIndex()
    for i, f in enumerate(items):
        online.add(i, f, i)
        if i % 7 == 0:
            online.nearest(f, 3)  # queries between additions: norms of the newest items computed as they come
    for q in items[:40]:
        a = dict(bulk.nearest(q, 10))
        b = dict(online.nearest(q, 10))
        assert set(a) & set(b) and all(abs(a[i] - b[i]) < 0.05 for i in set(a) & set(b))
        exact = [i for i, f in enumerate(items) if f == q]
        assert abs(dict(bulk.nearest(q, len(items)))[exact[0]] - 1.0) < 1e-9


def test_proof_memory_finds_similar_statements() -> None:
    pm = ProofMemory()
    pm.add([LemmaProof("add_0", "Lemma add_0 (n : nat) : n + 0 = n.", ("induction n", "reflexivity"), "Lib", 0),
            LemmaProof("app_nil", "Lemma app_nil (l : list nat) : l ++ nil = l.", ("induction l", "auto"), "Lib", 1)])
    (best, sim), *_ = pm.similar("Lemma mine (k : nat) : k + 0 = k.")
    assert best.lemma == "add_0" and sim > 0.99


class Source:
    """What `learn.service.LearnedView` answers, fixed (the strategy's input, not our code under test)."""

    def __init__(self, predictions: list[tuple[str, float]], scripts: list[tuple[tuple[str, ...], float]]) -> None:
        from sidecar.learn.memory import Prediction

        self.predictions = [Prediction(t, s, 1) for t, s in predictions]
        self.scripts = scripts

    def predict(self, hyps: Sequence[str], goal: str) -> list[object]:
        return self.predictions  # type: ignore[return-value]

    def reuse(self) -> list[tuple[tuple[str, ...], float]]:
        return self.scripts


def test_learned_profile_merges_by_cost_and_dedupes() -> None:
    from sidecar.provers.base import GoalView, ProofState

    state = ProofState((), (GoalView(("n : nat",), "n + 0 = n"),), 0, False, 0)
    src = Source([("auto", 1.0), ("apply my_lemma", 0.9)], [(("intros", "auto"), 0.95)])
    p1 = strategy_for("coq", 1)
    assert isinstance(p1, LearnedProfile)
    cands = list(p1.candidates(state, SearchContext(extra={"learned": src}), 0))
    tactics = [c.tactic for c in cands]
    assert tactics.count("auto") == 1 and "apply my_lemma" in tactics
    reuse = next(c for c in cands if c.strategy == "reuse")
    assert reuse.then == ("auto",) and reuse.tactic == "intros"
    costs = [c.cost for c in cands[:5]]
    assert costs == sorted(costs)
    # without a learned source, profile 1 is profile 0
    assert [c.tactic for c in p1.candidates(state, SearchContext(), 0)][:20] == \
        [c.tactic for c in strategy_for("coq", 0).candidates(state, SearchContext(), 0)][:20]

    # the memory-only slice: the learned candidates alone, by cost; nothing without a learned source
    from sidecar.strategies.learned import LearnedFirst, first_slice

    alone = list(LearnedFirst().candidates(state, SearchContext(extra={"learned": src}), 0))
    assert {c.strategy for c in alone} == {"memory", "reuse"} and len(alone) == 3
    assert [c.cost for c in alone] == sorted(c.cost for c in alone)
    assert [c.tactic for c in LearnedFirst().candidates(state, SearchContext(extra={"learned": src}), 1)] == \
        ["auto", "apply my_lemma"]  # reuse only at the root
    assert list(LearnedFirst().candidates(state, SearchContext(), 0)) == []
    assert 0 < first_slice(60) <= 15 and first_slice(5) < 5

    # learned premises feed apply/rewrite/eauto
    src.premises = lambda: ["plus_n_O", "plus_O_n"]  # type: ignore[attr-defined]
    learned_premises = [c for c in p1.candidates(state, SearchContext(extra={"learned": src}), 0)
                        if c.strategy == "premise-learned"]
    assert "apply plus_n_O" in [c.tactic for c in learned_premises]
    assert "intros; eauto using plus_n_O, plus_O_n" in [c.tactic for c in learned_premises]

@needs_coq
def test_search_runs_a_reused_script_and_reports_its_trace(tmp_path: Path) -> None:
    """A reuse candidate is a whole script (bullets included) run sentence by sentence through real Coq; the proved
    result carries (state, tactic) for every step, which is what the memory learns from."""
    from sidecar.provers.base import Environment
    from sidecar.provers.coq import CoqProver
    from sidecar.search import Search, SearchBudget

    class OnlyReuse:
        backend = "coq"

        def candidates(self, state, ctx, depth):  # type: ignore[no-untyped-def]
            if depth == 0:
                yield Candidate("intros n", "reuse", 0.3, 2.0,
                                then=("induction n", "-", "reflexivity", "-", "simpl", "rewrite IHn", "reflexivity"))

    env = Environment(file=tmp_path / "T.v", backend="coq", sentences=("Lemma t : forall n : nat, n + 0 = n.",
                                                                        "Proof."), workdir=tmp_path)
    with CoqProver() as prover:
        root = prover.enter(env, 60)
        r = Search(prover, OnlyReuse(), SearchContext(), SearchBudget(seconds=30)).run(root)
    assert r.status == "proved" and r.strategy == "reuse", r
    assert r.script == ("intros n", "induction n", "-", "reflexivity", "-", "simpl", "rewrite IHn", "reflexivity")
    assert [t for _, t in r.trace] == list(r.script)
    assert r.trace[0][0].goals[0].conclusion.startswith("forall n")
    assert r.trace[-1][0].goals[0].conclusion == "S (n + 0) = S n" or "S" in r.trace[-1][0].goals[0].conclusion


ROT = """Inductive t := A | B | C | D | E.
Definition rot (x : t) := match x with A => B | B => C | C => D | D => E | E => A end.
Tactic Notation "cases_on" constr(x) := destruct x; reflexivity.
Lemma rot5 : forall x, rot (rot (rot (rot (rot x)))) = x.
Proof. intros x. cases_on x. Qed.
Lemma rot10 : forall y, rot (rot (rot (rot (rot (rot (rot (rot (rot (rot y))))))))) = y.
Proof. Admitted.
"""


@pytest.fixture(scope="module")
def harvest_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One harvest cache for these tests (the prelude is replayed once, then read from it)."""
    return tmp_path_factory.mktemp("harvest-cache")


@needs_coq
def test_profile_1_reuses_an_earlier_proof_of_the_file(tmp_path: Path, harvest_cache: Path) -> None:
    from conftest import read_json, run_cli

    f = tmp_path / "R.v"
    f.write_text(ROT)
    env = {"AUTOPROVE_CACHE": str(harvest_cache)}
    run = run_cli("prove", f, "--profile", "1", "--budget", "20", "--json", tmp_path / "r.json", env=env,
                  timeout=600)
    (row,) = read_json(tmp_path / "r.json")["goals"]
    assert row["status"] == "proved" and "cases_on y" in row["proof"], run
    assert set(row["families"]) & {"reuse", "memory"}, row
    # online: the verified proof is kept for the project, and a new process's memory starts with it
    from sidecar.learn.service import Learning

    fresh = Learning(tmp_path)
    assert len(fresh.tactics) >= 1 and len(fresh.proofs) == 1
    (pred, *_) = fresh.tactics.predict(["z : t"], "rot (rot (rot (rot (rot (rot (rot (rot (rot (rot z))))))))) = z")
    assert pred.tactic in ("intros z", "cases_on z") or "cases_on" in pred.tactic or pred.tactic.startswith("intros")
    # with online learning off (benchmarks/online.py's "reset"), the proof is still found and nothing is kept
    off = tmp_path / "off"
    off.mkdir()
    (off / "R.v").write_text(ROT)
    run = run_cli("prove", off / "R.v", "--profile", "1", "--budget", "20", "--json", off / "r.json",
                  env={**env, "AUTOPROVE_ONLINE_LEARNING": "0"}, timeout=600)
    (row,) = read_json(off / "r.json")["goals"]
    assert row["status"] == "proved", run
    assert not (off / ".auto-prove" / "learned" / "proofs.jsonl").exists()


@needs_coq
def test_profile_1_never_uses_a_later_proof_or_its_own(tmp_path: Path, harvest_cache: Path) -> None:
    """The file's proofs after the goal are not consulted: the only proof using `cases_on` comes after the goal, so
    no proof found for it may use `cases_on`."""
    from conftest import read_json, run_cli

    text = ROT.replace("Lemma rot5 : forall x, rot (rot (rot (rot (rot x)))) = x.\nProof. intros x. cases_on x. Qed.\n",
                       "").replace("Proof. Admitted.\n", "Proof. Admitted.\n"
                                   "Lemma rot5 : forall x, rot (rot (rot (rot (rot x)))) = x.\n"
                                   "Proof. intros x. cases_on x. Qed.\n")
    f = tmp_path / "R.v"
    f.write_text(text)
    run = run_cli("prove", f, "--profile", "1", "--budget", "6", "--json", tmp_path / "r.json",
                  env={"AUTOPROVE_CACHE": str(harvest_cache)}, timeout=600)
    (row,) = read_json(tmp_path / "r.json")["goals"]
    assert "cases_on" not in (row["proof"] or ""), run  # (a library's proof may be reused: the prelude's are visible)


@needs_coq
def test_the_command_lines_default_profile_learns_and_waits_for_no_library_past_its_allowance(tmp_path: Path) -> None:
    """`prove` without --profile is profile 1. With a cold harvest cache and --harvest-seconds 0 the libraries the
    file loads are not waited for (one line says so; they are harvested in the background while the search runs),
    the file's own earlier proof is learned from at once, and nothing the background harvest started outlives the
    run."""
    from conftest import PROFILE_VAR, read_json, run_cli

    f = tmp_path / "R.v"
    f.write_text("From Coq Require Import Arith.\n" + ROT)
    run = run_cli("prove", f, "--budget", "20", "--harvest-seconds", "0", "--json", tmp_path / "r.json",
                  env={PROFILE_VAR: "", "AUTOPROVE_CACHE": str(tmp_path / "cold-cache")}, timeout=600)
    doc = read_json(tmp_path / "r.json")
    (row,) = doc["goals"]
    assert doc["summary"]["profile"] == 1 and "profile 1" in run.stdout, run
    assert "not yet harvested on this machine (past --harvest-seconds 0)" in run.stderr, run
    assert row["status"] == "proved" and "cases_on y" in row["proof"], run
    assert not run.stragglers, run
    bad = run_cli("prove", f, "--profile", "7")
    assert bad.returncode == 2 and "--profile must be one of 0, 1" in bad.stderr, bad


def test_learned_schedule_shifts_costs_by_family_history(tmp_path: Path) -> None:
    import random

    from sidecar.learn.schedule import MAX_SHIFT, FamilyPrior
    from sidecar.ledger import GoalRecord, Ledger

    led = Ledger(tmp_path)
    for i in range(50):
        led.record_attempt(f"k{i}", "winner", "t", "finished", 0.01)
        led.record_attempt(f"k{i}", "loser", "t", "failed", 0.5)
        led.upsert_goal(GoalRecord(f"k{i}", "f.v", "l", 1, "admitted", "proved", "p", 1, 1, 2, True, "", strategy="winner"))
    history = led.family_history()
    assert history["winner"][:2] == (50, 50) and history["loser"][:2] == (50, 0)
    prior = FamilyPrior.sample(history, random.Random(0))
    assert prior.cost("winner", 1.0) < 1.0 < prior.cost("loser", 1.0) <= 1.0 + MAX_SHIFT
    assert prior.cost("unseen", 1.0) == 1.0
    from sidecar.provers.base import GoalView, ProofState

    state = ProofState((), (GoalView((), "True"),), 0, False, 0)
    ctx = SearchContext(extra={"schedule": FamilyPrior({"closer": 0.5})})
    shifted = {c.tactic: c.cost for c in strategy_for("coq", 1).candidates(state, ctx, 0)}
    plain = {c.tactic: c.cost for c in strategy_for("coq", 0).candidates(state, SearchContext(), 0)}
    assert shifted["auto"] == pytest.approx(plain["auto"] + 0.5)


@needs_coq
def test_profile_1_orders_a_documents_goals_by_expected_cost(tmp_path: Path) -> None:
    """Under profile 1 the language server searches a document's cheapest-looking goals first: one the ledger shows
    searched to a timeout goes last, a short statement before a long one; profile 0 keeps file order."""
    from sidecar.goals import find_goals
    from sidecar.learn.schedule import expected_seconds
    from sidecar.ledger import GoalRecord
    from sidecar.live import LiveWorkspace
    from sidecar.scheduler import ProveOptions

    f = tmp_path / "O.v"
    f.write_text("Lemma hard : forall n : nat, n + 0 = n.\nProof. Admitted.\n"
                 "Lemma long : forall a b c d : nat, a + b + c + d = d + c + b + a /\\ a * b * c = c * b * a.\n"
                 "Proof. Admitted.\n"
                 "Lemma short : True.\nProof. Admitted.\n")
    goals = [g for g in find_goals(f).goals if g.fillable]
    assert [g.lemma for g in goals] == ["hard", "long", "short"]
    assert expected_seconds("Lemma a : True.") < expected_seconds("Lemma b : forall n m : nat, n + m = m + n.")
    assert expected_seconds("x", "timeout", 60.0) > expected_seconds("Lemma b : " + "x + " * 50 + "x.")
    for profile, want in ((1, ["short", "long", "hard"]), (0, ["hard", "long", "short"])):
        live = LiveWorkspace(ProveOptions(profile=profile, budget=60), tmp_path)
        try:
            hard = goals[0]
            live.scheduler.ledger.upsert_goal(GoalRecord(hard.key.digest, str(f), "hard", hard.line, "admitted",
                                                         "timeout", None, 60.0, 60.0, 900, False, ""))
            assert [g.lemma for g in sorted(goals, key=live._within)] == want
        finally:
            live.close()


@pytest.mark.parametrize("method", ["knn", "nb", "both"])
def test_premise_selection_learns_from_visible_proofs_only(method: str) -> None:
    """Constants named by the proofs of similar statements come first; a proof the goal may not see (here: the
    only one naming `secret`) is never counted, whatever the method."""
    from sidecar.learn.premises import rank_premises

    def proof(lemma: str, stmt: str, consts: Sequence[str], order: int) -> LemmaProof:
        return LemmaProof(lemma, stmt, ("auto",), "Lib", order, frozenset(consts))

    mem = ProofMemory()
    mem.add([proof("a", "Lemma a : forall l : list nat, rev (rev l) = l.", ["Lib.rev_involutive", "Lib.eq_refl"], 0),
             proof("b", "Lemma b : forall l m : list nat, rev (l ++ m) = rev m ++ rev l.",
                   ["Lib.rev_app_distr", "Lib.eq_refl"], 1),
             proof("c", "Lemma c : forall n : nat, n + 0 = n.", ["Lib.plus_n_O", "Lib.eq_refl"], 2),
             proof("d", "Lemma d : forall l : list nat, rev (rev (rev l)) = rev l.", ["Lib.secret"], 3)])
    ranked = rank_premises("Lemma g : forall k : list nat, rev (rev k) = k.", mem, lambda p: p.order < 3, 3, method,
                           exclude="g")
    assert "Lib.secret" not in ranked and "Lib.rev_involutive" in ranked[:2], ranked
    assert rank_premises("Lemma g : True.", ProofMemory(), None, 3, method) == []


@needs_coq
def test_learned_store_survives_damage(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A store with garbage lines and a last line cut short (a process killed while writing): the good lines load,
    one warning, and the next proof is kept on a line of its own (not glued to the broken one)."""
    import json
    import logging

    from sidecar.learn.service import Learning

    store = tmp_path / ".auto-prove" / "learned" / "proofs.jsonl"
    store.parent.mkdir(parents=True)
    good = {"proof": {"lemma": "a", "statement": "Lemma a : True.", "script": ["exact I"], "origin": "auto-prove:x",
                      "order": 0, "constants": []},
            "examples": [{"hyps": [], "goal": "True", "tactic": "exact I", "lemma": "a", "origin": "auto-prove:x",
                          "order": 0}]}
    store.write_text(json.dumps(good) + "\nnot json\n" + json.dumps(good)[:40])
    with caplog.at_level(logging.WARNING):
        mem = Learning(tmp_path)
    assert len(mem.proofs) == 1 and len(mem.tactics) == 1
    assert sum("unreadable" in r.getMessage() for r in caplog.records) == 1

    from sidecar.goals import find_goals

    (tmp_path / "B.v").write_text("Lemma b : 1 = 1.\nProof. Admitted.\n")
    (goal,) = find_goals(tmp_path / "B.v").goals

    from sidecar.provers.base import GoalView, ProofState

    st = ProofState((), (GoalView((), "1 = 1"),), 0, False, 0)
    mem.learn(goal, [(st, "reflexivity")], ["reflexivity"])
    again = Learning(tmp_path)
    assert len(again.proofs) == 2, store.read_text()


@needs_coq
def test_preparing_a_goal_reports_its_sources_and_the_editor_shows_it(tmp_path: Path, harvest_cache: Path) -> None:
    """`prepare` says how far the harvest of what the goal may see has got (0/n … n/n), and nothing once all of it
    is in the memories; the editor's status for a goal shows that phase while it waits."""
    from sidecar.goals import find_goals
    from sidecar.learn.harvest import HarvestCache
    from sidecar.learn.service import Learning
    from sidecar.live import TrackedGoal
    from sidecar.lsp import status_message
    from sidecar.scheduler import GoalOutcome

    f = tmp_path / "P.v"
    f.write_text("Lemma a : True.\nProof. exact I. Qed.\nLemma b : 1 = 1.\nProof. Admitted.\n")
    (goal,) = find_goals(f).goals
    learning = Learning(None, cache=HarvestCache(harvest_cache))
    calls: list[tuple[int, int]] = []
    assert learning.prepare(goal, on_source=lambda d, t: calls.append((d, t))) is not None
    n = calls[0][1]
    assert n >= 2 and calls[0] == (0, n) and calls[-1] == (n, n)  # the prelude's libraries and the file itself
    again: list[tuple[int, int]] = []
    learning.prepare(goal, on_source=lambda d, t: again.append((d, t)))
    assert again == []
    out = GoalOutcome(goal, status="searching", phase="learning from the visible proofs (3/40 sources)")
    from sidecar.scheduler import Ticket

    tg = TrackedGoal(goal, Ticket(goal, out, 0.0))
    assert status_message(tg, 60, False) == out.phase
    out.phase = ""
    assert status_message(tg, 60, False).startswith("searching")


@needs_coq
def test_past_its_allowance_a_goal_goes_on_without_libraries_and_they_follow_in_the_background(tmp_path: Path) -> None:
    """The language server's setting (`library_seconds=0`): on a machine that has harvested nothing, a goal's
    preparation replays no library — the goal goes on with its own file's proofs — and the libraries are harvested
    in the background, into the memories and the cache; a later process under the same allowance reads them."""
    from sidecar.goals import find_goals
    from sidecar.learn.harvest import HarvestCache
    from sidecar.learn.service import Learning

    f = tmp_path / "P.v"
    f.write_text("Lemma a : forall n : nat, n = n.\nProof. intros n. reflexivity. Qed.\n"
                 "Lemma b : forall m : nat, m = m.\nProof. Admitted.\n")
    (goal,) = find_goals(f).goals
    cache = HarvestCache(tmp_path / "cache")
    learning = Learning(None, cache=cache, library_seconds=0.0)
    vis = learning.prepare(goal)
    assert vis is not None
    libraries = {s.origin for s in vis.sources if s.kind == "library"}
    assert libraries and {s.origin for s in learning.deferred.values()} == libraries
    assert "reflexivity" in [p.tactic for p in learning.tactics.predict(["m : nat"], "m = m")]
    assert len(list(cache.folder.rglob("*.json.gz"))) == 1  # the file's own harvest, no library replayed
    before = len(learning.tactics)
    learning.prepare(goal)  # the next goal does not wait for them either
    learning.catch_up_in_background()
    assert learning._background is not None
    learning._background.join(600)
    assert not learning.deferred and len(learning.tactics) > before
    later = Learning(None, cache=cache, library_seconds=0.0)
    later.prepare(goal)
    assert not later.deferred and len(later.tactics) == len(learning.tactics)


@needs_coq
def test_closing_stops_the_background_harvest_and_caches_no_part_of_a_library(tmp_path: Path) -> None:
    """The owner closing (the language server shutting down) ends the background harvest: its prover dies now,
    no further library is started, and the library it was in the middle of is not cached as if it were whole."""
    import psutil

    from sidecar.goals import find_goals
    from sidecar.learn.harvest import HarvestCache
    from sidecar.learn.service import Learning

    f = tmp_path / "P.v"
    f.write_text("Lemma b : forall m : nat, m = m.\nProof. Admitted.\n")
    (goal,) = find_goals(f).goals
    cache = HarvestCache(tmp_path / "cache")
    learning = Learning(None, cache=cache, library_seconds=0.0)
    learning.prepare(goal)
    deferred = len(learning.deferred)
    assert deferred >= 2
    learning.catch_up_in_background()
    t0 = time.monotonic()
    while learning._background_prover is None and time.monotonic() - t0 < 60:
        time.sleep(0.05)
    assert learning._background_prover is not None, "the background harvest started no prover"
    learning.close()
    assert learning._background is not None
    learning._background.join(60)
    assert not learning._background.is_alive()
    assert not [p for p in psutil.Process().children(recursive=True) if "coqidetop" in p.name()
                and p.status() != psutil.STATUS_ZOMBIE]
    later = Learning(None, cache=cache, library_seconds=0.0)
    later.prepare(goal)
    assert later.deferred  # at least the interrupted library is still to be harvested


@needs_coq
def test_closing_ends_a_preparation_in_progress(tmp_path: Path) -> None:
    """A worker preparing a goal (here replaying the prelude's libraries on an empty cache, no allowance) stops
    within a library once its owner closes — a server shutting down waits for its workers."""
    import threading

    from sidecar.goals import find_goals
    from sidecar.learn.harvest import HarvestCache
    from sidecar.learn.service import Learning

    f = tmp_path / "P.v"
    f.write_text("Lemma b : forall m : nat, m = m.\nProof. Admitted.\n")
    (goal,) = find_goals(f).goals
    learning = Learning(None, cache=HarvestCache(tmp_path / "cache"))
    out: list[object] = []
    worker = threading.Thread(target=lambda: out.append(learning.prepare(goal)))
    worker.start()
    time.sleep(2.0)
    assert worker.is_alive()  # still replaying libraries
    t0 = time.monotonic()
    learning.close()
    worker.join(30)
    assert not worker.is_alive() and out == [None] and time.monotonic() - t0 < 15


@needs_coq
def test_a_scheduler_closes_only_the_learning_it_made(tmp_path: Path, harvest_cache: Path) -> None:
    """The command line hands one `Learning` to the scheduler of each wave (`--write` searches a file after the
    files it loads were written): a wave ending must not close it for the next; a scheduler's own one is closed."""
    from sidecar.goals import find_goals
    from sidecar.learn.harvest import HarvestCache
    from sidecar.learn.service import Learning
    from sidecar.scheduler import ProveOptions, Scheduler

    f = tmp_path / "W.v"
    f.write_text("Lemma a : forall n : nat, n = n.\nProof. Admitted.\n")
    (goal,) = find_goals(f).goals
    shared = Learning(None, cache=HarvestCache(harvest_cache))
    opts = ProveOptions(budget=10, profile=1, resume=False)
    (out,) = Scheduler(opts, learning=shared).run([goal])
    assert out.status == "proved"
    f.write_text(f.read_text() + "Lemma b : forall m : nat, m = m.\nProof. Admitted.\n")  # the next wave's file
    assert shared.prepare(find_goals(f).goals[-1]) is not None
    own = Scheduler(opts)
    (out,) = own.run([goal])
    assert own.learning is not None and own.learning._closed.is_set()


@needs_coq
def test_a_memory_proof_on_an_open_lemma_still_lets_the_search_find_a_clean_one(
        tmp_path: Path, harvest_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """When the memory-first slice finds only a proof standing on the project's admitted `helper` (a fallback), the
    merged search after it still looks for one that needs no open lemma, and that one is taken; the fallback is kept
    when there is none. (The slice's candidates are pinned to that one script so that it is what the slice finds.)"""
    from sidecar.goals import find_goals
    from sidecar.scheduler import ProveOptions, Scheduler
    from sidecar.strategies import learned

    monkeypatch.setenv("AUTOPROVE_CACHE", str(harvest_cache))

    def only_helper(self, state, ctx, depth):  # type: ignore[no-untyped-def]
        if depth == 0:
            yield Candidate("intro k", "reuse", 0.1, 2.0, then=("apply (proj1 (helper k))",))

    monkeypatch.setattr(learned.LearnedFirst, "candidates", only_helper)
    f = tmp_path / "H.v"
    f.write_text("Lemma helper : forall n, n + 0 = n /\\ (forall x y z : nat, x*x*x + y*y*y = z*z*z -> x*y*z = 0).\n"
                 "Proof. Admitted.\n"
                 "Lemma goal : forall k, k + 0 = k.\nProof. Admitted.\n")
    (goal,) = [g for g in find_goals(f).goals if g.lemma == "goal"]
    (out,) = Scheduler(ProveOptions(budget=20, profile=1, resume=False)).run([goal])
    assert out.status == "proved" and not out.depends_on_open and "helper" not in (out.replacement or ""), out
    f.write_text(f.read_text().replace("Lemma goal : forall k, k + 0 = k.", "Lemma goal : forall k, k + 0 = k /\\ "
                                       "(forall x y z : nat, x*x*x + y*y*y = z*z*z -> x*y*z = 0)."))
    monkeypatch.setattr(learned.LearnedFirst, "candidates", lambda self, state, ctx, depth: iter(
        [Candidate("intro k", "reuse", 0.1, 2.0, then=("apply helper",))] if depth == 0 else []))
    (goal,) = [g for g in find_goals(f).goals if g.lemma == "goal"]
    (out,) = Scheduler(ProveOptions(budget=8, profile=1, resume=False)).run([goal])
    assert out.status == "proved" and out.depends_on_open == ("helper",), out  # nothing clean: the fallback stays
