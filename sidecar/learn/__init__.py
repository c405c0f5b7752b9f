"""What the search learns from the proofs a project already has (profile 1): the shared records.

Rooms (ARCHITECTURE.md, "the house as it grows"):

* `visibility.py` — for a goal G in file F, exactly which proofs may be consulted: F's proofs before G, the proofs of
  the project files F loads, the proofs in the sources of the libraries F itself loads, and proofs auto-prove verified
  earlier in the project. Never G's own proof or anything after it, never a library only the tool's added imports
  load, never a file merely on the load path. Applied at query time, whatever a cache holds.
* `harvest.py` — replays visible proofs once through the prover and records `TacticExample`s and `LemmaProof`s,
  cached on disk per (origin, Coq version, file digest).
* `features.py`, `memory.py` — features of a proof state and the k-NN tactic memory over them (online: every proof
  auto-prove verifies is added at once).
* `neural.py` — a local seq2seq tactic generator (ctranslate2), off unless a model folder is configured.

These modules know `provers.base` (to replay) and the ledger (what was proved); they are consumed by `strategies/`
as candidate sources and by `scheduler` as policy. Nothing here speaks to an editor.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TacticExample", "LemmaProof", "Origin"]

# Where a harvested proof comes from: a library's logical name ("Coq.Arith.PeanoNat"), or a project file's absolute
# path ("/home/me/proj/theories/A.v"), or "auto-prove" for proofs the tool itself verified.
Origin = str


@dataclass(frozen=True)
class TacticExample:
    """One (proof state → tactic) pair, as Tactician records it: the state the tactic was applied to (its first
    goal) and the atomic tactic (`;`-chains and bullets split into their parts; `first`/`try`/`repeat`/`solve` kept
    whole)."""

    hyps: tuple[str, ...]  # hypotheses of the focused goal as the prover prints them ("n, m : nat", "H : n <= m")
    goal: str  # its conclusion
    tactic: str  # the tactic, as written in the proof (local names as written; adapted to a new state at query time)
    lemma: str  # the lemma whose proof it is, qualified by its module path inside its file ("M.lem")
    origin: Origin
    order: int  # the lemma's position in its source (index of its statement sentence): "before G" is order < G's


@dataclass(frozen=True)
class LemmaProof:
    """A whole visible proof: for proof reuse (replay with renaming) and premise selection (what it used)."""

    lemma: str
    statement: str  # the statement sentence, as written
    script: tuple[str, ...]  # its tactic sentences, in order (bullets included)
    origin: Origin
    order: int
    constants: frozenset[str] = frozenset()  # global constants the proof names (premise selection learns from these)
