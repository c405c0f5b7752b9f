"""Only propositions are goals, and proofs that stand on the project's open lemmas (issue 11, parts 1 and 3), against
real coqc/coqidetop and the real `auto-prove` command.

Part 1: a placeholder is filled only if Coq says its type is a proposition — never a definition's body (a function,
a fixpoint, an instance's fields, a record value, a witness). Data placeholders are reported with kind "data",
status "skipped", never searched, written or counted as failures.

Part 3: a proof that uses a lemma the project still leaves open (`Admitted`, declared before the goal in the file or
in another file of the project) is accepted by default and labelled `depends_on_open`; `--strict` refuses it;
library axioms and new axioms stay refused either way; a refused script is verified once, and its refusal is
reported once per kind.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import ledger_path, read_json, run_cli
from sidecar.goals import find_goals
from sidecar.patch import render_replacement
from sidecar.verify import verify

pytestmark = pytest.mark.skipif(shutil.which("coqidetop.opt") is None or shutil.which("coqc") is None,
                                reason="Coq (coqc, coqidetop.opt) not installed")

KINDS = """(* what is a goal and what is not *)
Require Import Arith Program.

Definition f (b1 b2 : bool) : bool.
Admitted.

Fixpoint fx (n : nat) : nat.
Admitted.

Record R := { x : nat; px : x > 0 }.
Definition r : R.
Admitted.

Class C := { c : nat }.
#[export] Instance ci : C.
Admitted.

Definition pair_with_proof : nat * (1 = 1).
Proof.
  split.
  - admit.
  - admit.
Admitted.

Definition d : 1 = 1.
Admitted.

Lemma about_f : f true false = f true false.
Admitted.

Lemma plus_zero : forall n : nat, n + 0 = n.
Proof.
Admitted.

Lemma l_data : nat.
Admitted.

Program Definition pos : { n : nat | n > 5 } := 1.
Next Obligation.
Admitted.
Program Definition pg : nat := _.
Next Obligation.
Admitted.
"""

# lemma -> the sorts of its placeholders, in file order
EXPECTED = {
    "f": ["data"], "fx": ["data"], "r": ["data"], "ci": ["data"],
    "pair_with_proof": ["data", "prop"],  # the first component is data, the second a proof of 1 = 1
    "d": ["prop"],  # a Definition whose type is a proposition is filled (with `Defined.`)
    "about_f": ["prop"],  # a lemma about an admitted definition is still a goal
    "plus_zero": ["prop"],
    "l_data": ["data"],  # decided by Coq, not by the keyword
}


def write(tmp_path: Path, name: str, text: str) -> Path:
    f = tmp_path / name
    f.write_text(text)
    return f


def test_sorts_decided_by_coq(tmp_path: Path) -> None:
    fg = find_goals(write(tmp_path, "Kinds.v", KINDS))
    got: dict[str, list[str]] = {}
    for g in fg.goals:
        got.setdefault(g.lemma, []).append(g.sort)
    assert got == EXPECTED  # Program obligations are not placeholders of a named proof: not reported at all
    assert [g.fillable for g in fg.goals] == [s == "prop" for ss in EXPECTED.values() for s in ss]



def test_sorts_decided_under_open_scopes_and_shadowing_names(tmp_path: Path) -> None:
    """Inside a module with `positive` as the open scope (as the standard library's `Pos`), and with a local `I` and
    `tt`, Coq's answer still reads: a numeral or a short name in the probe would not type-check there (the five
    `BinPos` development lemmas were reported "could not tell" and skipped)."""
    text = ("Require Import PArith.\nModule Pos.\nLocal Open Scope positive_scope.\n"
            "Definition I := 3%nat.\nDefinition tt := 4.\n"
            "Lemma p_le : forall p : positive, p <= p.\nAdmitted.\n"
            "Lemma p_data : positive.\nAdmitted.\n"
            "Lemma p_admit : 1 <= 1.\nProof.\nadmit.\nAdmitted.\n")
    fg = find_goals(write(tmp_path, "Scoped.v", text))
    assert [(g.lemma, g.sort) for g in fg.goals] == [("p_le", "prop"), ("p_data", "data"), ("p_admit", "prop")]
def test_prove_skips_data_and_fills_only_propositions(tmp_path: Path) -> None:
    f = write(tmp_path, "Kinds.v", KINDS)
    before = f.read_bytes()
    run = run_cli("prove", f, "--budget", "10", "--write", "--json", tmp_path / "r.json")
    assert run.returncode == 0, run
    doc = read_json(tmp_path / "r.json")
    rows = doc["goals"]
    assert [r["name"] for r in rows] == [n for n, ss in EXPECTED.items() for _ in ss]
    for r, sort in zip(rows, [s for ss in EXPECTED.values() for s in ss]):
        if sort == "data":
            assert (r["kind"], r["status"], r["message"]) == ("data", "skipped", "a definition's body: not filled"), r
            assert r["attempts"] == 0 and r["proof"] is None and not r["verified"]
        else:
            assert r["kind"] in ("admitted", "admit") and r["status"] == "proved", r
    assert doc["summary"]["skipped"] == 6 and doc["summary"]["proved"] == 4
    assert "proved 4/4" in run.stdout and "6 not a proposition (skipped)" in run.stdout
    # the written file: every data placeholder as it was, the propositions filled, and it compiles
    after = f.read_text()
    for lemma in ("f", "fx", "r", "ci", "l_data"):
        block = after.split(f" {lemma} ", 1)[1].split("Admitted.", 1)[0]
        assert "Qed." not in block and "Defined." not in block, lemma
    assert after.count("Admitted.") == before.count(b"Admitted.") - 3  # d, about_f, plus_zero (the pair keeps it)
    assert "- admit." in after  # the data component of the pair stays the user's
    assert subprocess.run(["coqc", "-noglob", f.name], cwd=tmp_path, capture_output=True).returncode == 0
    # the ledger lists them with their own status, and they are not searched again
    import sqlite3

    db = sqlite3.connect(ledger_path(tmp_path))
    rows_db = db.execute("SELECT lemma, kind, status, message FROM goals WHERE status = 'skipped'").fetchall()
    assert sorted(r[0] for r in rows_db) == sorted(["f", "fx", "l_data", "pair_with_proof", "r", "ci"])
    assert {r[1] for r in rows_db} == {"data"} and {r[3] for r in rows_db} == {"a definition's body: not filled"}
    assert db.execute("SELECT COUNT(*) FROM attempts").fetchone()[0] > 0
    db.close()


OPEN = """Require Import Arith.

Lemma helper : forall n : nat, n * 1 + 0 = n.
Admitted.

Lemma uses_helper : forall m : nat, (m * 1 + 0) * 1 + 0 = m.
Proof.
Admitted.
"""


def test_open_lemma_accepted_and_labelled_strict_refuses(tmp_path: Path) -> None:
    f = write(tmp_path, "Open.v", OPEN)
    g = next(g for g in find_goals(f).goals if g.lemma == "uses_helper")
    proof = render_replacement(g, ["intros m", "rewrite !helper", "reflexivity"])
    v = verify(g, proof, allow_open=True)
    assert v.ok and v.depends_on_open == ("helper",), v
    v = verify(g, proof)  # the strict rule
    assert not v.ok and any("uses the admitted lemma helper" in r for r in v.reasons)


FALSE_HELPER = """Fixpoint sum (n : nat) : nat := match n with 0 => 0 | S k => n + sum k end.

(* false, and admitted: nothing but this lemma proves the next one *)
Lemma helper : forall n : nat, sum n = 0.
Admitted.

Lemma uses_helper : sum 5 + 0 = 0.
Proof.
Admitted.
"""


def test_prove_default_labels_strict_refuses(tmp_path: Path) -> None:
    f = write(tmp_path, "Top.v", FALSE_HELPER)
    run = run_cli("prove", f, "--budget", "10", "--json", tmp_path / "a.json", "--write")
    rows = {r["name"]: r for r in read_json(tmp_path / "a.json")["goals"]}
    assert rows["helper"]["status"] != "proved"
    assert rows["uses_helper"]["status"] == "proved" and rows["uses_helper"]["depends_on_open"] == ["helper"], run
    assert "(verified, uses 1 open lemma: helper)" in run.stdout and "(1 on open lemmas)" in run.stdout
    import sqlite3

    db = sqlite3.connect(ledger_path(tmp_path))
    assert db.execute("SELECT depends_on_open FROM goals WHERE lemma = 'uses_helper'").fetchone() == ("helper",)
    db.close()
    written = f.read_text()
    assert written.count("Admitted.") == 1  # helper's; the proof of uses_helper was written (and compiles)
    assert subprocess.run(["coqc", "-noglob", f.name], cwd=tmp_path, capture_output=True).returncode == 0
    # --strict: no proof standing on helper; a refusal is reported once per kind, not once per script
    f.write_text(FALSE_HELPER)
    run = run_cli("prove", f, "--budget", "10", "--strict", "--json", tmp_path / "s.json")
    rows = {r["name"]: r for r in read_json(tmp_path / "s.json")["goals"]}
    assert rows["uses_helper"]["status"] in ("exhausted", "timeout") and rows["uses_helper"]["depends_on_open"] == []
    assert run.stderr.count("a found proof was refused: uses the admitted lemma helper") <= 1, run
    if "none passed verification" in rows["uses_helper"]["message"]:
        assert rows["uses_helper"]["message"].count("uses the admitted lemma helper") == 1


def test_refused_script_verified_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The scheduler remembers refusals by (goal, file, script, imports, strictness): searching the goal again
    (an editor re-submits goals on every edit) verifies none of the refused scripts a second time."""
    from sidecar import verify as verify_mod
    from sidecar.scheduler import ProveOptions, Scheduler

    f = write(tmp_path, "Top.v", FALSE_HELPER)
    (goal,) = [g for g in find_goals(f).goals if g.lemma == "uses_helper"]
    seen: list[str] = []
    real = verify_mod.verify

    def counting(g, replacement, **kw):  # type: ignore[no-untyped-def]
        if not kw.get("header"):
            seen.append(replacement)
        return real(g, replacement, **kw)

    monkeypatch.setattr(verify_mod, "verify", counting)
    sched = Scheduler(ProveOptions(budget=6, strict=True, resume=False, tactic_timeout=1)).start(1)
    try:
        for _ in range(2):
            t = sched.submit(goal, 0.0)
            assert t.done.wait(120)
            assert t.out.status in ("exhausted", "timeout")
    finally:
        sched.close()
    assert len(seen) == len(set(seen)), seen


def test_open_lemma_of_another_project_file(tmp_path: Path) -> None:
    (tmp_path / "_CoqProject").write_text("-R . Top\n")
    write(tmp_path, "Base.v", "Lemma base_fact : forall n : nat, n + 0 = n.\nAdmitted.\n"
          "Axiom base_axiom : forall n : nat, 0 + n = n.\n")
    assert subprocess.run(["coqc", "-R", ".", "Top", "Base.v"], cwd=tmp_path, capture_output=True).returncode == 0
    f = write(tmp_path, "Use.v", "From Top Require Import Base.\n"
              "Lemma twice : forall n : nat, n + 0 + 0 = n.\nProof.\nAdmitted.\n"
              "Lemma via_axiom : forall n : nat, 0 + (0 + n) = n.\nProof.\nAdmitted.\n")
    g, h = find_goals(f).goals
    v = verify(g, render_replacement(g, ["intros n", "rewrite !base_fact", "reflexivity"]), allow_open=True)
    assert v.ok and v.depends_on_open == ("base_fact",), v
    # an axiom of another file is not an open lemma: refused either way
    v = verify(h, render_replacement(h, ["intros n", "rewrite !base_axiom", "reflexivity"]), allow_open=True)
    assert not v.ok and any("base_axiom" in r for r in v.reasons), v


def test_library_axiom_refused_even_when_open_lemmas_are_allowed(tmp_path: Path) -> None:
    f = write(tmp_path, "Lib.v", "Require Import Classical.\nLemma em : forall P : Prop, P \\/ ~ P.\nProof.\nAdmitted.\n")
    (g,) = find_goals(f).goals
    v = verify(g, render_replacement(g, ["exact classic"]), allow_open=True)
    assert not v.ok and any("classic" in r for r in v.reasons) and v.depends_on_open == ()


def test_a_refusal_reads_past_coqcs_bare_error_line() -> None:
    """coqc prints `Error:` alone on a line and the reason below it: the one-line refusal shown to the user must
    carry the reason (it used to read "the proof fails: Error: (×46)")."""
    from sidecar.scheduler import _one_line

    coqc = "the proof fails: Error:\nRecursive definition of f is ill-formed.\nIn environment\nf : nat -> nat\n"
    assert _one_line(coqc) == "the proof fails: Error: Recursive definition of f is ill-formed."
    assert _one_line("uses the admitted lemma helper\nmore") == "uses the admitted lemma helper"
    assert _one_line("") == ""
