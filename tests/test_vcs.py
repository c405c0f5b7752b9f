"""`prove --branch`: verified proofs committed on a branch of their own in a temporary worktree, pushed to a real
(local, bare) remote, and proposed as a pull request to a local server speaking GitHub's REST API (the stand-in for
GitHub). The user's branch, working tree and HEAD are never touched; bad repository states are refused first."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from conftest import run_cli

needs_coq = pytest.mark.skipif(shutil.which("coqc") is None, reason="coqc not installed")
pytest.importorskip("git")

SOURCE = ("Lemma a : forall n : nat, n + 0 = n.\nAdmitted.\n\n"
          "Lemma b : forall n m : nat, n + m = m + n.\nAdmitted.\n\n"
          "Lemma c : forall n : nat, n = S n.\nAdmitted.\n")


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=Test", "-c", "user.email=t@example.org", *args], cwd=cwd,
                          check=True, capture_output=True, text=True).stdout.strip()


def repo(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "_CoqProject").write_text("-R . P\nA.v\n")
    (root / "A.v").write_text(SOURCE)
    (root / ".gitignore").write_text(".auto-prove/\n*.vo*\n*.glob\n.*.aux\n.*.cache\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "start")
    git(tmp_path, "init", "-q", "--bare", "remote.git")
    git(root, "remote", "add", "origin", str(tmp_path / "remote.git"))
    return root


def prove(root: Path, *args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return run_cli("prove", root / "A.v", "--budget", "5", "--profile", "0", "--branch", *args, env=env, timeout=300)


@needs_coq
def test_proofs_are_committed_on_a_branch_and_pushed_and_nothing_of_yours_moves(tmp_path: Path) -> None:
    root = repo(tmp_path)
    head = git(root, "rev-parse", "HEAD")
    r = prove(root, "--push", "origin")
    assert r.returncode == 0, r
    branch = f"auto-prove/main-{head[:8]}"
    assert f"committed 2 proof(s) on branch {branch}" in " ".join(r.stdout.split()), r.stdout
    assert git(root, "rev-parse", "HEAD") == head and git(root, "branch", "--show-current") == "main"
    assert (root / "A.v").read_text() == SOURCE and git(root, "status", "--porcelain") == ""
    assert git(root, "worktree", "list").count("\n") == 0  # the temporary worktree is gone
    message = git(root, "log", "-1", "--format=%B", branch)
    assert message.startswith("prove 2 lemmas: a, b") and "Auto-Prove-Verified: coqc" in message
    assert "Auto-Prove-Budget: 5s per goal" in message and "Auto-Prove-Strategy: a=" in message
    assert git(root, "rev-list", "--count", f"main..{branch}") == "1"
    committed = git(root, "show", f"{branch}:A.v")
    assert "Admitted" in committed and committed.count("Qed.") == 2  # `c` is false: still open
    check = tmp_path / "check"
    check.mkdir()
    (check / "A.v").write_text(committed + "\n")
    subprocess.run(["coqc", "A.v"], cwd=check, check=True, capture_output=True, timeout=120)
    assert git(tmp_path / "remote.git", "rev-parse", branch) == git(root, "rev-parse", branch)
    again = prove(root)  # the same commit again: a branch beside the first
    assert again.returncode == 0 and f"{branch}-2" in again.stdout, again


@needs_coq
def test_one_commit_per_lemma(tmp_path: Path) -> None:
    root = repo(tmp_path)
    r = prove(root, "--commit-per", "lemma")
    assert r.returncode == 0, r
    branch = f"auto-prove/main-{git(root, 'rev-parse', 'HEAD')[:8]}"
    assert git(root, "log", "--format=%s", f"main..{branch}").splitlines() == ["prove b", "prove a"]
    first = git(root, "show", f"{branch}~1:A.v")
    assert first.count("Qed.") == 1 and git(root, "show", f"{branch}:A.v").count("Qed.") == 2


class FakeGitHub:
    """A local server answering `POST /repos/{owner}/{repo}/pulls` as GitHub's REST API does."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], dict[str, Any]]] = []

    def __enter__(self) -> "FakeGitHub":
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                owner.requests.append((self.path, dict(self.headers), body))
                ok = self.headers.get("Authorization") == "Bearer t0ken"
                answer = {"html_url": "https://github.com/o/r/pull/7", "number": 7} if ok else {
                    "message": "Bad credentials"}
                data = json.dumps(answer).encode()
                self.send_response(201 if ok else 401)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@needs_coq
def test_a_pull_request_is_opened_with_its_body(tmp_path: Path) -> None:
    root = repo(tmp_path)
    with FakeGitHub() as gh:
        env = {"AUTOPROVE_GITHUB_API": gh.url, "AUTOPROVE_GITHUB_REPO": "o/r", "GITHUB_TOKEN": "t0ken"}
        r = prove(root, "--push", "origin", "--pr", env=env)
        assert r.returncode == 0 and "pull request: https://github.com/o/r/pull/7" in r.stdout, r
        ((path, headers, body),) = gh.requests
        bad = prove(root, "--push", "origin", "--pr", env={**env, "GITHUB_TOKEN": "wrong"})
    assert path == "/repos/o/r/pulls" and body["base"] == "main" and body["head"].startswith("auto-prove/main-")
    assert body["title"] == "auto-prove: 2 proof(s) on main"
    assert "| `A.v:2` | `a` |" in body["body"] and "### Verification" in body["body"] and "coqc" in body["body"]
    assert bad.returncode == 2 and "GitHub refused the pull request (401)" in bad.stderr, bad


@needs_coq
def test_bad_repository_states_are_refused_before_the_search(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "A.v").write_text(SOURCE)
    r = run_cli("prove", plain / "A.v", "--branch")
    assert r.returncode == 2 and "not in a git repository" in r.stderr, r
    root = repo(tmp_path)
    r = prove(root, "--push", "upstream")
    assert r.returncode == 2 and "no remote 'upstream'" in r.stderr and "origin" in r.stderr, r
    (root / "A.v").write_text(SOURCE + "\nLemma d : True.\nAdmitted.\n")
    r = prove(root)
    assert r.returncode == 2 and "changes not committed" in r.stderr and "A.v" in r.stderr, r
    git(root, "checkout", "-q", "A.v")
    git(root, "checkout", "-q", "--detach")
    r = prove(root)
    assert r.returncode == 2 and "HEAD is detached" in r.stderr, r
    git(root, "checkout", "-q", "main")
    assert git(root, "branch", "--list", "auto-prove/*") == "" and git(root, "status", "--porcelain") == ""
    for args in (("--write",), ("--pr",), ("--commit-per", "file")):
        r = prove(root, *args)
        assert r.returncode == 2, (args, r)
    r = run_cli("prove", root / "A.v", "--push", "origin")
    assert r.returncode == 2 and "--push needs --branch" in r.stderr


@needs_coq
def test_leanok_marks_go_in_the_same_commit(tmp_path: Path) -> None:
    """--leanok: in the worktree with the proofs in it, the project blueprint's marks are made true (checked by Coq
    there) and join the commit: `a` (now proved) is marked, `c` (still admitted) loses its false mark."""
    import importlib.util

    if importlib.util.find_spec("plasTeX") is None:  # never imported here: it replaces the logging logger class
        pytest.skip("plasTeX not installed")
    root = repo(tmp_path)
    src = root / "blueprint" / "src"
    src.mkdir(parents=True)
    (src / "web.tex").write_text("\\documentclass{report}\n\\usepackage{amsthm}\n\\usepackage{blueprint}\n"
                                 "\\newtheorem{lemma}{Lemma}\n\\begin{document}\n\\input{content}\n\\end{document}\n")
    content = ("\\begin{lemma}\\label{a}\\rocq{a}\nA.\n\\end{lemma}\n\\begin{proof}\nX.\n\\end{proof}\n\n"
               "\\begin{lemma}\\label{c}\\rocq{c}\\rocqok\nC.\n\\end{lemma}\n\\begin{proof}\\rocqok\nY.\n\\end{proof}\n")
    (src / "content.tex").write_text(content)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "blueprint")
    r = prove(root, "--leanok")
    assert r.returncode == 0, r
    branch = f"auto-prove/main-{git(root, 'rev-parse', 'HEAD')[:8]}"
    assert git(root, "show", "--format=", "--name-only", branch).splitlines() == ["A.v", "blueprint/src/content.tex"]
    marked = git(root, "show", f"{branch}:blueprint/src/content.tex")
    assert "\\label{a}\\rocqok\\rocq{a}" in marked and "\\begin{proof}\\rocqok\nX." in marked
    assert "\\begin{proof}\nY." in marked and (src / "content.tex").read_text() == content
