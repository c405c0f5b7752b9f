"""Rendering of results: the stable JSON documents and the rich terminal report/progress."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from .scheduler import GoalOutcome

if TYPE_CHECKING:
    from .blueprint.check import BlueprintCheck

__all__ = ["prove_json", "write_json", "goal_table", "progress_bar", "blueprint_report", "STATUS_STYLE"]

STATUS_STYLE = {"proved": "green", "exhausted": "yellow", "timeout": "yellow", "error": "red", "queued": "dim",
                "searching": "cyan", "skipped": "dim"}


def prove_json(outcomes: Sequence[GoalOutcome], wall_s: float, cpu_fraction: float, profile: int) -> dict[str, object]:
    """The `prove --json` document."""
    return {
        "goals": [o.as_json() for o in outcomes],
        "summary": {
            "total": len(outcomes),
            "proved": sum(1 for o in outcomes if o.status == "proved" and o.verified),
            "proved_on_open": sum(1 for o in outcomes if o.status == "proved" and o.verified and o.depends_on_open),
            "skipped": sum(1 for o in outcomes if o.status == "skipped"),
            "wall_s": round(wall_s, 3),
            "cpu_fraction": round(cpu_fraction, 3),
            "profile": profile,
        },
    }


def write_json(path: Path, doc: object) -> None:
    """Write a JSON document (creating folders), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def goal_table(outcomes: Iterable[GoalOutcome], title: str = "goals", root: Path | None = None) -> Table:
    """One row per goal: where, what, status, time, attempts, proof."""
    t = Table(title=title, show_lines=False)
    for col in ("file:line", "lemma", "kind", "status", "s", "tries", "proof / note"):
        t.add_column(col, overflow="fold")
    for o in outcomes:
        g = o.goal
        f = str(g.file)
        if root is not None:
            try:
                f = str(g.file.relative_to(root))
            except ValueError:
                pass
        note = " ".join((o.replacement or "").split()) if o.verified else o.message
        if o.verified and o.depends_on_open:
            note = f"({o.proof_label()}) {note}"
        t.add_row(escape(f"{f}:{g.line}"), escape(g.lemma), o.kind, f"[{STATUS_STYLE.get(o.status, '')}]{o.status}",
                  f"{o.seconds:.1f}", str(o.attempts), escape((note or "")[:160]))
    return t


def progress_bar(console: Console) -> Progress:
    """The progress bar used by long CLI runs."""
    return Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[detail]}"), TimeElapsedColumn(), console=console, transient=False)


def counts(outcomes: Iterable[GoalOutcome]) -> Counter[str]:
    """Outcomes per status."""
    return Counter(o.status for o in outcomes)


NODE_STYLE = {"proved": "green", "stated": "yellow", "missing": "red", "not formalized": "dim"}


def blueprint_report(console: Console, check: "BlueprintCheck") -> None:
    """The `blueprint` command's report: a row per node, then coverage, greens, what can be proved next and the
    critical path."""
    bp, status = check.blueprint, check.status
    full = bp.fully_proved(status)
    if check.source != "blueprint":
        console.print("no blueprint: the dependency graph Coq gives the project (coq-dpdgraph), a node per lemma and "
                      "definition")
    t = Table(title="blueprint" if check.source == "blueprint" else "dependency graph", show_lines=False)
    for col in ("node", "kind", "declarations", "prover", "marked"):
        t.add_column(col, overflow="fold")
    for label, n in bp.nodes.items():
        st = "fully proved" if label in full else status[label]
        t.add_row(escape(label), n.kind, escape(", ".join(n.decls)), f"[{NODE_STYLE.get(status[label], '')}]{st}",
                  "proved" if n.marked_proved else ("stated" if n.leanok else ""))
    console.print(t)
    c = check.coverage
    console.print(f"{c.total} nodes: {c.stated} stated, {c.can_prove} can be proved next, {c.proved} proved, "
                  f"{c.fully_proved} fully proved")
    for label, why in check.false_greens():
        console.print(f"[red]false green:[/] {escape(label)} is marked proved, but {escape(why)}")
    for label in check.missing_greens():
        console.print(f"[yellow]missing green:[/] {escape(label)} is proved, but not marked so")
    for d in check.unknown_decls():
        console.print(f"[red]unknown declaration:[/] {escape(d)} (named in the blueprint, not in the project)")
    for cycle in bp.cycles():
        console.print(f"[red]cycle:[/] {escape(' → '.join(cycle))}")
    for p in bp.problems:
        console.print(f"[yellow]blueprint:[/] {escape(p)}")
    nxt = check.next()
    if nxt:
        console.print("can be proved next: " + escape(", ".join(nxt)))
    path = check.critical_path()
    if path:
        console.print(f"critical path to {escape(path[-1])}: " + escape(" → ".join(path)))
