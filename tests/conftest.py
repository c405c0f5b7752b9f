"""Shared helpers for the end-to-end CLI tests (tests/test_cli.py, test_resume.py, test_faults.py).

They drive the real `auto-prove` command as a subprocess (`python -m sidecar ...`) against real Coq, on copies
of the projects under tests/fixtures/cli/ made in tmp_path (never in the repository).

Every CLI subprocess gets a unique `AUTOPROVE_TEST_TAG` in its environment. Its children inherit it (coqidetop,
coqc, wrapper scripts), so after a run - or after a kill -9 of the CLI, when the children have been reparented -
the processes that belong to that run are found exactly, without touching anyone else's provers.

They run the deterministic profile 0 unless a test asks for another (`cli_env`): the command line's default, profile 1,
has its own tests in test_learning.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import psutil
import pytest

REPO = Path(__file__).resolve().parent.parent
CLI_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "cli"
TAG_VAR = "AUTOPROVE_TEST_TAG"
PROFILE_VAR = "AUTOPROVE_PROFILE"  # the CLI's profile when --profile is not given
_SESSION_TAG = uuid.uuid4().hex[:12]


def cli_env(extra: dict[str, str] | None = None) -> tuple[dict[str, str], str]:
    """Environment for one CLI subprocess (wide, colourless output) and its unique process tag."""
    env = dict(os.environ)
    for var in ("FORCE_COLOR", "CLICOLOR_FORCE", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        env.pop(var, None)
    env["NO_COLOR"] = "1"
    env["COLUMNS"] = "400"  # rich wraps at 80 columns without a terminal; keep each message on its line
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    tag = f"{_SESSION_TAG}-{uuid.uuid4().hex[:8]}"
    env[TAG_VAR] = tag
    # the deterministic profile unless a test asks for another (`--profile`, or PROFILE_VAR in `extra`; "" there
    # means the command's own default): these tests are about the command, not about learning (test_learning.py), and
    # profile 1 would replay the standard library's Arith on a fresh machine first
    env[PROFILE_VAR] = "0"
    if extra:
        env.update(extra)
    if not env.get(PROFILE_VAR):
        env.pop(PROFILE_VAR, None)
    return env, tag


def tagged_processes(tag: str) -> list[psutil.Process]:
    """Live (non-zombie) processes whose environment carries `tag` (prefix match)."""
    found = []
    me = os.getpid()
    for p in psutil.process_iter(["pid"]):
        if p.pid == me:
            continue
        try:
            if p.status() == psutil.STATUS_ZOMBIE:
                continue
            if p.environ().get(TAG_VAR, "").startswith(tag):
                found.append(p)
        except (psutil.Error, OSError):
            continue
    return found


def tagged_named(tag: str, prefix: str) -> list[psutil.Process]:
    """The tagged processes whose name starts with `prefix` (one that exits while being looked at is not one)."""
    out = []
    for p in tagged_processes(tag):
        try:
            if p.name().startswith(prefix):
                out.append(p)
        except psutil.Error:
            continue
    return out


def tagged_cmdlines(tag: str) -> list[list[str]]:
    """Command lines of the tagged processes still alive when read."""
    out = []
    for p in tagged_processes(tag):
        try:
            out.append(p.cmdline())
        except psutil.Error:
            continue
    return out


def wait_gone(tag: str, timeout: float) -> list[psutil.Process]:
    """Wait until no process carries `tag`; return those still alive after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        left = tagged_processes(tag)
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.2)


def kill_tagged(tag: str) -> list[str]:
    """SIGKILL every process carrying `tag`; return descriptions of what was killed."""
    killed = []
    for p in tagged_processes(tag):
        try:
            killed.append(f"{p.pid} {p.name()} {' '.join(p.cmdline()[:4])}")
            p.kill()
        except psutil.Error:
            continue
    return killed


@dataclass
class CliRun:
    """What one `auto-prove` invocation did."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    tag: str
    stragglers: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (f"$ auto-prove {' '.join(self.args)}\nexit {self.returncode} after {self.seconds:.1f} s\n"
                f"--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}\n"
                + (f"--- stragglers ---\n{self.stragglers}\n" if self.stragglers else ""))

    def error_lines(self) -> list[str]:
        """stderr lines that report an error or a warning."""
        return [ln for ln in self.stderr.splitlines() if ln.startswith(("error:", "warning:", "ERROR", "WARNING"))]


def run_cli(*args: object, env: dict[str, str] | None = None, timeout: float = 240.0,
            straggler_wait: float = 15.0) -> CliRun:
    """Run `python -m sidecar ARGS` to completion; the result's `stragglers` lists any process of the run that
    outlived it (they are killed). The run is printed, so pytest shows it when a test fails."""
    argv = [str(a) for a in args]
    full_env, tag = cli_env(env)
    t0 = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, "-m", "sidecar", *argv], cwd=REPO, env=full_env,
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        killed = kill_tagged(tag)
        pytest.fail(f"auto-prove {' '.join(argv)} did not finish within {timeout} s (killed {killed})\n"
                    f"stdout: {e.stdout!r}\nstderr: {e.stderr!r}")
    seconds = time.monotonic() - t0
    left = wait_gone(tag, straggler_wait)
    stragglers = kill_tagged(tag) if left else []
    run = CliRun(argv, proc.returncode, proc.stdout, proc.stderr, seconds, tag, stragglers)
    print(run)
    return run


@pytest.fixture
def cli() -> Callable[..., CliRun]:
    """`cli(*args, env=..., timeout=...)` runs auto-prove and returns a CliRun."""
    return run_cli


def copy_project(name: str, dest: Path) -> Path:
    """Copy tests/fixtures/cli/<name> to `dest` (which must not exist) and return it."""
    shutil.copytree(CLI_FIXTURES / name, dest)
    return dest


@pytest.fixture
def project(tmp_path: Path) -> Callable[[str], Path]:
    """`project("small")` copies a fixture project into tmp_path and returns its folder."""

    def make(name: str, as_name: str | None = None) -> Path:
        return copy_project(name, tmp_path / (as_name or Path(name).name))

    return make


def read_json(path: Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def goals_by_name(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The `prove --json` rows keyed by lemma name (the fixtures use each name once)."""
    rows = doc["goals"]
    by = {g["name"]: g for g in rows}
    assert len(by) == len(rows), f"duplicate lemma names in {rows}"
    return by


@dataclass(frozen=True)
class LedgerRow:
    key: str
    file: str
    lemma: str
    line: int
    status: str
    attempts: int
    file_digest: str
    message: str
    proof: str | None
    updated: float


def ledger_path(project_dir: Path) -> Path:
    return Path(project_dir) / ".auto-prove" / "ledger.sqlite"


def read_ledger(project_dir: Path) -> tuple[dict[str, LedgerRow], dict[str, int]]:
    """(goal rows by key, recorded attempts per key) straight from the SQLite file, or ({}, {}) if absent/empty."""
    path = ledger_path(project_dir)
    if not path.exists():
        return {}, {}
    db = sqlite3.connect(str(path), timeout=30)
    try:
        try:
            rows = db.execute("SELECT key, file, lemma, line, status, attempts, file_digest, message, proof, updated"
                              " FROM goals").fetchall()
            counts = dict(db.execute("SELECT key, COUNT(*) FROM attempts GROUP BY key").fetchall())
        except sqlite3.OperationalError as e:  # tables not created yet
            if "no such table" in str(e):
                return {}, {}
            raise
    finally:
        db.close()
    return {r[0]: LedgerRow(*r) for r in rows}, counts


def sha256_file(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture(scope="session", autouse=True)
def _no_leftover_provers() -> Iterator[None]:
    """Safety net: whatever a CLI test started and left behind is killed at the end of the session."""
    yield
    kill_tagged(_SESSION_TAG)


class RawLsp:
    """`python -m sidecar lsp` as a subprocess spoken to with hand-made LSP frames (for malformed input, precise
    timing of shutdown, and tests that need no client library). `send` writes one message (or raw bytes)."""

    def __init__(self, env: dict[str, str], cwd: Path | None = None, stdout: Any = subprocess.DEVNULL) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "sidecar", "lsp"], stdin=subprocess.PIPE,
                                     stdout=stdout, stderr=subprocess.DEVNULL, env=env, cwd=cwd)

    def send(self, obj: Any, raw: bytes | None = None) -> None:
        body = raw if raw is not None else json.dumps(obj).encode()
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def initialize(self, root: Path) -> None:
        self.send({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                   "params": {"capabilities": {}, "rootUri": root.as_uri(), "processId": None}})
        self.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})

    def shutdown(self, timeout: float = 30) -> None:
        self.send({"jsonrpc": "2.0", "id": 999999, "method": "shutdown"})
        self.send({"jsonrpc": "2.0", "method": "exit"})
        self.proc.wait(timeout=timeout)

    def read(self) -> dict[str, Any]:
        """The next message the server sends (needs `stdout=subprocess.PIPE`)."""
        out = self.proc.stdout
        assert out is not None
        header = b""
        while not header.endswith(b"\r\n\r\n"):
            ch = out.read(1)
            if not ch:
                raise EOFError("the server closed its output")
            header += ch
        n = int(header.split(b"Content-Length:")[1].split(b"\r\n")[0])
        return json.loads(out.read(n))

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):  # type: ignore[no-untyped-def]
    """Each phase's report on the test item (`item.rep_call`), so fixtures can keep artifacts of failed tests."""
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
