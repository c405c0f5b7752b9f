"""`prove --branch`: the shell around vcs.py — its options checked, the verified proofs committed, pushed and proposed,
what happened said in one line each."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape

from .cli_options import err

__all__ = ["check_branch", "commit_branch"]

console = Console(stderr=False)


def check_branch(write: bool, branch: bool, commit_per: str, push: Optional[str], pr: bool) -> None:
    if commit_per not in ("run", "lemma"):
        err.print("[red]error:[/] --commit-per is run or lemma")
        raise typer.Exit(2)
    if branch and write:
        err.print("[red]error:[/] --branch commits the proofs on a branch of their own; --write patches your files: "
                  "choose one")
        raise typer.Exit(2)
    if (push or pr) and not branch or pr and not push:
        err.print("[red]error:[/] --push needs --branch, and --pr needs --push")
        raise typer.Exit(2)


def commit_branch(path: Path, outcomes: list, per_lemma: bool, push: Optional[str], pr: bool,  # type: ignore[type-arg]
                   budget: float, profile: int, wall: float, cpu_seconds: float, leanok: bool = False) -> None:
    """--branch: the verified proofs committed on a branch of their own (vcs.py), pushed and proposed if asked."""
    from .blueprint.update import marks_in_worktree
    from .vcs import VcsError, check_remote, commit_proofs, open_pull_request, pr_body, push_branch
    from .workspace import verified_patches

    if not any(o.status == "proved" and o.verified for o in outcomes):
        console.print("no verified proof: no branch made")
        return
    try:
        if push:
            check_remote(path, push)
        result = commit_proofs(path, verified_patches(outcomes, each=per_lemma), per_lemma=per_lemma, budget=budget,
                               profile=profile, also=marks_in_worktree(path) if leanok else None)
        body = pr_body(result, wall=wall, cpu_seconds=cpu_seconds)
        console.print(f"committed {len(result.proved)} proof(s) on branch [bold]{escape(result.branch)}[/] "
                      f"({len(result.commits)} commit(s) on {escape(result.base)}); review: git log -p "
                      f"{escape(result.base)}..{escape(result.branch)}")
        if push:
            push_branch(path, result.branch, push)
            console.print(f"pushed {escape(result.branch)} to {escape(push)}")
        if pr:
            title = f"auto-prove: {len(result.proved)} proof(s) on {result.base}"
            url = open_pull_request(path, result, push or "origin", title, body)
            console.print(f"pull request: {escape(url)}")
    except VcsError as e:
        err.print(f"[red]error:[/] {escape(str(e))}")
        raise typer.Exit(2)
