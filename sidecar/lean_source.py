"""Lean 4 source, read lexically: comments and strings masked, declarations and their names, imports.

Only what the backend needs to name things and to place text: which declaration a `sorry` (whose position the
REPL gives) belongs to, that declaration's statement, the file's imports. The REPL decides what the file means;
these helpers are used for names, keys and messages, and every name they give is confirmed by Lean
(`#print axioms` fails on a wrong one) before anything depends on it.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

__all__ = ["mask_lean", "lean_sorries", "LeanDecl", "declarations", "enclosing_declaration", "lean_imports",
           "line_col_to_offset", "offset_to_line_col", "namespace_at", "qualified_name"]

_DECL = re.compile(
    r"^(?P<mods>(?:@\[[^\]]*\]\s*)*(?:(?:private|protected|noncomputable|nonrec|partial|unsafe|scoped|local)\s+)*)"
    r"(?P<kind>theorem|lemma|def|example|instance|abbrev|opaque)\b[ \t]*(?P<name>[^\s:({\[⦃]*)",
    re.M,
)


def mask_lean(text: str) -> str:
    """`text` with comments, string and character literals and name literals overwritten by spaces, newlines kept
    (same length, so offsets in the mask are offsets in `text`), read as Lean's lexer reads it (`_LeanLexer`). The
    holes of an interpolated string (`s!"…{e}…"`) are code and stay."""
    return _masked(text)


@functools.lru_cache(maxsize=16)
def _masked(text: str) -> str:
    out = list(text)
    for a, b in _lex(text).masked:
        for k in range(a, b):
            if out[k] != "\n":
                out[k] = " "
    return "".join(out)


def lean_sorries(text: str) -> list[tuple[int, int]]:
    """Character ranges of the `sorry` tokens of a Lean file: the keyword itself, in code (not in a comment, a
    literal, a name literal `` `sorry ``), never part of another identifier (`sorry!`, `sorry'`, `sorry.elim`,
    `Foo.sorry`, `«sorry»`) and not a field or constructor name after a `.` token (`(e).sorry`, `.sorry`)."""
    return list(_lex(text).sorries)


# --------------------------------------------------------------------------------------------------
# Lean's lexer, as far as masking and finding `sorry` need it. References are to Lean's sources
# (src/Lean/Parser/Basic.lean, src/Lean/Parser/StrInterpolation.lean, src/Init/Meta/Defs.lean, v4.2x):
# `whitespace` and `finishCommentBlock` (comments), `tokenFnAux` (which token starts where), `strLitFnAux`,
# `rawStrLitFnAux`, `charLitFnAux`, `nameLitAux`, `identFnAux`, `interpolatedStrFn`, `isIdFirst`/`isIdRest`.


def _is_letter_like(o: int) -> bool:
    """`Lean.isLetterLike`."""
    return ((0x3B1 <= o <= 0x3C9 and o != 0x3BB) or (0x391 <= o <= 0x3A9 and o not in (0x3A0, 0x3A3))
            or 0x3CA <= o <= 0x3FB or 0x1F00 <= o <= 0x1FFE or 0x2100 <= o <= 0x214F or 0x1D49C <= o <= 0x1D59F
            or (0xC0 <= o <= 0xFF and o not in (0xD7, 0xF7)) or 0x100 <= o <= 0x17F)


def _is_id_first(c: str) -> bool:
    """`Lean.isIdFirst`: an ASCII letter, `_`, or a letter-like character (Greek but λ Π Σ, ℕ, 𝒜, é, …)."""
    return c.isascii() and (c.isalpha() or c == "_") or not c.isascii() and _is_letter_like(ord(c))


def _is_id_rest(c: str) -> bool:
    """`Lean.isIdRest`: also digits, `'`, `!`, `?` and sub-scripts (`h₁`); so `sorry!`, `get?`, `h'` are one
    identifier each."""
    if c.isascii():
        return c.isalnum() or c in "_'!?"
    o = ord(c)
    return _is_letter_like(o) or 0x2080 <= o <= 0x2089 or 0x2090 <= o <= 0x209C or 0x1D62 <= o <= 0x1D6A \
        or o == 0x2C7C


# tokens after which a string literal is read by `interpolatedStrFn` (core syntax: `syntax:max "s!"
# interpolatedStr(term)`, `m!`, `f!`; `println!`, `throwError` take `(interpolatedStr(term) <|> term)`); `trace[cls]`
# and `throwErrorAt ref` are recognised by `_LeanLexer._interpolated`
_INTERPOLATING = frozenset({"s!", "m!", "f!", "println!", "throwError"})
_QUOTABLE = "\\\"'rnt"  # `isQuotableCharDefault`; interpolated strings add `{`


@dataclass(frozen=True)
class _Lexed:
    masked: tuple[tuple[int, int], ...]  # character ranges that are not code (comments, literals)
    sorries: tuple[tuple[int, int], ...]  # the `sorry` keyword tokens


@functools.lru_cache(maxsize=16)
def _lex(text: str) -> _Lexed:
    lexer = _LeanLexer(text)
    lexer.code(0, in_hole=False)
    return _Lexed(tuple(lexer.masked), tuple(lexer.sorries))


@dataclass
class _Token:
    kind: str  # "ident" | "symbol" | "literal"
    text: str
    start: int
    end: int
    opener: int = -1  # for ")": the index (in `_LeanLexer.tokens`) of its "("


class _LeanLexer:
    """One left-to-right pass over a Lean file, token by token, as `tokenFn` and `whitespace` take it. Malformed
    input (an unterminated comment or literal) is read to the end of the file, as Lean reports it."""

    def __init__(self, text: str) -> None:
        self.text, self.n = text, len(text)
        self.masked: list[tuple[int, int]] = []
        self.sorries: list[tuple[int, int]] = []
        self.tokens: list[_Token] = []
        self._open: list[int] = []  # indexes of unclosed "(" tokens

    def code(self, i: int, *, in_hole: bool) -> int:
        """Read code from `i`: to the end of the text, or (`in_hole`) to the `}` that closes an interpolation hole,
        whose position is returned."""
        text, n = self.text, self.n
        depth = 0
        while i < n:
            c = text[i]
            if c.isspace():
                i += 1
            elif c == "-" and text.startswith("--", i):
                j = text.find("\n", i)
                i = self._mask(i, n if j < 0 else j)
            elif c == "/" and text.startswith("/-", i):
                # `/--` and `/-!` open doc comments, whose body starts right after them; in a plain comment the
                # character after `/-` is skipped unread (`whitespace`: `s.next input i`), so `/-/- -/` is closed
                i = self._mask(i, self._comment_end(i + 3))
            elif c == '"':
                i = self._string(i) if self._interpolated() else self._mask(i, self._plain_string_end(i + 1))
            elif c == "'" and text[i + 1 : i + 2] != "'" and (j := self._char_end(i + 1)) > 0:
                i = self._literal(i, j)
            elif "0" <= c <= "9":
                i = self._number(i)
            elif c == "`" and (j := self._name_literal_end(i)) > 0:
                i = self._literal(i, j)
            elif c == "r" and (j := self._raw_string_end(i)) > 0:
                i = self._literal(i, j)
            elif _is_id_first(c) or c == "«":
                i = self._identifier(i)
            else:
                if in_hole and c == "{":
                    depth += 1
                elif in_hole and c == "}":
                    if depth == 0:
                        return i
                    depth -= 1
                self._symbol(c, i)
                i += 1
        return n

    # -- tokens --------------------------------------------------------------------------------------------------

    def _mask(self, a: int, b: int) -> int:
        b = min(b, self.n)
        if b > a:
            self.masked.append((a, b))
        return b

    def _literal(self, a: int, b: int) -> int:
        self.tokens.append(_Token("literal", self.text[a:b], a, b))
        return self._mask(a, b)

    def _symbol(self, c: str, i: int) -> None:
        tok = _Token("symbol", c, i, i + 1)
        if c == "(":
            self._open.append(len(self.tokens))
        elif c == ")" and self._open:
            tok.opener = self._open.pop()
        self.tokens.append(tok)

    def _identifier(self, i: int, *, token: bool = True) -> int:
        """`identFnAux`: dotted parts, each `«…»` or an identifier; `sorry` alone is the keyword (`mkIdResult`
        prefers the token `sorry` when it is as long as the identifier). Returns the end; `token` False: only that
        (a name literal's name)."""
        text, n, a = self.text, self.n, i
        while True:
            if text[i] == "«":
                j = text.find("»", i + 1)
                i = n if j < 0 else j + 1
            else:
                i += 1
                while i < n and _is_id_rest(text[i]):
                    i += 1
            if i + 1 < n and text[i] == "." and (_is_id_first(text[i + 1]) or text[i + 1] == "«"):
                i += 1
                continue
            break
        if not token:
            return i
        word = text[a:i]
        prev = self.tokens[-1] if self.tokens else None
        after_dot = prev is not None and prev.kind == "symbol" and prev.text == "." and prev.end == a
        if word == "sorry" and not after_dot:  # `(e).sorry`, `.sorry`: a field or constructor name (`rawIdent`)
            self.sorries.append((a, i))
        self.tokens.append(_Token("ident", word, a, i))
        return i

    def _number(self, i: int) -> int:
        """`numberFnAux`: `0x`/`0b`/`0o` numerals, decimals with an optional `.digits` and exponent."""
        text, n, a = self.text, self.n, i
        if text[i] == "0" and text[i + 1 : i + 2] in ("x", "X", "b", "B", "o", "O"):
            i += 2
            while i < n and (text[i] in "_0123456789abcdefABCDEF"):
                i += 1
        else:
            while i < n and text[i] in "_0123456789":
                i += 1
            if text[i : i + 1] == "." and text[i + 1 : i + 2] != ".":
                i += 1
                while i < n and text[i] in "0123456789":
                    i += 1
            if text[i : i + 1] in ("e", "E"):
                j = i + 1 + (text[i + 1 : i + 2] in ("+", "-"))
                if j < n and text[j] in "0123456789":
                    i = j
                    while i < n and text[i] in "0123456789":
                        i += 1
        self.tokens.append(_Token("literal", text[a:i], a, i))
        return i

    # -- comments and literals -----------------------------------------------------------------------------------

    def _comment_end(self, i: int) -> int:
        """`finishCommentBlock 1` from `i`: just past the `-/` that closes the comment (nested `/- -/` counted)."""
        text, n, depth = self.text, self.n, 1
        while i < n:
            if text.startswith("-/", i):
                depth -= 1
                i += 2
                if depth == 0:
                    return i
            elif text.startswith("/-", i):
                depth += 1
                i += 2
            else:
                i += 1
        return n

    def _plain_string_end(self, i: int) -> int:
        """`strLitFnAux` from `i` (after the opening quote): just past the closing quote; `\\x` escapes one
        character (`\\"`, `\\\\`, …; the digits of `\\xHH`, `\\uHHHH` need no care)."""
        text, n = self.text, self.n
        while i < n:
            c = text[i]
            if c == "\\":
                i += 2
            elif c == '"':
                return i + 1
            else:
                i += 1
        return n

    def _char_end(self, i: int) -> int:
        """`charLitFnAux` from `i` (after `'`): just past the closing `'`, or -1 when this is no character literal
        (then Lean reports an error; the `'` is read as a symbol here)."""
        text, n = self.text, self.n
        if i >= n:
            return -1
        if text[i] == "\\":
            e = text[i + 1 : i + 2]
            width = 4 if e == "u" else 2 if e == "x" else 0
            if not (e and (e in _QUOTABLE or width)):
                return -1
            i += 2 + width
        else:
            i += 1
        return i + 1 if text[i : i + 1] == "'" else -1

    def _name_literal_end(self, i: int) -> int:
        """`nameLitAux` (`` `Foo.bar ``, `` `«x y» ``; also the double-backtick form): just past the name, or -1."""
        text = self.text
        j = i + 2 if text[i + 1 : i + 2] == "`" else i + 1
        if j >= self.n or not (_is_id_first(text[j]) or text[j] == "«"):
            return -1
        return self._identifier(j, token=False)

    def _raw_string_end(self, i: int) -> int:
        """`isRawStrLitStart` / `rawStrLitFnAux`: `r"…"`, `r#"…"#`, … (no escapes; closed by `"` and as many `#`
        as opened it): just past its end, or -1 when `r` starts no raw string (an identifier then)."""
        text, n = self.text, self.n
        j = i + 1
        while j < n and text[j] == "#":
            j += 1
        if j >= n or text[j] != '"':
            return -1
        close = '"' + "#" * (j - i - 1)
        k = text.find(close, j + 1)
        return n if k < 0 else k + len(close)

    def _interpolated(self) -> bool:
        """Whether the string literal about to be read follows a token whose syntax reads `interpolatedStr`."""
        t = self.tokens
        if t and t[-1].kind == "ident" and t[-1].text in _INTERPOLATING:
            return True
        if len(t) >= 4 and [x.text for x in t[-3:]] == ["[", t[-2].text, "]"] and t[-2].kind == "ident" \
                and t[-4].text == "trace" and t[-4].end == t[-3].start:
            return True  # `trace[cls] "…"` (the token is `trace[`)
        if len(t) >= 2 and t[-1].kind == "ident" and t[-2].text == "throwErrorAt":
            return True  # `throwErrorAt ref "…"`
        if t and t[-1].text == ")" and t[-1].opener > 0 and t[t[-1].opener - 1].text == "throwErrorAt":
            return True  # `throwErrorAt (f x) "…"`
        return False

    def _string(self, i: int) -> int:
        """`interpolatedStrFn` from the opening quote at `i`: the literal pieces are masked, each `{…}` hole is
        read as code (it may hold strings, comments and further holes). Returns the position past the string."""
        text, n = self.text, self.n
        self.tokens.append(_Token("symbol", '"', i, i + 1))  # so that a string opening a hole is read as plain
        start, j = i, i + 1
        while j < n:
            c = text[j]
            if c == "\\":
                j += 2
            elif c == '"':
                j += 1
                break
            elif c == "{":
                self._mask(start, j + 1)
                j = self.code(j + 1, in_hole=True)
                start = j  # the closing `}` starts the next literal piece
                j += 1
            else:
                j += 1
        j = min(j, n)
        self._mask(start, j)
        self.tokens.append(_Token("literal", text[i:j], i, j))
        return j


@dataclass(frozen=True)
class LeanDecl:
    kind: str  # theorem | lemma | def | example | instance | abbrev | opaque
    name: str  # as written ("" for example / anonymous instance)
    start: int  # character offset of the declaration's first character (modifiers included)
    end: int  # character offset where the next declaration (or the file) starts
    statement: str  # the text from the keyword to the top-level `:=` (or the first `|` / `where`), stripped


def declarations(text: str) -> list[LeanDecl]:
    """The declarations of a file in order, found at line starts in the masked text."""
    masked = mask_lean(text)
    found = list(_DECL.finditer(masked))
    out = []
    for k, m in enumerate(found):
        end = found[k + 1].start() if k + 1 < len(found) else len(text)
        body = masked[m.start("kind") : end]
        stop = _statement_end(body)
        out.append(LeanDecl(m.group("kind"), m.group("name"), m.start(), end,
                            " ".join(text[m.start("kind") : m.start("kind") + stop].split())))
    return out


def _statement_end(masked: str) -> int:
    depth = 0
    for i, c in enumerate(masked):
        if c in "([{⟨":
            depth += 1
        elif c in ")]}⟩":
            depth -= 1
        elif depth == 0 and masked.startswith(":=", i):
            return i
        elif depth == 0 and c == "|" and masked[masked.rfind("\n", 0, i) + 1 : i].strip() == "" and "\n" in masked[:i]:
            return i
        elif depth == 0 and masked.startswith("where", i) and (i == 0 or not masked[i - 1].isalnum()):
            return i
    return len(masked)


def enclosing_declaration(text: str, offset: int) -> LeanDecl | None:
    """The declaration whose text contains character `offset`, if any."""
    best = None
    for d in declarations(text):
        if d.start <= offset < d.end:
            best = d
    return best


def lean_imports(text: str) -> tuple[str, ...]:
    """The modules the file imports (its `import` lines, at the top; `import A B` names two)."""
    return tuple(name for m in re.finditer(r"^(?:public\s+)?import\s+([\w.]+(?:[ \t]+[\w.]+)*)", mask_lean(text), re.M)
                 for name in m.group(1).split() if name != "all")


def line_col_to_offset(text: str, line: int, column: int) -> int:
    """Character offset of (1-based line, 0-based code-point column), as the REPL reports positions."""
    starts = [0] + [m.end() for m in re.finditer("\n", text)]
    if line < 1 or line > len(starts):
        raise ValueError(f"line {line} is outside the text")
    return min(starts[line - 1] + column, len(text))


def offset_to_line_col(text: str, offset: int) -> tuple[int, int]:
    before = text[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1)


_SCOPE = re.compile(r"^(namespace|section|end|noncomputable\s+section)\b[ \t]*([^\s]*)", re.M)


def namespace_at(text: str, offset: int) -> str:
    """The namespace (`A.B`) open at character `offset`, from the `namespace`/`section`/`end` lines before it."""
    stack: list[tuple[str, str]] = []
    for m in _SCOPE.finditer(mask_lean(text), 0, offset):  # the whole file's mask (cached), read up to `offset`
        kind, name = m.group(1), m.group(2)
        if kind == "end":
            if stack:
                stack.pop()
        else:
            stack.append(("namespace" if kind == "namespace" else "section", name))
    return ".".join(n for k, n in stack if k == "namespace" and n)


def qualified_name(text: str, decl: LeanDecl) -> str:
    """The full name a declaration gets (its namespace prefixed; `_root_.` honoured)."""
    if decl.name.startswith("_root_."):
        return decl.name[len("_root_."):]
    ns = namespace_at(text, decl.start)
    return f"{ns}.{decl.name}" if ns else decl.name


_OPEN_KINDS = ("theorem", "lemma", "def")
_KEPT_MODS = re.compile(r"@\[[^\]]*\]\s*|protected\s+")
ORIGINAL_PREFIX = "autoprove_open_body_"


def open_lemmas_as_axioms(text: str, before: int) -> tuple[str, dict[str, str]]:
    """`text` where every named `theorem`/`lemma`/`def` that ends before character `before` and still contains a
    `sorry` is stated once more, as an `axiom` of the same name and signature, right before itself, and itself
    renamed (`autoprove_open_body_<name>`), so that everything after it uses the axiom; and the full names of those
    axioms (full name -> name as written). `#print axioms` of a later declaration then names the open lemmas it
    stands on instead of `sorryAx`. Nothing moves to another line: each axiom is written on the first line of its
    declaration, so line numbers after it are those of `text`. A declaration whose signature spans lines with
    comments or strings in it, or a `private` one, is left alone (its `sorry` then stays a `sorryAx`)."""
    masked = mask_lean(text)
    sorries = [a for a, _ in lean_sorries(text)]
    edits: list[tuple[int, str]] = []
    names: dict[str, str] = {}
    for d in declarations(text):
        if d.end > before or d.kind not in _OPEN_KINDS or not d.name or d.name.startswith("_root_."):
            continue
        if not any(d.start <= s < d.end for s in sorries):
            continue
        m = _DECL.match(masked, d.start)
        if m is None or "private" in m.group("mods") or "partial" in m.group("mods") or "unsafe" in m.group("mods"):
            continue
        k = m.start("kind")
        stop = k + _statement_end(masked[k : d.end])
        signature = text[m.end("name") : stop]
        if "\n" in signature and masked[m.end("name") : stop] != signature:
            continue  # a comment or string inside a signature that would have to be joined onto one line
        attrs = "".join(_KEPT_MODS.findall(m.group("mods")))
        axiom = f"{attrs}axiom {d.name} {' '.join(signature.split())} "
        edits.append((d.start, axiom))
        edits.append((m.start("name"), ORIGINAL_PREFIX))
        names[qualified_name(text, d)] = d.name
    out = text
    for at, piece in sorted(edits, reverse=True):
        out = out[:at] + piece + out[at:]
    return out, names
