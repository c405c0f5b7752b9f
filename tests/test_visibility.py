"""The visibility rule (sidecar/learn/visibility.py), against real coqc: what a goal may learn from.

Layout made in a temporary folder:

    lib/Mini.v, lib/Other.v     a library outside the project (-Q ../lib Lib), compiled in place
    proj/_CoqProject            -Q ../lib Lib, -Q . P
    proj/A.v                    a project file F requires
    proj/B.v                    a project file nobody requires (merely on the load path)
    proj/F.v                    requires P.A, Lib.Mini, Arith; lemmas before / g (Admitted) / after
    proj/Copy.v                 Mini's text up to mini_two, then Admitted (as the dev set's cases are made); it does
                                not load Lib.Mini
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from sidecar.build import build_dependencies
from sidecar.coq_source import loaded_libraries, require_sentences
from sidecar.goals import Goal, find_coq_goals
from sidecar.learn.harvest import HarvestCache, harvest_source, visible_examples
from sidecar.learn.visibility import Visibility, auto_prove_origin, statement_order, visibility_for

pytestmark = pytest.mark.skipif(shutil.which("coqidetop.opt") is None or shutil.which("coqc") is None
                                or shutil.which("coqdep") is None, reason="Coq not installed")

MINI = """Lemma mini_one : forall n : nat, n = n.
Proof. reflexivity. Qed.
Lemma mini_two : forall n : nat, 0 + n = n.
Proof. intros n. reflexivity. Qed.
"""
OTHER = "Lemma other_lemma : True. Proof. exact I. Qed.\n"
F = """From P Require Import A.
From Lib Require Import Mini.
Require Import Arith.
Lemma before : forall n : nat, n = n.
Proof. intros n. reflexivity. Qed.
Lemma g : forall n : nat, n + 0 = n.
Admitted.
Lemma after : 3 = 3.
Proof. reflexivity. Qed.
"""


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    top = tmp_path_factory.mktemp("vis")
    lib, proj = top / "lib", top / "proj"
    lib.mkdir()
    proj.mkdir()
    (lib / "Mini.v").write_text(MINI)
    (lib / "Other.v").write_text(OTHER)
    for name in ("Mini.v", "Other.v"):
        subprocess.run(["coqc", "-Q", str(lib), "Lib", name], cwd=lib, check=True, capture_output=True)
    (proj / "_CoqProject").write_text("-Q ../lib Lib\n-Q . P\n")
    (proj / "A.v").write_text("Lemma a_lemma : 0 = 0.\nProof. reflexivity. Qed.\n")
    (proj / "B.v").write_text("Lemma b_lemma : 1 = 1.\nProof. reflexivity. Qed.\n")
    (proj / "F.v").write_text(F)
    cut = MINI.index("Proof. intros n.")
    (proj / "Copy.v").write_text(MINI[:cut] + "Admitted.\n")
    report = build_dependencies([proj / "F.v", proj / "Copy.v"])
    assert not report.failures, report.failures
    return top


def goal_of(path: Path, lemma: str) -> Goal:
    return next(g for g in find_coq_goals(path).goals if g.lemma == lemma)


@pytest.fixture(scope="module")
def g_vis(layout: Path) -> tuple[Goal, Visibility]:
    proj = layout / "proj"
    report = build_dependencies([proj / "F.v"])
    goal = goal_of(proj / "F.v", "g")
    return goal, visibility_for(goal, report.needs.get((proj / "F.v").absolute(), frozenset()))


def test_own_file_only_before_the_goal_and_never_its_own_proof(layout: Path, g_vis: tuple[Goal, Visibility],
                                                               tmp_path: Path) -> None:
    goal, vis = g_vis
    own = next(s for s in vis.sources if s.kind == "file")
    h = harvest_source(own, cache=HarvestCache(tmp_path / "cache"))
    orders = {p.lemma: p.order for p in h.proofs}
    assert set(orders) == {"before", "after"} and h.skipped.get("admitted") == 1
    assert vis.order == statement_order(goal) and orders["before"] < vis.order < orders["after"]
    assert vis.allows(own.origin, orders["before"], "before")
    assert not vis.allows(own.origin, orders["after"], "after")
    assert not vis.allows(own.origin, vis.order, "g")  # G's own proof, wherever a cache got it from
    assert not vis.allows(own.origin, 0, "g")
    assert {e.lemma for e in visible_examples([h], vis.allows)} == {"before"}


def test_project_files_it_loads_but_not_files_merely_on_the_load_path(layout: Path,
                                                                      g_vis: tuple[Goal, Visibility]) -> None:
    goal, vis = g_vis
    proj = layout / "proj"
    a, b = (proj / "A.v").absolute(), (proj / "B.v").absolute()
    assert vis.project_files == {a}
    assert vis.allows(str(a), 5, "a_lemma")
    assert not vis.allows(str(b), 0, "b_lemma")
    assert [s.path for s in vis.sources if s.kind == "project"] == [a]
    assert not any(s.path == b for s in vis.sources)
    # without the build's `needs`, the same answer from Coq's own list of loaded libraries
    assert visibility_for(goal).project_files == {a}


def test_libraries_it_requires_but_not_those_only_the_added_imports_load(layout: Path,
                                                                         g_vis: tuple[Goal, Visibility]) -> None:
    goal, vis = g_vis
    assert {"Lib.Mini", "Coq.Arith.PeanoNat", "Coq.Init.Logic"} <= vis.libraries
    assert vis.allows("Lib.Mini", 0, "mini_one") and vis.allows("Coq.Arith.PeanoNat", 10, "Nat.add_0_r")
    assert "Lib.Other" not in vis.libraries and not vis.allows("Lib.Other", 0, "other_lemma")  # on the load path
    # the tool's added import (scheduler.DEFAULT_IMPORTS) loads micromega: real, but never visible
    with_lia = loaded_libraries(("From Coq Require Import Lia.", *require_sentences(goal.env.sentences)),
                                goal.env.args, goal.env.workdir)
    assert with_lia is not None and "Coq.micromega.Lia" in with_lia
    lia_only = with_lia - vis.libraries
    assert "Coq.micromega.Lia" in lia_only and "Coq.micromega.ZMicromega" in lia_only
    assert not any(vis.allows(lib, 0, "x") for lib in lia_only)
    sources = {s.origin: s for s in vis.sources if s.kind == "library"}
    assert set(sources) == vis.libraries
    assert sources["Coq.Arith.PeanoNat"].path is not None and sources["Coq.Arith.PeanoNat"].path.name == "PeanoNat.v"
    assert sources["Coq.Arith.PeanoNat"].path.is_file() and sources["Coq.Init.Logic"].args == ("-noinit",)
    assert sources["Lib.Mini"].path == (layout / "lib" / "Mini.v")


def test_cached_library_with_the_very_lemma_is_not_consulted(layout: Path, g_vis: tuple[Goal, Visibility],
                                                             tmp_path: Path) -> None:
    """Another run (the goal of F) harvested Lib.Mini, proof of mini_two included; Copy.v's goal is mini_two
    and Copy.v does not load Lib.Mini: nothing of it may be consulted, while Copy's own earlier proof may."""
    _, f_vis = g_vis
    cache = HarvestCache(tmp_path / "cache")
    mini = next(s for s in f_vis.sources if s.origin == "Lib.Mini")
    mini_h = harvest_source(mini, cache=cache)
    assert "mini_two" in {p.lemma for p in mini_h.proofs}  # the cache holds the very proof
    goal = goal_of(layout / "proj" / "Copy.v", "mini_two")
    vis = visibility_for(goal)
    assert "Lib.Mini" not in vis.libraries and not any(s.origin == "Lib.Mini" for s in vis.sources)
    assert not vis.allows("Lib.Mini", 0, "mini_two") and not vis.allows("Lib.Mini", 0, "mini_one")
    own = harvest_source(next(s for s in vis.sources if s.kind == "file"), cache=cache)
    assert harvest_source(mini, cache=cache).from_cache
    assert {e.lemma for e in visible_examples([mini_h, own], vis.allows)} == {"mini_one"}
    assert all(e.origin == str(goal.file) for e in visible_examples([mini_h, own], vis.allows))


def test_proofs_auto_prove_verified_in_the_project(layout: Path, g_vis: tuple[Goal, Visibility]) -> None:
    _, vis = g_vis
    proj = layout / "proj"
    sibling = auto_prove_origin(proj / "A.v")  # e.g. found a minute ago in a file F imports
    assert sibling == f"auto-prove:{(proj / 'A.v').absolute()}" and vis.allows(sibling, 0, "a_goal")
    assert vis.allows(auto_prove_origin(proj / "B.v"), 0, "b_goal")  # anywhere in the project
    assert vis.allows(vis.auto_prove_origin(), 99, "after")  # another goal of F
    assert not vis.allows(vis.auto_prove_origin(), 0, "g")  # G itself, found by an earlier run: never
    assert not vis.allows(f"auto-prove:{proj.absolute()}", 0, "g")
    assert not vis.allows(auto_prove_origin(layout / "lib" / "Mini.v"), 0, "mini_one")  # another project
    assert not vis.allows("auto-prove-ish", 0, "x") and not vis.allows("Coq.Nowhere", 0, "x")


def test_lean_goal_sees_its_file_before_it(tmp_path: Path) -> None:
    """Lean: the order is the declaration's index; G's own declaration and later ones are never visible."""
    from sidecar.goals import GoalKey
    from sidecar.provers.base import Environment

    text = "theorem a : True := by trivial\ntheorem g : 1 = 1 := by sorry\ntheorem c : 2 = 2 := by rfl\n"
    f = tmp_path / "F.lean"
    f.write_text(text)
    at = text.index("sorry")
    goal = Goal(file=f, backend="lean", kind="sorry", lemma="g", statement="theorem g : 1 = 1", line=2, column=24,
                start=at, end=at + 5, has_proof_keyword=False, key=GoalKey("0" * 64), index=0,
                env=Environment(file=f, backend="lean", source=text, placeholder=(at, at + 5), workdir=tmp_path))
    vis = visibility_for(goal)
    assert vis.order == 1 and [s.kind for s in vis.sources] == ["file"] and vis.sources[0].prefix == (text,)
    assert vis.allows(str(f), 0, "a") and not vis.allows(str(f), 1, "g") and not vis.allows(str(f), 2, "c")
    assert vis.allows(auto_prove_origin(tmp_path / "Other.lean"), 0, "x")
