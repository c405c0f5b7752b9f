"""Best-first proof search over prover states.

Knows provers only through `provers.base` and tactics only through a strategy's candidates. The frontier is
ordered by path cost plus a heuristic on what remains (number and size of goals). A transposition table keyed by
the canonical state text expands each distinct state once, which also prunes tactics that make no progress.
The budget is wall time and expansions; cancellation is checked between prover calls.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterable, Literal, Protocol

from .errors import ProverCrashed
from .provers.base import Prover, ProofState
from .strategies import Candidate, SearchContext

__all__ = ["SearchBudget", "SearchResult", "Search", "AttemptSink", "hammer_replacements"]

log = logging.getLogger(__name__)

SearchStatus = Literal["proved", "exhausted", "timeout", "error", "cancelled"]


class CandidateSource(Protocol):
    def candidates(self, state: ProofState, ctx: SearchContext, depth: int) -> Iterable[Candidate]: ...


AttemptSink = Callable[[str, str, str, float], None]  # (strategy, tactic, outcome, seconds)


@dataclass(frozen=True)
class SearchBudget:
    """Limits of one goal's search."""

    seconds: float = 60.0
    expansions: int = 100_000
    max_depth: int = 10
    tactic_timeout: float = 2.0
    max_candidates: int = 250  # per expanded state
    max_crashes: int = 5


@dataclass
class SearchResult:
    """What a search found and what it cost."""

    status: SearchStatus
    script: tuple[str, ...] | None = None
    attempts: int = 0
    expansions: int = 0
    seconds: float = 0.0
    strategy: str = ""  # family of the tactic that finished the proof
    strategies: Counter[str] = field(default_factory=Counter)  # attempts per family
    best: ProofState | None = None  # the state with the least left to prove
    message: str = ""


@dataclass(order=True)
class _Node:
    priority: float
    order: int
    cost: float = field(compare=False)
    state: ProofState = field(compare=False)


_HAMMER_REPLACE = re.compile(r"Replace the hammer tactic with:\s*(.+?)(?:\n\s*\n|\Z)", re.S)


def hammer_replacements(message: str) -> list[str]:
    """The replacement tactics CoqHammer printed after a successful `hammer`."""
    return [" ".join(m.split()).rstrip(".") for m in _HAMMER_REPLACE.findall(message)]


def _remaining(state: ProofState) -> float:
    size = sum(len(g.conclusion) + sum(len(h) for h in g.hypotheses) // 4 for g in state.goals)
    return 2.0 * len(state.goals) + 1.0 * state.unfocused + size / 400.0


class Search:
    """One goal's best-first search with one prover."""

    def __init__(
        self,
        prover: Prover,
        strategy: CandidateSource,
        ctx: SearchContext,
        budget: SearchBudget,
        *,
        on_attempt: AttemptSink | None = None,
        cancel: threading.Event | None = None,
        on_progress: Callable[[SearchResult], None] | None = None,
    ) -> None:
        self.prover = prover
        self.strategy = strategy
        self.ctx = ctx
        self.budget = budget
        self.on_attempt = on_attempt
        self.cancel = cancel or threading.Event()
        self.on_progress = on_progress

    def run(self, root: ProofState) -> SearchResult:
        """Search from `root` until a proof, exhaustion, the budget, or cancellation."""
        t0 = time.monotonic()
        deadline = t0 + self.budget.seconds
        res = SearchResult(status="exhausted", best=root)
        if root.finished:
            res.status, res.script = "proved", ()
            return res
        seen: set[str] = {root.key()}
        counter = itertools.count()
        frontier: list[_Node] = [_Node(_remaining(root), next(counter), 0.0, root)]
        crashes = 0
        best_score = _remaining(root)

        def finish(status: SearchStatus, script: tuple[str, ...] | None = None, strategy: str = "") -> SearchResult:
            res.status, res.script, res.strategy = status, script, strategy
            res.seconds = time.monotonic() - t0
            return res

        while frontier:
            node = heapq.heappop(frontier)
            depth = len(node.state.path)
            if depth >= self.budget.max_depth:
                continue
            res.expansions += 1
            if res.expansions > self.budget.expansions:
                return finish("exhausted")
            cands = itertools.islice(self.strategy.candidates(node.state, self.ctx, depth), self.budget.max_candidates)
            for cand in cands:
                if self.cancel.is_set():
                    return finish("cancelled")
                left = deadline - time.monotonic()
                if left <= 0.01:
                    return finish("timeout")
                try:
                    r = self.prover.run(node.state, cand.tactic, min(cand.timeout, left))
                except ProverCrashed as e:
                    crashes += 1
                    self._record(res, cand, "broke", 0.0)
                    log.warning("prover crashed on %r: %s", cand.tactic, e)
                    if crashes >= self.budget.max_crashes:
                        res.message = f"prover crashed {crashes} times; last: {e}"
                        return finish("error")
                    continue
                self._record(res, cand, r.outcome, r.seconds)
                if r.outcome == "finished" and r.state is not None:
                    script = r.state.path
                    if cand.strategy == "hammer":
                        script = self._reconstruct(node.state, r.message, min(30.0, max(1.0, deadline - time.monotonic())))
                        if script is None:
                            continue
                    return finish("proved", script, cand.strategy)
                if r.outcome != "ok" or r.state is None:
                    continue
                if cand.strategy == "hammer":
                    continue  # a hammer call that did not finish is no usable step
                key = r.state.key()
                if key in seen:
                    continue
                seen.add(key)
                score = _remaining(r.state)
                if score < best_score:
                    best_score, res.best = score, r.state
                cost = node.cost + cand.cost
                heapq.heappush(frontier, _Node(cost + score, next(counter), cost, r.state))
            if self.on_progress is not None:
                res.seconds = time.monotonic() - t0
                self.on_progress(res)
        return finish("exhausted")

    def _reconstruct(self, state: ProofState, message: str, timeout: float) -> tuple[str, ...] | None:
        """Replace a successful `hammer` by the tactic it printed, checked by running it.

        A reconstruction that cites a lemma of the goal's own name (another module's copy of the very statement)
        is not a proof of it and is dropped."""
        own = str(self.ctx.extra.get("lemma", ""))
        for tac in hammer_replacements(message):
            used = re.findall(r"[A-Za-z_][A-Za-z0-9_'.]*", tac.split("use:", 1)[1]) if "use:" in tac else []
            if own and any(u.split(".")[-1] == own for u in used):
                continue
            try:
                r = self.prover.run(state, tac, timeout)
            except ProverCrashed:
                return None
            if r.outcome == "finished" and r.state is not None:
                return r.state.path
        return None

    def _record(self, res: SearchResult, cand: Candidate, outcome: str, seconds: float) -> None:
        res.attempts += 1
        res.strategies[cand.strategy] += 1
        if self.on_attempt is not None:
            self.on_attempt(cand.strategy, cand.tactic, outcome, seconds)
