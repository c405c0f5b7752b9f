"""Where the blueprint graph's nodes go on the page: a layered drawing (dependencies above what uses them), computed
once per graph here so that the browser only draws it and the static export draws the same picture.

Layers by the longest chain of uses below each node (a cycle's back edges are set aside first), order within a layer
by a few sweeps of the barycentre heuristic, then even spacing. Plain Python: 500 nodes take milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

__all__ = ["Layout", "layered_layout", "NODE_W", "NODE_H"]

NODE_W, NODE_H = 150.0, 36.0
GAP_X, GAP_Y = 24.0, 70.0
SWEEPS = 6


@dataclass(frozen=True)
class Layout:
    pos: dict[str, tuple[float, float]]  # node -> centre (x, y)
    edges: list[tuple[str, str]]  # (used, user): drawn from the dependency down to the node that uses it
    width: float
    height: float


def _acyclic(nodes: Sequence[str], deps: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """`deps` without the edges that close a cycle (found by depth-first search; iterative, for deep graphs)."""
    known = set(nodes)
    keep: dict[str, list[str]] = {n: [] for n in nodes}
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    for root in nodes:
        if root in state:
            continue
        state[root] = 1
        stack = [(root, iter([d for d in deps.get(root, ()) if d in known]))]
        while stack:
            node, it = stack[-1]
            d = next(it, None)
            if d is None:
                state[node] = 2
                stack.pop()
                continue
            if state.get(d) == 1:
                continue  # a back edge: part of a cycle, not drawn as a layer constraint
            keep[node].append(d)
            if d not in state:
                state[d] = 1
                stack.append((d, iter([x for x in deps.get(d, ()) if x in known])))
    return keep


def layered_layout(nodes: Sequence[str], deps: Mapping[str, Sequence[str]]) -> Layout:
    """Positions for `nodes`, where `deps[n]` are the nodes `n` uses (unknown names are ignored)."""
    order = list(dict.fromkeys(nodes))
    known = set(order)
    dag = _acyclic(order, deps)
    layer: dict[str, int] = {}
    for root in order:  # layer = 1 + the deepest layer among what it uses (iterative post-order)
        if root in layer:
            continue
        stack = [root]
        while stack:
            n = stack[-1]
            todo = [d for d in dag[n] if d not in layer]
            if todo:
                stack.extend(todo)
                continue
            stack.pop()
            layer[n] = 1 + max((layer[d] for d in dag[n]), default=-1)
    rows: list[list[str]] = [[] for _ in range(1 + max(layer.values(), default=0))]
    for n in order:
        rows[layer[n]].append(n)
    users: dict[str, list[str]] = {n: [] for n in order}
    for n in order:
        for d in deps.get(n, ()):
            if d in known and d != n:
                users[d].append(n)
    index = {n: i for row in rows for i, n in enumerate(row)}

    def sweep(row: list[str], neighbours: Mapping[str, Sequence[str]]) -> None:
        def key(n: str) -> tuple[float, int]:
            ns = [index[m] for m in neighbours.get(n, ()) if m in index]
            return (sum(ns) / len(ns) if ns else float(index[n]), index[n])

        row.sort(key=key)
        for i, n in enumerate(row):
            index[n] = i

    for _ in range(SWEEPS):
        for row in rows[1:]:
            sweep(row, deps)
        for row in reversed(rows[:-1]):
            sweep(row, users)
    widest = max((len(r) for r in rows), default=0)
    width = max(1, widest) * (NODE_W + GAP_X)
    pos: dict[str, tuple[float, float]] = {}
    for y, row in enumerate(rows):
        x0 = (width - len(row) * (NODE_W + GAP_X)) / 2 + (NODE_W + GAP_X) / 2
        for i, n in enumerate(row):
            pos[n] = (round(x0 + i * (NODE_W + GAP_X), 1), round(GAP_Y / 2 + NODE_H / 2 + y * (NODE_H + GAP_Y), 1))
    edges = [(d, n) for n in order for d in dict.fromkeys(deps.get(n, ())) if d in known and d != n]
    return Layout(pos, edges, width, len(rows) * (NODE_H + GAP_Y) + GAP_Y / 2)
