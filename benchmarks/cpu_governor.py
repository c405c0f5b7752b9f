#!/usr/bin/env python3
"""CPU governor: does the language server's whole process tree hold its CPU target?

For each target (default 0.1, 0.25, 0.5, 0.75 and 1.0 of the machine) a real `auto-prove lsp` gets a document with many goals
no search can prove (so every core would stay busy without the governor), and the CPU of its whole tree — the
server, every coqidetop, and helpers that left the tree but carry its tag — is sampled with psutil once a second
for 60 s after a warm-up. Prints the mean, the worst 1-second sample (and, for reference, the worst 5-second
window), and the tree's memory (RSS) at the end. Targets: mean within ±0.05 of the target, worst 1-second window
≤ target + 0.15.

    python benchmarks/cpu_governor.py [--seconds 60] [--targets 0.1,0.25,0.5,0.75,1.0]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from lspclient import Client  # noqa: E402
from sidecar.procs import TREE_VAR, process_tag, tagged_processes  # noqa: E402


def workload(n: int = 24) -> str:
    out = ["Require Import Arith.", ""]
    for k in range(n):
        out += [f"Lemma hard{k} : forall n m : nat, n * m + {k + 1} = m * n + n + S m.", "Admitted.", ""]
    return "\n".join(out)


def tree(server: psutil.Process, tag: str) -> list[psutil.Process]:
    try:
        procs = [server] + server.children(recursive=True)
    except psutil.Error:
        return []
    known = {p.pid for p in procs}
    return procs + [p for p in tagged_processes(TREE_VAR, tag) if p.pid not in known]


def cpu_seconds(procs: list[psutil.Process], dead: dict[int, float]) -> float:
    """CPU seconds of the tree so far; processes that ended keep their last reading."""
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            dead[p.pid] = t.user + t.system
        except psutil.Error:
            pass
    total = sum(dead.values())
    return total


def measure(target: float, seconds: float, warmup: float) -> dict[str, float]:
    cores = psutil.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="cpu-governor-") as tmp:
        root = Path(tmp)
        c = Client(root, {"autoProve": {"cpuTarget": target, "budgetSeconds": 3600}})
        try:
            f = root / "Hard.v"
            text = workload()
            f.write_text(text)
            c.open(f, text)
            server = psutil.Process(c.proc.pid)
            tag = process_tag(server.pid)
            dead: dict[int, float] = {}
            time.sleep(warmup)
            samples = []
            last_t, last_cpu = time.monotonic(), cpu_seconds(tree(server, tag), dead)
            end = last_t + seconds
            while time.monotonic() < end:
                time.sleep(1.0)
                now, cpu = time.monotonic(), cpu_seconds(tree(server, tag), dead)
                samples.append(max(0.0, cpu - last_cpu) / (now - last_t) / cores)
                last_t, last_cpu = now, cpu
            rss = 0
            for p in tree(server, tag):
                try:
                    rss += p.memory_info().rss
                except psutil.Error:
                    pass
            status = c.request("workspace/executeCommand", {"command": "autoProve.status"})
        finally:
            c.close()
    windows = [statistics.fmean(samples[i:i + 5]) for i in range(0, max(1, len(samples) - 4))]
    return {"mean": statistics.fmean(samples), "worst1": max(samples), "worst5": max(windows), "rss_mb": rss / 2**20,
            "running": float(status.get("running", 0)) if isinstance(status, dict) else 0.0}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--warmup", type=float, default=10.0)
    ap.add_argument("--targets", default="0.1,0.25,0.5,0.75,1.0")
    args = ap.parse_args()
    print(f"{psutil.cpu_count()} cores; {args.seconds:.0f} s per target after {args.warmup:.0f} s warm-up")
    for t in (float(x) for x in args.targets.split(",")):
        r = measure(t, args.seconds, args.warmup)
        ok_mean = abs(r["mean"] - t) <= 0.05
        ok_worst = r["worst1"] <= t + 0.15
        print(f"target {t:.2f}: mean {r['mean']:.3f} ({'ok' if ok_mean else 'MISSED'}), worst 1 s window "
              f"{r['worst1']:.3f} ({'ok' if ok_worst else 'MISSED'}; worst 5 s {r['worst5']:.3f}), "
              f"tree RSS {r['rss_mb']:.0f} MB, "
              f"searches running at the end {r['running']:.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
