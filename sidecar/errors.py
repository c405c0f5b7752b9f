"""The one exception hierarchy of auto-prove.

    AutoProveError
     ├── ProverError                 a prover process misbehaved
     │    ├── ProverUnavailable      the prover binary/toolchain is not installed (CLI exit code 2)
     │    ├── ProverCrashed          the process died, closed its pipe or spoke garbage
     │    └── ProverTimeout          a non-tactic operation (start, loading the environment) overran its deadline
     ├── SourceError                 a source file is unusable: does not compile before a goal, statement does not parse
     ├── ProjectConfigError          _CoqProject / lakefile / options point nowhere or are malformed
     └── LedgerError                 the ledger could not be read or written (disk full, corrupt database)

"The prover said no" (a tactic that fails) is never an exception: it is a TacticResult with outcome "failed".
Errors from other libraries (OSError, sqlite3.Error, XML parse errors) are translated into these in exactly
the module that owns the resource.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "AutoProveError",
    "ProverError",
    "ProverUnavailable",
    "ProverCrashed",
    "ProverTimeout",
    "SourceError",
    "ProjectConfigError",
    "LedgerError",
]


class AutoProveError(Exception):
    """Base of every error auto-prove raises on purpose."""


class ProverError(AutoProveError):
    """A prover process misbehaved."""


class ProverUnavailable(ProverError):
    """The prover is not installed or cannot start at all."""


class ProverCrashed(ProverError):
    """The prover process died, closed its pipe, or answered something unparseable."""


class ProverTimeout(ProverError):
    """A prover operation other than a tactic (start, environment load) overran its deadline."""


class SourceError(AutoProveError):
    """A source file cannot be used; carries the file and 1-based line when known."""

    def __init__(self, message: str, file: Path | str | None = None, line: int | None = None) -> None:
        self.message = message
        self.file = Path(file) if file is not None else None
        self.line = line
        where = ""
        if self.file is not None:
            where = f"{self.file}:{line}: " if line is not None else f"{self.file}: "
        super().__init__(where + message)


class ProjectConfigError(AutoProveError):
    """The project configuration (_CoqProject, lakefile, options) is unusable."""


class LedgerError(AutoProveError):
    """The ledger could not be read or written."""
