"""The prover's word on a blueprint's declarations (Coq): which exist, and what each depends on that is not proved.

Every module of the project is built (the private build, as for a search) and loaded by one probe file that asks
Coq `Locate` for each name, then `Print Assumptions` for each one found. An assumption that is the project's own
(an `Admitted` lemma — the declaration itself or one it uses — or an axiom the project declares) makes the
declaration open; a library's axiom (e.g. classical logic) is allowed and reported.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable, Sequence

from ..coq_source import run_coqc
from ..coqproject import coq_project_for, logical_name, source_of_logical
from ..errors import AutoProveError
from .graph import Blueprint, DeclTruth, Node

__all__ = ["coq_graph", "coq_truth", "lean_modules", "lean_truth"]

DPDGRAPH = Path("/usr/lib/ocaml/coq/user-contrib/dpdgraph")

PROBE = "autoprove_blueprint_probe"
_FOUND = re.compile(r"^(?:Constant|Inductive|Constructor|Notation|Module|Ltac)\s+(\S+)", re.M)


def project_modules(root: Path) -> list[tuple[Path, str]]:
    """(file, library name) of the project's sources: its _CoqProject's list, else every `.v` under `root` (the
    private build and hidden folders aside)."""
    cp = coq_project_for(root / f"{PROBE}.v", private_build=False)
    files = list(cp.files) or sorted(p for p in Path(root).rglob("*.v")
                                     if not any(part.startswith(".") for part in p.relative_to(root).parts))
    out = []
    for f in files:
        name = logical_name(f, cp.root, cp.args)
        if name and re.fullmatch(r"[\w']+(\.[\w']+)*", name):
            out.append((f, name))
    return out


_DPD_NODE = re.compile(r'^N: (\d+) "([^"]+)" \[(.*)\];\s*$')
_DPD_EDGE = re.compile(r"^E: (\d+) (\d+) ")


def _build_probe(root: Path, timeout: float, progress: Callable[[str], None] | None) -> tuple[str, object]:
    """The `Require` lines of every project module (built privately first) and the project's load arguments."""
    from ..build import build_dependencies

    modules = project_modules(root)
    require = "".join(f"Require {name}.\n" for _, name in modules)  # not imported: Coq prints full names
    probe_path = root / f"{PROBE}.v"
    if progress:
        progress(f"building the project ({len(modules)} files)")
    built = build_dependencies([probe_path], sources={probe_path: require.encode()}, timeout=timeout)
    if built.failures:
        raise AutoProveError(str(built.failures[0]))
    return require, coq_project_for(probe_path)


def coq_graph(root: Path, *, timeout: float = 600.0, progress: Callable[[str], None] | None = None) -> Blueprint:
    """The graph Coq itself gives a project with no blueprint (coq-dpdgraph's `Print FileDependGraph`): a node per
    lemma and definition of the project, named by its full name, using the project's objects its statement and
    proof use (an admitted lemma's proof uses nothing).

    Raises:
        AutoProveError: coq-dpdgraph is not installed, or the project cannot be built.
    """
    if not (DPDGRAPH / "dpdgraph.vo").exists():
        raise AutoProveError("the graph of a Coq project with no blueprint comes from coq-dpdgraph: apt-get install "
                             "libcoq-dpdgraph")
    root = Path(root).resolve()
    require, cp = _build_probe(root, timeout, progress)
    modules = [name for _, name in project_modules(root)]
    if not modules:
        return Blueprint.of([], source="coq-dpdgraph")
    if progress:
        progress("asking Coq for the dependency graph")
    body = (require + "Require dpdgraph.dpdgraph.\nSet DependGraph File \"graph.out\".\n"
            f"Print FileDependGraph {' '.join(modules)}.\n")
    r = run_coqc(body.encode(), PROBE, cp.args, timeout=timeout, load_dir=cp.root,  # type: ignore[attr-defined]
                 time_sentences=False)  # the graph lands beside the probe, read back as an output
    if not r.ok or "graph" not in r.outputs:
        why = r.error.message if r.error is not None else ("timed out" if r.timed_out else r.stderr[-300:])
        raise AutoProveError(f"coq-dpdgraph failed on the project: {why}")
    names: dict[str, tuple[str, str]] = {}
    uses: dict[str, list[str]] = {}
    for line in r.outputs["graph"].splitlines():
        m = _DPD_NODE.match(line)
        if m:
            attrs = dict(a.strip().split("=", 1) for a in m.group(3).split(",") if "=" in a)
            path = attrs.get("path", "").strip('"')
            full = f"{path}.{m.group(2)}" if path else m.group(2)
            names[m.group(1)] = (full, "lemma" if attrs.get("prop") == "yes" else "definition")
            continue
        m = _DPD_EDGE.match(line)
        if m:
            uses.setdefault(m.group(1), []).append(m.group(2))
    nodes = [Node(full, kind=kind, decls=(full,), uses=tuple(sorted(names[u][0] for u in uses.get(i, ()) if u in names)))
             for i, (full, kind) in names.items()]
    return Blueprint.of(sorted(nodes, key=lambda n: n.label), source="coq-dpdgraph")


def coq_truth(root: Path, decls: Sequence[str], *, timeout: float = 600.0,
              progress: Callable[[str], None] | None = None) -> dict[str, DeclTruth]:
    """What Coq says of each name of `decls` in the project at `root`.

    Raises:
        AutoProveError: the project cannot be built or loaded (its first error).
    """
    from ..verify import parse_assumptions

    root = Path(root).resolve()
    require, cp = _build_probe(root, timeout, progress)
    names = [d for d in dict.fromkeys(decls) if re.fullmatch(r"[\w'.]+", d)]

    def ask(body: str) -> dict[str, str]:
        r = run_coqc((require + body).encode(), PROBE, cp.args, timeout=timeout,  # type: ignore[attr-defined]
                     load_dir=cp.root, time_sentences=False)  # type: ignore[attr-defined]
        if not r.ok:
            why = r.error.message if r.error is not None else ("timed out" if r.timed_out else r.stderr[-300:])
            raise AutoProveError(f"loading the project's modules for the blueprint failed: {why}")
        return dict(r.outputs)

    if progress:
        progress(f"locating {len(names)} declarations")
    located = ask("".join(f'Redirect "lo_{k}" Locate {n}.\n' for k, n in enumerate(names)))
    full: dict[str, str] = {}
    for k, n in enumerate(names):  # of several objects of that name, the project's own first
        found = [m.group(1) for m in _FOUND.finditer(located.get(f"lo_{k}", ""))
                 if m.group(0).startswith(("Constant", "Inductive", "Constructor"))]
        ours = [f for f in found if source_of_logical(f, cp.args, cp.root) is not None]
        if ours or found:
            full[n] = (ours or found)[0]
    if progress:
        progress(f"printing the assumptions of {len(full)} declarations")
    printed = ask("".join(f'Redirect "pa_{k}" Print Assumptions {full[n]}.\n'
                          for k, n in enumerate(names) if n in full)) if full else {}
    out: dict[str, DeclTruth] = {}
    for k, n in enumerate(names):
        if n not in full:
            out[n] = DeclTruth(exists=False)
            continue
        _, entries = parse_assumptions(printed.get(f"pa_{k}", ""))
        own: list[str] = []
        lib: list[str] = []
        for _header, name, _unsafe in entries:
            (own if source_of_logical(name, cp.args, cp.root) is not None else lib).append(name)
        out[n] = DeclTruth(exists=True, open=tuple(dict.fromkeys(own)), axioms=tuple(dict.fromkeys(lib)))
    return out


LEAN_PROBE = "AutoProveBlueprintProbe.lean"
_UNKNOWN = re.compile(r"(?i)unknown (?:identifier|constant|declaration)")


def lean_modules(root: Path) -> list[str]:
    """The project's own Lean modules: every `.lean` file under `root` but the Lake files, `.lake/` and hidden
    folders, as module names (`A/B.lean` → `A.B`)."""
    out = []
    for p in sorted(Path(root).rglob("*.lean")):
        rel = p.relative_to(root)
        if rel.parts[0].startswith(".") or rel.name in ("lakefile.lean", LEAN_PROBE) or \
                any(part.startswith(".") for part in rel.parts):
            continue
        out.append(".".join(rel.with_suffix("").parts))
    return out


def lean_truth(root: Path, decls: Sequence[str], prover: object, *, timeout: float = 600.0) -> dict[str, DeclTruth]:
    """What Lean says of each name of `decls` in the project at `root` (built with `lake build`): one REPL command
    that imports every module of the project and asks `#print axioms` of each name. `sorryAx` among a declaration's
    axioms makes it open (Lean does not say which lemma the `sorry` is in); the other axioms are reported.

    Raises:
        AutoProveError: the modules do not load (the project not built), or the REPL fails.
    """
    from ..verify_lean import parse_axioms

    root = Path(root).resolve()
    modules = lean_modules(root)
    names = [d for d in dict.fromkeys(decls) if re.fullmatch(r"[^\s()\[\]{},]+", d)]
    head = "".join(f"import {m}\n" for m in modules) + "\n"
    first = head.count("\n") + 1  # the line of the first `#print axioms`
    source = head + "".join(f"#print axioms {n}\n" for n in names)
    r = prover.run_file(root / LEAN_PROBE, source, root, timeout)  # type: ignore[attr-defined]
    if r.error:
        raise AutoProveError(f"the Lean REPL failed on the blueprint's probe: {r.error}")
    early = [m for m in r.messages if m.severity == "error" and m.line < first]
    if early:
        raise AutoProveError("the project's modules do not load in the Lean REPL (build them with `lake build`): "
                             + " ".join(early[0].data.split())[:300])
    out: dict[str, DeclTruth] = {}
    for m in r.messages:
        k = m.line - first
        if not 0 <= k < len(names):
            continue
        name = names[k]
        if m.severity == "error":
            out[name] = DeclTruth(exists=False) if _UNKNOWN.search(m.data) or name not in out else out[name]
            continue
        parsed = parse_axioms(m.data)
        if parsed is not None:
            axioms = parsed[1]
            out[name] = DeclTruth(exists=True, open=("sorryAx",) if "sorryAx" in axioms else (),
                                  axioms=tuple(sorted(axioms - {"sorryAx"})))
    for name in names:
        out.setdefault(name, DeclTruth(exists=False))  # no answer for it: not a declaration Lean knows
    return out
