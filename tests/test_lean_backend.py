"""The Lean backend's own logic, without a Lean: every recorded REPL answer through `parse_response`, goal text
parsing, the lexical reading of Lean files, the replacement forms, the axiom check's parser and the strategy."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from sidecar.lean_source import (
    declarations,
    enclosing_declaration,
    lean_imports,
    line_col_to_offset,
    mask_lean,
    offset_to_line_col,
    qualified_name,
)
from sidecar.patch import render_lean_replacement, sorry_in_term_position
from sidecar.provers.base import ProofState
from sidecar.provers.lean import SORT_PROBE, parse_goal, parse_response, sort_from_probe
from sidecar.strategies import SearchContext, strategy_for
from sidecar.verify_lean import STANDARD_AXIOMS, parse_axioms

TRANSCRIPTS = Path(__file__).resolve().parents[2] / "shared" / "lean-repl-transcripts"
if not TRANSCRIPTS.is_dir():
    TRANSCRIPTS = Path("/work/shared/lean-repl-transcripts")


def blocks(path: Path) -> list[object]:
    """The JSON objects of a transcript file (separated by blank lines)."""
    return [json.loads(b) for b in re.split(r"\n\s*\n", path.read_text()) if b.strip()]


RECORDED = sorted(p.name[: -len(".expected.out")] for p in TRANSCRIPTS.glob("*.expected.out"))


def test_there_are_recorded_transcripts() -> None:
    assert len(RECORDED) >= 50, TRANSCRIPTS


@pytest.mark.parametrize("name", RECORDED)
def test_every_recorded_answer_parses(name: str) -> None:
    """`parse_response` reads every answer the real REPL gave, and keeps what the backend needs."""
    for raw in blocks(TRANSCRIPTS / f"{name}.expected.out"):
        r = parse_response(raw)
        assert isinstance(raw, dict)
        if set(raw) == {"message"}:
            assert r.error == raw["message"]
            continue
        assert r.error is None
        assert len(r.sorries) == len(raw.get("sorries", []))
        assert [m.data for m in r.messages] == [m["data"] for m in raw.get("messages", [])]
        assert r.env == raw.get("env") and r.proof_state == raw.get("proofState")
        assert list(r.goals) == raw.get("goals", [])
        for s, rs in zip(r.sorries, raw.get("sorries", [])):
            pos = rs.get("pos") or {}
            assert (s.line, s.column, s.goal, s.proof_state) == (pos.get("line"), pos.get("column"), rs["goal"],
                                                                 rs.get("proofState"))


def test_parse_response_shapes() -> None:
    r = parse_response({"proofStatus": "Completed", "proofState": 3, "goals": []})
    assert r.completed and r.proof_state == 3
    r = parse_response({"proofStatus": "Incomplete: open goals remain", "proofState": 1, "goals": ["⊢ Int"]})
    assert not r.completed and r.goals == ("⊢ Int",)
    assert parse_response({"message": "Unknown proof state."}).error == "Unknown proof state."
    for bad in ([], {"sorries": [{"goal": 1}]}, {"goals": [1]}, {"env": "x"}, {"messages": [{"data": "x"}]}):
        with pytest.raises(ValueError):
            parse_response(bad)


def test_parse_goal() -> None:
    g = parse_goal("x : Nat\nh1 : x = 2\n⊢ x = 2")
    assert g.hypotheses == ("x : Nat", "h1 : x = 2") and g.conclusion == "x = 2"
    g = parse_goal("case succ\nn : Nat\nih : P n\n  ∧ Q n\n⊢ P (n + 1)")
    assert g.hypotheses == ("n : Nat", "ih : P n\n  ∧ Q n") and g.conclusion == "P (n + 1)"
    assert parse_goal("⊢ Nat").conclusion == "Nat"


SRC = """import Std.Data
-- theorem fake : True := sorry
/- a /- nested -/ comment with theorem fake2 -/
namespace A.B

@[simp] theorem t1 (x : Nat) : x + 0 = x := by
  sorry

private lemma t2 : "a:=b".length = 4 := sorry
section S
def f : Nat → Nat
  | 0 => 1
  | n + 1 => n
end S
end A.B
theorem _root_.top : True := by sorry
example : 1 = 1 := sorry
"""


def test_lean_source_reading() -> None:
    assert lean_imports(SRC) == ("Std.Data",)
    masked = mask_lean(SRC)
    assert len(masked) == len(SRC) and "fake" not in masked and '"a:=b"' not in masked
    ds = declarations(SRC)
    assert [(d.kind, d.name) for d in ds] == [("theorem", "t1"), ("lemma", "t2"), ("def", "f"),
                                              ("theorem", "_root_.top"), ("example", "")]
    assert ds[0].statement == "theorem t1 (x : Nat) : x + 0 = x"
    assert ds[1].statement == 'lemma t2 : "a:=b".length = 4'
    assert ds[2].statement == "def f : Nat → Nat"
    assert [qualified_name(SRC, d) for d in ds[:4]] == ["A.B.t1", "A.B.t2", "A.B.f", "top"]
    i = SRC.index("sorry", SRC.index("t1"))
    assert enclosing_declaration(SRC, i) == ds[0]
    line, col = offset_to_line_col(SRC, i)
    assert line_col_to_offset(SRC, line, col) == i


@pytest.mark.parametrize("text, term", [
    ("theorem a : 1 = 1 := sorry", True),
    ("theorem a : 1 = 1 := by sorry", False),
    ("theorem a : 1 = 1 := by\n  simp\n  sorry", False),
    ("example : P := by\n  induction n with\n  | zero => sorry", False),
    ("def f := fun x => sorry", True),
    ("example := ⟨sorry, 1⟩", True),
    ("example : P ∧ Q := by\n  constructor\n  · sorry", False),
])
def test_replacement_form(text: str, term: bool) -> None:
    data = text.encode()
    goal = SimpleNamespace(start=data.rindex(b"sorry"))
    assert sorry_in_term_position(goal, data) is term  # type: ignore[arg-type]
    rendered = render_lean_replacement(goal, ["intro x", "simp\n  [h]"], source=data)  # type: ignore[arg-type]
    assert rendered == ("(by intro x; simp [h])" if term else "(intro x; simp [h])")


def test_print_axioms_messages() -> None:
    assert parse_axioms("'A.t' depends on axioms: [propext, Classical.choice, Quot.sound]") == \
        ("A.t", frozenset(STANDARD_AXIOMS))
    assert parse_axioms("'t'' does not depend on any axioms") == ("t'", frozenset())
    assert parse_axioms("'t' depends on axioms: [sorryAx]") == ("t", frozenset({"sorryAx"}))
    assert parse_axioms("unknown constant 't'") is None


def test_lean_strategy_is_general_and_gated() -> None:
    strat = strategy_for("lean")
    state = ProofState((), (parse_goal("n : Nat\nh : n > 0\n⊢ ∀ m, n + m > 0"),), 0, False, 0)
    core = [c.tactic for c in strat.candidates(state, SearchContext(), 0)]
    assert {"rfl", "omega", "simp", "decide", "intro", "exact?"} <= set(core)
    assert "induction n <;> simp_all" in core and "linarith" not in core and "grind" not in core
    costs = [c.cost for c in strat.candidates(state, SearchContext(), 0)]
    assert costs[0] == min(costs)
    more = [c.tactic for c in strat.candidates(state, SearchContext(extra={"mathlib": True,
                                                                           "lean_version": "v4.22.0"}), 0)]
    assert {"linarith", "norm_num", "ring", "positivity", "nlinarith", "aesop", "grind"} <= set(more)


APPLY_FAILED = ("Lean error:\nTactic `apply` failed: could not unify the conclusion of `@Classical.byContradiction`\n"
                "  ?p\nwith the goal\n  Nat\n\nNote: The full type of `@Classical.byContradiction` is\n"
                "  ∀ {p : Prop}, (¬p → False) → p\n\n⊢ Nat")


@pytest.mark.parametrize("answer, sort", [
    # `apply` succeeded: one new goal `¬T → False` (the shape of a recorded ProofStep success)
    ({"proofStatus": "Incomplete: open goals remain", "proofState": 1, "goals": ["case h\n⊢ ¬1 = 1 → False"]},
     "prop"),
    ({"proofStatus": "Incomplete: open goals remain", "proofState": 3,
      "goals": ["case h\nx : Nat\nh1 : x = 2\n⊢ ¬x = 2 →\n    False"]}, "prop"),
    # `apply`'s unification error naming the probe's theorem (Lean ≥ 4.2x wording, and the target-with-arrows form)
    ({"message": APPLY_FAILED}, "data"),
    ({"message": APPLY_FAILED.replace("the conclusion of", "the type of")}, "data"),
    # the earlier wording (`throwApplyError` before the rewording; it names no theorem)
    ({"message": "Lean error:\ntactic 'apply' failed, failed to unify\n  ?p\nwith\n  Nat\n⊢ Nat"}, "data"),
    # everything else: unknown (fail closed)
    (None, "unknown"),  # no answer (timed out)
    ({"message": "Unknown proof state."}, "unknown"),
    ({"message": "Lean error:\n<input>:1:1: unknown tactic"}, "unknown"),  # recorded in unknown_tactic
    ({"message": "Lean error:\nTactic `apply` failed: could not unify the type of `?succ`\n  n✝ + 1 = 0\nwith the "
                 "goal\n  true = true\n\nn✝ : Nat\n⊢ true = true"}, "unknown"),  # recorded: another term's failure
    ({"message": "Lean error:\n(deterministic) timeout at `isDefEq`, maximum number of heartbeats (200000)"},
     "unknown"),
    ({"proofStatus": "Incomplete: contains sorry", "proofState": 1, "goals": [],  # an error logged, not thrown
      "messages": [{"severity": "error", "pos": {"line": 0, "column": 0}, "endPos": {"line": 0, "column": 0},
                    "data": "Unknown identifier `_root_.Classical.byContradiction`"}]}, "unknown"),
    ({"proofStatus": "Completed", "proofState": 1, "goals": []}, "unknown"),  # not what the probe does
    ({"proofStatus": "Incomplete: open goals remain", "proofState": 1, "goals": ["⊢ Nat"]}, "unknown"),
    ({"proofStatus": "Incomplete: open goals remain", "proofState": 1,
      "goals": ["case h\n⊢ ¬1 = 1 → False", "⊢ Prop"]}, "unknown"),
])
def test_what_the_sort_probe_answer_says(answer: dict[str, object] | None, sort: str) -> None:
    """The reading of the REPL's answer to `apply _root_.Classical.byContradiction` on a sorry's proof state."""
    assert sort_from_probe(None if answer is None else parse_response(answer)) == sort
    assert SORT_PROBE == "apply _root_.Classical.byContradiction"
