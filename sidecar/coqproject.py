"""A Coq project as coqc and coqidetop see it: its root folder and the load-path arguments of `_CoqProject`.

The root of a file is the nearest ancestor folder holding a `_CoqProject`; without one it is the file's own
folder and there are no arguments (coqc and coqidetop put their working folder on the load path themselves,
so a prover started in `root` finds the file's neighbours).

`_CoqProject` is read the way Coq's own `CoqProject_file` reads it: white space separates tokens, `#` starts
a comment that runs to the end of the line, a token that starts with `"` runs to the next `"`. Recognised:
`-R dir Name`, `-Q dir Name`, `-I dir`, `-arg X` (X split on spaces; single quotes keep spaces), file and
folder names (`.v` files are listed in `files`), `VAR = value` definitions and the coq_makefile-only options
`-docroot`, `-native-compiler`, `-generate-meta-for-package` (ignored). Directories are resolved against the
`_CoqProject`'s folder and must exist.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

from .errors import ProjectConfigError

__all__ = ["CoqProject", "coq_project_for", "find_project_root", "load_path", "parse_coq_project", "private_build_args",
           "private_folder", "source_of_logical", "PRIVATE_BUILD"]

PROJECT_FILE = "_CoqProject"
PRIVATE_BUILD = Path(".auto-prove") / "build"  # under the project root: the .vo files `build.py` compiles


@dataclass(frozen=True)
class CoqProject:
    """Where a Coq file's project lives and the arguments coqc/coqidetop need to load it."""

    root: Path  # folder of the _CoqProject, or the file's folder when there is none
    args: tuple[str, ...] = ()  # e.g. ("-R", "/abs/theories", "Proj", "-w", "-notation-overridden")
    project_file: Path | None = None  # the _CoqProject read, if any
    files: tuple[Path, ...] = ()  # .v files listed in the _CoqProject (absolute)


@dataclass(frozen=True)
class _Token:
    text: str
    line: int


def find_project_root(path: Path) -> tuple[Path, Path | None]:
    """Return (root folder, _CoqProject path or None) for a source file or folder."""
    path = Path(path).absolute()
    start = path if path.is_dir() else path.parent
    for folder in (start, *start.parents):
        candidate = folder / PROJECT_FILE
        if candidate.is_file():
            return folder, candidate
    return start, None


def coq_project_for(path: Path, *, private_build: bool = True) -> CoqProject:
    """Return the project of a Coq source file (its nearest `_CoqProject`, else its folder).

    Its `args` end with the bindings of the private build (`private_build_args`) once `build.py` has made one, so
    that every coqc and coqidetop loads the project files' .vo from there; `private_build=False`: without them.

    Raises:
        ProjectConfigError: the _CoqProject cannot be read, is malformed, or names a missing folder.
    """
    root, project_file = find_project_root(path)
    project = CoqProject(root=root) if project_file is None else parse_coq_project(project_file)
    if not private_build:
        return project
    mirrors = private_build_args(project.root, project.args)
    return replace(project, args=project.args + mirrors) if mirrors else project


def _tokenize(text: str) -> list[_Token]:
    """Split _CoqProject text into tokens, dropping `#` comments."""
    tokens: list[_Token] = []
    i, n, line = 0, len(text), 1
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            i += 1
        elif c in " \t\r":
            i += 1
        elif c == "#":
            while i < n and text[i] != "\n":
                i += 1
        elif c == '"':
            j = text.find('"', i + 1)
            if j < 0:
                raise ValueError(f"line {line}: unterminated string")
            tokens.append(_Token(text[i + 1 : j], line))
            line += text.count("\n", i, j)
            i = j + 1
        else:
            j = i
            while j < n and text[j] not in " \t\r\n#":
                j += 1
            tokens.append(_Token(text[i:j], line))
            i = j
    return tokens


def _split_extra(arg: str) -> list[str]:
    """Split an `-arg` value on unquoted spaces; single quotes group and are dropped (as coq_makefile does)."""
    out: list[str] = []
    buf: list[str] = []
    quoted = pending = False
    for c in arg:
        if c == "'":
            quoted = not quoted
            pending = True
        elif c == " " and not quoted:
            if pending:
                out.append("".join(buf))
                buf, pending = [], False
        else:
            buf.append(c)
            pending = True
    if pending:
        out.append("".join(buf))
    return out


def parse_coq_project(project_file: Path) -> CoqProject:
    """Parse one `_CoqProject` file.

    Raises:
        ProjectConfigError: unreadable, malformed, or a -R/-Q/-I folder that does not exist.
    """
    project_file = Path(project_file).absolute()
    base = project_file.parent
    try:
        text = project_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProjectConfigError(f"{project_file}: cannot read: {exc}") from exc
    try:
        tokens = _tokenize(text)
    except ValueError as exc:
        raise ProjectConfigError(f"{project_file}: {exc}") from exc

    includes: list[str] = []  # -I
    q_paths: list[str] = []
    r_paths: list[str] = []
    extra: list[str] = []
    files: list[Path] = []

    def fail(tok: _Token, message: str) -> ProjectConfigError:
        return ProjectConfigError(f"{project_file}:{tok.line}: {message}")

    def folder(tok: _Token, option: str) -> str:
        p = Path(tok.text)
        p = p if p.is_absolute() else base / p
        if not p.is_dir():
            raise fail(tok, f"{option} {tok.text}: no such directory ({p})")
        return str(p.resolve())

    i = 0
    while i < len(tokens):
        tok = tokens[i]
        t = tok.text

        def need(k: int) -> list[_Token]:
            if i + k >= len(tokens):
                raise fail(tok, f"{t} needs {k} argument{'s' if k > 1 else ''}")
            return tokens[i + 1 : i + 1 + k]

        if t in ("-R", "-Q"):
            d, name = need(2)
            (r_paths if t == "-R" else q_paths).extend([t, folder(d, t), name.text])
            i += 3
        elif t == "-I":
            (d,) = need(1)
            includes.extend(["-I", folder(d, t)])
            i += 2
        elif t == "-arg":
            (a,) = need(1)
            extra.extend(_split_extra(a.text))
            i += 2
        elif t in ("-docroot", "-native-compiler", "-generate-meta-for-package"):
            need(1)
            i += 2
        elif t in ("-f", "-o"):
            raise fail(tok, f"option {t} is not allowed in a project file")
        elif i + 2 < len(tokens) and tokens[i + 1].text == "=":
            i += 3  # VAR = value (coq_makefile variable)
        elif t.startswith("-"):
            raise fail(tok, f"unknown option {t}")
        else:
            p = Path(t)
            p = p if p.is_absolute() else base / p
            if p.suffix == ".v":
                files.append(p)
            i += 1

    # coqtop_args_from_project order: -I, -Q, -R, then the extra arguments
    args = tuple(includes + q_paths + r_paths + extra)
    return CoqProject(root=base, args=args, project_file=project_file, files=tuple(files))


def source_of_logical(name: str, args: tuple[str, ...], root: Path) -> tuple[Path, tuple[str, ...]] | None:
    """The project's own `.v` file that defines the qualified `name` (e.g. `Proj.Sub.B.M.lem`) and what the name is
    inside that file (`("M", "lem")`), through the `-R`/`-Q` bindings of `args` and the root folder (bound to the
    empty logical path, as coqc binds its working folder); None when no file under `root` holds it — a library's
    name, or an unknown one. The longest file match wins, as for Coq's own lookup of `Require`d modules."""
    root = Path(root).absolute()
    bindings = [(Path(args[i + 1]), args[i + 2]) for i in range(len(args) - 2) if args[i] in ("-R", "-Q")]
    bindings.append((root, ""))
    comps = name.split(".")
    for folder, logical in bindings:
        prefix = logical.split(".") if logical else []
        if comps[: len(prefix)] != prefix:
            continue
        rest = comps[len(prefix):]
        for k in range(len(rest) - 1, 0, -1):
            candidate = folder.joinpath(*rest[: k - 1], rest[k - 1] + ".v")
            try:
                inside_root = candidate.resolve().is_relative_to(root.resolve())
            except OSError:
                continue
            if inside_root and candidate.is_file():
                return candidate, tuple(rest[k:])
    return None


# --------------------------------------------------------------------------------------------------
# the private build's folders (build.py fills them; every coqc and coqidetop of a project binds them last)


def load_path(root: Path, args: Sequence[str]) -> list[tuple[str, Path, str]]:
    """The .vo bindings (flag, folder, logical name) coqc gets from `run_coqc`: the root bound to the empty logical
    name, then every `-Q`/`-R` of `args`, in order."""
    out: list[tuple[str, Path, str]] = [("-Q", Path(root).absolute(), "")]
    i = 0
    while i < len(args):
        if args[i] in ("-R", "-Q") and i + 2 < len(args):
            out.append((args[i], Path(args[i + 1]), args[i + 2]))
            i += 3
        else:
            i += 1
    return out


def logical_name(file: Path, root: Path, args: Sequence[str]) -> str | None:
    """The library name coqc gives the source `file` under `load_path(root, args)` (the binding of the deepest folder
    that holds it wins, the later of equals), e.g. `Proj.Sub.B`; None when no binding holds it."""
    real = Path(file).absolute()
    best: tuple[int, str] | None = None
    for _, folder, log in load_path(root, args):
        folder = Path(folder).absolute()
        if real.is_relative_to(folder) and (best is None or len(folder.parts) >= best[0]):  # later binds win
            rel = real.relative_to(folder).with_suffix("").parts
            best = (len(folder.parts), ".".join(([log] if log else []) + list(rel)))
    return best[1] if best is not None else None


def private_folder(root: Path, folder: Path) -> Path:
    """Where the private build puts the .vo files of `folder`'s sources: the same relative place under
    `<root>/.auto-prove/build/root/` (a folder outside the root: under `.../build/outside/<its absolute path>`), so
    the private tree has the shape of the sources and the same bindings give the same logical names."""
    base = Path(root).resolve()
    real = Path(folder).resolve()
    if real.is_relative_to(base):
        return base / PRIVATE_BUILD / "root" / real.relative_to(base)
    return base / PRIVATE_BUILD / "outside" / real.relative_to(real.anchor)


def private_build_args(root: Path, args: Sequence[str], *, existing_only: bool = True) -> tuple[str, ...]:
    """The bindings of the private build: each binding of `load_path(root, args)` again, in the same order, with
    its private folder (only those that exist, unless `existing_only` is False). Appended after the project's own
    arguments they take precedence: of two folders bound to one logical path Coq loads from the one bound last
    (measured with Coq 8.16: `-R src P -R build P` loads build/X.vo), so a stale .vo beside a source is never
    loaded when the private build has that file."""
    if existing_only and not (Path(root).resolve() / PRIVATE_BUILD / "root").is_dir():
        return ()
    out: list[str] = []
    for flag, folder, logical in load_path(root, args):
        mirror = private_folder(root, folder)
        if not existing_only or mirror.is_dir():
            out += [flag, str(mirror), logical]
    return tuple(out)
