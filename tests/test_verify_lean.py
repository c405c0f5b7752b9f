"""`verify_lean`'s rules, against a hand-written model of the Lean REPL.

No Lean can run here and no recorded transcript contains `#print axioms`, so these answers are written by hand in
the REPL's recorded shape (`sorries` with `pos`/`endPos`, `messages` with `severity`/`data`) and Lean's message
texts ("declaration uses 'sorry'", "'t' depends on axioms: [...]"). They test our decisions, not Lean: what is
accepted, what is refused, and which text is checked. The verifier itself runs unchanged.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from sidecar.goals import lean_goals_from_response
from sidecar.provers.lean import ReplResponse, parse_response
from sidecar.verify_lean import clear_cache, verify_lean

SOURCE = """theorem helper : 2 = 2 := rfl

theorem t (x : Nat) : x + 0 = x := by
  sorry

theorem later : t 3 = t 3 := rfl
"""


class ModelRepl:
    """Answers `run_file` the way the Lean REPL would for these small files (see the module docstring)."""

    name = "t"  # the checked declaration's full name

    def __init__(self, axioms_of: dict[str, list[str]] | None = None, check_suffix: str = "") -> None:
        self.sources: list[str] = []
        self.axioms_of = axioms_of or {}
        self.check_suffix = check_suffix

    def used_axioms(self, body: str) -> list[str]:
        """What `#print axioms` lists for a file whose text before the appended checks is `body`."""
        if "sorry" in body:
            return ["sorryAx"]
        return sorted({a for tac, axs in self.axioms_of.items() if tac in body for a in axs})

    def run_file(self, file: Path, source: str, workdir: Path | None, timeout: float) -> ReplResponse:
        self.sources.append(source)
        lines = source.split("\n")
        messages: list[dict[str, Any]] = []
        sorries: list[dict[str, Any]] = []
        for i, line in enumerate(lines, 1):
            for m in re.finditer(r"\bsorry\b", line):
                sorries.append({"pos": {"line": i, "column": m.start()}, "endPos": {"line": i, "column": m.end()},
                                "goal": "x : Nat\n⊢ x + 0 = x", "proofState": len(sorries)})
            if "bad_tactic" in line:
                messages.append({"severity": "error", "pos": {"line": i, "column": 0},
                                 "endPos": {"line": i, "column": 5}, "data": "unknown tactic"})
        body = source.split("#check @")[0]
        for i, line in enumerate(lines, 1):
            if line.startswith("#check @"):
                messages.append({"severity": "info", "pos": {"line": i, "column": 0},
                                 "data": f"{self.name} : ∀ (x : Nat), x + 0 = x" + self.check_suffix})
            elif line.startswith("#print axioms "):
                used = self.used_axioms(body)
                data = (f"'{self.name}' depends on axioms: [{', '.join(used)}]" if used
                        else f"'{self.name}' does not depend on any axioms")
                messages.append({"severity": "info", "pos": {"line": i, "column": 0}, "data": data})
        if sorries:
            messages.append({"severity": "warning", "pos": {"line": 3, "column": 8},
                             "data": "declaration uses 'sorry'"})
        return parse_response({"sorries": sorries, "messages": messages, "env": 0})


@pytest.fixture
def goal(tmp_path: Path):  # type: ignore[no-untyped-def]
    clear_cache()
    f = tmp_path / "T.lean"
    f.write_text(SOURCE)
    (tmp_path / "lean-toolchain").write_text("leanprover/lean4:v4.19.0\n")
    found = lean_goals_from_response(f, SOURCE, ModelRepl().run_file(f, SOURCE, tmp_path, 10), tmp_path, {0: "prop"})
    assert len(found.goals) == 1
    return found.goals[0]


def test_goal_from_the_repl_answer(goal, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert (goal.kind, goal.lemma, goal.line, goal.column, goal.sort) == ("sorry", "t", 4, 2, "prop")
    assert goal.fillable
    # without the REPL's word on its sort a sorry is "unknown", never filled
    unasked = lean_goals_from_response(goal.file, SOURCE, ModelRepl().run_file(goal.file, SOURCE, tmp_path, 10),
                                       tmp_path).goals[0]
    assert unasked.sort == "unknown" and not unasked.fillable
    assert goal.statement == "theorem t (x : Nat) : x + 0 = x"
    assert SOURCE.encode()[goal.start : goal.end] == b"sorry"
    assert goal.file_digest == hashlib.sha256(SOURCE.encode()).hexdigest()


def test_a_proof_with_standard_axioms_is_accepted(goal) -> None:  # type: ignore[no-untyped-def]
    repl = ModelRepl({"simp": ["propext"]})
    v, replacement = verify_lean(goal, ["simp"], repl)  # type: ignore[arg-type]
    assert v.ok and v.complete, v.reasons
    assert replacement == "(simp)" and v.assumptions == ("propext",)
    assert v.patched is not None and v.patched.decode() == SOURCE.replace("  sorry", "  (simp)")
    # the original and the patched file were run, each with the checks appended for the full name
    assert len(repl.sources) == 2 and all(s.endswith("#check @t\n#print axioms t\n") for s in repl.sources)


@pytest.mark.parametrize("tactics, axioms, reason", [
    (["exact my_axiom x"], {"my_axiom": ["my_axiom"]}, "uses axioms the original did not: my_axiom"),
    (["native_decide"], {}, "sorry/admit/native_decide"),
    (["sorry"], {}, "sorry/admit/native_decide"),
    (["bad_tactic"], {}, "unknown tactic"),
])
def test_refusals(goal, tactics: list[str], axioms: dict[str, list[str]], reason: str) -> None:  # type: ignore[no-untyped-def]
    v, replacement = verify_lean(goal, tactics, ModelRepl(axioms))  # type: ignore[arg-type]
    assert not v.ok and replacement == "" and v.patched is None
    assert any(reason in r for r in v.reasons), v.reasons


@pytest.mark.parametrize("sort", ["data", "unknown"])
def test_a_goal_that_is_not_a_proposition_is_refused(goal, sort: str) -> None:  # type: ignore[no-untyped-def]
    """Second line of defence: whatever the script, a proof of a placeholder whose type is not a proposition (or
    whose sort Lean did not confirm) is refused before the REPL is asked anything."""
    repl = ModelRepl({"simp": ["propext"]})
    v, replacement = verify_lean(replace(goal, sort=sort), ["simp"], repl)  # type: ignore[arg-type]
    assert not v.ok and replacement == "" and v.patched is None
    assert v.reasons == (f"the placeholder's type is not a proposition ({sort}): a definition's body is the user's "
                         "to write",)
    assert repl.sources == []
    assert verify_lean(goal, ["simp"], repl)[0].ok  # the same goal as a proposition: accepted


def test_a_changed_statement_is_refused(goal) -> None:  # type: ignore[no-untyped-def]
    class Drifting(ModelRepl):
        def run_file(self, file, source, workdir, timeout):  # type: ignore[no-untyped-def]
            self.check_suffix = "" if not self.sources else " ∧ True"
            return super().run_file(file, source, workdir, timeout)

    v, _ = verify_lean(goal, ["simp"], Drifting({"simp": ["propext"]}))  # type: ignore[arg-type]
    assert not v.ok and any("statement changed" in r for r in v.reasons)


def test_the_other_form_is_tried_when_the_first_does_not_elaborate(goal) -> None:  # type: ignore[no-untyped-def]
    class TermOnly(ModelRepl):
        def run_file(self, file, source, workdir, timeout):  # type: ignore[no-untyped-def]
            return super().run_file(file, source.replace("  (omega)", "  bad_tactic"), workdir, timeout)

    repl = TermOnly({"omega": ["propext"]})
    v, replacement = verify_lean(goal, ["omega"], repl)  # type: ignore[arg-type]
    assert v.ok and replacement == "(by omega)" and len(repl.sources) == 3


def test_a_changed_file_is_refused(goal, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "T.lean").write_text(SOURCE + "\n-- edited\n")
    v, _ = verify_lean(goal, ["simp"], ModelRepl())  # type: ignore[arg-type]
    assert not v.ok and "changed" in v.reasons[0]


def test_a_stored_proof_is_checked_again_when_its_file_changed(goal, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A proof in the ledger for a Lean goal whose file has changed since is run through `verify_lean` again (its
    script recovered from the stored replacement) before it is reused; a proof that no longer checks is not."""
    from sidecar.ledger import GoalRecord, Ledger
    from sidecar.scheduler import GoalOutcome, ProveOptions, Scheduler

    ledger = Ledger(tmp_path, in_memory=True)
    sched = Scheduler(ProveOptions(budget=5), ledger)

    def stored(proof: str) -> None:
        ledger.upsert_goal(GoalRecord(key=goal.key.digest, file=str(goal.file), lemma="t", line=4, kind="sorry",
                                      status="proved", proof=proof, budget_s=5, seconds=1.0, attempts=3,
                                      verified=True, file_digest="0" * 64))

    stored("(simp)")
    repl = ModelRepl({"simp": ["propext"]})
    out = GoalOutcome(goal)
    assert sched._from_ledger(goal, out, None, {"lean": repl})  # type: ignore[dict-item]
    assert out.status == "proved" and out.verified and out.replacement == "(simp)" and out.from_ledger
    assert len(repl.sources) == 2 and repl.sources[1].startswith(SOURCE.replace("  sorry", "  (simp)"))
    assert ledger.goal(goal.key.digest).file_digest == goal.file_digest  # not checked again next time
    clear_cache()
    stored("(bad_tactic; simp)")
    out = GoalOutcome(goal)
    assert not sched._from_ledger(goal, out, None, {"lean": ModelRepl()})  # type: ignore[dict-item]
    assert out.status == "queued" and out.replacement is None


OPEN_SOURCE = """namespace Top

theorem helper (n : Nat) : n + 0 = n := by
  sorry

theorem t (x : Nat) : x + 0 = x := by
  sorry

end Top
"""


class OpenModel(ModelRepl):
    """The model above for OPEN_SOURCE: `t`'s axioms follow what its own body uses — `sorryAx` for a `sorry` in it
    or for `helper` while helper is a theorem with a `sorry`, `Top.helper` once helper is stated as an axiom."""

    name = "Top.t"

    def used_axioms(self, body: str) -> list[str]:
        t_body = body.split("theorem t ", 1)[1].split("end Top")[0]
        used: set[str] = set()
        if re.search(r"\bsorry\b", t_body) or "stray_sorry" in t_body:
            used.add("sorryAx")
        if "helper" in t_body:
            used.add("Top.helper" if "axiom helper" in body else "sorryAx")
        return sorted(used)


@pytest.fixture
def open_goal(tmp_path: Path):  # type: ignore[no-untyped-def]
    clear_cache()
    f = tmp_path / "Top.lean"
    f.write_text(OPEN_SOURCE)
    (tmp_path / "lean-toolchain").write_text("leanprover/lean4:v4.19.0\n")
    found = lean_goals_from_response(f, OPEN_SOURCE, OpenModel().run_file(f, OPEN_SOURCE, tmp_path, 10), tmp_path,
                                     {0: "prop", 1: "prop"})
    return next(g for g in found.goals if g.lemma == "t")


def test_a_proof_standing_on_an_open_lemma_of_the_file(open_goal) -> None:  # type: ignore[no-untyped-def]
    """Rule 7: `sorryAx` that comes only from an earlier open lemma of the file is accepted with allow_open and
    labelled; the copy that tells it apart states helper as an axiom on helper's own first line."""
    repl = OpenModel()
    v, replacement = verify_lean(open_goal, ["exact helper x"], repl, allow_open=True)  # type: ignore[arg-type]
    assert v.ok and v.depends_on_open == ("helper",), v.reasons
    assert v.patched is not None and b"axiom" not in v.patched  # the file written is the real one
    variant = repl.sources[-1]
    assert "axiom helper (n : Nat) : n + 0 = n theorem autoprove_open_body_helper" in variant
    assert variant.count("\n") == repl.sources[1].count("\n")  # nothing moved to another line
    # strict (the default of the function): refused
    clear_cache()
    v, _ = verify_lean(open_goal, ["exact helper x"], OpenModel())  # type: ignore[arg-type]
    assert not v.ok and any("sorryAx" in r for r in v.reasons)


def test_a_sorry_that_is_no_open_lemma_stays_refused(open_goal) -> None:  # type: ignore[no-untyped-def]
    # sorryAx that survives stating the open lemmas as axioms (here: from somewhere else) is refused
    v, _ = verify_lean(open_goal, ["exact stray_sorry"], OpenModel(), allow_open=True)  # type: ignore[arg-type]
    assert not v.ok and v.depends_on_open == () and any("sorryAx" in r for r in v.reasons), v.reasons
