"""Finding Coq goals with real coqc, the _CoqProject parser, and the pure sentence helpers."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from sidecar.coq_source import (
    canonical_text,
    classify,
    guess_admitted,
    leading_requires,
    lexically_balanced,
    mask_code,
    strip_comments,
)
from sidecar.coqproject import coq_project_for, parse_coq_project
from sidecar.errors import ProjectConfigError, ProverTimeout, ProverUnavailable, SourceError
from sidecar.goals import declared_names, find_goals

FIX = Path(__file__).parent / "fixtures" / "coq"
needs_coq = pytest.mark.skipif(shutil.which("coqc") is None, reason="coqc not installed")


# --------------------------------------------------------------------------------------------------
# pure helpers


def test_strip_comments_nested_and_strings() -> None:
    s = 'a (* x (* y *) "*)" z *) b "(* not *)" c'
    assert strip_comments(s) == 'a   b "(* not *)" c'
    assert mask_code('f "admit." (* admit *) g') == 'f ""   g'
    assert lexically_balanced('a "b" (* c *)')
    assert not lexically_balanced("a (* b")
    assert not lexically_balanced('a "b')


def test_canonical_text_ignores_layout_not_tokens() -> None:
    assert canonical_text("Lemma foo:forall n,n=n.") == canonical_text("Lemma  foo :\n forall n , n = n .")
    assert canonical_text("x (* c *) y") == canonical_text("x y")
    assert canonical_text("a : = b") != canonical_text("a := b")
    assert canonical_text("a b") != canonical_text("ab")
    assert canonical_text('"a  b"') != canonical_text('"a b"')


@pytest.mark.parametrize(
    "text, kind, name",
    [
        ("Lemma foo (n : nat) :\n n = n.", "opener", "foo"),
        ("#[local] Theorem bar : True.", "opener", "bar"),
        ("Definition d : nat.", "opener", "d"),
        ("Definition d : nat := 3.", "other", ""),
        ("Definition d : let x := 1 in nat.", "opener", "d"),
        ("Instance i : Foo.", "opener", "i"),
        ("Instance : Foo.", "opener", ""),
        ("#[refine] Instance j : Foo := {| f := _ |}.", "opener", "j"),
        ("Program Definition p : nat := _.", "other", ""),
        ("Goal True.", "opener", ""),
        ("Proof.", "proof", ""),
        ("Proof using H x.", "proof", ""),
        ("Proof I.", "closer", ""),
        ("Qed.", "closer", ""),
        ("Admitted.", "closer", ""),
        ("admit.", "admit", ""),
        ("give_up.", "admit", ""),
        ("-", "bullet", ""),
        ("2: {", "bullet", ""),
        ("Section S.", "section", "S"),
        ("End S.", "end", "S"),
        ("Fail Lemma x : True.", "other", ""),
    ],
)
def test_classify(text: str, kind: str, name: str) -> None:
    info = classify(text)
    assert info.kind == kind
    assert info.name == name


def test_lexical_guesses_before_coq_runs() -> None:
    src = (
        "(* Require Import Nope. *) From Coq Require Import\n  Lia.\nRequire Import \"Arith\". Import Nat.\n"
        "(* Lemma fake : True. Admitted. *)\n"
        "Lemma caf\u00e9 : True. Proof. - auto. Admitted.\n"
        "Definition f : nat. exact 0. Defined.\n"
        "Instance : True. Admitted.\n"
        "Goal True. Admitted.\n"
        "Section S. Variable n : nat. Lemma b : n = n. admit. Admitted. End S.\n"
        "Lemma c : 1 = 1 .\nProof. reflexivity. Qed.\n"
        "Require Import List.\n"
    ).encode()
    assert leading_requires(src) == ("From Coq Require Import\n  Lia.", 'Require Import "Arith".', "Import Nat.")
    first = src.index(b"Admitted.", src.index(b"caf")) + len(b"Admitted.")
    last = src.index(b"Admitted.", src.index(b"Lemma b")) + len(b"Admitted.")
    assert guess_admitted(src) == [(first, "caf\u00e9"), (last, "b")]
    assert leading_requires(b"Lemma x : True. Require Import Lia.") == ()


def test_classify_modules_and_declarations() -> None:
    f = classify("Module F (X Y : T) (Z : U) : S.")
    assert (f.kind, f.module_kind, f.name, f.names) == ("module", "functor", "F", ("X", "Y", "Z"))
    assert classify("Module M := F N.").kind == "other"
    assert classify("Module Type T.").module_kind == "modtype"
    assert classify("Axiom ax@{u} : Type@{u}.").names == ("ax",)
    assert classify("Context {A : Type} (a b : A) `{H : Eq A}.").names == ("A", "a", "b", "H")
    assert classify("Local Parameter p q : nat.").names == ("p", "q")
    assert classify("split; admit.").hole_word
    assert not classify("exact admit_lemma.").hole_word


def test_declared_names() -> None:
    d = declared_names(
        [
            "Axiom a : nat.",
            "Module M.",
            "Parameter p : nat.",
            "Lemma l : True.",
            "Admitted.",
            "End M.",
            "Section S.",
            "Variable v : nat.",
            "End S.",
            "Declare Module D : T.",
        ]
    )
    assert d.assumptions == ("a", "M.p")
    assert d.admitted == ("M.l",)
    assert d.modules == ("D",)


# --------------------------------------------------------------------------------------------------
# _CoqProject


def test_coqproject_parsing(tmp_path: Path) -> None:
    (tmp_path / "theories").mkdir()
    (tmp_path / "src dir").mkdir()
    (tmp_path / "_CoqProject").write_text(
        "# comment -R nowhere X\n"
        "-R theories Proj # trailing comment\n"
        '-Q "src dir" Src\n'
        '-I "src dir"\n'
        "-arg -w -arg \"-notation-overridden -deprecated\"\n"
        "-arg \"'-w' 'a b'\"\n"
        "theories/A.v\n"
        "COQMF = 1\n"
    )
    p = parse_coq_project(tmp_path / "_CoqProject")
    theories = str((tmp_path / "theories").resolve())
    src = str((tmp_path / "src dir").resolve())
    assert p.args == (
        "-I", src, "-Q", src, "Src", "-R", theories, "Proj",
        "-w", "-notation-overridden", "-deprecated", "-w", "a b",
    )  # fmt: skip
    assert p.root == tmp_path
    assert p.files == (tmp_path / "theories" / "A.v",)
    nested = tmp_path / "theories" / "deep"
    nested.mkdir()
    assert coq_project_for(nested / "X.v").root == tmp_path


def test_coqproject_missing_dir_names_file_and_line() -> None:
    with pytest.raises(ProjectConfigError) as exc:
        coq_project_for(FIX / "badproj" / "A.v")
    msg = str(exc.value)
    assert "badproj/_CoqProject:3" in msg and "no such dir" in msg


def test_coqproject_malformed(tmp_path: Path) -> None:
    (tmp_path / "_CoqProject").write_text("-R theories\n")
    with pytest.raises(ProjectConfigError, match="_CoqProject:1"):
        parse_coq_project(tmp_path / "_CoqProject")
    (tmp_path / "_CoqProject").write_text('-R "theories Proj\n')
    with pytest.raises(ProjectConfigError, match="unterminated"):
        parse_coq_project(tmp_path / "_CoqProject")


def test_no_coqproject_uses_the_folder(tmp_path: Path) -> None:
    (tmp_path / "x.v").write_text("")
    p = coq_project_for(tmp_path / "x.v")
    assert p.root == tmp_path and p.args == () and p.project_file is None


# --------------------------------------------------------------------------------------------------
# find_goals


def test_backend_dispatch(tmp_path: Path) -> None:
    (tmp_path / "a.lean").write_text("theorem x : True := sorry\n")
    with pytest.raises(ProverUnavailable):
        find_goals(tmp_path / "a.lean")
    (tmp_path / "a.txt").write_text("")
    with pytest.raises(SourceError):
        find_goals(tmp_path / "a.txt")
    with pytest.raises(SourceError, match="cannot read"):
        find_goals(tmp_path / "missing.v")


@needs_coq
def test_tricky_file_goals() -> None:
    fg = find_goals(FIX / "tricky.v")
    assert fg.error is None
    got = [(g.kind, g.lemma, g.line, g.column) for g in fg.goals]
    assert got == [
        ("admitted", "plus_unicode", 13, 0),
        ("admitted", "multi_line_statement", 21, 0),
        ("admitted", "in_section", 29, 2),
        ("admit", "bullets", 34, 6),
        ("admit", "bullets", 35, 17),
        ("admitted", "in_module", 41, 19),
        ("admitted", "in_functor", 54, 2),
        ("admit", "with_try_admit", 60, 27),
    ]
    source = (FIX / "tricky.v").read_bytes()
    by = {(g.lemma, g.index): g for g in fg.goals}
    for g in fg.goals:
        assert g.index == fg.goals.index(g)
        assert source[g.start : g.end].decode() == ("Admitted." if g.kind == "admitted" else "admit.")
        assert source[g.statement_start : g.statement_end].decode() == g.statement
        assert g.env.file == FIX / "tricky.v" and g.env.backend == "coq"
        assert g.env.focus == (g.kind == "admit")
        assert g.env.workdir == FIX and g.env.args == ()
        assert g.env.sentences[-1] != g.statement or g.kind == "admitted"
        assert g.statement in g.env.sentences
        assert g.file_digest == fg.digest
    multi = by[("multi_line_statement", 1)]
    assert multi.statement == "Lemma multi_line_statement (n : nat)\n      (m : nat) :\n  n + m =\n  m + n."
    assert multi.has_proof_keyword and multi.env.sentences[-1] == "Proof."
    assert not any("admit. inside" in s for s in multi.env.sentences)  # comments are not sentences
    sec = by[("in_section", 2)]
    assert sec.scope == (("section", "Sec"),)
    assert sec.env.sentences[-1] == "Proof using inhabited."
    assert sec.section_end is not None and source[: sec.section_end].endswith(b"End Sec.")
    b1, b2 = by[("bullets", 3)], by[("bullets", 4)]
    assert b1.env.sentences[-1] == "-" and b2.env.sentences[-2:] == ("{", "f_equal.")
    assert b1.holes == b2.holes == ((b1.start, b1.end), (b2.start, b2.end))
    assert b1.key != b2.key
    assert source[b1.closer_start : b1.closer_end] == b"Admitted."
    assert by[("in_module", 5)].scope == (("module", "M"),)
    assert by[("in_module", 5)].env.sentences[-2:] == ("Proof.", "intros b.")
    func = by[("in_functor", 6)]
    assert func.scope == (("functor", "F"),) and func.functor_params == ("X",)
    assert by[("with_try_admit", 7)].opaque_holes
    assert by[("plus_unicode", 0)].statement == "Lemma plus_unicode : forall a b : nat, a ⊕ b = b ⊕ a."


@needs_coq
def test_unicode_columns_are_characters() -> None:
    fg = find_goals(FIX / "unicode.v")
    g0, g1 = fg.goals
    line = (FIX / "unicode.v").read_text(encoding="utf-8").splitlines()[g0.line - 1]
    assert line[g0.column :].startswith("Admitted.")
    assert g0.end_column == g0.column + len("Admitted.") and g0.end_line == g0.line
    assert g1.kind == "admit" and g1.env.sentences[-1] == "intros x y H."
    assert (FIX / "unicode.v").read_bytes()[g1.start : g1.end] == b"admit."


@needs_coq
def test_keys_are_stable_and_sensitive(tmp_path: Path) -> None:
    base = (FIX / "verify_cases.v").read_text()
    (tmp_path / "one.v").write_text(base)
    (tmp_path / "two.v").write_text(base.replace("Admitted.\n\nLemma easy", "Admitted. (* note *)\n\n\nLemma  easy"))
    (tmp_path / "three.v").write_text(base.replace("n * 1 = n.", "1 * n = n.", 1))
    keys1 = [g.key for g in find_goals(tmp_path / "one.v").goals]
    keys2 = [g.key for g in find_goals(tmp_path / "two.v").goals]
    keys3 = [g.key for g in find_goals(tmp_path / "three.v").goals]
    assert len(keys1) == 15 and len(set(keys1)) == len(keys1)
    assert keys1 == keys2  # comments/white space only: same keys in another file
    assert all(a != b for a, b in zip(keys1, keys3))  # an earlier declaration changed


@needs_coq
def test_file_failing_halfway() -> None:
    fg = find_goals(FIX / "fails_halfway.v")
    assert [(g.lemma, g.kind) for g in fg.goals] == [
        ("before_error", "admitted"),
        ("partly", "admit"),
        ("partly", "admit"),
    ]
    assert fg.error_line == 7
    assert fg.error is not None and fg.error.startswith("line 7: Error:")
    assert fg.error_offset == (FIX / "fails_halfway.v").read_bytes().index(b"true")


@needs_coq
def test_file_failing_before_first_goal() -> None:
    with pytest.raises(SourceError) as exc:
        find_goals(FIX / "fails_early.v")
    assert exc.value.line == 3
    assert exc.value.file == (FIX / "fails_early.v").absolute()
    assert "fails_early.v:3" in str(exc.value)


@needs_coq
def test_timeout_kills_coqc(tmp_path: Path) -> None:
    (tmp_path / "slow.v").write_text(
        "Lemma x : True. Admitted.\nLemma spin : True. Proof. do 100000000 idtac. Admitted.\n"
    )
    with pytest.raises(ProverTimeout):
        find_goals(tmp_path / "slow.v", timeout=0.5)


@needs_coq
def test_project_with_dependency(tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    shutil.copytree(FIX / "proj", proj)
    use = proj / "theories" / "sub" / "Use.v"
    with pytest.raises(SourceError, match="dependencies compiled"):
        find_goals(use)
    subprocess.run(
        ["coqc", "-noglob", "-R", "theories", "Proj", "theories/Base.v"], cwd=proj, check=True, capture_output=True
    )
    fg = find_goals(use)
    assert [(g.lemma, g.kind) for g in fg.goals] == [("double_one", "admitted"), ("double_two", "admit")]
    g = fg.goals[0]
    assert g.env.workdir == proj
    assert g.env.args[:3] == ("-R", str((proj / "theories").resolve()), "Proj")
    assert g.env.sentences[0] == "Require Import Proj.Base."
    before = sorted(p.name for p in (proj / "theories" / "sub").iterdir())
    assert before == ["Use.v"]  # nothing written into the project
