"""Verified proofs as commits on a branch of their own, and, when configured, pushed and proposed as a pull request.

Never on the user's branch and never in the user's working tree: the branch (`auto-prove/<branch>-<short hash>`)
starts at HEAD in a temporary worktree, gets the verified files (exactly the bytes the verifier compiled), one
commit per run or per lemma with trailers saying what checked them, and the worktree goes. Refused with a clear
error, before anything is touched: a path outside a git repository, a detached HEAD, a file to patch that has
changes not committed (its proofs were found in a text HEAD does not have), a remote that does not exist. Pushing
and the pull request happen only when asked (`gh` when it is installed, else GitHub's REST API with the token in
$GITHUB_TOKEN or $GH_TOKEN; $AUTOPROVE_GITHUB_API points elsewhere, e.g. GitHub Enterprise).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from . import __version__
from .errors import AutoProveError
from .procs import run, temp_prefix

if TYPE_CHECKING:
    from .scheduler import GoalOutcome
    from .workspace import VerifiedPatch

__all__ = ["BranchResult", "VcsError", "check_remote", "preflight", "commit_proofs", "open_pull_request", "pr_body",
           "push_branch"]

TRAILER_VERIFIED = "Auto-Prove-Verified"


class VcsError(AutoProveError):
    """The repository is not in a state where proofs can be committed (nothing was changed)."""


@dataclass
class BranchResult:
    branch: str
    base: str  # the branch it starts from
    base_sha: str
    commits: list[str] = field(default_factory=list)  # hashes, oldest first
    proved: list["GoalOutcome"] = field(default_factory=list)
    url: str = ""  # the pull request's, once opened


def _repo(path: Path) -> Any:
    try:
        import git
    except ImportError as e:  # GitPython
        raise VcsError("committing proofs needs GitPython: pip install GitPython") from e
    try:
        return git.Repo(Path(path), search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise VcsError(f"{path} is not in a git repository") from None


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "head"


def _refuse_state(repo: Any, rels: Sequence[str]) -> None:
    """A detached HEAD, or one of these files (relative to the top) with changes not committed: one clear error."""
    if repo.head.is_detached:
        raise VcsError("HEAD is detached: check out the branch the proofs are for (the new branch is named after it)")
    dirty = sorted({r for r in rels if repo.git.status("--porcelain", "--", r).strip()})
    if dirty:
        raise VcsError("these files have changes not committed, so their proofs would be found in a text HEAD does "
                       "not have: " + ", ".join(dirty) + " (commit or stash them first)")


def preflight(path: Path, files: Sequence[Path], remote: str | None = None) -> None:
    """Before a search whose proofs go on a branch: the same refusals `commit_proofs` (and the push) would give,
    now, so that no search is spent for nothing.

    Raises:
        VcsError.
    """
    repo = _repo(path)
    top = Path(repo.working_tree_dir).resolve()
    _refuse_state(repo, [Path(f).resolve().relative_to(top).as_posix() for f in files
                         if Path(f).resolve().is_relative_to(top)])
    if remote is not None:
        check_remote(path, remote)


def commit_proofs(path: Path, patches: Sequence["VerifiedPatch"], *, per_lemma: bool = False, budget: float = 0.0,
                  profile: int = 0, also: Callable[[Path], list[str]] | None = None) -> BranchResult:
    """Commit the verified `patches` (files of the repository holding `path`) on a new branch from HEAD. `also`,
    given the worktree with every proof in it, edits more files there (the blueprint's marks) and names them
    (relative paths); they join the last commit.

    Raises:
        VcsError: see the module docstring; nothing is changed then.
    """
    repo = _repo(path)
    top = Path(repo.working_tree_dir).resolve()
    useful = [p for p in patches if p.patched is not None and p.kept]
    if not useful:
        raise VcsError("no verified proof to commit")
    rels = []
    for p in useful:
        f = Path(p.file).resolve()
        if not f.is_relative_to(top):
            raise VcsError(f"{p.file} is outside the repository {top}")
        rels.append(f.relative_to(top).as_posix())
    _refuse_state(repo, rels)
    base = repo.active_branch.name
    sha = repo.head.commit.hexsha
    branch = f"auto-prove/{_slug(base)}-{sha[:8]}"
    # a branch of that name on a remote (a fresh clone's CI run) counts too: pushing it would be refused
    names = {h.name for h in repo.heads} | {r.remote_head for remote in repo.remotes for r in remote.refs}
    k = 2
    while branch in names:  # a run before on the same commit: another branch beside it
        branch = f"auto-prove/{_slug(base)}-{sha[:8]}-{k}"
        k += 1
    result = BranchResult(branch, base, sha)
    work = Path(tempfile.mkdtemp(prefix=temp_prefix("autoprove_worktree_")))
    shutil.rmtree(work)  # git makes it
    repo.git.worktree("add", "--quiet", "-b", branch, str(work), sha)
    try:
        import git

        wt = git.Repo(work)
        groups = [[(p, r)] for p, r in zip(useful, rels)] if per_lemma else [list(zip(useful, rels))]
        for k, group in enumerate(groups):
            for p, rel in group:
                (work / rel).write_bytes(p.patched or b"")
            more = also(work) if also is not None and k == len(groups) - 1 else []
            wt.index.add([rel for _, rel in group] + more)
            outs = [o for p, _ in group for o in (p.kept[-1:] if per_lemma else p.kept)]
            commit = wt.index.commit(_message(outs, budget, profile))
            result.commits.append(commit.hexsha)
            result.proved += [o for o in outs if o not in result.proved]
    except Exception:
        repo.git.worktree("remove", "--force", str(work))
        repo.git.branch("-D", branch)
        raise
    repo.git.worktree("remove", "--force", str(work))
    return result


def _verifier(outs: Sequence["GoalOutcome"]) -> str:
    backends = {o.goal.backend for o in outs}
    return " and ".join(("coqc: the patched file compiles, the statement unchanged, no new axiom (Print Assumptions)"
                         if b == "coq" else "lean: the patched file elaborates, the statement unchanged, no sorryAx "
                         "or new axiom (#print axioms)") for b in sorted(backends))


def _message(outs: Sequence["GoalOutcome"], budget: float, profile: int) -> str:
    names = [o.goal.lemma for o in outs]
    title = f"prove {names[0]}" if len(names) == 1 else f"prove {len(names)} lemmas: {', '.join(names[:4])}" + (
        ", …" if len(names) > 4 else "")
    lines = [title, "", f"Proofs found and verified by auto-prove {__version__} (profile {profile}):"]
    lines += [f"- {o.goal.lemma} ({o.goal.file.name}:{o.goal.line}): {o.strategy or 'search'}, {o.seconds:.1f} s"
              + (f", stands on open lemmas {', '.join(o.depends_on_open)}" if o.depends_on_open else "")
              for o in outs]
    lines += ["", f"{TRAILER_VERIFIED}: {_verifier(outs)}", f"Auto-Prove-Budget: {budget:g}s per goal",
              "Auto-Prove-Strategy: " + "; ".join(f"{o.goal.lemma}={o.strategy or 'search'}" for o in outs)]
    return "\n".join(lines) + "\n"


def pr_body(result: BranchResult, *, wall: float = 0.0, cpu_seconds: float = 0.0) -> str:
    """The pull request's text: the goals proved, how to verify them, the axioms, the compute spent."""
    outs = result.proved
    rows = "\n".join(f"| `{o.goal.file.name}:{o.goal.line}` | `{o.goal.lemma}` | {o.strategy or 'search'} | "
                     f"{o.seconds:.1f} s |" + (f" on open lemmas {', '.join(o.depends_on_open)}" if o.depends_on_open
                                               else "") for o in outs)
    lean = any(o.goal.backend == "lean" for o in outs)
    check = "lake build" if lean else "make   # or: coqc on each changed file, with the project's _CoqProject flags"
    return (f"## {len(outs)} proof{'s' if len(outs) != 1 else ''} found by auto-prove\n\n"
            f"Branch `{result.branch}` from `{result.base}` at {result.base_sha[:8]}, "
            f"{len(result.commits)} commit{'s' if len(result.commits) != 1 else ''}.\n\n"
            f"| where | lemma | found by | search |\n|---|---|---|---|\n{rows}\n\n"
            f"### Verification\nEach changed file was compiled as a whole before it was committed: "
            f"{_verifier(outs)}. To check again:\n\n```\n{check}\n```\n\n"
            f"### Axioms\nNo axiom beyond those the files already used; "
            + ("a proof that stands on the project's open lemmas says which above.\n\n"
               if any(o.depends_on_open for o in outs) else "no proof stands on an open lemma.\n\n")
            + f"### Compute\n{sum(o.seconds for o in outs):.0f} s of search for these goals"
            + (f"; the run took {wall:.0f} s wall, {cpu_seconds:.0f} s CPU" if wall else "") + ".\n")


def check_remote(path: Path, remote: str) -> None:
    """That `remote` exists (checked before anything is committed).

    Raises:
        VcsError.
    """
    repo = _repo(path)
    if remote not in [r.name for r in repo.remotes]:
        raise VcsError(f"no remote {remote!r} in {repo.working_tree_dir} (remotes: "
                       f"{', '.join(r.name for r in repo.remotes) or 'none'}); nothing was committed")


def push_branch(path: Path, branch: str, remote: str) -> None:
    """Push `branch` to `remote` (which must exist); a rejected push is one clear error.

    Raises:
        VcsError.
    """
    check_remote(path, remote)
    repo = _repo(path)
    import git

    try:
        repo.git.push("--porcelain", remote, f"{branch}:{branch}")
    except git.GitCommandError as e:
        raise VcsError(f"pushing {branch} to {remote} failed: {' '.join(str(e.stderr).split())[:400]}") from None


def _github_repo(url: str) -> str | None:
    m = re.search(r"github\.com[:/]([^/\s]+/[^/\s]+?)(?:\.git)?/?$", url)
    return m.group(1) if m else None


def open_pull_request(path: Path, result: BranchResult, remote: str, title: str, body: str,
                      timeout: float = 60.0) -> str:
    """Open the pull request of `result.branch` into its base on the GitHub repository of `remote`; its URL.

    Raises:
        VcsError: not a GitHub remote, no way to authenticate, or GitHub refused.
    """
    repo = _repo(path)
    url = next((r.url for r in repo.remotes if r.name == remote), "")
    slug = os.environ.get("AUTOPROVE_GITHUB_REPO") or _github_repo(url)
    if not slug:
        raise VcsError(f"remote {remote!r} ({url}) is not a GitHub repository; push done, open the pull request "
                       f"yourself")
    api = os.environ.get("AUTOPROVE_GITHUB_API", "")
    token = os.environ.get("GITHUB_TOKEN") or os.environ.get("GH_TOKEN")
    if not api and shutil.which("gh"):
        r = run(["gh", "pr", "create", "--repo", slug, "--base", result.base, "--head", result.branch, "--title",
                 title, "--body", body], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
        if r.returncode != 0:
            raise VcsError(f"gh pr create failed: {' '.join(r.stderr.split())[:400]}")
        return r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""
    if not token:
        raise VcsError("opening a pull request needs `gh` or a token in $GITHUB_TOKEN (or $GH_TOKEN)")
    req = urllib.request.Request(f"{api or 'https://api.github.com'}/repos/{slug}/pulls", method="POST",
                                 data=json.dumps({"title": title, "head": result.branch, "base": result.base,
                                                  "body": body}).encode(),
                                 headers={"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json",
                                          "X-GitHub-Api-Version": "2022-11-28", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return str(json.loads(resp.read()).get("html_url", ""))
    except urllib.error.HTTPError as e:
        detail = e.read().decode("utf-8", "replace")[:300]
        raise VcsError(f"GitHub refused the pull request ({e.code}): {' '.join(detail.split())}") from None
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise VcsError(f"GitHub could not be reached: {e}") from None
