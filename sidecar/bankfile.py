"""The lemma bank's source of truth (`bank/bank.toml`): loading it and rendering Coq and Lean files from it.

`python -m sidecar.bankfile generate` rewrites the checked-in files under `bank/coq/` and `bank/lean/`;
`python -m sidecar.bankfile check` exits 1 if any of them is stale.
"""

from __future__ import annotations

import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "BankLemma",
    "Bank",
    "DEFAULT_BANK",
    "difficulties",
    "load_bank",
    "lemmas_for",
    "render_coq",
    "render_lean",
    "generated_files",
    "generate",
]

BANK_DIR = Path(__file__).resolve().parents[1] / "bank"
DEFAULT_BANK = BANK_DIR / "bank.toml"
_DIFFICULTIES = ("easy", "medium", "hard")
COQ_FILES = {"easy": "coq/BankEasy.v", "medium": "coq/BankMedium.v", "hard": "coq/BankHard.v"}
LEAN_MODULES = {"easy": "Easy", "medium": "Medium", "hard": "Hard"}
_HEADER = "Generated from bank/bank.toml by `python -m sidecar.bankfile generate`; do not edit."


@dataclass(frozen=True)
class BankLemma:
    """One bank lemma: its statements and reference proofs in both provers."""

    name: str
    difficulty: str
    tags: tuple[str, ...]
    coq: str  # the statement's type, without `Lemma name :`
    coq_proof: str  # the sentences between `Proof.` and `Qed.`
    lean: str  # the theorem's type, without `theorem name :`
    lean_proof: str  # the tactic block after `:= by`
    uses: tuple[str, ...] = ()  # earlier bank lemmas the reference proofs use
    coq_defs: str = ""  # definitions placed right before this lemma (rare; prefer the prelude)
    lean_defs: str = ""


@dataclass(frozen=True)
class Bank:
    """The whole bank: the shared preludes and the lemmas in file order (easy, then medium, then hard)."""

    prelude_coq: str
    prelude_lean: str
    lemmas: tuple[BankLemma, ...]

    def lemma(self, name: str) -> BankLemma:
        """The lemma called `name`; KeyError if there is none."""
        for lem in self.lemmas:
            if lem.name == name:
                return lem
        raise KeyError(name)


def difficulties() -> tuple[str, str, str]:
    """The difficulty levels, easiest first."""
    return _DIFFICULTIES


def _text(entry: dict[str, object], key: str, where: str, default: str | None = None) -> str:
    """One string field of a toml table, stripped; ValueError if missing or not a string."""
    value = entry.get(key, default)
    if not isinstance(value, str):
        raise ValueError(f"{where}: field {key!r} must be a string")
    return value.strip()


def _names(entry: dict[str, object], key: str, where: str) -> tuple[str, ...]:
    """One list-of-strings field of a toml table (empty if absent)."""
    value = entry.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{where}: field {key!r} must be a list of strings")
    return tuple(value)


def load_bank(path: Path | str = DEFAULT_BANK) -> Bank:
    """Read and validate a bank file.

    Raises:
        OSError: the file cannot be read.
        ValueError: malformed toml, unknown difficulty, duplicate name, or a `uses` that is not an earlier lemma
            of the same or an easier difficulty.
    """
    try:
        doc = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"{path}: {e}") from e
    prelude = doc.get("prelude", {})
    if not isinstance(prelude, dict):
        raise ValueError(f"{path}: [prelude] must be a table")
    lemmas: list[BankLemma] = []
    seen: dict[str, BankLemma] = {}
    rank = {d: i for i, d in enumerate(_DIFFICULTIES)}
    for i, entry in enumerate(doc.get("lemma", [])):
        where = f"{path}: lemma #{i + 1}"
        name = _text(entry, "name", where)
        where = f"{path}: lemma {name!r}"
        lem = BankLemma(
            name=name,
            difficulty=_text(entry, "difficulty", where),
            tags=_names(entry, "tags", where),
            coq=_text(entry, "coq", where),
            coq_proof=_text(entry, "coq_proof", where),
            lean=_text(entry, "lean", where),
            lean_proof=_text(entry, "lean_proof", where),
            uses=_names(entry, "uses", where),
            coq_defs=_text(entry, "coq_defs", where, ""),
            lean_defs=_text(entry, "lean_defs", where, ""),
        )
        if lem.difficulty not in rank:
            raise ValueError(f"{where}: unknown difficulty {lem.difficulty!r}")
        if name in seen:
            raise ValueError(f"{where}: duplicate name")
        if lemmas and rank[lem.difficulty] < rank[lemmas[-1].difficulty]:
            raise ValueError(f"{where}: lemmas must be listed easy, then medium, then hard")
        for used in lem.uses:
            if used not in seen:
                raise ValueError(f"{where}: uses {used!r}, which is not an earlier lemma")
        seen[name] = lem
        lemmas.append(lem)
    return Bank(_text(prelude, "coq", f"{path}: [prelude]"), _text(prelude, "lean", f"{path}: [prelude]"),
                tuple(lemmas))


def lemmas_for(bank: Bank, difficulty: str) -> tuple[BankLemma, ...]:
    """The lemmas of one difficulty's file, in order: helpers it needs from easier files first, then its own.

    Raises:
        ValueError: unknown difficulty.
    """
    if difficulty not in _DIFFICULTIES:
        raise ValueError(f"unknown difficulty {difficulty!r} (choose from {', '.join(_DIFFICULTIES)})")
    own = [lem for lem in bank.lemmas if lem.difficulty == difficulty]
    needed: set[str] = set()
    stack = [u for lem in own for u in lem.uses]
    while stack:
        name = stack.pop()
        if name not in needed:
            needed.add(name)
            stack.extend(bank.lemma(name).uses)
    helpers = [lem for lem in bank.lemmas if lem.name in needed and lem.difficulty != difficulty]
    return tuple(helpers + own)


def _cut(lemmas: tuple[BankLemma, ...], admit: str | None, upto: str | None) -> tuple[BankLemma, ...]:
    """The lemmas up to and including `upto`; ValueError if `admit` or `upto` is not among them."""
    names = [lem.name for lem in lemmas]
    for label, name in (("admit", admit), ("upto", upto)):
        if name is not None and name not in names:
            raise ValueError(f"{label}={name!r}: no such lemma in this file")
    return lemmas if upto is None else lemmas[: names.index(upto) + 1]


def _indent(text: str, by: str = "  ") -> str:
    """Indent every non-empty line of `text`."""
    return "\n".join(by + line if line.strip() else "" for line in text.splitlines())


def render_coq(bank: Bank, difficulty: str, *, admit: str | None = None, upto: str | None = None) -> str:
    """A complete Coq file for one difficulty (`admit`: that lemma ends in `Admitted.`; `upto`: stop after it).

    Raises:
        ValueError: unknown difficulty, or `admit`/`upto` names no lemma of that file.
    """
    lemmas = _cut(lemmas_for(bank, difficulty), admit, upto)
    parts = [f"(* Lemma bank, {difficulty}. {_HEADER} *)", bank.prelude_coq]
    for lem in lemmas:
        if lem.coq_defs:
            parts.append(lem.coq_defs)
        body = "Admitted." if lem.name == admit else f"{_indent(lem.coq_proof)}\nQed."
        parts.append(f"Lemma {lem.name} : {lem.coq}.\nProof.\n{body}")
    return "\n\n".join(parts) + "\n"


def render_lean(bank: Bank, difficulty: str, *, admit: str | None = None, upto: str | None = None) -> str:
    """A complete Lean 4 file for one difficulty (`admit`: that theorem's proof is `sorry`; `upto`: stop after it).

    Raises:
        ValueError: unknown difficulty, or `admit`/`upto` names no lemma of that file.
    """
    lemmas = _cut(lemmas_for(bank, difficulty), admit, upto)
    ns = f"AutoProveBank.{LEAN_MODULES[difficulty]}"
    parts = [f"/-! Lemma bank, {difficulty}. {_HEADER} -/", f"namespace {ns}", bank.prelude_lean]
    for lem in lemmas:
        if lem.lean_defs:
            parts.append(lem.lean_defs)
        body = "sorry" if lem.name == admit else _indent(lem.lean_proof)
        sep = " " if lem.name == admit else "\n"
        parts.append(f"theorem {lem.name} : {lem.lean} := by{sep}{body}")
    parts.append(f"end {ns}")
    return "\n\n".join(parts) + "\n"


def generated_files(bank: Bank, root: Path = BANK_DIR) -> dict[Path, str]:
    """Every checked-in generated file under `root` and the text it must have."""
    out = {root / COQ_FILES[d]: render_coq(bank, d) for d in _DIFFICULTIES}
    for d in _DIFFICULTIES:
        out[root / "lean" / "AutoProveBank" / f"{LEAN_MODULES[d]}.lean"] = render_lean(bank, d)
    imports = "".join(f"import AutoProveBank.{LEAN_MODULES[d]}\n" for d in _DIFFICULTIES)
    out[root / "lean" / "AutoProveBank.lean"] = f"{imports}\n/-! Lemma bank, all difficulties. {_HEADER} -/\n"
    # a Lake project of its own, so that `lake build` in bank/lean checks every Lean reference proof
    from .provers.lean import DEFAULT_TOOLCHAIN

    out[root / "lean" / "lean-toolchain"] = DEFAULT_TOOLCHAIN + "\n"
    out[root / "lean" / "lakefile.toml"] = (f"# {_HEADER}\n# `lake build` here checks every reference proof of the "
                                            "Lean bank (core Lean only).\n"
                                            'name = "auto_prove_bank_lemmas"\ndefaultTargets = ["AutoProveBank"]\n\n'
                                            '[[lean_lib]]\nname = "AutoProveBank"\n')
    return out


def generate(bank: Bank | None = None, root: Path = BANK_DIR) -> list[Path]:
    """Write the generated files; return the ones whose text changed."""
    changed = []
    for path, text in generated_files(bank or load_bank(), root).items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed


def main(argv: list[str] | None = None) -> int:
    """`generate` writes the files; `check` exits 1 if any is stale."""
    args = sys.argv[1:] if argv is None else argv
    if args not in (["generate"], ["check"]):
        print("usage: python -m sidecar.bankfile generate|check", file=sys.stderr)
        return 2
    bank = load_bank()
    if args == ["check"]:
        stale = [p for p, t in generated_files(bank).items() if not p.exists() or p.read_text(encoding="utf-8") != t]
        for p in stale:
            print(f"stale: {p}", file=sys.stderr)
        return 1 if stale else 0
    for p in generate(bank):
        print(f"wrote {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
