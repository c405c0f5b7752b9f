#!/usr/bin/env python3
"""The tactic memory at the size of the standard library: load time, RSS, k-NN query latency.

Reads every harvest in the cache (`~/.cache/auto-prove/harvest`, filled by `benchmarks/harvest.py`), loads all
examples into one `TacticMemory` and all proofs into one `ProofMemory`, and prints the examples held, the load time,
the process's RSS before and after (psutil), and the latency of `predict` (median, p99) on states drawn from the
harvest itself (a state's own example is in the memory, as the file's earlier proofs are during a search), plus
`similar` for proof reuse. Targets (issue 12): query ≤ 10 ms, RSS ≤ +500 MB.

    python benchmarks/memory.py [--queries 500] [--seed 1] [--k 32] [--examples N]

`--k`: neighbours per query (32 is what the search asks, `learn.service.LearnedView`); `--examples N`: load only
the cache's first entries up to N examples (a project's visible libraries rather than everything ever harvested).
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import psutil  # noqa: E402

from sidecar.learn import LemmaProof, TacticExample  # noqa: E402
from sidecar.learn.harvest import HarvestCache  # noqa: E402
from sidecar.learn.memory import ProofMemory, TacticMemory  # noqa: E402


def read_cache(folder: Path, limit: int = 0) -> tuple[list[TacticExample], list[LemmaProof]]:
    """Every example and proof of every entry of the harvest cache (entries that do not read are skipped); with
    `limit`, whole entries in name order until that many examples."""
    examples: list[TacticExample] = []
    proofs: list[LemmaProof] = []
    for f in sorted(folder.rglob("*.json.gz")):
        if limit and len(examples) >= limit:
            break
        try:
            d = json.loads(gzip.decompress(f.read_bytes()))
        except (OSError, ValueError):
            continue
        origin = d.get("origin", f.name)  # the entry's layout: harvest.HarvestCache.load
        for e in d.get("examples", ()):
            examples.append(TacticExample(tuple(e[0]), str(e[1]), str(e[2]), str(e[3]), origin, int(e[4])))
        for q in d.get("proofs", ()):
            proofs.append(LemmaProof(str(q[0]), str(q[1]), tuple(q[2]), origin, int(q[3]), frozenset(q[4])))
    return examples, proofs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--k", type=int, default=32)
    ap.add_argument("--examples", type=int, default=0, help="load at most this many examples (0: all)")
    args = ap.parse_args()
    folder = HarvestCache().path("x", "y").parent
    me = psutil.Process()
    t0 = time.monotonic()
    examples, proofs = read_cache(folder, args.examples)
    t_read = time.monotonic() - t0
    rss0 = me.memory_info().rss
    t0 = time.monotonic()
    tm, pm = TacticMemory(), ProofMemory()
    tm.add(examples)
    pm.add(proofs)
    t_load = time.monotonic() - t0
    rss1 = me.memory_info().rss
    print(f"harvest cache {folder}: {len(examples)} examples, {len(proofs)} proofs (read in {t_read:.1f} s)")
    print(f"memory: {len(tm)} examples, {len(pm)} proofs loaded in {t_load:.1f} s; "
          f"RSS {rss0 / 2**20:.0f} MB -> {rss1 / 2**20:.0f} MB (+{(rss1 - rss0) / 2**20:.0f} MB)")
    if not examples:
        print("the cache is empty: run benchmarks/harvest.py first")
        return 1
    rng = random.Random(args.seed)
    sample = rng.sample(examples, min(args.queries, len(examples)))
    lat, hits = [], 0
    for e in sample:
        t = time.perf_counter()
        preds = tm.predict(e.hyps, e.goal, args.k)
        lat.append(time.perf_counter() - t)
        hits += any(p.tactic == e.tactic for p in preds[:5])
    lat.sort()
    print(f"predict (k={args.k}): median {1000 * statistics.median(lat):.2f} ms, p99 {1000 * lat[int(0.99 * (len(lat) - 1))]:.2f} ms"
          f" over {len(lat)} states; the state's own tactic among the top 5 in {100 * hits / len(lat):.0f}%")
    plat = []
    for p in rng.sample(proofs, min(args.queries, len(proofs))):
        t = time.perf_counter()
        pm.similar(p.statement, 3)
        plat.append(time.perf_counter() - t)
    plat.sort()
    print(f"similar statements (k=3): median {1000 * statistics.median(plat):.2f} ms, "
          f"p99 {1000 * plat[int(0.99 * (len(plat) - 1))]:.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
