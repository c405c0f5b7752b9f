"""A blueprint's dependency graph and what the prover says of it: coverage, false and missing greens, what can be
proved next, and the critical path to a target.

A node is *stated* when every declaration it names exists; *proved* when, besides, none of them is admitted or
depends on an admitted (`sorry`) lemma — the prover's word (`truth.py`), never the LaTeX's; *fully proved* when it
and every node it uses are proved. It *can be proved next* when it is stated, not proved, and every node it uses
is proved. A `\\leanok` (`\\rocqok`) that claims a proof the prover does not confirm is a *false green*; a proof the
prover confirms without the mark is a *missing green*. Nodes with no declarations are *not formalized*.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Literal, Mapping

__all__ = ["Blueprint", "Coverage", "DeclTruth", "Node", "NodeStatus"]

NodeStatus = Literal["not formalized", "missing", "stated", "proved"]


@dataclass(frozen=True)
class Node:
    label: str
    kind: str = ""  # definition | lemma | theorem | ...
    title: str = ""
    decls: tuple[str, ...] = ()  # \lean{} / \rocq{}
    leanok: bool = False  # \leanok / \rocqok on the statement
    mathlibok: bool = False
    notready: bool = False
    uses: tuple[str, ...] = ()  # \uses{} of the statement
    has_proof: bool = False
    proof_leanok: bool = False  # \leanok in its proof
    proof_uses: tuple[str, ...] = ()

    @property
    def deps(self) -> tuple[str, ...]:
        """Every node this one uses, in its statement or its proof (each once)."""
        return tuple(dict.fromkeys(self.uses + self.proof_uses))

    @property
    def marked_proved(self) -> bool:
        """What the LaTeX claims: leanblueprint's green (the statement marked, and its proof when it has one)."""
        return self.mathlibok or (self.leanok and (not self.has_proof or self.proof_leanok))


@dataclass(frozen=True)
class DeclTruth:
    """The prover's word on one declaration."""

    exists: bool
    open: tuple[str, ...] = ()  # admitted lemmas (the declaration itself, or ones it depends on) and project axioms
    axioms: tuple[str, ...] = ()  # library axioms it depends on (allowed; reported)


@dataclass(frozen=True)
class Coverage:
    total: int
    stated: int
    can_prove: int
    proved: int
    fully_proved: int


@dataclass
class Blueprint:
    nodes: dict[str, Node]
    problems: list[str] = field(default_factory=list)  # what the reader said: unresolved labels, unknown commands
    # "blueprint" (LaTeX), or "coq-dpdgraph": the graph Coq gives, whose edges are what proofs use (an admitted
    # lemma's proof uses nothing), so that a lemma proved over an admitted one is open too (`priority.goal_ranks`)
    source: str = "blueprint"

    @classmethod
    def of(cls, nodes: Iterable[Node], problems: Iterable[str] = (), source: str = "blueprint") -> "Blueprint":
        return cls({n.label: n for n in nodes}, list(problems), source)

    def decls(self) -> list[str]:
        return list(dict.fromkeys(d for n in self.nodes.values() for d in n.decls))

    def cycles(self) -> list[list[str]]:
        """Each cycle of the uses (a node using itself through others), as the labels along it."""
        found: list[list[str]] = []
        color: dict[str, int] = {}
        stack: list[str] = []

        def visit(label: str) -> None:
            color[label] = 1
            stack.append(label)
            for d in self.nodes[label].deps:
                if d not in self.nodes:
                    continue
                if color.get(d) == 1:
                    found.append(stack[stack.index(d):] + [d])
                elif d not in color:
                    visit(d)
            stack.pop()
            color[label] = 2

        for label in sorted(self.nodes):
            if label not in color:
                visit(label)
        return found

    def status(self, truth: Mapping[str, DeclTruth]) -> dict[str, NodeStatus]:
        out: dict[str, NodeStatus] = {}
        for label, n in self.nodes.items():
            if not n.decls:
                out[label] = "not formalized"
                continue
            facts = [truth.get(d) for d in n.decls]
            if any(f is None or not f.exists for f in facts):
                out[label] = "missing"
            elif any(f.open for f in facts if f is not None):
                out[label] = "stated"
            else:
                out[label] = "proved"
        return out

    def fully_proved(self, status: Mapping[str, NodeStatus]) -> set[str]:
        memo: dict[str, bool] = {}

        def full(label: str, seen: frozenset[str]) -> bool:
            if label in memo:
                return memo[label]
            if label in seen or label not in self.nodes:
                return False  # a cycle or a dangling use is never fully proved
            ok = status.get(label) == "proved" and all(full(d, seen | {label}) for d in self.nodes[label].deps)
            memo[label] = ok
            return ok

        return {label for label in self.nodes if full(label, frozenset())}

    def can_prove_next(self, status: Mapping[str, NodeStatus]) -> list[str]:
        """Stated, not proved, and every node it uses proved: what a search (or a person) can close now."""
        return sorted(label for label, n in self.nodes.items() if status[label] == "stated"
                      and all(status.get(d) == "proved" for d in n.deps))

    def coverage(self, status: Mapping[str, NodeStatus]) -> Coverage:
        values = list(status.values())
        return Coverage(total=len(values), stated=sum(v in ("stated", "proved") for v in values),
                        can_prove=len(self.can_prove_next(status)), proved=values.count("proved"),
                        fully_proved=len(self.fully_proved(status)))

    def false_greens(self, status: Mapping[str, NodeStatus]) -> list[str]:
        """Marked proved in the LaTeX, not proved by the prover (a `\\leanok` over a sorry, or over nothing)."""
        return sorted(label for label, n in self.nodes.items()
                      if n.marked_proved and not n.mathlibok and status[label] != "proved")

    def missing_greens(self, status: Mapping[str, NodeStatus]) -> list[str]:
        """Proved by the prover, not marked so in the LaTeX."""
        return sorted(label for label, n in self.nodes.items() if status[label] == "proved" and not n.marked_proved)

    def sinks(self) -> list[str]:
        used = {d for n in self.nodes.values() for d in n.deps}
        return sorted(label for label in self.nodes if label not in used)

    def critical_path(self, status: Mapping[str, NodeStatus], target: str | None = None) -> list[str]:
        """The longest chain of nodes not yet proved that `target` (default: the sink with the longest one) waits
        for, from the first to do to the target; empty when the target is proved."""
        memo: dict[str, list[str]] = {}

        def chain(label: str, seen: frozenset[str]) -> list[str]:
            if label in memo:
                return memo[label]
            if label in seen or label not in self.nodes or status.get(label) == "proved":
                return []
            longest: list[str] = []
            for d in self.nodes[label].deps:
                c = chain(d, seen | {label})
                if len(c) > len(longest):
                    longest = c
            memo[label] = longest + [label]
            return memo[label]

        targets = [target] if target is not None else self.sinks()
        best: list[str] = []
        for t in targets:
            c = chain(t, frozenset())
            if len(c) > len(best):
                best = c
        return best

    def unblocks(self, status: Mapping[str, NodeStatus]) -> dict[str, int]:
        """For each node not proved: how many nodes not proved depend on it, directly or not (what proving it
        brings nearer) — the scheduler's order among goals."""
        users: dict[str, set[str]] = {label: set() for label in self.nodes}
        for label, n in self.nodes.items():
            for d in n.deps:
                if d in users:
                    users[d].add(label)
        out: dict[str, int] = {}
        for label in self.nodes:
            if status.get(label) == "proved":
                continue
            seen: set[str] = set()
            todo = list(users[label])
            while todo:
                u = todo.pop()
                if u not in seen and u != label:
                    seen.add(u)
                    todo.extend(users[u])
            out[label] = sum(status.get(u) != "proved" for u in seen)
        return out
