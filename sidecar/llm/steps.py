"""Next-step tactics from the language model inside the search (profile 2).

`LLMSteps` wraps a strategy. When the search expands a state (draws its second candidate: the state was chosen,
not merely reached), the model is asked, in a thread of its own, for a few next tactics on it; meanwhile the
search goes on with the inner strategy's candidates, and the model's join the state's candidates as soon as they
arrive, cheap enough to be tried next. When the inner candidates run out first, the state waits a short while for
the answer and then gives it up. At most `calls` states of one goal are asked; the run's budget (the proposer's)
is checked before every call. The model's tactics are candidates like any other: run by the prover, and a proof
they finish is verified like every other.

Knows no prover and no scheduler: `ask(state) -> list of steps` is the caller's (it builds the prompt and records
the call's usage).
"""

from __future__ import annotations

import threading
from typing import Callable, Iterator, Sequence

from ..provers.base import ProofState
from ..strategies import Candidate, SearchContext

__all__ = ["LLMSteps", "STEP_FAMILY"]

STEP_FAMILY = "llm-step"
STEP_COST = 0.4  # the model's first tactic costs about what the cheapest closers do; each next one a little more
STEP_COST_RANK = 0.15


class _Pending:
    """One call in its thread: `steps` once `done` is set (empty when the call failed)."""

    def __init__(self, ask: Callable[[ProofState], Sequence[tuple[str, ...]]], state: ProofState) -> None:
        self.done = threading.Event()
        self.steps: list[tuple[str, ...]] = []
        threading.Thread(target=self._run, args=(ask, state), name="llm-steps", daemon=True).start()

    def _run(self, ask: Callable[[ProofState], Sequence[tuple[str, ...]]], state: ProofState) -> None:
        try:
            self.steps = list(ask(state))
        except Exception:  # the caller's `ask` says why in its own log; the search goes on without these
            self.steps = []
        finally:
            self.done.set()


class LLMSteps:
    """`inner`'s candidates with the model's next tactics merged in (family "llm-step")."""

    def __init__(self, inner: object, ask: Callable[[ProofState], Sequence[tuple[str, ...]]], *, calls: int = 4,
                 wait: float = 4.0) -> None:
        self.inner = inner
        self.ask = ask
        self.calls = calls  # states of this goal the model is asked about
        self.wait = wait  # seconds a state whose own candidates ran out waits for the model's answer
        self._lock = threading.Lock()
        self.asked = 0

    def _start(self, state: ProofState) -> _Pending | None:
        with self._lock:
            if self.asked >= self.calls:
                return None
            self.asked += 1
        return _Pending(self.ask, state)

    def candidates(self, state: ProofState, ctx: SearchContext, depth: int) -> Iterator[Candidate]:
        pending: _Pending | None = None
        given = False
        seen: set[tuple[str, tuple[str, ...]]] = set()

        def theirs() -> Iterator[Candidate]:
            nonlocal given
            given = True
            assert pending is not None
            for i, step in enumerate(pending.steps):
                c = Candidate(step[0], STEP_FAMILY, STEP_COST + STEP_COST_RANK * i, 2.0 * ctx.tactic_timeout,
                              then=tuple(step[1:]))
                if (c.tactic, c.then) not in seen:
                    seen.add((c.tactic, c.then))
                    yield c

        for n, c in enumerate(self.inner.candidates(state, ctx, depth)):  # type: ignore[attr-defined]
            if n == 1 and pending is None:
                pending = self._start(state)  # the state's second draw: the search chose it
            if pending is not None and not given and pending.done.is_set():
                yield from theirs()
            if (c.tactic, c.then) not in seen:
                seen.add((c.tactic, c.then))
                yield c
        if pending is None:
            pending = self._start(state)  # a state with a single candidate of its own
        if pending is not None and not given and pending.done.wait(self.wait):
            yield from theirs()
