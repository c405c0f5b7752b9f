#!/usr/bin/env python3
"""kill -9 at random moments: does auto-prove leave anything behind?

For each mode (`prove`, and `lsp` with both files of the project open) and CPU target (0.1, 0.5, 1.0), `--runs`
runs on a fresh copy of tests/fixtures/cli/orphans (8 goals in 2 files, budget 4 s each), each SIGKILLed - only
the auto-prove process - at a seeded random moment between 0.3 s and `--high` s after its start. Then, per run
(tests/fault_harness.py): the processes of the run still alive 2 s after the kill (by environment tag, by parent,
by name), the ledger's `PRAGMA integrity_check` and consistency, and a re-run (`prove --budget 1`) that must
repeat no goal finished before the kill (its attempts in the ledger do not grow) and lose no finished row.

Prints one row per setting and the totals: kill -9 runs, processes left (must be 0), ledger rows lost (0),
finished goals repeated (0). `--runs 20` (the default) is 120 runs, about 35 minutes on 2 cores.

    python benchmarks/faults.py [--runs 20] [--seed 1] [--modes prove,lsp] [--cpus 0.1,0.5,1.0] [--high 14]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import fault_harness as fh  # noqa: E402
from sidecar.procs import sweep_orphans  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20, help="kill -9 runs per mode and CPU target")
    ap.add_argument("--seed", type=int, default=1, help="seed of the kill moments")
    ap.add_argument("--modes", default=",".join(fh.MODES))
    ap.add_argument("--cpus", default=",".join(str(c) for c in fh.CPUS))
    ap.add_argument("--high", type=float, default=14.0, help="latest kill moment, seconds after the start")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every run")
    args = ap.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    cpus = [float(c) for c in args.cpus.split(",") if c]

    t_sweep = time.perf_counter()
    for _ in range(20):
        sweep_orphans()
    sweep_ms = (time.perf_counter() - t_sweep) / 20 * 1000

    print(f"kill -9 fault injection: {args.runs} run(s) per setting, seed {args.seed}, kill moments 0.3-{args.high:g} s",
          flush=True)
    header = (f"{'mode':<6} {'cpu':>4} {'runs':>5} {'killed':>6} {'paused':>6} {'left':>5} {'ledger bad':>10} "
              f"{'rows lost':>9} {'repeated':>8} {'finished':>8} {'s/run':>6}")
    print(header, flush=True)
    rows: list[str] = []
    failures: list[fh.KillRun] = []
    totals = {"runs": 0, "killed": 0, "paused": 0, "left": 0, "ledger": 0, "lost": 0, "repeated": 0}
    t0 = time.monotonic()
    for mode in modes:
        for cpu in cpus:
            results = []
            for i, delay in enumerate(fh.delays(args.seed, mode, cpu, args.runs, high=args.high)):
                with tempfile.TemporaryDirectory(prefix="autoprove-faults-") as tmp, \
                        contextlib.redirect_stdout(io.StringIO()):  # the re-run's own transcript
                    r = fh.kill_run(mode, cpu, delay, Path(tmp))
                results.append(r)
                if args.verbose:
                    print(f"  [{mode} {cpu} #{i + 1}] {r}", flush=True)
                if not r.ok:
                    failures.append(r)
            s = {"runs": len(results), "killed": sum(r.killed for r in results),
                 "paused": sum(r.stopped_at_kill > 0 for r in results),
                 "left": sum(len(r.left) for r in results),
                 "ledger": sum(r.integrity != "ok" or bool(r.ledger_problems) for r in results),
                 "lost": sum(r.rows_lost for r in results), "repeated": sum(r.repeated for r in results)}
            for k, v in s.items():
                totals[k] += v
            finished = statistics.mean(r.finished for r in results) if results else 0.0
            secs = statistics.mean(r.seconds for r in results) if results else 0.0
            row = (f"{mode:<6} {cpu:>4.1f} {s['runs']:>5} {s['killed']:>6} {s['paused']:>6} {s['left']:>5} "
                   f"{s['ledger']:>10} {s['lost']:>9} {s['repeated']:>8} {finished:>8.1f} {secs:>6.1f}")
            rows.append(row)
            print(row, flush=True)
    print()
    print(header)
    for row in rows:
        print(row)
    print()
    print("killed: runs SIGKILLed before they ended; paused: runs with a prover paused by the CPU governor at the "
          "kill; left: processes alive 2 s after it; ledger bad: runs whose ledger failed integrity_check or "
          "consistency; finished: goals finished before the kill (mean)")
    print(f"totals: kill -9 runs {totals['killed']} (of {totals['runs']}; {totals['paused']} with a paused prover), "
          f"processes left {totals['left']}, ledger rows lost {totals['lost']}, "
          f"finished goals repeated {totals['repeated']}, ledgers not ok {totals['ledger']}")
    print(f"orphan sweep at start: {sweep_ms:.1f} ms; wall {time.monotonic() - t0:.0f} s")
    for r in failures:
        print(f"FAILED: {r}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
