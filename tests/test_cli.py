"""End to end: `auto-prove prove` (report, --json, --write), `status` and the progress output, driven as a real
subprocess against real coqidetop/coqc on a copy of tests/fixtures/cli/small.

small/ is a two-file project (`_CoqProject`: `-R . P`): four easy goals (two `Admitted.`, two `admit.`) and one
false goal (`2 + 2 = 5`) that must stay open.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from conftest import CLI_FIXTURES, copy_project, goals_by_name, read_json, read_ledger, run_cli

pytestmark = pytest.mark.skipif(shutil.which("coqidetop.opt") is None or shutil.which("coqc") is None,
                                reason="Coq (coqc, coqidetop.opt) not installed")

# Generous for an easy goal on a loaded 2-core machine (library look-ups come before the first tactic); it costs
# nothing otherwise: easy goals stop at their proof and the false goal ends by exhaustion well before it.
BUDGET = "12"
SMALL = {  # lemma -> (file, kind)
    "add_zero": ("A.v", "admitted"),
    "false_goal": ("A.v", "admitted"),
    "conj_hole": ("A.v", "admit"),
    "mul_one": ("B.v", "admitted"),
    "le_succ": ("B.v", "admit"),
}
PROVABLE = {"add_zero", "conj_hole", "mul_one", "le_succ"}
DOCUMENTED_GOAL_FIELDS = {"file", "line", "name", "kind", "status", "proof", "seconds", "attempts", "verified",
                          "depends_on_open"}
STATUSES = {"proved", "exhausted", "timeout", "error"}


def placeholder_line(text: str, lemma: str, kind: str) -> int:
    """1-based line of the goal's placeholder: the lemma's `Admitted.` or its bare `admit.`."""
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if re.match(rf"\s*Lemma\s+{lemma}\b", ln))
    want = "Admitted." if kind == "admitted" else "admit."
    return next(i + 1 for i in range(start, len(lines)) if lines[i].strip().endswith(want)
                and (kind == "admitted" or lines[i].strip().lstrip("-+* ") == "admit."))


def statement(text: str, lemma: str) -> str:
    """The statement sentence `Lemma name ... .` as written."""
    m = re.search(rf"Lemma\s+{lemma}\b.*?\.(?=\s)", text, re.S)
    assert m, f"no statement of {lemma}"
    return m.group(0)


def lemma_block(text: str, lemma: str) -> str:
    """From the statement to the sentence that closes the proof (Qed./Defined./Admitted.)."""
    m = re.search(rf"Lemma\s+{lemma}\b.*?(?:Qed|Defined|Admitted)\.", text, re.S)
    assert m, f"no proof block for {lemma}"
    return m.group(0)


@pytest.fixture(scope="module")
def report_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One `prove --json` run (no --write) on a copy of the small project, shared by the report tests."""
    proj = copy_project("small", tmp_path_factory.mktemp("cli") / "small")
    out = proj.parent / "report.json"
    run = run_cli("prove", proj, "--budget", BUDGET, "--cpu", "1.0", "--json", out)
    return {"proj": proj, "run": run, "json": out}


def test_prove_reports_every_goal_with_the_documented_json(report_run: dict[str, Any]) -> None:
    run, proj = report_run["run"], report_run["proj"]
    assert run.returncode == 0, run
    assert not run.stragglers, run
    doc = read_json(report_run["json"])
    assert set(doc) == {"goals", "summary"}
    assert set(doc["summary"]) == {"total", "proved", "proved_on_open", "skipped", "wall_s", "cpu_fraction", "profile"}
    goals = goals_by_name(doc)
    assert set(goals) == set(SMALL), doc
    for name, g in goals.items():
        file, kind = SMALL[name]
        assert DOCUMENTED_GOAL_FIELDS <= set(g), g
        assert Path(g["file"]) == proj / file
        assert g["kind"] == kind
        assert g["line"] == placeholder_line((proj / file).read_text(), name, kind), g
        assert g["status"] in STATUSES, g
        assert isinstance(g["seconds"], (int, float)) and g["seconds"] >= 0
        assert isinstance(g["attempts"], int) and isinstance(g["verified"], bool)
        if g["verified"]:
            assert g["status"] == "proved" and isinstance(g["proof"], str) and g["proof"].strip()
        else:
            assert g["proof"] is None, g
    for name in PROVABLE:
        assert goals[name]["status"] == "proved" and goals[name]["verified"], (goals[name], run)
        assert goals[name]["attempts"] >= 1
    assert goals["false_goal"]["status"] in {"exhausted", "timeout"}, goals["false_goal"]
    assert goals["false_goal"]["attempts"] >= 1
    # an admit is filled by one `{ ... }` block; an Admitted lemma gets a whole proof
    assert goals["conj_hole"]["proof"].lstrip().startswith("{") and goals["conj_hole"]["proof"].rstrip().endswith("}")
    assert goals["add_zero"]["proof"].rstrip().endswith("Qed.")
    s = doc["summary"]
    assert s["total"] == 5 and s["proved"] == len(PROVABLE)
    assert s["wall_s"] > 0 and 0 <= s["cpu_fraction"] <= 1.5
    # the terminal report lists every goal with its place and the final line sums up
    for name, (file, kind) in SMALL.items():
        assert name in run.stdout
        assert f"{file}:{goals[name]['line']}" in run.stdout
    assert re.search(r"proved 4/5 in [\d.]+ s", run.stdout), run
    # without --write nothing is touched
    for file in ("A.v", "B.v", "_CoqProject"):
        assert (proj / file).read_bytes() == (CLI_FIXTURES / "small" / file).read_bytes()


def test_status_summarises_the_ledger(report_run: dict[str, Any]) -> None:
    proj = report_run["proj"]
    doc = read_json(report_run["json"])
    run = run_cli("status", proj)
    assert run.returncode == 0, run
    m = re.search(r"goals (\d+): (.*?); attempts recorded (\d+)", run.stdout)
    assert m, run
    counts = {k: int(v) for k, v in (part.rsplit(" ", 1) for part in m.group(2).split(", "))}
    assert counts == dict(Counter(g["status"] for g in doc["goals"])), run
    assert int(m.group(1)) == 5
    rows, attempts = read_ledger(proj)
    assert int(m.group(3)) == sum(attempts.values()) > 0
    for name in SMALL:
        assert name in run.stdout
    assert "ledger" in run.stdout and "ledger.sqlite" in run.stdout


def test_status_without_a_ledger(tmp_path: Path) -> None:
    run = run_cli("status", tmp_path)
    assert run.returncode == 0, run
    assert "no ledger" in run.stdout


def test_progress_output_is_shown(report_run: dict[str, Any]) -> None:
    out = report_run["run"].stdout
    assert "finding goals" in out and "searching" in out, out
    assert re.search(r"searching\s.*5/5", out), out  # the bar's final state: every goal done


def test_write_patches_verified_proofs_only(tmp_path: Path) -> None:
    proj = copy_project("small", tmp_path / "small")
    before = {f: (proj / f).read_text() for f in ("A.v", "B.v")}
    out = tmp_path / "write.json"
    run = run_cli("prove", proj, "--budget", BUDGET, "--cpu", "1.0", "--write", "--json", out)
    assert run.returncode == 0, run
    goals = goals_by_name(read_json(out))
    proved = {n for n, g in goals.items() if g["status"] == "proved" and g["verified"]}
    assert proved == PROVABLE, run
    assert re.search(r"wrote 2 proof\(s\) to .*A\.v", run.stdout) and re.search(r"wrote 2 proof\(s\) to .*B\.v",
                                                                                 run.stdout), run
    after = {f: (proj / f).read_text() for f in ("A.v", "B.v")}
    for name, (file, kind) in SMALL.items():
        # the statement is byte-for-byte the same
        assert statement(after[file], name) == statement(before[file], name)
        block = lemma_block(after[file], name)
        if name in proved:
            assert "Admitted." not in block and not re.search(r"\badmit\.", block), block
            assert block.endswith("Qed."), block
            assert goals[name]["proof"] in after[file]
        else:
            assert block.endswith("Admitted."), block
    assert lemma_block(after["A.v"], "false_goal") == lemma_block(before["A.v"], "false_goal")
    # the comment mentioning Admitted. is untouched, and only proof text was added
    assert after["A.v"].splitlines()[0] == before["A.v"].splitlines()[0]
    # the patched files compile with real coqc and the project's load path
    for file in ("A.v", "B.v"):
        c = subprocess.run(["coqc", "-R", ".", "P", file], cwd=proj, capture_output=True, text=True, timeout=120)
        assert c.returncode == 0, f"coqc {file}: {c.stdout}\n{c.stderr}\n---\n{after[file]}"
    # a second run finds only what is still open
    again_json = tmp_path / "again.json"
    again = run_cli("prove", proj, "--budget", "3", "--cpu", "1.0", "--json", again_json)
    assert again.returncode == 0, again
    still = goals_by_name(read_json(again_json))
    assert set(still) == {"false_goal"}, again
    assert still["false_goal"]["status"] != "proved" and still["false_goal"]["kind"] == "admitted"
    assert still["false_goal"]["line"] == placeholder_line(after["A.v"], "false_goal", "admitted")
    assert "proved 0/1" in again.stdout, again


def test_a_proof_that_needs_lia_gets_its_import_and_nothing_more(tmp_path: Path) -> None:
    """Search sessions load Lia by default; a proof that needs it gets exactly that import added at the top of the
    file (verified there), and `--no-default-imports` turns this off."""
    text = "(* parity *)\nLemma odd_not_even : forall a b : nat, 2 * a + 1 <> 2 * b.\nAdmitted.\n"
    f = tmp_path / "Par.v"
    f.write_text(text)
    out = tmp_path / "out.json"
    run = run_cli("prove", f, "--budget", "20", "--cpu", "1.0", "--write", "--json", out)
    assert run.returncode == 0, run
    g = read_json(out)["goals"][0]
    assert g["status"] == "proved" and g["verified"], g
    assert g["header"] == "From Coq Require Import Lia.", g
    after = f.read_text()
    assert after.startswith("From Coq Require Import Lia.\n") and after.endswith(text.replace(
        "Admitted.\n", "") + g["proof"] + "\n") or g["proof"] in after, after
    c = subprocess.run(["coqc", f.name], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert c.returncode == 0, c.stderr
    g2 = tmp_path / "Par2.v"
    g2.write_text(text)
    out2 = tmp_path / "out2.json"
    run2 = run_cli("prove", g2, "--budget", "5", "--cpu", "1.0", "--write", "--no-default-imports", "--json", out2)
    assert run2.returncode == 0, run2
    row = read_json(out2)["goals"][0]
    assert row["header"] is None and "Require" not in g2.read_text(), row
