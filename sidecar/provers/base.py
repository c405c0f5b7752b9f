"""The prover interface shared by every backend: values and the `Prover` protocol.

A search sees proof states only through these types. A `ProofState` is identified by the tactic `path` that
leads to it from the goal's root, so a backend may drop and rebuild its internal states (Coq's Edit_at
discards later states; a restarted process has none) and still serve any state the search asks for.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

__all__ = ["Environment", "GoalView", "ProofState", "TacticResult", "Outcome", "Prover"]

Outcome = Literal["ok", "finished", "failed", "timeout"]


@dataclass(frozen=True)
class Environment:
    """Everything a prover needs to stand at one goal.

    For Coq, `sentences` is the text of every sentence of the file before the placeholder, in order (imports,
    earlier lemmas with their proofs, the statement, `Proof.` and any tactics before the placeholder); the
    prover executes them and the root state is the state after the last one. `focus` is True for an `admit.`
    inside a proof: the prover focuses the first goal (`{`) so that "finished" means that goal alone is closed.
    For Lean, `source` is the whole file and `placeholder` the character range of the `sorry`.
    """

    file: Path
    backend: str
    sentences: tuple[str, ...] = ()
    focus: bool = False
    source: str = ""
    placeholder: tuple[int, int] = (0, 0)
    args: tuple[str, ...] = ()  # prover command-line load path, e.g. ("-R", "/p/theories", "Proj")
    workdir: Path | None = None  # directory the prover runs in (project root)


@dataclass(frozen=True)
class GoalView:
    """One open goal as the prover prints it."""

    hypotheses: tuple[str, ...]  # e.g. ("n, m : nat", "H : n <= m")
    conclusion: str

    def text(self) -> str:
        """Human-readable rendering: hypotheses, a rule, the conclusion."""
        return "\n".join([*self.hypotheses, "=" * 20, self.conclusion])


@dataclass(frozen=True)
class ProofState:
    """A state of one proof, reached from the goal's root by applying `path`."""

    path: tuple[str, ...]
    goals: tuple[GoalView, ...]  # the focused goals; the next tactic acts on goals[0]
    unfocused: int = 0  # goals outside the focus that still need closing (Coq: background + shelved)
    finished: bool = False  # nothing left to prove for this goal: `path` is a complete script
    handle: int = 0  # backend's own id for the state (Coq state_id, Lean proofState); opaque to callers

    def key(self) -> str:
        """Canonical text of what remains to prove: equal keys mean interchangeable states."""
        from ..canonical import canonical_state

        return canonical_state(self)


@dataclass(frozen=True)
class TacticResult:
    """What applying one tactic did. "The prover said no" is outcome "failed", never an exception."""

    outcome: Outcome
    state: ProofState | None = None  # set for "ok" and "finished"
    message: str = ""  # the prover's error text for "failed"/"timeout"
    seconds: float = 0.0


@runtime_checkable
class Prover(Protocol):
    """One prover process (or REPL session) that can stand at goals and try tactics.

    Every call that talks to the process takes a deadline in seconds. A tactic that fails or runs out of time
    is a returned `TacticResult`; a process that dies or speaks garbage raises `ProverCrashed` for that call
    and is restarted transparently by the next call (replaying the environment and the state's path).
    """

    backend: str

    def enter(self, env: Environment, timeout: float) -> ProofState:
        """Load `env` (reusing whatever prefix is already loaded) and return the goal's root state.

        Raises:
            SourceError: the environment does not load (names the file and line).
            ProverCrashed, ProverTimeout, ProverUnavailable.
        """
        ...

    def run(self, state: ProofState, tactic: str, timeout: float) -> TacticResult:
        """Apply one tactic sentence (no trailing period) to `state`.

        Raises:
            ProverCrashed: the process died during the call.
        """
        ...

    def pids(self) -> list[int]:
        """Operating-system process ids this prover owns right now (for the CPU governor)."""
        ...

    def close(self) -> None:
        """Stop the process tree; idempotent."""
        ...
