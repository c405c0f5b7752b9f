"""The tactic memory: k nearest (state → tactic) examples for a proof state, as Tactician's k-NN.

Similarity of two states is the IDF-weighted overlap of their features (`features.state_features`): the sum of
idf(f)² over shared features, divided by the geometric mean of each side's sum — 1 for equal feature sets, 0 for
none shared, and rare features (a lemma's own constants) count far more than common ones (`=`, `nat`).

Search: the weights of a query's features are accumulated over their posting lists (an inverted index, vectorised
with numpy over posting lists kept as arrays of machine integers), which scores every held example sharing a feature
with the query exactly, in a few milliseconds over the ~190,000 examples of the whole installed library (~400 MB);
the best are then filtered by the caller's visibility predicate.

Online: `add` takes effect at once, for every query after it (thread-safe). Visibility is applied at query time by
the caller's predicate, never by what happens to be stored.
"""

from __future__ import annotations

import math
import re
import threading
from array import array
from collections import defaultdict
from functools import lru_cache
from dataclasses import dataclass
from typing import Callable, Generic, Hashable, Iterable, Sequence, TypeVar

import numpy as np

from . import LemmaProof, TacticExample
from .features import ascii_notation, hyp_names, state_features, statement_features

__all__ = ["FeatureIndex", "TacticMemory", "ProofMemory", "Neighbour", "Prediction", "adapt_names"]


@dataclass(frozen=True)
class Neighbour:
    example: TacticExample
    similarity: float


@dataclass(frozen=True)
class Prediction:
    """A tactic the memory proposes for a state, adapted to its local names."""

    tactic: str
    score: float  # the best similarity among the neighbours that used it (0..1)
    votes: int  # how many of the k neighbours used it


T = TypeVar("T")


class FeatureIndex(Generic[T]):
    """Items with feature sets, queried by IDF-weighted similarity (see the module docstring); thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[T] = []
        self._df: dict[int, int] = defaultdict(int)
        # posting lists: the items of each feature, as 64-bit machine integers (numpy indexes with them in place); a
        # Python list of ints took ~36 bytes an entry, most of the memory's size at the whole library's scale
        self._index: dict[int, array] = {}
        # features of the items added since their norms were computed, as arrays (a frozenset of ints is ~5× the size)
        self._pending: list["np.ndarray"] = []
        self._seen: set[Hashable] = set()
        # idf weights and item norms as of `_weighed_at` items: recomputed when the index has grown by a tenth
        # since (idf moves slowly; a new item's norm is computed with the weights of its time)
        self._weight: dict[int, float] = {}
        self._norms = np.zeros(0)
        self._weighed_at = 0

    def __len__(self) -> int:
        return len(self._items)

    def add(self, item: T, features: frozenset[int], key: Hashable) -> bool:
        """Add `item` unless an item of the same `key` is held already; whether it was new."""
        with self._lock:
            if key in self._seen:
                return False
            self._seen.add(key)
            i = len(self._items)
            self._items.append(item)
            self._pending.append(np.fromiter(features, dtype=np.int64, count=len(features)))
            for f in features:
                self._df[f] += 1
                posting = self._index.get(f)
                if posting is None:
                    posting = self._index[f] = array("q")
                posting.append(i)
        return True

    def _w(self, f: int) -> float:
        """idf(f)² with the current weights (a feature new since they were computed: the rarest weight)."""
        w = self._weight.get(f)
        if w is None:
            n = max(self._weighed_at, len(self._items))
            w = (math.log((n + 1) / (self._df.get(f, 0) + 1)) + 1.0) ** 2
        return w

    def idf(self, f: int) -> float:
        """The inverse document frequency of feature `f` among the held items (the square root of its weight)."""
        with self._lock:
            return math.sqrt(self._w(f))

    def _reweigh(self) -> None:
        """Recompute idf weights and norms (called with the lock held) when the index grew by a tenth; norms of
        items added since are computed with the weights in force."""
        n = len(self._items)
        if n > self._weighed_at * 1.1 + 16:
            self._weight = {f: (math.log((n + 1) / (d + 1)) + 1.0) ** 2 for f, d in self._df.items()}
            squares = np.zeros(n)  # each item's sum of weights, accumulated feature by feature
            for f in self._index:
                squares[self._posting(f)] += self._weight[f]
            self._norms = np.sqrt(squares)
            self._weighed_at = n
            self._pending.clear()
        elif self._pending:
            extra = [math.sqrt(sum(self._w(f) for f in feats.tolist())) for feats in self._pending]
            self._norms = np.concatenate([self._norms, np.array(extra)])
            self._pending.clear()

    def _posting(self, f: int) -> "np.ndarray":
        """Feature `f`'s posting list as a numpy view (no copy; the lock must be held while it is used)."""
        return np.frombuffer(self._index[f], dtype=np.int64)

    def nearest(self, q: frozenset[int], k: int, allows: Callable[[T], bool] | None = None) -> list[tuple[T, float]]:
        """The `k` items most similar to features `q` that `allows` admits, most similar first: the weights of
        the shared features are accumulated over the posting lists (vectorised), then divided by the norms."""
        with self._lock:
            self._reweigh()
            n = len(self._items)
            if not n or not q:
                return []
            acc = np.zeros(n)
            qw = 0.0
            for f in q:
                w = self._w(f)
                qw += w
                if f in self._index:
                    acc[self._posting(f)] += w
            scores = acc / (math.sqrt(qw) * np.maximum(self._norms[:n], 1e-9))
            items = self._items
        hit = np.flatnonzero(acc)
        if not len(hit):
            return []
        want = min(len(hit), max(4 * k, 64))
        top = hit[np.argpartition(-scores[hit], want - 1)[:want]] if want < len(hit) else hit
        out: list[tuple[T, float]] = []
        for round_ in range(2):  # the few best first; all of them if the predicate refuses too many
            order = top[np.argsort(-scores[top], kind="stable")]
            for i in order:
                if allows is None or allows(items[i]):
                    out.append((items[i], float(scores[i])))
                    if len(out) >= k:
                        return out
            if round_ == 0 and len(top) < len(hit):
                out.clear()
                top = hit
            else:
                break
        return out


class TacticMemory:
    """k-NN over harvested and verified (state → tactic) examples; see the module docstring."""

    def __init__(self) -> None:
        self._index: FeatureIndex[TacticExample] = FeatureIndex()

    def __len__(self) -> int:
        return len(self._index)

    def add(self, examples: Iterable[TacticExample]) -> int:
        """Add examples (duplicates of an example already held are ignored); returns how many were new."""
        return sum(self._index.add(ex, state_features(ex.hyps, ex.goal),
                                   (ex.origin, ex.lemma, ex.hyps, ex.goal, ex.tactic)) for ex in examples)

    def neighbours(self, hyps: Sequence[str], goal: str, k: int = 16,
                   allows: Callable[[TacticExample], bool] | None = None) -> list[Neighbour]:
        """The `k` most similar examples the predicate `allows`, most similar first."""
        return [Neighbour(ex, sim) for ex, sim in self._index.nearest(state_features(hyps, goal), k, allows)]

    def predict(self, hyps: Sequence[str], goal: str, k: int = 16,
                allows: Callable[[TacticExample], bool] | None = None) -> list[Prediction]:
        """Tactics of the `k` nearest allowed examples, adapted to this state's local names, best first; a tactic
        naming a local of its example that this state cannot supply is dropped."""
        here = hyp_names(hyps)
        best: dict[str, list[float]] = {}
        for nb in self.neighbours(hyps, goal, k, allows):
            tac = adapt_names(nb.example.tactic, hyp_names(nb.example.hyps), nb.example.hyps, here, hyps)
            if tac is None:
                continue
            best.setdefault(tac, []).append(nb.similarity)
        preds = [Prediction(t, max(s), len(s)) for t, s in best.items()]
        preds.sort(key=lambda p: (-p.score, -p.votes))
        return preds


class ProofMemory:
    """Whole visible proofs, found by the similarity of their statements (for proof reuse)."""

    def __init__(self) -> None:
        self._index: FeatureIndex[LemmaProof] = FeatureIndex()
        self._constants: dict[str, int] = defaultdict(int)  # constant -> how many held proofs name it

    def __len__(self) -> int:
        return len(self._index)

    def add(self, proofs: Iterable[LemmaProof]) -> int:
        """Add proofs (one per origin and lemma); returns how many were new."""
        new = 0
        for p in proofs:
            if self._index.add(p, statement_features(p.statement), (p.origin, p.lemma)):
                new += 1
                for c in p.constants:
                    self._constants[c] += 1
        return new

    def constant_counts(self) -> dict[str, int]:
        """How many held proofs name each constant (to discount the ubiquitous ones)."""
        return self._constants

    def idf(self, f: int) -> float:
        """The inverse document frequency of statement feature `f` among the held proofs."""
        return self._index.idf(f)

    def similar(self, statement: str, k: int = 3,
                allows: Callable[[LemmaProof], bool] | None = None) -> list[tuple[LemmaProof, float]]:
        """The `k` allowed proofs whose statements are most like `statement` (a statement sentence)."""
        return self._index.nearest(statement_features(statement), k, allows)


_IDENT = re.compile(r"(?<![\w'.])([A-Za-z_][\w']*)(?![\w'])")


def adapt_names(tactic: str, names: Sequence[str], hyps: Sequence[str], here: Sequence[str],
                here_hyps: Sequence[str]) -> str | None:
    """`tactic` (written for a state declaring the local `names`) with each local it mentions replaced by a local
    of this state (`here`): the same name if this state has it, else the one at the same position among locals whose
    declared type has the same head symbol; None when one cannot be supplied."""
    used = [n for n in dict.fromkeys(_IDENT.findall(tactic)) if n in names]
    if not used:
        return tactic
    kinds = _kinds(hyps)
    here_kinds = _kinds(here_hyps)
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for n in used:
        if n in here and n not in taken and here_kinds.get(n) == kinds.get(n):
            mapping[n] = n
            taken.add(n)
    for n in used:
        if n in mapping:
            continue
        same = [m for m in here if here_kinds.get(m) == kinds.get(n) and m not in taken]
        peers = [m for m in names if kinds.get(m) == kinds.get(n)]
        pos = peers.index(n) if n in peers else 0
        if not same:
            return None
        m = same[min(pos, len(same) - 1)]
        mapping[n] = m
        taken.add(m)
    return _IDENT.sub(lambda mo: mapping.get(mo.group(1), mo.group(1)), tactic)


def _kinds(hyps: Sequence[str]) -> dict[str, str]:
    """Each local's kind: the head word of its declared type ("nat", "list", "le", "=")."""
    return _kinds_of(tuple(hyps))


@lru_cache(maxsize=1 << 15)
def _kinds_of(hyps: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for h in hyps:
        if ":" not in h:
            continue
        head, body = h.split(":", 1)
        body = ascii_notation(body.lstrip("= ")).strip()
        m = re.search(r"(<->|->|/\\|\\/|<>|<=|>=|=|<|>)", body)
        kind = m.group(1) if m else (body.split()[0] if body.split() else "")
        for n in re.split(r"[,\s]+", head):  # Coq `n, m : nat`, Lean `n m : Nat`
            if n:
                out[n] = kind
    # a type that is itself a local (`hp : p` with `p : Prop`) is of the kind "a local", whatever its name
    return {n: ("§" if k in out else k) for n, k in out.items()}
