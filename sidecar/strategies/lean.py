"""Profile 0 for Lean 4: general, deterministic tactic candidates for the first goal of a state.

Nothing here names a lemma of any benchmark. Candidates come from the goal's shape (binders, conjunctions,
existentials, equalities, iffs), its hypotheses (variables to case on or induct on, hypotheses to destructure) and
from what the file imports: core tactics always (`rfl`, `decide`, `simp`, `omega`, `exact?`, ...), `grind` from
Lean 4.22 on, Mathlib's (`norm_num`, `linarith`, `nlinarith`, `ring`, `positivity`, `aesop`) only when the file
imports Mathlib. A candidate that is not available simply fails, but it costs a REPL call: hence the gating.
"""

from __future__ import annotations

import re
from typing import Iterator

from ..canonical import normalize_space
from ..provers.base import GoalView, ProofState
from . import Candidate, SearchContext

__all__ = ["LeanProfile0", "lean_premises", "lean_variables"]

# (tactic, cost, timeout factor)
_CORE_CLOSERS: tuple[tuple[str, float, float], ...] = (
    ("rfl", 0.5, 0.5),
    ("assumption", 0.5, 0.5),
    ("trivial", 0.6, 0.5),
    ("decide", 0.6, 1.0),
    ("simp", 0.7, 1.0),
    ("omega", 0.7, 1.0),
    ("simp_all", 0.8, 1.0),
    ("contradiction", 0.8, 0.5),
    ("exact?", 1.2, 2.0),
    ("simp_arith", 1.0, 1.0),
    ("intros; simp_all", 1.0, 1.0),
    ("intros; omega", 1.0, 1.0),
    ("constructor <;> simp_all", 1.1, 1.0),
    ("apply?", 1.6, 2.0),
)
_GRIND: tuple[tuple[str, float, float], ...] = (("grind", 0.9, 2.0),)
_MATHLIB_CLOSERS: tuple[tuple[str, float, float], ...] = (
    ("norm_num", 0.8, 1.0),
    ("linarith", 0.9, 1.0),
    ("positivity", 0.9, 1.0),
    ("ring", 0.9, 1.0),
    ("nlinarith", 1.3, 2.0),
    ("aesop", 1.1, 2.0),
)

_IDENT = r"[A-Za-z_\u00c0-\u024f\u0370-\u03ff][A-Za-z0-9_'!?\u00c0-\u024f\u0370-\u03ff\u2080-\u209c]*"
_PROP = re.compile(r"[=≠<>≤≥∧∨¬↔→∀∃∣]|\bTrue\b|\bFalse\b")


def lean_variables(goal: GoalView) -> list[tuple[str, str]]:
    """(name, type) of each hypothesis, in order; a line `x y : Nat` gives two entries. Inaccessible names
    (`x✝`) are skipped: a tactic cannot refer to them."""
    out = []
    for h in goal.hypotheses:
        h = normalize_space(h)
        m = re.match(r"^((?:\S+)(?:\s+\S+)*?)\s+:\s+(.*)$", h)
        if not m:
            continue
        for name in m.group(1).split():
            if re.fullmatch(_IDENT, name):
                out.append((name, m.group(2)))
    return out


def _version_at_least(version: str, minor: int) -> bool:
    m = re.match(r"v?4\.(\d+)", version or "")
    return bool(m) and int(m.group(1)) >= minor


class LeanProfile0:
    """Candidates for `state.goals[0]`, cheapest and likeliest first."""

    backend = "lean"

    def candidates(self, state: ProofState, ctx: SearchContext, depth: int) -> Iterator[Candidate]:
        """All candidates, cheapest first (ties in the order they are generated)."""
        return iter(sorted(self._generate(state, ctx), key=lambda c: c.cost))

    def _generate(self, state: ProofState, ctx: SearchContext) -> Iterator[Candidate]:
        if not state.goals:
            return
        goal = state.goals[0]
        target = normalize_space(goal.conclusion)
        t = ctx.tactic_timeout
        mathlib = bool(ctx.extra.get("mathlib"))
        closers = list(_CORE_CLOSERS)
        if _version_at_least(str(ctx.extra.get("lean_version", "")), 22):
            closers += _GRIND
        if mathlib:
            closers += _MATHLIB_CLOSERS
        for tac, cost, tf in sorted(closers, key=lambda c: c[1]):
            yield Candidate(tac, "closer", cost, t * tf)
        # the goal's shape
        if target.startswith("∀") or "→" in target:
            yield Candidate("intro", "intro", 0.4, t)
            yield Candidate("intros", "intro", 0.5, t)
        if "∧" in target or "↔" in target:
            yield Candidate("constructor", "split", 0.6, t)
        if target.startswith("∃"):
            yield Candidate("constructor", "split", 1.0, t)
            yield Candidate("exists _", "split", 1.2, t)
        if " = " in target:
            yield Candidate("simp only []", "simp", 1.2, t)
            yield Candidate("congr 1", "congr", 1.4, t)
        # hypotheses: destructure propositions, case on / induct on data
        for name, typ in lean_variables(goal):
            if _PROP.search(typ):
                if "∧" in typ or "∃" in typ or "∨" in typ or "↔" in typ:
                    yield Candidate(f"cases {name}", "destruct", 1.0, t)
                    yield Candidate(f"rcases {name} with ⟨_, _⟩", "destruct", 1.2, t)
                yield Candidate(f"simp [{name}] at *", "rewrite", 1.3, t)
                if " = " in typ:
                    yield Candidate(f"rw [{name}]", "rewrite", 1.1, t)
                    yield Candidate(f"subst {name}", "rewrite", 1.2, t)
                continue
            if typ in ("Prop", "Type", "Sort _") or typ.startswith("Type"):
                continue
            yield Candidate(f"induction {name} <;> simp_all", "induction", 1.3, t * 1.5)
            yield Candidate(f"induction {name} <;> omega", "induction", 1.4, t * 1.5)
            yield Candidate(f"cases {name} <;> simp_all", "destruct", 1.3, t)
            yield Candidate(f"induction {name}", "induction", 1.6, t)
            yield Candidate(f"cases {name}", "destruct", 1.7, t)
        # the environment: lemmas proved earlier in the file
        for name, _ in ctx.lemmas[:20]:
            yield Candidate(f"exact {name}", "lemma", 1.5, t)
            yield Candidate(f"simp [{name}]", "lemma", 1.6, t)
        # the file's still-open lemmas: the same uses, dearer (a proof standing on them is labelled with them)
        for name, _ in ctx.open_lemmas[:10]:
            yield Candidate(f"exact {name}", "open-lemma", 2.2, t)
            yield Candidate(f"simp [{name}]", "open-lemma", 2.3, t)


_NOT_NAMES = frozenset("theorem lemma fun forall exists by at with have show from let in if then else match Type "
                       "Prop Sort".split())


def lean_premises(text: str, before: int, goal: str, query: str = "", limit: int = 20,
                  exclude: str = "") -> list[tuple[str, str]]:
    """(name, statement) of the file's theorems and lemmas declared before offset `before`, best first for `goal`
    (its statement or state): the most names shared with it, the nearest first among equals. With `query`, only
    those whose name or statement holds each of its words. The file's own declarations only: Lean's environment
    (the imports, Mathlib) is not searched here."""
    from ..lean_source import declarations

    words = query.split()
    wanted = set(re.findall(_IDENT, goal)) - _NOT_NAMES
    found = [d for d in declarations(text) if d.end <= before and d.name and d.name != exclude
             and d.kind in ("theorem", "lemma") and all(w in d.name or w in d.statement for w in words)]
    scored = []
    for nearness, d in enumerate(reversed(found)):
        own = set(re.findall(_IDENT, d.statement)) - _NOT_NAMES - {d.name}
        scored.append((-len(own & wanted), nearness, d.name, d.statement))
    return [(name, st) for *_, name, st in sorted(scored)[:limit]]
