"""Independent check of proposed proofs before anything is shown or written.

`verify(goal, replacement)` (one proof) and `verify_file(path, patches)` (several proofs of one file, one
compile) never trust the search: they splice the replacement into the file's bytes exactly as `patch`
will write them and compile that with `coqc -time -noglob` (a copy in a temporary folder, same module
name, the project's load path), with check commands inserted right after each affected proof:
`Set Printing All. Redirect Check @L. Unset Printing All.` and `Redirect Print Assumptions L.`

A proof is accepted only when all of these hold:

0. The placeholder is a proposition: `goal.sort` is "prop" (Coq said so where the goal was found, `sorts.py`), and
   Coq says so again in the compile of the patched file (the lemma's type for an "admitted" goal, the goal an
   `admit.` stood for). A definition's body is the user's to write, however easily something type-checks there.
1. The file is the one the goal was found in (same sha256), the placeholder is where the goal says, and
   the bytes before the placeholder are untouched (by construction; asserted).
2. The replacement, cut into sentences by Coq itself, is only tactics: bullets and braces; an optional
   leading `Proof.` (`Proof using/with ...`) for an "admitted" goal without one; a final `Qed.`/`Defined.`
   for an "admitted" goal. No vernacular command (any sentence starting with an upper-case word other than
   `Unshelve`), no `admit`/`give_up`/`Admitted`/`Abort` anywhere, no `*_no_check` tactic, balanced
   comments and strings, and every sentence lies wholly inside the replacement. An "admit" replacement
   must be one `{ ... }` block (so Coq checks that its goal is closed). The sentences of the rest of the
   file are cut exactly as in the original.
3. The patched file compiles as far as the original did: to the end, or up to the very sentence where the
   original already failed (which lies after the proof and the checks).
4. Statement unchanged: `Check @L` under `Printing All`, right after the proof (inside L's Sections, where
   the type is exactly the statement), equals the same output for the original file (compiled once per
   file digest and cached).
5. Assumptions. `Print Assumptions L` runs right after the proof, where `L` is the object just defined
   (no qualification issue, even inside Modules and functors); inside a Section, section variables are
   listed as "Section Variables" and are fine. Allowed "Axioms:" entries: names declared by
   Axiom/Parameter/Conjecture/Variable/Hypothesis/Context/Declare Instance in this same file before the
   statement (matched with their module path, so a library axiom of the same base name is not mistaken
   for them), components of `Declare Module`s and of the parameters of enclosing functors (which
   print as axioms inside the functor). Everything else is refused: an admitted lemma (of this file or a
   dependency; the lemma itself), a library axiom such as `classic` that the file imports but does not
   declare, `... is assumed to be guarded/positive`, `... relies on an unsafe hierarchy`. This is
   conservative: an `Admitted` original has no body, so what it "depended on" is unknowable; the file's own
   declarations are the only assumptions a user has visibly signed up for.
   With `allow_open` (the default of `auto-prove`, not of this function; `--strict` turns it off), a lemma the
   project itself still leaves open is accepted and reported in `Verdict.depends_on_open`: one closed by
   `Admitted` in this file before the goal, or in another file of the project (its full name, from `Locate`,
   leads through the `_CoqProject` bindings to a file under the project root whose own sentences, compiled by
   Coq, close it by `Admitted`). An open lemma is recognised by its full path only; an axiom, a library's
   admitted lemma and anything the project does not declare stay refused.
   For an "admit" goal there is a body: the rest of the proof. Its own assumptions (found by compiling the
   original with every bare `admit.` of that proof replaced by a hole axiom and `Qed.`) are tolerated, with
   a warning, so filling the last admit of a proof that also uses an admitted helper lemma is not refused.
6. An "admit" goal whose proof still ends in `Admitted.` after the patch (other admits remain) cannot be
   checked by `Qed` in the written file; `complete=False` then. It is still kernel-checked: a second,
   throw-away copy (truncated after the proof) replaces the remaining bare admits by
   `exact (autoprove_hole_K__ _)` of a local polymorphic axiom and ends the proof with `Qed.`, and its
   `Print Assumptions` goes through rule 5 (the hole axiom aside). If that copy cannot end in `Qed` (the
   proof has goals outside its admits) only the weaker checks remain (the `{ }` block closes its goal,
   `Guarded.` after it, rules 2-4), with a warning. If filling every admit of such a proof leaves goals, the
   proof keeps its `Admitted.`.
7. A lemma inside a Section whose type after `End` would change (the proof uses other section variables
   than the `Admitted` version, which took all of them) is accepted with a warning: later files using
   the lemma may need updating. Later proofs of this file are compiled, so they cannot silently break.

Import headers: a proof found with an extra import (e.g. the Hammer tactics) is verified with that line
written at the top of the file (`header=`); the original is then compiled under the same header for the
type comparison, and the header may only be `[From X] Require [Import|Export] ...` / `Import ...` lines.

Cost: one coqc run of the patched file per call, plus one of the original per file digest (cached;
`prime(goals)` does it up front for all goals of a file), plus one truncated run for an incomplete admit
proof, plus (rarely, cached) one for the baseline of rule 5. `timeout` applies to each run.
Timeouts kill coqc's process group and are reported as a refusal ("coqc timed out"). Every refusal
names its reason; `Verdict.patched` / `FileVerdict.patched` hold the exact bytes that were checked: write
those.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Collection, Sequence

from .coq_source import (
    Assembly,
    Piece,
    CoqcError,
    CoqcRun,
    Sentence,
    byte_to_position,
    classify,
    guess_admitted,
    head_text,
    lexically_balanced,
    mask_code,
    run_coqc,
    strip_comments,
)
from .coqproject import CoqProject, coq_project_for, source_of_logical
from .goals import DEFAULT_FIND_TIMEOUT, FileGoals, Goal, declared_names, goals_from_run, read_source
from .patch import HEADER_LINE, Edit, header_block, plan_edits
from .sorts import admit_probe, admitted_probe, decide_sorts, read_admit_probe, read_admitted_probe, remember_sort

__all__ = [
    "Verdict",
    "FileVerdict",
    "verify",
    "verify_file",
    "prime",
    "find_and_prime",
    "parse_assumptions",
    "clear_cache",
    "DEFAULT_VERIFY_TIMEOUT",
]

DEFAULT_VERIFY_TIMEOUT = 120.0
HOLE_PREFIX = "autoprove_hole_"
_INCOMPLETE = "Attempt to save an incomplete proof"
_TAG = "autoprove_chk"


@dataclass(frozen=True)
class Verdict:
    """The verifier's answer for one replacement."""

    ok: bool
    reasons: tuple[str, ...]  # why it was refused (empty when ok)
    seconds: float
    assumptions: tuple[str, ...]  # "Axioms: ax", "Section Variables: n", ... of the checked lemma
    complete: bool = True  # False: the lemma still ends in Admitted (other admits remain)
    warnings: tuple[str, ...] = ()
    patched: bytes | None = field(default=None, repr=False)  # the exact file bytes checked (write these)
    depends_on_open: tuple[str, ...] = ()  # the project's own open (admitted) lemmas the proof uses, as Coq prints them


class FileVerdict(tuple[Verdict, ...]):
    """The verdicts of one `verify_file` call, one per patch in order; `ok` when every one is ok, and then
    `patched` holds the exact bytes that were checked (write those)."""

    patched: bytes | None = None

    @property
    def ok(self) -> bool:
        """Every replacement was accepted."""
        return len(self) > 0 and all(v.ok for v in self)

    @property
    def reasons(self) -> tuple[str, ...]:
        """All refusal reasons, without repeats."""
        return tuple(dict.fromkeys(r for v in self for r in v.reasons))


# --------------------------------------------------------------------------------------------------
# Print Assumptions output

_UNSAFE = re.compile(r"^(\S+) (is assumed to be \w+|relies on an unsafe hierarchy)\.?\s*$")


def parse_assumptions(text: str) -> tuple[bool, list[tuple[str, str, str | None]]]:
    """Parse `Print Assumptions` output: (closed, [(header, name, unsafe description or None)])."""
    if "Closed under the global context" in text:
        return True, []
    entries: list[tuple[str, str, str | None]] = []
    header = "?"
    for line in text.splitlines():
        if not line.strip() or line[0].isspace() or line.startswith(":"):
            continue
        stripped = line.strip()
        if stripped.endswith(":") and " : " not in stripped:
            header = stripped[:-1]
            continue
        m = _UNSAFE.match(stripped)
        if m:
            entries.append((header, m.group(1), m.group(2)))
            continue
        m = re.match(r"^([^\s:]+)", stripped)
        if m:
            entries.append((header, m.group(1), None))
    return False, entries


# --------------------------------------------------------------------------------------------------
# assembling checked copies


def _type_check(key: str, lemma: str) -> bytes:
    return (
        f'\nSet Printing All.\nRedirect "{_TAG}_ty_{key}" Check @{lemma}.\nUnset Printing All.\n'
    ).encode()


def _assumption_check(key: str, lemma: str) -> bytes:
    return f'\nRedirect "{_TAG}_pa_{key}" Print Assumptions {lemma}.\n'.encode()


def _norm(text: str) -> str:
    return " ".join(text.split())


# --------------------------------------------------------------------------------------------------
# the original file's reference data (cached per digest)


@dataclass
class _Original:
    sentences: frozenset[tuple[int, int]]
    error_offset: int | None  # where the original stops compiling (None: compiles)
    error: str | None
    types: dict[int, str]  # closer_end -> Check @L output
    outer_types: dict[int, str]  # closer_end -> Check @L output after the Sections close
    anchors: frozenset[tuple[int, str, int | None]]
    failed: str | None = None  # the original could not be compiled for checking at all


_CacheKey = tuple[object, ...]
_CACHE: "OrderedDict[_CacheKey, _Original]" = OrderedDict()
_BASELINE: "OrderedDict[_CacheKey, frozenset[str] | None]" = OrderedDict()
_LOCK = threading.Lock()
_CACHE_SIZE = 32


def clear_cache() -> None:
    """Forget cached compiles of original files."""
    with _LOCK:
        _CACHE.clear()
        _BASELINE.clear()


def _cache_put(cache: "OrderedDict[_CacheKey, Any]", key: _CacheKey, value: object) -> None:
    with _LOCK:
        cache[key] = value
        cache.move_to_end(key)
        while len(cache) > _CACHE_SIZE:
            cache.popitem(last=False)


def _compile(source: bytes, goal: Goal, timeout: float) -> CoqcRun:
    return run_coqc(source, goal.file.stem, goal.env.args, timeout=timeout, load_dir=goal.env.workdir)


def _original_info(
    original: bytes, digest: str, goals: Sequence[Goal], timeout: float, header: bytes = b""
) -> _Original:
    g0 = goals[0]
    ckey = (digest, g0.env.args, str(g0.env.workdir), g0.file.stem, header)
    wanted = frozenset((g.closer_end, g.lemma, g.section_end) for g in goals)
    with _LOCK:
        cached = _CACHE.get(ckey)
    if cached is not None and wanted <= cached.anchors:
        return cached
    anchors = requested = wanted | (cached.anchors if cached is not None else frozenset())
    outer_checks = True
    while True:
        pieces = [Piece(0, 0, header, "header")] if header else []
        for closer_end, lemma, section_end in anchors:
            pieces.append(Piece(closer_end, closer_end, _type_check(str(closer_end), lemma), f"ty{closer_end}"))
            if section_end is not None and outer_checks:
                pieces.append(
                    Piece(section_end, section_end, _type_check(f"o{closer_end}", lemma), f"oty{closer_end}")
                )
        asm = Assembly(original, pieces)
        run = _compile(asm.source, g0, timeout)
        if run.timed_out:
            return _Original(
                frozenset(), None, None, {}, {}, frozenset(), failed=f"coqc timed out after {timeout:g} s"
            )
        loc = None
        if run.error is not None and run.error.start is not None:
            loc = asm.locate(run.error.start)
        if outer_checks and loc is not None and (loc[0] or "").startswith("oty"):
            outer_checks = False  # the name is not visible after its Section: skip those checks
            continue
        if loc is not None and loc[0] is not None and loc[0].startswith("ty"):
            bad = int(loc[0][2:])  # `Check @L` itself fails: this lemma cannot be checked
            anchors = frozenset(a for a in anchors if a[0] != bad)
            continue
        break
    sentences = set()
    for s in run.sentences:
        sloc = asm.locate(s.start, s.end)
        if sloc is not None and sloc[0] is None:
            sentences.add((sloc[1], sloc[1] + s.end - s.start))
    error_offset = error = None
    if run.error is not None:
        error = run.error.message
        if loc is None:
            error_offset = len(original)  # no location, or at the very end of the file
        elif loc[0] == "header":
            return _Original(frozenset(), None, error, {}, {}, frozenset(), failed=f"the header fails: {error}")
        elif loc[0] is not None:
            return _Original(frozenset(sentences), None, error, {}, {}, frozenset(), failed=f"checks failed: {error}")
        else:
            error_offset = loc[1]
    types: dict[int, str] = {}
    outer: dict[int, str] = {}
    for closer_end, _, _ in anchors:
        t = run.outputs.get(f"{_TAG}_ty_{closer_end}")
        if t is not None:
            types[closer_end] = _norm(t)
        t = run.outputs.get(f"{_TAG}_ty_o{closer_end}")
        if t is not None:
            outer[closer_end] = _norm(t)
    info = _Original(frozenset(sentences), error_offset, error, types, outer, requested)
    _cache_put(_CACHE, ckey, info)
    return info


# --------------------------------------------------------------------------------------------------
# lexical and sentence-level rules

_FORBIDDEN_WORD = re.compile(r"(?<![\w'])(admit|give_up|Admitted|Abort)(?![\w'])|\w*_no_check\b")
_TACTIC_CAPITALISED = ("Unshelve",)


def _lexical_problems(goal: Goal, text: str) -> list[str]:
    if not lexically_balanced(text):
        return ["the replacement has an unclosed comment or string"]
    masked = mask_code(text)
    m = _FORBIDDEN_WORD.search(masked)
    if m:
        return [f"the replacement uses {m.group(0)!r}"]
    body = strip_comments(text).strip()
    if goal.kind == "admit":
        block = masked.strip()
        depth, early = 0, False
        for k, c in enumerate(block):
            depth += {"{": 1, "}": -1}.get(c, 0)
            if depth <= 0 and k < len(block) - 1:
                early = True
                break
        if early or depth != 0 or not (block.startswith("{") and block.endswith("}")):
            return ["an admit replacement must be one { ... } block"]
        m = re.search(r"(?<![\w'.])(Qed|Defined|Save|Proof)(?![\w'])", masked)
        if m:
            return [f"an admit replacement may not use {m.group(1)}"]
    elif goal.kind == "admitted":
        if not re.search(r"(?<![\w'.])(Qed|Defined)\s*\.$", body):
            return ["the replacement must end with Qed. or Defined."]
    else:
        return [f"cannot verify goals of kind {goal.kind!r}"]
    return []


def _sentence_problems(goal: Goal, texts: Sequence[str]) -> list[str]:
    if not texts:
        return ["the replacement holds no sentence"]
    problems: list[str] = []
    body = list(texts)
    if goal.kind == "admitted":
        last = head_text(body[-1])[0]
        if last not in ("Qed.", "Defined."):
            problems.append("the proof does not end with Qed. or Defined.")
        body = body[:-1]
        if body and classify(body[0]).kind == "proof":
            if goal.has_proof_keyword:
                problems.append("a second Proof sentence")
            body = body[1:]
    else:
        depth = 0
        for k, t in enumerate(body):
            s = head_text(t)[0]
            if s.endswith("{"):
                depth += 1
            elif s == "}":
                depth -= 1
            if depth <= 0 and k < len(body) - 1:
                problems.append("an admit replacement must be one { ... } block")
                break
        if head_text(body[0])[0] != "{" or head_text(body[-1])[0] != "}" or depth != 0:
            if not problems:
                problems.append("an admit replacement must be one { ... } block")
    for t in body:
        info = classify(t)
        if info.kind == "bullet":
            continue
        s = " ".join(strip_comments(t).split())  # not head_text: `Time`/`Redirect` prefixes count
        word = re.split(r"[\s;(\[]", s, maxsplit=1)[0].rstrip(".")
        qualified = "." in word  # `Z.swap_greater.`: an Ltac of a module; commands are never qualified
        capitalised = s[:1].isupper() and not qualified and word not in _TACTIC_CAPITALISED
        if info.kind != "other" or capitalised or s.startswith("#"):
            problems.append(f"not a tactic: {_norm(t)[:60]!r}")
            break
    return problems


# --------------------------------------------------------------------------------------------------
# assumption policy


def _visible(printed_prefix: list[str], full_path: list[str], here: list[str]) -> bool:
    """True when a name printed with qualifier `printed_prefix` can denote an object whose module path
    (file module first) is `full_path`, as seen from module path `here` without any Import."""
    k = len(printed_prefix)
    if k > len(full_path) or (k and full_path[len(full_path) - k :] != printed_prefix):
        return False
    hidden = full_path[: len(full_path) - k]
    return here[: len(hidden)] == hidden


def _allowed(name: str, goal: Goal, stem: str) -> bool:
    comps = name.split(".")
    here = [stem, *goal.module_path]
    for q in goal.assumable:
        qc = q.split(".")
        if qc[-1] == comps[-1] and _visible(comps[:-1], [stem, *qc[:-1]], here):
            return True
    if len(comps) >= 2 and comps[0] in goal.functor_params:
        return True
    for q in goal.assumable_modules:
        qc = q.split(".")
        for i, c in enumerate(comps[:-1]):
            if c == qc[-1] and _visible(comps[:i], [stem, *qc[:-1]], here):
                return True
    return False


def _allowed_path(path: str, goal: Goal, stem: str, allowed: frozenset[str]) -> bool:
    """Policy for an axiom whose full path `Locate` gave."""
    if path in allowed:
        return True
    comps = path.split(".")
    if comps[0] in goal.functor_params:
        return True
    if comps[0] == stem and len(comps) > 1:
        q = ".".join(comps[1:])
        return q in goal.assumable or any(q.startswith(m + ".") for m in goal.assumable_modules)
    return False


def _judge(
    entries: list[tuple[str, str, str | None]],
    goal: Goal,
    baseline: frozenset[str] | None,
    paths: dict[str, str],
    allowed: frozenset[str],
    project_open: frozenset[str] | None = None,
) -> tuple[list[str], list[str], list[str]]:
    """(problems, tolerated names, open lemmas used) of Print Assumptions entries under the policy of the module
    docstring; `paths` maps printed names to the full paths `Locate` gave (when resolved). `project_open`: None when
    open lemmas are refused (strict); else the full paths of other project files' admitted lemmas among the
    entries — those, and the lemmas this file closes by Admitted before the goal, are open dependencies. An open
    lemma is recognised only by its full path, never by its short name alone."""
    problems: list[str] = []
    tolerated: list[str] = []
    opens: list[str] = []
    stem = goal.file.stem
    admitted_q = set(goal.admitted_before)
    admitted = {a.split(".")[-1] for a in goal.admitted_before} | {goal.lemma}
    for header, name, unsafe in entries:
        if name.split(".")[-1].startswith(HOLE_PREFIX):
            continue
        path = paths.get(name)
        if unsafe:
            problems.append(f"{name} {unsafe}")
        elif header == "Section Variables":
            continue
        elif header == "Axioms" and (_allowed(name, goal, stem) or name in allowed):
            continue
        elif header == "Axioms" and path is not None and _allowed_path(path, goal, stem, allowed):
            continue
        elif baseline is not None and name in baseline:
            tolerated.append(name)
        elif header == "Axioms" and project_open is not None and path is not None and (
            (path.startswith(stem + ".") and path[len(stem) + 1 :] in admitted_q) or path in project_open
        ):
            opens.append(name)
        elif header == "Axioms" and (
            (path is not None and path.startswith(stem + ".") and path[len(stem) + 1 :] in admitted_q)
            or (path is None and name.split(".")[-1] in admitted)
        ):
            problems.append(f"uses the admitted lemma {name}")
        elif header == "Axioms":
            where = f" ({path})" if path and path != name else ""
            problems.append(
                f"uses the axiom {name}{where}, which this file does not declare before the lemma "
                "(a library axiom, or an axiom or admitted lemma of another file)"
            )
        else:
            problems.append(f"unexpected assumption {header}: {name}")
    return problems, tolerated, opens


def _describe(entries: list[tuple[str, str, str | None]]) -> tuple[str, ...]:
    return tuple(
        f"{h}: {n}" + (f" ({u})" if u else "")
        for h, n, u in entries
        if not n.split(".")[-1].startswith(HOLE_PREFIX)
    )


def _hole_pieces(goal: Goal, k: int, skip: set[int]) -> list[Piece]:
    """Turn a proof's remaining bare admits into uses of a local hole axiom and its closer into Qed."""
    ax = f"{HOLE_PREFIX}{k}__"
    pieces = [
        Piece(goal.statement_start, goal.statement_start,
               f"Polymorphic Axiom {ax} : forall P : Type, P.\n".encode(), f"hole-ax{k}"),
    ]  # fmt: skip
    for a, b in goal.holes:
        if a not in skip:
            pieces.append(Piece(a, b, f"exact ({ax} _).".encode(), f"hole{k}"))
    pieces.append(Piece(goal.closer_start, goal.closer_end, b"Qed.", f"hole-qed{k}"))
    pieces.append(Piece(goal.closer_end, goal.closer_end, _assumption_check(f"h{k}", goal.lemma), f"hole-pa{k}"))
    return pieces


def _baseline(original: bytes, goal: Goal, timeout: float, header: bytes = b"") -> frozenset[str] | None:
    """Assumptions of the original proof of an admit goal with its holes filled by an axiom (None: the
    proof cannot be closed that way)."""
    if goal.opaque_holes or not goal.holes:
        return None
    key = (goal.file_digest, goal.env.args, str(goal.env.workdir), goal.closer_start, header)
    with _LOCK:
        if key in _BASELINE:
            return _BASELINE[key]
    pieces = _hole_pieces(goal, 0, set())
    if header:
        pieces.append(Piece(0, 0, header, "header"))
    asm = Assembly(original, pieces, truncate=goal.closer_end)
    run = _compile(asm.source, goal, timeout)
    text = run.outputs.get(f"{_TAG}_pa_h0")
    result: frozenset[str] | None = None
    if text is not None:
        _, entries = parse_assumptions(text)
        result = frozenset(n for _, n, u in entries if u is None and not n.split(".")[-1].startswith(HOLE_PREFIX))
    if not run.timed_out:
        _cache_put(_BASELINE, key, result)
    return result


# --------------------------------------------------------------------------------------------------
# the checks


def _headers(header: str | Sequence[str]) -> list[str]:
    return [header] if isinstance(header, str) else list(header)


def prime(
    goals: Sequence[Goal],
    *,
    original: bytes | None = None,
    timeout: float = DEFAULT_VERIFY_TIMEOUT,
    header: str | Sequence[str] = "",
) -> None:
    """Compile the original file once with the reference checks of all these goals (same file), so that
    later `verify` calls for any of them need one compile each instead of two. Optional; errors are ignored
    here and reported by `verify`."""
    goals = [g for g in goals if g.backend == "coq" and g.lemma]
    if not goals:
        return
    try:
        data = original if original is not None else goals[0].file.read_bytes()
        block = header_block(data, _headers(header))
    except (OSError, ValueError):
        return
    digest = hashlib.sha256(data).hexdigest()
    goals = [g for g in goals if g.file_digest == digest and g.file == goals[0].file]
    if goals:
        _original_info(data, digest, goals, timeout, block)


def find_and_prime(
    path: Path, *, source: bytes | None = None, project: CoqProject | None = None,
    timeout: float = DEFAULT_FIND_TIMEOUT,
) -> FileGoals:
    """`goals.find_coq_goals`, whose one coqc run also records the original's reference checks (rule 4) for the
    goals it finds, so that verifying a proof of any of them needs only the compile of the patched file.

    Which lemmas to check is guessed before Coq runs (`coq_source.guess_admitted`); a check is kept only where
    the goals Coq then yields confirm it (same `Admitted.` offset, same lemma), exactly as `_original_info`
    would have placed it. A guessed check that fails (the name is not what the guess thought) is dropped and the
    file compiled again without it. Goals inside Sections (whose checks also need the type after `End`) and any
    goal whose guess was missing are left to `_original_info` at verification time.

    Raises:
        as `goals.find_coq_goals`.
    """
    path = Path(path).absolute()
    source = read_source(path, source)
    if project is None:
        project = coq_project_for(path)
    guesses = dict(guess_admitted(source))
    while True:
        asm = Assembly(source, [Piece(end, end, _type_check(str(end), name) + admitted_probe(str(end), name),
                                      f"ty{end}") for end, name in guesses.items()])
        run = run_coqc(asm.source, path.stem, project.args, timeout=timeout, load_dir=project.root)
        loc = asm.locate(run.error.start) if run.error is not None and run.error.start is not None else None
        if loc is not None and loc[0] is not None and loc[0].startswith("ty"):
            del guesses[int(loc[0][2:])]
            continue
        break
    # the run in the original's offsets: its own sentences and error only
    sentences = []
    for s in run.sentences:
        sloc = asm.locate(s.start, s.end)
        if sloc is not None and sloc[0] is None:
            sentences.append(Sentence(sloc[1], sloc[1] + s.end - s.start, s.text))
    error = run.error
    if error is not None:
        if loc is None:
            error = CoqcError(error.message, None, None, None)
        else:
            line = byte_to_position(source, loc[1])[0]
            error = CoqcError(error.message, line, loc[1], loc[1] + (error.end or error.start or 0) - (error.start or 0))
    mapped = replace(run, sentences=tuple(sentences), error=error)
    found = goals_from_run(path, source, mapped, project, timeout)
    # what each placeholder stands for (proposition or data): the lemmas guessed above were asked in this run
    decided = [remember_sort(g, read_admitted_probe(run.outputs, str(g.closer_end)))
               if g.kind == "admitted" and guesses.get(g.closer_end) == g.lemma else g for g in found.goals]
    found = replace(found, goals=decide_sorts(source, decided, timeout=timeout))
    checked = [g for g in found.goals if g.section_end is None and guesses.get(g.closer_end) == g.lemma
               and f"{_TAG}_ty_{g.closer_end}" in run.outputs]
    if checked and not run.timed_out:
        g0 = checked[0]
        types = {g.closer_end: _norm(run.outputs[f"{_TAG}_ty_{g.closer_end}"]) for g in checked}
        anchors = frozenset((g.closer_end, g.lemma, None) for g in checked)
        error_offset = None if error is None else (len(source) if error.start is None else error.start)
        info = _Original(frozenset((s.start, s.end) for s in sentences), error_offset,
                         None if error is None else error.message, types, {}, anchors)
        _cache_put(_CACHE, (found.digest, g0.env.args, str(g0.env.workdir), g0.file.stem, b""), info)
    return found


def verify(
    goal: Goal,
    replacement: str,
    *,
    original: bytes | None = None,
    timeout: float = DEFAULT_VERIFY_TIMEOUT,
    header: str | Sequence[str] = "",
    allowed_axioms: Collection[str] = (),
    allow_open: bool = False,
) -> Verdict:
    """Check one replacement for one goal (see the module docstring). "No" is a Verdict, never an exception.

    `header`: import line(s) the proof needs, written at the top of the file (see `patch.apply_patches`).
    `allowed_axioms`: full names (as `Locate` prints them, e.g. "Coq.Logic.Classical_Prop.classic") of
    library axioms the user accepts besides the file's own declarations.
    `allow_open`: accept a proof that uses the project's own open lemmas (closed by `Admitted` in this file
    before the goal, or in another file of the project); they are listed in `Verdict.depends_on_open`.

    Raises:
        ProverUnavailable: coqc is not installed.
    """
    return verify_file(
        goal.file,
        [(goal, replacement)],
        original=original,
        timeout=timeout,
        header=header,
        allowed_axioms=allowed_axioms,
        allow_open=allow_open,
    )[0]


@dataclass
class _State:
    reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    assumptions: tuple[str, ...] = ()
    complete: bool = True
    opens: tuple[str, ...] = ()  # the project's open lemmas the proof uses


def verify_file(
    path: Path,
    patches: Sequence[tuple[Goal, str]] | bytes,
    goals: Sequence[Goal] | Sequence[tuple[Goal, str]] | None = None,
    *,
    original: bytes | None = None,
    timeout: float = DEFAULT_VERIFY_TIMEOUT,
    header: str | Sequence[str] = "",
    allowed_axioms: Collection[str] = (),
    allow_open: bool = False,
) -> FileVerdict:
    """Check several replacements of one file with one compile; one Verdict per patch, in order.

    All patches that pass the text checks are compiled together: if the compile fails, each of them is
    refused (the one whose text failed names the error; the others say they were not checked). Write
    `result.patched` only when `result.ok`; otherwise verify the accepted subset again.

    Also accepted: `verify_file(path, patched_bytes, goals)`, where `patched_bytes` is what
    `apply_patches(original, pairs, headers=...)` produced and `goals` are the goals (or the pairs): the
    replacements and header lines are read back out of the bytes, verified as above, and the result is ok
    only if verification reproduces exactly `patched_bytes`.

    Raises:
        ProverUnavailable: coqc is not installed.
    """
    allowed = frozenset(allowed_axioms)
    if isinstance(patches, (bytes, bytearray)):
        return _verify_bytes(
            Path(path), bytes(patches), goals or (), original=original, timeout=timeout, allowed=allowed,
            allow_open=allow_open,
        )
    t0 = time.monotonic()
    path = Path(path).absolute()
    states = [_State() for _ in patches]

    def finish(patched: bytes | None = None) -> FileVerdict:
        secs = time.monotonic() - t0
        result = FileVerdict(
            Verdict(
                ok=not st.reasons,
                reasons=tuple(st.reasons),
                seconds=secs,
                assumptions=st.assumptions,
                complete=st.complete,
                warnings=tuple(dict.fromkeys(st.warnings)),
                patched=patched if not st.reasons else None,
                depends_on_open=st.opens,
            )
            for st in states
        )
        result.patched = patched if result.ok else None
        return result

    if not patches:
        return finish()
    if original is None:
        try:
            original = path.read_bytes()
        except OSError as exc:
            for st in states:
                st.reasons.append(f"cannot read {path}: {exc}")
            return finish()
    digest = hashlib.sha256(original).hexdigest()
    headers = _headers(header)
    try:
        block = header_block(original, headers)
    except ValueError as exc:
        for st in states:
            st.reasons.append(str(exc))
        return finish()

    # 1. the goals belong to this very file; text-level rules
    for (goal, text), st in zip(patches, states):
        if goal.backend != "coq":
            st.reasons.append(f"cannot verify {goal.backend} goals")
        elif Path(goal.file).absolute() != path:
            st.reasons.append(f"the goal belongs to {goal.file}, not {path}")
        elif goal.file_digest != digest:
            st.reasons.append("file changed since the goal was found")
        elif not goal.lemma:
            st.reasons.append("the goal has no lemma name to check")
        elif not goal.fillable:
            st.reasons.append(f"the placeholder's type is not a proposition ({goal.sort}): a definition's body is "
                              "the user's to write")
        else:
            st.reasons.extend(_lexical_problems(goal, text))
    starts: dict[int, int] = {}
    for i, (goal, _) in enumerate(patches):
        if goal.start in starts and not states[i].reasons:
            states[i].reasons.append("two replacements for the same placeholder")
        starts.setdefault(goal.start, i)
    live = [i for i, st in enumerate(states) if not st.reasons]
    if not live:
        return finish()
    live_goals = [patches[i][0] for i in live]

    # 2. reference data of the original (compiled under the same header)
    info = _original_info(original, digest, live_goals, timeout, block)
    if info.failed:
        for i in live:
            states[i].reasons.append(f"could not check the original file: {info.failed}")
        return finish()
    for i in live:
        if patches[i][0].closer_end not in info.types:
            states[i].reasons.append("the original file does not compile up to this lemma")
    live = [i for i in live if not states[i].reasons]
    if not live:
        return finish()

    # 3. the patched file, written form; proofs that cannot end in Qed keep Admitted
    keep: set[int] = set()
    for _ in range(len(live) + 1):
        sub = [patches[i] for i in live]
        try:
            edits = plan_edits(original, sub, keep_admitted=keep, headers=headers)
        except ValueError as exc:
            for i in live:
                states[i].reasons.append(str(exc))
            return finish()
        ctx = _Ctx(original, block, tuple(edits), timeout, allowed, allow_open)
        retry = _check_written(ctx, patches, live, info, states)
        if retry is None or retry in keep:
            break
        keep.add(retry)
        for i in live:
            states[i] = _State()
    if any(states[i].reasons for i in live):
        return finish()
    patched = original
    for e in reversed(edits):
        patched = patched[: e.start] + e.text + patched[e.end :]
    for i in live:  # the statement (and everything before the first placeholder) is byte-identical
        g = patches[i][0]
        shift = sum(len(e.text) - (e.end - e.start) for e in edits if e.end <= g.statement_start)
        stmt = original[g.statement_start : g.statement_end]
        assert patched[g.statement_start + shift : g.statement_end + shift] == stmt
    first = min(e.start for e in edits if e.what != "header")
    assert patched[len(block) : len(block) + first] == original[:first]
    # 4. kernel check of proofs that keep Admitted
    _check_incomplete(ctx, patches, live, states)
    return finish(patched)


def _segment_pattern(original: bytes, a: int, b: int, closers: dict[int, int]) -> bytes:
    """Regex for original[a:b] where admit-proof closers inside may have become Qed./Defined."""
    out: list[bytes] = []
    pos = a
    for cs in sorted(c for c in closers if a <= c and closers[c] <= b):
        out.append(re.escape(original[pos:cs]))
        out.append(rb"(?:Admitted\.|Qed\.|Defined\.)")
        pos = closers[cs]
    out.append(re.escape(original[pos:b]))
    return b"".join(out)


def _extract(
    original: bytes, patched: bytes, goals: Sequence[Goal]
) -> tuple[list[str], list[tuple[Goal, str]]] | None:
    """Read (header lines, [(goal, replacement)]) back out of bytes made by `apply_patches`."""
    gs = sorted(goals, key=lambda g: g.start)
    closers = {g.closer_start: g.closer_end for g in gs if g.kind == "admit"}
    bounds = [0, *(x for g in gs for x in (g.start, g.end)), len(original)]
    pats = [
        re.compile(b"(?=(" + _segment_pattern(original, bounds[2 * k], bounds[2 * k + 1], closers) + b"))", re.S)
        for k in range(len(gs) + 1)
    ]

    def walk(i: int, pos: int) -> list[tuple[int, int]] | None:
        """Replacement i starts at pos; find where segment i+1 continues."""
        last = i + 1 == len(gs)
        for m in pats[i + 1].finditer(patched, pos):
            end = m.start() + len(m.group(1))
            if last and end != len(patched):
                continue
            rest = [] if last else walk(i + 1, end)
            if rest is not None:
                return [(pos, m.start()), *rest]
        return None

    for m in pats[0].finditer(patched):
        h = m.start()
        try:
            lines = patched[:h].decode("utf-8").splitlines()
        except UnicodeDecodeError:
            continue
        if (h and not patched[:h].endswith(b"\n")) or not all(HEADER_LINE.match(x.strip()) for x in lines):
            continue
        after = m.start() + len(m.group(1))
        spans = walk(0, after) if gs else ([] if after == len(patched) else None)
        if spans is None:
            continue
        try:
            pairs = [(g, patched[a:b].decode("utf-8")) for g, (a, b) in zip(gs, spans)]
        except UnicodeDecodeError:
            return None
        return [x.strip() for x in lines], pairs
    return None


def _verify_bytes(
    path: Path,
    patched: bytes,
    goals: Sequence[Goal] | Sequence[tuple[Goal, str]],
    *,
    original: bytes | None,
    timeout: float,
    allowed: frozenset[str],
    allow_open: bool = False,
) -> FileVerdict:
    """`verify_file(path, patched_bytes, goals)`: see `verify_file`."""
    t0 = time.monotonic()
    bare = [x[0] if isinstance(x, tuple) else x for x in goals]

    def refuse(reason: str) -> FileVerdict:
        return FileVerdict(Verdict(False, (reason,), time.monotonic() - t0, ()) for _ in bare)

    if original is None:
        try:
            original = Path(path).read_bytes()
        except OSError as exc:
            return refuse(f"cannot read {path}: {exc}")
    if any(g.file_digest != hashlib.sha256(original).hexdigest() for g in bare):
        return refuse("file changed since the goal was found")
    found = _extract(original, patched, bare)
    if found is None:
        return refuse("the patched bytes are not these goals' placeholders replaced (and header lines added)")
    headers, pairs = found
    given = {id(x[0]): x[1] for x in goals if isinstance(x, tuple)}
    for g, text in pairs:
        if id(g) in given and given[id(g)] != text:
            return refuse(f"the patched bytes do not hold the given replacement for {g.lemma}")
    order = {id(g): k for k, (g, _) in enumerate(pairs)}
    result = verify_file(path, pairs, original=original, timeout=timeout, header=headers, allowed_axioms=allowed,
                         allow_open=allow_open)
    if result.ok and result.patched != patched:
        return refuse("verification produced other bytes than the patched file (a proof keeps Admitted?)")
    out = FileVerdict(result[order[id(g)]] for g in bare)
    out.patched = result.patched
    return out


def _edit_tag(e: Edit, live: list[int]) -> str:
    if e.what == "header":
        return "header"
    if e.what == "close":
        return f"close{e.start}"
    assert e.patch is not None
    return f"patch{live[e.patch]}"


def _check_written(
    ctx: _Ctx, patches: Sequence[tuple[Goal, str]], live: list[int], info: _Original, states: list[_State]
) -> int | None:
    """Compile the written form with checks; fill `states`. Returns a closer offset to keep Admitted and
    retry with, when the error is a converted `Qed` (the proof has goals outside its admits)."""
    original, edits, timeout = ctx.original, ctx.edits, ctx.timeout
    closed = {e.start for e in edits if e.what == "close"}
    pieces = [Piece(e.start, e.end, e.text, _edit_tag(e, live)) for e in edits]
    proofs: dict[int, list[int]] = {}
    for i in live:
        proofs.setdefault(patches[i][0].closer_end, []).append(i)
    complete: dict[int, bool] = {}
    for closer_end, idxs in proofs.items():
        g = patches[idxs[0]][0]
        complete[closer_end] = g.kind == "admitted" or g.closer_start in closed
        pieces.append(Piece(closer_end, closer_end, _type_check(str(closer_end), g.lemma), f"ty{closer_end}"))
        if g.kind == "admitted":  # Coq asked once more: the lemma's type is a proposition
            pieces.append(Piece(closer_end, closer_end, admitted_probe(str(closer_end), g.lemma), f"so{closer_end}"))
        else:  # ... the goal each admit stood for is a proposition
            for i in idxs:
                gi = patches[i][0]
                pieces.append(Piece(gi.start, gi.start, admit_probe(str(gi.start)), f"sa{i}"))
        if complete[closer_end]:
            pieces.append(
                Piece(closer_end, closer_end, _assumption_check(str(closer_end), g.lemma), f"pa{closer_end}")
            )
        if g.section_end is not None and closer_end in info.outer_types:
            pieces.append(
                Piece(g.section_end, g.section_end, _type_check(f"o{closer_end}", g.lemma), f"oty{closer_end}")
            )
        if not complete[closer_end]:
            for i in idxs:
                gi = patches[i][0]
                pieces.append(Piece(gi.end, gi.end, b"\nGuarded.\n", f"guard{i}"))
    # pieces are sorted by (start, end), stably: a replacement ending at X comes before the checks inserted
    # at X, and those keep the order they were added in
    asm = Assembly(original, pieces)
    run = _compile(asm.source, patches[live[0]][0], timeout)

    def refuse_all(msg: str) -> None:
        for i in live:
            states[i].reasons.append(msg)

    if run.timed_out:
        refuse_all(f"coqc timed out after {timeout:g} s")
        return None
    if run.error is not None:
        err = run.error
        loc = asm.locate(err.start) if err.start is not None else None
        where = f"line {err.line}: " if err.line else ""
        tag: str | None
        if loc is None:
            if not (info.error_offset == len(original) and err.message == info.error):
                refuse_all(f"the patched file does not compile: {where}{err.message}")
                return None
            tag, opos = None, len(original)  # the original failed the same way, without a location
        else:
            tag, opos = loc
        if tag is None:
            if info.error_offset is None or opos < info.error_offset:
                line = byte_to_position(original, opos)[0]
                refuse_all(f"the patched file no longer compiles at line {line} of the original: {err.message}")
                return None
            # the original already stopped here: fine if all checks ran (verified below)
        elif tag == "header":
            refuse_all(f"the header does not compile: {err.message}")
            return None
        elif tag.startswith("patch"):
            bad = int(tag[5:])
            for i in live:
                if i == bad:
                    states[i].reasons.append(f"the proof fails: {err.message}")
                else:
                    states[i].reasons.append("not checked: another replacement in the same compile failed")
            return None
        elif tag.startswith("close"):
            if _INCOMPLETE in err.message:
                return int(tag[5:])
            refuse_all(f"the proof is rejected at Qed: {err.message}")
            return None
        elif tag.startswith("guard"):
            states[int(tag[5:])].reasons.append(f"the proof is not guarded: {err.message}")
            for i in live:
                if not states[i].reasons:
                    states[i].reasons.append("not checked: another replacement in the same compile failed")
            return None
        else:
            refuse_all(f"a check command failed ({tag}): {err.message}")
            return None

    # sentence structure: outside the edits, exactly the original's sentences
    limit = info.error_offset
    seen: dict[str, list[str]] = {}
    outside: set[tuple[int, int]] = set()
    for s in run.sentences:
        sloc = asm.locate(s.start, s.end)
        if sloc is None:
            refuse_all("a replacement is not a sequence of whole sentences")
            return None
        stag, spos = sloc
        if stag is None:
            outside.add((spos, spos + s.end - s.start))
        else:
            seen.setdefault(stag, []).append(s.text)
    replaced = [(e.start, e.end) for e in edits]
    reference = {
        r
        for r in info.sentences
        if (limit is None or r[0] < limit) and not any(a <= r[0] < b for a, b in replaced)
    }
    if limit is not None:
        outside = {r for r in outside if r[0] < limit}
    if outside != reference:
        refuse_all("the rest of the file is no longer cut into the same sentences")
        return None

    for i in live:
        goal, _ = patches[i]
        st = states[i]
        st.reasons.extend(_sentence_problems(goal, seen.get(f"patch{i}", [])))
        st.complete = complete[goal.closer_end]
        sort = read_admitted_probe(run.outputs, str(goal.closer_end)) if goal.kind == "admitted" \
            else read_admit_probe(run.stdout, str(goal.start))
        if sort != "prop":
            st.reasons.append(f"Coq does not confirm that the goal is a proposition ({sort})")
        ty = run.outputs.get(f"{_TAG}_ty_{goal.closer_end}")
        if ty is None:
            st.reasons.append("the type check did not run")
        elif _norm(ty) != info.types.get(goal.closer_end):
            st.reasons.append("the statement changed (Check @L differs from the original)")
        oty = run.outputs.get(f"{_TAG}_ty_o{goal.closer_end}")
        if oty is not None and _norm(oty) != info.outer_types.get(goal.closer_end):
            last_module = max((k for k, (kind, _) in enumerate(goal.scope) if kind != "section"), default=-1)
            inner = goal.scope[last_module + 1 :]
            sec = inner[0][1] if inner else ""
            st.warnings.append(
                f"the type of {goal.lemma} after End {sec} changes (the proof uses other section variables "
                "than the Admitted version): later files using it may need updating"
            )
        if st.complete:
            pa = run.outputs.get(f"{_TAG}_pa_{goal.closer_end}")
            if pa is None:
                st.reasons.append("Print Assumptions did not run")
                continue
            _, entries = parse_assumptions(pa)
            st.assumptions = _describe(entries)
            _apply_policy(ctx, goal, entries, st)
    return None


@dataclass(frozen=True)
class _Ctx:
    """What the policy needs besides the goal: to compile helper copies of the written file."""

    original: bytes
    header: bytes
    edits: tuple[Edit, ...]
    timeout: float
    allowed: frozenset[str]
    allow_open: bool = False


def _resolve(ctx: _Ctx, goal: Goal, names: Sequence[str]) -> dict[str, str]:
    """Full paths of printed names, by `Locate` right after the proof (written form, truncated there)."""
    pieces = [Piece(e.start, e.end, e.text, f"edit{k}") for k, e in enumerate(ctx.edits)]
    for k, n in enumerate(names):
        cmd = f'\nRedirect "{_TAG}_loc_{k}" Locate {n}.\n'.encode()
        pieces.append(Piece(goal.closer_end, goal.closer_end, cmd, f"loc{k}"))
    asm = Assembly(ctx.original, pieces, truncate=goal.closer_end)
    run = _compile(asm.source, goal, ctx.timeout)
    out: dict[str, str] = {}
    for k, n in enumerate(names):
        m = re.match(r"\s*(?:Constant|Inductive|Constructor)\s+(\S+)", run.outputs.get(f"{_TAG}_loc_{k}", ""))
        if m:
            out[n] = m.group(1)
    return out


def _apply_policy(ctx: _Ctx, goal: Goal, entries: list[tuple[str, str, str | None]], st: _State) -> None:
    problems, _, _ = _judge(entries, goal, None, {}, ctx.allowed)
    if not problems:
        return
    stem = goal.file.stem
    disputed = [
        n
        for h, n, u in entries
        if h == "Axioms" and u is None and not n.split(".")[-1].startswith(HOLE_PREFIX) and not _allowed(n, goal, stem)
    ]
    paths = _resolve(ctx, goal, disputed) if disputed else {}
    project_open = None
    if ctx.allow_open:
        project_open = frozenset(p for p in paths.values() if _admitted_in_project(p, goal, ctx.timeout))
    problems, _, opens = _judge(entries, goal, None, paths, ctx.allowed, project_open)
    if problems and goal.kind == "admit":
        base = _baseline(ctx.original, goal, ctx.timeout, ctx.header)
        if base is not None:
            problems, tolerated, opens = _judge(entries, goal, base, paths, ctx.allowed, project_open)
            if tolerated:
                st.warnings.append(
                    "the rest of the proof already depends on " + ", ".join(sorted(set(tolerated)))
                )
    st.reasons.extend(problems)
    st.opens = tuple(dict.fromkeys(opens))


_DECLARED: "OrderedDict[_CacheKey, frozenset[str]]" = OrderedDict()


def _admitted_in_project(path: str, goal: Goal, timeout: float) -> bool:
    """Whether the full name `path` is a lemma that another file of the goal's project closes by `Admitted`
    (Coq's own sentences of that file, compiled once per file digest; an axiom, a library's lemma or a name of
    the goal's own file is not)."""
    found = source_of_logical(path, goal.env.args, goal.env.workdir or goal.file.parent)
    if found is None or found[0].resolve() == Path(goal.file).resolve():
        return False
    file, inside = found
    try:
        data = file.read_bytes()
    except OSError:
        return False
    key = (hashlib.sha256(data).hexdigest(), str(file), goal.env.args)
    with _LOCK:
        admitted = _DECLARED.get(key)
    if admitted is None:
        run = run_coqc(data, file.stem, goal.env.args, timeout=timeout, load_dir=goal.env.workdir)
        if run.timed_out or run.error is not None:
            return False
        admitted = frozenset(declared_names([x.text for x in run.sentences]).admitted)
        _cache_put(_DECLARED, key, admitted)
    return ".".join(inside) in admitted


def _check_incomplete(ctx: _Ctx, patches: Sequence[tuple[Goal, str]], live: list[int], states: list[_State]) -> None:
    """Kernel-check proofs that keep `Admitted.`: remaining bare admits become a hole axiom, then Qed
    (one throw-away copy per proof, truncated after it)."""
    original, edits, timeout = ctx.original, ctx.edits, ctx.timeout
    pending: dict[int, list[int]] = {}
    for i in live:
        if not states[i].complete and not states[i].reasons:
            pending.setdefault(patches[i][0].closer_start, []).append(i)
    patch_pieces = [Piece(e.start, e.end, e.text, _edit_tag(e, live)) for e in edits if e.what != "close"]
    for k, (_, idxs) in enumerate(sorted(pending.items()), start=1):
        g = patches[idxs[0]][0]
        weak = "checked: the { } block closes its goal, guard condition, statement, tactics only"
        if g.opaque_holes:
            for i in idxs:
                states[i].warnings.append(f"not kernel-checked (the proof uses admit inside other tactics); {weak}")
            continue
        filled = {patches[i][0].start for i in idxs}
        asm = Assembly(original, [*patch_pieces, *_hole_pieces(g, k, filled)], truncate=g.closer_end)
        run = _compile(asm.source, g, timeout)
        pa = run.outputs.get(f"{_TAG}_pa_h{k}")
        if pa is not None:
            _, entries = parse_assumptions(pa)
            for i in idxs:
                states[i].assumptions = _describe(entries)
                _apply_policy(ctx, g, entries, states[i])
            continue
        if run.timed_out:
            for i in idxs:
                states[i].reasons.append(f"coqc timed out after {timeout:g} s (kernel check of the partial proof)")
            continue
        msg = run.error.message if run.error else "no output"
        loc = asm.locate(run.error.start) if run.error is not None and run.error.start is not None else None
        failed_at = loc[0] if loc else None
        if failed_at == f"hole-qed{k}" and _INCOMPLETE in msg:
            why = "the proof has goals outside its admits, so it cannot end in Qed"
        elif failed_at == f"hole-qed{k}" or (failed_at or "").startswith("patch"):
            for i in idxs:
                states[i].reasons.append(f"the proof is rejected by the kernel check: {msg}")
            continue
        else:
            why = "the check copy did not compile: " + msg
        for i in idxs:
            states[i].warnings.append(f"not kernel-checked ({why}); {weak}")
