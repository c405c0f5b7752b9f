"""What a result stands on besides its goal: the prover toolchain, the libraries the project loads, and the project's
own files. Compared before a cluster worker is given goals (cluster.py) and before a result exported elsewhere is
taken (sync.py): a proof found under another toolchain or another revision of a library is not offered here.

For Coq the toolchain is `coqc --print-version`; the libraries are the folders the project binds outside itself
(`-Q`/`-R` of its _CoqProject: the digest of their .v sources) and the packages installed in Coq's user-contrib (the
digest of their .vo files' names and sizes: the same package version gives the same files). For Lean the toolchain
is the project's `lean-toolchain` and the libraries are the packages pinned in `lake-manifest.json` (their revs).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

__all__ = ["Fingerprint", "fingerprint", "project_files", "SOURCE_SUFFIXES"]

SOURCE_SUFFIXES = (".v", ".lean")
_SKIP = {".auto-prove", ".git", ".lake", "_build", "node_modules"}


@dataclass(frozen=True)
class Fingerprint:
    """One backend's environment in a project: toolchain and library revisions."""

    backend: str
    toolchain: str
    libraries: tuple[tuple[str, str], ...] = ()  # (library, revision), sorted

    @property
    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.as_json(), sort_keys=True).encode()).hexdigest()

    def as_json(self) -> dict[str, object]:
        return {"backend": self.backend, "toolchain": self.toolchain, "libraries": dict(self.libraries)}

    @staticmethod
    def from_json(d: Mapping[str, object]) -> "Fingerprint":
        libs = d.get("libraries") or {}
        if not isinstance(libs, dict):
            raise ValueError("libraries is not a mapping")
        return Fingerprint(str(d["backend"]), str(d["toolchain"]), tuple(sorted((str(k), str(v))
                                                                               for k, v in libs.items())))

    def differences(self, other: "Fingerprint") -> list[str]:
        """How `other` (elsewhere) differs from this one (here), one line each; [] when they are the same."""
        out = []
        if self.toolchain != other.toolchain:
            out.append(f"{self.backend} toolchain {other.toolchain!r} there, {self.toolchain!r} here")
        mine, theirs = dict(self.libraries), dict(other.libraries)
        for name in sorted(set(mine) | set(theirs)):
            a, b = mine.get(name), theirs.get(name)
            if a != b:
                out.append(f"library {name}: " + (f"revision {b[:12]} there" if b else "absent there") + ", "
                           + (f"revision {a[:12]} here" if a else "absent here"))
        return out


def fingerprint(root: Path, backend: str) -> Fingerprint:
    """The environment of `backend` in the project at `root`, as this machine has it."""
    root = Path(root).resolve()
    if backend == "coq":
        from .coq_source import coq_version

        used = _coq_required_roots(root)
        installed = {k: v for k, v in _coq_user_contrib().items() if k.split("/", 1)[1] in used}
        return Fingerprint("coq", coq_version(), tuple(sorted({**installed, **_coq_bound(root)}.items())))
    if backend == "lean":
        return Fingerprint("lean", _read(root / "lean-toolchain").strip() or "unknown",
                           tuple(sorted(_lake_manifest(root).items())))
    raise ValueError(f"unknown backend {backend!r}")


def project_files(root: Path, suffixes: Iterable[str] = SOURCE_SUFFIXES) -> dict[str, str]:
    """The project's proof sources (path relative to `root` -> sha256), the build and tool folders left out."""
    root = Path(root).resolve()
    out: dict[str, str] = {}
    for p in _sources(root, tuple(suffixes)):
        try:
            out[str(p.relative_to(root))] = hashlib.sha256(p.read_bytes()).hexdigest()
        except OSError:
            out[str(p.relative_to(root))] = "unreadable"
    return out


def _sources(root: Path, suffixes: tuple[str, ...]) -> Iterable[Path]:
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in _SKIP and not d.startswith("."))
        for n in sorted(names):
            if n.endswith(suffixes) or n in ("_CoqProject", "lean-toolchain", "lake-manifest.json"):
                yield Path(folder) / n


def _read(p: Path) -> str:
    try:
        return p.read_text(encoding="utf-8")
    except OSError:
        return ""


def _coq_bound(root: Path) -> dict[str, str]:
    """The folders the project's _CoqProject binds outside the project: logical name -> digest of its sources."""
    from .coqproject import PROJECT_FILE, load_path, parse_coq_project

    pf = root / PROJECT_FILE
    if not pf.is_file():
        return {}
    try:
        args = parse_coq_project(pf).args
    except Exception:  # a project file that does not read is the build's error to report, not ours
        return {}
    out: dict[str, str] = {}
    for _, folder, name in load_path(root, args)[1:]:  # [0] is the root itself
        folder = Path(folder).resolve()
        if not folder.is_relative_to(root):
            out[name or str(folder)] = _tree_digest(folder, (".v",), contents=True)
    return out


_REQUIRE = re.compile(r"\bFrom\s+([A-Za-z_][\w']*)\s+Require\b|\bRequire\s+(?:Import\s+|Export\s+)?([A-Za-z_][\w']*)")


def _coq_required_roots(root: Path) -> set[str]:
    """The first component of every library the project's files `Require` (read lexically): the installed packages
    that matter to it."""
    out: set[str] = set()
    for p in _sources(root, (".v",)):
        for m in _REQUIRE.finditer(_read(p) if p.suffix == ".v" else ""):
            out.add(m.group(1) or m.group(2))
    return out


@functools.lru_cache(maxsize=1)
def _coq_user_contrib() -> dict[str, str]:
    """The packages in Coq's user-contrib: name -> digest of their .vo files' names and sizes."""
    try:
        where = subprocess.run(["coqc", "-where"], capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return {}
    uc = Path(where) / "user-contrib" if where else None
    if uc is None or not uc.is_dir():
        return {}
    return {f"user-contrib/{d.name}": _tree_digest(d, (".vo",), contents=False)
            for d in sorted(uc.iterdir()) if d.is_dir()}


def _tree_digest(folder: Path, suffixes: tuple[str, ...], *, contents: bool) -> str:
    h = hashlib.sha256()
    for dirpath, dirs, names in os.walk(folder):
        dirs.sort()
        for n in sorted(names):
            if n.endswith(suffixes):
                p = Path(dirpath) / n
                h.update(str(p.relative_to(folder)).encode() + b"\0")
                try:
                    h.update(hashlib.sha256(p.read_bytes()).digest() if contents else str(p.stat().st_size).encode())
                except OSError:
                    h.update(b"?")
    return h.hexdigest()


def _lake_manifest(root: Path) -> dict[str, str]:
    """Packages pinned in lake-manifest.json: name -> rev (or its input revision when it has no rev)."""
    try:
        doc = json.loads(_read(root / "lake-manifest.json") or "{}")
    except ValueError:
        return {}
    out: dict[str, str] = {}
    for pkg in doc.get("packages", []) if isinstance(doc, dict) else []:
        if isinstance(pkg, dict) and pkg.get("name"):
            out[str(pkg["name"])] = str(pkg.get("rev") or pkg.get("inputRev") or pkg.get("dir") or "")
    return out
