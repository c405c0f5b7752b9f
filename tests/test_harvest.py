"""Harvest (sidecar/learn/harvest.py): proofs replayed through real coqidetop, decomposed as Tactician does, cached.

Small fixture files are written into tmp_path; every harvest runs the real `coqc` (to cut sentences) and
`coqidetop.opt` (to replay). The cache lives in tmp_path, never in the user's folder.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import shutil
from pathlib import Path
from typing import Callable

import pytest

from sidecar.learn import TacticExample
from sidecar.learn.harvest import (Atom, Dispatch, Harvest, HarvestCache, Then, harvest_source, harvest_sources,
                                   local_names, normalize_tactic, split_tactic, tactic_parts)
from sidecar.learn.visibility import Source
from sidecar.provers.coq import CoqProver

needs_coq = pytest.mark.skipif(shutil.which("coqidetop.opt") is None or shutil.which("coqc") is None,
                               reason="Coq (coqc, coqidetop.opt) not installed")

DECOMPOSE = """Require Import Arith.
Lemma semi : forall n : nat, n + 0 = n.
Proof. intros n. induction n; simpl; [reflexivity | rewrite IHn; reflexivity]. Qed.

Lemma bullets : True /\\ (True /\\ 1 = 1).
Proof.
  split.
  - exact I.
  - split; [exact I|].
    (* a comment *) reflexivity.
Qed.

Lemma selectors : (True /\\ True) /\\ (2 = 2 /\\ 3 = 3).
Proof. split. 2: { split; reflexivity. } split. 2: exact I. all: exact I. Qed.

Lemma whole : forall a b : nat, a = b -> b = a /\\ True.
Proof. intros a b H; split; [try (symmetry; exact H) | first [exact I | auto]]. Qed.

Lemma kept : True /\\ True.
Proof. now repeat split. Qed.

Module M.
Lemma uses : forall n : nat, n * 1 = n.
Proof.
  intros n. rewrite Nat.mul_1_r.
  reflexivity.
Qed.
End M.
"""

SKIPS = """Lemma ok1 : True. Proof. exact I. Qed.
Lemma adm : 1 = 1. Proof. Admitted.
Lemma abo : 1 = 1. Proof. Abort.
Goal 3 = 3. Proof. reflexivity. Qed.
Lemma ok2 : 2 = 2. Proof. reflexivity. Qed.
Lemma undone : True -> True. Proof. intros H. Undo. exact (fun x => x). Qed.
"""  # `Undo` compiles with coqc but fails in the prover (and breaks the document after it: it comes last)
SLOW = """Lemma ok3 : 3 = 3. Proof. reflexivity. Qed.
Lemma slow : True. Proof. do 30000000 idtac. exact I. Qed.
"""  # ~6 s for the first tactic here (0.7 s for a tenth of it): well over the harvest's timeout (1 s here)


def source_of(path: Path) -> Source:
    """A project-file source for `path` (its folder is the project)."""
    return Source(origin=str(path), kind="project", path=path, workdir=path.parent)


class Starts:
    """A prover factory that counts the provers it starts (and can refuse to)."""

    def __init__(self, allow: bool = True) -> None:
        self.count = 0
        self.allow = allow

    def __call__(self) -> CoqProver:
        self.count += 1
        if not self.allow:
            raise AssertionError("the prover was started although the cache should have answered")
        return CoqProver()


def pairs(h: Harvest, lemma: str) -> list[tuple[str, str]]:
    """(tactic, conclusion of the state before it) of one lemma's examples, in order."""
    return [(e.tactic, e.goal) for e in h.examples if e.lemma == lemma]


# ---------------------------------------------------------------------------------------------- pure


def test_split_tactic_shapes() -> None:
    assert split_tactic("auto") == Atom("auto")
    assert split_tactic("a; b; c") == Then(Then(Atom("a"), Atom("b")), Atom("c"))
    assert split_tactic("induction n; [ auto | simpl; lia ]") == Dispatch(
        Atom("induction n"), (Atom("auto"), Then(Atom("simpl"), Atom("lia"))))
    assert split_tactic("split; [|auto]") == Dispatch(Atom("split"), (None, Atom("auto")))
    for whole in ("try (a; b)", "first [a; b | c]", "repeat (split; auto)", "solve [a; b]", "now split; auto",
                  "let x := 1 in idtac; idtac", "destruct H as [|n]", "a || b", "match goal with |- _ => a; b end",
                  "split; [> auto | auto ]", "split; [auto ..]", 'idtac "a;b"'):
        assert isinstance(split_tactic(whole), Atom), whole
    assert split_tactic("destruct x as [a|b]; auto") == Then(Atom("destruct x as [a|b]"), Atom("auto"))
    assert split_tactic("match goal with |- _ => a; b end; c") == Then(
        Atom("match goal with |- _ => a; b end"), Atom("c"))
    assert tactic_parts("2: auto") == ((2,), Atom("auto"))
    assert tactic_parts("all: split; auto") == ("all", Then(Atom("split"), Atom("auto")))
    assert tactic_parts("1,3-4: auto")[0] == (1, 3, 4)
    assert tactic_parts("pose (x := 1)") == (None, Atom("pose (x := 1)"))


def test_normalize_and_local_names() -> None:
    assert normalize_tactic("  rewrite   (* why *) H\n  in H0 .") == "rewrite H in H0"
    assert normalize_tactic('idtac "a  b".') == 'idtac "a  b"'
    e = TacticExample(("n, m : nat", "H : n <= m"), "m >= n", "apply H", "l", "o", 0)
    assert local_names(e) == ("H",)


# ---------------------------------------------------------------------------------------------- with Coq


@pytest.fixture(scope="module")
def decomposed(tmp_path_factory: pytest.TempPathFactory) -> Harvest:
    folder = tmp_path_factory.mktemp("decompose")
    f = folder / "Decompose.v"
    f.write_text(DECOMPOSE)
    return harvest_source(source_of(f), cache=HarvestCache(folder / "cache"))


@needs_coq
def test_semicolon_and_dispatch_are_split(decomposed: Harvest) -> None:
    assert pairs(decomposed, "semi") == [
        ("intros n", "forall n : nat, n + 0 = n"),
        ("induction n", "n + 0 = n"),
        ("simpl", "0 + 0 = 0"),
        ("simpl", "S n + 0 = S n"),
        ("reflexivity", "0 = 0"),
        ("rewrite IHn", "S (n + 0) = S n"),
        ("reflexivity", "S n = S n"),
    ]


@needs_coq
def test_bullets_braces_and_selectors_give_each_part_its_state(decomposed: Harvest) -> None:
    assert pairs(decomposed, "bullets") == [
        ("split", "True /\\ True /\\ 1 = 1"), ("exact I", "True"), ("split", "True /\\ 1 = 1"),
        ("exact I", "True"), ("reflexivity", "1 = 1")]
    assert pairs(decomposed, "selectors") == [
        ("split", "(True /\\ True) /\\ 2 = 2 /\\ 3 = 3"), ("split", "2 = 2 /\\ 3 = 3"), ("reflexivity", "2 = 2"),
        ("reflexivity", "3 = 3"), ("split", "True /\\ True"), ("exact I", "True"), ("exact I", "True")]
    proof = next(p for p in decomposed.proofs if p.lemma == "bullets")
    assert proof.script == ("split", "-", "exact I", "-", "split; [exact I|]", "reflexivity")


@needs_coq
def test_try_first_repeat_now_kept_whole_with_the_state_before(decomposed: Harvest) -> None:
    assert pairs(decomposed, "whole") == [
        ("intros a b H", "forall a b : nat, a = b -> b = a /\\ True"), ("split", "b = a /\\ True"),
        ("try (symmetry; exact H)", "b = a"), ("first [exact I | auto]", "True")]
    ex = [e for e in decomposed.examples if e.lemma == "whole"]
    assert ex[0].hyps == ()
    assert ex[1].hyps == ex[2].hyps == ("a, b : nat", "H : a = b")
    assert pairs(decomposed, "kept") == [("now repeat split", "True /\\ True")]


@needs_coq
def test_records_carry_lemma_order_origin_and_constants(decomposed: Harvest) -> None:
    by_name = {p.lemma: p for p in decomposed.proofs}
    assert list(by_name) == ["semi", "bullets", "selectors", "whole", "kept", "M.uses"]
    orders = [p.order for p in decomposed.proofs]
    assert orders == sorted(orders) and len(set(orders)) == len(orders)
    assert by_name["M.uses"].constants == frozenset({"Coq.Arith.PeanoNat.Nat.mul_1_r"})
    assert "Coq.Init.Logic.I" in by_name["bullets"].constants
    assert by_name["semi"].constants == frozenset()  # n, IHn are local; induction, simpl, ... are tactics
    assert {e.origin for e in decomposed.examples} == {decomposed.source.origin}
    assert all(e.order == by_name[e.lemma].order for e in decomposed.examples)
    assert by_name["semi"].statement == "Lemma semi : forall n : nat, n + 0 = n."
    assert decomposed.skipped == {}


@needs_coq
def test_proofs_that_do_not_replay_are_skipped_and_counted(tmp_path: Path) -> None:
    f, slow = tmp_path / "Skips.v", tmp_path / "Slow.v"
    f.write_text(SKIPS)
    slow.write_text(SLOW)
    h, s = harvest_sources([source_of(f), source_of(slow)], cache=HarvestCache(tmp_path / "cache"),
                           tactic_timeout=1.0)
    assert [p.lemma for p in h.proofs] == ["ok1", "ok2"]
    assert h.skipped == {"failed": 1, "admitted": 1, "abort": 1, "anonymous": 1}
    assert h.failed == 3  # an anonymous `Goal` is not a failure
    assert {e.lemma for e in h.examples} == {"ok1", "ok2"}
    assert [p.lemma for p in s.proofs] == ["ok3"] and s.skipped == {"timeout": 1}


@needs_coq
def test_cache_is_reused_without_a_prover(tmp_path: Path) -> None:
    f = tmp_path / "Small.v"
    f.write_text("Lemma one : 1 = 1. Proof. reflexivity. Qed.\n"
                 "Lemma two : True /\\ True. Proof. split; exact I. Qed.\n")
    cache = HarvestCache(tmp_path / "cache")
    starts = Starts()
    first = harvest_source(source_of(f), cache=cache, prover=starts)
    assert starts.count == 1 and not first.from_cache and first.replayed == 2
    again = harvest_source(source_of(f), cache=cache, prover=Starts(allow=False))
    assert again.from_cache
    assert (again.examples, again.proofs, again.skipped) == (first.examples, first.proofs, first.skipped)
    f.write_text(f.read_text() + "Lemma three : 3 = 3. Proof. reflexivity. Qed.\n")  # a new text: a new harvest
    third = harvest_source(source_of(f), cache=cache, prover=starts)
    assert starts.count == 2 and third.replayed == 3


def _entry(cache: HarvestCache, path: Path) -> Path:
    return cache.path(str(path), hashlib.sha256(path.read_bytes()).hexdigest())


@needs_coq
@pytest.mark.parametrize("damage", [
    lambda data: b"\x00garbage\xff" * 50,  # garbage written into it
    lambda data: data[: len(data) // 2],  # half-written
    lambda data: gzip.compress(b'{"format": 1, "coq": "x"'),  # valid gzip, broken JSON
    lambda data: gzip.compress(b'{"format": 1, "examples": 3}'),  # JSON of the wrong shape
])
def test_corrupt_entry_is_redone_alone_with_one_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                        damage: Callable[[bytes], bytes]) -> None:
    a, b = tmp_path / "A.v", tmp_path / "B.v"
    a.write_text("Lemma a : 1 = 1. Proof. reflexivity. Qed.\n")
    b.write_text("Lemma b : 2 = 2. Proof. reflexivity. Qed.\n")
    cache = HarvestCache(tmp_path / "cache")
    good = harvest_sources([source_of(a), source_of(b)], cache=cache)
    entry = _entry(cache, a)
    entry.write_bytes(damage(entry.read_bytes()))
    caplog.set_level(logging.WARNING, logger="sidecar.learn.harvest")
    starts = Starts()
    redone = harvest_sources([source_of(a), source_of(b)], cache=cache, prover=starts)
    assert starts.count == 1  # only A is harvested again
    assert not redone[0].from_cache and redone[1].from_cache
    assert redone[0].examples == good[0].examples
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "unreadable" in lines[0] and "A.v" in lines[0] and "\n" not in lines[0]
    assert harvest_source(source_of(a), cache=cache, prover=Starts(allow=False)).from_cache  # rewritten


@needs_coq
def test_cache_is_per_coq_version(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    f = tmp_path / "V.v"
    f.write_text("Lemma v : 1 = 1. Proof. reflexivity. Qed.\n")
    mine = HarvestCache(tmp_path / "cache")
    harvest_source(source_of(f), cache=mine)
    other = HarvestCache(tmp_path / "cache", version="8.99.0 5.0.0")
    starts = Starts()
    assert not harvest_source(source_of(f), cache=other, prover=starts).from_cache and starts.count == 1
    # an entry of this Coq put where another version's belong (copied caches): refused, said once
    shutil.copyfile(_entry(mine, f), _entry(other, f))
    caplog.set_level(logging.WARNING, logger="sidecar.learn.harvest")
    starts = Starts()
    assert not harvest_source(source_of(f), cache=other, prover=starts).from_cache and starts.count == 1
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "made by Coq" in lines[0]
    assert harvest_source(source_of(f), cache=mine, prover=Starts(allow=False)).from_cache  # untouched


@needs_coq
def test_library_with_only_a_vo_is_skipped_with_one_message(tmp_path: Path,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="sidecar.learn.harvest")
    lib = Source(origin="Lib.Gone", kind="library", path=tmp_path / "lib" / "Gone.v", logical="Lib.Gone")
    h = harvest_source(lib, cache=HarvestCache(tmp_path / "cache"), prover=Starts(allow=False))
    assert h.examples == () and h.proofs == () and "Lib.Gone" in h.message
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1 and "only its .vo" in lines[0]


@needs_coq
def test_project_dependency_change_makes_the_entry_stale(tmp_path: Path) -> None:
    """A cached harvest of a file stands on the .vo files of the project it loads: rebuilt with other content,
    the file is harvested again (states may differ)."""
    (tmp_path / "D.v").write_text("Definition d := 1.\n")
    (tmp_path / "U.v").write_text("Require Import D.\nLemma u : d = 1. Proof. reflexivity. Qed.\n")
    import subprocess

    subprocess.run(["coqc", "-Q", str(tmp_path), "", "D.v"], cwd=tmp_path, check=True)
    src = Source(origin=str(tmp_path / "U.v"), kind="project", path=tmp_path / "U.v", workdir=tmp_path)
    cache = HarvestCache(tmp_path / "cache")
    assert harvest_source(src, cache=cache).replayed == 1
    assert harvest_source(src, cache=cache, prover=Starts(allow=False)).from_cache
    (tmp_path / "D.v").write_text("Definition d := 1.\nDefinition d' := 2.\n")
    subprocess.run(["coqc", "-Q", str(tmp_path), "", "D.v"], cwd=tmp_path, check=True)
    starts = Starts()
    assert not harvest_source(src, cache=cache, prover=starts).from_cache and starts.count == 1


@needs_coq
def test_progress_bar_over_many_sources(tmp_path: Path) -> None:
    import io

    from rich.console import Console

    files = []
    for k in range(3):
        f = tmp_path / f"P{k}.v"
        f.write_text(f"Lemma p{k} : {k} = {k}. Proof. reflexivity. Qed.\n")
        files.append(source_of(f))
    out = io.StringIO()
    hs = harvest_sources(files, jobs=2, cache=HarvestCache(tmp_path / "cache"),
                         console=Console(file=out, width=120, force_terminal=False))
    assert [h.proofs[0].lemma for h in hs] == ["p0", "p1", "p2"]
    assert "harvesting proofs" in out.getvalue() and "3/3" in out.getvalue()


# ---------------------------------------------------------------------------------------------- Lean (recorded REPL)

TRANSCRIPTS = Path("/work/shared/lean-repl-transcripts")
needs_transcripts = pytest.mark.skipif(not (TRANSCRIPTS / "all_tactics.in").is_file(),
                                       reason="the recorded Lean REPL transcripts are not here")


def recorded(name: str) -> tuple[list[dict], list[dict]]:
    """The requests and answers of one recorded transcript."""
    import json

    from lean_standin import repl as standin

    ins = [json.loads(q) for q in standin.split_queries((TRANSCRIPTS / f"{name}.in").read_text())]
    outs = [json.loads(a) for a in standin.split_answers((TRANSCRIPTS / f"{name}.expected.out").read_text())]
    return ins, outs


def harvest_of_answer(text: str, answer: dict, origin: str = "/p/F.lean") -> Harvest:
    from sidecar.learn.harvest import lean_harvest

    errors = [(m["pos"]["line"], m["pos"]["column"]) for m in answer.get("messages", []) if m["severity"] == "error"]
    sorries = [(s["pos"]["line"], s["pos"]["column"]) for s in answer.get("sorries", []) if "pos" in s]
    return lean_harvest(text, answer.get("tactics", []), errors, sorries, origin)


@needs_transcripts
def test_lean_all_tactics_transcripts_give_examples_with_their_states() -> None:
    ins, outs = recorded("all_tactics")
    h = harvest_of_answer(ins[0]["cmd"], outs[0])
    assert [(e.tactic, e.hyps, e.goal, e.lemma, e.order) for e in h.examples] == [
        ("have t := 37", (), "Nat", "f", 0), ("exact t", ("t : Nat",), "Nat", "f", 0)]
    (proof,) = h.proofs
    assert (proof.lemma, proof.statement, proof.script) == ("f", "def f : Nat", ("have t := 37", "exact t"))
    assert proof.constants == {"instOfNatNat", "Nat", "OfNat.ofNat"}
    ins, outs = recorded("all_tactics-20250622")
    h = harvest_of_answer(ins[0]["cmd"], outs[0])
    assert [(e.tactic, e.hyps, e.goal, e.lemma) for e in h.examples] == [("exact hp", ("P : Prop", "hp : P"), "P",
                                                                          "example")]


def test_lean_first_try_kept_whole_structure_split_failures_skipped() -> None:
    text = ("theorem a : True ∧ True := by\n  constructor <;> first | trivial | rfl\n"
            "theorem b : 1 = 1 := by\n  rfl\n"
            "theorem c : 2 = 2 := by\n  sorry\n")

    def tac(tactic: str, line: int, col: int, end: int, goals: str) -> dict:
        return {"tactic": tactic, "goals": goals, "pos": {"line": line, "column": col},
                "endPos": {"line": line, "column": end}, "usedConstants": []}

    tactics = [tac("constructor <;> first | trivial | rfl", 2, 2, 39, "⊢ True ∧ True"),
               tac("constructor", 2, 2, 13, "⊢ True ∧ True"),
               tac("first | trivial | rfl", 2, 18, 39, "case left\n⊢ True\n\ncase right\n⊢ True"),
               tac("trivial", 2, 26, 33, "case left\n⊢ True"),
               tac("rfl", 4, 2, 5, "⊢ 1 = 1"),
               tac("sorry", 6, 2, 7, "⊢ 2 = 2")]
    from sidecar.learn.harvest import lean_harvest

    h = lean_harvest(text, tactics, errors=[], sorries=[(6, 2)], origin="/p/F.lean")
    assert [(e.tactic, e.goal, e.lemma) for e in h.examples] == [
        ("constructor", "True ∧ True", "a"), ("first | trivial | rfl", "True", "a"), ("rfl", "1 = 1", "b")]
    assert [p.lemma for p in h.proofs] == ["a", "b"] and h.skipped == {"admitted": 1}
    assert h.proofs[0].script == ("constructor <;> first | trivial | rfl",)
    failed = lean_harvest(text, tactics, errors=[(4, 2)], sorries=[], origin="/p/F.lean")
    assert [p.lemma for p in failed.proofs] == ["a", "c"] and failed.skipped == {"failed": 1}


@needs_transcripts
def test_lean_file_harvested_through_the_repl_and_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The backend's own request (`allTactics`) answered by the stand-in REPL from the recording."""
    from lean_standin import repl as standin

    project = standin.make_project(tmp_path / "project")
    monkeypatch.setenv("AUTOPROVE_LAKE", str(Path(__file__).resolve().parent / "lean_standin" / "lake"))
    monkeypatch.setenv("AUTOPROVE_LEAN_REPL", str(standin.make_checkout(tmp_path / "repl")))
    ins, _ = recorded("all_tactics")
    f = project / "F.lean"
    f.write_text(ins[0]["cmd"])
    src = Source(origin=str(f), kind="file", path=f, workdir=project)
    cache = HarvestCache(tmp_path / "cache")
    h = harvest_source(src, cache=cache)
    assert h.message == "" and [e.tactic for e in h.examples] == ["have t := 37", "exact t"]
    assert all(e.origin == str(f) for e in h.examples)

    def no_repl() -> object:
        raise AssertionError("the REPL was started although the cache should have answered")

    again = harvest_source(src, cache=cache, prover=no_repl)  # type: ignore[arg-type]
    assert again.from_cache and again.examples == h.examples


def test_lean_states_and_statements_read_like_coq_ones() -> None:
    """Profile 1 for Lean: Lean's Unicode logic and its `n m : Nat` hypotheses give the features, local names and
    statement binders the same state printed by Coq gives."""
    from sidecar.learn.features import hyp_names, state_features, statement_binders, statement_features, \
        statement_parts
    from sidecar.learn.memory import adapt_names

    assert state_features(["n m : nat", "h : n ≤ m"], "∀ k, n + k ≤ m + k ∧ ¬ k = 0") == \
        state_features(["a, b : nat", "H : a <= b"], "forall k, a + k <= b + k /\\ ~ k = 0")
    assert hyp_names(["n m : Nat", "h : n ≤ m", "inst✝ : Foo"]) == ["n", "m", "h"]
    assert statement_parts("@[simp] private theorem foo {α : Type} (x : α) : ∀ y, x = y") == \
        ("{α : Type} (x : α)", "∀ y, x = y")
    assert statement_binders("theorem foo (n : Nat) (h : 0 < n) : ∀ m, n ≤ n + m") == ["n", "h", "m"]
    assert statement_parts("example (p : Prop) : p → p") == ("(p : Prop)", "p → p")
    assert statement_features("theorem a (n : Nat) : n + 0 = n") == statement_features("Lemma b (m : Nat) : m + 0 = m.")
    assert adapt_names("exact Nat.le_succ_of_le h", ["n", "m", "h"], ["n m : Nat", "h : n ≤ m"], ["a", "b", "hab"],
                       ["a b : Nat", "hab : a ≤ b"]) == "exact Nat.le_succ_of_le hab"


def lean_sorry_goal(project: Path, text: str, lemma: str, statement: str, line: int):  # type: ignore[no-untyped-def]
    """The goal of the one `sorry` of `text`, written to `project`/F.lean."""
    from sidecar.goals import Goal, GoalKey
    from sidecar.provers.base import Environment

    f = project / "F.lean"
    f.write_text(text)
    at = text.index("sorry")
    return Goal(file=f, backend="lean", kind="sorry", lemma=lemma, statement=statement, line=line, column=2,
                start=at, end=at + 5, has_proof_keyword=False, key=GoalKey("0" * 64), index=0,
                env=Environment(file=f, backend="lean", source=text, placeholder=(at, at + 5), workdir=project))


def test_lean_goal_learns_from_the_proofs_before_it_through_the_repl(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A Lean goal's profile 1: its file harvested through the REPL (`allTactics`; the stand-in answers from the
    HAND-WRITTEN `handwritten/learn_all_tactics` transcript), then the memory's prediction and the reused script
    of the earlier theorem, adapted to the goal's names; the goal's own declaration teaches nothing."""
    from lean_standin import repl as standin

    from sidecar.learn.service import Learning

    project = standin.make_project(tmp_path / "project")
    monkeypatch.setenv("AUTOPROVE_LAKE", str(Path(__file__).resolve().parent / "lean_standin" / "lake"))
    monkeypatch.setenv("AUTOPROVE_LEAN_REPL", str(standin.make_checkout(tmp_path / "repl")))
    import json

    text = json.loads((standin.HANDWRITTEN_TRANSCRIPTS / "learn_all_tactics.in").read_text().strip())["cmd"]
    goal = lean_sorry_goal(project, text, "b", "theorem b (r s : Prop) (hr : r) (hs : s) : r ∧ s", line=5)
    learning = Learning(cache=HarvestCache(tmp_path / "cache"))
    vis = learning.prepare(goal)
    assert vis is not None and learning.tactics and len(learning.proofs) == 1  # `b` (a sorry) is no proof
    view = learning.view(goal, vis)
    first = view.predict(["r s : Prop", "hr : r", "hs : s"], "r ∧ s")[0]
    assert first.tactic == "exact ⟨hr, hs⟩" and first.score > 0.99
    assert [script for script, _ in view.reuse()] == [("exact ⟨hr, hs⟩",)]
    assert view.premises() == ["And.intro"]


def test_lean_goal_learns_from_the_modules_its_file_imports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The visibility rule for Lean: a library module (a Lake dependency under `.lake/packages`) is visible when F
    imports it, or when a project module F imports does (followed transitively); a module that is merely there is
    not. The library's proofs are harvested through the REPL (the stand-in answers from the HAND-WRITTEN
    `handwritten/learn_all_tactics` transcript); the project module and F have no transcript, so their harvests fail
    (said in one line each) and the goal goes on with the library's proofs."""
    from lean_standin import repl as standin

    from sidecar.learn.service import Learning
    from sidecar.learn.visibility import visibility_for

    project = standin.make_project(tmp_path / "project")
    monkeypatch.setenv("AUTOPROVE_LAKE", str(Path(__file__).resolve().parent / "lean_standin" / "lake"))
    monkeypatch.setenv("AUTOPROVE_LEAN_REPL", str(standin.make_checkout(tmp_path / "repl")))
    import json

    library = json.loads((standin.HANDWRITTEN_TRANSCRIPTS / "learn_all_tactics.in").read_text().strip())["cmd"]
    lib = project / ".lake" / "packages" / "lib" / "Lib"
    lib.mkdir(parents=True)
    (lib / "A.lean").write_text(library)
    (lib / "Unused.lean").write_text(library)  # on the search path, imported by nobody: never visible
    (project / "Proj").mkdir()
    (project / "Proj" / "Mid.lean").write_text("import Lib.A\n\ntheorem mid : True := trivial\n")
    text = "import Proj.Mid\n\ntheorem c (x y : Prop) (hx : x) (hy : y) : x ∧ y := by\n  sorry\n"
    goal = lean_sorry_goal(project, text, "c", "theorem c (x y : Prop) (hx : x) (hy : y) : x ∧ y", line=4)
    vis = visibility_for(goal)
    assert vis.libraries == {"Lib.A"} and vis.project_files == {(project / "Proj" / "Mid.lean").absolute()}
    assert [s.kind for s in vis.sources] == ["library", "project", "file"]
    assert vis.allows("Lib.A", 0, "a") and not vis.allows("Lib.Unused", 0, "a")
    learning = Learning(cache=HarvestCache(tmp_path / "cache"))
    assert learning.prepare(goal) is not None
    first = learning.view(goal, vis).predict(["x y : Prop", "hx : x", "hy : y"], "x ∧ y")[0]
    assert first.tactic == "exact ⟨hx, hy⟩"
    # the editor's way: a library never harvested on this machine waits for the background (through the REPL too)
    later = Learning(cache=HarvestCache(tmp_path / "cache2"), library_seconds=0.0)
    assert later.prepare(goal) is not None and [origin for origin, _ in later.deferred] == ["Lib.A"]
    assert not later.view(goal, vis).predict(["x y : Prop", "hx : x", "hy : y"], "x ∧ y")
    assert later.catch_up() == 1 and not later.deferred
    assert later.view(goal, vis).predict(["x y : Prop", "hx : x", "hy : y"], "x ∧ y")[0].tactic == "exact ⟨hx, hy⟩"


class Runs:
    """A prover factory whose provers count the tactics run through them (the replay's work)."""

    def __init__(self) -> None:
        self.count = 0
        self.runs = 0

    def __call__(self) -> CoqProver:
        self.count += 1
        p = CoqProver()
        inner = p.run

        def run(state, tactic, timeout):  # type: ignore[no-untyped-def]
            self.runs += 1
            return inner(state, tactic, timeout)

        p.run = run  # type: ignore[method-assign]
        return p


@needs_coq
def test_an_edit_replays_only_the_proofs_after_it(tmp_path: Path) -> None:
    """A file being edited is harvested again at every edit: the proofs whose text and everything before them are
    unchanged are taken from the last harvest (same examples), only the ones after the edit are replayed."""
    f = tmp_path / "Edit.v"
    head = ("Lemma one : 1 = 1. Proof. reflexivity. Qed.\n"
            "Lemma two : True /\\ True. Proof. split; exact I. Qed.\n")
    f.write_text(head + "Lemma three : 3 = 3. Proof. reflexivity. Qed.\n")
    cache = HarvestCache(tmp_path / "cache")
    first = harvest_source(source_of(f), cache=cache, prover=Runs())
    assert first.replayed == 3 and len(first.keys) == 3
    f.write_text(head + "Lemma three : 3 = 3. Proof. simpl. reflexivity. Qed.\n")  # an edit in the last proof
    runs = Runs()
    second = harvest_source(source_of(f), cache=cache, prover=runs)
    assert second.replayed == 3 and not second.from_cache
    assert pairs(second, "one") == pairs(first, "one") and pairs(second, "two") == pairs(first, "two")
    assert [t for t, _ in pairs(second, "three")] == ["simpl", "reflexivity"]
    full = Runs()
    f.write_text("Definition k := 0.\n" + f.read_text())  # an edit at the top: everything after it again
    third = harvest_source(source_of(f), cache=cache, prover=full)
    assert third.replayed == 3 and full.runs > runs.runs > 0
    f.write_text("Definition k := 0.\n" + head + "Lemma three : 3 = 3. Proof. simpl. reflexivity. Qed.\n"
                 "(* a comment at the end *)\n")
    none = Starts(allow=False)  # only a comment after the last proof: nothing to replay, no prover started
    fourth = harvest_source(source_of(f), cache=cache, prover=none)
    assert fourth.replayed == 3 and {(e.lemma, e.tactic) for e in fourth.examples} == \
        {(e.lemma, e.tactic) for e in third.examples}
