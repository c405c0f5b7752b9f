"""Find and read a blueprint: plasTeX (tex_reader.py) in a subprocess of its own, on a copy of the blueprint's
folder (parsing writes files), with a time limit; what plasTeX complains of (an unresolved label, an unknown
command) becomes the blueprint's problems, and a blueprint that does not parse is one clear error."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from ..errors import AutoProveError
from ..procs import run, temp_prefix
from .graph import Blueprint, Node

__all__ = ["BlueprintError", "find_blueprint", "read_blueprint"]

MAIN_NAMES = ("web.tex", "content.tex", "main.tex")  # leanblueprint's layout first: blueprint/src/web.tex
READ_TIMEOUT = 300.0


class BlueprintError(AutoProveError):
    """A blueprint that cannot be found or read."""


def find_blueprint(path: Path) -> Path:
    """The main LaTeX file of the blueprint at `path`: the file itself, or in the folder (or its `blueprint/src/`,
    `src/`) the first of MAIN_NAMES."""
    path = Path(path)
    if path.is_file():
        return path
    for folder in (path / "blueprint" / "src", path / "src", path):
        for name in MAIN_NAMES:
            if (folder / name).is_file():
                return folder / name
    raise BlueprintError(f"no blueprint at {path} (looked for blueprint/src/web.tex, src/web.tex, web.tex, "
                         f"content.tex, main.tex)")


_RECORD = re.compile(r"^(?:\[[^\]]*\] )?(ERROR|WARNING): (.*)$")


def _problems(stderr: str) -> list[str]:
    """plasTeX's errors and warnings (it wraps long ones with indented continuation lines)."""
    out: list[str] = []
    current: list[str] | None = None
    for line in stderr.splitlines():
        m = _RECORD.match(line)
        if m:
            current = [f"{m.group(1).lower()}: {m.group(2).strip()}"]
            out.append("")
        elif current is not None and line.startswith("   ") and not line.strip().startswith("(loading"):
            current.append(line.strip())
        else:
            current = None
            continue
        out[-1] = " ".join(current)
    return [p for p in out if p]


def read_blueprint(path: Path, timeout: float = READ_TIMEOUT) -> Blueprint:
    """The blueprint at `path` (see `find_blueprint`).

    Raises:
        BlueprintError: not found, plasTeX or its plugins missing, a parse that fails or runs out of time.
    """
    main = find_blueprint(path).resolve()
    with tempfile.TemporaryDirectory(prefix=temp_prefix("autoprove_blueprint_")) as tmp:
        copy = Path(tmp) / "src"
        shutil.copytree(main.parent, copy, ignore=shutil.ignore_patterns(".git", "*.pdf", "web", "print"))
        try:
            r = run([sys.executable, "-m", "sidecar.blueprint.tex_reader", str(copy / main.name)],
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout, cwd=copy,
                    env=_env(), start_new_session=True)
        except subprocess.TimeoutExpired:
            raise BlueprintError(f"{main}: reading the blueprint took over {timeout:g} s") from None
    problems = _problems(r.stderr)
    if r.returncode != 0 or not r.stdout.strip():
        if "No module named 'plasTeX'" in r.stderr or "No module named 'leanblueprint'" in r.stderr:
            raise BlueprintError("reading a blueprint needs plasTeX and leanblueprint: pip install "
                                 "'auto-prove[blueprint]'")
        last = next((ln.strip() for ln in reversed(r.stderr.splitlines()) if ln.strip()), "no output")
        errors = [p for p in problems if p.startswith("error")]
        raise BlueprintError(f"{main}: the blueprint does not parse: {last[:300]}"
                             + (f" ({'; '.join(errors)[:500]})" if errors else ""))
    data = json.loads(r.stdout)
    nodes = [Node(label=n["label"], kind=n["kind"], title=n["title"], decls=tuple(n["decls"]), leanok=n["leanok"],
                  mathlibok=n["mathlibok"], notready=n["notready"], uses=tuple(n["uses"]), has_proof=n["has_proof"],
                  proof_leanok=n["proof_leanok"], proof_uses=tuple(n["proof_uses"])) for n in data["nodes"]]
    return Blueprint.of(nodes, problems)


def _env() -> dict[str, str]:
    import os

    here = str(Path(__file__).resolve().parents[2])  # the folder holding `sidecar`, for `-m`
    env = dict(os.environ)
    env["PYTHONPATH"] = here + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env
