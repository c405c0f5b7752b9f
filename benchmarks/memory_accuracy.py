#!/usr/bin/env python3
"""How often the tactic memory predicts the tactic the human wrote next, on proofs it has not seen.

Reads the harvest cache (`~/.cache/auto-prove/harvest`, filled by `benchmarks/harvest.py` or any profile-1 run),
the installed libraries' entries only, into one `TacticMemory`. Queries are the proof steps of the last quarter of each library's proofs (by position in
their file); a query sees, as a search would under the visibility rule, every other library's examples and its own
file's examples before its lemma — never its own proof or anything after it. A hit is the human's tactic, verbatim
after whitespace, among the first 1 / 5 / 16 predictions (adapted to the state's names, as the search gets them).
This is a proxy (a different tactic can prove the state as well), used to compare ways of ranking side by side in
one run; the solve rate (`stdlib_dev.py`) is what counts.

    python benchmarks/memory_accuracy.py [--queries 3000] [--seed 1]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from memory import read_cache  # noqa: E402

from sidecar.learn.harvest import HarvestCache  # noqa: E402
from sidecar.learn.memory import TacticMemory  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--queries", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--k", type=int, action="append", default=[],
                    help="neighbours consulted per state (repeatable: each k measured on the same queries)")
    args = ap.parse_args()
    examples, _ = read_cache(HarvestCache().path("x", "y").parent)
    # the installed libraries only: benchmark and test runs harvest copies of them (and of the bank) from /tmp,
    # which would hand a query its own proof under another name
    examples = [e for e in examples if not e.origin.startswith(("/tmp/", "/var/tmp/"))]
    if not examples:
        print("the cache is empty: run benchmarks/harvest.py first")
        return 1
    orders: dict[str, list[int]] = defaultdict(list)
    for e in examples:
        orders[e.origin].append(e.order)
    cut = {o: sorted(v)[int(0.75 * len(v))] for o, v in orders.items() if len(set(v)) >= 8}
    pool = [e for e in examples if e.origin in cut and e.order >= cut[e.origin]]
    rng = random.Random(args.seed)
    queries = rng.sample(pool, min(args.queries, len(pool)))
    t0 = time.monotonic()
    tm = TacticMemory()
    tm.add(examples)
    print(f"{len(examples)} examples from {len(orders)} files loaded in {time.monotonic() - t0:.1f} s; "
          f"{len(queries)} queries from the last quarter of {len(cut)} files")
    ks = sorted(set(args.k or [16, 32]))
    hits = {(k, n): 0 for k in ks for n in (1, 5, 16)}
    t0 = time.monotonic()
    for q in queries:
        def allows(e, q=q) -> bool:  # type: ignore[no-untyped-def]
            return e.origin != q.origin or e.order < q.order
        want = " ".join(q.tactic.split())
        for k in ks:
            got = [" ".join(p.tactic.split()) for p in tm.predict(q.hyps, q.goal, k, allows=allows)]
            for n in (1, 5, 16):
                hits[(k, n)] += want in got[:n]
    dt = time.monotonic() - t0
    n = len(queries)
    print(f"human tactic among the predictions ({1000 * dt / n / len(ks):.1f} ms per query):")
    for k in ks:
        print(f"  k = {k:3d} neighbours: top-1 {100 * hits[(k, 1)] / n:.1f} %, top-5 {100 * hits[(k, 5)] / n:.1f} %, "
              f"top-16 {100 * hits[(k, 16)] / n:.1f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
