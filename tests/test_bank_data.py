"""The lemma bank's data: counts, names, `uses`, generated files up to date, and every Coq proof compiled by coqc."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sidecar.bankfile import (
    COQ_FILES,
    DEFAULT_BANK,
    Bank,
    difficulties,
    generated_files,
    lemmas_for,
    load_bank,
    render_coq,
    render_lean,
)

NEEDS_COQC = pytest.mark.skipif(shutil.which("coqc") is None, reason="coqc is not installed")
COQ_RESERVED = {"as", "at", "cofix", "else", "end", "exists", "fix", "for", "forall", "fun", "if", "in", "let",
                "match", "return", "then", "using", "where", "with", "Prop", "Set", "Type", "Lemma", "Proof"}
LEAN_RESERVED = {"at", "by", "calc", "def", "do", "else", "end", "from", "fun", "have", "if", "import", "in",
                 "instance", "let", "match", "namespace", "open", "section", "show", "then", "theorem", "where",
                 "with", "variable", "universe", "example", "structure", "class", "deriving", "mutual", "local"}


@pytest.fixture(scope="module")
def bank() -> Bank:
    return load_bank()


def _coqc(folder: Path, name: str, text: str) -> tuple[str, int, str]:
    """Write `text` to folder/name.v, compile it; return (name, exit code, output)."""
    (folder / f"{name}.v").write_text(text, encoding="utf-8")
    r = subprocess.run(["coqc", "-q", f"{name}.v"], cwd=folder, capture_output=True, text=True, timeout=120)
    return name, r.returncode, r.stdout + r.stderr


def test_counts_and_difficulties(bank: Bank) -> None:
    assert difficulties() == ("easy", "medium", "hard")
    assert len(bank.lemmas) == 120
    assert Counter(lem.difficulty for lem in bank.lemmas) == {"easy": 40, "medium": 40, "hard": 40}


def test_names_unique_and_valid_in_both_provers(bank: Bank) -> None:
    names = [lem.name for lem in bank.lemmas]
    assert len(set(names)) == len(names)
    for n in names:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", n), n
        assert n not in COQ_RESERVED and n not in LEAN_RESERVED, n


def test_every_field_filled(bank: Bank) -> None:
    for lem in bank.lemmas:
        assert lem.tags, lem.name
        assert lem.coq and lem.coq_proof and lem.lean and lem.lean_proof, lem.name
        assert not lem.coq.rstrip().endswith("."), lem.name
        for text in (lem.coq, lem.coq_proof, lem.lean, lem.lean_proof):
            assert "Admitted" not in text and "admit" not in text and "sorry" not in text, lem.name


def test_uses_name_earlier_lemmas_of_same_or_easier_difficulty(bank: Bank) -> None:
    rank = {d: i for i, d in enumerate(difficulties())}
    position = {lem.name: i for i, lem in enumerate(bank.lemmas)}
    for i, lem in enumerate(bank.lemmas):
        for used in lem.uses:
            assert used in position and position[used] < i, (lem.name, used)
            assert rank[bank.lemma(used).difficulty] <= rank[lem.difficulty], (lem.name, used)
            assert used in lem.coq_proof, f"{lem.name} declares uses={used} but its Coq proof does not mention it"


def test_hard_set_uses_helpers(bank: Bank) -> None:
    hard = [lem for lem in bank.lemmas if lem.difficulty == "hard"]
    assert sum(1 for lem in hard if lem.uses) >= 10


def test_each_file_carries_the_helpers_it_needs(bank: Bank) -> None:
    for d in difficulties():
        names = [lem.name for lem in lemmas_for(bank, d)]
        for i, name in enumerate(names):
            for used in bank.lemma(name).uses:
                assert used in names[:i], (d, name, used)


def test_load_bank_rejects_bad_uses(tmp_path: Path) -> None:
    text = DEFAULT_BANK.read_text(encoding="utf-8")
    bad = text.replace('uses = ["rev_app_single"]', 'uses = ["no_such_lemma"]', 1)
    assert bad != text
    (tmp_path / "bank.toml").write_text(bad, encoding="utf-8")
    with pytest.raises(ValueError, match="no_such_lemma"):
        load_bank(tmp_path / "bank.toml")


def test_generated_files_are_up_to_date(bank: Bank) -> None:
    stale = [str(p) for p, text in generated_files(bank).items()
             if not p.exists() or p.read_text(encoding="utf-8") != text]
    assert not stale, f"run `python -m sidecar.bankfile generate`; stale: {stale}"


def test_admit_and_upto_cut_the_file(bank: Bank) -> None:
    lem = [x for x in bank.lemmas if x.difficulty == "medium"][5]
    text = render_coq(bank, "medium", admit=lem.name, upto=lem.name)
    assert text.count("Admitted.") == 1
    assert text.rstrip().endswith(f"Lemma {lem.name} : {lem.coq}.\nProof.\nAdmitted.")
    assert text.count("Qed.") == len(lemmas_for(bank, "medium")[:[x.name for x in lemmas_for(bank, "medium")].index(lem.name)])
    lean = render_lean(bank, "medium", admit=lem.name, upto=lem.name)
    assert lean.count("sorry") == 1 and f"theorem {lem.name} :" in lean
    with pytest.raises(ValueError):
        render_coq(bank, "easy", upto="star_sym")
    with pytest.raises(ValueError):
        render_coq(bank, "legendary")


def test_lean_files_look_plausible(bank: Bank) -> None:
    for d in difficulties():
        text = render_lean(bank, d)
        ns = f"AutoProveBank.{d.capitalize()}"
        assert text.count(f"namespace {ns}\n") == 1 and text.rstrip().endswith(f"end {ns}")
        assert "sorry" not in text and "import" not in text and "Mathlib" not in text
        theorems = re.findall(r"^theorem (\w+) : (.*?) := by$", text, flags=re.M | re.S)
        assert [t[0] for t in theorems] == [lem.name for lem in lemmas_for(bank, d)]
        for lem in lemmas_for(bank, d):
            assert f"theorem {lem.name} : {lem.lean} := by\n" in text
            assert "Nat.succ" not in lem.lean and "\\" not in lem.lean, lem.name
            assert lem.lean.count("(") == lem.lean.count(")"), lem.name
            assert lem.lean_proof.count("(") == lem.lean_proof.count(")"), lem.name
            assert lem.lean_proof.count("⟨") == lem.lean_proof.count("⟩"), lem.name


@NEEDS_COQC
def test_reference_proofs_compile(bank: Bank, tmp_path: Path) -> None:
    jobs = [(Path(COQ_FILES[d]).stem, render_coq(bank, d)) for d in difficulties()]
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda j: _coqc(tmp_path, *j), jobs))
    failures = [f"{name}: {out}" for name, code, out in results if code != 0]
    assert not failures, "\n".join(failures)


@NEEDS_COQC
def test_single_goal_files_compile(bank: Bank, tmp_path: Path) -> None:
    jobs = []
    for d in difficulties():
        own = [lem for lem in bank.lemmas if lem.difficulty == d]
        sample = {own[0].name, own[len(own) // 2].name, own[-1].name}
        sample |= set([lem.name for lem in own if lem.uses][::3])  # every third lemma that needs a helper
        for name in sorted(sample):
            jobs.append((f"One_{d}_{name}", render_coq(bank, d, admit=name, upto=name)))
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda j: _coqc(tmp_path, *j), jobs))
    failures = [f"{name}: {out}" for name, code, out in results if code != 0]
    assert not failures, "\n".join(failures)


# ---------------------------------------------------------------- the bundled demo project (bank/demo)

DEMO = Path(__file__).resolve().parents[1] / "bank" / "demo"
# One proof per open goal: a lemma that ends in `Admitted.` without `Proof.` gets a whole proof; a lemma with
# `admit.` holes gets one replacement per hole, in order. Compiling the filled copy shows every demo lemma is true.
DEMO_SOLUTIONS: dict[str, dict[str, str | list[str]]] = {
    "ListFacts.v": {
        "snoc_length": "induction l as [|y t IH]; intros x; simpl; auto.",
        "rev_snoc": ["rewrite rev_app_distr. reflexivity."],
        "sum_app": ["rewrite IH. lia."],
        "sum_rev": "induction l as [|x t IH]; simpl; [reflexivity | rewrite sum_app; simpl; lia].",
        "all_pos_cons": ["apply Nat.ltb_lt. exact H1."],
        "in_snoc": "intros A l x y. rewrite snoc_app, in_app_iff. simpl.\n"
                   "split; intros [H|H]; auto.\n- destruct H as [H|[]]. right. symmetry. exact H.",
    },
    "NatFacts.v": {
        "tri_le_sq": "induction n as [|n IH]; simpl; lia.",
        "tri_closed": ["lia."],
        "max_comm_demo": "intros a b. lia.",
        "square_mono": ["nia."],
        "even_or_odd": ["exists k. right. lia.", "exists (S k). left. lia."],
    },
}


def _fill(text: str, lemma: str, proof: str | list[str]) -> str:
    """Replace one demo lemma's holes by `proof` and its final `Admitted.` by `Qed.`."""
    i = text.index(f"Lemma {lemma} ")
    j = text.index("Admitted.", i)
    seg = text[i:j]
    if isinstance(proof, str):
        assert "Proof." not in seg, lemma
        seg += f"Proof.\n{proof}\n"
    else:
        for p in proof:
            k = seg.index("admit.")
            seg = seg[:k] + p + seg[k + len("admit."):]
        assert "admit." not in seg, lemma
    return text[:i] + seg + "Qed." + text[j + len("Admitted."):]


def _code_only(text: str) -> str:
    """`text` with Coq comments (nested) and string literals blanked out."""
    out, depth, i, in_str = [], 0, 0, False
    while i < len(text):
        if in_str:
            if text.startswith('""', i):
                i += 2
                continue
            in_str = text[i] != '"'
            i += 1
        elif text.startswith("(*", i):
            depth, i = depth + 1, i + 2
        elif depth and text.startswith("*)", i):
            depth, i = depth - 1, i + 2
        elif depth:
            i += 1
        else:
            in_str = text[i] == '"'
            out.append(" " if in_str else text[i])
            i += 1
    return "".join(out)


def test_demo_has_about_ten_goals_and_decoys() -> None:
    assert "-R . Demo" in (DEMO / "_CoqProject").read_text(encoding="utf-8")
    total = 0
    for name, solutions in DEMO_SOLUTIONS.items():
        text = (DEMO / name).read_text(encoding="utf-8")
        code = _code_only(text)
        admits = sum(len(p) for p in solutions.values() if isinstance(p, list))
        assert len(re.findall(r"(?<![\w.])admit\.", code)) == admits, name
        assert code.count("Admitted.") == len(solutions), name
        assert text.count("Admitted.") > code.count("Admitted."), f"{name}: no decoy in a comment or string"
        total += admits + sum(1 for p in solutions.values() if isinstance(p, str))
    assert 8 <= total <= 12


@NEEDS_COQC
def test_demo_compiles_as_shipped_and_every_lemma_is_true(tmp_path: Path) -> None:
    shipped, solved = tmp_path / "shipped", tmp_path / "solved"
    shipped.mkdir()
    solved.mkdir()
    for name, solutions in DEMO_SOLUTIONS.items():
        text = (DEMO / name).read_text(encoding="utf-8")
        (shipped / name).write_text(text, encoding="utf-8")
        for lemma, proof in solutions.items():
            text = _fill(text, lemma, proof)
        (solved / name).write_text(text, encoding="utf-8")
    for folder in (shipped, solved):
        for name in DEMO_SOLUTIONS:
            r = subprocess.run(["coqc", "-q", "-R", ".", "Demo", name], cwd=folder, capture_output=True, text=True,
                               timeout=120)
            assert r.returncode == 0, f"{folder.name}/{name}: {r.stdout}{r.stderr}"
    check = "".join(f"Print Assumptions {lem}.\n" for s in DEMO_SOLUTIONS.values() for lem in s)
    (solved / "Check.v").write_text("Require Import Demo.ListFacts Demo.NatFacts.\n" + check, encoding="utf-8")
    r = subprocess.run(["coqc", "-q", "-R", ".", "Demo", "Check.v"], cwd=solved, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0 and "Axioms" not in r.stdout, r.stdout + r.stderr
