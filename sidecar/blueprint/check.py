"""A blueprint checked against the prover: the one result the CLI prints (and the scheduler and dashboard read)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .graph import Blueprint, Coverage, DeclTruth, NodeStatus
from .read import BlueprintError, read_blueprint

__all__ = ["BlueprintCheck", "check_blueprint", "marks_check", "is_coq_project", "is_lean_project", "project_backend"]


@dataclass
class BlueprintCheck:
    blueprint: Blueprint
    truth: dict[str, DeclTruth]
    status: dict[str, NodeStatus]
    target: str | None = None
    # or "coq-dpdgraph": the graph Coq gives a project with no blueprint (no marks to check); or "marks": the
    # blueprint's own marks, the prover not asked (`marks_check`)
    source: str = "blueprint"

    @property
    def coverage(self) -> Coverage:
        return self.blueprint.coverage(self.status)

    def next(self) -> list[str]:
        return self.blueprint.can_prove_next(self.status)

    def critical_path(self) -> list[str]:
        return self.blueprint.critical_path(self.status, self.target)

    def false_greens(self) -> list[tuple[str, str]]:
        """(label, why) of each node marked proved that the prover does not confirm."""
        return [(label, self.why_not_proved(label)) for label in self.blueprint.false_greens(self.status)]

    def missing_greens(self) -> list[str]:
        return self.blueprint.missing_greens(self.status) if self.source == "blueprint" else []

    def why_not_proved(self, label: str) -> str:
        n = self.blueprint.nodes[label]
        if not n.decls:
            return "it names no declaration"
        missing = [d for d in n.decls if not self.truth.get(d, DeclTruth(False)).exists]
        if missing:
            return "no declaration " + ", ".join(missing)
        opened = list(dict.fromkeys(o for d in n.decls for o in self.truth[d].open))
        if not opened:
            return "not proved"
        return "depends on " + ", ".join(opened[:4]) + (" …" if len(opened) > 4 else "") + " (admitted)"

    def unknown_decls(self) -> list[str]:
        """Declarations the blueprint names that the project does not have."""
        return [d for d, t in self.truth.items() if not t.exists]

    def to_json(self) -> dict[str, Any]:
        c = self.coverage
        return {
            "graph": self.source,
            "coverage": {"nodes": c.total, "stated": c.stated, "can_prove": c.can_prove, "proved": c.proved,
                         "fully_proved": c.fully_proved},
            "nodes": [{"label": n.label, "kind": n.kind, "decls": list(n.decls), "status": self.status[n.label],
                       "marked_proved": n.marked_proved, "deps": list(n.deps)} for n in self.blueprint.nodes.values()],
            "can_prove_next": self.next(),
            "critical_path": self.critical_path(),
            "false_greens": [{"label": label, "why": why} for label, why in self.false_greens()],
            "missing_greens": self.missing_greens(),
            "unknown_decls": self.unknown_decls(),
            "cycles": self.blueprint.cycles(),
            "problems": self.blueprint.problems,
        }


def marks_check(bp: Blueprint) -> BlueprintCheck:
    """The blueprint taken at its word, for when the prover cannot be asked (no Lean toolchain, a project that does
    not build): a node marked proved is proved, one naming a declaration stated. No greens to report."""
    status: dict[str, NodeStatus] = {
        label: "proved" if n.marked_proved else "stated" if (n.decls or n.leanok) else "not formalized"
        for label, n in bp.nodes.items()}
    return BlueprintCheck(bp, {}, status, source="marks")


def check_blueprint(project: Path, where: Path | None = None, target: str | None = None,
                    progress: Callable[[str], None] | None = None) -> BlueprintCheck:
    """Read the blueprint at `where` (default: the project's own) and ask the prover about its declarations.

    Raises:
        BlueprintError: no blueprint, one that does not parse, or an unknown target.
        AutoProveError: the project cannot be built or loaded; no Lean toolchain (a Lean project).
    """
    project = Path(project).resolve()
    if progress:
        progress("reading the blueprint")
    source = "blueprint"
    try:
        bp = read_blueprint(where if where is not None else project)
    except BlueprintError:
        if where is not None or not is_coq_project(project):
            raise
        from .truth import coq_graph

        bp, source = coq_graph(project, progress=progress), "coq-dpdgraph"  # no blueprint: the graph Coq gives
    if target is not None and target not in bp.nodes:
        raise BlueprintError(f"no node {target!r} in the blueprint (its sinks: {', '.join(bp.sinks()[:8])})")
    if is_lean_project(project):
        from ..provers.lean import LeanProver
        from .truth import lean_truth

        if progress:
            progress(f"asking Lean about {len(bp.decls())} declarations")
        prover = LeanProver()
        try:
            truth = lean_truth(project, bp.decls(), prover)
        finally:
            prover.close()
    else:
        from .truth import coq_truth

        truth = coq_truth(project, bp.decls(), progress=progress)
    return BlueprintCheck(bp, truth, bp.status(truth), target, source)


def is_lean_project(project: Path) -> bool:
    return any((project / name).exists() for name in ("lakefile.lean", "lakefile.toml", "lean-toolchain"))


def project_backend(project: Path) -> str:
    """"lean" for a Lake project, else "coq": the prover a blueprint of `project` is checked against."""
    return "lean" if is_lean_project(Path(project)) else "coq"


def is_coq_project(project: Path) -> bool:
    return (project / "_CoqProject").is_file() or any(project.glob("*.v"))
