"""Rendering replacements, applying patches, atomic writes."""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from sidecar.goals import Goal, find_goals
from sidecar.patch import apply_patches, plan_edits, render_replacement, write_file_atomically

FIX = Path(__file__).parent / "fixtures" / "coq"
needs_coq = pytest.mark.skipif(shutil.which("coqc") is None, reason="coqc not installed")


@pytest.fixture(scope="module")
def cases() -> dict[str, list[Goal]]:
    if shutil.which("coqc") is None:
        pytest.skip("coqc not installed")
    out: dict[str, list[Goal]] = {}
    for g in find_goals(FIX / "verify_cases.v").goals:
        out.setdefault(g.lemma, []).append(g)
    return out


@pytest.fixture(scope="module")
def tricky() -> dict[str, list[Goal]]:
    if shutil.which("coqc") is None:
        pytest.skip("coqc not installed")
    out: dict[str, list[Goal]] = {}
    for g in find_goals(FIX / "tricky.v").goals:
        out.setdefault(g.lemma, []).append(g)
    return out


def test_render_admitted_without_proof_keyword(cases: dict[str, list[Goal]]) -> None:
    g = cases["easy"][0]
    assert not g.has_proof_keyword
    assert render_replacement(g, ["intros n", "reflexivity"]) == "Proof.\n  intros n.\n  reflexivity.\nQed."


def test_render_admitted_with_proof_keyword(cases: dict[str, list[Goal]]) -> None:
    g = cases["uses_file_axiom"][0]
    assert g.has_proof_keyword
    assert render_replacement(g, ["intros n", "auto."]) == "  intros n.\n  auto.\nQed."
    assert render_replacement(g, []) == "Qed."


def test_render_follows_statement_indentation(cases: dict[str, list[Goal]], tricky: dict[str, list[Goal]]) -> None:
    g = cases["sec_lemma"][0]  # statement indented by 2, `Admitted.` under `Proof.`
    text = render_replacement(g, ["rewrite Hk", "reflexivity"])
    assert text == "  rewrite Hk.\n    reflexivity.\n  Qed."
    source = (FIX / "verify_cases.v").read_bytes()
    patched = apply_patches(source, [(g, text)]).decode()
    assert "  Proof.\n    rewrite Hk.\n    reflexivity.\n  Qed.\n\n  Lemma sec_free" in patched
    # placeholder on the statement's line: `Proof.` goes right after the statement
    u = tricky["in_module"][0]  # `Proof. intros b. Admitted.` on one line, statement indented by 2
    assert render_replacement(u, ["destruct b", "reflexivity"]) == "destruct b.\n    reflexivity.\n  Qed."


def test_render_definition_uses_defined(cases: dict[str, list[Goal]]) -> None:
    g = cases["magic"][0]
    assert render_replacement(g, ["exact 3"]).endswith("\nDefined.")


def test_render_admit_is_one_braced_block(cases: dict[str, list[Goal]]) -> None:
    g = cases["two_admits"][0]
    assert render_replacement(g, ["exact I"]) == "{ exact I. }"
    assert render_replacement(g, ["split", "-", "auto", "-", "auto"]) == "{ split. - auto. - auto. }"
    assert render_replacement(g, ["destruct x...", "2: {", "auto", "}"]) == "{ destruct x... 2: { auto. } }"


def test_apply_patches_turns_admitted_into_qed_when_all_admits_filled(cases: dict[str, list[Goal]]) -> None:
    source = (FIX / "verify_cases.v").read_bytes()
    a, b = cases["two_admits"]
    one = apply_patches(source, [(a, "{ exact I. }")]).decode()
    assert "  - { exact I. }\n  - admit.\nAdmitted." in one
    both = apply_patches(source, [(b, "{ reflexivity. }"), (a, "{ exact I. }")]).decode()
    assert "  - { exact I. }\n  - { reflexivity. }\nQed." in both
    kept = apply_patches(source, [(a, "{ exact I. }"), (b, "{ reflexivity. }")], keep_admitted={a.closer_start})
    assert b"  - { reflexivity. }\nAdmitted." in kept
    # everything else is untouched
    assert both.replace("{ exact I. }", "admit.").replace("{ reflexivity. }", "admit.").replace(
        "admit.\nQed.", "admit.\nAdmitted."
    ) == source.decode()


def test_apply_patches_several_proofs_in_descending_order(cases: dict[str, list[Goal]]) -> None:
    source = (FIX / "verify_cases.v").read_bytes()
    e, m = cases["easy"][0], cases["magic"][0]
    out = apply_patches(source, [(e, "Proof. auto. Qed."), (m, "Proof. exact 3. Defined.")])
    assert out.count(b"Proof. auto. Qed.") == 1 and out.count(b"Proof. exact 3. Defined.") == 1
    assert len(out) == len(source) + len("Proof. auto. Qed.") + len("Proof. exact 3. Defined.") - 2 * len("Admitted.")
    edits = plan_edits(source, [(e, "x"), (m, "y")])
    assert [ed.start for ed in edits] == sorted(ed.start for ed in edits)


def test_apply_patches_never_closes_a_proof_with_other_admits(tricky: dict[str, list[Goal]]) -> None:
    source = (FIX / "tricky.v").read_bytes()
    g = tricky["with_try_admit"][0]
    assert g.opaque_holes
    out = apply_patches(source, [(g, "{ exact I. }")])
    assert b"split; [ admit | ]. { exact I. } Admitted." in out


def test_apply_patches_rejects_foreign_or_overlapping(cases: dict[str, list[Goal]]) -> None:
    source = (FIX / "verify_cases.v").read_bytes()
    g = cases["easy"][0]
    with pytest.raises(ValueError, match="another version"):
        apply_patches(source + b"\n", [(g, "Qed.")])
    with pytest.raises(ValueError, match="overlapping"):
        apply_patches(source, [(g, "a"), (g, "b")])
    moved = replace(g, start=g.start + 1, end=g.end + 1)
    with pytest.raises(ValueError, match="placeholder"):
        apply_patches(source, [(moved, "Qed.")])


def test_write_file_atomically(tmp_path: Path) -> None:
    target = tmp_path / "A.v"
    target.write_bytes(b"old")
    os.chmod(target, 0o640)
    link = tmp_path / "link.v"
    link.symlink_to(target)
    write_file_atomically(link, "new ∀".encode())
    assert link.is_symlink()
    assert target.read_bytes() == "new ∀".encode()
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["A.v", "link.v"]
    fresh = tmp_path / "B.v"
    write_file_atomically(fresh, b"x")
    assert fresh.read_bytes() == b"x"


def test_write_file_atomically_reports_errors(tmp_path: Path) -> None:
    from sidecar.errors import SourceError

    with pytest.raises(SourceError):
        write_file_atomically(tmp_path / "no" / "such" / "dir.v", b"x")
