"""Tactic sources: for a proof state, the candidate tactics worth trying, cheapest and likeliest first.

A strategy knows the backend's tactic language but nothing of processes, files or editors. Profile 0 is general
and deterministic; later profiles (learned, retrieval, LLM) slot in behind the same `candidates` call.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Candidate", "SearchContext", "DEFAULT_PROFILE", "PROFILES", "strategy_for"]

# 1: profile 0 plus what the visible proofs teach (strategies/learned.py); 2: profile 1 plus a language model's whole
# proofs with repair rounds when the search ends without one (llm/; needs a configured provider)
PROFILES = (0, 1, 2)
# what `prove`, `bank`, `serve` and the editor use unless told ($AUTOPROVE_PROFILE on the command line): profile 1,
# which has proved more of the development set than profile 0 in every side-by-side run
DEFAULT_PROFILE = 1


@dataclass(frozen=True)
class Candidate:
    """One tactic to try on a state's first goal."""

    tactic: str
    strategy: str  # family reported in statistics, e.g. "closer", "intro", "induction", "lemma", "hammer"
    cost: float  # prior cost added to the path cost of the child (lower = likelier)
    timeout: float  # seconds the prover may spend on it
    delay: float = 0.0  # seconds into the search before which it is not tried (held back while cheaper work runs)
    then: tuple[str, ...] = ()  # further sentences run after `tactic`, in order (a whole script, e.g. proof reuse)


@dataclass(frozen=True)
class SearchContext:
    """What a strategy may know about the goal beyond its state: the environment it can draw on."""

    lemmas: tuple[tuple[str, str], ...] = ()  # (name, statement) of lemmas proved earlier in the file
    # (name, statement) of the project's still-open lemmas declared before the goal (closed by Admitted / sorry):
    # a proof may stand on them (it is then labelled with them), so they come after everything else of the same kind
    open_lemmas: tuple[tuple[str, str], ...] = ()
    definitions: tuple[str, ...] = ()  # names of definitions/fixpoints in the file, for unfolding
    hammer: bool = False  # CoqHammer's tactics are loaded in the session
    tactic_timeout: float = 2.0  # default per-tactic limit for closers
    extra: dict[str, object] = field(default_factory=dict)


def strategy_for(backend: str, profile: int = 0):  # type: ignore[no-untyped-def]
    """Return the candidate generator for a backend and profile.

    Raises:
        ValueError: no such profile for that backend.
    """
    if profile not in PROFILES:
        raise ValueError(f"profile {profile} does not exist (known: {', '.join(map(str, PROFILES))})")
    if backend == "coq":
        from .coq import CoqProfile0

        base: object = CoqProfile0()
    elif backend == "lean":
        from .lean import LeanProfile0

        base = LeanProfile0()
    else:
        raise ValueError(f"no strategies for backend {backend!r}")
    if profile >= 1:
        from .learned import LearnedProfile

        return LearnedProfile(base)
    return base
