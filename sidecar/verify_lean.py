"""Independent check of a proof of a Lean `sorry` before anything is shown or written.

Only a goal whose `sort` is "prop" (Lean said its `sorry` stands for a proof, `LeanProver.sort_of`) is checked at
all: a definition's body, an instance's fields or a witness is refused whatever the script.

The whole file is run again by the REPL (a fresh environment, nothing of the search reused) with the proof in
place of the `sorry`, and two commands appended at the end, for the declaration `D` that held it (its full name):
`#check @D` and `#print axioms D`. The same is done once for the original file (cached per file digest). The proof
is accepted only when:

1. the file is the one the goal was found in (same sha256), and only the `sorry`'s characters change;
2. the replacement is a parenthesised tactic block (`(t1; t2)` where the `sorry` was a tactic, `(by t1; t2)`
   where it was a term) containing no `sorry`, `admit`, `native_decide` or `ofReduceBool`;
3. the patched file has no error (anywhere: a proof must not break later declarations);
4. the `sorry` is gone: no sorry is reported inside `D` but those of `D`'s other placeholders (if `D` has others,
   the proof is kept but `complete` is False — `D` still depends on `sorryAx` through them);
5. `#check @D` prints the same statement as for the original (white space aside);
6. `#print axioms D` lists no `sorryAx` (unless other placeholders remain) and no axiom beyond those the original
   already depended on and Lean's three standard ones (`propext`, `Classical.choice`, `Quot.sound`). The issue
   that asked for this said "no axiom the original did not use"; taken literally that refuses nearly every `simp`
   or `omega` proof of a `by sorry` (whose only axiom is `sorryAx`), which no Lean user would want. A user-declared
   `axiom`, `Lean.ofReduceBool` (`native_decide`) and anything else stays refused.
7. With `allow_open` (auto-prove's default; `--strict` turns it off), a proof whose only extra axiom is `sorryAx` is
   accepted when that `sorryAx` comes from the file's own open lemmas: the patched file is run once more with each
   earlier declaration that still has a `sorry` stated as an axiom of the same name and signature; that copy must
   elaborate, `#check @D` must be unchanged, and `#print axioms D` must then list, besides the allowed axioms, only
   those open lemmas — which are reported in `Verdict.depends_on_open`. A `sorry` of an imported module (another
   file of the project, or a library) cannot be told apart this way and stays refused.

Both forms of rule 2 are tried when the first does not elaborate (the `sorry`'s position is guessed lexically).
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

from .goals import Goal
from .lean_source import enclosing_declaration, line_col_to_offset, open_lemmas_as_axioms, qualified_name
from .patch import render_lean_replacement, sorry_in_term_position
from .verify import Verdict

if TYPE_CHECKING:
    from .provers.lean import LeanProver, ReplResponse, ReplSorry

__all__ = ["verify_lean", "parse_axioms", "clear_cache", "STANDARD_AXIOMS"]

STANDARD_AXIOMS = frozenset({"propext", "Classical.choice", "Quot.sound"})
_FORBIDDEN = re.compile(r"(?<![\w.'])(sorry|admit|native_decide|ofReduceBool|sorryAx)(?![\w'])")
_AXIOMS = re.compile(r"^'(?P<name>.+?)' (?:depends on axioms: \[(?P<list>[^\]]*)\]|does not depend on any axioms)",
                     re.M)


def parse_axioms(message: str) -> tuple[str, frozenset[str]] | None:
    """(declaration, axioms) from a `#print axioms` message, None if it is not one."""
    m = _AXIOMS.search(message)
    if m is None:
        return None
    listed = m.group("list")
    return m.group("name"), frozenset(a.strip() for a in listed.split(",") if a.strip()) if listed else frozenset()


@dataclass(frozen=True)
class _Checked:
    response: "ReplResponse"
    decl: str
    appended_line: int  # 1-based line where the appended commands start
    check: str | None  # `#check @D` output
    axioms: frozenset[str] | None


_CACHE: "OrderedDict[tuple[str, str, str], _Checked]" = OrderedDict()  # (digest, declaration, project) -> checks
_LOCK = threading.Lock()


def clear_cache() -> None:
    """Forget the original files' checks."""
    with _LOCK:
        _CACHE.clear()


def _run_checked(prover: "LeanProver", goal: Goal, text: str, decl: str, timeout: float) -> _Checked:
    body = text + ("" if text.endswith("\n") else "\n") + "\n"
    appended_line = body.count("\n") + 1
    source = body + f"#check @{decl}\n#print axioms {decl}\n"
    r = prover.run_file(goal.file, source, goal.env.workdir, timeout)
    check = axioms = None
    for m in r.messages:
        if m.line < appended_line:
            continue
        parsed = parse_axioms(m.data) if m.severity == "info" else None
        if parsed is not None:
            axioms = parsed[1]
        elif m.severity == "info" and m.line == appended_line and check is None:
            check = " ".join(m.data.split())
    return _Checked(r, decl, appended_line, check, axioms)


def verify_lean(goal: Goal, tactics: Sequence[str], prover: "LeanProver", *, original: bytes | None = None,
                timeout: float = 300.0, allow_open: bool = False) -> tuple[Verdict, str]:
    """Check a tactic script for a Lean goal; returns the verdict and the replacement text that was checked
    (write `verdict.patched`, which holds the whole file, only when `verdict.ok`). `allow_open`: accept a proof
    that stands on open lemmas of the same file (rule 7), listed in `Verdict.depends_on_open`."""
    t0 = time.monotonic()
    data = original if original is not None else goal.file.read_bytes()

    def refuse(*reasons: str) -> tuple[Verdict, str]:
        return Verdict(False, reasons, time.monotonic() - t0, ()), ""

    if not goal.fillable:  # a second line of defence: such goals are never searched in the first place
        return refuse(f"the placeholder's type is not a proposition ({goal.sort}): a definition's body is the "
                      "user's to write")
    if hashlib.sha256(data).hexdigest() != goal.file_digest:
        return refuse("the file changed since its goals were found")
    text = data.decode("utf-8")
    a, b = goal.env.placeholder
    if text[a:b] != "sorry":
        return refuse("the placeholder is not where the goal says")
    script = [t for t in tactics if t.strip()]
    if not script or any(_FORBIDDEN.search(t) for t in script):
        return refuse("the script is empty or uses sorry/admit/native_decide")
    d = enclosing_declaration(text, a)
    if d is None or not d.name:
        return refuse("the sorry is not inside a named declaration (`example`s cannot be checked by name)")
    decl = qualified_name(text, d)
    key = (goal.file_digest, decl, str(goal.env.workdir))
    with _LOCK:
        base = _CACHE.get(key)
    if base is None:
        base = _run_checked(prover, goal, text, decl, timeout)
        with _LOCK:
            _CACHE[key] = base
            while len(_CACHE) > 32:
                _CACHE.popitem(last=False)
    if base.response.error is not None or base.check is None or base.axioms is None:
        return refuse(f"the original could not be checked: {base.response.error or 'no #check/#print axioms output'}")
    def at(t: str, s: "ReplSorry") -> int:
        return -1 if s.line is None or s.column is None else line_col_to_offset(t, s.line, s.column)

    others = [s for s in base.response.sorries if d.start <= at(text, s) < d.end and at(text, s) != a]
    first = sorry_in_term_position(goal, data)
    last_reasons: tuple[str, ...] = ()
    for term in (first, not first):
        replacement = render_lean_replacement(goal, script, term=term)
        patched_text = text[:a] + replacement + text[b:]
        got = _run_checked(prover, goal, patched_text, decl, timeout)
        reasons: list[str] = []
        if got.response.error is not None:
            reasons.append(f"the REPL refused the patched file: {got.response.error}")
        errors = [m for m in got.response.errors if m.line < got.appended_line]
        if errors:
            reasons.append(f"line {errors[0].line}: {errors[0].data}")
        shift = len(replacement) - (b - a)
        left = [s for s in got.response.sorries if d.start <= at(patched_text, s) < d.end + shift]
        if len(left) > len(others):
            reasons.append("a sorry is still reported where the proof went")
        if got.check is None or got.check != base.check:
            reasons.append(f"the statement changed: {base.check!r} became {got.check!r}")
        if got.axioms is None:
            reasons.append("#print axioms gave no answer for the declaration")
        else:
            allowed = (base.axioms - {"sorryAx"}) | STANDARD_AXIOMS | ({"sorryAx"} if others else set())
            extra = sorted(got.axioms - allowed)
            if extra:
                reasons.append("uses axioms the original did not: " + ", ".join(extra))
        opens: tuple[str, ...] = ()
        if allow_open and not others and got.axioms is not None and sorted(got.axioms - allowed) == ["sorryAx"] \
                and len(reasons) == 1:
            opens, why = _open_lemmas_used(prover, goal, patched_text, d.start, decl, base, allowed, timeout)
            reasons = [] if opens else [why]
        if not reasons:
            warnings = ("other sorries of this declaration remain: it still depends on sorryAx",) if others else ()
            return Verdict(True, (), time.monotonic() - t0, tuple(sorted(got.axioms or ())), complete=not others,
                           warnings=warnings, patched=patched_text.encode("utf-8"),
                           depends_on_open=opens), replacement
        last_reasons = tuple(reasons)
        if not any(r.startswith("line ") for r in reasons):
            break  # it elaborated: the other form would not change the verdict
    return Verdict(False, last_reasons, time.monotonic() - t0, ()), ""


def _open_lemmas_used(prover: "LeanProver", goal: Goal, patched_text: str, before: int, decl: str, base: _Checked,
                      allowed: frozenset[str] | set[str], timeout: float) -> tuple[tuple[str, ...], str]:
    """Rule 7: which open lemmas of the file the proof's `sorryAx` comes from — the patched file run once more with
    every earlier declaration that still has a `sorry` stated as an axiom of its own name
    (`lean_source.open_lemmas_as_axioms`). The proof stands on open lemmas only if that copy elaborates without
    error, the statement is the same, and `#print axioms D` then lists no `sorryAx` and nothing beyond the allowed
    axioms and those open lemmas. Returns (the open lemmas used, as written) or ((), why not)."""
    variant, names = open_lemmas_as_axioms(patched_text, before)
    if not names:
        return (), "uses sorryAx, and no earlier declaration of this file is an open lemma it could come from"
    got = _run_checked(prover, goal, variant, decl, timeout)
    errors = [m for m in got.response.errors if m.line < got.appended_line]
    if got.response.error is not None or errors or got.check != base.check or got.axioms is None:
        return (), "uses sorryAx; with the file's open lemmas stated as axioms it does not check the same way"
    extra = sorted(got.axioms - set(allowed) - set(names))
    if extra:
        return (), "uses axioms the original did not: " + ", ".join(extra)
    used = tuple(names[n] for n in sorted(got.axioms & set(names)))
    return used, ("" if used else "uses sorryAx")
