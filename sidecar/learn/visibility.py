"""The visibility rule: for a goal G in file F, exactly which proofs the search may learn from.

Visible are (issue 12): the proofs in F before G; the proofs of the project files F loads; the proofs in the sources
of the libraries F itself loads (Coq: the `.v` beside each `.vo` that `Print Libraries` lists after F's own
`Require`s — before any import the tool adds; Lean: the `.lean` source of each module F imports from a Lake
dependency, and the project's own modules F imports, followed through their imports: `_lean_visibility`); and proofs
auto-prove found and verified earlier in the project.
Never G's own proof or anything after G in F, never a library that only the tool's added imports load (Lia,
CoqHammer), never a file that is merely on the load path.

`visibility_for(goal)` asks Coq once per distinct set of `Require`s (`coq_source.loaded_libraries`, cached) and once
per load path (`Print LoadPath`, cached) and returns a `Visibility`: the `sources` to harvest and `allows(origin,
order, lemma)`, the rule itself, applied at query time to whatever a cache holds.

Origins (`sidecar.learn.Origin`): a library's logical name (`Coq.Arith.PeanoNat`), a project file's absolute path
(F itself included), or `auto_prove_origin(file)` = `"auto-prove:<absolute path of the file the proof is for>"` for
proofs from the ledger (`"auto-prove:<project root>"` is accepted too, when the file is not known).
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Literal, Sequence

from ..coq_source import loaded_libraries, require_sentences, run_coqc
from ..coqproject import PRIVATE_BUILD, find_project_root
from . import Origin

if TYPE_CHECKING:
    from ..goals import Goal

__all__ = ["Source", "Visibility", "visibility_for", "auto_prove_origin", "statement_order", "qualified_lemma",
           "load_path_entries", "library_files", "AUTO_PROVE", "lean_module_file"]

log = logging.getLogger(__name__)

AUTO_PROVE = "auto-prove:"  # prefix of the origin of proofs auto-prove verified (see `auto_prove_origin`)
SourceKind = Literal["library", "project", "file"]


@dataclass(frozen=True)
class Source:
    """One source file whose proofs are visible: what to harvest, and how to load it."""

    origin: Origin  # library: logical name; project file and F: absolute path (str)
    kind: SourceKind  # library | project (a project file F loads) | file (F itself)
    path: Path | None  # the .v to replay; None when no source is known (a library shipped as .vo only)
    logical: str = ""  # the library's logical name ("Coq.Arith.PeanoNat"; "" when unknown)
    args: tuple[str, ...] = ()  # load path to replay it with (none for Coq's own libraries)
    workdir: Path | None = None  # folder the prover and coqc run in (None: a private empty folder)
    digest: str = ""  # kind "file": sha256 of F's bytes as the goal saw them ("" = whatever is on disk)
    prefix: tuple[str, ...] = ()  # kind "file", used when F changed on disk: Coq: F's sentences before the
    #                               placeholder; Lean: (F's text as the goal saw it,)

    @property
    def name(self) -> str:
        """Short human name: the logical name, else the file name."""
        return self.logical or (self.path.name if self.path is not None else self.origin)


@dataclass(frozen=True)
class Visibility:
    """What goal G in file F may learn from (see the module docstring)."""

    file: Path  # F (absolute)
    lemma: str  # G's lemma, qualified by its module path inside F ("M.lem")
    order: int  # index of G's statement sentence among F's sentences
    root: Path  # the project root (auto-prove proofs from under it are visible)
    libraries: frozenset[str]  # logical names of the libraries F itself loads (not the project's files)
    project_files: frozenset[Path]  # the project files F loads
    sources: tuple[Source, ...] = field(default=())  # libraries, then project files, then F itself

    @property
    def file_origin(self) -> Origin:
        """The origin of F's own proofs."""
        return str(self.file)

    def allows(self, origin: Origin, order: int, lemma: str) -> bool:
        """May a proof of `lemma` from `origin`, at position `order` in its source, be consulted for G?"""
        if origin == self.file_origin:
            return order < self.order and lemma != self.lemma
        if origin.startswith(AUTO_PROVE):
            where = Path(origin[len(AUTO_PROVE):])
            if where.suffix in (".v", ".lean") and where.suffix != self.file.suffix:
                return False  # a proof in the other prover's language (one process serves both) is no example
            if where == self.file or where == self.root:  # a proof of G itself, found in an earlier run: never
                return lemma != self.lemma
            return _under(where, self.root)
        if origin in self.libraries:
            return True
        return Path(origin) in self.project_files if os.path.isabs(origin) else False

    def auto_prove_origin(self) -> Origin:
        """The origin under which proofs auto-prove verified for goals of F are recorded."""
        return auto_prove_origin(self.file)


def auto_prove_origin(file: Path) -> Origin:
    """Origin of a proof auto-prove found and verified for a goal of `file`: "auto-prove:<absolute path>"."""
    return AUTO_PROVE + str(Path(file).absolute())


def _under(path: Path, root: Path) -> bool:
    try:
        return Path(os.path.abspath(path)).is_relative_to(os.path.abspath(root))
    except (OSError, ValueError):
        return False


def qualified_lemma(goal: "Goal") -> str:
    """G's lemma qualified by its module path inside F ("M.lem"), as harvested lemmas are named."""
    return ".".join((*goal.module_path, goal.lemma))


def statement_order(goal: "Goal") -> int:
    """Index of G's statement sentence among F's sentences (the last sentence before the placeholder that is
    exactly G's statement; the harvest numbers a source's proofs by the same index). Lean: the index of G's
    declaration among the file's declarations."""
    if goal.backend == "lean":
        from ..lean_source import declarations

        a = goal.env.placeholder[0]
        found = [k for k, d in enumerate(declarations(goal.env.source)) if d.start <= a < d.end]
        return found[-1] if found else 0
    sentences = goal.env.sentences
    for i in range(len(sentences) - 1, -1, -1):
        if sentences[i] == goal.statement:
            return i
    stripped = goal.statement.strip()
    for i in range(len(sentences) - 1, -1, -1):
        if sentences[i].strip() == stripped:
            return i
    return max(0, len(sentences) - 1)  # not found (never seen): nothing of F from G on is visible


# --------------------------------------------------------------------------------------------------
# the load path as Coq sees it

_LOAD_PATHS: dict[tuple[object, ...], tuple[tuple[str, Path], ...]] = {}
_LOAD_PATHS_LOCK = threading.Lock()


def load_path_entries(args: Sequence[str] = (), workdir: Path | None = None,
                      timeout: float = 120.0) -> tuple[tuple[str, Path], ...]:
    """(logical path, folder) of every binding coqc has with `args` (and `workdir` bound to ""), as `Print
    LoadPath` lists them, in Coq's order; cached per (args, workdir). Empty when coqc cannot run."""
    key = (tuple(args), str(workdir))
    with _LOAD_PATHS_LOCK:
        if key in _LOAD_PATHS:
            return _LOAD_PATHS[key]
    source = b'Redirect "autoprove_loadpath" Print LoadPath.\n'
    run = run_coqc(source, "autoprove_loadpath", args, timeout=timeout, load_dir=workdir, time_sentences=False)
    entries = parse_load_path(run.outputs.get("autoprove_loadpath", "")) if run.ok else ()
    with _LOAD_PATHS_LOCK:
        _LOAD_PATHS[key] = entries
    return entries


def parse_load_path(text: str) -> tuple[tuple[str, Path], ...]:
    """Bindings from `Print LoadPath` output (a long logical path puts its folder on the next, indented line)."""
    out: list[tuple[str, Path]] = []
    pending: str | None = None
    for line in text.splitlines():
        if not line.strip() or line.startswith("Logical Path"):
            continue
        if line[0].isspace():
            if pending is not None:
                out.append((pending, Path(line.strip())))
                pending = None
            continue
        parts = line.split(None, 1)
        logical = "" if parts[0] == "<>" else parts[0]
        if len(parts) == 2:
            out.append((logical, Path(parts[1].strip())))
            pending = None
        else:
            pending = logical
    return tuple(out)


def library_files(name: str, entries: Sequence[tuple[str, Path]]) -> tuple[Path | None, Path | None]:
    """(.vo Coq loads for library `name`, its .v source) through the load path: the .vo of the binding bound
    last (Coq loads from it), the .v from the first binding of that logical folder that has one (a private build's
    mirror has no sources)."""
    dirpath, _, base = name.rpartition(".")
    vo: Path | None = None
    v: Path | None = None
    for logical, folder in entries:
        if logical != dirpath:
            continue
        if (folder / f"{base}.vo").is_file():
            vo = folder / f"{base}.vo"
        if v is None and (folder / f"{base}.v").is_file():
            v = folder / f"{base}.v"
    return vo, v


def _coq_install(entries: Sequence[tuple[str, Path]]) -> Path | None:
    """Coq's own library folder (`coqc -where`): the parent of the folder bound to `Coq`."""
    for logical, folder in entries:
        if logical == "Coq":
            return folder.parent
    return None


# --------------------------------------------------------------------------------------------------
# the rule


def visibility_for(goal: "Goal", needs: Iterable[Path] = ()) -> Visibility:
    """What goal G may learn from. `needs`: the project files G's file loads (`BuildReport.needs`); without them
    they are the project's files among the libraries `Print Libraries` lists.

    Raises:
        ProverUnavailable: coqc is not installed (Coq goals).
    """
    file = Path(goal.file).absolute()
    root = Path(goal.env.workdir).absolute() if goal.env.workdir is not None else find_project_root(file)[0]
    lemma, order = qualified_lemma(goal), statement_order(goal)
    own = Source(origin=str(file), kind="file", path=file, args=tuple(goal.env.args), workdir=goal.env.workdir,
                 digest=goal.file_digest,
                 prefix=tuple(goal.env.sentences) if goal.backend == "coq" else (goal.env.source,))
    project = {Path(p).absolute() for p in needs}
    if goal.backend != "coq":
        return _lean_visibility(goal.env.source, file, root, lemma, order, own, project)
    requires = require_sentences(goal.env.sentences)
    libs = loaded_libraries(requires, goal.env.args, goal.env.workdir) if requires else None
    if libs is None and requires:
        log.warning("%s: could not list the libraries it loads (its Requires fail alone); learning from its "
                    "own proofs only", file.name)
    if libs is None:  # no Require: the prelude's libraries
        libs = loaded_libraries((), goal.env.args, goal.env.workdir) or frozenset()
    entries = load_path_entries(goal.env.args, goal.env.workdir)
    coqlib = _coq_install(entries)
    private = root / PRIVATE_BUILD
    libraries: set[str] = set()
    lib_sources: list[Source] = []
    for name in sorted(libs):
        vo, v = library_files(name, entries)
        where = v or vo
        if where is not None and _under(where, root) and not _under(where, private):
            if v is not None:
                project.add(v.absolute())
            continue
        if v is None and vo is not None and _under(vo, private):
            continue  # a project file built privately whose source is not found on the load path
        libraries.add(name)
        ours = coqlib is not None and where is not None and _under(where, coqlib)
        lib_sources.append(Source(
            origin=name, kind="library", logical=name,
            path=v if v is not None else (vo.with_suffix(".v") if vo is not None else None),
            args=(("-noinit",) if name.startswith("Coq.Init.") else ()) if ours else tuple(goal.env.args),
            workdir=None if ours else goal.env.workdir))
    # a file of `needs` outside the project root (a `-Q ../lib Lib` binding of _CoqProject) that Coq lists as a
    # library is that library: one origin for one file
    library_paths = {s.path.absolute() for s in lib_sources if s.path is not None}
    project = {p for p in project if _under(p, root) or p not in library_paths}
    project.discard(file)
    proj_sources = [Source(origin=str(p), kind="project", path=p, args=tuple(goal.env.args),
                           workdir=goal.env.workdir) for p in sorted(project)]
    return Visibility(file=file, lemma=lemma, order=order, root=root, libraries=frozenset(libraries),
                      project_files=frozenset(project), sources=(*lib_sources, *proj_sources, own))


# --------------------------------------------------------------------------------------------------
# Lean: the modules F imports

LEAN_PACKAGES = (".lake/packages", "lake-packages")  # where Lake keeps a project's dependencies (new, old layout)


def lean_module_file(module: str, root: Path) -> tuple[Path, bool] | None:
    """(source file, whether it is a library) of a module `import`ed by a file of the Lake project at `root`: the
    project's own `<root>/A/B.lean`, else a dependency's `<root>/.lake/packages/<pkg>/A/B.lean`. None when neither
    exists (Lean's own `Init`/`Std`/`Lean`, whose sources live in the toolchain, or a module not built here)."""
    rel = Path(*module.split(".")).with_suffix(".lean")
    own = root / rel
    if own.is_file():
        return own.absolute(), False
    for packages in LEAN_PACKAGES:
        folder = root / packages
        if not folder.is_dir():
            continue
        for pkg in sorted(folder.iterdir()):
            if (pkg / rel).is_file():
                return (pkg / rel).absolute(), True
    return None


def _lean_visibility(text: str, file: Path, root: Path, lemma: str, order: int, own: Source,
                     project: set[Path]) -> Visibility:
    """A Lean goal's visibility: F's own proofs before G; the project's modules F imports, and theirs in turn; the
    library modules (Lake dependencies) that F or those project modules import by name. A library module's own
    imports are not followed (a file that imports one Mathlib module would otherwise see thousands of files, each
    an elaboration to harvest); nothing under `.lake/packages` that no file names is visible."""
    from ..lean_source import lean_imports

    libraries: dict[str, Path] = {}
    todo = [(text, file)]
    done: set[Path] = {file}
    while todo:
        source, where = todo.pop()
        for module in lean_imports(source):
            found = lean_module_file(module, root)
            if found is None:
                continue
            path, is_library = found
            if is_library:
                libraries.setdefault(module, path)
            elif path not in done:
                done.add(path)
                project.add(path)
                try:
                    todo.append((path.read_text(encoding="utf-8", errors="replace"), path))
                except OSError as e:
                    log.warning("%s: cannot read %s (%s); not following its imports", file.name, path, e)
    project.discard(file)
    lib_sources = [Source(origin=m, kind="library", path=p, logical=m, workdir=root)
                   for m, p in sorted(libraries.items())]
    proj_sources = [Source(origin=str(p), kind="project", path=p, workdir=root) for p in sorted(project)]
    return Visibility(file=file, lemma=lemma, order=order, root=root, libraries=frozenset(libraries),
                      project_files=frozenset(project), sources=(*lib_sources, *proj_sources, own))
