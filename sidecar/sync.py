"""Results shared between machines: a project's ledger exported to a file and imported elsewhere (`auto-prove sync`).

An export is one gzip file of JSON lines: a header naming the environment each backend's results stand on
(fingerprint.py: toolchain and library revisions), then one line per goal the ledger settled (a verified proof, or
a search that ran out at some budget) and one per helper-lemma ticket. Goals are keyed as the ledger keys them
(the goal's statement and everything before it in its file, canonically), files by their path in the project, so a
clone of the project at another path reads the same keys.

Importing takes a result only when this machine's environment for its backend is the exporter's; a proof taken is
stored as *not verified here*, and the scheduler checks it again in the file as it is before anything shows it
(`Scheduler._from_ledger`). What this ledger already has is kept when it is as good: a proof verified here is never
replaced, a search that ran out is replaced by a proof or by a longer search. A destination is a file, a folder
(one new file per export; every export in it is read on import), or, with fsspec's backends installed, a URL
(`s3://bucket/path/`, `gs://…`).
"""

from __future__ import annotations

import datetime
import gzip
import io
import json
import logging
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from .errors import AutoProveError
from .fingerprint import Fingerprint, fingerprint
from .ledger import GoalRecord, Ledger
from .workspace import backend_for

__all__ = ["SyncError", "SyncReport", "export_results", "import_results", "FORMAT"]

log = logging.getLogger(__name__)

FORMAT, VERSION = "auto-prove-sync", 1
SUFFIX = ".jsonl.gz"
_SETTLED = ("proved", "exhausted", "timeout")


class SyncError(AutoProveError):
    """An export that cannot be written or read."""


@dataclass
class SyncReport:
    """What an export or an import did, for one line of output."""

    files: list[str] = field(default_factory=list)
    goals: int = 0  # exported, or taken
    proofs: int = 0  # of which proofs
    tickets: int = 0
    kept: int = 0  # import: rows this ledger already had as good
    other_environment: int = 0  # import: rows of another toolchain or library revision
    differences: list[str] = field(default_factory=list)  # import: how the environments differ (first few)
    unreadable: list[str] = field(default_factory=list)  # import: files that are not exports
    keys: set[str] = field(default_factory=set)  # import: the goals whose result was taken

    def line(self, verb: str) -> str:
        what = f"{self.goals} goal result(s) ({self.proofs} proof(s)), {self.tickets} ticket(s)"
        if verb == "exported":
            return f"exported {what} to {', '.join(self.files)}"
        parts = [f"imported {what} from {len(self.files)} file(s)"]
        if self.proofs:
            parts.append("each proof is verified here before it is offered")
        if self.kept:
            parts.append(f"{self.kept} kept as this ledger had them")
        if self.other_environment:
            parts.append(f"{self.other_environment} skipped: found under another environment ("
                         + "; ".join(self.differences[:3]) + ")")
        if self.unreadable:
            parts.append(f"{len(self.unreadable)} file(s) not read: " + "; ".join(self.unreadable[:3]))
        return ", ".join(parts)


# -- export ----------------------------------------------------------------------------------------------------


def export_results(root: Path, dest: str) -> SyncReport:
    """Write the settled results of the project at `root` to `dest` (a file, a folder or a URL)."""
    root = Path(root).resolve()
    from .ledger import LEDGER_DIR

    if not (root / LEDGER_DIR / "ledger.sqlite").is_file():  # nothing searched here (or nothing open): nothing
        return SyncReport()
    ledger = _open_ledger(root)
    try:
        recs = [r for r in ledger.goals() if r.status in _SETTLED and (r.status != "proved" or (r.verified and r.proof))]
        tickets = ledger.tickets()
    finally:
        ledger.close()
    rows, backends = [], set()
    for r in recs:
        rel, backend = _relative(root, r.file)
        if rel is None or backend is None:
            continue
        backends.add(backend)
        rows.append({"type": "goal", "key": r.key, "backend": backend, "file": rel, "lemma": r.lemma, "line": r.line,
                     "kind": r.kind, "status": r.status, "proof": r.proof if r.status == "proved" else None,
                     "header": r.header, "budget_s": r.budget_s, "seconds": r.seconds, "attempts": r.attempts,
                     "strategy": r.strategy, "message": r.message, "file_digest": r.file_digest,
                     "deps_digest": r.deps_digest, "depends_on_open": list(r.depends_on_open),
                     "golfed_from": r.golfed_from})
    keys = {row["key"] for row in rows}
    for t in tickets:
        rel, backend = _relative(root, t.file)
        if rel is None or backend is None or t.key not in keys:
            continue
        rows.append({"type": "ticket", "key": t.key, "file": rel, "lemma": t.lemma, "name": t.name,
                     "statement": t.statement, "status": t.status, "proof": t.proof})
    header = {"format": FORMAT, "version": VERSION, "created": _now(), "host": socket.gethostname(),
              "project": root.name, "fingerprints": {b: fingerprint(root, b).as_json() for b in sorted(backends)}}
    data = io.BytesIO()
    with gzip.GzipFile(fileobj=data, mode="wb", mtime=0) as gz:
        for line in (header, *rows):
            gz.write(json.dumps(line, sort_keys=True).encode("utf-8") + b"\n")
    target = _target_file(dest)
    _write(target, data.getvalue())
    n_goals = sum(1 for r in rows if r["type"] == "goal")
    return SyncReport(files=[target], goals=n_goals, proofs=sum(1 for r in rows if r.get("status") == "proved"
                                                                and r["type"] == "goal"),
                      tickets=len(rows) - n_goals)


def _relative(root: Path, file: str) -> tuple[str | None, str | None]:
    p = Path(file)
    try:
        rel = p.resolve().relative_to(root)
    except (ValueError, OSError):
        return None, None
    return rel.as_posix(), backend_for(p)


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _local(where: str) -> str | None:
    """The local path `where` names (a `file://` URL is one), or None for any other URL."""
    if where.startswith("file://"):
        return where[len("file://"):]
    return None if "://" in where else where


def _filesystem(url: str) -> tuple[Any, str]:
    """fsspec's filesystem for a URL and the path in it."""
    try:
        import fsspec

        return fsspec.core.url_to_fs(url)
    except ImportError as e:
        raise SyncError(f"{url}: reading or writing URLs needs fsspec (pip install 'auto-prove[cluster]') and its "
                        f"backend for the scheme ({e})") from e
    except ValueError as e:
        raise SyncError(f"cannot open {url}: {e}") from e


def _target_file(dest: str) -> str:
    """The file an export to `dest` goes to: `dest` itself when it names a file, else a new file in that folder."""
    dest = _local(dest) or dest
    if dest.endswith(SUFFIX) or dest.endswith(".jsonl"):
        return dest
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    name = f"auto-prove-{socket.gethostname()}-{stamp}-{os.getpid()}{SUFFIX}"
    return dest.rstrip("/") + "/" + name


def _write(target: str, data: bytes) -> None:
    if _local(target) is None:
        fs, path = _filesystem(target)
        try:
            fs.pipe_file(path, data)
        except OSError as e:
            raise SyncError(f"cannot write {target}: {e}") from e
        return
    p = Path(target)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(p.name + f".{os.getpid()}.part")
        tmp.write_bytes(data)
        os.replace(tmp, p)  # a reader never sees half an export
    except OSError as e:
        raise SyncError(f"cannot write {target}: {e}") from e


# -- import ----------------------------------------------------------------------------------------------------


def import_results(root: Path, src: str) -> SyncReport:
    """Take the results in `src` (a file, a folder of exports, or a URL) into the ledger of the project at `root`."""
    root = Path(root).resolve()
    report = SyncReport()
    files = list(_sources(src))
    if not files:
        return report
    ledger = _open_ledger(root)
    here: dict[str, Fingerprint] = {}
    try:
        for name, data in files:
            try:
                lines = _lines(data)
                head = next(lines, None)
                if not isinstance(head, dict) or head.get("format") != FORMAT:
                    raise ValueError("not an auto-prove export")
                if int(head.get("version", 0)) > VERSION:
                    raise ValueError(f"written by a newer auto-prove (format {head.get('version')})")
                theirs = {b: Fingerprint.from_json(fp) for b, fp in dict(head.get("fingerprints") or {}).items()}
            except (ValueError, KeyError, TypeError, OSError, EOFError) as e:
                report.unreadable.append(f"{name}: {e}")
                continue
            report.files.append(name)
            _take(root, ledger, lines, theirs, here, report)
    finally:
        ledger.close()
    return report


def _take(root: Path, ledger: Ledger, lines: Iterator[object], theirs: dict[str, Fingerprint],
          here: dict[str, Fingerprint], report: SyncReport) -> None:
    matching: dict[str, bool] = {}
    taken: set[str] = set()
    for row in lines:
        if not isinstance(row, dict):
            continue
        try:
            if row.get("type") == "goal":
                backend = str(row["backend"])
                if backend not in matching:
                    if backend not in here:
                        here[backend] = fingerprint(root, backend)
                    fp = theirs.get(backend)
                    diff = ["no environment recorded"] if fp is None else here[backend].differences(fp)
                    matching[backend] = not diff
                    report.differences += [d for d in diff if d not in report.differences]
                if not matching[backend]:
                    report.other_environment += 1
                    continue
                if _take_goal(root, ledger, row):
                    taken.add(str(row["key"]))
                    report.keys.add(str(row["key"]))
                    report.goals += 1
                    report.proofs += row["status"] == "proved"
                else:
                    report.kept += 1
            elif row.get("type") == "ticket" and str(row["key"]) in taken:
                known = {t.statement for t in ledger.tickets(str(row["key"]))}
                if row["statement"] not in known:
                    ledger.record_ticket(str(row["key"]), str(root / row["file"]), str(row["lemma"]), str(row["name"]),
                                         str(row["statement"]), str(row["status"]), str(row.get("proof") or ""))
                    report.tickets += 1
        except (KeyError, TypeError, ValueError) as e:
            log.warning("an export row was skipped: %s", e)


def _take_goal(root: Path, ledger: Ledger, row: dict[str, object]) -> bool:
    """Store one imported goal result unless this ledger's is as good; True when it was stored."""
    status = str(row["status"])
    if status not in _SETTLED or (status == "proved" and not row.get("proof")):
        return False
    mine = ledger.goal(str(row["key"]))
    if mine is not None:
        if mine.status == "proved" and (mine.verified or status != "proved"):
            return False  # a proof verified here (or any proof against a search that ran out) stays
        if status != "proved" and mine.status in ("exhausted", "timeout") \
                and mine.budget_s >= float(row["budget_s"]):  # type: ignore[arg-type]
            return False
    ledger.upsert_goal(GoalRecord(
        key=str(row["key"]), file=str(root / str(row["file"])), lemma=str(row["lemma"]), line=int(row["line"]),  # type: ignore[arg-type]
        kind=str(row["kind"]), status=status, proof=str(row["proof"]) if status == "proved" else None,  # type: ignore[arg-type]
        budget_s=float(row["budget_s"]), seconds=float(row["seconds"]), attempts=int(row["attempts"]),  # type: ignore[arg-type]
        verified=False, file_digest=str(row["file_digest"]), message=str(row.get("message") or ""),
        strategy=str(row.get("strategy") or ""), header=str(row.get("header") or ""),
        depends_on_open=tuple(str(x) for x in row.get("depends_on_open") or ()),  # type: ignore[union-attr]
        deps_digest=str(row.get("deps_digest") or ""), golfed_from=str(row.get("golfed_from") or "")))
    return True


def _sources(src: str) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of every export at `src`: the file itself, or each export file in the folder, oldest first.
    A path that does not exist holds none (a first run's cache is empty)."""
    local = _local(src)
    if local is None:
        fs, path = _filesystem(src)
        try:
            names = [path] if path.endswith(SUFFIX) else sorted(
                p for p in fs.ls(path, detail=False) if str(p).endswith(SUFFIX)) if fs.exists(path) else []
            for n in names:
                yield str(n), fs.cat_file(n)
        except OSError as e:
            raise SyncError(f"cannot read {src}: {e}") from e
        return
    p = Path(local)
    if p.is_dir():
        paths = sorted((q for q in p.iterdir() if q.name.endswith(SUFFIX) or q.name.endswith(".jsonl")),
                       key=lambda q: (q.stat().st_mtime, q.name))
    elif p.is_file():
        paths = [p]
    else:
        return
    for q in paths:
        try:
            yield str(q), q.read_bytes()
        except OSError as e:
            raise SyncError(f"cannot read {q}: {e}") from e


def _lines(data: bytes) -> Iterator[object]:
    raw = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    for k, line in enumerate(raw.decode("utf-8").splitlines()):
        if line.strip():
            try:
                yield json.loads(line)
            except ValueError:
                if k == 0:
                    raise
                log.warning("an unreadable export line was skipped")


def _open_ledger(root: Path) -> Ledger:
    from .errors import LedgerError

    try:
        return Ledger(root)
    except LedgerError as e:
        raise SyncError(str(e)) from e
