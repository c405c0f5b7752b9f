"""Goals as Dask tasks (sidecar/cluster.py), on real Dask clusters of real worker processes running real coqidetop:
a LocalCluster of 2 workers gives the bank's results of one machine; a worker killed mid-run loses only its goal in
flight, which another worker searches again; a scheduler reached by address (`tcp://`) with a worker whose Coq is
another version is refused, before any goal is sent, naming the worker; a kill -9 of `prove --cluster` leaves no
worker and no prover behind."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from conftest import REPO, cli_env, read_json, run_cli, tagged_named, wait_gone

pytest.importorskip("distributed")
pytestmark = [pytest.mark.skipif(shutil.which("coqidetop.opt") is None, reason="Coq not installed"),
              pytest.mark.timeout(300)]

EASY = """\
Require Import Arith Lia.

Lemma add_zero : forall n : nat, n + 0 = n.
Proof. Admitted.

Lemma add_comm' : forall a b : nat, a + b = b + a.
Proof. Admitted.

Lemma le_double : forall n : nat, n <= n + n.
Proof. Admitted.

Lemma mul_one : forall n : nat, n * 1 = n.
Proof. Admitted.
"""

# one goal no search closes: its worker is busy for the whole budget, long enough to be killed mid-search
HARD = """\
Require Import Arith Lia.

Lemma collatz_like : forall n : nat, exists k, Nat.pow 2 k > n * n * n + 7 * n + 3.
Proof. Admitted.

Lemma add_zero_again : forall n : nat, 0 + n = n.
Proof. Admitted.
"""


def _project(tmp: Path, files: dict[str, str]) -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "_CoqProject").write_text("-R . P\n" + "".join(f"{n}\n" for n in files), encoding="utf-8")
    for name, text in files.items():
        (tmp / name).write_text(text, encoding="utf-8")
    return tmp


def _goals(root: Path):  # type: ignore[no-untyped-def]
    from sidecar.workspace import collect_files, discover

    goals, problems = discover(collect_files([root]), "coq")
    assert not problems, problems
    return goals


def test_bank_on_two_workers_gives_the_results_of_one_machine(tmp_path: Path) -> None:
    args = ("bank", "--profile", "0", "--difficulty", "easy", "--limit", "5", "--budget", "10", "--golf", "0")
    local = run_cli(*args, "--json", tmp_path / "local.json", timeout=240)
    assert local.returncode == 0, local
    cluster = run_cli(*args, "--cluster", "local:2", "--cpu", "1.0", "--json", tmp_path / "cluster.json",
                      timeout=240)
    assert cluster.returncode == 0, cluster
    assert not local.stragglers and not cluster.stragglers

    def solved(path: Path) -> dict[str, bool]:
        return {g["name"]: g["status"] == "proved" and g["verified"] for g in read_json(path)["goals"]}

    a, b = solved(tmp_path / "local.json"), solved(tmp_path / "cluster.json")
    assert a == b and sum(a.values()) >= 4, (a, b)


def test_prove_on_a_local_cluster_writes_the_ledger_as_one_machine_does(tmp_path: Path) -> None:
    """The proofs found by the workers land in the project's ledger: a second run (without a cluster) reuses them."""
    root = _project(tmp_path / "p", {"Easy.v": EASY + "\nDefinition data : nat.\nAdmitted.\n"})
    first = run_cli("prove", root, "--budget", "10", "--golf", "0", "--cluster", "local:2", "--json",
                    tmp_path / "r1.json")
    assert first.returncode == 0, first
    assert "cluster local:2: 2 worker(s)" in first.stdout
    doc = read_json(tmp_path / "r1.json")
    assert doc["summary"]["proved"] == 4 and doc["summary"]["skipped"] == 1, doc  # a definition is never sent
    assert [g["status"] for g in doc["goals"] if g["name"] == "data"] == ["skipped"]
    doc["goals"] = [g for g in doc["goals"] if g["name"] != "data"]
    second = run_cli("prove", root, "--budget", "10", "--json", tmp_path / "r2.json")
    assert second.returncode == 0, second
    again = read_json(tmp_path / "r2.json")
    assert again["summary"]["proved"] == 4
    again["goals"] = [g for g in again["goals"] if g["name"] != "data"]
    assert all(g["attempts"] == h["attempts"] for g, h in zip(doc["goals"], again["goals"])), "searched again"
    from sidecar.ledger import Ledger

    led = Ledger(root)
    try:
        assert led.attempt_count() > 0  # the workers' attempts came back with their outcomes
        assert all(r.verified for r in led.goals() if r.status == "proved")
    finally:
        led.close()


def test_a_worker_killed_mid_run_loses_only_its_goal_in_flight(tmp_path: Path) -> None:
    from sidecar.cluster import Cluster
    from sidecar.ledger import Ledger
    from sidecar.scheduler import ProveOptions

    root = _project(tmp_path / "p", {"Hard.v": HARD, "Easy.v": EASY})
    goals = _goals(root)
    hard = next(i for i, g in enumerate(goals) if g.lemma == "collatz_like")
    ledger = Ledger(root)
    results: list = []
    killed: list[int] = []
    with Cluster("local:2", cpu=1.0) as pool:  # 0.5 of the machine each
        pids = pool.client.run(os.getpid)

        def on_event(kind: str, out) -> None:  # type: ignore[no-untyped-def]
            if kind == "started" and out.goal.lemma == "collatz_like" and not killed:
                threading.Thread(target=kill_the_searcher, daemon=True).start()

        def kill_the_searcher() -> None:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not killed:  # the worker whose coqidetop searches it
                for pid in pids.values():
                    try:
                        busy = [c for c in psutil.Process(pid).children(recursive=True)
                                if c.name().startswith("coqidetop")]
                    except psutil.Error:
                        continue
                    if busy and time.monotonic() > 0:
                        time.sleep(1.0)  # well into the search
                        os.kill(pid, signal.SIGKILL)
                        killed.append(pid)
                        return
                time.sleep(0.1)

        opts = ProveOptions(budget=6.0, golf_seconds=0.0, tickets=False, profile=0)
        outs = pool.run(goals, opts, ledger, on_event=on_event, results=results)
    ledger.close()
    assert killed, "no worker was killed"
    assert len(outs) == len(goals)
    by = {o.goal.lemma: o for o in outs}
    assert by["collatz_like"].status in ("exhausted", "timeout"), by["collatz_like"]  # searched again, to the end
    assert all(by[n].status == "proved" and by[n].verified for n in by if n != "collatz_like"), by
    # the dead worker's provers died with it
    assert not [p for p in psutil.process_iter(["name", "ppid"]) if p.info["ppid"] in killed]
    assert hard >= 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=REPO)


def _wait_workers(address: str, n: int) -> None:
    from distributed import Client

    with Client(address, timeout=60) as c:
        c.wait_for_workers(n, timeout=90)


def test_a_scheduler_address_and_a_worker_with_another_coq(tmp_path: Path) -> None:
    """`--cluster tcp://…` proves on the workers of a running scheduler; a worker whose Coq is another version is
    a clear error before any goal is sent."""
    root = _project(tmp_path / "p", {"Easy.v": EASY})
    env, tag = cli_env()
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    fake = tmp_path / "otherbin"
    fake.mkdir()
    real = shutil.which("coqc")
    (fake / "coqc").write_text("#!/bin/sh\n[ \"$1\" = --print-version ] && { echo '8.17.1 4.14.1'; exit 0; }\n"
                               f"exec {real} \"$@\"\n", encoding="utf-8")
    (fake / "coqc").chmod(0o755)
    procs = [_start([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port",
                     str(port), "--no-dashboard"], env, tmp_path / "scheduler.log")]
    try:
        procs.append(_start([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
                             "--no-dashboard", "--name", "good"], env, tmp_path / "good.log"))
        _wait_workers(address, 1)
        ok = run_cli("prove", root, "--budget", "10", "--golf", "0", "--cluster", address, "--json",
                     tmp_path / "r.json", straggler_wait=0.5)
        assert ok.returncode == 0, ok
        assert read_json(tmp_path / "r.json")["summary"]["proved"] == 4
        # Ctrl-C: the workers' searches end at once (a running Dask task cannot be killed; the run's cancel event
        # withdraws its goal), and the worker is free for the next run
        hard = _project(tmp_path / "h", {"Hard.v": HARD})
        henv, htag = cli_env()
        run = subprocess.Popen([sys.executable, "-m", "sidecar", "prove", str(hard), "--budget", "120", "--cluster",
                                address], cwd=REPO, env=henv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        from distributed import Client

        with Client(address, timeout=60) as watch:
            deadline = time.monotonic() + 60
            while not any(watch.processing().values()):
                assert run.poll() is None and time.monotonic() < deadline, "the goal never reached the worker"
                time.sleep(0.2)
            time.sleep(2.0)
            run.send_signal(signal.SIGINT)
            assert run.wait(timeout=30) == 130
            t0 = time.monotonic()
            while any(watch.processing().values()):
                assert time.monotonic() - t0 < 10, f"still searching after Ctrl-C: {watch.processing()}"
                time.sleep(0.2)
        other = dict(env, PATH=f"{fake}{os.pathsep}{env['PATH']}")
        procs.append(_start([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
                             "--no-dashboard", "--name", "other"], other, tmp_path / "other.log"))
        _wait_workers(address, 2)
        bad = run_cli("prove", root, "--budget", "10", "--fresh", "--cluster", address, straggler_wait=0.5)
        assert bad.returncode == 2, bad
        assert "do not see the project as this machine does" in bad.stderr
        assert "coq toolchain '8.17.1 4.14.1' there, '8.16" in bad.stderr.replace("\n", " ") or \
            "toolchain '8.17.1 4.14.1' there" in bad.stderr, bad.stderr
        unreachable = run_cli("prove", root, "--cluster", f"tcp://127.0.0.1:{_free_port()}", straggler_wait=0.5,
                              env={"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "3s"})
        assert unreachable.returncode == 2 and "cannot use the cluster" in unreachable.stderr, unreachable
        bad_spec = run_cli("prove", root, "--cluster", "local:0")
        assert bad_spec.returncode == 2 and "local:N needs a number of workers" in bad_spec.stderr
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
    assert not wait_gone(tag, 20)


def test_kill_9_of_prove_on_a_local_cluster_leaves_nothing(tmp_path: Path) -> None:
    root = _project(tmp_path / "p", {"Hard.v": HARD})
    env, tag = cli_env()
    proc = subprocess.Popen([sys.executable, "-m", "sidecar", "prove", str(root), "--budget", "60", "--cluster",
                             "local:2"], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while not tagged_named(tag, "coqidetop"):
            assert proc.poll() is None and time.monotonic() < deadline, "no worker started a prover"
            time.sleep(0.2)
        time.sleep(1.0)
        proc.kill()
        proc.wait(timeout=10)
        left = wait_gone(tag, 30)
        assert not left, [(p.pid, p.name()) for p in left]
    finally:
        if proc.poll() is None:
            proc.kill()


def test_the_workers_check_names_what_differs(tmp_path: Path) -> None:
    """What a worker compares before it takes goals (run on this machine, as a worker runs it): the same project
    passes; a file changed, a file missing, the project elsewhere and another Coq are each named."""
    from sidecar.cluster import WorkerCheck, check_here
    from sidecar.fingerprint import Fingerprint

    root = _project(tmp_path / "p", {"Easy.v": EASY, "Hard.v": HARD})
    expected = WorkerCheck.here(root, ["coq"])
    assert check_here(expected) == []
    (root / "Easy.v").write_text(EASY + "\n(* edited *)\n", encoding="utf-8")
    (root / "Hard.v").unlink()
    problems = check_here(expected)
    assert "1 project file(s) differ from the client's: Easy.v" in problems
    assert "1 project file(s) missing there: Hard.v" in problems
    moved = WorkerCheck(str(tmp_path / "elsewhere"), expected.fingerprints, expected.files)
    assert "the project must be at the same path on every worker" in check_here(moved)[0]
    other = WorkerCheck(expected.root, (Fingerprint("coq", "8.99.0 5.0.0"),), ())
    assert any("coq toolchain" in p and "8.99.0" in p for p in check_here(other)), check_here(other)
