"""Best-first proof search over prover states.

Knows provers only through `provers.base` and tactics only through a strategy's candidates. The frontier holds
(state, next candidate) edges ordered by path cost plus a heuristic on what remains (number and size of goals)
plus the candidate's cost, drawing each state's candidates lazily. A transposition table keyed by
the canonical state text expands each distinct state once, which also prunes tactics that make no progress.
The budget is wall time and expansions; cancellation is checked between prover calls.

Goal by goal (`SearchBudget.focus_seconds`): the goals of a state after a case split are independent (none shares an
existential variable with another unless a tactic made one), so each state with several goals also gets one "focus"
edge, ranked by what its *first* goal alone is estimated to cost. Popping it runs a short search from that state
whose only aim is to close the first goal and leave the others as they were; the state it reaches is then a child
like any other. The best-first order alone would put every child of a three-goal state behind thousands of shallow
single-goal states, although each of the three goals may need only one or two steps. Off unless the caller sets a
time for it (the scheduler does not yet: see `scheduler.FOCUS_SHARE` for what it measured).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable, Iterator, Literal, Protocol, Sequence, Union

from .errors import ProverCrashed
from .provers.base import Prover, ProofState
from .strategies import Candidate, SearchContext

__all__ = ["SearchBudget", "SearchResult", "Search", "AttemptSink", "hammer_replacements"]

log = logging.getLogger(__name__)

SearchStatus = Literal["proved", "exhausted", "timeout", "error", "cancelled"]


class CandidateSource(Protocol):
    def candidates(self, state: ProofState, ctx: SearchContext, depth: int) -> Iterable[Candidate]: ...


AttemptSink = Callable[[str, str, str, float], None]  # (strategy, tactic, outcome, seconds)
# the caller's verdict on a finished script: take it, refuse it, or keep it in case nothing better is found
Acceptance = Union[bool, Literal["fallback"]]


@dataclass(frozen=True)
class SearchBudget:
    """Limits of one goal's search."""

    seconds: float = 60.0
    expansions: int = 100_000
    max_depth: int = 10
    tactic_timeout: float = 2.0
    max_candidates: int = 250  # per expanded state
    max_crashes: int = 5
    # a candidate that timed out near the root is tried once more, later, with `retry_factor` times its time
    retry_factor: float = 4.0
    retry_penalty: float = 1.5
    retry_depth: int = 1
    retry_max_timeout: float = 20.0
    # after a script the caller takes only as a fallback (e.g. a proof standing on open lemmas), look this much
    # longer for one it takes outright, then settle for the fallback
    fallback_seconds: float = 0.0
    # goal by goal: a state with several goals gets a focused search on its first goal alone (at most this long,
    # this many expanded states, this many steps deep), whose proof of that goal is kept and built on; the focused
    # searches of one run take at most `focus_share` of its time. 0 seconds: off
    focus_seconds: float = 0.0
    focus_expansions: int = 200
    focus_depth: int = 4
    focus_share: float = 0.5
    tactic_cap: float = float("inf")  # no tactic runs longer than this (a focused search's: `focus_tactic_seconds`;
    #                                   Coq's own `Timeout` counts whole seconds, so less than 1 s is 1 s there)
    focus_tactic_seconds: float = 1.0


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
    near: tuple[ProofState, ...] = ()  # the NEAR states with the least left to prove, least first (tickets.py)
    message: str = ""
    refused: int = 0  # finished scripts the caller's check refused
    fallback: tuple[tuple[str, ...], str] | None = None  # (script, strategy) the caller would take if nothing better
    # for a proved result: (state before, tactic) of every step of the script, in order (what a memory learns from),
    # and the family of the candidate each step came from
    trace: tuple[tuple[ProofState, str], ...] = ()
    families: tuple[str, ...] = ()
    crashes: int = 0  # prover crashes survived (the prover restarts; the search goes on)


def first_goal_closed(state: ProofState) -> Callable[[ProofState], bool]:
    """The aim of a focused search from `state`: a state where its first goal is closed and the others are exactly
    as they were (goal-by-goal search; a sketch's hole in profile 2)."""
    rest, unfocused = state.goals[1:], state.unfocused

    def closed(st: ProofState) -> bool:
        return st.goals == rest and st.unfocused == unfocused

    return closed


@dataclass(eq=False)
class _Open:
    """A reached state and the candidates it has not tried yet."""

    state: ProofState
    cost: float  # path cost from the root
    score: float  # estimate of what remains
    cands: Iterator[Candidate]
    started: bool = False  # one of its candidates has been tried (the state counts as expanded)
    parent: "_Open | None" = None
    steps: tuple[tuple[ProofState, str, str], ...] = ()  # (state, tactic, family) from the parent's state to this one

    def trace(self) -> tuple[tuple[ProofState, str, str], ...]:
        """(state before, tactic, family) of every step from the root to this state."""
        parts: list[tuple[tuple[ProofState, str, str], ...]] = []
        node: _Open | None = self
        while node is not None:
            parts.append(node.steps)
            node = node.parent
        return tuple(step for part in reversed(parts) for step in part)


@dataclass(order=True)
class _Edge:
    priority: float
    order: int
    node: _Open = field(compare=False)
    cand: Candidate = field(compare=False)
    retry: bool = field(default=False, compare=False)  # a timed-out candidate queued again with more time
    slot: bool = field(default=True, compare=False)  # it stands for its state's next candidate (draw one on pop)


# families whose timeouts are not retried with more time: `hammer` has its own limit, and CoqHammer's `sauto`
# family succeeds in milliseconds when it succeeds at all (strategies/coq.py), but takes half a second or more to
# fail; a focused search (below) does not try them at all
NO_RETRY = frozenset({"hammer", "sauto"})
NEAR = 8  # states kept in `SearchResult.near`

FOCUS = "focus"  # the edge that runs a focused search on a state's first goal (see the module docstring)
FOCUS_COST = 1.0

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
        accept: Callable[[tuple[str, ...]], Acceptance] | None = None,
        goal_closed: Callable[[ProofState], bool] | None = None,
        focus_levels: int = 2,
    ) -> None:
        self.prover = prover
        self.strategy = strategy
        self.ctx = ctx
        self.budget = budget
        self.on_attempt = on_attempt
        self.cancel = cancel or threading.Event()
        self.on_progress = on_progress
        self.accept = accept  # a finished script the caller refuses does not end the search
        self._deadline = 0.0  # set by run(); a fallback brings it forward
        # a focused search (see the module docstring): it ends, "proved", at the first state this accepts
        self.goal_closed = goal_closed
        self._focus_levels = focus_levels  # how deep focused searches may nest (one inside another's first goal)
        self._focus_spent = 0.0

    def run(self, root: ProofState) -> SearchResult:
        """Search from `root` until an accepted proof, exhaustion, the budget, or cancellation.

        The frontier holds edges, not states: (state, its next candidate), ordered by the state's path cost plus
        what remains of it plus the candidate's cost. A state's candidates are drawn lazily, one at a time, so a
        cheap tactic on a new state runs before an expensive one on an old state, and a costly candidate source
        (a library lookup) is only consulted when the search gets that far."""
        t0 = time.monotonic()
        self._deadline = t0 + self.budget.seconds
        res = SearchResult(status="exhausted", best=root)
        if root.finished:
            res.status, res.script = "proved", ()
            return res
        seen: set[str] = {root.key()}
        counter = itertools.count()
        frontier: list[_Edge] = []
        crashes = 0
        best_score = _remaining(root)
        near: list[tuple[float, int, ProofState]] = []  # a bounded max-heap on the score: the NEAR best
        last_progress = 0.0

        traces: dict[tuple[str, ...], tuple[tuple[ProofState, str, str], ...]] = {}  # finished scripts -> their steps

        def finish(status: SearchStatus, script: tuple[str, ...] | None = None, strategy: str = "") -> SearchResult:
            if status in ("exhausted", "timeout", "error") and res.fallback is not None:
                status, (script, strategy) = "proved", res.fallback
            res.status, res.script, res.strategy = status, script, strategy
            res.near = tuple(st for _, _, st in sorted(near, key=lambda e: (-e[0], e[1])))
            steps = traces.get(script, ()) if script is not None else ()
            res.trace = tuple((st, tac) for st, tac, _ in steps)
            res.families = tuple(fam for _, _, fam in steps)
            res.seconds = time.monotonic() - t0
            return res

        def open_state(state: ProofState, cost: float, parent: _Open | None = None,
                       steps: tuple[tuple[ProofState, str, str], ...] = (), after_focus: bool = False) -> None:
            """Queue the first candidate of a newly reached state (and its focus edge: see the module docstring; a
            state whose previous goal a focused search just closed gets one even for its last goal)."""
            if len(state.path) >= self.budget.max_depth:
                return
            it = iter(itertools.islice(self.strategy.candidates(state, self.ctx, len(state.path)),
                                       self.budget.max_candidates))
            node = _Open(state, cost, _remaining(state), it, parent=parent, steps=steps)
            push(node)
            if self.budget.focus_seconds > 0 and self._focus_levels > 0 and len(state.goals) >= 2 - after_focus and not (
                    self.goal_closed is not None and parent is None):  # (a focused search's root is its focus)
                first = _remaining(replace(state, goals=state.goals[:1], unfocused=0))
                extra = 0.0 if after_focus else FOCUS_COST  # the next goal of a split being closed goal by goal
                heapq.heappush(frontier, _Edge(cost + first + extra, next(counter), node,
                                               Candidate("", FOCUS, FOCUS_COST, 0.0), slot=False))

        def aim(node: _Open, state: ProofState, steps: Sequence[tuple[ProofState, str, str]]) -> SearchResult | None:
            """A focused search's end: `state` closes its goal (or the whole proof); its caller judges the result."""
            if self.goal_closed is None or not (state.finished or self.goal_closed(state)):
                return None
            traces[state.path] = (*node.trace(), *steps)
            res.best = state
            return finish("proved", state.path, steps[-1][2])

        def reach(node: _Open, state: ProofState, cost: float, steps: tuple[tuple[ProofState, str, str], ...],
                  after_focus: bool = False) -> None:
            """Open a state reached by a step (or a focus) from `node`, unless an equal one was reached before."""
            nonlocal best_score
            key = state.key()
            if key in seen:
                return
            seen.add(key)
            score = _remaining(state)
            if score < best_score:
                best_score, res.best = score, state
            if not state.finished:
                heapq.heappush(near, (-score, next(counter), state))
                if len(near) > NEAR:
                    heapq.heappop(near)
            open_state(state, cost, node, steps, after_focus)

        def push(node: _Open) -> None:
            cand = next(node.cands, None)
            while cand is not None and self.goal_closed is not None and cand.strategy in NO_RETRY:
                cand = next(node.cands, None)  # a focused search is a short burst: no all-or-nothing automation
            if cand is not None:
                heapq.heappush(frontier, _Edge(node.cost + node.score + cand.cost, next(counter), node, cand))

        open_state(root, 0.0)
        delayed: list[tuple[float, int, _Edge]] = []  # candidates held back until a time into the search
        while frontier or delayed:
            elapsed = time.monotonic() - t0
            if delayed and (delayed[0][0] <= elapsed or not frontier):
                edge = heapq.heappop(delayed)[2]
            else:
                edge = heapq.heappop(frontier)
                if edge.cand.delay > elapsed:
                    heapq.heappush(delayed, (edge.cand.delay, next(counter), replace(edge, slot=False)))
                    if edge.slot:
                        push(edge.node)
                    continue
            node, cand = edge.node, edge.cand
            if not node.started:
                node.started = True
                res.expansions += 1
                if res.expansions > self.budget.expansions:
                    return finish("exhausted")
            if self.cancel.is_set():
                return finish("cancelled")
            left = self._deadline - time.monotonic()
            if left <= 0.01:
                return finish("timeout")
            if edge.slot:
                push(node)  # the state's next candidate waits in the frontier with its own priority
            if cand.strategy == FOCUS:
                got = self._focus(res, node.state, left)
                if got is None:
                    continue
                state, fsteps = got
                done = aim(node, state, fsteps)
                if done is not None:
                    return done
                if state.finished:
                    traces[state.path] = (*node.trace(), *fsteps)
                    if self._accepted(res, state.path, fsteps[-1][2]):
                        return finish("proved", state.path, fsteps[-1][2])
                    continue
                reach(node, state, node.cost + cand.cost, fsteps, after_focus=True)
                continue
            steps: list[tuple[ProofState, str, str]] = [(node.state, cand.tactic, cand.strategy)]
            try:
                r = self.prover.run(node.state, cand.tactic, min(cand.timeout, left, self.budget.tactic_cap))
                for more in cand.then:  # a whole script (proof reuse): its sentences one after another
                    if r.outcome != "ok" or r.state is None:
                        break
                    self._record(res, cand, r.outcome, r.seconds)
                    steps.append((r.state, more, cand.strategy))
                    r = self.prover.run(r.state, more, max(0.05, min(cand.timeout, self._deadline - time.monotonic())))
            except ProverCrashed as e:
                crashes += 1
                res.crashes = crashes
                self._record(res, cand, "broke", 0.0)
                log.warning("prover crashed on %r: %s", cand.tactic, e)
                if crashes >= self.budget.max_crashes:
                    res.message = f"prover crashed {crashes} times; last: {e}"
                    return finish("error")
                continue
            self._record(res, cand, r.outcome, r.seconds)
            if self.on_progress is not None and time.monotonic() - last_progress >= 0.2:
                last_progress = time.monotonic()
                res.seconds = last_progress - t0
                self.on_progress(res)
            if r.outcome in ("ok", "finished") and r.state is not None:
                done = aim(node, r.state, steps)
                if done is not None:
                    return done
            if r.outcome == "finished" and r.state is not None:
                script: tuple[str, ...] | None = r.state.path
                traces[r.state.path] = (*node.trace(), *steps)
                if cand.strategy == "hammer":
                    script = self._reconstruct(res, node.state, r.message,
                                               min(30.0, max(1.0, self._deadline - time.monotonic())))
                    if script:
                        traces[script] = (*node.trace(), (node.state, script[-1], "hammer"))
                elif not self._accepted(res, r.state.path, cand.strategy):
                    script = None
                if script is not None:
                    return finish("proved", script, cand.strategy)
                continue
            if r.outcome == "timeout":
                self._retry_later(frontier, counter, edge)
            if r.outcome != "ok" or r.state is None:
                continue
            if cand.strategy == "hammer":
                continue  # a hammer call that did not finish is no usable step
            reach(node, r.state, node.cost + cand.cost, tuple(steps))
        return finish("exhausted")

    def _focus(self, res: SearchResult, state: ProofState, left: float
               ) -> tuple[ProofState, tuple[tuple[ProofState, str, str], ...]] | None:
        """A short search for the first goal of `state` alone (see the module docstring): the state where that goal
        is closed and the others are untouched, and the steps from `state` to it; None when none was found in time."""
        b = self.budget
        seconds = min(b.focus_seconds, left, b.focus_share * b.seconds - self._focus_spent)
        if seconds < 0.2:
            return None
        sub = Search(self.prover, self.strategy, self.ctx,
                     replace(b, seconds=seconds, expansions=b.focus_expansions, fallback_seconds=0.0,
                             max_depth=len(state.path) + b.focus_depth,
                             tactic_cap=min(b.tactic_cap, b.focus_tactic_seconds)),
                     on_attempt=self.on_attempt, cancel=self.cancel, goal_closed=first_goal_closed(state),
                     focus_levels=self._focus_levels - 1)
        t0 = time.monotonic()
        try:
            r = sub.run(state)
        finally:
            self._focus_spent += time.monotonic() - t0
        res.attempts += r.attempts
        res.strategies.update(r.strategies)
        res.crashes += r.crashes
        log.debug("focus on the first of %d goals after %s: %s in %.2f s, %d attempts%s", len(state.goals),
                  " ".join(state.path[-2:]) or "(root)", r.status, r.seconds, r.attempts,
                  f": {' '.join(t for _, t in r.trace)}" if r.status == "proved" else "")
        if r.status != "proved" or r.best is None or not r.trace:
            return None
        return r.best, tuple((st, tac, fam) for (st, tac), fam in zip(r.trace, r.families))

    def _retry_later(self, frontier: list[_Edge], counter: "itertools.count[int]", edge: _Edge) -> None:
        """Queue a timed-out candidate again with more time (once, near the root, at a higher cost): slow
        decision procedures get the time they need only after everything cheaper has had its turn."""
        b, cand, node = self.budget, edge.cand, edge.node
        if edge.retry or cand.strategy in NO_RETRY or len(node.state.path) > b.retry_depth:
            return
        longer = min(b.retry_max_timeout, cand.timeout * b.retry_factor)
        if longer <= cand.timeout * 1.5:
            return
        again = replace(cand, cost=cand.cost + b.retry_penalty, timeout=longer, delay=0.0)
        heapq.heappush(frontier, _Edge(node.cost + node.score + again.cost, next(counter), node, again, retry=True,
                                       slot=False))

    def _accepted(self, res: SearchResult, script: tuple[str, ...], strategy: str) -> bool:
        """Whether the caller's check (e.g. independent verification) takes this finished script outright. A
        fallback is kept (the first one) and the search goes on for `fallback_seconds` at most."""
        if self.accept is None:
            return True
        ok = self.accept(script)
        if ok == "fallback":
            if res.fallback is None:
                res.fallback = (script, strategy)
                self._deadline = min(self._deadline, time.monotonic() + self.budget.fallback_seconds)
            return False
        if not ok:
            res.refused += 1
        return bool(ok)

    def _reconstruct(self, res: SearchResult, state: ProofState, message: str, timeout: float) -> tuple[str, ...] | None:
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
            if r.outcome == "finished" and r.state is not None and self._accepted(res, r.state.path, "hammer"):
                return r.state.path
        return None

    def _record(self, res: SearchResult, cand: Candidate, outcome: str, seconds: float) -> None:
        res.attempts += 1
        res.strategies[cand.strategy] += 1
        if self.on_attempt is not None:
            self.on_attempt(cand.strategy, cand.tactic, outcome, seconds)
