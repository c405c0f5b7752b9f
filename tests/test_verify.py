"""The verifier against real coqc: accepted proofs, refused tricks, assumption policy, admits."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from sidecar import verify as verify_mod
from sidecar.goals import Goal, find_goals
from sidecar.patch import render_replacement
from sidecar.verify import Verdict, parse_assumptions, verify, verify_file

FIX = Path(__file__).parent / "fixtures" / "coq"
pytestmark = pytest.mark.skipif(shutil.which("coqc") is None, reason="coqc not installed")


@pytest.fixture(scope="module")
def cases() -> dict[str, list[Goal]]:
    out: dict[str, list[Goal]] = {}
    for g in find_goals(FIX / "verify_cases.v").goals:
        out.setdefault(g.lemma, []).append(g)
    return out


def check(goal: Goal, tactics: list[str]) -> Verdict:
    return verify(goal, render_replacement(goal, tactics))


def patched(v: Verdict) -> bytes:
    assert v.patched is not None
    return v.patched


def refused(v: Verdict, fragment: str) -> bool:
    return not v.ok and any(fragment in r for r in v.reasons) and v.patched is None


# --------------------------------------------------------------------------------------------------
# pure parsing


def test_parse_assumptions() -> None:
    text = (
        "Section Variables:\nn\n: nat\nH\n: n = 0\nAxioms:\nclassic : forall P : Prop, P \\/ ~ P\n"
        "very_long\n  : forall a : nat,\n    a = a\nf is assumed to be guarded.\n"
    )
    closed, entries = parse_assumptions(text)
    assert not closed
    assert entries == [
        ("Section Variables", "n", None),
        ("Section Variables", "H", None),
        ("Axioms", "classic", None),
        ("Axioms", "very_long", None),
        ("Axioms", "f", "is assumed to be guarded"),
    ]
    assert parse_assumptions("Closed under the global context\n") == (True, [])


# --------------------------------------------------------------------------------------------------
# admitted goals


def test_correct_proof_accepted(cases: dict[str, list[Goal]]) -> None:
    g = cases["easy"][0]
    v = check(g, ["intros n", "reflexivity"])
    assert v.ok, v.reasons
    assert v.complete and v.assumptions == () and v.seconds > 0
    assert v.patched is not None and b"Proof.\n  intros n.\n  reflexivity.\nQed." in patched(v)
    source = (FIX / "verify_cases.v").read_bytes()
    assert v.patched.startswith(source[: g.start])


def test_wrong_proof_refused(cases: dict[str, list[Goal]]) -> None:
    v = check(cases["easy"][0], ["intros n", "discriminate"])
    assert refused(v, "the proof fails")


def test_incomplete_proof_refused(cases: dict[str, list[Goal]]) -> None:
    v = check(cases["easy"][0], ["intros n"])
    assert refused(v, "incomplete proof")


@pytest.mark.parametrize(
    "replacement, reason",
    [
        ("Proof. intros n. reflexivity. Qed.\nLemma smuggled : True.\nProof. exact I. Qed.", "not a tactic"),
        ("Proof. intros n. Check 1. reflexivity. Qed.", "not a tactic"),
        ("Proof. intros n. admit. Qed.", "admit"),
        ("Proof. intros n. give_up. Qed.", "give_up"),
        ("Proof. Abort.\nLemma easy : True. Proof. exact I. Qed.", "Abort"),
        ("Proof. Admitted.", "Admitted"),
        ("Proof. intros n. exact_no_check (eq_refl n). Qed.", "_no_check"),
        ("Proof. intros n. reflexivity. (* Qed.", "unclosed comment"),
        ('Proof. idtac "x. Qed.', "unclosed"),
        ("Proof. intros n. Set Printing All. reflexivity. Qed.", "not a tactic"),
        ("Proof. intros n. Time reflexivity. Qed.", "not a tactic"),
        ("Proof. intros n. reflexivity.", "must end with Qed"),
        ("Proof. Proof. intros n. reflexivity. Qed.", "not a tactic"),
        ("Proof. intros n; try (exact ltac:(admit)). reflexivity. Qed.", "admit"),
    ],
)
def test_tricks_refused(cases: dict[str, list[Goal]], replacement: str, reason: str) -> None:
    v = verify(cases["easy"][0], replacement)
    assert refused(v, reason), v.reasons


def test_statement_change_detected(cases: dict[str, list[Goal]]) -> None:
    g = cases["easy"][0]
    source = (FIX / "verify_cases.v").read_bytes()
    verify(g, "Proof. intros n. reflexivity. Qed.")  # fills the cache of the original's types
    key = next(k for k in verify_mod._CACHE if k[0] == g.file_digest)
    info = verify_mod._CACHE[key]
    saved = dict(info.types)
    try:
        info.types[g.closer_end] = "easy : something else"
        v = verify(g, "Proof. intros n. reflexivity. Qed.", original=source)
        assert refused(v, "statement changed")
    finally:
        info.types.clear()
        info.types.update(saved)


def test_file_axiom_accepted_library_axiom_refused(cases: dict[str, list[Goal]]) -> None:
    v = check(cases["uses_file_axiom"][0], ["intros n", "rewrite file_axiom", "apply Nat.add_0_r"])
    assert v.ok, v.reasons
    assert v.assumptions == ("Axioms: file_axiom",)
    v = check(cases["excluded_middle"][0], ["exact classic"])
    assert refused(v, "uses the axiom classic (Coq.Logic.Classical_Prop.classic), which this file does not")
    v = verify(
        cases["excluded_middle"][0],
        "Proof. exact classic. Qed.",
        allowed_axioms={"Coq.Logic.Classical_Prop.classic"},
    )
    assert v.ok, v.reasons


def test_earlier_admitted_lemma_refused(cases: dict[str, list[Goal]]) -> None:
    v = check(cases["uses_file_axiom"][0], ["intros n", "apply helper_admitted"])
    assert refused(v, "uses the admitted lemma helper_admitted")


def test_breaking_later_code_refused(cases: dict[str, list[Goal]]) -> None:
    # `Fail Check (eq_refl : magic = eq_refl)` later in the file only holds while magic does not compute to eq_refl
    v = check(cases["magic"][0], ["exact eq_refl"])
    assert refused(v, "no longer compiles at line 24")
    v = check(cases["magic"][0], ["exact opaque_two"])
    assert v.ok, v.reasons


def test_data_placeholder_refused(cases: dict[str, list[Goal]]) -> None:
    # a definition's body is the user's to write: refused however well it type-checks, also when its sort is
    # claimed to be a proposition (Coq is asked again in the compile of the patched file)
    g = cases["data_def"][0]
    assert g.sort == "data" and cases["magic"][0].sort == "prop"
    assert refused(check(g, ["exact 0"]), "not a proposition")
    assert refused(check(replace(g, sort="prop"), ["exact 0"]), "Coq does not confirm that the goal is a proposition")


def test_section_variables_accepted(cases: dict[str, list[Goal]]) -> None:
    v = check(cases["sec_lemma"][0], ["rewrite Hk", "reflexivity"])
    assert v.ok, v.reasons
    assert set(v.assumptions) == {"Section Variables: k", "Section Variables: Hk"}
    assert v.warnings == ()
    # a proof that does not use Hk changes the lemma's type outside the Section: accepted, with a warning
    v = check(cases["sec_free"][0], ["apply Nat.add_0_r"])
    assert v.ok, v.reasons
    assert v.assumptions == ("Section Variables: k",)
    assert len(v.warnings) == 1 and "after End Vars changes" in v.warnings[0]


def test_lemma_in_module_and_section(cases: dict[str, list[Goal]]) -> None:
    v = check(cases["mod_sec"][0], ["destruct b", "reflexivity", "reflexivity"])
    assert v.ok, v.reasons
    assert v.assumptions == ("Section Variables: b",)


def test_lemma_in_functor(cases: dict[str, list[Goal]]) -> None:
    v = check(cases["in_functor"][0], ["exists X.z", "reflexivity"])
    assert v.ok, v.reasons
    assert all(a.startswith("Axioms: X.") for a in v.assumptions)


def test_lemma_in_functor_with_imported_parameter(cases: dict[str, list[Goal]]) -> None:
    # the fields of an imported parameter print without qualification: resolved with Locate
    v = check(cases["imported_param"][0], ["exists z", "reflexivity"])
    assert v.ok, v.reasons
    assert set(v.assumptions) == {"Axioms: z", "Axioms: t"}
    v = check(cases["imported_param"][0], ["exists z", "destruct (classic True); reflexivity"])
    assert refused(v, "classic")


def test_file_changed_since_goal_found(tmp_path: Path) -> None:
    f = tmp_path / "verify_cases.v"
    shutil.copy(FIX / "verify_cases.v", f)
    g = next(g for g in find_goals(f).goals if g.lemma == "easy")
    f.write_text(f.read_text() + "\n(* edited *)\n")
    v = check(g, ["intros n", "reflexivity"])
    assert refused(v, "file changed since the goal was found")


def test_unicode_file() -> None:
    g0, g1 = find_goals(FIX / "unicode.v").goals
    v = check(g0, ["intros α", "apply le_n"])
    assert v.ok, v.reasons
    assert "Proof.\n  intros α." in patched(v).decode("utf-8")
    v = verify(g1, "{ symmetry. exact H. }")
    assert v.ok and v.complete, v.reasons
    assert "(* «ça» *) { symmetry. exact H. }\nQed." in patched(v).decode("utf-8")


def test_timeout_reported(cases: dict[str, list[Goal]]) -> None:
    verify_mod.clear_cache()
    v = verify(cases["easy"][0], "Proof. intros n. reflexivity. Qed.", timeout=0.05)
    assert refused(v, "timed out")


# --------------------------------------------------------------------------------------------------
# admit goals


def test_one_admit_of_two_is_incomplete_but_kernel_checked(cases: dict[str, list[Goal]]) -> None:
    a, b = cases["two_admits"]
    v = verify(a, render_replacement(a, ["exact I"]))
    assert v.ok and not v.complete, v.reasons
    assert v.warnings == ()
    assert b"- { exact I. }\n  - admit.\nAdmitted." in patched(v)
    v = verify(b, "{ reflexivity. }")
    assert v.ok and not v.complete


def test_both_admits_complete_the_proof(cases: dict[str, list[Goal]]) -> None:
    a, b = cases["two_admits"]
    va, vb = verify_file(a.file, [(a, "{ exact I. }"), (b, "{ reflexivity. }")])
    assert va.ok and vb.ok and va.complete and vb.complete, (va.reasons, vb.reasons)
    assert va.patched == vb.patched and b"- { reflexivity. }\nQed." in patched(va)


def test_admit_replacement_must_close_its_goal(cases: dict[str, list[Goal]]) -> None:
    a, _ = cases["two_admits"]
    assert refused(verify(a, "{ idtac. }"), "the proof fails")
    assert refused(verify(a, "exact I."), "one { ... } block")
    assert refused(verify(a, "{ exact I. } { exact I. }"), "one { ... } block")
    assert refused(verify(a, "{ exact I. Qed. }"), "Qed")


def test_library_axiom_in_partial_proof_refused(cases: dict[str, list[Goal]]) -> None:
    a, _ = cases["two_admits"]
    v = verify(a, "{ destruct (classic (1 = 1)); exact I. }")
    assert refused(v, "uses the axiom classic")


def test_rest_of_proof_dependencies_tolerated(cases: dict[str, list[Goal]]) -> None:
    (g,) = cases["mixed"]
    v = verify(g, "{ exact I. }")
    assert v.ok and v.complete, v.reasons
    assert any("already depends on helper_admitted" in w for w in v.warnings)
    v = verify(g, "{ destruct (classic True); exact I. }")
    assert refused(v, "classic")


def test_proof_with_goals_outside_its_admits_keeps_admitted(cases: dict[str, list[Goal]]) -> None:
    (g,) = cases["partial"]
    v = verify(g, "{ exact I. }")
    assert v.ok and not v.complete, v.reasons
    assert any("not kernel-checked" in w for w in v.warnings)
    assert b"- { exact I. }\nAdmitted." in patched(v)


def test_batch_with_one_bad_replacement(cases: dict[str, list[Goal]]) -> None:
    e, s = cases["easy"][0], cases["sec_lemma"][0]
    ve, vs = verify_file(e.file, [(e, "Proof. intros n. discriminate. Qed."), (s, "rewrite Hk. reflexivity. Qed.")])
    assert refused(ve, "the proof fails")
    assert refused(vs, "not checked")


def test_wrong_goal_placeholder_refused(cases: dict[str, list[Goal]]) -> None:
    g = cases["easy"][0]
    moved = replace(g, start=g.start - 1)
    v = verify(moved, "Proof. intros n. reflexivity. Qed.")
    assert not v.ok and v.reasons


# --------------------------------------------------------------------------------------------------
# projects and files that stop compiling


def test_file_failing_after_the_goal() -> None:
    g0, p1, p2 = find_goals(FIX / "fails_halfway.v").goals
    v = check(g0, ["reflexivity"])
    assert v.ok, v.reasons
    va, vb = verify_file(p1.file, [(p1, "{ exact I. }"), (p2, "{ exact I. }")])
    assert va.ok and va.complete, va.reasons
    assert b"Proof. split. - { exact I. } - { exact I. } Qed." in patched(va)


@pytest.mark.slow
def test_project_dependency(tmp_path: Path) -> None:
    import subprocess

    proj = tmp_path / "proj"
    shutil.copytree(FIX / "proj", proj)
    subprocess.run(
        ["coqc", "-noglob", "-R", "theories", "Proj", "theories/Base.v"], cwd=proj, check=True, capture_output=True
    )
    one, two = find_goals(proj / "theories" / "sub" / "Use.v").goals
    assert check(one, ["reflexivity"]).ok
    v = check(one, ["rewrite base_axiom", "reflexivity"])
    assert refused(v, "uses the axiom base_axiom")
    v = check(one, ["rewrite base_admitted", "reflexivity"])
    assert refused(v, "base_admitted")
    v = verify(two, "{ reflexivity. }")
    assert v.ok and v.complete, v.reasons
    assert sorted(p.name for p in (proj / "theories" / "sub").iterdir()) == ["Use.v"]


def compiles_to_verify(monkeypatch: pytest.MonkeyPatch, goal: Goal, replacement: str) -> int:
    """How many coqc runs verifying `replacement` takes (asserting it is accepted)."""
    calls: list[int] = []
    real = verify_mod._compile

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(verify_mod, "_compile", counting)
    assert verify(goal, replacement).ok
    return len(calls)


def test_prime_compiles_the_original_once(monkeypatch: pytest.MonkeyPatch) -> None:
    goals = find_goals(FIX / "fails_halfway.v").goals
    verify_mod.clear_cache()
    verify_mod.prime(goals)
    assert compiles_to_verify(monkeypatch, goals[0], "Proof. reflexivity. Qed.") == 1  # only the patched file


@pytest.mark.parametrize("name", ["verify_cases.v", "fails_halfway.v", "tricky.v", "unicode.v"])
def test_find_and_prime_finds_what_find_goals_finds(name: str) -> None:
    plain = find_goals(FIX / name)
    primed = verify_mod.find_and_prime(FIX / name)
    assert primed.goals == plain.goals
    assert (primed.error, primed.error_line, primed.error_offset, primed.digest) == \
        (plain.error, plain.error_line, plain.error_offset, plain.digest)


def test_find_and_prime_records_the_reference_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    verify_mod.clear_cache()
    goals = verify_mod.find_and_prime(FIX / "fails_halfway.v").goals
    key = next(k for k in verify_mod._CACHE if k[0] == goals[0].file_digest)
    primed = verify_mod._CACHE.pop(key)
    fresh = verify_mod._original_info((FIX / "fails_halfway.v").read_bytes(), goals[0].file_digest, goals, 60.0)
    for g in goals:  # what the finder recorded is exactly what verification would have compiled itself
        assert primed.types[g.closer_end] == fresh.types[g.closer_end]
    assert (primed.sentences, primed.error_offset, primed.error) == (fresh.sentences, fresh.error_offset, fresh.error)
    verify_mod._CACHE[key] = primed
    assert compiles_to_verify(monkeypatch, goals[0], "Proof. reflexivity. Qed.") == 1  # only the patched file


def test_find_and_prime_survives_a_wrong_guess(monkeypatch: pytest.MonkeyPatch) -> None:
    """A guessed lemma name that is not what Coq declared there fails its check: the file is compiled again
    without it, the goals are still right, and that goal is left to verification's own reference compile."""
    plain = find_goals(FIX / "fails_halfway.v")
    g0 = plain.goals[0]
    real_guess = verify_mod.guess_admitted
    monkeypatch.setattr(verify_mod, "guess_admitted",
                        lambda src: [(a, "no_such_lemma" if a == g0.closer_end else n) for a, n in real_guess(src)])
    verify_mod.clear_cache()
    primed = verify_mod.find_and_prime(FIX / "fails_halfway.v")
    assert primed.goals == plain.goals and primed.error == plain.error
    info = next(v for k, v in verify_mod._CACHE.items() if k[0] == g0.file_digest)
    assert g0.closer_end not in info.types and all(a[0] != g0.closer_end for a in info.anchors)
    assert verify(g0, "Proof. reflexivity. Qed.").ok


# --------------------------------------------------------------------------------------------------
# header lines and the bytes form


def test_header_line_for_a_proof(cases: dict[str, list[Goal]]) -> None:
    g = cases["easy"][0]
    v = verify(g, render_replacement(g, ["intros n", "lia"]))
    assert refused(v, "the proof fails")  # lia is not loaded by the file
    v = verify(g, render_replacement(g, ["intros n", "lia"]), header="Require Import Lia.")
    assert v.ok, v.reasons
    assert patched(v).startswith(b"Require Import Lia.\n(* Goals for the verifier tests. *)")
    assert refused(verify(g, "Proof. auto. Qed.", header="Axiom x : False."), "not an import line")


def test_bytes_form_reads_replacements_back(cases: dict[str, list[Goal]]) -> None:
    from sidecar.patch import apply_patches

    source = (FIX / "verify_cases.v").read_bytes()
    a, b = cases["two_admits"]
    e = cases["easy"][0]
    pairs = [(e, render_replacement(e, ["intros n", "lia"])), (a, "{ exact I. }"), (b, "{ reflexivity. }")]
    data = apply_patches(source, pairs, headers=["Require Import Lia."])
    result = verify_file(a.file, data, [e, a, b])
    assert result.ok, result.reasons
    assert result.patched == data and b"- { reflexivity. }\nQed." in data
    assert [v.ok for v in result] == [True, True, True]
    bad = data.replace(b"{ reflexivity. }", b"{ exact I. }")
    assert not verify_file(a.file, bad, [e, a, b]).ok
    assert not verify_file(a.file, data + b"(* more *)", [(e, pairs[0][1]), (a, "{ exact I. }"), (b, "x")]).ok
