"""Proof golf: a verified proof made shorter, within a small budget.

Shorter candidates are tried shortest first: one closing tactic for the whole goal; the proof's first steps
followed by one closer for the rest; the proof without one of its steps (again and again while that helps). The
closers are the usual automation and, for a chain the search built step by step, a lemma that closes it at once
(`lemmas`: what the file proved before the goal and the library premises ranked for it, given by the caller:
`apply L`, `eauto using L`). A
candidate counts only if it finishes in the prover and the caller's `accept` — the same independent verification
as every proof — takes it. Knows no file and no ledger: the scheduler keeps both versions.
"""

from __future__ import annotations

import time
from typing import Callable, Iterator, Sequence

from .errors import ProverError
from .provers.base import ProofState, Prover

__all__ = ["CLOSERS", "LEMMA_CLOSERS", "golf"]

# one-shot closers, cheapest first
CLOSERS: dict[str, tuple[str, ...]] = {
    "coq": ("reflexivity", "assumption", "trivial", "easy", "auto", "eauto", "lia", "congruence", "tauto", "intuition",
            "firstorder", "nia"),
    "lean": ("rfl", "assumption", "trivial", "decide", "simp", "omega", "simp_all", "norm_num", "linarith"),
}


def _size(script: Sequence[str]) -> tuple[int, int]:
    return len(script), sum(len(s) for s in script)


def _candidates(script: tuple[str, ...], closers: Sequence[str]) -> Iterator[tuple[str, ...]]:
    n = len(script)
    for i in range(0, n - 1):  # the first i steps, then one closer: i + 1 sentences, shortest first
        for c in closers:
            yield script[:i] + (c,)
    for i in range(n):  # one step fewer
        yield script[:i] + script[i + 1:]


LEMMA_CLOSERS: dict[str, tuple[str, ...]] = {
    "coq": ("apply {}", "now apply {}", "eauto using {}", "now rewrite {}"),
    "lean": ("exact {}", "simp [{}]", "rw [{}]"),
}
MAX_LEMMAS = 8


def golf(prover: Prover, root: ProofState, script: tuple[str, ...], accept: Callable[[tuple[str, ...]], bool],
         backend: str, seconds: float, tactic_timeout: float = 2.0,
         lemmas: Sequence[str] = ()) -> tuple[str, ...] | None:
    """A script shorter than `script` (fewer sentences, or as many and fewer characters) that finishes from `root`
    and that `accept` takes; None when none is found within `seconds`. `lemmas`: names a closer may apply."""
    deadline = time.monotonic() + seconds
    named = [f.format(n) for n in list(dict.fromkeys(lemmas))[:MAX_LEMMAS] for f in LEMMA_CLOSERS.get(backend, ())]
    closers = CLOSERS.get(backend, ()) + tuple(named)
    best = tuple(script)
    tried: set[tuple[str, ...]] = {best}
    states: dict[tuple[str, ...], ProofState | None] = {(): root}

    def reach(prefix: tuple[str, ...]) -> ProofState | None:
        """The state after `prefix` (cached; None when a step fails)."""
        if prefix in states:
            return states[prefix]
        before = reach(prefix[:-1])
        after = None
        if before is not None and not before.finished and time.monotonic() < deadline:
            left = deadline - time.monotonic()
            try:
                r = prover.run(before, prefix[-1], max(0.05, min(tactic_timeout, left)))
                after = r.state if r.outcome in ("ok", "finished") else None
            except ProverError:
                after = None
        states[prefix] = after
        return after

    improved = True
    while improved and time.monotonic() < deadline:
        improved = False
        for cand in _candidates(best, closers):
            if time.monotonic() >= deadline:
                break
            if cand in tried or _size(cand) >= _size(best):
                continue
            tried.add(cand)
            end = reach(cand)
            if end is not None and end.finished and accept(cand):
                best, improved = cand, True
                break  # start again from the shorter one
    return best if best != tuple(script) else None
