"""What the dashboard shows, gathered in one place: the blueprint graph checked against the prover, coloured by the
live search (a proof found turns its node green before it is written), coverage over time, the queue, the CPU,
attempts per strategy family, recent proofs with their diff.

Sources: the live workspace (goals, statuses; absent for a static export), the project's ledger (attempts, coverage
history) and the blueprint (`blueprint.check`: the graph and the prover's truth, computed again when a file of the
project or of the blueprint changes). Knows no HTTP: `server.py` serves `graph()` and `state()`, `export.py` writes
them to files, `metrics.py` reads the same numbers.
"""

from __future__ import annotations

import difflib
import logging
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..blueprint.priority import short_name
from ..errors import AutoProveError
from ..ledger import Ledger
from .layout import NODE_H, NODE_W, layered_layout

if TYPE_CHECKING:
    from ..blueprint.check import BlueprintCheck
    from ..live import LiveWorkspace, TrackedGoal

__all__ = ["DashboardModel", "node_states", "proof_diff"]

log = logging.getLogger(__name__)

POLL_SECONDS = 3.0  # how often the project's and the blueprint's files are looked at for changes
RECENT = 20  # recent proofs shown
WATCHED = (".v", ".lean", ".tex")
SKIPPED_DIRS = {"_build", "build", "node_modules", "__pycache__"}  # and every hidden folder (.lake, .git, ...)
LIVE_RANK = {"proved": 0, "searching": 1, "queued": 2, "exhausted": 3, "timeout": 3, "error": 4, "skipped": 5}


def node_states(check: "BlueprintCheck", live_goals: dict[str, str]) -> dict[str, str]:
    """Each node's colour: the prover's word on it (`fully proved`, `proved`, `can prove`, `stated`, `missing`,
    `not formalized`), except that a node whose lemma the live search is working on shows that: `found` (a
    verified proof, not yet in the file), `searching`, `queued`, `exhausted`. `live_goals` maps a lemma's short name
    to its goal's status (the best of its goals)."""
    full = check.blueprint.fully_proved(check.status)
    nxt = set(check.next())
    out: dict[str, str] = {}
    for label, n in check.blueprint.nodes.items():
        st = check.status[label]
        live = [live_goals[short_name(d)] for d in n.decls if short_name(d) in live_goals]
        best = min(live, key=lambda s: LIVE_RANK.get(s, 9)) if live else None
        if st != "proved" and best == "proved":
            out[label] = "found"
        elif st != "proved" and best in ("searching", "queued"):
            out[label] = best
        elif label in full:
            out[label] = "fully proved"
        elif st == "proved":
            out[label] = "proved"
        elif st == "stated" and best in ("exhausted", "timeout"):
            out[label] = "exhausted"
        elif label in nxt:
            out[label] = "can prove"
        else:
            out[label] = st
    return out


def proof_diff(tg: "TrackedGoal", text: str, root: Path | None, context: int = 2) -> str:
    """The unified diff a goal's verified proof makes to the document's text (the edits the verifier checked:
    `patch.plan_edits`); "" when it cannot be planned in this text."""
    from ..patch import apply_patches

    out = tg.out
    if out.replacement is None:
        return ""
    before = text.encode("utf-8")
    try:
        after = apply_patches(before, [(tg.goal, out.replacement)],
                              headers=out.header.split("\n") if out.header else ())
    except ValueError:
        return ""
    name = str(tg.goal.file)
    if root is not None:
        try:
            name = str(Path(tg.goal.file).relative_to(root))
        except ValueError:
            pass
    return "".join(difflib.unified_diff(before.decode("utf-8", "replace").splitlines(True),
                                        after.decode("utf-8", "replace").splitlines(True),
                                        "a/" + name, "b/" + name, n=context))


class DashboardModel:
    """The dashboard's data. `graph()` is the drawing (changes when the blueprint does), `state()` everything that
    moves; `version` grows with every change and `wait(version)` blocks until it does (the live updates)."""

    def __init__(self, root: Path, live: "LiveWorkspace | None" = None, *, blueprint: Path | None = None,
                 poll: float = POLL_SECONDS) -> None:
        self.root = Path(root).resolve()
        self.live = live
        self.where = blueprint
        self.poll = poll
        self._own_ledger = False
        ledger = live.scheduler.ledger if live is not None else None  # the workspace's, else the project's own
        if ledger is None:
            try:
                ledger, self._own_ledger = Ledger(self.root), True
            except AutoProveError as e:
                log.warning("dashboard without a ledger: %s", e)
        self.ledger = ledger
        self.version = 0
        self._cond = threading.Condition()
        self._check: BlueprintCheck | None = None
        self._graph: dict[str, Any] = {"nodes": [], "edges": [], "width": 0, "height": 0, "source": "", "problems": []}
        self.graph_state = "not loaded"  # not loaded | loading | ready | none (no blueprint) | error
        self.graph_error = ""
        self.graph_version = 0  # grows when the drawing changes (the page fetches /api/graph again)
        self._found_at: dict[object, float] = {}  # goal key -> when its proof was first seen
        self._diffs: dict[tuple[object, ...], str] = {}  # (goal key, proof, header, text) -> its diff
        self._state_lock = threading.Lock()
        self._last_point: tuple[int, ...] | None = None
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        if live is not None:
            live.add_listener(self.changed)

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def start(self) -> "DashboardModel":
        """Read the blueprint and check it in the background, then watch its files and the project's (idempotent;
        the first page load calls it, so a dashboard nobody opens costs nothing)."""
        with self._cond:
            if self._thread is not None:
                return self
            self.graph_state = "loading"
            self._thread = threading.Thread(target=self._graph_loop, name="dashboard-graph", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._closing.set()
        if self.live is not None:
            self.live.remove_listener(self.changed)
        with self._cond:
            self.version += 1
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._own_ledger and self.ledger is not None:
            self.ledger.close()

    @property
    def closed(self) -> bool:
        return self._closing.is_set()

    def changed(self) -> None:
        with self._cond:
            self.version += 1
            self._cond.notify_all()

    def wait(self, version: int, timeout: float) -> int:
        """Block until `version` is passed (or `timeout`); the version now."""
        with self._cond:
            if self.version == version and not self.closed:
                self._cond.wait(timeout)
            return self.version

    # -- the graph ---------------------------------------------------------------------------------------------

    def load_now(self) -> None:
        """Read and check the blueprint in this thread (the static export; the loop calls it too)."""
        from ..blueprint.check import check_blueprint
        from ..blueprint.read import BlueprintError

        try:
            check = check_blueprint(self.root, self.where)
        except BlueprintError as e:
            self._set_graph(None, "none", str(e))
            return
        except AutoProveError as e:  # no prover to ask: the graph is still drawn, from the blueprint's own marks
            from ..blueprint.check import marks_check
            from ..blueprint.read import read_blueprint

            try:
                bp = read_blueprint(self.where if self.where is not None else self.root)
            except AutoProveError:
                self._set_graph(None, "error", str(e))
                return
            self._set_graph(marks_check(bp), "ready", f"not checked against the prover ({e}): the colours are "
                                                      "the blueprint's own marks")
            return
        except Exception as e:  # a reader bug must not take the server down: it is shown
            log.exception("dashboard: checking the blueprint failed")
            self._set_graph(None, "error", f"{type(e).__name__}: {e}")
            return
        if self.live is not None:  # the search's order follows the graph shown (a blueprint's, or Coq's)
            self.live.set_blueprint(check.blueprint)
        self._set_graph(check, "ready", "")

    def _set_graph(self, check: "BlueprintCheck | None", state: str, error: str) -> None:
        graph = self._graph
        if check is not None:
            bp = check.blueprint
            shape = [(n.label, n.deps) for n in bp.nodes.values()]
            if shape != self._graph.get("_shape"):
                lay = layered_layout(list(bp.nodes), {label: n.deps for label, n in bp.nodes.items()})
                graph = {
                    "_shape": shape, "width": lay.width, "height": lay.height, "nodeWidth": NODE_W,
                    "nodeHeight": NODE_H, "edges": [list(e) for e in lay.edges],
                    "nodes": [{"label": n.label, "kind": n.kind, "title": n.title, "decls": list(n.decls),
                               "x": lay.pos[n.label][0], "y": lay.pos[n.label][1]} for n in bp.nodes.values()],
                }
            graph = {**graph, "source": check.source, "problems": list(bp.problems)}
        with self._cond:
            if graph.get("_shape") != self._graph.get("_shape") or graph.get("source") != self._graph.get("source"):
                self.graph_version += 1
            self._check, self._graph = check if check is not None else self._check, graph
            if check is not None or self._check is None:
                self.graph_state, self.graph_error = state, error
            else:  # a later check failed: the last good graph stays, with the error shown beside it
                self.graph_error = error
            self.version += 1
            self._cond.notify_all()
        self._record_point()

    def _watched(self) -> dict[Path, float]:
        """mtime of every source and blueprint file (build folders, dependencies and `.git` not entered)."""
        out: dict[Path, float] = {}
        roots = [self.root] + ([Path(self.where)] if self.where is not None else [])
        for top in roots:
            top = top.parent if top.is_file() else top
            for folder, dirs, files in os.walk(top):
                dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS and not d.startswith(".")]
                for name in files:
                    if name.endswith(WATCHED):
                        p = Path(folder) / name
                        try:
                            out[p] = p.stat().st_mtime
                        except OSError:
                            pass
        return out

    def _graph_loop(self) -> None:
        seen = self._watched()
        self.load_now()
        while not self._closing.wait(self.poll):
            now = self._watched()
            if now != seen:
                seen = now
                self.load_now()

    def graph(self) -> dict[str, Any]:
        with self._cond:
            g = {k: v for k, v in self._graph.items() if not k.startswith("_")}
            return {**g, "state": self.graph_state, "error": self.graph_error, "version": self.graph_version}

    # -- what moves ----------------------------------------------------------------------------------------------

    def _live_goals(self) -> list[tuple[Any, "TrackedGoal"]]:
        if self.live is None:
            return []
        return [(doc, tg) for doc, goals in self.live.tracked() for tg in goals]

    def state(self) -> dict[str, Any]:
        """Everything the page shows besides the drawing (JSON). One caller at a time (its caches are shared)."""
        with self._state_lock:
            return self._state()

    def _state(self) -> dict[str, Any]:
        tracked = self._live_goals()
        live_goals: dict[str, str] = {}
        goals = []
        proofs = []
        now = time.time()
        for doc, tg in tracked:
            out, g = tg.out, tg.goal
            if not g.fillable:
                continue
            name = short_name(g.lemma)
            status = "proved" if out.status == "proved" and out.verified else out.status
            prev = live_goals.get(name)
            if prev is None or LIVE_RANK.get(status, 9) < LIVE_RANK.get(prev, 9):
                live_goals[name] = status
            goals.append({"file": self.rel(g.file), "line": g.line, "lemma": g.lemma, "status": status,
                          "phase": out.phase, "seconds": round(out.seconds, 1), "attempts": out.attempts,
                          "strategy": out.strategy, "message": out.message[:300]})
            if status == "proved":
                at = self._found_at.setdefault(g.key, now)
                text = doc.found_text or doc.text
                memo = (g.key, out.replacement, out.header, hash(text))
                diff = self._diffs.get(memo)
                if diff is None:  # computed once per proof and text, not at every update
                    diff = self._diffs[memo] = proof_diff(tg, text, self.root)
                    while len(self._diffs) > 4 * RECENT + 200:
                        self._diffs.pop(next(iter(self._diffs)))
                proofs.append({"file": self.rel(g.file), "line": g.line, "lemma": g.lemma, "at": at,
                               "strategy": out.strategy, "seconds": round(out.seconds, 2),
                               "label": out.proof_label(), "diff": diff})
        proofs.sort(key=lambda p: -p["at"])
        with self._cond:
            check, version, graph_state, graph_version = self._check, self.version, self.graph_state, self.graph_version
        state: dict[str, Any] = {
            "version": version, "at": now, "project": str(self.root), "graph": graph_state,
            "graphVersion": graph_version,
            "graphError": self.graph_error,
            "status": self.live.status() if self.live is not None else None,
            "machineCpu": _machine_cpu(),
            "goals": sorted(goals, key=lambda x: (LIVE_RANK.get(x["status"], 9), x["file"], x["line"])),
            "proofs": proofs[:RECENT], "families": self.families(), "history": self.history(),
            "nodes": {}, "coverage": None, "next": [], "criticalPath": [], "falseGreens": [], "missingGreens": [],
            "tickets": self.tickets(),
        }
        if check is not None:
            states = node_states(check, live_goals)
            c = check.coverage
            state.update({
                "nodes": states,
                "coverage": {"nodes": c.total, "stated": c.stated, "canProve": c.can_prove, "proved": c.proved,
                             "fullyProved": c.fully_proved, "found": sum(v == "found" for v in states.values())},
                "next": check.next(), "criticalPath": check.critical_path(),
                "falseGreens": [{"label": lb, "why": why} for lb, why in check.false_greens()],
                "missingGreens": check.missing_greens(),
            })
            self._record_point(state["coverage"])
        return state

    def rel(self, p: Path) -> str:
        try:
            return str(Path(p).relative_to(self.root))
        except ValueError:
            return str(p)

    def families(self) -> list[dict[str, Any]]:
        """Attempts, proofs and seconds per strategy family, over the project's whole ledger."""
        if self.ledger is None:
            return []
        try:
            hist = self.ledger.family_history()
        except AutoProveError as e:
            log.warning("dashboard: %s", e)
            return []
        return [{"family": f, "attempts": n, "proofs": won, "seconds": round(sec, 1)}
                for f, (n, won, sec) in sorted(hist.items(), key=lambda kv: -kv[1][0])]

    def tickets(self) -> list[dict[str, Any]]:
        """Helper lemmas proposed for goals the search could not close (tickets.py), newest first, from the ledger;
        those already accepted into a file are left out."""
        if self.ledger is None:
            return []
        try:
            rows = self.ledger.tickets()
        except AutoProveError:
            return []
        return [{"lemma": r.lemma, "file": self.rel(Path(r.file)), "name": r.name, "statement": r.statement,
                 "status": r.status} for r in rows if r.status != "accepted"][:50]

    def history(self) -> list[list[float]]:
        if self.ledger is None:
            return []
        try:
            return [list(p) for p in self.ledger.coverage_history()]
        except AutoProveError:
            return []

    def _record_point(self, cov: dict[str, int] | None = None) -> None:
        """A coverage point in the ledger whenever the numbers change (coverage over time, across runs)."""
        if cov is None:
            with self._cond:
                check = self._check
            if check is None:
                return
            c = check.coverage
            cov = {"nodes": c.total, "stated": c.stated, "proved": c.proved, "fullyProved": c.fully_proved,
                   "found": self._last_point[4] if self._last_point else 0}
        point = (cov["nodes"], cov["stated"], cov["proved"], cov["fullyProved"], cov["found"])
        with self._cond:
            if point == self._last_point or self.ledger is None:
                return
            self._last_point = point
        try:
            self.ledger.record_coverage(*point)
        except AutoProveError as e:
            log.warning("dashboard: %s", e)

    def check(self) -> "BlueprintCheck | None":
        with self._cond:
            return self._check


def _machine_cpu() -> float:
    try:
        import psutil

        return round(psutil.cpu_percent(interval=None) / 100.0, 3)
    except Exception:
        return 0.0
