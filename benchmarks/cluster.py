"""Proving on a Dask cluster (sidecar/cluster.py): what a second worker buys, and what the cluster costs per goal.

1. The bank (one difficulty, default medium; each lemma in its own file, as `auto-prove bank` runs it) on a
   LocalCluster of 1 worker and of 2 workers, each worker at the same CPU share (`--worker-cpu`, default 0.5 of this
   machine), and on no cluster at all (the one-machine scheduler at the same CPU), side by side in this run. Prints
   per run: lemmas solved, wall seconds (cluster start apart), speedup over 1 worker, and the overhead per task.
2. A simulated large cluster: LocalClusters of 1, 4, 16 and 64 worker processes on this machine, each worker given
   `--per-worker` goals with a tiny budget. Prints the overhead per task as the workers grow.

Overhead per task: the time a goal spends in Dask rather than in auto-prove, measured on one clock (all processes
are on this machine) — from the moment its worker was free (its previous task finished, or the goals were sent) to
the task's start on the worker, plus from the task's end on the worker to its result reaching the client. Apart:
"start" (the cluster started and every worker's imports done) and "check" (every worker comparing its view of the
project with ours, once per run). "scheduler CPU ms/task": the CPU time of this process — the Dask scheduler of the
LocalCluster and our client both live in it — over the run, per task: the scheduler's own cost, which the other
columns mix with waiting for a core once the workers outnumber this machine's cores.

    python benchmarks/cluster.py [--difficulty medium] [--budget 10] [--worker-cpu 0.5] [--sim 1,4,16,64]
                                 [--per-worker 4] [--sim-budget 0.3] [--skip-bank] [--skip-sim]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sidecar.bank import BankRun, materialize  # noqa: E402
from sidecar.cluster import Cluster, TaskResult  # noqa: E402
from sidecar.ledger import Ledger  # noqa: E402
from sidecar.scheduler import ProveOptions, Scheduler  # noqa: E402
from sidecar.workspace import discover  # noqa: E402

# the simulation's goals: one the search closes at once, one it cannot (it runs to the budget)
SIM = """\
Lemma a{k} : forall P Q : Prop, P -> Q -> P.
Proof. Admitted.

Lemma b{k} : forall n : nat, n = S n.
Proof. Admitted.
"""


def overheads(results: list[TaskResult], t_submit: float) -> tuple[list[float], list[float]]:
    """Per task: dispatch (start on its worker - when that worker became free) and return (client received - end on
    the worker)."""
    dispatch, back = [], []
    by_worker: dict[str, list[TaskResult]] = {}
    for r in results:
        by_worker.setdefault(r.worker, []).append(r)
    for tasks in by_worker.values():
        tasks.sort(key=lambda r: r.started)
        free = t_submit
        for r in tasks:
            dispatch.append(max(0.0, r.started - free))
            back.append(max(0.0, r.received - r.finished))
            free = r.finished
    return dispatch, back


def _q(xs: list[float], q: float) -> float:
    return sorted(xs)[max(0, math.ceil(q * len(xs)) - 1)] if xs else float("nan")


def on_cluster(spec: str, goals: list, opts: ProveOptions, root: Path, worker_cpu: float) -> dict[str, object]:
    t0 = time.monotonic()
    with Cluster(spec, cpu=worker_cpu * int(spec.split(":")[1])) as pool:  # local:N shares cpu
        start = time.monotonic() - t0
        results: list[TaskResult] = []
        t_call = time.time()
        t1, c1 = time.monotonic(), time.process_time()
        outs = pool.run(goals, opts, Ledger(root, in_memory=True), results=results)
        wall, cpu = time.monotonic() - t1, time.process_time() - c1
        check = pool.submitted_at - t_call
    dispatch, back = overheads(results, pool.submitted_at)
    over = [a + b for a, b in zip(dispatch, back)]
    return {"solved": sum(o.status == "proved" and o.verified for o in outs), "wall": wall, "start": start,
            "check": check, "client_cpu": cpu / max(1, len(results)), "busy": sum(r.finished - r.started for r in results), "tasks": len(results),
            "over_median": _q(over, 0.5), "over_mean": statistics.fmean(over) if over else float("nan"),
            "over_p90": _q(over, 0.9), "disp_median": _q(dispatch, 0.5), "disp_p90": _q(dispatch, 0.9),
            "back_median": _q(back, 0.5), "back_p90": _q(back, 0.9),
            "by": {o.goal.lemma: o.status == "proved" for o in outs}}


def bank(args: argparse.Namespace) -> None:
    opts = ProveOptions(budget=args.budget, profile=args.profile, resume=False, golf_seconds=0.0, tickets=False,
                        strict=True)
    with tempfile.TemporaryDirectory(prefix="cluster-bench-") as tmp:
        folder = Path(tmp)
        materialize(BankRun(difficulties=(args.difficulty,)), folder)
        goals, problems = discover(sorted(folder.glob("*.v")), "coq")
        assert not problems, problems
        print(f"bank {args.difficulty}: {len(goals)} lemmas, budget {args.budget:g} s, profile {args.profile}, "
              f"{args.worker_cpu:g} of the machine per worker")
        rows = {}
        t0 = time.monotonic()
        plain = Scheduler(ProveOptions(**{**opts.__dict__, "cpu": args.worker_cpu}), Ledger(folder, in_memory=True)) \
            .run(goals)
        rows["no cluster"] = {"solved": sum(o.status == "proved" and o.verified for o in plain),
                              "wall": time.monotonic() - t0, "start": 0.0, "over_median": float("nan"),
                              "over_mean": float("nan"), "over_p90": float("nan"), "tasks": len(goals),
                              "by": {o.goal.lemma: o.status == "proved" for o in plain}}
        for n in (1, 2):
            rows[f"local:{n}"] = on_cluster(f"local:{n}", goals, opts, folder, args.worker_cpu)
    base = rows["local:1"]["wall"]
    print(f"{'run':<11} {'solved':>7} {'wall s':>8} {'start s':>8} {'speedup':>8} {'overhead/task ms':>27}")
    print(f"{'':<11} {'':>7} {'':>8} {'':>8} {'vs 1':>8} {'median':>9} {'mean':>8} {'p90':>8}")
    for name, r in rows.items():
        print(f"{name:<11} {r['solved']:>4}/{len(goals):<2} {r['wall']:>8.1f} {r['start']:>8.1f} "
              f"{base / r['wall']:>8.2f} {1000 * r['over_median']:>9.1f} {1000 * r['over_mean']:>8.1f} "
              f"{1000 * r['over_p90']:>8.1f}")
    differ = sorted(k for k in rows["local:1"]["by"] if len({r["by"].get(k) for r in rows.values()}) > 1)
    print("lemmas solved differently:", ", ".join(differ) or "none")


def sim(args: argparse.Namespace) -> None:
    sizes = [int(x) for x in args.sim.split(",") if x]
    # no imports at all: entering a goal costs Coq a few milliseconds, so the workers' time is the search's
    opts = ProveOptions(budget=args.sim_budget, profile=0, resume=False, golf_seconds=0.0, tickets=False, imports=())
    print(f"\nsimulated cluster: worker processes on this machine, {args.per_worker} goals each, budget "
          f"{args.sim_budget:g} s")
    print(f"{'workers':>8} {'goals':>6} {'start s':>8} {'check s':>8} {'wall s':>8} {'scheduler':>10} "
          f"{'overhead/task ms':>18} {'dispatch ms':>18} {'return ms':>18}")
    print(f"{'':>8} {'':>6} {'':>8} {'':>8} {'':>8} {'CPU ms/task':>11}{'median':>9}{'p90':>9} {'median':>9}{'p90':>9} "
          f"{'median':>9}{'p90':>9}")
    for n in sizes:
        with tempfile.TemporaryDirectory(prefix="cluster-sim-") as tmp:
            folder = Path(tmp)
            files = max(1, (n * args.per_worker + 1) // 2)
            (folder / "_CoqProject").write_text("-R . S\n", encoding="utf-8")
            for k in range(files):
                (folder / f"F{k}.v").write_text(SIM.format(k=k), encoding="utf-8")
            goals, problems = discover(sorted(folder.glob("*.v")), "coq")
            goals = goals[: n * args.per_worker]
            r = on_cluster(f"local:{n}", goals, opts, folder, 1.0)
        ms = {k: 1000 * float(v) for k, v in r.items() if isinstance(v, float)}
        print(f"{n:>8} {len(goals):>6} {r['start']:>8.1f} {r['check']:>8.2f} {r['wall']:>8.1f} "
              f"{ms['client_cpu']:>11.1f}{ms['over_median']:>9.1f}{ms['over_p90']:>9.1f} {ms['disp_median']:>9.1f}{ms['disp_p90']:>9.1f} "
              f"{ms['back_median']:>9.1f}{ms['back_p90']:>9.1f}", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--difficulty", default="medium")
    ap.add_argument("--budget", type=float, default=10.0)
    ap.add_argument("--profile", type=int, default=0)
    ap.add_argument("--worker-cpu", type=float, default=0.5)
    ap.add_argument("--sim", default="1,4,16,64")
    ap.add_argument("--per-worker", type=int, default=4)
    ap.add_argument("--sim-budget", type=float, default=0.3)
    ap.add_argument("--skip-bank", action="store_true")
    ap.add_argument("--skip-sim", action="store_true")
    args = ap.parse_args()
    from sidecar.procs import guard_tree

    guard_tree()
    if not args.skip_bank:
        bank(args)
    if not args.skip_sim:
        sim(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
