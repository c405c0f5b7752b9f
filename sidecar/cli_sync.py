"""The shell of `auto-prove sync export|import`: a project's settled results written to a file, folder or URL, and
taken from one (sync.py)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from .cli_options import err

__all__ = ["sync_app"]

sync_app = typer.Typer(no_args_is_help=True, help="Share results between machines: export this project's proofs "
                       "and finished searches, import another machine's (each proof verified here before it is "
                       "offered; nothing is taken from another toolchain or library revision).")
console = Console()

_DEST = "a file (…jsonl.gz), a folder (one new file per export) or a URL such as s3://bucket/path/ (fsspec)"


@sync_app.command("export")
def export_cmd(dest: str = typer.Argument(..., help=_DEST),
               project: Path = typer.Argument(Path("."), help="project folder (where .auto-prove/ lives)")) -> None:
    """Write the project's verified proofs, searches that ran out, and helper-lemma tickets to DEST."""
    from .sync import SyncError, export_results

    try:
        report = export_results(project, dest)
    except SyncError as e:
        err.print(f"[red]error:[/] {escape(str(e))}")
        raise typer.Exit(2)
    if not report.files:
        console.print(escape(f"nothing to export: no ledger under {project.resolve()} (no goal searched there)"))
        return
    console.print(escape(report.line("exported")))


@sync_app.command("import")
def import_cmd(src: str = typer.Argument(..., help=_DEST.replace("one new file per export", "every export in it")),
               project: Path = typer.Argument(Path("."), help="project folder (where .auto-prove/ lives)")) -> None:
    """Take the results exported at SRC into the project's ledger: the next `prove`, the editor and the agent offer
    the proofs once verified here."""
    from .sync import SyncError, import_results

    try:
        report = import_results(project, src)
    except SyncError as e:
        err.print(f"[red]error:[/] {escape(str(e))}")
        raise typer.Exit(2)
    if not report.files and not report.unreadable:
        console.print(escape(f"nothing to import: no export at {src}"))
        return
    console.print(escape(report.line("imported")))
