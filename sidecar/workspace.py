"""The headless core shared by the CLI, the bank runner and the language server: which files, which goals, and
writing verified proofs back.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

from .errors import AutoProveError, SourceError
from .goals import FileGoals, Goal, find_goals
from .verify import find_and_prime
from .scheduler import GoalOutcome

__all__ = ["SUFFIXES", "backend_for", "collect_files", "discover", "FileProblem", "write_verified", "WriteReport",
           "project_root"]

log = logging.getLogger(__name__)

SUFFIXES = {".v": "coq", ".lean": "lean"}
_SKIP_DIRS = {".git", ".auto-prove", "_build", "node_modules", ".lake", "__pycache__", "_opam"}


def backend_for(path: Path, backend: str = "auto") -> str | None:
    """The backend that handles `path` ("auto" decides by suffix); None if the file is not a proof source."""
    b = SUFFIXES.get(path.suffix)
    if backend == "auto":
        return b
    return backend if b == backend else None


def collect_files(paths: Iterable[Path], backend: str = "auto") -> list[Path]:
    """Proof source files under `paths` (files taken as given, folders searched), sorted, without duplicates."""
    out: list[Path] = []
    for p in paths:
        p = Path(p).resolve()
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.is_file() and backend_for(f, backend) and not (set(f.relative_to(p).parts[:-1]) & _SKIP_DIRS) \
                        and not any(part.startswith(".") for part in f.relative_to(p).parts[:-1]):
                    out.append(f)
        elif p.is_file():
            out.append(p)
        else:
            raise SourceError("no such file or folder", file=p)
    return list(dict.fromkeys(out))


def project_root(files: Sequence[Path]) -> Path:
    """Where the ledger lives: the nearest folder holding a _CoqProject/lakefile above the first file, else the
    common folder of all files."""
    if not files:
        return Path.cwd()
    first = files[0].resolve()
    for d in [first.parent, *first.parent.parents]:
        if any((d / m).exists() for m in ("_CoqProject", "lakefile.lean", "lakefile.toml", "lean-toolchain")):
            return d
    return Path(os.path.commonpath([str(f.resolve().parent) for f in files]))


@dataclass(frozen=True)
class FileProblem:
    """A file (part) that could not be used, with where and why."""

    file: Path
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}" if self.line else f"{self.file}: {self.message}"


def discover(files: Sequence[Path], backend: str = "auto",
             on_file: Callable[[Path, FileGoals | None], None] | None = None,
             needs: Mapping[Path, frozenset[Path]] | None = None) -> tuple[list[Goal], list[FileProblem]]:
    """Find the goals of every file; a file that fails is reported and the others go on. `needs` (Coq: the project
    files each file loads, from the build) gives each goal its `deps_digest`."""
    from .build import dependency_digest

    goals: list[Goal] = []
    problems: list[FileProblem] = []
    for f in files:
        b = backend_for(f, backend) or backend
        try:
            # Coq: the run that finds the goals also records what verification compares against
            fg = find_and_prime(f) if b == "coq" else find_goals(f, b)
        except AutoProveError as e:
            line = getattr(e, "line", None)
            msg = getattr(e, "message", None) or str(e)
            problems.append(FileProblem(f, line, msg))
            if on_file:
                on_file(f, None)
            continue
        if fg.error:
            problems.append(FileProblem(f, fg.error_line, fg.error.removeprefix(f"line {fg.error_line}: ")))
        deps = dependency_digest((needs or {}).get(f, ()))
        goals.extend(replace(g, deps_digest=deps) if deps else g for g in fg.goals)
        if on_file:
            on_file(f, fg)
    return goals, problems


@dataclass(frozen=True)
class WriteReport:
    """What `write_verified` did to one file."""

    file: Path
    written: int
    skipped: int
    message: str = ""


@dataclass(frozen=True)
class VerifiedPatch:
    """A file's text with its verified proofs in it (`verified_patches`), checked as a whole."""

    file: Path
    original: bytes
    patched: bytes | None  # None: nothing could be kept (or the file changed on disk)
    kept: tuple[GoalOutcome, ...]
    refused: int
    message: str = ""


def verified_patches(outcomes: Sequence[GoalOutcome], verify_timeout: float = 300.0,
                     each: bool = False) -> list[VerifiedPatch]:
    """For each file with verified proofs, its text with them in it, verified once more as a whole (exactly the
    bytes that were checked). If the combination is refused, proofs are added one by one, each kept only if the file
    still verifies. A file changed on disk since its goals were found gets no patch. With `each`, one patch per kept
    proof instead, each holding that proof and those before it (for a commit per lemma)."""
    from .verify import verify_file

    by_file: dict[Path, list[GoalOutcome]] = defaultdict(list)
    for o in outcomes:
        if o.status == "proved" and o.verified and o.replacement is not None:
            by_file[o.goal.file].append(o)
    out = []
    for f, outs in by_file.items():
        data = f.read_bytes()
        if hashlib.sha256(data).hexdigest() != outs[0].goal.file_digest:
            out.append(VerifiedPatch(f, data, None, (), len(outs),
                                     "file changed on disk since its goals were found; not written"))
            continue

        def check(chosen: list[GoalOutcome]) -> bytes | None:
            headers = sorted({o.header for o in chosen if o.header})
            # a proof accepted as standing on the project's open lemmas is checked by the same rule again
            v = verify_file(f, [(o.goal, o.replacement or "") for o in chosen], original=data,
                            timeout=verify_timeout, header=headers,
                            allow_open=any(o.depends_on_open for o in chosen))
            return v.patched if v.ok else None

        patched = None if each else check(outs)
        kept = outs
        steps: list[tuple[bytes, list[GoalOutcome]]] = []
        if patched is None:
            kept = []
            for o in outs:
                trial = check(kept + [o])
                if trial is not None:
                    kept, patched = kept + [o], trial
                    steps.append((trial, list(kept)))
        note = "" if len(kept) == len(outs) else "some proofs were refused when combined"
        if each:
            out += [VerifiedPatch(f, data, b, tuple(k), 0, note) for b, k in steps]
        else:
            out.append(VerifiedPatch(f, data, patched if kept else None, tuple(kept), len(outs) - len(kept), note))
    return out


def write_verified(outcomes: Sequence[GoalOutcome], verify_timeout: float = 300.0) -> list[WriteReport]:
    """Patch each file in place with its verified proofs only (`verified_patches`), so that it still compiles."""
    from .patch import write_file_atomically

    reports = []
    for p in verified_patches(outcomes, verify_timeout):
        if p.patched is not None and p.kept:
            write_file_atomically(p.file, p.patched)
        reports.append(WriteReport(p.file, len(p.kept), p.refused, p.message))
    return reports
