"""The blueprint's word on which goal to search first: a goal whose node more unproved nodes wait on, and one on the
critical path, comes first (the CLI orders its goals by it; the live workspace adds it to its priorities).

It is computed from the goals themselves, without asking the prover: a node is open when one of its declarations
is an open goal's lemma."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterable

from .graph import Blueprint, NodeStatus

__all__ = ["goal_ranks", "load_project_blueprint", "project_blueprint", "read_ranks", "short_name"]

log = logging.getLogger(__name__)

GRAPH_TIMEOUT = 300.0  # seconds for Coq's dependency graph of a project without blueprint


def short_name(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def project_blueprint(root: Path) -> Path | None:
    """The project's own blueprint (`blueprint/` in leanblueprint's layout), if it has one."""
    from .read import BlueprintError, find_blueprint

    folder = Path(root) / "blueprint"
    if not folder.is_dir():
        return None
    try:
        return find_blueprint(folder)
    except BlueprintError:
        return None


def goal_ranks(bp: Blueprint, open_lemmas: Iterable[str]) -> dict[str, float]:
    """Short declaration name -> rank in (0, 1), lower first, for the nodes that name an open lemma: 1 / (1 + how
    many unproved nodes wait on it, plus the critical path's length when it is on that path)."""
    opened = {short_name(n) for n in open_lemmas}
    status: dict[str, NodeStatus] = {}
    for label, n in bp.nodes.items():
        if not n.decls:
            status[label] = "not formalized"
        else:
            status[label] = "stated" if any(short_name(d) in opened for d in n.decls) else "proved"
    if bp.source == "coq-dpdgraph":  # a lemma closed with Qed over an open one waits for it too
        users: dict[str, list[str]] = {label: [] for label in bp.nodes}
        for label, n in bp.nodes.items():
            for d in n.deps:
                if d in users:
                    users[d].append(label)
        todo = [label for label, st in status.items() if st == "stated"]
        while todo:
            for u in users[todo.pop()]:
                if status[u] == "proved":
                    status[u] = "stated"
                    todo.append(u)
    waiting = bp.unblocks(status)
    path = bp.critical_path(status)
    ranks: dict[str, float] = {}
    for label, n in bp.nodes.items():
        if status[label] != "stated":
            continue
        weight = waiting.get(label, 0) + (len(path) if label in path else 0)
        for d in n.decls:
            if short_name(d) in opened:
                ranks[short_name(d)] = min(ranks.get(short_name(d), 1.0), 1.0 / (1.0 + weight))
    return ranks


def load_project_blueprint(root: Path) -> Blueprint | None:
    """The project's own blueprint, read; None when it has none or it cannot be read (said in the log)."""
    from ..errors import AutoProveError
    from .read import read_blueprint

    where = project_blueprint(root)
    if where is None:
        return None
    try:
        return read_blueprint(where)
    except AutoProveError as e:
        log.warning("the project's blueprint is not used for the order of the goals: %s", e)
        return None


def coq_project_graph(root: Path, timeout: float = GRAPH_TIMEOUT) -> Blueprint | None:
    """For a Coq project with no blueprint: the graph Coq gives (`truth.coq_graph`, coq-dpdgraph), or None when the
    project is not Coq, coq-dpdgraph is missing or the project does not build (said in the log). Builds the
    whole project (privately, as the goals' dependencies are built): call it once the goals are found."""
    from ..errors import AutoProveError
    from .check import is_coq_project, is_lean_project
    from .truth import coq_graph

    root = Path(root)
    if is_lean_project(root) or not is_coq_project(root):
        return None
    try:
        return coq_graph(root, timeout=timeout)
    except AutoProveError as e:
        log.info("no order from Coq's dependency graph: %s", e)
        return None


def read_ranks(root: Path, open_lemmas: Iterable[str], coq: bool = False) -> dict[str, float]:
    """`goal_ranks` of the project's blueprint; with `coq`, for a Coq project without one, of the graph Coq gives
    (when the whole project is searched: it is built then anyway). {} without either."""
    opened = list(open_lemmas)
    bp = load_project_blueprint(root)
    if bp is None and coq and len(opened) > 1 and project_blueprint(root) is None:
        bp = coq_project_graph(root)
    return goal_ranks(bp, opened) if bp is not None else {}
