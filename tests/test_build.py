"""A fresh clone of a multi-file Coq project just works: what the searched files `Require` is built first
(sidecar/build.py), against real coqc/coqdep/coqidetop.

The project (made in tmp_path): `_CoqProject` with `-R theories Proj` and `-Q extra Ext`; a chain A ← B ← sub/C
(`theories/sub/`), a diamond A ← {B, Ext.E} ← D; every file has one easy goal whose truth depends on the values
defined in the files it loads (so a goal is proved only against the right .vo).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import psutil
import pytest

from conftest import goals_by_name, read_json, run_cli

pytestmark = pytest.mark.skipif(shutil.which("coqidetop.opt") is None or shutil.which("coqc") is None
                                or shutil.which("coqdep") is None, reason="Coq (coqc, coqdep, coqidetop.opt) not installed")

BUDGET = "10"  # easy goals take well under a second; generous for a loaded 2-core machine

PROJECT = {
    "_CoqProject": "-R theories Proj\n-Q extra Ext\n\ntheories/A.v\ntheories/B.v\ntheories/sub/C.v\ntheories/D.v\n"
                   "extra/E.v\n",
    "theories/A.v": "Definition a_val := 1.\n\nLemma a_goal : forall n : nat, n + 0 = n.\nAdmitted.\n",
    "theories/B.v": "From Proj Require Import A.\n\nDefinition b_val := a_val + 1.\n\nLemma b_goal : b_val = 2.\n"
                    "Admitted.\n",
    "theories/sub/C.v": "From Proj Require Import B.\n\nDefinition c_val := b_val + 1.\n\nLemma c_goal : c_val = 3.\n"
                        "Admitted.\n",
    "extra/E.v": "From Proj Require Import A.\n\nDefinition e_val := a_val + 10.\n\nLemma e_goal : e_val = 11.\n"
                 "Admitted.\n",
    "theories/D.v": "From Proj Require Import B.\nFrom Ext Require Import E.\n\nLemma d_goal : b_val + e_val = 13.\n"
                    "Admitted.\n",
}
GOALS = {"a_goal", "b_goal", "c_goal", "d_goal", "e_goal"}


def make_project(dest: Path, files: dict[str, str] = PROJECT) -> Path:
    for rel, text in files.items():
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        (dest / rel).write_text(text, encoding="utf-8")
    return dest


def proved(doc: dict[str, object]) -> set[str]:
    return {name for name, g in goals_by_name(doc).items() if g["status"] == "proved" and g["verified"]}


def rel(paths: object, root: Path) -> set[str]:
    return {str(Path(p).relative_to(root)) for p in paths}  # type: ignore[attr-defined]


def touch_later(path: Path, text: str) -> None:
    """Write `path` with an mtime surely after every file written before (coarse file-system clocks)."""
    path.write_text(text, encoding="utf-8")
    later = time.time_ns() + 2_000_000_000
    os.utime(path, ns=(later, later))


# --------------------------------------------------------------------------------------------------
# the command line, from a fresh clone


def test_fresh_clone_every_file_is_built_for_and_searched(tmp_path: Path) -> None:
    root = make_project(tmp_path / "proj")
    out = tmp_path / "report.json"
    run = run_cli("prove", root, "--budget", BUDGET, "--json", out)
    assert run.returncode == 0, run
    assert not run.stragglers, run
    assert "Cannot find a physical path" not in run.stderr, run
    assert not run.error_lines(), run
    assert "building dependencies" in run.stdout and "3 built" in run.stdout, run  # A, B, E: what others load
    doc = read_json(out)
    assert proved(doc) == GOALS, doc
    # nothing beside the sources: the build is private
    assert sorted(p.name for p in (root / "theories").iterdir()) == ["A.v", "B.v", "D.v", "sub"]
    # an up-to-date second run builds nothing
    again = run_cli("prove", root, "--budget", BUDGET, "--json", out)
    assert again.returncode == 0, again
    assert "0 built, 3 up to date" in again.stdout, again
    assert proved(read_json(out)) == GOALS


def test_a_dependency_that_does_not_build_is_named_once_and_the_rest_is_searched(tmp_path: Path) -> None:
    files = dict(PROJECT)
    files["theories/B.v"] = files["theories/B.v"].replace("a_val + 1", "a_val + true")
    root = make_project(tmp_path / "proj", files)
    out = tmp_path / "report.json"
    run = run_cli("prove", root, "--budget", BUDGET, "--json", out)
    assert run.returncode == 0, run  # as for any file that cannot be used: said, and the others go on
    lines = [ln for ln in run.stderr.splitlines() if "cannot build" in ln]
    assert len(lines) == 1, run
    assert lines[0].startswith("error: cannot build theories/B.v (needed by theories/D.v, theories/sub/C.v): "
                               'line 3: Error: The term "true" has type "bool"'), run
    assert "'coqc -Q extra Ext -R theories Proj theories/B.v' shows the whole error" in lines[0], run
    assert "Cannot find a physical path" not in run.stderr, run
    doc = read_json(out)
    assert proved(doc) == {"a_goal", "e_goal"}, doc  # B itself does not compile; C and D need it
    assert "2 file problem(s)" in run.stdout  # the build failure, and B's own error


SEALED = {  # A's lemma is reachable from B only through the sealed module M: B's goal needs it (a rewrite)
    "_CoqProject": "-R theories W\ntheories/A.v\ntheories/B.v\n",
    "theories/A.v": "Module Impl.\n  Definition secret := 42.\n  Lemma secret_eq : secret = 42.\n  Admitted.\n"
                    "End Impl.\nModule Type SECRET.\n  Parameter secret : nat.\n  Axiom secret_eq : secret = 42.\n"
                    "End SECRET.\nModule M : SECRET := Impl.\n",
    "theories/B.v": "From W Require Import A.\n\nLemma b_secret : M.secret + 1 = 43.\nAdmitted.\n",
}


def test_write_searches_a_dependent_file_against_the_written_dependency(tmp_path: Path) -> None:
    """With --write, B is searched after A's proof was written and A rebuilt: B's proof (through `M.secret_eq`)
    then stands on no open lemma. Searched together with the old A it would stand on A's admitted lemma."""
    root = make_project(tmp_path / "proj", SEALED)
    out = tmp_path / "report.json"
    run = run_cli("prove", root, "--budget", BUDGET, "--write", "--json", out)
    assert run.returncode == 0, run
    goals = goals_by_name(read_json(out))
    assert goals["secret_eq"]["status"] == "proved", goals
    assert goals["b_secret"]["status"] == "proved" and goals["b_secret"]["verified"], goals
    assert not goals["b_secret"].get("depends_on_open"), goals
    assert "Admitted" not in (root / "theories/A.v").read_text() + (root / "theories/B.v").read_text()
    for f in ("A.v", "B.v"):  # what was written compiles, in order
        c = subprocess.run(["coqc", "-R", "theories", "W", f"theories/{f}"], cwd=root, capture_output=True, text=True)
        assert c.returncode == 0, c.stderr


def test_a_coq_makefile_project_uses_its_own_build_and_never_a_stale_vo(tmp_path: Path) -> None:
    from sidecar.build import build_dependencies

    root = make_project(tmp_path / "proj")
    subprocess.run(["coq_makefile", "-f", "_CoqProject", "-o", "CoqMakefile"], cwd=root, check=True,
                   capture_output=True)
    (root / "Makefile").write_text("all:\n\t$(MAKE) -f CoqMakefile\n")
    sources = sorted(root.rglob("*.v"))
    # nothing compiled yet: built privately, as any project
    first = build_dependencies(sources)
    assert rel(first.built, root) == {"theories/A.v", "theories/B.v", "extra/E.v"}
    subprocess.run(["make", "-s"], cwd=root, check=True, capture_output=True)
    # after `make`: its .vo are up to date, used as they are, and the private copies go (they would shadow them)
    after_make = build_dependencies(sources)
    assert after_make.built == () and rel(after_make.in_place, root) == {"theories/A.v", "theories/B.v", "extra/E.v"}
    assert not (root / ".auto-prove/build/root/theories/A.vo").exists()
    # A edited, `make` not run again: its .vo beside it is stale and must not be loaded; B (and E) were made against
    # it, so they are rebuilt privately too
    touch_later(root / "theories/A.v", PROJECT["theories/A.v"].replace("a_val := 1", "a_val := 5"))
    (root / "theories/sub/C.v").write_text(PROJECT["theories/sub/C.v"] + "\nLemma c_new : c_val = 7.\nAdmitted.\n")
    out = tmp_path / "report.json"
    run = run_cli("prove", root / "theories/sub/C.v", "--budget", BUDGET, "--json", out)
    assert run.returncode == 0, run
    assert "2 built" in run.stdout, run  # A and B (E is not loaded by C)
    goals = goals_by_name(read_json(out))
    assert goals["c_new"]["status"] == "proved", goals  # true with the new A only (c_val = 5 + 2)
    assert goals["c_goal"]["status"] != "proved" or goals["c_goal"].get("depends_on_open"), goals  # false now
    # a failure in such a project says to run make
    touch_later(root / "theories/B.v", PROJECT["theories/B.v"].replace("a_val + 1", "a_val + true"))
    failing = build_dependencies([root / "theories/sub/C.v"])
    assert str(failing.failures[0]).endswith(f"; fix it or run 'make' in {root}"), failing


# --------------------------------------------------------------------------------------------------
# the build itself


def test_an_up_to_date_build_costs_little_and_an_edit_rebuilds_what_depends_on_it(tmp_path: Path) -> None:
    from sidecar.build import build_dependencies, search_waves

    root = make_project(tmp_path / "proj")
    sources = sorted(root.rglob("*.v"))
    seen: list[tuple[int, int]] = []
    first = build_dependencies(sources, progress=lambda done, total, f: seen.append((done, total)))
    assert rel(first.built, root) == {"theories/A.v", "theories/B.v", "extra/E.v"}  # not C, D: no one loads them
    assert seen[0] == (0, 3) and seen[-1] == (3, 3)
    assert first.failures == () and first.blocked == {}
    assert rel(first.needs[root / "theories/D.v"], root) == {"theories/A.v", "theories/B.v", "extra/E.v"}
    assert rel(first.needs[root / "theories/sub/C.v"], root) == {"theories/A.v", "theories/B.v"}
    vo = root / ".auto-prove/build/root/theories/B.vo"
    stamp = vo.stat().st_mtime_ns

    times = []
    for _ in range(3):
        t0 = time.monotonic()
        again = build_dependencies(sources)
        times.append(time.monotonic() - t0)
        assert again.built == () and len(again.up_to_date) == 3
    print(f"up-to-date build of 3 dependencies: {min(times) * 1000:.0f}-{max(times) * 1000:.0f} ms")
    assert min(times) < 1.0
    assert vo.stat().st_mtime_ns == stamp

    # an edit of E rebuilds E only; an edit of A rebuilds A and everything built on it
    (root / "extra/E.v").write_text(PROJECT["extra/E.v"] + "\n(* edited *)\n")
    assert rel(build_dependencies(sources).built, root) == {"extra/E.v"}
    (root / "theories/A.v").write_text(PROJECT["theories/A.v"].replace("a_val := 1", "a_val := 2"))
    assert rel(build_dependencies(sources).built, root) == {"theories/A.v", "theories/B.v", "extra/E.v"}
    assert vo.stat().st_mtime_ns != stamp
    # a private .vo removed behind our back is noticed
    (root / ".auto-prove/build/root/theories/A.vo").unlink()
    assert rel(build_dependencies([root / "theories/B.v"]).built, root) == {"theories/A.v"}

    waves = search_waves(sources, first.needs)
    order = {f: i for i, wave in enumerate(waves) for f in wave}
    assert order[root / "theories/A.v"] == 0
    assert order[root / "theories/A.v"] < order[root / "theories/B.v"] < order[root / "theories/sub/C.v"]
    assert order[root / "extra/E.v"] < order[root / "theories/D.v"] and order[root / "theories/B.v"] < order[
        root / "theories/D.v"]


def test_a_folder_without_coqproject_and_an_editors_unsaved_requires(tmp_path: Path) -> None:
    """Files that `Require` their neighbours by short name (the folder bound to the empty logical name, as coqc
    binds its working folder); the text given for a file (an editor's) decides what it loads."""
    from sidecar.build import build_dependencies
    from sidecar.goals import find_coq_goals

    root = tmp_path / "plain"
    make_project(root, {"Base.v": "Definition base := 3.\n", "Other.v": "Definition other := 4.\n",
                        "Top.v": "Require Import Base.\nLemma t : base = 3.\nAdmitted.\n"})
    report = build_dependencies([root / "Top.v"])
    assert rel(report.built, root) == {"Base.v"}
    fg = find_coq_goals(root / "Top.v")
    assert fg.error is None and [g.lemma for g in fg.goals] == ["t"], fg
    unsaved = b"Require Import Base Other.\nLemma t : base + other = 7.\nAdmitted.\n"
    report = build_dependencies([root / "Top.v"], sources={root / "Top.v": unsaved})
    assert rel(report.built, root) == {"Other.v"}
    assert rel(report.needs[root / "Top.v"], root) == {"Base.v", "Other.v"}
    # a file that loads nothing costs no coqdep and makes no build folder
    lone = tmp_path / "lone"
    make_project(lone, {"L.v": "(* Require Import Nothing. *)\nLemma l : True.\nAdmitted.\n"})
    assert build_dependencies([lone / "L.v"]).needs == {lone / "L.v": frozenset()}
    assert not (lone / ".auto-prove").exists()


def _our_coqc(root: Path) -> list[psutil.Process]:
    out = []
    for p in psutil.process_iter(["name", "cmdline"]):
        try:
            if p.info["name"] == "coqc" and any(str(root) in a for a in p.info["cmdline"] or ()):
                out.append(p)
        except psutil.Error:
            continue
    return out


def test_cancelling_a_build_kills_its_coqc(tmp_path: Path) -> None:
    from sidecar.build import build_dependencies

    root = make_project(tmp_path / "proj", {
        "_CoqProject": "-R . S\n",
        "Slow.v": "From Coq Require Import NArith.\nEval vm_compute in N.iter 100000000000 N.succ 0%N.\n",
        "Fast.v": "Definition fast := 1.\n",
        "Top.v": "From S Require Import Slow Fast.\nLemma t : True.\nAdmitted.\n",
    })
    cancel = threading.Event()
    result: list[object] = []
    worker = threading.Thread(target=lambda: result.append(build_dependencies([root / "Top.v"], cancel=cancel)))
    worker.start()
    deadline = time.monotonic() + 30
    while not any("Slow.v" in " ".join(p.cmdline()) for p in _our_coqc(root)) and time.monotonic() < deadline:
        time.sleep(0.1)
    t0 = time.monotonic()
    cancel.set()
    worker.join(timeout=20)
    assert not worker.is_alive()
    assert time.monotonic() - t0 < 5
    report = result[0]
    assert report.cancelled  # type: ignore[attr-defined]
    assert not _our_coqc(root)
    assert not (root / ".auto-prove/build/root/Slow.vo").exists()


# --------------------------------------------------------------------------------------------------
# the language server's workspace


def test_the_live_workspace_builds_what_an_opened_file_needs(tmp_path: Path) -> None:
    from sidecar.live import LiveWorkspace
    from sidecar.scheduler import ProveOptions

    root = make_project(tmp_path / "proj")
    states: list[bool] = []
    live = LiveWorkspace(ProveOptions(budget=float(BUDGET)), root, use_ledger=False,
                         on_document=lambda d: states.append(d.building))
    live.start()
    try:
        c = root / "theories/sub/C.v"
        live.open(c, c.read_text(), 1)
        deadline = time.monotonic() + 60
        doc = live.docs[c]
        while time.monotonic() < deadline and not (doc.goals and doc.goals[0].out.status == "proved"):
            time.sleep(0.1)
        assert doc.error is None, doc.error
        assert [(tg.goal.lemma, tg.out.status) for tg in doc.goals] == [("c_goal", "proved")]
        assert True in states  # "building dependencies" was shown meanwhile
        assert rel(doc.needs, root) == {"theories/A.v", "theories/B.v"}
        # A changes on disk: C is found again, which rebuilds A first
        a_vo = root / ".auto-prove/build/root/theories/A.vo"
        stamp = a_vo.stat().st_mtime_ns
        (root / "theories/A.v").write_text(PROJECT["theories/A.v"] + "\nDefinition a_more := 2.\n")
        live.file_changed(root / "theories/A.v")
        while time.monotonic() < deadline and not (a_vo.exists() and a_vo.stat().st_mtime_ns != stamp
                                                   and not doc.finding and c not in live._pending):
            time.sleep(0.1)
        assert a_vo.stat().st_mtime_ns != stamp
        # a dependency that cannot be built: the document says which and why
        (root / "theories/B.v").write_text(PROJECT["theories/B.v"].replace("a_val + 1", "a_val + true"))
        live.file_changed(root / "theories/B.v")
        while time.monotonic() < deadline and not (doc.error or "").startswith("cannot build"):
            time.sleep(0.1)
        assert (doc.error or "").startswith("cannot build theories/B.v (needed by theories/sub/C.v): line 3:"), doc.error
    finally:
        live.close()


def test_manifest_is_plain_json(tmp_path: Path) -> None:
    from sidecar.build import build_dependencies

    root = make_project(tmp_path / "proj")
    build_dependencies([root / "theories/B.v"])
    data = json.loads((root / ".auto-prove/build/manifest.json").read_text())
    assert set(data["files"]) == {str(root / "theories/A.v")}


def test_a_changed_dependency_invalidates_what_the_ledger_knows(tmp_path: Path) -> None:
    """A proof or an exhausted search recorded while a loaded project file said one thing is not reused after it
    says another: the stored proof is verified again (and refused), the exhausted goal searched again."""
    root = make_project(tmp_path / "p", {
        "_CoqProject": "-R . P\n",
        "A.v": "Definition k := 1.\n",
        "B.v": "From P Require Import A.\n\nLemma is_one : k = 1.\nAdmitted.\n\nLemma is_two : k = 2.\nAdmitted.\n",
    })
    first = run_cli("prove", root / "B.v", "--budget", "4", "--json", tmp_path / "1.json")
    rows = goals_by_name(read_json(tmp_path / "1.json"))
    assert rows["is_one"]["status"] == "proved" and rows["is_two"]["status"] != "proved", first
    touch_later(root / "A.v", "Definition k := 2.\n")
    second = run_cli("prove", root / "B.v", "--budget", "4", "--json", tmp_path / "2.json")
    rows = goals_by_name(read_json(tmp_path / "2.json"))
    # without the dependency's fingerprint the ledger would report is_one proved (its file did not change)
    assert rows["is_one"]["status"] != "proved", second
    assert rows["is_two"]["status"] == "proved", second
