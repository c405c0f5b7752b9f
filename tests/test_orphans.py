"""Nothing is left behind when auto-prove dies (sidecar/procs.py), whatever kills it and whatever its children were
doing - paused by the CPU governor (SIGSTOP), compiling, or started outside its process tree.

Real processes throughout: the real `auto-prove` command, real coqidetop/coqc, real detached helpers (`setsid
sleep`, standing in for CoqHammer's ATPs, which a forked worker of coqidetop starts in sessions of their own).
The kill -9 runs come from tests/fault_harness.py (benchmarks/faults.py runs the same at full size).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import psutil
import pytest

import fault_harness as fh
from conftest import REPO, cli_env, copy_project, kill_tagged, run_cli, tagged_named, wait_gone

pytestmark = pytest.mark.skipif(shutil.which("coqidetop.opt") is None or shutil.which("coqc") is None,
                                reason="Coq (coqc, coqidetop.opt) not installed")

SEED = 6  # the kill moments of the fault-injection runs


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _wait_dead(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while True:
        left = [p for p in pids if _alive(p)]
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.05)


def _wait_stopped(pid: int, timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while psutil.Process(pid).status() != psutil.STATUS_STOPPED:
        assert time.monotonic() < deadline, f"{pid} did not stop"
        time.sleep(0.02)


def _owner(script: str, env: dict[str, str]) -> tuple[subprocess.Popen[str], list[int]]:
    """A Python process (the owner) running `script` with sidecar importable; it prints the pids it wants watched
    on one line, then sleeps until killed."""
    code = "import os, signal, subprocess, sys, time\n" + textwrap.dedent(script) + \
        "\nprint(*pids, flush=True)\ntime.sleep(600)\n"
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip(), f"the owner printed nothing (exit {proc.poll()})"
    return proc, [int(x) for x in line.split()]


# ------------------------------------------------------------------------------------------------ the mechanisms


def test_prover_outlives_the_thread_that_started_it(tmp_path: Path) -> None:
    """PR_SET_PDEATHSIG fires when the *thread* that forked the child ends: a prover started by a thread that then
    ends must still serve the next call, from another thread, without a crash or a restart."""
    from sidecar.provers.base import Environment
    from sidecar.provers.coq import CoqProver

    env = Environment(file=tmp_path / "T.v", backend="coq", focus=False,
                      sentences=("Require Import Arith Lia.", "Lemma t : forall n : nat, n + 0 = n."))
    prover = CoqProver()
    try:
        box: dict[str, object] = {}
        t = threading.Thread(target=lambda: box.update(root=prover.enter(env, timeout=60)))
        t.start()
        t.join()
        pids = prover.pids()
        assert "root" in box and pids
        time.sleep(0.5)  # the kernel's death signal, had it been armed for that thread, has landed by now
        assert all(_alive(p) for p in pids)
        r = prover.run(box["root"], "intros; lia", timeout=10)  # type: ignore[arg-type]
        assert r.outcome == "finished", r
        assert prover.stats.crashes == 0 and prover.stats.restarts == 0, prover.stats
        assert prover.pids() == pids
    finally:
        prover.close()


def test_children_die_with_their_owner_even_when_stopped() -> None:
    """A child started with `procs.spawn` and then paused (SIGSTOP, as the governor does) dies with its owner's
    kill -9; it runs in a session of its own, so nothing else would reach it."""
    env, tag = cli_env()
    owner, pids = _owner("""
        from sidecar.procs import spawn
        child = spawn(["sleep", "300"], start_new_session=True, stdin=subprocess.DEVNULL)
        os.kill(child.pid, signal.SIGSTOP)
        pids = [child.pid]
    """, env)
    try:
        _wait_stopped(pids[0])
        owner.kill()
        owner.wait(timeout=10)
        assert _wait_dead(pids, 2.0) == [], "the stopped child outlived its owner"
    finally:
        owner.kill()
        kill_tagged(tag)


def test_guardian_kills_helpers_that_left_the_tree() -> None:
    """A helper that left the owner's tree - its own session, its parent gone, paused - but carries the owner's
    tag (as CoqHammer's ATPs do) is killed as soon as the owner dies: `guard_tree`'s guardian sees to it."""
    env, tag = cli_env()
    owner, pids = _owner("""
        from sidecar.procs import guard_tree
        guard_tree()
        import psutil
        out = subprocess.run(["sh", "-c", "setsid sleep 300 >/dev/null 2>&1 & echo $!"], capture_output=True,
                             text=True, check=True)
        helper = psutil.Process(int(out.stdout))
        while helper.name() != "sleep":  # setsid has exec'd
            time.sleep(0.01)
        time.sleep(0.1)
        helper.suspend()
        pids = [helper.pid]
    """, env)
    try:
        helper = psutil.Process(pids[0])
        assert helper.ppid() != owner.pid
        _wait_stopped(helper.pid)
        owner.kill()
        owner.wait(timeout=10)
        assert _wait_dead(pids, 2.0) == [], "the helper outside the tree outlived its owner"
        assert wait_gone(tag, 2.0) == [], "the guardian did not end"
    finally:
        owner.kill()
        kill_tagged(tag)


def test_lean_repl_and_lake_die_with_their_owner(tmp_path: Path) -> None:
    """The Lean REPL runs under `lake env` (the stand-in toolchain, tests/lean_standin, spawns it as Lake does): `lake`
    is started through `procs.spawn`, the REPL, its child, is not - with both paused, the owner's kill -9 ends both
    (the REPL through the guardian)."""
    pytest.importorskip("lean_interact")
    from lean_standin import repl as standin

    project = standin.make_project(tmp_path / "project")
    (project / "A.lean").write_text("def f : Nat := by sorry")
    env, tag = cli_env({"AUTOPROVE_LAKE": str(Path(__file__).resolve().parent / "lean_standin" / "lake"),
                        "AUTOPROVE_LEAN_REPL": str(standin.make_checkout(tmp_path / "repl"))})
    owner, pids = _owner(f"""
        from pathlib import Path
        from sidecar.procs import guard_tree
        from sidecar.provers.base import Environment
        from sidecar.provers.lean import LeanProver
        guard_tree()
        f = Path({str(project / "A.lean")!r})
        prover = LeanProver()
        prover.enter(Environment(file=f, backend="lean", source=f.read_text(), placeholder=(18, 23)), timeout=30)
        pids = prover.pids()
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
    """, env)
    try:
        assert len(pids) >= 2, pids  # lake and the REPL
        for pid in pids:
            _wait_stopped(pid)
        owner.kill()
        owner.wait(timeout=10)
        assert _wait_dead(pids, 2.0) == [], [(p, psutil.Process(p).name()) for p in pids if _alive(p)]
    finally:
        owner.kill()
        kill_tagged(tag)


def test_start_sweeps_what_dead_owners_left_and_nothing_else(tmp_path: Path) -> None:
    """`auto-prove prove` first kills what an auto-prove that died left behind (its guardian gone too: here the
    owner never had one) - stopped helpers included - and removes its temporary folders, but never touches a live
    owner's processes or folders, an auto-prove process itself, or anything without a tag."""
    from sidecar.procs import TREE_VAR, process_tag

    dead = subprocess.Popen(["sleep", "0.1"])
    dead_tag = process_tag(dead.pid)
    dead.wait()
    live = subprocess.Popen(["sleep", "300"])
    live_tag = process_tag(live.pid)
    env, tag = cli_env()

    def detached(owner_tag: str | None, argv0: str = "sleep") -> int:
        e = dict(env)
        e.pop(TREE_VAR, None)
        if owner_tag:
            e[TREE_VAR] = owner_tag
        out = subprocess.run(["bash", "-c", f"setsid bash -c 'exec -a {argv0} sleep 300' >/dev/null 2>&1 & "
                              "echo $!"], env=e, capture_output=True, text=True, check=True)
        p = psutil.Process(int(out.stdout))
        deadline = time.monotonic() + 5
        while p.name() != "sleep":  # setsid and bash have exec'd
            assert time.monotonic() < deadline, p
            time.sleep(0.01)
        return p.pid

    orphan = detached(dead_tag)
    psutil.Process(orphan).suspend()
    running_orphan = detached(dead_tag)
    of_live_owner = detached(live_tag)
    looks_like_auto_prove = detached(dead_tag, argv0="auto-prove")
    untagged = detached(None)
    dead_folder = Path(tempfile.mkdtemp(prefix=f"autoprove_coqc_{dead_tag}_"))
    live_folder = Path(tempfile.mkdtemp(prefix=f"autoprove_coqc_{live_tag}_"))
    (dead_folder / "Dead.v").write_text("(* left by a kill -9 *)\n")
    try:
        time.sleep(0.2)
        _wait_stopped(orphan)
        f = tmp_path / "Done.v"
        f.write_text("Lemma done : True.\nProof. exact I. Qed.\n")
        run = run_cli("prove", f, "--budget", "5")
        assert run.returncode == 0, run
        assert _wait_dead([orphan, running_orphan], 2.0) == [], run
        for pid in (of_live_owner, looks_like_auto_prove, untagged):
            assert _alive(pid), f"{pid} was killed"
        assert not dead_folder.exists() and live_folder.is_dir()
    finally:
        for pid in (orphan, running_orphan, of_live_owner, looks_like_auto_prove, untagged, live.pid):
            try:
                os.kill(pid, signal.SIGCONT)
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        live.wait()
        kill_tagged(tag)
        shutil.rmtree(dead_folder, ignore_errors=True)
        shutil.rmtree(live_folder, ignore_errors=True)


def test_sweep_is_cheap() -> None:
    """The sweep at every start reads /proc of this user's processes only: a few milliseconds."""
    from sidecar.procs import sweep_orphans

    sweep_orphans()
    t0 = time.perf_counter()
    for _ in range(10):
        sweep_orphans()
    per_sweep = (time.perf_counter() - t0) / 10
    n = len(psutil.pids())
    print(f"sweep: {per_sweep * 1000:.2f} ms over {n} processes")
    assert per_sweep < 0.05 + n * 0.0002


# ------------------------------------------------------------------------------------------------ from outside


@pytest.mark.timeout(240)
@pytest.mark.parametrize("cpu", fh.CPUS)
@pytest.mark.parametrize("mode", fh.MODES)
def test_kill_9_at_a_random_moment(mode: str, cpu: float, tmp_path: Path) -> None:
    """`auto-prove prove` / `auto-prove lsp` (both files open) killed with SIGKILL at a seeded random moment: 2 s
    later no process of the run is alive (paused provers included), the ledger is intact, and a re-run repeats
    no finished goal and loses no result."""
    delay = fh.delays(SEED, mode, cpu, 1, high=10.0)[0]
    r = fh.kill_run(mode, cpu, delay, tmp_path)
    print(r)
    assert r.killed, f"the run ended before the kill: {r}"
    assert r.left == [], f"processes left behind: {r}"
    assert r.integrity == "ok" and not r.ledger_problems, r
    assert r.rows_lost == 0 and r.repeated == 0 and not r.rerun_problems, r


@pytest.mark.timeout(120)
@pytest.mark.parametrize("how", ["stdin closed", "SIGTERM", "SIGHUP"])
def test_language_server_ends_cleanly(how: str, tmp_path: Path) -> None:
    """An editor that goes away - closes the server's stdin, or sends SIGTERM or SIGHUP - while provers are paused
    or busy: the server ends promptly, leaves no process behind and removes its endpoint file."""
    proj = copy_project(fh.PROJECT, tmp_path / "proj")
    env, tag = cli_env()
    proc = fh._start("lsp", 0.1, proj, env, tmp_path / "lsp.err")
    try:
        deadline = time.monotonic() + 60
        while not tagged_named(tag, "coqidetop"):
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "lsp.err").read_text()
            time.sleep(0.1)
        time.sleep(1.0)
        assert (proj / ".auto-prove" / "endpoint.json").exists()
        if how == "stdin closed":
            assert proc.stdin is not None
            proc.stdin.close()
        else:
            proc.send_signal(getattr(signal, how))
        proc.wait(timeout=30)
        left = wait_gone(tag, 2.0)
        assert left == [], [(p.pid, p.name()) for p in left]
        assert not (proj / ".auto-prove" / "endpoint.json").exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        kill_tagged(tag)
