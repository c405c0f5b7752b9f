"""Premise selection: which lemmas in scope a goal's proof is likely to need, learned from the visible proofs.

Each harvested proof carries the global constants its tactics name (`LemmaProof.constants`). Two rankings, as
CoqHammer has them (Czajka & Kaliszyk 2018), both over the goal's statement features (`features.statement_features`):

* **k-NN**: the constants of the most similar visible statements, each scored by the similarity of the proofs naming
  it, discounted by how many held proofs name it at all (a ubiquitous `eq_refl` says little);
* **naive Bayes** (MaSh's form): for a constant p named by t(p) proofs, s(p, f) of them with statement feature f,
  ln t(p) + Σ_{f ∈ goal} idf(f) · (ln(σ · s(p, f) / t(p)) if s(p, f) > 0 else −τ).

Visibility decides what may be counted, and it is a property of the goal (visibility.py), not of the store: the
counts of both are therefore taken at query time over the goal's *neighbourhood* — the `NEIGHBOURHOOD` visible
proofs whose statements are most like the goal's — never over everything held. "both" adds the two ranks (Borda).
`benchmarks/premises.py` measures the three on the development lemmas; the search uses `METHOD`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Callable, Literal

from . import LemmaProof
from .features import statement_features
from .memory import ProofMemory

__all__ = ["rank_premises", "NEIGHBOURHOOD", "METHOD"]

NEIGHBOURHOOD = 200  # visible proofs the counts are taken over
KNN = 24  # of those, the nearest whose constants the k-NN ranking scores
SIGMA, TAU = 10.0, 6.0  # naive Bayes: weight of a co-occurrence, penalty of a goal feature never seen with p

Method = Literal["knn", "nb", "both"]
METHOD: Method = "nb"  # what the search uses: the best recall in benchmarks/premises.py (see the issue-12 note)


def rank_premises(statement: str, memory: ProofMemory, allows: Callable[[LemmaProof], bool] | None, n: int,
                  method: Method = "both", exclude: str = "") -> list[str]:
    """The `n` constants most likely needed by a proof of `statement`, best first (`exclude`: the goal's own
    lemma name, never proposed)."""
    near = memory.similar(statement, NEIGHBOURHOOD, allows=allows)
    if not near:
        return []
    knn_rank = _knn_rank(near, memory) if method != "nb" else []
    if method == "knn":
        return _drop(knn_rank, exclude)[:n]
    feats = statement_features(statement)
    t: dict[str, int] = defaultdict(int)
    s: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for proof, _ in near:
        pf = statement_features(proof.statement) & feats
        for c in proof.constants:
            t[c] += 1
            sc = s[c]
            for f in pf:
                sc[f] += 1
    idf = {f: memory.idf(f) for f in feats}
    nb: dict[str, float] = {}
    for c, tc in t.items():
        sc = s[c]
        score = math.log(tc)
        for f in feats:
            k = sc.get(f, 0)
            score += idf[f] * (math.log(SIGMA * k / tc) if k else -TAU)
        nb[c] = score
    nb_rank = sorted(nb, key=lambda c: -nb[c])
    if method == "nb":
        return _drop(nb_rank, exclude)[:n]
    pos: dict[str, float] = defaultdict(float)
    for ranking in (knn_rank, nb_rank):
        worst = len(ranking)
        at = {c: i for i, c in enumerate(ranking)}
        for c in set(knn_rank) | set(nb_rank):
            pos[c] += at.get(c, worst)
    return _drop(sorted(pos, key=lambda c: (pos[c], c)), exclude)[:n]


def _knn_rank(near: list[tuple[LemmaProof, float]], memory: ProofMemory) -> list[str]:
    """The constants of the `KNN` nearest proofs, each by the similarity of the proofs naming it, discounted by how
    many held proofs name it at all."""
    common = memory.constant_counts()
    knn: dict[str, float] = defaultdict(float)
    for proof, sim in near[:KNN]:
        for c in proof.constants:
            knn[c] += sim
    return sorted(knn, key=lambda c: -knn[c] / math.log(2 + common.get(c, 0)))


def _drop(ranked: list[str], exclude: str) -> list[str]:
    return [c for c in ranked if not exclude or c.split(".")[-1] != exclude]
