"""The lexical reading of Lean files (`sidecar.lean_source`): which `sorry`s the scan shows as queued before the REPL
answers, and what `mask_lean` blanks, against Lean's own lexer (src/Lean/Parser/Basic.lean: `whitespace`,
`finishCommentBlock`, `tokenFnAux`, `strLitFnAux`, `rawStrLitFnAux`, `charLitFnAux`, `nameLitAux`, `identFnAux`;
src/Lean/Parser/StrInterpolation.lean `interpolatedStrFn`; src/Init/Meta/Defs.lean `isIdFirst`/`isIdRest`).

In each text below `⟪sorry⟫` marks a `sorry` the scan must report; every other `sorry` must not be reported.
"""

from __future__ import annotations

import re

import pytest

from sidecar.lean_source import declarations, lean_sorries, mask_lean, qualified_name
from sidecar.live import prescan_placeholders

MARK = re.compile("⟪sorry⟫")

CASES = [
    # comments
    ("line comment", "-- sorry\ntheorem t : True := ⟪sorry⟫"),
    ("line comment without space", "theorem t : True := ⟪sorry⟫ --sorry"),
    ("block comment", "/- sorry -/ theorem t : True := ⟪sorry⟫"),
    ("nested block comment", "/- a /- sorry -/ sorry, still a comment -/ theorem t : True := ⟪sorry⟫"),
    ("doc comment opened by /--", "/--/ sorry -/\ntheorem t : True := ⟪sorry⟫"),
    ("module doc comment", "/-! # sorry /- nested -/ sorry -/\ntheorem t : True := ⟪sorry⟫"),
    ("the character after /- is skipped", "/-/- sorry -/ theorem t : True := ⟪sorry⟫"),
    ("-- inside a block comment", "/- -- sorry\n sorry -/ theorem t : True := ⟪sorry⟫"),
    ("unterminated comment", "theorem t : True := ⟪sorry⟫ /- sorry"),
    # strings
    ("string", 'def s := "sorry" ++ "x"\ntheorem t : True := ⟪sorry⟫'),
    ("escaped quote", 'def s := "\\"" ++ "sorry\\\\"\ntheorem t : True := ⟪sorry⟫'),
    ("escaped backslash then quote", 'def s := "\\\\" ++ ⟪sorry⟫'),
    ("quote in a string keeps going", 'def s := "a \\" sorry"\ntheorem t : True := ⟪sorry⟫'),
    ("raw string", 'def s := r"sorry\\" ++ ⟪sorry⟫'),
    ("raw string with hashes", 'def s := r#"a "sorry" b"# ++ ⟪sorry⟫'),
    ("raw string with two hashes", 'def s := r##"x"# sorry "#"## ++ ⟪sorry⟫'),
    ("r is an identifier before a non-raw string", 'def s := r ++ "sorry" ++ ⟪sorry⟫'),
    ("an identifier ending in r is no raw string", 'def s := fr"sorry" ++ ⟪sorry⟫'),
    ("multi-line string", 'def s := "line\nsorry\n" ++ ⟪sorry⟫'),
    # interpolated strings: holes are code
    ("s! hole", 'def s := s!"{⟪sorry⟫}"'),
    ("s! text", 'def s := s!"sorry {1} sorry" ++ ⟪sorry⟫'),
    ("m! and f! holes", 'def s := m!"{⟪sorry⟫}" ++ f!"a{ ⟪sorry⟫ }b"'),
    ("escaped brace is text", 'def s := s!"\\{sorry}" ++ ⟪sorry⟫'),
    ("string inside a hole", 'def s := s!"{f "}sorry"} sorry {⟪sorry⟫}"'),
    ("nested interpolation", 'def s := s!"{s!"{⟪sorry⟫} sorry"}"'),
    ("a plain string opening a hole", 'def s := s!"{"{sorry}"} {⟪sorry⟫}"'),
    ("braces inside a hole", 'def s := s!"{({ x := ⟪sorry⟫ } : S)} sorry"'),
    ("throwError", 'def e : IO Unit := throwError "{⟪sorry⟫}"'),
    ("throwErrorAt ident", 'def e := throwErrorAt ref "sorry {⟪sorry⟫}"'),
    ("throwErrorAt parenthesised", 'def e := throwErrorAt (f x) "{⟪sorry⟫}"'),
    ("trace[cls]", 'def e := trace[Meta.debug] "{⟪sorry⟫} sorry"'),
    ("println!", 'def e := println! "{⟪sorry⟫}"'),
    ("plain string is not interpolated", 'def s := "{sorry}" ++ ⟪sorry⟫'),
    ("s! must be the whole token", 'def s := xs! "{sorry}" ++ ⟪sorry⟫'),
    # character literals
    ("quote character", "def c := '\"'\ntheorem t : True := ⟪sorry⟫"),
    ("escaped single quote", "def c := '\\''\ntheorem t : True := ⟪sorry⟫"),
    ("plain character", "def c := 'a' -- sorry\ntheorem t : True := ⟪sorry⟫"),
    ("unicode escape", "def c := '\\u03b1' == '\\x41'\ntheorem t : True := ⟪sorry⟫"),
    ("prime in identifiers is no char literal", "example (h' h'' : P) : f h' '\"' := ⟪sorry⟫"),
    ("prime then char literal", "example : g x' 'x' = '\"' := ⟪sorry⟫"),
    ("identifier swallows a quoted letter", "example : f'a' = ⟪sorry⟫"),
    ("two quotes start no char literal", "example : True := ⟪sorry⟫ ''"),
    # name literals
    ("name literal", "def n := `sorry\ntheorem t : True := ⟪sorry⟫"),
    ("dotted name literal", "def n := `Foo.sorry ++ `sorry.elim ++ ⟪sorry⟫"),
    ("escaped name literal", "def n := `«sorry» ++ ⟪sorry⟫"),
    ("double backtick", "def n := ``sorry ++ ⟪sorry⟫"),
    ("syntax quotation is not a name literal", "example : True := `(⟪sorry⟫)"),
    # identifiers containing sorry
    ("sorry!", "example : True := sorry!"),
    ("sorry?", "example : True := sorry?"),
    ("sorry'", "example : True := sorry'"),
    ("sorry with subscript", "example : True := sorry₁"),
    ("sorryAx", "example : True := sorryAx True"),
    ("dotted sorry.elim", "example : True := sorry.elim"),
    ("Foo.sorry", "example : True := Foo.sorry"),
    ("escaped identifier", "example : True := «sorry»"),
    ("escaped part", "example : True := Foo.«sorry»"),
    ("field after a dot token", "example : True := (h).sorry ∨ .sorry"),
    ("unicode letters join the identifier", "example : True := αsorry ∨ sorryβ ∨ ℕsorry ∨ sorryé ∨ x₁sorry"),
    ("sorry followed by a projection", "example : True := ⟪sorry⟫.1"),
    ("sorry then a space then a dot identifier", "example : True := ⟪sorry⟫ .elim"),
    ("λ is no letter", "example : True := (λ_ => ⟪sorry⟫) 0"),
    ("after a number", "example : 2 = ⟪sorry⟫ := 1⟪sorry⟫"),
    # the usual places
    ("tactic sorry", "theorem t (x : Nat) : x = x := by\n  ⟪sorry⟫"),
    ("anonymous constructor", "theorem e : ∃ n : Nat, n = n := ⟨⟪sorry⟫, rfl⟩"),
    ("several", "theorem t : True ∧ True := ⟨⟪sorry⟫,⟪sorry⟫⟩"),
    ("at the end of the file", "theorem t : True := ⟪sorry⟫"),
    ("at the end of the file after a newline", "theorem t : True :=\n⟪sorry⟫"),
    ("sorry as a whole file", "⟪sorry⟫"),
]


def expected(marked: str) -> tuple[str, list[tuple[int, int]]]:
    """The text without marks, and the character ranges of the marked `sorry`s."""
    spans, parts, last, shift = [], [], 0, 0
    for m in MARK.finditer(marked):
        parts.append(marked[last : m.start()])
        a = m.start() - shift
        spans.append((a, a + 5))
        parts.append("sorry")
        shift += 2
        last = m.end()
    parts.append(marked[last:])
    return "".join(parts), spans


@pytest.mark.parametrize("name, marked", CASES, ids=[c[0] for c in CASES])
def test_sorry_tokens(name: str, marked: str) -> None:
    text, spans = expected(marked)
    assert lean_sorries(text) == spans


@pytest.mark.parametrize("name, marked", CASES, ids=[c[0] for c in CASES])
def test_prescan_reports_the_same_sorries(name: str, marked: str) -> None:
    """What the language server shows as queued before the REPL answers (0-based line, code-point column)."""
    text, spans = expected(marked)

    def at(i: int) -> tuple[int, int]:
        return text.count("\n", 0, i), i - (text.rfind("\n", 0, i) + 1)

    assert prescan_placeholders(text, "lean") == [(*at(a), *at(b), "sorry") for a, b in spans]


@pytest.mark.parametrize("text, kept", [
    ("a -- b\nc", "a ~~~~\nc"),
    ("a /- b /- c -/ d -/ e", "a ~~~~~~~~~~~~~~~~~ e"),
    ("/-- doc\n-/\ntheorem t", "~~~~~~~\n~~\ntheorem t"),
    ('x "s\\"t" y', "x ~~~~~~ y"),
    ('x r#"a"b"# y', "x ~~~~~~~~ y"),
    ("x '\"' y", "x ~~~ y"),
    ("x h' y", "x h' y"),
    ("x `Foo.bar y", "x ~~~~~~~~ y"),
    ('x s!"a{b "c"}d" y', "x s!~~~b ~~~~~~ y"),
    ("x := 1.5e3 + 0x1F", "x := 1.5e3 + 0x1F"),
])
def test_mask(text: str, kept: str) -> None:
    """Comments, literals and name literals become spaces (`~` above; newlines kept, same length); code and
    interpolation holes stay."""
    assert mask_lean(text) == kept.replace("~", " ")


def test_declarations_through_the_new_masks() -> None:
    """`declarations` (built on `mask_lean`) is not fooled by the literals and comments the old scan misread."""
    src = "\n".join([
        "namespace N",
        "/--/ theorem fake1 : True := sorry -/",
        "def c := '\"'",
        "theorem t1 : True := sorry",
        'def s := r#"',
        'theorem fake2 : True := sorry"#',
        'def i := s!"{(1 : Nat)} \ntheorem fake3 : True := sorry"',
        "theorem t2 : c = c := rfl",
        "end N",
    ])
    ds = declarations(src)
    assert [(d.kind, d.name) for d in ds] == [("def", "c"), ("theorem", "t1"), ("def", "s"), ("def", "i"),
                                              ("theorem", "t2")]
    assert ds[1].statement == "theorem t1 : True" and qualified_name(src, ds[1]) == "N.t1"
    assert [src[a:b] for a, b in lean_sorries(src)] == ["sorry"]


def test_open_lemmas_as_axioms() -> None:
    """Earlier declarations with a `sorry` are restated as axioms on their own first line; others are untouched."""
    from sidecar.lean_source import open_lemmas_as_axioms

    text = ("namespace N\n"
            "@[simp] theorem a (n : Nat) :\n    n + 0 = n := by\n  sorry\n"
            "theorem closed : 1 = 1 := rfl\n"
            "private theorem hidden : 2 = 2 := sorry\n"
            "theorem commented (n : Nat) -- why\n    : n = n := sorry\n"
            "def f : Nat → Nat := sorry\n"
            "theorem goal : True := by\n  sorry\nend N\n")
    out, names = open_lemmas_as_axioms(text, text.index("theorem goal"))
    assert names == {"N.a": "a", "N.f": "f"}
    assert "@[simp] axiom a (n : Nat) : n + 0 = n @[simp] theorem autoprove_open_body_a (n : Nat) :" in out
    assert "axiom f : Nat → Nat def autoprove_open_body_f : Nat → Nat := sorry" in out
    assert "private theorem hidden" in out and "axiom hidden" not in out  # private names print mangled
    assert "axiom commented" not in out  # a comment inside a multi-line signature: left alone
    assert out.count("\n") == text.count("\n") and out.endswith("theorem goal : True := by\n  sorry\nend N\n")


def test_lean_premises_rank_the_files_earlier_lemmas() -> None:
    """The MCP `premises` of a Lean goal: the file's theorems before the goal sharing the most names with it, the
    nearest first among equals; a query keeps those holding its words; nothing after the goal, never the goal."""
    from sidecar.strategies.lean import lean_premises

    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "bank" / "lean" / "AutoProveBank" / "Medium.lean").read_text()
    at = text.index("theorem ev_plus")
    goal = "theorem ev_plus : ∀ n m : Nat, ev n → ev m → ev (n + m)"
    ranked = lean_premises(text, at, goal, exclude="ev_plus")
    names = [n for n, _ in ranked]
    assert names[:2] == ["ev_evenb", "ev_double"], names
    assert "ev_plus" not in names and "ev_inv_ss" not in names and len(names) == len(set(names))
    assert [n for n, _ in lean_premises(text, at, goal, query="reverse length")] == ["rev_length_ind"]
    assert len(lean_premises(text, at, goal, limit=3)) == 3
