"""The lemma bank runner: every bank lemma as a goal in its own file's environment, through the same scheduler
as `prove`, with solve rates per difficulty and per strategy."""

from __future__ import annotations

import datetime as _dt
import os
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from .governor import tree_cpu_seconds
from .ledger import Ledger
from .report import progress_bar, write_json
from .procs import temp_prefix
from .scheduler import GoalOutcome, ProveOptions, Scheduler

__all__ = ["BankRun", "run_bank", "REPO_BANK", "RESULTS_DIR"]

REPO_BANK = Path(__file__).resolve().parents[1] / "bank" / "bank.toml"
RESULTS_DIR = Path(__file__).resolve().parents[1] / "bank" / "results"
SUFFIX = {"coq": ".v", "lean": ".lean"}


@dataclass(frozen=True)
class BankRun:
    """What to run: backend, profile, budget and which lemmas."""

    backend: str = "coq"
    profile: int = 0
    budget: float = 60.0
    cpu: float = 0.5
    difficulties: tuple[str, ...] = ()
    limit: int | None = None
    bank_file: Path | None = None
    hammer: bool = False
    tactic_timeout: float = 2.0
    golf: float = 5.0  # seconds to look for a shorter proof once one is verified
    cluster: str | None = None  # prove on a Dask cluster (cluster.py): local:N shares `cpu`, else each worker has it


def materialize(run: BankRun, folder: Path) -> dict[str, tuple[str, str, tuple[str, ...]]]:
    """Write one source file per selected lemma (every earlier lemma proved, the lemma itself open).

    Returns {file stem: (lemma name, difficulty, tags)}.
    Raises:
        ValueError: unknown difficulty or backend.
    """
    from .bankfile import difficulties, load_bank, render_coq, render_lean

    bank = load_bank(run.bank_file) if run.bank_file else load_bank()
    wanted = run.difficulties or difficulties()
    for d in wanted:
        if d not in difficulties():
            raise ValueError(f"unknown difficulty {d!r} (choose from {', '.join(difficulties())})")
    meta: dict[str, tuple[str, str, tuple[str, ...]]] = {}
    if run.backend == "lean":  # a Lake project of its own: the REPL runs the files with the pinned toolchain
        from .provers.lean import DEFAULT_TOOLCHAIN

        (folder / "lean-toolchain").write_text(DEFAULT_TOOLCHAIN + "\n", encoding="utf-8")
    for d in wanted:
        lemmas = [lem for lem in bank.lemmas if lem.difficulty == d]
        if run.limit is not None:
            lemmas = lemmas[: run.limit]
        for lem in lemmas:
            stem = f"Bank_{d}_{lem.name}"
            if run.backend == "coq":
                text = render_coq(bank, d, admit=lem.name, upto=lem.name)
            elif run.backend == "lean":
                text = render_lean(bank, d, admit=lem.name, upto=lem.name)  # type: ignore[call-arg]
            else:
                raise ValueError(f"unknown backend {run.backend!r}")
            (folder / (stem + SUFFIX[run.backend])).write_text(text, encoding="utf-8")
            meta[stem] = (lem.name, d, tuple(lem.tags))
    return meta


def run_bank(run: BankRun, *, console: Console | None = None, json_out: Path | None = None) -> dict[str, object]:
    """Run the bank, print the figures, write the results JSON; return the JSON document."""
    from .workspace import discover

    console = console or Console()
    t0 = time.monotonic()
    cpu0 = tree_cpu_seconds()
    with tempfile.TemporaryDirectory(prefix=temp_prefix("autoprove_bank_")) as tmp:
        folder = Path(tmp)
        meta = materialize(run, folder)
        files = sorted(folder.glob("*" + SUFFIX[run.backend]))
        with progress_bar(console) as progress:
            t1 = progress.add_task("loading bank", total=len(files), detail="")
            goals, problems = discover(files, run.backend, on_file=lambda f, fg: progress.update(t1, advance=1))
            opts = ProveOptions(budget=run.budget, cpu=run.cpu, profile=run.profile, hammer=run.hammer,
                                tactic_timeout=run.tactic_timeout, resume=False, golf_seconds=run.golf, tickets=False,
                                strict=True)  # each lemma on its own: the bank's other lemmas are open too
            t2 = progress.add_task("searching", total=len(goals), detail="")
            solved = {"n": 0}

            def on_event(kind: str, out: GoalOutcome) -> None:
                if kind == "started":
                    progress.update(t2, detail=out.goal.lemma)
                elif kind == "done":
                    solved["n"] += out.status == "proved"
                    progress.update(t2, advance=1, detail=f"{solved['n']} solved")

            ledger = Ledger(folder, in_memory=True)
            if run.cluster:
                from .cluster import Cluster

                with Cluster(run.cluster, cpu=run.cpu) as pool:
                    outcomes = pool.run(goals, opts, ledger, on_event=on_event)
            else:
                outcomes = Scheduler(opts, ledger, on_event=on_event).run(goals)
    for p in problems:
        console.print(f"[red]problem:[/] {p}")
    wall = time.monotonic() - t0
    cpu_frac = (tree_cpu_seconds() - cpu0) / max(wall, 1e-6) / (os.cpu_count() or 1)
    doc = summarize(run, outcomes, meta, wall, cpu_frac, problems={p.file.stem: str(p) for p in problems})
    _print(console, doc, outcomes)
    path = json_out or RESULTS_DIR / f"{run.backend}-p{run.profile}-{_dt.datetime.now():%Y%m%d-%H%M%S}.json"
    write_json(path, doc)
    console.print(f"results written to {path}")
    return doc


def summarize(run: BankRun, outcomes: list[GoalOutcome], meta: dict[str, tuple[str, str, tuple[str, ...]]],
              wall: float, cpu_frac: float, problems: dict[str, str] | None = None) -> dict[str, object]:
    """The bank results document (same per-goal rows as `prove --json`, plus the figures). A lemma whose file
    yielded no goal (it did not load: `problems` says why) counts as unsolved, with status "error"."""
    rows = []
    by_diff: dict[str, Counter[str]] = defaultdict(Counter)
    by_strategy: Counter[str] = Counter()
    attempts_by_strategy: Counter[str] = Counter()
    for o in outcomes:
        name, diff, tags = meta.get(o.goal.file.stem, (o.goal.lemma, "?", ()))
        row = o.as_json()
        row.update({"name": name, "difficulty": diff, "tags": list(tags), "file": o.goal.file.name})
        rows.append(row)
        ok = o.status == "proved" and o.verified
        by_diff[diff]["total"] += 1
        by_diff[diff]["solved"] += ok
        if ok:
            by_strategy[o.strategy or "?"] += 1
        attempts_by_strategy.update(o.strategies)
    seen = {o.goal.file.stem for o in outcomes}
    for stem, (name, diff, tags) in meta.items():
        if stem not in seen:
            why = (problems or {}).get(stem, "the lemma's file yielded no goal")
            rows.append({"name": name, "difficulty": diff, "tags": list(tags), "file": stem + SUFFIX[run.backend],
                         "status": "error", "verified": False, "proof": None, "message": why})
            by_diff[diff]["total"] += 1
    total = len(rows)
    solved = sum(1 for o in outcomes if o.status == "proved" and o.verified)
    return {
        "backend": run.backend, "profile": run.profile, "budget_s": run.budget, "cpu_target": run.cpu,
        "total": total, "solved": solved, "solve_rate": round(solved / total, 4) if total else 0.0,
        "by_difficulty": {d: {"total": c["total"], "solved": c["solved"],
                              "solve_rate": round(c["solved"] / c["total"], 4) if c["total"] else 0.0}
                          for d, c in by_diff.items()},
        "by_strategy": {s: {"solved": n, "attempts": attempts_by_strategy.get(s, 0)}
                        for s, n in sorted(by_strategy.items(), key=lambda kv: -kv[1])},
        "attempts_by_strategy": dict(attempts_by_strategy),
        "wall_s": round(wall, 2), "cpu_fraction": round(cpu_frac, 3),
        "goals": rows,
    }


def _print(console: Console, doc: dict[str, object], outcomes: list[GoalOutcome]) -> None:
    t = Table(title="by difficulty")
    for c in ("difficulty", "solved", "total", "rate"):
        t.add_column(c)
    for d, c in doc["by_difficulty"].items():  # type: ignore[union-attr]
        t.add_row(d, str(c["solved"]), str(c["total"]), f"{100 * c['solve_rate']:.1f}%")
    console.print(t)
    s = Table(title="by finishing strategy")
    for c in ("strategy", "solved", "attempts"):
        s.add_column(c)
    for name, c in doc["by_strategy"].items():  # type: ignore[union-attr]
        s.add_row(name, str(c["solved"]), str(c["attempts"]))
    console.print(s)
    console.print(f"[bold]solved {doc['solved']}/{doc['total']} ({100 * doc['solve_rate']:.1f}%)[/]"  # type: ignore[operator]
                  f"  wall {doc['wall_s']} s  CPU {doc['cpu_fraction']} of the machine")
