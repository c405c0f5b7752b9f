"""Turning found proofs into file edits: render the replacement text, apply replacements, write files safely.

Replacement shapes (Coq):

* kind "admitted": the `Admitted.` sentence becomes `Proof.` (only when the lemma has no `Proof` sentence yet),
  the tactics one per line indented two spaces past the statement's line, and `Qed.` (`Defined.` after a
  `Definition`/`Instance`/`Fixpoint`/`Example`/`Let`, whose bodies may matter for computation).
* kind "admit": the `admit.` sentence becomes `{ tac1. tac2. }`. The braces are always written: the search
  ran inside a `{` focus, so its script proves exactly that one goal; braces make Coq check that it is closed
  (`}` fails otherwise) even while the proof still ends in `Admitted.`, and keep a script that would also
  act on later goals from doing so. `verify` requires them.

`apply_patches` applies several replacements to one file (from the end backwards); when every bare
`admit.` of a proof ending in `Admitted.` is replaced, that `Admitted.` becomes `Qed.`/`Defined.`
(Coq 8.16 refuses `Qed` after `admit`, which is why the file had `Admitted.`), unless the proof's closer is
listed in `keep_admitted` (verify does that for a proof that has goals outside its admits). `headers` are
import lines a proof needs (e.g. `From Hammer Require Import Hammer Tactics.`): they are written as the
first lines of the file, once each, unless the file already starts with exactly that line.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Collection, Sequence

from .errors import SourceError
from .goals import Goal

__all__ = [
    "Edit",
    "render_replacement",
    "lean_script_of",
    "plan_edits",
    "apply_patches",
    "write_file_atomically",
    "closing_keyword",
    "header_block",
    "HEADER_LINE",
]

_NO_PERIOD = re.compile(r"^(?:[-+*]+|\{|\}|(?:\d+|\[[^\]]*\])\s*:\s*\{)$")
_DEFINITION_LIKE = ("Definition", "Example", "Fixpoint", "CoFixpoint", "Let", "Instance")
_PLACEHOLDERS = {"admitted": (b"Admitted.",), "admit": (b"admit.", b"give_up."), "sorry": (b"sorry",)}
# an import line allowed as a header: [From Lib] Require [Import|Export] Names.  |  Import/Export Names.
HEADER_LINE = re.compile(
    r"^(?:From\s+[\w.']+\s+)?Require(?:\s+(?:Import|Export))?(?:\s+[\w.']+)+\s*\.$"
    r"|^(?:Import|Export)(?:\s+[\w.']+)+\s*\.$"
)


@dataclass(frozen=True)
class Edit:
    """Replace bytes [start, end) of the original by `text`."""

    start: int
    end: int
    text: bytes
    patch: int | None  # index into the patches list; None for a closer turned into Qed/Defined, or the header
    what: str = "replacement"  # replacement | close | header


def closing_keyword(goal: Goal) -> str:
    """`Defined.` for definition-like openers (their body may be computed with), else `Qed.`."""
    return "Defined." if goal.keyword in _DEFINITION_LIKE else "Qed."


def _sentence(tactic: str) -> str:
    t = tactic.strip()
    if _NO_PERIOD.match(t) or t.endswith("."):
        return t
    return t + "."


def _layout(goal: Goal, source: bytes | None) -> tuple[str, str]:
    """(text before the placeholder on its line, indentation of the statement's line)."""
    if source is None:
        try:
            source = goal.file.read_bytes()
        except OSError:
            source = b""
        if goal.file_digest and hashlib.sha256(source).hexdigest() != goal.file_digest:
            source = b""
    if not source or goal.end > len(source):
        return "", ""
    line_start = source.rfind(b"\n", 0, goal.start) + 1
    prefix = source[line_start : goal.start].decode("utf-8", "replace")
    s_line_start = source.rfind(b"\n", 0, goal.statement_start) + 1
    s_line = source[s_line_start : goal.statement_start].decode("utf-8", "replace")
    indent = s_line[: len(s_line) - len(s_line.lstrip(" \t"))]
    return prefix, indent


def render_replacement(goal: Goal, tactics: Sequence[str], *, source: bytes | None = None) -> str:
    """The text that replaces the goal's placeholder, given tactic sentences (without trailing periods).

    `source` is the file's bytes (read from `goal.file` when None); it is only used for indentation.
    """
    if goal.kind == "sorry":
        return render_lean_replacement(goal, tactics, source=source)
    tacs = [_sentence(t) for t in tactics if t.strip()]
    if goal.kind == "admit":
        return "{ " + " ".join(tacs) + (" }" if tacs else "}")
    if goal.kind != "admitted":
        raise ValueError(f"cannot render a replacement for a goal of kind {goal.kind!r}")
    prefix, base = _layout(goal, source)
    step = base + "  "
    close = base + closing_keyword(goal)
    if not goal.has_proof_keyword:
        return "\n".join(["Proof.", *(step + t for t in tacs), close])
    if not tacs:
        return closing_keyword(goal)
    first = tacs[0]
    if prefix.strip() == "" and len(prefix) < len(step):
        first = " " * (len(step) - len(prefix)) + first
    return "\n".join([first, *(step + t for t in tacs[1:]), close])


def sorry_in_term_position(goal: Goal, source: bytes | None = None) -> bool:
    """Whether a Lean goal's `sorry` stands for a term (`:= sorry`, `(sorry)`, `⟨sorry, _⟩`, `fun x => sorry`
    outside tactic blocks) rather than a tactic, judged from the token before it. A guess: verification tries the
    other form when this one does not elaborate."""
    from .lean_source import mask_lean

    data = source if source is not None else goal.file.read_bytes()
    text = data[: goal.start].decode("utf-8", "replace")
    before = mask_lean(text).rstrip()
    last = before.rsplit("\n", 1)[-1]
    if before.endswith(("by", "·", ";", "<;>", "then", "else", "do")):
        return False
    if before.endswith("=>"):  # `| zero => sorry` / `case h => sorry`: tactic alternatives; `fun x => sorry`: a term
        return not re.match(r"\s*(\||case\b|next\b)", last)
    return before.endswith((":=", "(", "⟨", ",", "from", "exact", "refine", "show"))


def render_lean_replacement(goal: Goal, tactics: Sequence[str], *, source: bytes | None = None,
                            term: bool | None = None) -> str:
    """What replaces a Lean `sorry`: `(tac1; tac2)` where it is a tactic, `(by tac1; tac2)` where it is a term
    (`term` None: guessed with `sorry_in_term_position`). One line, so the file's layout is untouched."""
    tacs = [" ".join(t.split()) for t in tactics if t.strip()]
    body = "; ".join(tacs) if tacs else "skip"
    if term is None:
        term = sorry_in_term_position(goal, source)
    return f"(by {body})" if term else f"({body})"


def lean_script_of(replacement: str) -> list[str] | None:
    """The tactic script inside a replacement `render_lean_replacement` made (`(t1; t2)` or `(by t1; t2)`), as one
    `;`-joined step; None for any other text."""
    r = replacement.strip()
    if not (r.startswith("(") and r.endswith(")")):
        return None
    body = r[1:-1].strip()
    if body.startswith("by ") or body.startswith("by\n"):
        body = body[2:].strip()
    return [body] if body else None


def header_block(source: bytes, headers: Sequence[str]) -> bytes:
    """The lines `apply_patches` puts before `source` for these import lines (empty when none are new).

    Raises:
        ValueError: a header is not a single Require/Import line.
    """
    out: list[str] = []
    first_lines = source.decode("utf-8", "replace").splitlines()[: len(headers) + 1]
    for h in headers:
        h = " ".join(h.split())
        if not h:
            continue
        if not HEADER_LINE.match(h):
            raise ValueError(f"not an import line: {h!r}")
        if h not in out and h not in (line.strip() for line in first_lines):
            out.append(h)
    return "".join(h + "\n" for h in out).encode()


def plan_edits(
    source: bytes,
    patches: Sequence[tuple[Goal, str]],
    *,
    keep_admitted: Collection[int] = (),
    headers: Sequence[str] = (),
) -> list[Edit]:
    """The edits `apply_patches` makes, sorted by position (see the module docstring).

    Raises:
        ValueError: a goal does not belong to `source`, its placeholder is not where it says, two
            patches overlap, or a header is not an import line.
    """
    digest = hashlib.sha256(source).hexdigest()
    edits: list[Edit] = []
    block = header_block(source, headers)
    if block:
        edits.append(Edit(0, 0, block, None, "header"))
    by_proof: dict[int, list[int]] = {}
    for i, (goal, text) in enumerate(patches):
        if goal.file_digest and goal.file_digest != digest:
            raise ValueError(f"goal {goal.lemma} was found in another version of {goal.file}")
        if source[goal.start : goal.end] not in _PLACEHOLDERS.get(goal.kind, ()):
            raise ValueError(f"no {goal.kind} placeholder at bytes {goal.start}-{goal.end} of {goal.file}")
        edits.append(Edit(goal.start, goal.end, text.encode("utf-8"), i))
        if goal.kind == "admit":
            by_proof.setdefault(goal.closer_start, []).append(i)
    for closer, idxs in by_proof.items():
        goal = patches[idxs[0]][0]
        filled = {patches[i][0].start for i in idxs}
        if (
            closer not in keep_admitted
            and not goal.opaque_holes
            and goal.holes
            and all(a in filled for a, _ in goal.holes)
            and source[goal.closer_start : goal.closer_end] == b"Admitted."
        ):
            edits.append(Edit(goal.closer_start, goal.closer_end, closing_keyword(goal).encode(), None, "close"))
    edits.sort(key=lambda e: (e.start, e.end))
    for a, b in zip(edits, edits[1:]):
        if b.start < a.end:
            raise ValueError(f"overlapping patches at bytes {a.start}-{a.end} and {b.start}-{b.end}")
    return edits


def apply_patches(
    source: bytes,
    patches: Sequence[tuple[Goal, str]],
    *,
    keep_admitted: Collection[int] = (),
    headers: Sequence[str] = (),
) -> bytes:
    """Apply several replacements to one file's bytes (see the module docstring).

    Raises:
        ValueError: as `plan_edits`.
    """
    out = source
    for e in reversed(plan_edits(source, patches, keep_admitted=keep_admitted, headers=headers)):
        out = out[: e.start] + e.text + out[e.end :]
    return out


def write_file_atomically(path: Path, data: bytes) -> None:
    """Replace a file's content all at once (temporary file in the same folder, fsync, rename), keeping its
    permission bits; a symbolic link is followed, so the link stays and its target is replaced.

    Raises:
        SourceError: the file could not be written.
    """
    target = Path(os.path.realpath(path))
    folder = target.parent
    try:
        try:
            mode = stat.S_IMODE(os.stat(target).st_mode)
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".autoprove", dir=folder)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, mode)
            os.replace(tmp, target)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
        try:
            dfd = os.open(folder, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(dfd)
        except OSError:
            pass
        finally:
            os.close(dfd)
    except OSError as exc:
        raise SourceError(f"cannot write: {exc}", target) from exc
