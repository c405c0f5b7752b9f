"""The shell of `auto-prove tickets` and of the tickets `prove` reports: helper lemmas proposed for goals the search
could not close (tickets.py), listed from the ledger, and one put into its file on request."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .cli_options import err
from .errors import AutoProveError

__all__ = ["print_tickets", "tickets_cmd"]


def print_tickets(console: Console, outcomes: Iterable[object], root: Path) -> None:
    """The tickets of the goals `prove` could not close, after its table."""
    rows = [(o, t) for o in outcomes for t in getattr(o, "tickets", ()) if getattr(o, "status", "") != "proved"]
    if not rows:
        return
    console.print(f"helper lemmas proposed for {len({id(o) for o, _ in rows})} goal(s) not proved "
                  f"(`auto-prove tickets {escape(str(root))} --accept NAME` puts one in its file):")
    for o, t in rows:
        lemma = o.goal.lemma  # type: ignore[attr-defined]
        console.print(f"  {escape(lemma)}: [bold]{escape(t.name)}[/] ({t.status}) : {escape(t.statement)}",
                      soft_wrap=True)


def tickets_cmd(
    project: Path = typer.Argument(Path("."), help="the project folder (where .auto-prove/ lives)"),
    accept: Optional[str] = typer.Option(None, "--accept", help="put this ticket's helper lemma into its file, "
                                         "before the goal's lemma (with its proof if it has one, else Admitted.)"),
) -> None:
    """Helper lemmas proposed for the goals the search could not close: what each goal would need. With --accept,
    one goes into its file as a lemma of its own, once the file is checked to compile with it."""
    from .ledger import LEDGER_DIR, Ledger
    from .tickets import accept_ticket

    console = Console()
    root = project.resolve()
    if not (root / LEDGER_DIR).is_dir():
        err.print(f"[red]error:[/] no ledger in {escape(str(root))} (run `auto-prove prove` there first)")
        raise typer.Exit(2)
    ledger = Ledger(root)
    try:
        records = ledger.tickets()
        if accept is None:
            if not records:
                console.print("no tickets: every goal searched was proved, or none left a helper worth proposing")
                return
            table = Table(title="tickets")
            for col in ("goal", "name", "status", "statement"):
                table.add_column(col, overflow="fold")
            for r in records:
                table.add_row(f"{escape(r.lemma)} ({escape(Path(r.file).name)})", escape(r.name), r.status,
                              escape(r.statement))
            console.print(table)
            return
        chosen = [r for r in records if r.name == accept]
        if not chosen:
            err.print(f"[red]error:[/] no ticket {escape(accept)} "
                      f"(`auto-prove tickets {escape(str(root))}` lists them)")
            raise typer.Exit(2)
        if len(chosen) > 1:
            err.print(f"[red]error:[/] {len(chosen)} tickets are named {escape(accept)}: "
                      + ", ".join(escape(r.file) for r in chosen))
            raise typer.Exit(2)
        try:
            file, _, after = accept_ticket(chosen[0])
        except AutoProveError as e:
            err.print(f"[red]error:[/] {escape(str(e))}")
            raise typer.Exit(2)
        from .patch import write_file_atomically

        write_file_atomically(file, after)
        r = chosen[0]
        ledger.record_ticket(r.key, r.file, r.lemma, r.name, r.statement, "accepted", r.proof)
        console.print(f"added {escape(r.name)} to {escape(str(file))} "
                      f"({'with its proof' if r.proof else 'Admitted: a goal of its own now'})")
    finally:
        ledger.close()
