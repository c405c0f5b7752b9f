"""Blueprints: leanblueprint LaTeX read through the real plasTeX and its plugins, checked against real Coq (the demo
project and its blueprint in `blueprint/`), and the graph's coverage, greens, next set and critical path."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

from conftest import REPO, run_cli
from sidecar.blueprint.graph import Blueprint, DeclTruth, Node

needs_coq = pytest.mark.skipif(shutil.which("coqc") is None, reason="coqc not installed")
# found, never imported here: importing plasTeX replaces the logging module's logger class for the whole process
if importlib.util.find_spec("plasTeX") is None or importlib.util.find_spec("leanblueprint") is None:
    pytest.skip("plasTeX and leanblueprint not installed (make test installs the extra `blueprint`)",
                allow_module_level=True)

WEB = ("\\documentclass{report}\n\\usepackage{amsthm}\n\\usepackage{blueprint}\n\\newtheorem{lemma}{Lemma}\n"
       "\\begin{document}\n\\input{content}\n\\end{document}\n")


def blueprint(tmp_path: Path, content: str, web: str = WEB) -> Path:
    src = tmp_path / "bp" / "src"
    src.mkdir(parents=True)
    (src / "web.tex").write_text(web)
    (src / "content.tex").write_text(content)
    return tmp_path / "bp"


def demo(tmp_path: Path) -> Path:
    project = tmp_path / "demo"
    shutil.copytree(REPO / "bank" / "demo", project)
    return project


def test_the_demo_blueprint_reads_with_its_marks_and_uses() -> None:
    from sidecar.blueprint.read import read_blueprint

    before = sorted(p.name for p in (REPO / "blueprint" / "src").iterdir())
    bp = read_blueprint(REPO / "blueprint")
    assert sorted(p.name for p in (REPO / "blueprint" / "src").iterdir()) == before  # parsed on a copy
    assert len(bp.nodes) == 15 and bp.problems == []
    snoc_app = bp.nodes["lem:snoc_app"]
    assert snoc_app.decls == ("snoc_app",) and snoc_app.leanok and snoc_app.proof_leanok and snoc_app.marked_proved
    length = bp.nodes["lem:snoc_length"]
    assert "def:snoc" in length.deps and "lem:snoc_app" in length.proof_uses and not length.marked_proved
    assert bp.nodes["thm:sum_snoc"].decls == () and bp.nodes["def:tri"].kind == "definition"


@needs_coq
def test_the_demo_is_checked_against_coq_and_a_proof_turns_its_node_green(tmp_path: Path) -> None:
    """`auto-prove blueprint`: the false green (a `\\rocqok` over an Admitted lemma) and the missing green (a proof
    nobody marked) are found by Coq, not by the LaTeX; once the lemma is proved in the file, the next run says so;
    nothing of the project or the blueprint is changed."""
    project = demo(tmp_path)
    bp_dir = tmp_path / "blueprint"
    shutil.copytree(REPO / "blueprint", bp_dir)
    out = tmp_path / "bp.json"
    first = run_cli("blueprint", project, "--blueprint", bp_dir, "--json", out, timeout=600)
    assert first.returncode == 0, first
    doc = json.loads(out.read_text())
    assert doc["coverage"] == {"nodes": 15, "stated": 14, "can_prove": 7, "proved": 5, "fully_proved": 5}
    assert doc["false_greens"] == [{"label": "lem:tri_closed", "why": "depends on NatFacts.tri_closed (admitted)"}]
    assert doc["missing_greens"] == ["lem:add_sub_cancel"]
    assert "lem:sum_app" in doc["can_prove_next"] and "lem:sum_rev" not in doc["can_prove_next"]
    assert doc["critical_path"][0] == "lem:sum_app" and len(doc["critical_path"]) == 2
    assert "false green: lem:tri_closed" in first.stdout and "missing green: lem:add_sub_cancel" in first.stdout
    nat = project / "NatFacts.v"
    text = nat.read_text()
    start = text.index("Lemma tri_closed")
    end = text.index("Admitted.", start) + len("Admitted.")
    nat.write_text(text[:start] + "Lemma tri_closed : forall n : nat, 2 * tri n = n * (n + 1).\n"
                   "Proof. induction n as [|n IH]; simpl; lia. Qed." + text[end:])
    second = run_cli("blueprint", project, "--blueprint", bp_dir, "--json", out, timeout=600)
    doc = json.loads(out.read_text())
    assert second.returncode == 0 and doc["false_greens"] == [], second
    assert next(n for n in doc["nodes"] if n["label"] == "lem:tri_closed")["status"] == "proved"
    assert "lem:tri_le_sq" in doc["can_prove_next"]  # it waited for tri_closed
    assert sorted(p.name for p in (bp_dir / "src").iterdir()) == ["content.tex", "web.tex"]


@needs_coq
def test_bad_blueprints_get_clear_errors_and_reports(tmp_path: Path) -> None:
    project = demo(tmp_path)
    no_package = blueprint(tmp_path / "a", "\\begin{lemma}x\\end{lemma}\n",
                           web="\\documentclass{report}\n\\begin{document}\\input{content}\\end{document}\n")
    r = run_cli("blueprint", project, "--blueprint", no_package)
    assert r.returncode == 2 and "\\usepackage{blueprint}" in r.stderr, r
    r = run_cli("blueprint", project, "--blueprint", tmp_path / "nowhere")
    assert r.returncode == 2 and "no blueprint" in r.stderr, r
    odd = blueprint(tmp_path / "b", "\\begin{lemma}\\label{a}\\rocq{snoc_app}\\uses{b}\nA\n\\end{lemma}\n"
                                    "\\begin{lemma}\\label{b}\\rocq{not_a_lemma}\\uses{a, c}\nB\n\\end{lemma}\n")
    out = tmp_path / "odd.json"
    r = run_cli("blueprint", project, "--blueprint", odd, "--json", out, timeout=600)
    assert r.returncode == 0, r
    doc = json.loads(out.read_text())
    assert doc["cycles"] == [["a", "b", "a"]] and doc["unknown_decls"] == ["not_a_lemma"]
    assert any("'c' could not be resolved" in p for p in doc["problems"]), doc["problems"]
    assert "cycle: a → b → a" in r.stdout and "unknown declaration: not_a_lemma" in r.stdout
    r = run_cli("blueprint", project, "--blueprint", odd, "--target", "zzz")
    assert r.returncode == 2 and "no node 'zzz'" in r.stderr, r


def test_inputs_in_subfolders_are_found_without_a_tex_distribution(tmp_path: Path) -> None:
    """Real blueprints (PFR's, for one) `\\input{chapter/main}` from subfolders; with no `kpsewhich` (no TeX
    installed, as here) plasTeX alone would find none of them and read an empty blueprint."""
    from sidecar.blueprint.read import read_blueprint

    root = blueprint(tmp_path, "\\input{chapter/main}\n")
    (root / "src" / "chapter").mkdir()
    (root / "src" / "chapter" / "main.tex").write_text("\\input{chapter/two}\n\\begin{lemma}\\label{one}\\lean{One}\nA.\n"
                                                       "\\end{lemma}\n")
    (root / "src" / "chapter" / "two.tex").write_text("\\begin{lemma}\\label{two}\\lean{Two}\\uses{one}\nB.\n"
                                                      "\\end{lemma}\n")
    bp = read_blueprint(root)
    assert sorted(bp.nodes) == ["one", "two"] and bp.nodes["two"].uses == ("one",)
    assert not any("not found" in p for p in bp.problems), bp.problems


def test_coverage_next_and_the_critical_path() -> None:
    """A ← B ← D, A ← C ← D, D ← E; only A proved: B and C can be proved next; the critical path to E is its longest
    chain of nodes not proved; what proving a node unblocks counts the nodes waiting on it."""
    bp = Blueprint.of([Node("A", decls=("a",), leanok=True), Node("B", decls=("b",), uses=("A",)),
                       Node("C", decls=("c",), uses=("A",), leanok=True, has_proof=True, proof_leanok=True),
                       Node("D", decls=("d",), uses=("B",), proof_uses=("C",)), Node("E", uses=("D",))])
    truth = {"a": DeclTruth(True), "b": DeclTruth(True, open=("b",)), "c": DeclTruth(True, open=("x",)),
             "d": DeclTruth(True, open=("d",))}
    st = bp.status(truth)
    assert st == {"A": "proved", "B": "stated", "C": "stated", "D": "stated", "E": "not formalized"}
    assert bp.can_prove_next(st) == ["B", "C"] and bp.false_greens(st) == ["C"] and bp.missing_greens(st) == []
    assert bp.critical_path(st) == ["B", "D", "E"] and bp.critical_path(st, "D") == ["B", "D"]
    assert bp.unblocks(st) == {"B": 2, "C": 2, "D": 1, "E": 0}
    c = bp.coverage(st)
    assert (c.total, c.stated, c.can_prove, c.proved, c.fully_proved) == (5, 4, 2, 1, 1)
    assert bp.cycles() == [] and bp.sinks() == ["E"]


ORDER_V = ("Lemma z1 : forall n : nat, n + 0 = n.\nAdmitted.\n\nLemma la : forall n : nat, 0 + n = n.\nAdmitted.\n\n"
           "Lemma lb : forall n : nat, n * 1 = n.\nAdmitted.\n")
ORDER_BP = ("\\begin{lemma}\\label{a}\\rocq{la}\nA.\n\\end{lemma}\n\\begin{lemma}\\label{b}\\rocq{lb}\\uses{a}\nB.\n"
            "\\end{lemma}\n\\begin{lemma}\\label{x}\\uses{b}\nX.\n\\end{lemma}\n\\begin{lemma}\\label{z}\\rocq{z1}\nZ.\n"
            "\\end{lemma}\n")


def order_project(tmp_path: Path) -> Path:
    root = tmp_path / "ord"
    root.mkdir(parents=True)
    (root / "_CoqProject").write_text("-R . Ord\nA.v\n")
    (root / "A.v").write_text(ORDER_V)
    src = root / "blueprint" / "src"
    src.mkdir(parents=True)
    (src / "web.tex").write_text(WEB)
    (src / "content.tex").write_text(ORDER_BP)
    return root


def ledger_order(root: Path) -> list[str]:
    import sqlite3

    db = sqlite3.connect(root / ".auto-prove" / "ledger.sqlite")
    return [r[0] for r in db.execute("SELECT lemma FROM goals ORDER BY updated")]


@needs_coq
def test_the_blueprint_orders_the_goals_in_the_cli_and_the_editor(tmp_path: Path) -> None:
    """`la` is what `lb` and the unformalized `x` wait on (the critical path), `lb` what `x` waits on, `z1` nothing:
    one prover at a time searches them in that order, though the file has `z1` first — in `prove` and in the
    language server's workspace."""
    import sys
    import time

    root = order_project(tmp_path / "cli")
    r = run_cli("prove", root, "--budget", "10", "--max-provers", "1", "--profile", "0", timeout=300)
    assert r.returncode == 0 and "blueprint puts 2 of the goals first" in r.stderr, r
    assert ledger_order(root) == ["la", "lb", "z1"]

    sys.path.insert(0, str(REPO / "benchmarks"))
    from lspclient import Client

    root = order_project(tmp_path / "lsp")
    c = Client(root, {"autoProve": {"budgetSeconds": 10, "maxProvers": 1, "profile": 0}})
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            st = c.request("workspace/executeCommand", {"command": "autoProve.status"})
            if st.get("proved") == 3:
                break
            time.sleep(0.5)
    finally:
        c.close()
    assert st.get("proved") == 3, st
    assert ledger_order(root) == ["la", "lb", "z1"]


@needs_coq
def test_the_updater_marks_what_coq_proved_and_unmarks_false_greens(tmp_path: Path) -> None:
    """`--update` prints the edits as a diff and changes nothing; `--write` applies them; the next check finds no
    false or missing green; a second update has nothing to do."""
    project = demo(tmp_path)
    bp_dir = tmp_path / "blueprint"
    shutil.copytree(REPO / "blueprint", bp_dir)
    content = bp_dir / "src" / "content.tex"
    before = content.read_text()
    r = run_cli("blueprint", project, "--blueprint", bp_dir, "--update", timeout=600)
    assert r.returncode == 0 and content.read_text() == before, r
    assert "-\\begin{proof}\\rocqok\n+\\begin{proof}\n Induction on $n$." in r.stdout, r.stdout
    assert "+\\begin{proof}\\rocqok\n Linear arithmetic." in r.stdout
    r = run_cli("blueprint", project, "--blueprint", bp_dir, "--update", "--write", "--json", tmp_path / "b.json",
                timeout=600)
    assert r.returncode == 0 and "1 node(s) marked, 1 unmarked" in r.stdout, r
    after = content.read_text()
    assert after.count("\\rocqok") == before.count("\\rocqok") and after != before
    r = run_cli("blueprint", project, "--blueprint", bp_dir, "--update", "--json", tmp_path / "c.json", timeout=600)
    doc = json.loads((tmp_path / "c.json").read_text())
    assert doc["false_greens"] == [] and doc["missing_greens"] == [] and "already say" in r.stdout, r


def test_the_updater_unmarks_a_statement_without_proof_or_declaration(tmp_path: Path) -> None:
    from sidecar.blueprint.check import BlueprintCheck
    from sidecar.blueprint.update import plan_updates

    text = ("\\begin{lemma}[Gone]\\label{gone}\\lean{Foo.gone}\\leanok\nA.\n\\end{lemma}\n\\begin{proof}\\leanok\nB.\n"
            "\\end{proof}\n\n\\begin{lemma}\\label{bare}\\lean{bare}\\leanok\nC.\n\\end{lemma}\n\n"
            "\\begin{theorem}\\label{done}\\lean{done}\nD.\n\\end{theorem}\n% a comment\n\\begin{proof}\nE.\n\\end{proof}\n")
    root = blueprint(tmp_path, text)
    bp = Blueprint.of([Node("gone", decls=("Foo.gone",), leanok=True, has_proof=True, proof_leanok=True),
                       Node("bare", decls=("bare",), leanok=True), Node("done", decls=("done",), has_proof=True)])
    truth = {"Foo.gone": DeclTruth(False), "bare": DeclTruth(True, open=("bare",)), "done": DeclTruth(True)}
    (edit,) = plan_updates(BlueprintCheck(bp, truth, bp.status(truth)), root)
    assert edit.removed == ("bare", "gone") and edit.added == ("done",)
    assert edit.after == text.replace("\\leanok", "").replace("\\label{done}", "\\label{done}\\leanok").replace(
        "% a comment\n\\begin{proof}", "% a comment\n\\begin{proof}\\leanok")
    assert (root / "src" / "content.tex").read_text() == text  # planning writes nothing


@needs_coq
def test_a_coq_project_without_blueprint_gets_the_graph_coq_gives(tmp_path: Path) -> None:
    """No blueprint: coq-dpdgraph's graph of the project's lemmas and definitions, checked like a blueprint (no
    marks, so no greens to report)."""
    if not Path("/usr/lib/ocaml/coq/user-contrib/dpdgraph/dpdgraph.vo").exists():
        pytest.skip("coq-dpdgraph not installed (make test installs libcoq-dpdgraph)")
    project = demo(tmp_path)
    out = tmp_path / "g.json"
    r = run_cli("blueprint", project, "--json", out, timeout=600)
    assert r.returncode == 0 and "no blueprint: the dependency graph Coq gives" in r.stdout, r
    doc = json.loads(out.read_text())
    assert doc["graph"] == "coq-dpdgraph" and doc["missing_greens"] == [] and doc["false_greens"] == []
    nodes = {n["label"]: n for n in doc["nodes"]}
    assert nodes["ListFacts.snoc_app"] == {"label": "ListFacts.snoc_app", "kind": "lemma",
                                           "decls": ["ListFacts.snoc_app"], "status": "proved",
                                           "marked_proved": False, "deps": ["ListFacts.snoc"]}
    assert nodes["NatFacts.tri_closed"]["status"] == "stated" and nodes["ListFacts.snoc"]["kind"] == "definition"
    assert doc["coverage"]["nodes"] == 18 and "ListFacts.sum_app" in doc["can_prove_next"]


GRAPH_ORDER_V = """Lemma za : 1 + 1 = 2.
Admitted.

Lemma zb : forall n : nat, n + 0 = n.
Admitted.

Lemma uses_zb : 3 + 0 = 3.
Proof. apply zb. Qed.

Lemma uses_uses_zb : 3 + 0 = 3 /\\ 1 = 1.
Proof. split. apply uses_zb. reflexivity. Qed.
"""


@needs_coq
def test_a_whole_coq_project_without_blueprint_is_ordered_by_the_graph_coq_gives(tmp_path: Path) -> None:
    """`zb` has two lemmas proved over it (closed with Qed, so not fully proved until it is), `za` none: `prove` on
    the whole project searches `zb` first though the file has `za` first; on the file alone, in the file's order."""
    if not Path("/usr/lib/ocaml/coq/user-contrib/dpdgraph/dpdgraph.vo").exists():
        pytest.skip("coq-dpdgraph not installed (make test installs libcoq-dpdgraph)")
    for whole in (True, False):
        root = tmp_path / f"g{whole}"
        root.mkdir()
        (root / "_CoqProject").write_text("-R . G\nA.v\n")
        (root / "A.v").write_text(GRAPH_ORDER_V)
        r = run_cli("prove", root if whole else root / "A.v", "--budget", "10", "--max-provers", "1",
                    "--profile", "0", timeout=300)
        assert r.returncode == 0, r
        assert ("dependency graph (Coq's) puts 1 of the goals first" in r.stderr) == whole, r
        assert ledger_order(root) == (["zb", "za"] if whole else ["za", "zb"])


def test_lean_truth_reads_print_axioms_of_each_declaration(tmp_path: Path) -> None:
    """A Lean project's declarations, through one REPL command (`import` every module, `#print axioms` each name).
    No Lean runs here: the REPL is a hand-written model answering in the recorded shape with Lean's own message
    texts (`'X' depends on axioms: [...]`, `Unknown constant`), so this tests our reading, not Lean."""
    from sidecar.blueprint.truth import lean_modules, lean_truth
    from sidecar.errors import AutoProveError
    from sidecar.provers.lean import parse_response

    root = tmp_path / "proj"
    (root / "Proj" / "Sub").mkdir(parents=True)
    (root / ".lake" / "packages").mkdir(parents=True)
    for rel in ("Proj/Basic.lean", "Proj/Sub/Deep.lean", "lakefile.lean", ".lake/packages/X.lean"):
        (root / rel).write_text("-- a module\n")
    assert lean_modules(root) == ["Proj.Basic", "Proj.Sub.Deep"]
    axioms = {"Proj.done": "[propext, Classical.choice, Quot.sound]", "Proj.open_one": "[propext, sorryAx]",
              "Proj.pure": None}

    class Repl:
        def __init__(self, loads: bool = True) -> None:
            self.loads, self.sources = loads, []  # type: ignore[var-annotated]

        def run_file(self, file: Path, source: str, workdir: Path | None, timeout: float):  # type: ignore[no-untyped-def]
            self.sources.append(source)
            messages = []
            for i, line in enumerate(source.split("\n"), 1):
                if line.startswith("import ") and not self.loads:
                    messages.append({"severity": "error", "pos": {"line": i, "column": 0},
                                     "data": f"object file for {line[7:]} does not exist"})
                if line.startswith("#print axioms "):
                    name = line.split()[-1]
                    if name not in axioms:
                        data, sev = f"Unknown constant `{name}`", "error"
                    elif axioms[name] is None:
                        data, sev = f"'{name}' does not depend on any axioms", "info"
                    else:
                        data, sev = f"'{name}' depends on axioms: {axioms[name]}", "info"
                    messages.append({"severity": sev, "pos": {"line": i, "column": 0}, "data": data})
            return parse_response({"messages": messages, "env": 0})

    repl = Repl()
    truth = lean_truth(root, ["Proj.done", "Proj.open_one", "Proj.pure", "Proj.nope", "Proj.done"], repl)
    assert repl.sources == ["import Proj.Basic\nimport Proj.Sub.Deep\n\n#print axioms Proj.done\n"
                            "#print axioms Proj.open_one\n#print axioms Proj.pure\n#print axioms Proj.nope\n"]
    assert truth == {"Proj.done": DeclTruth(True, (), ("Classical.choice", "Quot.sound", "propext")),
                     "Proj.open_one": DeclTruth(True, ("sorryAx",), ("propext",)),
                     "Proj.pure": DeclTruth(True), "Proj.nope": DeclTruth(False)}
    with pytest.raises(AutoProveError, match="lake build"):
        lean_truth(root, ["Proj.done"], Repl(loads=False))
