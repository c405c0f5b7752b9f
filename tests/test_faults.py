"""End to end: faults. Each run must say clearly what went wrong and where (file, and line when known), exit 0
when the run itself could go on, keep processing the other files, and lose nothing it found. Usage errors exit 2.

Real faults only: files that do not compile, a `_CoqProject` pointing nowhere, a prover process killed with
SIGKILL in the middle of a run (a `coqidetop.opt` wrapper first on PATH that execs the real one), a tactic that
never terminates, a ledger on a full file system (a 128 KiB tmpfs, when this machine lets us mount one), a ledger
that is not a database, a missing Lean toolchain.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import stat
import subprocess
from pathlib import Path

import pytest

from conftest import goals_by_name, ledger_path, read_json, read_ledger

pytestmark = pytest.mark.skipif(shutil.which("coqidetop.opt") is None or shutil.which("coqc") is None,
                                reason="Coq (coqc, coqidetop.opt) not installed")

BUDGET = "12"  # generous for an easy goal on a loaded 2-core machine; the goals it is used on are all easy
STATUSES = {"proved", "exhausted", "timeout", "error"}
REAL_COQIDETOP = shutil.which("coqidetop.opt")


def _line_with(text: str, *needles: str) -> str:
    """The one output line that contains every needle (fails if there is none)."""
    for ln in text.splitlines():
        if all(n in ln for n in needles):
            return ln
    raise AssertionError(f"no line with {needles!r} in:\n{text}")


# ------------------------------------------------------------------------------------------------ source faults


def test_file_that_fails_before_its_first_goal(project, cli) -> None:  # type: ignore[no-untyped-def]
    proj = project("faults/early")  # Bad.v: `Require Import NoSuchLib.` on line 3; Good.v: one easy goal
    out = proj.parent / "r.json"
    run = cli("prove", proj, "--budget", BUDGET, "--cpu", "1.0", "--json", out)
    assert run.returncode == 0, run
    line = _line_with(run.stderr, f"{proj / 'Bad.v'}:3:")
    assert line.startswith("error:") and "NoSuchLib" in line, run
    goals = goals_by_name(read_json(out))
    assert set(goals) == {"good_refl"}
    assert goals["good_refl"]["status"] == "proved", run
    assert "1 file problem(s)" in run.stdout


def test_file_that_fails_halfway(project, cli) -> None:  # type: ignore[no-untyped-def]
    proj = project("faults/halfway")  # two goals, then `Definition broken : nat := true.` on line 12
    out = proj.parent / "r.json"
    run = cli("prove", proj, "--budget", BUDGET, "--cpu", "1.0", "--json", out)
    assert run.returncode == 0, run
    line = _line_with(run.stderr, f"{proj / 'Half.v'}:12:")
    assert line.startswith("error:") and "Error" in line, run
    assert "bool" in run.stderr and "nat" in run.stderr  # Coq's own message follows
    goals = goals_by_name(read_json(out))
    assert set(goals) == {"before_error", "also_before"}  # the goal after the error cannot be reached
    assert goals["before_error"]["kind"] == "admitted" and goals["also_before"]["kind"] == "admit"
    for g in goals.values():
        assert g["status"] == "proved" and g["verified"], run


def test_coqproject_pointing_to_a_missing_directory(project, cli) -> None:  # type: ignore[no-untyped-def]
    bad = project("faults/badproject")  # `-Q theories_missing Missing` on line 3
    good = project("faults/good")
    out = bad.parent / "r.json"
    run = cli("prove", bad, good, "--budget", BUDGET, "--cpu", "1.0", "--json", out)
    assert run.returncode == 0, run
    line = _line_with(run.stderr, f"{bad / '_CoqProject'}:3:")
    assert line.startswith("error:") and "theories_missing" in line and "no such directory" in line, run
    goals = read_json(out)["goals"]
    assert [(Path(g["file"]), g["name"], g["status"]) for g in goals] == [(good / "Good.v", "good_refl", "proved")]


def test_statement_that_does_not_parse(project, cli) -> None:  # type: ignore[no-untyped-def]
    proj = project("faults/badstmt")  # `Lemma garbled : forall n : nat, n + = n.` on line 6
    out = proj.parent / "r.json"
    run = cli("prove", proj, "--budget", BUDGET, "--cpu", "1.0", "--json", out)
    assert run.returncode == 0, run
    line = _line_with(run.stderr, f"{proj / 'Stmt.v'}:6:")
    # Coq's message, brackets included (it must not be read as console markup)
    assert "Syntax error: [term] expected after '+'" in line, run
    goals = goals_by_name(read_json(out))
    assert set(goals) == {"fine"} and goals["fine"]["status"] == "proved", run


# ------------------------------------------------------------------------------------------------ prover faults

WRAPPER = """#!/bin/sh
# coqidetop.opt stand-in for tests: logs each start, then (the first time, or every time with AP_TEST_ALWAYS)
# has the real prover SIGKILLed AP_TEST_DIE_AFTER seconds after it started.
echo "$$" >> "$AP_TEST_MARK/starts"
if [ -n "$AP_TEST_ALWAYS" ] || mkdir "$AP_TEST_MARK/first" 2>/dev/null; then
  ( sleep "$AP_TEST_DIE_AFTER"; echo "$$" >> "$AP_TEST_MARK/killed"; kill -9 $$ ) </dev/null >/dev/null 2>&1 &
fi
exec {real} "$@"
"""


def _dying_prover(tmp_path: Path, die_after: float, always: bool) -> tuple[dict[str, str], Path]:
    bindir, mark = tmp_path / "bin", tmp_path / "mark"
    bindir.mkdir()
    mark.mkdir()
    w = bindir / "coqidetop.opt"
    w.write_text(WRAPPER.format(real=REAL_COQIDETOP))
    w.chmod(w.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    env = {"PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}", "AP_TEST_MARK": str(mark),
           "AP_TEST_DIE_AFTER": str(die_after)}
    if always:
        env["AP_TEST_ALWAYS"] = "1"
    return env, mark


def test_prover_killed_mid_run_is_restarted(project, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The first coqidetop is SIGKILLed 2 s into the run, in the middle of the false goal's search: the run goes
    on with a new prover, finishes, and the easy goal after it is proved."""
    proj = project("crash")  # hard (false, uses its whole budget) then easy
    env, mark = _dying_prover(tmp_path, die_after=2.0, always=False)
    out = tmp_path / "r.json"
    run = cli("prove", proj, "--budget", "8", "--cpu", "1.0", "--max-provers", "1", "--json", out, env=env,
              timeout=180)
    assert run.returncode == 0, run
    assert (mark / "killed").exists(), f"the prover was never killed\n{run}"
    assert len((mark / "starts").read_text().split()) >= 2, f"no new prover was started\n{run}"
    assert not run.stragglers, run
    goals = goals_by_name(read_json(out))
    assert goals["easy"]["status"] == "proved" and goals["easy"]["verified"], run
    hard = goals["hard"]
    if hard["status"] == "error":  # the kill landed while the environment was loading (a slow machine)
        assert "D.v:4" in hard["message"] and "coqidetop" in hard["message"], hard
    else:
        assert hard["status"] in ("exhausted", "timeout"), hard
    assert run.seconds < 120


def test_prover_that_always_dies(project, cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Every coqidetop is SIGKILLed 0.3 s after it starts: each goal ends (as an error naming its place) and the
    run finishes instead of hanging."""
    proj = project("crash")
    env, mark = _dying_prover(tmp_path, die_after=0.3, always=True)
    out = tmp_path / "r.json"
    run = cli("prove", proj, "--budget", "6", "--cpu", "1.0", "--max-provers", "1", "--json", out, env=env,
              timeout=180)
    assert run.returncode == 0, run
    assert not run.stragglers, run
    assert len((mark / "killed").read_text().split()) >= 2
    goals = goals_by_name(read_json(out))
    assert set(goals) == {"hard", "easy"}
    assert all(g["status"] in STATUSES for g in goals.values())
    errors = [g for g in goals.values() if g["status"] == "error"]
    assert errors, run
    for g in errors:
        assert f"D.v:{g['line']}" in g["message"] and "coqidetop" in g["message"], g
        assert g["proof"] is None
    assert run.seconds < 120


def test_looping_tactic_is_stopped_by_the_tactic_timeout(project, cli) -> None:  # type: ignore[no-untyped-def]
    """Loop.v installs a never-terminating tactic as a `Hint Extern`, so every `auto` loops. Each is cut at
    --tactic-timeout, the provable goal is still proved by another tactic, the false goal ends within its budget."""
    proj = project("faults/loop")
    out = proj.parent / "r.json"
    budget, tactic_timeout = 10.0, 1.0
    run = cli("prove", proj, "--budget", budget, "--cpu", "1.0", "--tactic-timeout", tactic_timeout, "--json", out)
    assert run.returncode == 0, run
    assert not run.stragglers, run
    goals = goals_by_name(read_json(out))
    assert goals["needs_lia"]["status"] == "proved", run
    assert "auto" not in goals["needs_lia"]["proof"]
    assert goals["loops_false"]["status"] in ("timeout", "exhausted"), run
    # search budget + one tactic overrunning its limit + verification slack
    for g in goals.values():
        assert g["seconds"] <= budget + 5, g
    db = sqlite3.connect(str(ledger_path(proj)))
    try:
        attempts = db.execute("SELECT key, tactic, outcome, seconds FROM attempts ORDER BY id").fetchall()
    finally:
        db.close()
    timed_out = [(i, a) for i, a in enumerate(attempts) if a[2] == "timeout"]
    assert any(a[1] == "auto" for _, a in timed_out), attempts
    assert all(a[3] <= tactic_timeout + 2.0 for _, a in timed_out), timed_out
    # and the search went on after the loop was cut
    i, first = timed_out[0]
    assert any(a[0] == first[0] for a in attempts[i + 1:]), attempts


# ------------------------------------------------------------------------------------------------ ledger faults


@pytest.fixture
def tiny_tmpfs():  # type: ignore[no-untyped-def]
    """mount(target, size) of a tmpfs, unmounted afterwards; skips where mounting is not allowed."""
    mounted: list[Path] = []

    def mount(target: Path, size: str) -> None:
        if shutil.which("mount") is None or (hasattr(os, "geteuid") and os.geteuid() != 0):
            pytest.skip("mounting a tmpfs needs root")
        target.mkdir(parents=True, exist_ok=True)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(target)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
        mounted.append(target)

    yield mount
    for t in mounted:
        subprocess.run(["umount", "-l", str(t)], capture_output=True)


def _assert_proved_and_written(run, out: Path, proj: Path) -> None:  # type: ignore[no-untyped-def]
    g = goals_by_name(read_json(out))["good_refl"]
    assert g["status"] == "proved" and g["verified"], run
    text = (proj / "Good.v").read_text()
    assert g["proof"] in text and "Admitted." not in text, f"the proof was not written:\n{text}"
    assert re.search(r"wrote 1 proof\(s\) to .*Good\.v", run.stdout), run


def test_ledger_on_a_full_disk(project, cli, tiny_tmpfs) -> None:  # type: ignore[no-untyped-def]
    """.auto-prove is a 128 KiB tmpfs: the ledger opens and takes a few attempts, then SQLite reports the disk
    full in the middle of the run. The run warns, goes on in memory, reports and writes the proof."""
    proj = project("faults/good")
    tiny_tmpfs(proj / ".auto-prove", "128k")
    out = proj.parent / "r.json"
    run = cli("prove", proj, "--budget", BUDGET, "--cpu", "1.0", "--write", "--json", out)
    assert run.returncode == 0, run
    warning = _line_with(run.stderr, "ledger", "full")
    assert "continuing in memory" in warning, run
    _, attempts = read_ledger(proj)
    assert sum(attempts.values()) >= 1, "the ledger was never written: the disk was full from the start"
    _assert_proved_and_written(run, out, proj)


def test_ledger_folder_that_is_a_file(project, cli) -> None:  # type: ignore[no-untyped-def]
    proj = project("faults/good")
    (proj / ".auto-prove").write_text("not a folder\n")
    out = proj.parent / "r.json"
    run = cli("prove", proj, "--budget", BUDGET, "--cpu", "1.0", "--write", "--json", out)
    assert run.returncode == 0, run
    warning = _line_with(run.stderr, "warning:", ".auto-prove")
    assert "continuing without a ledger" in warning, run
    _assert_proved_and_written(run, out, proj)
    assert (proj / ".auto-prove").read_text() == "not a folder\n"


def _corrupt_pages(path: Path) -> None:
    """A real ledger whose every page but the schema page is overwritten: it opens, but reading a goal fails."""
    from sidecar.ledger import GoalRecord, Ledger

    led = Ledger(path.parent.parent)
    for i in range(50):
        led.upsert_goal(GoalRecord(key=f"{i:064x}", file="/elsewhere/X.v", lemma=f"l{i}", line=i, kind="admitted",
                                   status="exhausted", proof=None, budget_s=1.0, seconds=1.0, attempts=1,
                                   verified=False, file_digest="0" * 64, message="m" * 200))
    led.close()  # the last connection checkpoints the WAL into the file
    data = bytearray(path.read_bytes())
    assert len(data) > 3 * 4096
    data[4096:] = b"\xff" * (len(data) - 4096)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", ["not a database", "corrupt pages"])
def test_unreadable_ledger(project, cli, damage: str) -> None:  # type: ignore[no-untyped-def]
    """A ledger that is not a database, or whose pages are corrupt: `prove` warns and proves anyway (no goal
    lost to an internal error); `status` says what is wrong in one line instead of a traceback."""
    proj = project("faults/good")
    led = ledger_path(proj)
    led.parent.mkdir()
    if damage == "not a database":
        led.write_bytes(b"this is not an SQLite file\n" * 200)
    else:
        _corrupt_pages(led)
    out = proj.parent / "r.json"
    run = cli("prove", proj, "--budget", BUDGET, "--cpu", "1.0", "--json", out)
    assert run.returncode == 0, run
    assert _line_with(run.stderr, str(led)), run
    goals = goals_by_name(read_json(out))
    assert goals["good_refl"]["status"] == "proved", run
    assert "internal error" not in run.stdout + run.stderr, run
    st = cli("status", proj)
    assert st.returncode == 1, st
    assert "Traceback" not in st.stderr, st
    lines = [ln for ln in st.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and str(led) in lines[0], st


# ------------------------------------------------------------------------------------------------ usage errors


def _one_error_line(run) -> str:  # type: ignore[no-untyped-def]
    lines = [ln for ln in run.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), run
    return lines[0]


@pytest.mark.skipif(shutil.which("lake") is not None or shutil.which("lean") is not None,
                    reason="a Lean toolchain is installed")
@pytest.mark.parametrize("backend", ["lean", "auto"])
def test_lean_without_a_toolchain(project, cli, backend: str) -> None:  # type: ignore[no-untyped-def]
    proj = project("faults/lean")
    run = cli("prove", proj / "Main.lean", "--backend", backend, "--budget", "5")
    assert run.returncode == 2, run
    assert "Lean" in _one_error_line(run) and "toolchain" in run.stderr
    assert not (proj / ".auto-prove").exists()


@pytest.mark.skipif(shutil.which("lake") is not None or shutil.which("lean") is not None,
                    reason="a Lean toolchain is installed")
def test_lean_bank_without_a_toolchain(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """What `lake exe auto_prove_bank` runs, on a machine without Lean: one line, exit code 2, nothing written."""
    out = tmp_path / "bank.json"
    run = cli("bank", "--backend", "lean", "--limit", "1", "--json", out)
    assert run.returncode == 2, run
    assert "Lean" in _one_error_line(run) and "toolchain" in run.stderr
    assert not out.exists()


@pytest.mark.parametrize("cpu", ["0", "1.5", "-0.5"])
def test_cpu_out_of_range(project, cli, cpu: str) -> None:  # type: ignore[no-untyped-def]
    proj = project("faults/good")
    run = cli("prove", proj, f"--cpu={cpu}", "--budget", "5")
    assert run.returncode == 2, run
    assert "--cpu" in _one_error_line(run)


def test_unknown_backend(project, cli) -> None:  # type: ignore[no-untyped-def]
    run = cli("prove", project("faults/good"), "--backend", "isabelle")
    assert run.returncode == 2, run
    assert "isabelle" in _one_error_line(run)


def test_path_that_does_not_exist(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    missing = tmp_path / "no" / "such" / "Thing.v"
    run = cli("prove", missing, "--budget", "5")
    assert run.returncode == 2, run
    line = _one_error_line(run)
    assert str(missing) in line and "no such file" in line
    assert re.search(r"Traceback", run.stderr) is None
