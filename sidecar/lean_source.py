"""Lean 4 source, read lexically: comments and strings masked, declarations and their names, imports.

Only what the backend needs to name things and to place text: which declaration a `sorry` (whose position the
REPL gives) belongs to, that declaration's statement, the file's imports. The REPL decides what the file means;
these helpers are used for names, keys and messages, and every name they give is confirmed by Lean
(`#print axioms` fails on a wrong one) before anything depends on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["mask_lean", "LeanDecl", "declarations", "enclosing_declaration", "lean_imports", "line_col_to_offset",
           "offset_to_line_col", "namespace_at", "qualified_name"]

_DECL = re.compile(
    r"^(?P<mods>(?:@\[[^\]]*\]\s*)*(?:(?:private|protected|noncomputable|nonrec|partial|unsafe|scoped|local)\s+)*)"
    r"(?P<kind>theorem|lemma|def|example|instance|abbrev|opaque)\b[ \t]*(?P<name>[^\s:({\[⦃]*)",
    re.M,
)


def mask_lean(text: str) -> str:
    """`text` with comments (`--`, nested `/- -/`) and string literals overwritten by spaces, newlines kept: same
    length, so offsets in the mask are offsets in `text`."""
    out = list(text)
    i, n = 0, len(text)

    def blank(a: int, b: int) -> None:
        for k in range(a, min(b, n)):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        if text.startswith("--", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            blank(i, j)
            i = j
        elif text.startswith("/-", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/-", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("-/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            blank(i, j)
            i = j
        elif text[i] == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            blank(i, j + 1)
            i = j + 1
        else:
            i += 1
    return "".join(out)


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
    """The modules the file imports (its `import` lines, at the top)."""
    return tuple(m.group(1) for m in re.finditer(r"^import\s+([\w.]+)", mask_lean(text), re.M))


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
    for m in _SCOPE.finditer(mask_lean(text[:offset])):
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
