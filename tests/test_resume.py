"""End to end: the ledger across runs - resuming after `kill -9`, and what a changed file does to a stored proof.

The ledger is read straight from `<project>/.auto-prove/ledger.sqlite` with sqlite3: the `goals` row of a goal
(status, proof, file digest, `updated` time) and the number of its rows in `attempts` (one per tactic tried) show
whether a run searched a goal again or took it from the ledger.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import (REPO, cli_env, copy_project, goals_by_name, kill_tagged, read_json, read_ledger, run_cli,
                      sha256_file, tagged_named, wait_gone)

pytestmark = pytest.mark.skipif(shutil.which("coqidetop.opt") is None or shutil.which("coqc") is None,
                                reason="Coq (coqc, coqidetop.opt) not installed")

RESUME_LEMMAS = {"easy1", "easy2", "false1", "false3", "false5", "false6"}
DONE = ("proved", "exhausted", "timeout")


def _outputs(tmp_path: Path) -> str:
    return "\n".join(f"--- {p.name} ---\n{p.read_text(errors='replace')}" for p in sorted(tmp_path.glob("run1.*")))


def test_resume_after_kill_9(tmp_path: Path) -> None:
    """Kill the whole run with SIGKILL once the ledger holds a proved and a searched-out goal; the rerun takes
    those from the ledger (no new attempt, row untouched) and searches only the rest, the in-flight goal too."""
    proj = copy_project("resume", tmp_path / "resume")
    budget = "8"  # the four false goals run out of it (the first run lasts well over 10 s); easy goals need < 8 s
    env, tag = cli_env()
    with open(tmp_path / "run1.out", "w") as so, open(tmp_path / "run1.err", "w") as se:
        proc = subprocess.Popen([sys.executable, "-m", "sidecar", "prove", str(proj), "--budget", budget,
                                 "--cpu", "1.0"], cwd=REPO, env=env, stdout=so, stderr=se, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, "the run ended before it could be killed\n" + _outputs(tmp_path)
            rows, _ = read_ledger(proj)
            statuses = {r.status for r in rows.values()}
            if "proved" in statuses and statuses & {"exhausted", "timeout"}:
                break
            assert time.monotonic() < deadline, f"ledger never showed a finished goal: {rows}\n" + _outputs(tmp_path)
            time.sleep(0.1)
        provers = tagged_named(tag, "coqidetop")
        assert provers, "no prover was running when the run was killed"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        killed_at = time.time()
        # the provers run in their own sessions; with their parent gone they must end on their own (EOF)
        left = wait_gone(tag, 20)
        assert not left, f"processes of the killed run still alive after 20 s: {[(p.pid, p.name()) for p in left]}"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        kill_tagged(tag)

    rows_k, counts_k = read_ledger(proj)
    done = {k: r for k, r in rows_k.items() if r.status in DONE}
    in_flight = set(counts_k) - set(rows_k)  # attempts recorded, the goal's result not yet
    assert any(r.status == "proved" for r in done.values()) and any(r.status != "proved" for r in done.values())
    assert len(rows_k) < len(RESUME_LEMMAS), f"the run was not interrupted: {rows_k}"

    out = tmp_path / "run2.json"
    run = run_cli("prove", proj, "--budget", budget, "--cpu", "1.0", "--json", out)
    assert run.returncode == 0, run
    assert not run.stragglers, run
    goals = goals_by_name(read_json(out))
    assert set(goals) == RESUME_LEMMAS
    rows2, counts2 = read_ledger(proj)
    for key, r in done.items():  # taken from the ledger: same result, no new attempt, row not rewritten
        g = goals[r.lemma]
        assert g["status"] == r.status, (g, r)
        assert counts2.get(key, 0) == counts_k.get(key, 0), f"{r.lemma} was searched again"
        assert rows2[key].updated == r.updated, f"{r.lemma}'s ledger row was rewritten"
        if r.status == "proved":
            assert g["verified"] and g["proof"] == r.proof
    searched = {k: r for k, r in rows2.items() if k not in done}
    assert {r.lemma for r in searched.values()} == RESUME_LEMMAS - {r.lemma for r in done.values()}
    for key, r in searched.items():  # the rest, the in-flight goal(s) included, were searched in the rerun
        assert r.status in DONE and r.updated >= killed_at, r
        assert counts2.get(key, 0) >= counts_k.get(key, 0)
        assert goals[r.lemma]["status"] == r.status
    # (attempts count tactics tried; a search may spend a whole small budget on library look-ups before its
    # first tactic, so the rewritten row, not the attempt count, is what shows that a goal was searched)
    assert in_flight <= set(searched)
    assert goals["easy1"]["status"] == goals["easy2"]["status"] == "proved"
    for name in RESUME_LEMMAS - {"easy1", "easy2"}:
        assert goals[name]["status"] in ("exhausted", "timeout"), goals[name]


USE_IT = """
Lemma use_it : plus_zero_sec 3 5 = plus_zero_sec 3 5.
Proof. reflexivity. Qed.
"""


def test_changed_file_reverifies_stored_proof(tmp_path: Path) -> None:
    """A proved goal whose file changed after it keeps its ledger key. An unrelated change (a comment at the end):
    the stored proof is re-verified against the new file and reported proved without a search. A change that
    breaks it (a later lemma needs the Admitted form, which takes the section variable `m`): searched again."""
    proj = copy_project("section", tmp_path / "section")
    src = proj / "Sec.v"
    budget = "12"
    j1 = tmp_path / "1.json"
    run1 = run_cli("prove", proj, "--budget", budget, "--cpu", "1.0", "--json", j1)
    assert run1.returncode == 0, run1
    g1 = goals_by_name(read_json(j1))["plus_zero_sec"]
    assert g1["status"] == "proved" and g1["verified"], run1
    rows1, counts1 = read_ledger(proj)
    assert len(rows1) == 1
    (key, rec1), = rows1.items()
    assert rec1.status == "proved" and rec1.file_digest == sha256_file(src) and counts1[key] >= 1

    # 1. unrelated change after the goal
    src.write_text(src.read_text() + "\n(* reviewed; nothing else to prove here *)\n")
    j2 = tmp_path / "2.json"
    run2 = run_cli("prove", proj, "--budget", budget, "--cpu", "1.0", "--json", j2)
    assert run2.returncode == 0, run2
    g2 = goals_by_name(read_json(j2))["plus_zero_sec"]
    assert g2["status"] == "proved" and g2["verified"] and g2["proof"] == g1["proof"], run2
    rows2, counts2 = read_ledger(proj)
    assert set(rows2) == {key}, "the goal's key changed"
    assert counts2[key] == counts1[key], "searched again although the stored proof still holds"
    assert rows2[key].file_digest == sha256_file(src), "the re-verification against the new file was not recorded"

    # 2. a change after the goal that the stored proof no longer survives
    src.write_text(src.read_text() + USE_IT)
    j3 = tmp_path / "3.json"
    run3 = run_cli("prove", proj, "--budget", budget, "--cpu", "1.0", "--json", j3)
    assert run3.returncode == 0, run3
    g3 = goals_by_name(read_json(j3))["plus_zero_sec"]
    rows3, counts3 = read_ledger(proj)
    assert set(rows3) == {key}, "the goal's key changed"
    assert counts3[key] > counts2[key], "the stored proof no longer verifies, yet the goal was not searched again"
    assert rows3[key].updated > rows2[key].updated
    # whatever the new search found, the stale proof is not offered: a proof reported now verifies with use_it
    assert not (g3["status"] == "proved" and g3["proof"] == g1["proof"]), g3
    if g3["status"] == "proved":
        assert g3["verified"]
    else:
        assert g3["proof"] is None and g3["status"] in ("exhausted", "timeout"), g3
