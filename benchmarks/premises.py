#!/usr/bin/env python3
"""Premise selection offline: how many of the constants a development lemma's real proof names each ranking puts in
its first k (recall@k), k-NN (CoqHammer's sparse k-NN, what `LearnedView.premises` does) vs naive Bayes vs both.

Ground truth: the harvest of the Coq standard library (the cache `benchmarks/harvest.py` fills, read only — run it
first) holds every standard-library proof with the global constants it names, the development lemmas' own proofs
included. For each development lemma (../shared/coq-stdlib-dev manifest) the rankings see every harvested proof but
the lemma's own and those after it in its library (a leave-later-out approximation of the visibility rule: libraries
the case does not load are seen too, alike for every ranking). Constants the proof names that no other visible
proof names cannot be learned and are left out of the truth (counted apart).

    python benchmarks/premises.py [--k 8] [--k 16]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from sidecar.learn import LemmaProof  # noqa: E402
from sidecar.learn.harvest import HarvestCache  # noqa: E402
from sidecar.learn.memory import ProofMemory  # noqa: E402
from sidecar.learn.premises import rank_premises  # noqa: E402

DEFAULT_SET = HERE.parent.parent / "shared" / "coq-stdlib-dev"


def load_proofs(cache: HarvestCache) -> list[LemmaProof]:
    import gzip

    out: list[LemmaProof] = []
    for p in sorted(cache._dir().glob("*.json.gz")):  # noqa: SLF001 - a benchmark reading the cache as it is
        with gzip.open(p, "rt", encoding="utf-8") as fh:
            doc = json.load(fh)
        out.extend(LemmaProof(str(q[0]), str(q[1]), tuple(q[2]), doc["origin"], int(q[3]), frozenset(q[4]))
                   for q in doc["proofs"])
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", type=Path, default=DEFAULT_SET)
    ap.add_argument("--k", type=int, action="append", default=[])
    args = ap.parse_args()
    ks = args.k or [8, 16]
    manifest = json.loads((args.set / "cases" / "manifest.json").read_text())
    t0 = time.monotonic()
    proofs = load_proofs(HarvestCache())
    if not proofs:
        print("no harvest in the cache: run benchmarks/harvest.py first")
        return 1
    memory = ProofMemory()
    memory.add(proofs)
    print(f"{len(proofs)} harvested proofs, {len(memory.constant_counts())} constants, loaded in "
          f"{time.monotonic() - t0:.1f} s")
    by_key = {(p.origin, p.lemma.split(".")[-1]): p for p in proofs}
    rows: dict[str, list[float]] = {}
    unlearnable = total = cases = 0
    times: dict[str, list[float]] = {"knn": [], "nb": [], "both": []}
    for c in manifest["cases"]:
        truth_proof = by_key.get((c["library"], c["lemma"]))
        if truth_proof is None or not truth_proof.constants:
            continue

        def allows(p: LemmaProof, c: dict = c, me: LemmaProof = truth_proof) -> bool:
            return not (p.origin == c["library"] and p.order >= me.order)

        seen = {k for p in proofs if allows(p) for k in p.constants}
        truth = {k for k in truth_proof.constants if k in seen and k.split(".")[-1] != c["lemma"]}
        unlearnable += len(truth_proof.constants) - len(truth)
        if not truth:
            continue
        cases += 1
        total += len(truth)
        for name in ("knn", "nb", "both"):
            t1 = time.monotonic()
            ranked = rank_premises(c["statement"], memory, allows, max(ks), name, exclude=c["lemma"])
            times[name].append(time.monotonic() - t1)
            for k in ks:
                hit = len(truth & set(ranked[:k]))
                rows.setdefault(f"{name}@{k}", []).append(hit / len(truth))
    print(f"{cases} development lemmas whose proofs name learnable constants ({total} constants; "
          f"{unlearnable} named by no other visible proof, left out)")
    for name in ("knn", "nb", "both"):
        parts = ", ".join(f"recall@{k} {statistics.mean(rows[f'{name}@{k}']):.3f}" for k in ks)
        print(f"  {name:5} {parts}; query median {1000 * statistics.median(times[name]):.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
