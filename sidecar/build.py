"""Building what Coq files need before their goals are found: the project files they `Require`, compiled in
dependency order, so that a fresh clone (nothing compiled yet) just works.

`build_dependencies(files)` asks `coqdep` (on each project's load path: its root bound to the empty logical name
as `run_coqc` binds it, then the `-R`/`-Q` of `_CoqProject`; the `_CoqProject` file list seeds the first call) what
the files `Require`, transitively, and makes a .vo of each project file in that closure available:

- **in place**, when the project's own build left one beside the source that `make` would call up to date (not
  older than its .v nor than the in-place .vo of its dependencies, all of them in place too, made by this Coq
  version): it is used as it is, and nothing is compiled;
- else **privately**: compiled with `coqc` into `<root>/.auto-prove/build/` (`coqproject.private_folder`), whose
  bindings come last on every load path (`coqproject.private_build_args`), so Coq loads the private .vo and never a
  stale one beside the source. A private .vo is rebuilt when its source, its dependencies, the arguments or the
  Coq version changed (content hashes, recorded in `manifest.json`), so a build that is up to date costs one
  `coqdep` call and a few hashes.

The searched files themselves are compiled only when another searched file needs them. The project's own build
(`make`, `dune`) is never run: it may run anything, builds what is not needed, stops at the first error without
saying where, writes into the user's tree and may be running at the same time; what it left in place is used.
A file that cannot be built is reported once with coqc's first error and what to run (`BuildFailure`), and only
the files that need it are held back. Every coqc and coqdep is killed with the others of `coq_source` (its process
group) when we are cancelled or exit.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

from . import coq_source
from .coq_source import COQC, parse_error
from .coqproject import (PRIVATE_BUILD, CoqProject, coq_project_for, load_path, private_build_args,
                         private_folder)
from .errors import AutoProveError, ProverUnavailable
from .procs import run as run_process, spawn, temp_prefix

__all__ = ["BuildFailure", "BuildReport", "build_dependencies", "dependency_digest", "search_waves", "COQDEP"]

log = logging.getLogger(__name__)

COQDEP = "coqdep"
DEFAULT_BUILD_TIMEOUT = 3600.0  # seconds per file
_MAGIC_LEN = 8  # "Coq!" and the version number at the start of every .vo
_REQUIRE_WORD = re.compile(r"(?<![\w'.])(Require|Load)(?![\w'])")

Progress = Callable[[int, int, "Path | None"], None]  # (files done, files to build, file just done or None)


@dataclass(frozen=True)
class BuildFailure:
    """A dependency that could not be built, why (coqc's first error) and what to do about it."""

    file: Path
    root: Path
    needed_by: tuple[Path, ...]
    message: str  # "line 12: Error: ..." on one line
    hint: str  # "fix it or run 'make' in /abs/root"

    def __str__(self) -> str:
        needed = ", ".join(_rel(f, self.root) for f in self.needed_by)
        return f"cannot build {_rel(self.file, self.root)}" + (f" (needed by {needed})" if needed else "") \
            + f": {self.message}; {self.hint}"


@dataclass(frozen=True)
class BuildReport:
    """What `build_dependencies` did."""

    built: tuple[Path, ...] = ()  # sources compiled privately this time
    up_to_date: tuple[Path, ...] = ()  # private .vo that were current already
    in_place: tuple[Path, ...] = ()  # sources whose .vo from the project's own build is used
    failures: tuple[BuildFailure, ...] = ()
    blocked: Mapping[Path, BuildFailure] = field(default_factory=dict)  # searched file -> what it waits for
    needs: Mapping[Path, frozenset[Path]] = field(default_factory=dict)  # searched file -> project files it loads
    seconds: float = 0.0
    cancelled: bool = False


# --------------------------------------------------------------------------------------------------
# one project: its load path, its dependency graph (coqdep)


@dataclass
class _Project:
    root: Path
    args: tuple[str, ...]  # the project's own arguments (no private bindings)
    listed: tuple[Path, ...]  # the _CoqProject file list
    deps: dict[Path, tuple[Path, ...]] = field(default_factory=dict)  # source -> project sources it loads (.vo)
    loads: dict[Path, tuple[Path, ...]] = field(default_factory=dict)  # source -> files it `Load`s (.v)
    errors: dict[Path, str] = field(default_factory=dict)  # source -> why coqdep could not read it

    @property
    def all_args(self) -> tuple[str, ...]:
        """What the private build compiles with: the root and the project's bindings, then the private ones."""
        return ("-Q", str(self.root), "", *self.args, *private_build_args(self.root, self.args, existing_only=False))

    def hint(self) -> str:
        if any((self.root / m).is_file() for m in ("Makefile", "makefile", "GNUmakefile", "CoqMakefile")):
            return f"fix it or run 'make' in {self.root}"
        args = " ".join(_quote(_rel(Path(a), self.root) if os.path.isabs(a) else a) for a in self.args)
        return f"fix it (in {self.root}, 'coqc {args} {{file}}' shows the whole error)"


def _quote(a: str) -> str:
    return a if a and re.fullmatch(r"[\w@%+=:,./-]+", a) else "'" + a.replace("'", "'\\''") + "'"


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _split_make_words(text: str) -> list[str]:
    """Words of a coqdep (Makefile) line: spaces separate, a backslash escapes the next character, `$$` is `$`."""
    return [re.sub(r"\\(.)", r"\1", w).replace("$$", "$") for w in re.findall(r"(?:\\.|[^\s\\])+", text)]


def _run_tool(cmd: list[str], cwd: Path, timeout: float,
              procs: set[subprocess.Popen[bytes]] | None = None) -> tuple[int | None, str, str]:
    """Run coqdep/coqc in a session of its own that dies with this process (`procs.spawn`), registered with
    `coq_source` (and in `procs`) so that it is killed on cancellation or exit; (returncode or None on timeout,
    stdout, stderr)."""
    with tempfile.TemporaryFile() as out_f, tempfile.TemporaryFile() as err_f:
        proc = spawn(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out_f, stderr=err_f, start_new_session=True)
        with coq_source._RUNNING_LOCK:
            coq_source._RUNNING.add(proc)  # type: ignore[arg-type]
            if procs is not None:
                procs.add(proc)
        code: int | None
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = None
        finally:
            coq_source._kill_group(proc)  # type: ignore[arg-type]
            proc.wait()
            with coq_source._RUNNING_LOCK:
                coq_source._RUNNING.discard(proc)  # type: ignore[arg-type]
                if procs is not None:
                    procs.discard(proc)
        out_f.seek(0)
        err_f.seek(0)
        return code, out_f.read().decode("utf-8", "replace"), err_f.read().decode("utf-8", "replace")


def _coqdep(project: _Project, files: Sequence[Path], overrides: Mapping[Path, bytes]) -> None:
    """Record the dependencies of `files` (one coqdep call; one per file when the call fails as a whole)."""
    if shutil.which(COQDEP) is None:
        raise ProverUnavailable("coqdep not found on PATH (install Coq 8.16: apt-get install coq)")
    loadpath: list[str] = []
    for flag, folder, logical in load_path(project.root, project.args):
        loadpath += [flag, str(folder), logical]
    with tempfile.TemporaryDirectory(prefix=temp_prefix("autoprove_coqdep_")) as tmp:
        names: dict[str, Path] = {}
        for i, f in enumerate(files):
            if f in overrides:  # an editor's unsaved text: its own requires count
                copy = Path(tmp) / str(i) / f.name
                copy.parent.mkdir()
                copy.write_bytes(overrides[f])
                names[str(copy)] = f
            else:
                names[str(f)] = f
        code, out, err = _run_tool([COQDEP, *loadpath, *names], project.root, 120.0)
        if code != 0 and len(names) > 1:
            for name, f in names.items():
                code1, out1, err1 = _run_tool([COQDEP, *loadpath, name], project.root, 120.0)
                if code1 != 0:
                    project.errors[f] = _first_line(err1) or f"coqdep failed ({code1})"
                    project.deps.setdefault(f, ())
                else:
                    _parse_coqdep(project, out1, {name: f})
            return
        if code != 0:
            f = next(iter(names.values()))
            project.errors[f] = _first_line(err) or f"coqdep failed ({code})"
            project.deps.setdefault(f, ())
            return
        _parse_coqdep(project, out, names)


def _first_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("*** Warning")]
    return lines[0] if lines else ""


def _parse_coqdep(project: _Project, out: str, names: Mapping[str, Path]) -> None:
    for line in out.splitlines():
        head, sep, tail = line.partition(": ")
        if not sep:
            continue
        targets = _split_make_words(head)
        if not targets or not targets[0].endswith(".vo"):
            continue
        words = _split_make_words(tail)
        if not words:
            continue
        src = names.get(words[0]) or names.get(targets[0][:-3] + ".v")
        if src is None:
            continue
        deps, loads = [], []
        for w in words[1:]:
            p = Path(w) if Path(w).is_absolute() else project.root / w
            if w.endswith(".vo") and p.with_suffix(".v").is_file():
                deps.append(Path(os.path.abspath(p.with_suffix(".v"))))
            elif w.endswith(".v"):
                loads.append(Path(os.path.abspath(p)))
        project.deps[src] = tuple(dict.fromkeys(d for d in deps if d != src))
        project.loads[src] = tuple(loads)


def _may_require(path: Path, overrides: Mapping[Path, bytes]) -> bool:
    """False when the file surely loads no project file: no `Require`/`Load` outside comments and strings."""
    try:
        data = overrides[path] if path in overrides else path.read_bytes()
    except OSError:
        return True
    return bool(_REQUIRE_WORD.search(coq_source.blank_comments_and_strings(data.decode("utf-8", "replace"))))


def _closure(project: _Project, files: Sequence[Path], overrides: Mapping[Path, bytes]) -> None:
    """Dependencies of `files` and of everything they load, transitively (coqdep on what is not known yet)."""
    todo = [f for f in files if _may_require(f, overrides)]
    for f in files:
        if f not in todo:
            project.deps[f] = ()
    first = True
    while todo:
        batch = list(dict.fromkeys(todo))
        if first and batch:  # the _CoqProject's files in the same call: most of what is needed, in one go
            batch += [f for f in project.listed if f not in batch and f.is_file() and f not in overrides]
            first = False
        _coqdep(project, batch, overrides)
        for f in batch:
            project.deps.setdefault(f, ())  # coqdep said nothing about it: it loads nothing we can build
        todo = [d for f in batch for d in project.deps[f] if d not in project.deps]


# --------------------------------------------------------------------------------------------------
# up to date? (manifest of the private build; in-place .vo by make's rule)


_MAGIC: list[bytes] = []


def _vo_magic() -> bytes | None:
    """The first bytes of a .vo of this Coq (its Prelude): an in-place .vo made by another version differs."""
    if not _MAGIC:
        try:
            where = run_process([COQC, "-where"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                timeout=60).stdout.strip()
            with open(Path(where) / "theories" / "Init" / "Prelude.vo", "rb") as fh:
                _MAGIC.append(fh.read(_MAGIC_LEN))
        except (OSError, subprocess.TimeoutExpired):
            _MAGIC.append(b"")
    return _MAGIC[0] or None


def _stat(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def _sha(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "missing"


class _Manifest:
    """`<root>/.auto-prove/build/manifest.json`: for each privately built source, the key it was built with and
    the size and mtime of the .vo written then."""

    def __init__(self, root: Path) -> None:
        self.path = root / PRIVATE_BUILD / "manifest.json"
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            self.files: dict[str, dict[str, object]] = dict(data.get("files", {}))
        except (OSError, ValueError, AttributeError):
            self.files = {}
        self._lock = threading.Lock()

    def current(self, src: Path, key: str, vo: Path) -> bool:
        entry = self.files.get(str(src))
        st = _stat(vo)
        return bool(entry) and entry.get("key") == key and st is not None and list(st) == entry.get("vo")

    def record(self, src: Path, key: str | None, vo: Path) -> None:
        with self._lock:
            st = _stat(vo)
            if key is None or st is None:
                self.files.pop(str(src), None)
            else:
                self.files[str(src)] = {"key": key, "vo": list(st)}
            tmp = self.path.with_name(f"manifest.{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"version": 1, "files": self.files}, indent=0), encoding="utf-8")
            os.replace(tmp, self.path)


def _private_vo(project: _Project, src: Path) -> Path:
    return private_folder(project.root, src.parent) / (src.stem + ".vo")


def _remove_private(vo: Path) -> None:
    """Remove a private .vo and its companions (a process that has it open keeps reading the old file)."""
    for suffix in (".vo", ".vos", ".vok", ".glob"):
        try:
            vo.with_suffix(suffix).unlink()
        except OSError:
            pass
    try:
        (vo.parent / f".{vo.stem}.aux").unlink()
    except OSError:
        pass


# --------------------------------------------------------------------------------------------------
# the build


def build_dependencies(files: Iterable[Path], *, sources: Mapping[Path, bytes] | None = None, jobs: int = 1,
                       progress: Progress | None = None, cancel: threading.Event | None = None,
                       timeout: float = DEFAULT_BUILD_TIMEOUT) -> BuildReport:
    """Make the .vo of every project file that `files` (Coq sources; others are ignored) load, transitively,
    available and up to date, in dependency order; `jobs` compiles at once. `sources`: texts that replace what is
    on disk for some of `files` when finding what they load (an editor's unsaved text). `progress` is called once
    with (0, total, None) when it is known how many files must be compiled, then after each one.

    Raises:
        ProverUnavailable: coqc or coqdep is not installed.
    """
    t0 = time.monotonic()
    overrides = {Path(os.path.abspath(p)): b for p, b in (sources or {}).items()}
    by_root: dict[Path, tuple[_Project, list[Path]]] = {}
    for f in files:
        f = Path(os.path.abspath(f))
        if f.suffix != ".v":
            continue
        try:
            cp: CoqProject = coq_project_for(f, private_build=False)
        except AutoProveError:
            continue  # finding its goals says what is wrong with its _CoqProject
        key = cp.root
        if key not in by_root:
            by_root[key] = (_Project(cp.root, cp.args, cp.files), [])
        by_root[key][1].append(f)
    before, last = 0, [0]  # files to build in the projects already done; this project's count

    def each(done: int, total: int, f: Path | None) -> None:
        last[0] = total
        if progress:
            progress(before + done, before + total, f)

    reports = []
    for p, fs in by_root.values():
        reports.append(_build_project(p, fs, overrides, jobs, each, cancel, timeout))
        before, last[0] = before + last[0], 0
    return BuildReport(
        built=tuple(f for r in reports for f in r.built),
        up_to_date=tuple(f for r in reports for f in r.up_to_date),
        in_place=tuple(f for r in reports for f in r.in_place),
        failures=tuple(x for r in reports for x in r.failures),
        blocked={k: v for r in reports for k, v in r.blocked.items()},
        needs={k: v for r in reports for k, v in r.needs.items()},
        seconds=time.monotonic() - t0,
        cancelled=any(r.cancelled for r in reports),
    )


def _reach(project: _Project, start: Iterable[Path]) -> set[Path]:
    """Everything `start` loads, directly or not (and `start`)."""
    seen: set[Path] = set()
    stack = list(start)
    while stack:
        f = stack.pop()
        if f not in seen:
            seen.add(f)
            stack.extend(project.deps.get(f, ()))
    return seen


def _order(project: _Project, needed: set[Path]) -> tuple[list[Path], set[Path]]:
    """`needed` in dependency order, and the files on dependency cycles (left out)."""
    cyclic: set[Path] = set()
    while True:
        nodes = needed - cyclic
        graph = {f: [d for d in project.deps.get(f, ()) if d in nodes] for f in sorted(nodes)}
        try:
            return list(TopologicalSorter(graph).static_order()), cyclic
        except CycleError as e:
            cyclic.update(e.args[1])


def _build_project(project: _Project, searched: list[Path], overrides: Mapping[Path, bytes], jobs: int,
                   progress: Progress | None, cancel: threading.Event | None, timeout: float) -> BuildReport:
    _closure(project, searched, overrides)
    needs = {s: frozenset(_reach(project, project.deps.get(s, ()))) for s in searched}
    needed: set[Path] = set().union(*needs.values()) if needs else set()
    if not needed:
        if progress:
            progress(0, 0, None)
        return BuildReport(needs=needs)
    build_dir = project.root / PRIVATE_BUILD
    try:
        build_dir.mkdir(parents=True, exist_ok=True)
        with open(build_dir / ".lock", "a+") as lock:  # one build of a project at a time (the CLI and an editor's)
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                return _build_locked(project, searched, needs, needed, jobs, progress, cancel, timeout)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
    except OSError as e:  # e.g. .auto-prove is a file: as without a build (the .vo beside the sources, if any)
        log.warning("dependencies not built: cannot write %s: %s", build_dir, e.strerror or e)
        return BuildReport(needs=needs)


def _usable_in_place(project: _Project, order: list[Path], failed: Mapping[Path, str]) -> set[Path]:
    """The files whose .vo beside the source `make` would call up to date: not older than the source nor than the
    .vo of its dependencies, which are usable in place too, and made by this Coq."""
    magic = _vo_magic()
    out: set[Path] = set()
    for f in order:
        st = _stat(f.with_suffix(".vo"))
        if st is None or f in failed or magic is None:
            continue
        try:
            with open(f.with_suffix(".vo"), "rb") as fh:
                if f.stat().st_mtime_ns > st[1] or fh.read(_MAGIC_LEN) != magic:
                    continue
        except OSError:
            continue
        if all(d in out and (_stat(d.with_suffix(".vo")) or (0, 1 << 62))[1] <= st[1] for d in project.deps.get(f, ())):
            out.add(f)
    return out


def _build_locked(project: _Project, searched: list[Path], needs: dict[Path, frozenset[Path]], needed: set[Path],
                  jobs: int, progress: Progress | None, cancel: threading.Event | None,
                  timeout: float) -> BuildReport:
    # every private folder exists before any coqc starts: `-R` binds the subfolders present at start-up, and the
    # arguments (hence the provers' and caches' keys) stay the same from the first build on
    order, cyclic = _order(project, needed)
    for _, folder, _ in load_path(project.root, project.args):
        private_folder(project.root, folder).mkdir(parents=True, exist_ok=True)
    for f in order:
        _private_vo(project, f).parent.mkdir(parents=True, exist_ok=True)
    manifest = _Manifest(project.root)
    version, all_args = coq_source.coq_version(), project.all_args
    failed = {f: "on a dependency cycle: " + " ".join(sorted(_rel(c, project.root) for c in cyclic)) for f in cyclic}
    failed.update({f: f"coqdep: {project.errors[f]}" for f in order if f in project.errors})
    in_place = _usable_in_place(project, order, failed)
    keys: dict[Path, str] = {}

    def key_of(f: Path) -> str:
        """What a private .vo of `f` is built from: Coq, arguments, its text and what it loads, as they are now."""
        if f not in keys:
            parts = [version, list(all_args), str(f), _sha(f), [_sha(p) for p in project.loads.get(f, ())]]
            for d in project.deps.get(f, ()):
                parts.append([str(d), "in place", list(_stat(d.with_suffix(".vo")) or ())] if d in in_place
                             else [str(d), key_of(d)])
            keys[f] = hashlib.sha256(json.dumps(parts).encode()).hexdigest()
        return keys[f]

    up_to_date: list[Path] = []
    to_build: list[Path] = []
    for f in order:
        vo = _private_vo(project, f)
        if f in in_place:
            if _stat(vo) is not None:  # a private copy would be loaded instead: it goes
                _remove_private(vo)
                manifest.record(f, None, vo)
        elif f not in failed:
            (up_to_date if manifest.current(f, key_of(f), vo) else to_build).append(f)
    blocked_by = {g: bad for bad in failed for g in to_build if bad in _reach(project, project.deps.get(g, ()))}
    procs: set[subprocess.Popen[bytes]] = set()  # this build's coqc runs (killed when cancelled)

    def compile_one(f: Path) -> str | None:
        vo = _private_vo(project, f)
        _remove_private(vo)  # never a stale .vo left behind when this compile fails
        manifest.record(f, None, vo)
        with tempfile.TemporaryDirectory(prefix=temp_prefix("autoprove_build_")) as tmp:
            t1 = time.monotonic()
            code, _, err = _run_tool([COQC, "-noglob", *all_args, str(f), "-o", str(vo)], Path(tmp), timeout, procs)
        log.debug("built %s in %.2f s (exit %s)", f, time.monotonic() - t1, code)
        if code != 0:
            _remove_private(vo)
            return f"coqc timed out after {timeout:g} s" if code is None else _error_line(err, f)
        manifest.record(f, key_of(f), vo)
        return None

    built: list[Path] = []
    total, done, cancelled = len(to_build), 0, False
    if progress:
        progress(0, total, None)
    sorter = TopologicalSorter({f: [d for d in project.deps.get(f, ()) if d in to_build] for f in to_build})
    sorter.prepare()
    with ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="coq-build") as pool:
        running: dict[Future[str | None], Path] = {}
        try:
            while sorter.is_active():
                if cancel is not None and cancel.is_set():
                    cancelled = True
                    break
                for f in sorter.get_ready():
                    if f in blocked_by:  # something it needs failed: counted, not built
                        sorter.done(f)
                        done += 1
                        if progress:
                            progress(done, total, f)
                    else:
                        running[pool.submit(compile_one, f)] = f
                if not running:
                    continue
                finished, _ = wait(list(running), timeout=0.5, return_when=FIRST_COMPLETED)
                for fut in finished:
                    f = running.pop(fut)
                    why = fut.result()
                    if why is None:
                        built.append(f)
                    else:
                        failed[f] = why
                        blocked_by.update({g: f for g in to_build if g not in blocked_by
                                           and f in _reach(project, project.deps.get(g, ())) - {g}})
                    sorter.done(f)
                    done += 1
                    if progress:
                        progress(done, total, f)
        finally:  # cancelled, interrupted (Ctrl-C) or failed: the compiles still going are killed, not waited for
            if sorter.is_active():
                for proc in list(procs):
                    coq_source._kill_group(proc)  # type: ignore[arg-type]

    return replace(_report(project, searched, needs, [*order, *sorted(cyclic)], failed), built=tuple(built),
                   up_to_date=tuple(up_to_date), in_place=tuple(f for f in order if f in in_place), cancelled=cancelled)


def _report(project: _Project, searched: list[Path], needs: dict[Path, frozenset[Path]], order: list[Path],
            failed: Mapping[Path, str]) -> BuildReport:
    """The failures (the first failed file each searched file needs, in build order, naming every file it holds
    back) and which searched file waits for which."""
    failures: dict[Path, BuildFailure] = {}
    blocked: dict[Path, Path] = {}
    hint = project.hint()
    for s in searched:
        bad = next((f for f in order if f in needs[s] and f in failed), None)
        if bad is not None:
            old = failures.get(bad)
            failures[bad] = BuildFailure(bad, project.root, (old.needed_by if old else ()) + (s,), failed[bad],
                                         hint.replace("{file}", _rel(bad, project.root)))
            blocked[s] = bad
    return BuildReport(failures=tuple(failures.values()), blocked={s: failures[b] for s, b in blocked.items()},
                       needs=needs)


def _error_line(stderr: str, src: Path) -> str:
    """coqc's first error as one line: "line N: Error: ..." (collapsed, at most 200 characters)."""
    try:
        source = src.read_bytes()
    except OSError:
        source = b""
    err = parse_error(stderr, source)
    if err is None:
        text = _first_line(stderr) or "coqc failed"
        line = None
    else:
        text, line = err.message, err.line
    text = " ".join(text.split()).rstrip(".")
    if len(text) > 200:
        text = text[:199] + "…"
    return f"line {line}: {text}" if line else text


def search_waves(files: Sequence[Path], needs: Mapping[Path, frozenset[Path]]) -> list[list[Path]]:
    """`files` in groups to search one after the other when proofs are written as they are found: a file comes
    after every other file of `files` it loads (directly or not), so it is searched against their new text."""
    among = set(files)
    level: dict[Path, int] = {}

    def lvl(f: Path, seen: frozenset[Path] = frozenset()) -> int:
        if f not in level:
            before = [d for d in needs.get(f, frozenset()) if d in among and d != f and d not in seen]
            level[f] = 1 + max((lvl(d, seen | {f}) for d in before), default=-1)
        return level[f]

    waves: dict[int, list[Path]] = {}
    for f in files:
        waves.setdefault(lvl(f), []).append(f)
    return [waves[k] for k in sorted(waves)]


def dependency_digest(paths: Iterable[Path]) -> str:
    """A fingerprint of the texts of `paths` (the project files a file loads, `BuildReport.needs`): a proof or an
    exhausted search recorded under another fingerprint stood on other dependencies. "" for none; a file that cannot
    be read counts by its name alone."""
    files = sorted(set(paths))
    if not files:
        return ""
    h = hashlib.sha256()
    for p in files:  # by name, not path: the same project checked out elsewhere (sync.py) has the same digest
        h.update(Path(p).name.encode() + b"\0")
        try:
            h.update(hashlib.sha256(Path(p).read_bytes()).digest())
        except OSError:
            h.update(b"?")
    return h.hexdigest()
