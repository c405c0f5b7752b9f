"""Results shared between machines (`auto-prove sync`, sidecar/sync.py): an export from one project folder, imported
into a fresh clone elsewhere, offers its proofs there only after they verify there; nothing is taken when a library
the project loads is at another revision; a forged proof in an export is never offered; a bad export file is a
clear message and costs the ledger nothing."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import read_json, run_cli

pytestmark = [pytest.mark.skipif(shutil.which("coqidetop.opt") is None, reason="Coq not installed"),
              pytest.mark.timeout(300)]

LIB = "Definition double (n : nat) : nat := n + n.\n"
LIB_V2 = "Definition double (n : nat) : nat := 2 * n.\n"
MAIN = """\
From Lib Require Import Lib.
Require Import Arith Lia.

Lemma double_two : double 2 = 4.
Proof. Admitted.

Lemma add_zero : forall n : nat, n + 0 = n.
Proof. Admitted.

Lemma le_double : forall n : nat, n <= double n.
Proof. Admitted.
"""


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args], cwd=cwd, check=True,
                   capture_output=True)


def _checkout(where: Path, lib: str) -> Path:
    """A library folder (compiled) beside a project that binds it with -Q ../lib Lib; returns the project."""
    (where / "lib").mkdir(parents=True)
    (where / "lib" / "Lib.v").write_text(lib, encoding="utf-8")
    subprocess.run(["coqc", "-Q", ".", "Lib", "Lib.v"], cwd=where / "lib", check=True, capture_output=True)
    return where / "proj"


@pytest.fixture
def origin(tmp_path: Path) -> Path:
    proj = _checkout(tmp_path / "a", LIB)
    proj.mkdir()
    (proj / "_CoqProject").write_text("-Q ../lib Lib\n-R . P\nMain.v\n", encoding="utf-8")
    (proj / "Main.v").write_text(MAIN, encoding="utf-8")
    (proj / ".gitignore").write_text(".auto-prove/\n*.vo\n*.vok\n*.vos\n*.glob\n.*.aux\n", encoding="utf-8")
    _git(proj, "init", "-q")
    _git(proj, "add", ".")
    _git(proj, "commit", "-q", "-m", "start")
    return proj


def _clone(origin: Path, where: Path, lib: str) -> Path:
    proj = _checkout(where, lib)
    subprocess.run(["git", "clone", "-q", str(origin), str(proj)], check=True, capture_output=True)
    return proj


def test_export_then_import_on_a_fresh_clone(origin: Path, tmp_path: Path) -> None:
    first = run_cli("prove", origin, "--budget", "10", "--golf", "0", "--no-tickets", "--json", tmp_path / "a.json")
    assert first.returncode == 0, first
    proved = {g["name"] for g in read_json(tmp_path / "a.json")["goals"] if g["verified"]}
    assert proved == {"double_two", "add_zero", "le_double"}, proved
    shared = tmp_path / "shared"
    out = run_cli("sync", "export", shared, origin)
    assert out.returncode == 0 and "exported 3 goal result(s) (3 proof(s))" in out.stdout, out
    assert len(list(shared.glob("*.jsonl.gz"))) == 1

    clone = _clone(origin, tmp_path / "b", LIB)
    assert not (clone / ".auto-prove").exists()
    got = run_cli("sync", "import", shared, clone)
    assert got.returncode == 0 and "imported 3 goal result(s) (3 proof(s))" in got.stdout, got
    assert "verified here before it is offered" in got.stdout
    status = run_cli("status", clone)
    assert "imported 3" in status.stdout and "imported, not yet verified here" in status.stdout, status
    again = run_cli("prove", clone, "--budget", "10", "--json", tmp_path / "b.json")
    assert again.returncode == 0, again
    goals = read_json(tmp_path / "b.json")["goals"]
    assert all(g["status"] == "proved" and g["verified"] for g in goals), goals
    assert all(g["message"] == "found elsewhere (sync import), verified here" for g in goals), goals
    # checked once here, then the ledger knows it: the next run takes it as its own
    third = run_cli("prove", clone, "--budget", "10", "--json", tmp_path / "c.json")
    assert all(g["message"] == "" and g["verified"] for g in read_json(tmp_path / "c.json")["goals"])
    assert third.returncode == 0


def test_nothing_is_taken_under_another_library_revision(origin: Path, tmp_path: Path) -> None:
    assert run_cli("prove", origin, "--budget", "10", "--golf", "0", "--no-tickets").returncode == 0
    shared = tmp_path / "shared.jsonl.gz"
    assert run_cli("sync", "export", shared, origin).returncode == 0
    clone = _clone(origin, tmp_path / "b", LIB_V2)
    got = run_cli("sync", "import", shared, clone)
    assert got.returncode == 0, got
    assert "imported 0 goal result(s)" in got.stdout and "3 skipped: found under another environment" in got.stdout
    assert "library Lib" in got.stdout
    from sidecar.ledger import Ledger

    led = Ledger(clone)
    try:
        assert list(led.goals()) == []
    finally:
        led.close()


def test_a_forged_proof_is_never_offered(origin: Path, tmp_path: Path) -> None:
    """An export is data from elsewhere: a proof in it that does not check here is searched for instead."""
    assert run_cli("prove", origin, "--budget", "10", "--golf", "0", "--no-tickets").returncode == 0
    shared = tmp_path / "x.jsonl.gz"
    assert run_cli("sync", "export", shared, origin).returncode == 0
    lines = [json.loads(x) for x in gzip.decompress(shared.read_bytes()).decode().splitlines()]
    for row in lines[1:]:
        if row.get("name") == "le_double" or row.get("lemma") == "le_double":
            row["proof"] = "Proof. admit. Admitted."  # not a proof
        if row.get("lemma") == "add_zero":
            row["proof"] = "Proof. exact I. Qed."  # a proof of something else
    shared.write_bytes(gzip.compress("\n".join(json.dumps(r) for r in lines).encode()))
    clone = _clone(origin, tmp_path / "b", LIB)
    assert run_cli("sync", "import", shared, clone).returncode == 0
    run = run_cli("prove", clone, "--budget", "10", "--golf", "0", "--no-tickets", "--json", tmp_path / "b.json")
    assert run.returncode == 0, run
    by = {g["name"]: g for g in read_json(tmp_path / "b.json")["goals"]}
    for name in ("le_double", "add_zero"):
        assert "sync import" not in by[name]["message"], by[name]
        assert by[name]["proof"] not in ("Proof. admit. Admitted.", "Proof. exact I. Qed."), by[name]
    assert by["double_two"]["message"] == "found elsewhere (sync import), verified here"


def test_bad_exports_are_said_and_cost_nothing(origin: Path, tmp_path: Path) -> None:
    assert run_cli("prove", origin, "--budget", "10", "--golf", "0", "--no-tickets").returncode == 0
    from sidecar.ledger import Ledger

    def rows() -> list[object]:
        led = Ledger(origin)
        try:
            return list(led.goals())
        finally:
            led.close()

    before = rows()
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "a.jsonl.gz").write_bytes(b"\x1f\x8b not gzip at all")
    (junk / "b.jsonl").write_text('{"format": "something-else"}\n', encoding="utf-8")
    got = run_cli("sync", "import", junk, origin)
    assert got.returncode == 0, got
    assert "2 file(s) not read" in got.stdout and "not an auto-prove export" in got.stdout, got
    assert rows() == before
    nothing = run_cli("sync", "import", tmp_path / "absent", origin)
    assert nothing.returncode == 0 and "nothing to import" in nothing.stdout
    no_ledger = run_cli("sync", "export", tmp_path / "out", tmp_path)
    assert no_ledger.returncode == 0 and "nothing to export: no ledger under" in no_ledger.stdout
    assert not (tmp_path / "out").exists()
    unwritable = run_cli("sync", "export", "/proc/auto-prove-cannot-write-here/", origin)
    assert unwritable.returncode == 2 and "cannot write" in unwritable.stderr, unwritable
    # a URL goes through fsspec: its in-memory filesystem stands for a bucket here
    url = run_cli("sync", "export", "memory://bucket/exports/", origin)
    assert url.returncode == 0 and "memory://bucket/exports/auto-prove-" in url.stdout.replace("\n", ""), url
