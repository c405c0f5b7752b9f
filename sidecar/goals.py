"""Finding placeholders (Coq `Admitted.`/`admit.`, Lean `sorry`) in files: `Goal` and `GoalKey`.

Coq: the file is compiled (a copy, in a temporary folder) with `coqc -time -noglob` and the project's
load path; the `Chars a - b` lines give Coq's own sentence boundaries, so comments, strings, bullets,
notations and unicode need no parser of ours. A walk over those sentences then finds proofs (an opening
sentence such as `Lemma`, `Theorem`, `Instance`, `Definition ... .` without `:=`, ... up to its `Qed`,
`Defined`, `Admitted`, `Abort`) and their placeholders:

* kind "admitted": a named proof ending in `Admitted.` with no `admit`/`give_up` in it; the placeholder is
  the `Admitted.` sentence (tactics already written before it stay and are part of the environment);
* kind "admit": each bare `admit.` (or `give_up.`) sentence of a named proof ending in `Admitted.`.

Not reported: anonymous proofs (`Goal`, obligations, unnamed instances), proofs closed by `Abort`, proofs
that are still open where coqc stopped, and placeholders of proofs where `admit`/`give_up` occurs inside a
larger sentence (`split; admit.`): such a proof is neither an "admitted" goal nor has replaceable admits,
except its bare `admit.` sentences, which are reported (but filling them cannot finish that proof).

If coqc stops at an error, the goals of proofs closed before the error are returned with `FileGoals.error`;
an error before the first goal raises `SourceError`.

Every goal carries `sort`: whether its placeholder stands for a proposition ("prop", the only kind that is ever
searched or filled) or for data ("data": a definition's body, a function, a witness; "unknown": the prover could
not tell, treated as data). The prover decides, never a keyword: Coq in the goal-finding compile (`sorts.py`),
Lean through the REPL (`provers.lean`).

`GoalKey` hashes the backend, the kind, the canonical statement, a digest of the canonical text of every
sentence before the statement and, for the proof's own sentences before the placeholder, their canonical
text (canonical = comments removed, white space normalised): equal statements in equal environments get
equal keys across files and runs; an edit of an earlier proof or import changes the key. The project's
load-path arguments are not part of the key (absolute paths differ between machines).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Mapping, Sequence

from .coq_source import (
    CoqcRun,
    Sentence,
    SentenceInfo,
    byte_to_position,
    canonical_text,
    classify,
    run_coqc,
)
from .coqproject import CoqProject, coq_project_for
from .errors import ProverTimeout, SourceError
from .provers.base import Environment

if TYPE_CHECKING:
    from .provers.lean import LeanProver, ReplResponse

__all__ = [
    "Goal",
    "GoalKey",
    "FileGoals",
    "DeclaredNames",
    "find_goals",
    "find_coq_goals",
    "goals_from_run",
    "read_source",
    "find_lean_goals",
    "lean_goals_from_response",
    "goals_from_sentences",
    "declared_names",
    "DEFAULT_FIND_TIMEOUT",
    "GoalSort",
]

GoalKind = Literal["admitted", "admit", "sorry"]
# What the placeholder stands for, as the prover says (decided once, where goals are found): "prop" — its type is a
# proposition, so any proof will do and it may be filled; "data" — its type is a type of data (a definition's body, a
# function, an instance's fields, a witness): the user's to write, never searched, written or offered; "unknown" —
# the prover could not tell, treated as "data" (fail closed).
GoalSort = Literal["prop", "data", "unknown"]

DEFAULT_FIND_TIMEOUT = 300.0


@dataclass(frozen=True)
class GoalKey:
    """Canonical identity of a goal: same statement in the same environment gives the same key."""

    digest: str  # hex sha256 of (backend, normalized statement, normalized environment, kind, ordinal in proof)

    def __str__(self) -> str:
        return self.digest[:16]


@dataclass(frozen=True)
class Goal:
    """One placeholder to be replaced by a proof."""

    file: Path  # absolute path
    backend: str  # "coq" | "lean"
    kind: GoalKind
    lemma: str  # the enclosing lemma's name (as written, unqualified)
    statement: str  # the statement sentence's text, exactly as in the file
    line: int  # 1-based line of the placeholder
    column: int  # 0-based column (characters) of the placeholder
    start: int  # byte offset (UTF-8) of the placeholder's first byte in the file
    end: int  # byte offset one past the placeholder ("Admitted." / "admit." / "sorry")
    has_proof_keyword: bool  # Coq: a `Proof.` sentence already precedes the placeholder inside this lemma
    env: Environment
    key: GoalKey
    index: int  # position among the file's goals, 0-based
    statement_start: int = 0  # byte offsets of the statement sentence
    statement_end: int = 0
    end_line: int = 0  # 1-based line where the placeholder ends
    end_column: int = 0
    # --- added for verification and patching (Coq) ---
    file_digest: str = ""  # sha256 of the file bytes the offsets refer to
    keyword: str = ""  # the opening keyword: Lemma, Theorem, Definition, Instance, ...
    scope: tuple[tuple[str, str], ...] = ()  # enclosing (kind, name), outermost first;
    #                                          kind: section | module | functor | modtype
    functor_params: tuple[str, ...] = ()  # parameters of enclosing functors / module types
    closer_start: int = 0  # byte range of the sentence that closes this proof (`Admitted.`)
    closer_end: int = 0
    holes: tuple[tuple[int, int], ...] = ()  # byte ranges of every bare `admit.`/`give_up.` of this proof
    opaque_holes: bool = False  # this proof also uses admit/give_up inside larger sentences
    assumable: tuple[str, ...] = ()  # axioms/parameters/variables declared in this file before the statement,
    #                                  qualified by the module path inside the file ("M.ax")
    assumable_modules: tuple[str, ...] = ()  # `Declare Module` names declared before (qualified likewise)
    admitted_before: tuple[str, ...] = ()  # lemmas closed by Admitted before this statement (qualified likewise)
    module_path: tuple[str, ...] = ()  # enclosing modules (not sections), outermost first
    section_end: int | None = None  # byte offset just past the `End` of the outermost enclosing Section
    #                                 (inside the innermost module), None if no Section or coqc stopped first
    sort: GoalSort = "unknown"  # see GoalSort; only "prop" placeholders are goals to fill
    deps_digest: str = ""  # Coq: fingerprint of the project files the file loads (`build.dependency_digest`); a
    #                        proof verified under other dependencies is verified again

    @property
    def fillable(self) -> bool:
        """The placeholder's type is a proposition (as the prover decided): the only kind ever searched or filled."""
        return self.sort == "prop"

    @property
    def admitted_names(self) -> tuple[str, ...]:
        """Unqualified names of the lemmas closed by Admitted before this one, and this lemma itself."""
        return (*dict.fromkeys(a.split(".")[-1] for a in self.admitted_before), self.lemma)


@dataclass(frozen=True)
class FileGoals:
    """The goals of one file and, if the file stops compiling somewhere, where and why."""

    file: Path
    goals: tuple[Goal, ...]
    error: str | None = None  # e.g. "line 14: Error: No interpretation for string ..."
    error_line: int | None = None
    digest: str = ""  # sha256 of the file's bytes when read
    error_offset: int | None = None  # byte offset of the failing sentence, when known
    seconds: float = 0.0  # time spent compiling


@dataclass(frozen=True)
class DeclaredNames:
    """Names a Coq file declares without proof, each qualified by its module path inside the file."""

    assumptions: tuple[str, ...]  # Axiom/Parameter/Conjecture/Variable/Hypothesis/Context/Declare Instance
    modules: tuple[str, ...]  # Declare Module
    admitted: tuple[str, ...]  # lemmas closed by Admitted


def find_goals(path: Path, backend: str = "auto", *, timeout: float = DEFAULT_FIND_TIMEOUT) -> FileGoals:
    """Return the goals of one source file (dispatches on backend / file suffix).

    Raises:
        SourceError: the file cannot be read, or fails to compile before its first goal.
        ProjectConfigError: the project's _CoqProject is unusable.
        ProverUnavailable: coqc is missing, or the backend (Lean) is not implemented yet.
        ProverTimeout: coqc did not finish within `timeout` seconds.
    """
    path = Path(path)
    if backend == "auto":
        suffix = path.suffix
        backend = {".v": "coq", ".lean": "lean"}.get(suffix, "")
        if not backend:
            raise SourceError(f"unknown source kind {suffix!r} (expected .v or .lean)", path)
    if backend == "coq":
        return find_coq_goals(path, timeout=timeout)
    if backend == "lean":
        return find_lean_goals(path, timeout=timeout)
    raise SourceError(f"unknown backend {backend!r}", path)


def read_source(path: Path, source: bytes | None = None) -> bytes:
    """The file's bytes (`source` when given: e.g. an editor's unsaved text), checked to be UTF-8.

    Raises:
        SourceError: the file cannot be read or is not UTF-8.
    """
    if source is None:
        try:
            source = Path(path).read_bytes()
        except OSError as exc:
            raise SourceError(f"cannot read: {exc}", path) from exc
    try:
        source.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError(f"not UTF-8: {exc}", path) from exc
    return source


def find_coq_goals(
    path: Path, *, timeout: float = DEFAULT_FIND_TIMEOUT, project: CoqProject | None = None,
    source: bytes | None = None,
) -> FileGoals:
    """Compile a copy of a Coq file and return its goals (see the module docstring).

    `source` is the file's text when it is not (yet) what is on disk, e.g. an editor's unsaved buffer.

    Raises:
        SourceError, ProjectConfigError, ProverUnavailable, ProverTimeout: as `find_goals`.
    """
    path = Path(path).absolute()
    source = read_source(path, source)
    if project is None:
        project = coq_project_for(path)
    from .sorts import decide_sorts

    run = run_coqc(source, path.stem, project.args, timeout=timeout, load_dir=project.root)
    found = goals_from_run(path, source, run, project, timeout)
    return replace(found, goals=decide_sorts(source, found.goals, timeout=timeout))


def goals_from_run(path: Path, source: bytes, run: CoqcRun, project: CoqProject, timeout: float) -> FileGoals:
    """The goals of `source` (the file at `path`) from a coqc run of exactly those bytes (see the module
    docstring); `timeout` is the one the run had, for the message when it was reached.

    Raises:
        SourceError: the file fails to compile before its first goal.
        ProverTimeout: the run timed out.
    """
    if run.timed_out:
        raise ProverTimeout(f"{path}: coqc did not finish within {timeout:g} s")
    goals = goals_from_sentences(path, source, run.sentences, project)
    error = error_line = error_offset = None
    if run.error is not None:
        error_line = run.error.line
        error_offset = run.error.start
        error = (f"line {error_line}: " if error_line else "") + run.error.message
        if not goals:
            raise SourceError(
                run.error.message + _missing_dependency_hint(run.error.message), path, run.error.line
            )
    return FileGoals(
        file=path,
        goals=goals,
        error=error,
        error_line=error_line,
        digest=hashlib.sha256(source).hexdigest(),
        error_offset=error_offset,
        seconds=run.seconds,
    )


def _missing_dependency_hint(message: str) -> str:
    if "Cannot find a physical path" in message or "Cannot load" in message or "Unable to locate library" in message:
        return " (are the project's dependencies compiled? run make/dune first)"
    return ""


# --------------------------------------------------------------------------------------------------
# the walk over sentences


@dataclass
class _Scope:
    kind: str  # section | module | functor | modtype
    name: str
    params: tuple[str, ...]
    end_offset: int | None = None  # filled when its End is seen


@dataclass
class _Proof:
    opener: int
    info: SentenceInfo
    scopes: tuple[_Scope, ...]
    assumable: tuple[str, ...]
    modules: tuple[str, ...]
    admitted_before: tuple[str, ...]
    body: list[int] = field(default_factory=list)
    closer: int | None = None
    proof_keyword: bool = False


@dataclass
class _Walk:
    proofs: list[_Proof]
    declared: DeclaredNames


_SECTION_LOCAL = ("Variable", "Variables", "Hypothesis", "Hypotheses", "Context")


def _module_path(scopes: Sequence[_Scope]) -> tuple[str, ...]:
    return tuple(s.name for s in scopes if s.kind != "section")


def _walk(infos: Sequence[SentenceInfo], sentences: Sequence[Sentence]) -> _Walk:
    scopes: list[_Scope] = []
    stack: list[_Proof] = []
    done: list[_Proof] = []
    assumable: list[str] = []
    modules: list[str] = []
    admitted: list[str] = []
    loose: list[int] = []  # top-level sentences since the last structural one (for unknown openers)

    def qualify(name: str) -> str:
        return ".".join((*_module_path(scopes), name))

    def open_proof(i: int, info: SentenceInfo) -> None:
        stack.append(
            _Proof(i, info, tuple(scopes), tuple(assumable), tuple(modules), tuple(admitted))
        )

    for i, info in enumerate(infos):
        if stack:
            proof = stack[-1]
            if info.kind == "opener":
                open_proof(i, info)
            elif info.kind == "closer":
                proof.closer = i
                stack.pop()
                done.append(proof)
                if info.keyword == "Admitted" and proof.info.name:
                    admitted.append(qualify(proof.info.name))
            else:
                if info.kind == "proof" and not proof.body:
                    proof.proof_keyword = True
                proof.body.append(i)
            continue
        if info.kind == "opener":
            loose.clear()
            open_proof(i, info)
        elif info.kind == "closer":
            # a proof whose opening sentence we did not recognise: the latest vernacular-looking loose
            # sentence opened it; it stays anonymous (never reported, but its sentences are accounted for)
            cand = [j for j in loose if sentences[j].text.lstrip()[:1].isupper() and infos[j].kind == "other"]
            if cand:
                j = cand[-1]
                proof = _Proof(j, SentenceInfo("opener", infos[j].keyword), tuple(scopes), (), (), ())
                proof.body = [k for k in loose if k > j]
                proof.closer = i
                done.append(proof)
            loose.clear()
        elif info.kind == "section":
            loose.clear()
            scopes.append(_Scope("section", info.name, ()))
        elif info.kind == "module":
            loose.clear()
            scopes.append(_Scope(info.module_kind, info.name, info.names))
        elif info.kind == "end":
            loose.clear()
            for k in range(len(scopes) - 1, -1, -1):
                if scopes[k].name == info.name:
                    scopes[k].end_offset = sentences[i].end
                    del scopes[k:]
                    break
        elif info.kind == "decl":
            loose.clear()
            if info.keyword in _SECTION_LOCAL and any(s.kind == "section" for s in scopes):
                pass  # a section variable: Print Assumptions lists it under "Section Variables"
            elif info.module_kind == "declared":
                modules.extend(qualify(n) for n in info.names)
            else:
                assumable.extend(qualify(n) for n in info.names)
        else:
            loose.append(i)
    done.sort(key=lambda p: p.opener)
    return _Walk(done, DeclaredNames(tuple(assumable), tuple(modules), tuple(admitted)))


def declared_names(sentences: Sequence[str]) -> DeclaredNames:
    """Names declared without proof in a sequence of sentence texts (see `DeclaredNames`)."""
    sents = [Sentence(0, 0, t) for t in sentences]
    return _walk([classify(t) for t in sentences], sents).declared


def _digest(parts: Sequence[str]) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()


def goals_from_sentences(
    path: Path, source: bytes, sentences: Sequence[Sentence], project: CoqProject
) -> tuple[Goal, ...]:
    """The goals of a Coq file given the sentences coqc executed (pure; no process is started)."""
    texts = [s.text for s in sentences]
    infos = [classify(t) for t in texts]
    walk = _walk(infos, sentences)
    file_digest = hashlib.sha256(source).hexdigest()
    canon: dict[int, str] = {}

    def can(i: int) -> str:
        if i not in canon:
            canon[i] = canonical_text(texts[i])
        return canon[i]

    env_digests: dict[int, str] = {}

    def env_digest(upto: int) -> str:
        if upto not in env_digests:
            env_digests[upto] = _digest([can(j) for j in range(upto)])
        return env_digests[upto]

    raw: list[tuple[int, str, _Proof]] = []  # (placeholder sentence, kind, proof)
    for proof in walk.proofs:
        if proof.closer is None or not proof.info.name or proof.info.keyword in ("Goal", "Obligation"):
            continue
        closer_info = infos[proof.closer]
        if closer_info.keyword != "Admitted":
            continue
        holes = [j for j in proof.body if infos[j].kind == "admit"]
        opaque = any(infos[j].hole_word for j in proof.body if infos[j].kind != "admit")
        if not holes and not opaque:
            raw.append((proof.closer, "admitted", proof))
        for j in holes:
            raw.append((j, "admit", proof))
    raw.sort(key=lambda r: r[0])

    goals: list[Goal] = []
    for index, (k, kind, proof) in enumerate(raw):
        ph = sentences[k]
        stmt = sentences[proof.opener]
        hole_ranges = tuple(
            (sentences[j].start, sentences[j].end) for j in proof.body if infos[j].kind == "admit"
        )
        opaque = any(infos[j].hole_word for j in proof.body if infos[j].kind != "admit")
        prefix = [can(j) for j in range(proof.opener + 1, k)]
        key = GoalKey(
            hashlib.sha256(
                json.dumps(
                    ["coq", kind, can(proof.opener), env_digest(proof.opener), _digest(prefix)]
                ).encode()
            ).hexdigest()
        )
        line, col = byte_to_position(source, ph.start)
        end_line, end_col = byte_to_position(source, ph.end)
        scopes = proof.scopes
        # the outermost Section inside the innermost module
        last_mod = max((n for n, s in enumerate(scopes) if s.kind != "section"), default=-1)
        inner_sections = scopes[last_mod + 1 :]
        section_end = inner_sections[0].end_offset if inner_sections else None
        if proof.info.keyword == "Let":
            section_end = None  # a Let does not survive its Section
        assert proof.closer is not None
        closer = sentences[proof.closer]
        env = Environment(
            file=path,
            backend="coq",
            sentences=tuple(texts[:k]),
            focus=kind == "admit",
            args=project.args,
            workdir=project.root,
        )
        goals.append(
            Goal(
                file=path,
                backend="coq",
                kind=kind,  # type: ignore[arg-type]
                lemma=proof.info.name,
                statement=stmt.text,
                line=line,
                column=col,
                start=ph.start,
                end=ph.end,
                has_proof_keyword=proof.proof_keyword,
                env=env,
                key=key,
                index=index,
                statement_start=stmt.start,
                statement_end=stmt.end,
                end_line=end_line,
                end_column=end_col,
                file_digest=file_digest,
                keyword=proof.info.keyword,
                scope=tuple((s.kind, s.name) for s in scopes),
                functor_params=tuple(p for s in scopes for p in s.params),
                closer_start=closer.start,
                closer_end=closer.end,
                holes=hole_ranges,
                opaque_holes=opaque,
                assumable=proof.assumable,
                assumable_modules=proof.modules,
                admitted_before=proof.admitted_before,
                module_path=_module_path(scopes),
                section_end=section_end,
            )
        )
    return tuple(goals)


# --------------------------------------------------------------------------------------------------
# Lean


def find_lean_goals(path: Path, *, timeout: float = DEFAULT_FIND_TIMEOUT, source: bytes | None = None,
                    prover: "LeanProver | None" = None) -> FileGoals:
    """Run a Lean file through the REPL (in its Lake project) and return its `sorry`s as goals, each with its sort
    asked of the same REPL (`LeanProver.sort_of`: is the sorry's expected type a proposition?).

    Raises:
        ProverUnavailable: no Lean toolchain (or lean-interact) on this machine.
        SourceError: the file cannot be read or is not UTF-8.
        ProverTimeout, ProverCrashed: the REPL did not finish.
    """
    from .provers.lean import SORT_PROBE_TIMEOUT, LeanProver, find_toolchain

    path = Path(path).absolute()
    source = read_source(path, source)
    text = source.decode("utf-8")
    project = find_toolchain(path).project
    own = prover is None
    lean = prover or LeanProver()
    deadline = time.monotonic() + timeout
    sorts: dict[int, GoalSort] = {}
    try:
        response = lean.run_file(path, text, project, timeout)
        for s in response.sorries if response.error is None else ():  # in the REPL's order, each state once
            left = deadline - time.monotonic()
            if s.proof_state is not None and s.proof_state not in sorts and left > 0:
                sorts[s.proof_state] = lean.sort_of(s.proof_state, min(SORT_PROBE_TIMEOUT, left), goal=s.goal)
    finally:
        if own:
            lean.close()
    if response.error is not None:
        raise SourceError(f"the Lean REPL refused the file: {response.error}", path)
    return lean_goals_from_response(path, text, response, project, sorts)


def lean_goals_from_response(path: Path, text: str, response: "ReplResponse", project: Path,
                             sorts: "Mapping[int, GoalSort] | None" = None) -> FileGoals:
    """Goals (kind "sorry") from the REPL's answer to running `text`, the file at `path`, in its Lake project.
    `sorts` gives each sorry's sort by its proof state (as `LeanProver.sort_of` answered); a sorry not in it is
    "unknown", so never filled."""
    from .lean_source import declarations, line_col_to_offset, mask_lean

    source = text.encode("utf-8")
    decls = declarations(text)
    goals: list[Goal] = []
    ordinal: dict[str, int] = {}
    for s in response.sorries:
        if s.proof_state is None or s.line is None or s.column is None or s.end_line is None \
                or s.end_column is None:
            continue
        a = line_col_to_offset(text, s.line, s.column)
        b = line_col_to_offset(text, s.end_line, s.end_column)
        decl = next((d for d in reversed(decls) if d.start <= a < d.end), None)
        if decl is None:
            continue
        before = " ".join(mask_lean(text[: decl.start]).split())
        proof_before = " ".join(mask_lean(text[decl.start : a]).split())
        k = ordinal[decl.statement] = ordinal.get(decl.statement, -1) + 1
        key = GoalKey(_digest(["lean", "sorry", decl.statement, _digest([before]), proof_before, str(k)]))
        start_b, end_b = len(text[:a].encode("utf-8")), len(text[:b].encode("utf-8"))
        goals.append(Goal(
            file=path, backend="lean", kind="sorry", lemma=decl.name or decl.kind, statement=decl.statement,
            line=s.line, column=s.column, start=start_b, end=end_b, has_proof_keyword=False,
            env=Environment(file=path, backend="lean", source=text, placeholder=(a, b), workdir=project),
            key=key, index=len(goals), statement_start=len(text[: decl.start].encode("utf-8")),
            statement_end=len(text[: decl.start].encode("utf-8")) + len(decl.statement.encode("utf-8")),
            end_line=s.end_line, end_column=s.end_column, file_digest=hashlib.sha256(source).hexdigest(),
            keyword=decl.kind, sort=(sorts or {}).get(s.proof_state, "unknown")))
    errors = response.errors
    error = error_line = error_offset = None
    if errors:
        first = min(errors, key=lambda m: (m.line, m.column))
        error_line = first.line
        error = f"line {first.line}: {first.data}"
        error_offset = len(text[: line_col_to_offset(text, first.line, first.column)].encode("utf-8"))
    return FileGoals(file=path, goals=tuple(goals), error=error, error_line=error_line,
                     digest=hashlib.sha256(source).hexdigest(), error_offset=error_offset)
