"""kill -9 at a random moment, seen from outside: one run of `auto-prove prove` or of `auto-prove lsp` (with both
files of the project open) on a copy of tests/fixtures/cli/orphans, at a CPU target, SIGKILLed after a seeded
random delay - only the auto-prove process, as the OOM killer or a crashing editor would - and then what it left:

- processes of the run alive 2 s after the kill, found three ways: by the run's environment tag (inherited by
  everything it started), by parent (its descendants listed just before the kill) and by name (prover, coqc and ATP
  processes whose command line names the project's folder); zombies waiting for init to reap them are dead;
- the ledger: opens, `PRAGMA integrity_check` is ok, every proved row has its proof;
- a re-run (`prove`, a 1 s budget, so goals left open are quick and goals exhausted at the run's budget are reused):
  the attempts of a goal finished before the kill must not grow, and no finished row may be lost or changed.

Used by tests/test_orphans.py (a few kills) and benchmarks/faults.py (the full table).
"""

from __future__ import annotations

import json
import random
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from conftest import REPO, cli_env, copy_project, kill_tagged, read_ledger, run_cli, tagged_processes

PROJECT = "orphans"
BUDGET = 4  # seconds per goal: the false goals use all of it, so a prove run lasts 10-30 s
RERUN_BUDGET = 1
DONE = ("proved", "exhausted", "timeout")
HELPER_NAMES = ("coqidetop", "coqc", "coqtop", "coqworker", "htimeout", "eprover", "cvc4", "z3", "vampire", "lake",
                "repl")
MODES = ("prove", "lsp")
CPUS = (0.1, 0.5, 1.0)


@dataclass
class KillRun:
    """What one killed run left behind."""

    mode: str
    cpu: float
    delay: float
    killed: bool = False  # False: the run had ended on its own before the delay
    alive_at_kill: int = 0  # processes of the run (besides auto-prove itself) when it was killed
    stopped_at_kill: int = 0  # ... of which paused by the CPU governor (state T)
    left: list[str] = field(default_factory=list)  # processes of the run alive 2 s after the kill
    integrity: str = ""
    ledger_problems: list[str] = field(default_factory=list)
    finished: int = 0  # goals finished (proved/exhausted/timeout) in the ledger at the kill
    proved: int = 0
    rows_lost: int = 0  # finished rows missing or changed after the re-run
    repeated: int = 0  # finished goals the re-run searched again (attempts grew)
    rerun_problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return (not self.left and self.integrity == "ok" and not self.ledger_problems and not self.rows_lost
                and not self.repeated and not self.rerun_problems)

    def __str__(self) -> str:
        return (f"{self.mode} cpu={self.cpu} killed after {self.delay:.1f}s (killed={self.killed}, "
                f"{self.alive_at_kill} children, {self.stopped_at_kill} stopped): left={self.left} "
                f"integrity={self.integrity!r} ledger={self.ledger_problems} finished={self.finished} "
                f"proved={self.proved} lost={self.rows_lost} repeated={self.repeated} rerun={self.rerun_problems}")


def delays(seed: int, mode: str, cpu: float, runs: int, low: float = 0.3, high: float = 14.0) -> list[float]:
    """The seeded kill moments (seconds after start) of `runs` runs of one setting."""
    rng = random.Random(f"{seed}/{mode}/{cpu}")
    return [round(rng.uniform(low, high), 2) for _ in range(runs)]


def _lsp_frame(obj: object) -> bytes:
    body = json.dumps(obj).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def _start(mode: str, cpu: float, proj: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    err = open(log, "wb")
    if mode == "prove":
        return subprocess.Popen([sys.executable, "-m", "sidecar", "prove", str(proj), "--budget", str(BUDGET),
                                 "--cpu", str(cpu)], cwd=REPO, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err)
    proc = subprocess.Popen([sys.executable, "-m", "sidecar", "lsp"], cwd=proj, env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=err)
    assert proc.stdin is not None
    msgs: list[object] = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize",
         "params": {"processId": None, "rootUri": proj.as_uri(), "capabilities": {},
                    "initializationOptions": {"autoProve": {"cpuTarget": cpu, "budgetSeconds": BUDGET}}}},
        {"jsonrpc": "2.0", "method": "initialized", "params": {}},
    ]
    for name in ("O1.v", "O2.v"):
        f = proj / name
        msgs.append({"jsonrpc": "2.0", "method": "textDocument/didOpen",
                     "params": {"textDocument": {"uri": f.as_uri(), "languageId": "coq", "version": 1,
                                                 "text": f.read_text()}}})
    proc.stdin.write(b"".join(_lsp_frame(m) for m in msgs))
    proc.stdin.flush()
    return proc


def _alive(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _describe(p: psutil.Process) -> str:
    try:
        return f"{p.pid} {p.name()} ({p.status()}, parent {p.ppid()})"
    except psutil.Error:
        return str(p.pid)


def left_behind(tag: str, descendants: list[psutil.Process], folder: Path) -> list[psutil.Process]:
    """Live processes of the run: by its environment tag, by parent (`descendants`), by name and folder."""
    found = {p.pid: p for p in tagged_processes(tag) if _alive(p)}
    found.update({p.pid: p for p in descendants if _alive(p)})
    needle = str(folder)
    for p in psutil.process_iter(["name", "cmdline"]):
        try:
            name = p.info["name"] or ""
            if any(name.startswith(h) for h in HELPER_NAMES) and needle in " ".join(p.info["cmdline"] or ()) \
                    and _alive(p):
                found[p.pid] = p
        except psutil.Error:
            continue
    return list(found.values())


def check_ledger(proj: Path) -> tuple[str, list[str]]:
    """(`PRAGMA integrity_check` answer, consistency problems) of the project's ledger ("ok", [] when none yet)."""
    path = proj / ".auto-prove" / "ledger.sqlite"
    if not path.exists():
        return "ok", []
    db = sqlite3.connect(str(path), timeout=30)
    try:
        integrity = "; ".join(r[0] for r in db.execute("PRAGMA integrity_check").fetchall())
        problems = []
        try:
            for key, lemma, status, proof, attempts in db.execute(
                    "SELECT key, lemma, status, proof, attempts FROM goals"):
                if status == "proved" and not proof:
                    problems.append(f"{lemma}: proved without a proof")
                if attempts < 0:
                    problems.append(f"{lemma}: {attempts} attempts")
        except sqlite3.OperationalError as e:
            if "no such table" not in str(e):
                problems.append(str(e))
    finally:
        db.close()
    return integrity, problems


def kill_run(mode: str, cpu: float, delay: float, workdir: Path, rerun: bool = True) -> KillRun:
    """Start `mode` at `cpu` on a fresh copy of the project under `workdir`, kill -9 it after `delay` s, and
    check what it left behind (see the module docstring)."""
    t0 = time.monotonic()
    out = KillRun(mode, cpu, delay)
    proj = copy_project(PROJECT, workdir / "proj")
    env, tag = cli_env()
    proc = _start(mode, cpu, proj, env, workdir / "run.err")
    try:
        start = time.monotonic()
        while proc.poll() is None and time.monotonic() < start + delay:
            time.sleep(0.02)
        if proc.poll() is None:
            try:
                descendants = psutil.Process(proc.pid).children(recursive=True)
                states = [p.status() for p in descendants if _alive(p)]
            except psutil.Error:
                descendants, states = [], []
            proc.kill()  # SIGKILL, to auto-prove alone
            killed_at = time.monotonic()
            proc.wait(timeout=30)
            out.killed = True
            out.alive_at_kill = len(states)
            out.stopped_at_kill = sum(s == psutil.STATUS_STOPPED for s in states)
            time.sleep(max(0.0, killed_at + 2.0 - time.monotonic()))
            out.left = [_describe(p) for p in left_behind(tag, descendants, proj)]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        kill_tagged(tag)  # whatever is left must not disturb the next run (it is counted above)
    out.integrity, out.ledger_problems = check_ledger(proj)
    rows, counts = read_ledger(proj)
    finished = {k: r for k, r in rows.items() if r.status in DONE}
    out.finished, out.proved = len(finished), sum(r.status == "proved" for r in finished.values())
    if rerun:
        report = workdir / "rerun.json"
        run = run_cli("prove", proj, "--budget", RERUN_BUDGET, "--cpu", "1.0", "--json", report, timeout=300)
        if run.returncode != 0:
            out.rerun_problems.append(f"re-run exited {run.returncode}: {run.stderr[-500:]}")
        if run.stragglers:
            out.rerun_problems.append(f"re-run left {run.stragglers}")
        rows2, counts2 = read_ledger(proj)
        for key, r in finished.items():
            r2 = rows2.get(key)
            if r2 is None or (r2.status, r2.proof) != (r.status, r.proof):
                out.rows_lost += 1
            if counts2.get(key, 0) > counts.get(key, 0):
                out.repeated += 1
        if report.exists():
            by_name = {g["name"]: g for g in json.loads(report.read_text())["goals"]}
            for r in finished.values():
                if r.status == "proved" and by_name.get(r.lemma, {}).get("status") != "proved":
                    out.rerun_problems.append(f"{r.lemma} was proved before the kill, not after the re-run")
    out.seconds = time.monotonic() - t0
    return out
