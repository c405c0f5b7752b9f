#!/usr/bin/env python3
"""Engine overhead: the same workload of tactic applications and backtracks, once through the raw Coq driver and
once through the search engine (candidate generation, transposition table, ledger writes), measured side by side.

The workload is what the engine does on a few bank goals with a fixed expansion budget: every (state, tactic)
call is recorded, then replayed in the same order directly on a `CoqProver`, which performs the same Edit_at
backtracks and replays. Rounds alternate engine/raw so machine noise hits both alike.

    python benchmarks/engine_overhead.py [--rounds 3] [--expansions 40]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sidecar.bankfile import load_bank, render_coq  # noqa: E402
from sidecar.goals import find_goals  # noqa: E402
from sidecar.ledger import Ledger  # noqa: E402
from sidecar.provers.base import ProofState, TacticResult  # noqa: E402
from sidecar.provers.coq import CoqProver  # noqa: E402
from sidecar.search import Search, SearchBudget  # noqa: E402
from sidecar.strategies import strategy_for  # noqa: E402
from sidecar.strategies.coq import environment_of  # noqa: E402
from sidecar.strategies import SearchContext  # noqa: E402


class Recording:
    """Wraps a real prover and records every call (the workload)."""

    def __init__(self, inner: CoqProver) -> None:
        self.inner = inner
        self.backend = inner.backend
        self.calls: list[tuple[ProofState, str, float]] = []

    def enter(self, env, timeout):  # type: ignore[no-untyped-def]
        return self.inner.enter(env, timeout)

    def run(self, state: ProofState, tactic: str, timeout: float) -> TacticResult:
        self.calls.append((state, tactic, timeout))
        return self.inner.run(state, tactic, timeout)

    def pids(self) -> list[int]:
        return self.inner.pids()

    def close(self) -> None:
        self.inner.close()


def goals_for_workload(folder: Path, names: list[str]):  # type: ignore[no-untyped-def]
    bank = load_bank()
    out = []
    for name in names:
        lem = bank.lemma(name)
        f = folder / f"W_{name}.v"
        f.write_text(render_coq(bank, lem.difficulty, admit=name, upto=name))
        out.extend(find_goals(f).goals)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--expansions", type=int, default=40)
    args = ap.parse_args()
    bank = load_bank()
    hard = [lem.name for lem in bank.lemmas if lem.difficulty == "hard"][:3]
    with tempfile.TemporaryDirectory() as tmp:
        goals = goals_for_workload(Path(tmp), hard)
        prover = CoqProver()
        strat = strategy_for("coq", 0)
        ledger = Ledger(Path(tmp))
        engine_t, raw_t, n_calls = [], [], 0
        for rnd in range(args.rounds):
            e_total = r_total = 0.0
            calls_total = 0
            for g in goals:
                rec = Recording(prover)
                lemmas, defs, ltacs = environment_of(g.env.sentences)
                ctx = SearchContext(lemmas=lemmas, definitions=defs, extra={"ltacs": ltacs})
                budget = SearchBudget(seconds=600, expansions=args.expansions)
                root = prover.enter(g.env, 120)
                t0 = time.perf_counter()
                Search(rec, strat, ctx, budget,
                       on_attempt=lambda s, t, o, sec, k=g.key.digest: ledger.record_attempt(k, s, t, o, sec)).run(root)
                e_total += time.perf_counter() - t0
                # the same calls, straight to the driver
                root = prover.enter(g.env, 120)
                t1 = time.perf_counter()
                for state, tactic, timeout in rec.calls:
                    prover.run(state, tactic, timeout)
                r_total += time.perf_counter() - t1
                calls_total += len(rec.calls)
            engine_t.append(e_total)
            raw_t.append(r_total)
            n_calls = calls_total
            print(f"round {rnd + 1}: {calls_total} tactic applications; raw {calls_total / r_total:8.1f}/s, "
                  f"engine {calls_total / e_total:8.1f}/s, ratio {e_total / r_total:.3f}", flush=True)
        prover.close()
        ledger.close()
    e, r = statistics.median(engine_t), statistics.median(raw_t)
    ratio = statistics.median(et / rt for et, rt in zip(engine_t, raw_t))
    print()
    print(f"workload: {n_calls} tactic applications with backtracking on {len(hard)} hard bank goals, "
          f"{args.expansions} expansions each")
    print(f"raw driver   : {n_calls / r:8.1f} applications/s")
    print(f"search engine: {n_calls / e:8.1f} applications/s")
    print(f"engine cost / raw cost (median of the {args.rounds} per-round ratios): {ratio:.3f}  (target <= 1.2)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
