"""Profile 1: profile 0's candidates, merged by cost with what the visible proofs suggest.

* The tactic memory's predictions for the state (`learn.memory.TacticMemory.predict`: the tactics of the k most
  similar visible states, adapted to this state's names), family "memory", cheaper the more similar.
* At the root, whole scripts of the visible lemmas whose statements are most like the goal's, their binders renamed
  to the goal's (family "reuse"): a candidate that runs every sentence of the script (`Candidate.then`).
* Lemmas the proofs of similar statements used (family "premise-learned"): `apply`/`rewrite`/`eauto using`.
  (`sauto use:`/`hauto use:` with them were tried and dropped: on the medium dev cases they timed out at the root,
  and the timed-out retry took the time two proofs needed; they found none.)
* With `ctx.extra["schedule"]` (`learn.schedule.FamilyPrior`), every candidate's cost shifted by what its family
  achieved in the project's history.

`LearnedFirst` is the same memory and reuse candidates alone (Tactician's k-NN search, nothing hand-written): the
scheduler runs it first, for a short slice of the goal's budget (`first_slice`), then the merged search with what is
left. The two are complementary — the memory proves in a second or two what the hand-written candidates would bury
under thousands of cheaper attempts, and a memory-only search that has nothing to offer exhausts within a second.

The strategy knows nothing of where these come from: `ctx.extra["learned"]` is an object with `predict(hyps, goal)`
and `reuse()` (see `learn.service.LearnedView`), already restricted to what the goal may see. Without it, profile 1
is profile 0.
"""

from __future__ import annotations

import heapq
from dataclasses import replace
from typing import Iterable, Iterator, Protocol, Sequence

from ..provers.base import ProofState
from . import Candidate, SearchContext

__all__ = ["LearnedProfile", "LearnedFirst", "LearnedSource", "MEMORY_CANDIDATES", "first_slice"]

MEMORY_CANDIDATES = 12  # predictions tried per state
REUSE_CANDIDATES = 3  # scripts tried at the root
FIRST_CANDIDATES = 16  # predictions per state in the memory-only slice
FIRST_SHARE, FIRST_MAX = 0.2, 15.0  # the memory-only slice: this share of the goal's budget, at most this long


def first_slice(budget: float) -> float:
    """Seconds of a goal's budget given to the memory-only search (`LearnedFirst`) before the merged one."""
    return min(FIRST_MAX, FIRST_SHARE * budget)


def _learned(state: ProofState, ctx: SearchContext, depth: int, k: int) -> list[Candidate]:
    """The memory's predictions for the state's first goal and, at the root, the reused scripts, by cost."""
    learned = ctx.extra.get("learned")
    if learned is None or not state.goals:
        return []
    t = ctx.tactic_timeout
    g = state.goals[0]
    mine: list[Candidate] = []
    for p in list(learned.predict(g.hypotheses, g.conclusion))[:k]:  # type: ignore[attr-defined]
        score = float(getattr(p, "score", 0.0))
        mine.append(Candidate(str(getattr(p, "tactic")), "memory", 0.35 + 1.9 * (1.0 - score), t))
    if depth == 0:
        for script, sim in list(learned.reuse())[:REUSE_CANDIDATES]:  # type: ignore[attr-defined]
            if script:
                mine.append(Candidate(script[0], "reuse", 0.3 + 1.5 * (1.0 - sim), t, then=tuple(script[1:])))
    return mine


class LearnedFirst:
    """The memory-only search of profile 1's first slice (see the module docstring)."""

    def __init__(self, backend: str = "coq") -> None:
        self.backend = backend

    def candidates(self, state: ProofState, ctx: SearchContext, depth: int) -> Iterator[Candidate]:
        return _once(sorted(_learned(state, ctx, depth, FIRST_CANDIDATES), key=lambda c: c.cost))


def _once(cands: Iterable[Candidate]) -> Iterator[Candidate]:
    """`cands` without repeats (the same tactic and continuation)."""
    seen: set[tuple[str, tuple[str, ...]]] = set()
    for c in cands:
        if (c.tactic, c.then) not in seen:
            seen.add((c.tactic, c.then))
            yield c


class LearnedSource(Protocol):
    def predict(self, hyps: Sequence[str], goal: str) -> Sequence[object]: ...

    def reuse(self) -> Sequence[tuple[tuple[str, ...], float]]: ...


class LearnedProfile:
    """Profile 1 around a profile-0 strategy (see the module docstring)."""

    def __init__(self, base: object) -> None:
        self.base = base
        self.backend = getattr(base, "backend", "")

    def candidates(self, state: ProofState, ctx: SearchContext, depth: int) -> Iterator[Candidate]:
        """The base strategy's candidates and the learned ones, in order of cost, each tactic once."""
        base: Iterable[Candidate] = self.base.candidates(state, ctx, depth)  # type: ignore[attr-defined]
        schedule = ctx.extra.get("schedule")
        if schedule is not None:  # the learned schedule's cost shifts per family (learn/schedule.py)
            base = (replace(c, cost=schedule.cost(c.strategy, c.cost)) for c in base)  # type: ignore[attr-defined]
        learned = ctx.extra.get("learned")
        if learned is None or not state.goals:
            yield from base
            return
        t = ctx.tactic_timeout
        mine = _learned(state, ctx, depth, MEMORY_CANDIDATES)
        premises = getattr(learned, "premises", None)
        if callable(premises) and depth <= 2:
            names = list(premises())
            lean = self.backend == "lean"
            for i, name in enumerate(names):
                c = 1.7 + 0.2 * i
                if lean:
                    mine.append(Candidate(f"exact {name}", "premise-learned", c, t))
                    mine.append(Candidate(f"apply {name}", "premise-learned", c + 0.2, t))
                    mine.append(Candidate(f"rw [{name}]", "premise-learned", c + 0.3, t))
                else:
                    mine.append(Candidate(f"apply {name}", "premise-learned", c, t))
                    mine.append(Candidate(f"rewrite {name}", "premise-learned", c + 0.3, t))
                    mine.append(Candidate(f"eapply {name}", "premise-learned", c + 0.5, t))
            if names:
                mine.append(Candidate("simp [" + ", ".join(names[:6]) + "]" if lean else
                                      "intros; eauto using " + ", ".join(names[:6]), "premise-learned", 1.6, 1.5 * t))
        if schedule is not None:
            mine = [replace(c, cost=schedule.cost(c.strategy, c.cost)) for c in mine]  # type: ignore[attr-defined]
        mine.sort(key=lambda c: c.cost)
        yield from _once(heapq.merge(mine, base, key=lambda c: c.cost))
