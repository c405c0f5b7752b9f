"""The live workspace: goals of open documents (and of the project's other files) kept in step with edits and
searched in the background by one long-running `Scheduler`.

Editor-agnostic: the language server (`lsp.py`) is a thin shell that turns what this class knows into
diagnostics, hovers and code actions. Here: which goals each document has (found by Coq itself, in a finder
thread, debounced after edits), which ticket each goal has in the scheduler (an edit keeps the ticket of every goal
whose canonical key is unchanged and withdraws the others), and the priority order: the goal asked for
(`prove_here`) first, then goals of open documents, most recently edited first, then the rest of the workspace.
"""

from __future__ import annotations

import bisect
import logging
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from .build import dependency_digest
from .coq_source import blank_comments_and_strings, kill_running_coqc
from .errors import AutoProveError, SourceError
from .goals import FileGoals, Goal, find_lean_goals
from .ledger import Ledger
from .scheduler import GoalOutcome, ProveOptions, Scheduler, Ticket
from .verify import find_and_prime
from .workspace import backend_for

__all__ = ["LiveWorkspace", "Document", "TrackedGoal", "prescan_placeholders"]

if TYPE_CHECKING:
    from .blueprint.graph import Blueprint
    from .sync import SyncReport
    from .endpoint import Suggestion
    from .provers.lean import LeanProver

log = logging.getLogger(__name__)

_PLACEHOLDER = re.compile(r"(?<![A-Za-z0-9_'.])(Admitted\.|admit\.)(?=\s|$)")
TIER_HERE, TIER_OPEN, TIER_WORKSPACE = 0, 1, 2


def prescan_placeholders(text: str, backend: str = "coq") -> list[tuple[int, int, int, int, str]]:
    """Placeholders found lexically (comments and strings masked), as (line, col, end_line, end_col, kind) with
    0-based lines and code-point columns. Only for showing `queued` at once: goals proper come from the prover."""
    if backend == "lean":
        from .lean_source import lean_sorries  # the `sorry` tokens as Lean's lexer reads the file

        found = [(a, b, "sorry") for a, b in lean_sorries(text)]
    else:
        found = [(m.start(), m.end(), "admitted" if m.group(1)[0] == "A" else "admit")
                 for m in _PLACEHOLDER.finditer(blank_comments_and_strings(text))]
    out = []
    line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
    for a, b, kind in found:
        la = bisect.bisect_right(line_starts, a) - 1
        lb = bisect.bisect_right(line_starts, b) - 1
        out.append((la, a - line_starts[la], lb, b - line_starts[lb], kind))
    return out


@dataclass
class TrackedGoal:
    """A goal of a document as last found, and its ticket in the scheduler (shared across edits by key)."""

    goal: Goal
    ticket: Ticket

    @property
    def out(self) -> GoalOutcome:
        return self.ticket.out


@dataclass
class Document:
    """What the workspace knows of one file."""

    path: Path
    backend: str
    text: str
    version: int | None = None  # the editor's version (None: a file that is not open)
    is_open: bool = False
    edited_at: float = 0.0
    edit_line: int | None = None  # 0-based line of the last edit (the goal there, or next after it, goes first)
    goals: list[TrackedGoal] = field(default_factory=list)
    found_text: str | None = None  # the text `goals` were found in
    found_version: int | None = None
    prescan: list[tuple[int, int, int, int, str]] = field(default_factory=list)
    error: str | None = None  # why goals could not be found (or where the file stops compiling)
    error_line: int | None = None  # 1-based
    finding: bool = False
    building: bool = False  # the project files it loads are being compiled (build.py) before its goals are found
    needs: frozenset[Path] = frozenset()  # Coq: the project files it loads, transitively (as last built)


class LiveWorkspace:
    """Documents → goals → scheduler tickets, kept current as documents change."""

    def __init__(self, options: ProveOptions, root: Path | None = None, *,
                 on_document: Callable[[Document], None] | None = None,
                 on_status: Callable[[dict[str, object]], None] | None = None,
                 debounce: float = 0.3, use_ledger: bool = True) -> None:
        self.options = options
        self.root = root
        self.on_document = on_document or (lambda doc: None)
        self.on_status = on_status or (lambda status: None)
        self.debounce = debounce
        self.docs: dict[Path, Document] = {}
        self._lock = threading.RLock()
        self._pending: dict[Path, float] = {}  # path -> time its goals should be (re)found
        self._wake = threading.Condition(self._lock)
        self._closing = False
        self._here: Ticket | None = None
        self._lean: LeanProver | None = None
        self.enabled = True
        ledger = None
        if use_ledger and root is not None:
            try:
                ledger = Ledger(root)
            except AutoProveError as e:
                log.warning("no ledger: %s", e)
        self.scheduler = Scheduler(options, ledger, on_event=self._on_event)
        self.scheduler.on_learning = lambda pending: self._status()
        self._finder = threading.Thread(target=self._find_loop, name="goal-finder", daemon=True)
        self._stop_building = threading.Event()
        self._watch_stops: list[threading.Event] = []  # each watcher's (`watch`), set by `close`
        self._blueprint: Blueprint | None = None  # the project's blueprint (read before the first goals are found)
        self._ranks: tuple[frozenset[str], dict[str, float]] = (frozenset(), {})  # (for these open lemmas, ranks)
        self._listeners: list[Callable[[], None]] = []  # told of every change (the dashboard)

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def start(self) -> "LiveWorkspace":
        self.scheduler.start()
        self._finder.start()
        return self

    def _lean_finder(self) -> "LeanProver":
        """The REPL that runs Lean files to find their sorries (one, kept: starting it costs the imports)."""
        from .provers.lean import LeanProver

        if self._lean is None:
            self._lean = LeanProver()
        return self._lean

    def close(self) -> None:
        with self._lock:
            self._closing = True
            self._wake.notify_all()
            lean, self._lean = self._lean, None
        self._stop_building.set()
        for stop in self._watch_stops:
            stop.set()
        if lean is not None:
            lean.close()
        # goal finding and verification compiles still going would finish on their own, holding the threads
        self.scheduler.cancel()
        kill_running_coqc()
        self.scheduler.close()
        kill_running_coqc()
        if self._finder.is_alive():
            self._finder.join(timeout=10)

    # -- documents ---------------------------------------------------------------------------------------------

    def open(self, path: Path, text: str, version: int | None) -> Document | None:
        """An editor opened `path`; its goals are found and queued ahead of the workspace's."""
        return self._update(path, text, version, opened=True)

    def change(self, path: Path, text: str, version: int | None, edit_line: int | None = None) -> Document | None:
        """The editor's text of `path` changed (at `edit_line`, when known): goals are found again after a short
        pause in typing, and the goal at the edit goes first."""
        with self._lock:
            doc = self.docs.get(path)
            if doc is not None and edit_line is not None:
                doc.edit_line = edit_line
        return self._update(path, text, version, opened=True)

    def close_document(self, path: Path) -> None:
        """The editor closed `path`: its goals drop to workspace priority (the file on disk is what counts)."""
        with self._lock:
            doc = self.docs.get(path)
            if doc is None:
                return
            doc.is_open, doc.version = False, None
            try:
                disk = path.read_text(encoding="utf-8")
            except OSError:
                disk = None
            if disk is None:
                self._drop(doc)
                return
            if disk != doc.text:
                doc.text = disk
                self._pending[path] = time.monotonic()
                self._wake.notify_all()
            self._reprioritize(doc)

    def file_changed(self, path: Path) -> None:
        """A file changed on disk (watcher). Open documents follow the editor, not the disk. The documents that load
        it are found again (which builds it anew first)."""
        with self._lock:
            for d in self.docs.values():
                if path in d.needs:
                    self._pending.setdefault(d.path, time.monotonic() + self.debounce)
                    self._wake.notify_all()
            doc = self.docs.get(path)
            if doc is not None and doc.is_open:
                return
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            with self._lock:
                if path in self.docs and not self.docs[path].is_open:
                    self._drop(self.docs[path])
            return
        self._update(path, text, None, opened=False)

    def watch(self, root: Path, backends: list[str], stop: threading.Event | None = None) -> None:
        """Keep the goals of the files under `root` (of `backends`) current as they change on disk (watchfiles, on a
        thread that ends with `stop` or `close`). Without watchfiles, one warning: files that are not open are then
        read once."""
        try:
            import watchfiles
        except ImportError:
            log.warning("watchfiles is not installed: files that are not open are not watched")
            return
        from .workspace import SUFFIXES

        suffixes = tuple(s for s, b in SUFFIXES.items() if b in backends)
        stop = stop or threading.Event()
        self._watch_stops.append(stop)

        def run() -> None:
            try:
                for changes in watchfiles.watch(root, stop_event=stop, yield_on_timeout=False,
                                                watch_filter=lambda change, p: p.endswith(suffixes) and
                                                "/.auto-prove/" not in p and "/.lake/" not in p):
                    if self._closing:
                        return
                    for _, p in changes:
                        self.file_changed(Path(p).absolute())
            except Exception as e:  # the watcher is a convenience; the workspace goes on without it
                log.warning("watching %s stopped: %s", root, e)

        threading.Thread(target=run, name="watch", daemon=True).start()

    def add_workspace_files(self, paths: list[Path]) -> None:
        """Files of the project that are not open: their goals are searched after the open documents'."""
        for p in paths:
            with self._lock:
                if p in self.docs:
                    continue
            self.file_changed(p)

    def _update(self, path: Path, text: str, version: int | None, opened: bool) -> Document | None:
        backend = backend_for(path)
        if backend is None:
            return None
        with self._lock:
            doc = self.docs.get(path)
            if not opened and doc is not None and doc.is_open:
                return doc  # an open document follows the editor, not the disk
            if doc is None:
                doc = self.docs[path] = Document(path, backend, text)
                known = False
            else:  # the same text again (opened after the workspace scan found it, a save): nothing to find
                known = doc.text == text and (doc.found_text == text or doc.finding or path in self._pending)
            doc.text, doc.version = text, version
            if opened:
                doc.is_open = True
                doc.edited_at = time.monotonic()
            doc.prescan = prescan_placeholders(text, backend)
            if not known:
                self._pending[path] = time.monotonic() + (self.debounce if doc.found_text is not None else 0.0)
            self._wake.notify_all()
            self._reprioritize(doc)
        self.on_document(doc)
        return doc

    def _drop(self, doc: Document) -> None:
        for tg in doc.goals:
            self.scheduler.withdraw(tg.ticket)
        self.docs.pop(doc.path, None)

    # -- finding goals -----------------------------------------------------------------------------------------

    def _find_loop(self) -> None:
        self._load_blueprint()
        while True:
            with self._lock:
                while not self._closing:
                    now = time.monotonic()
                    due = [p for p, t in self._pending.items() if t <= now]
                    if due:
                        # open documents first, most recently edited first
                        due.sort(key=lambda p: (not self.docs[p].is_open, -self.docs[p].edited_at)
                                 if p in self.docs else (True, 0.0))
                        path = due[0]
                        del self._pending[path]
                        doc = self.docs.get(path)
                        if doc is None:
                            continue
                        text, version = doc.text, doc.version
                        doc.finding = True
                        break
                    wait = min((t for t in self._pending.values()), default=now + 1.0) - now
                    self._wake.wait(max(0.02, min(1.0, wait)))
                else:
                    return
            self._find(doc, text, version)

    def _find(self, doc: Document, text: str, version: int | None) -> None:
        error: str | None = None
        error_line: int | None = None
        goals: tuple[Goal, ...] = ()
        try:
            t0 = time.monotonic()
            data = text.encode("utf-8")
            if doc.backend == "lean":
                if prescan_placeholders(text, "lean"):
                    fg = find_lean_goals(doc.path, source=data, prover=self._lean_finder())
                else:  # no `sorry` outside comments and strings: no goal, and no reason to run the file in Lean
                    fg = FileGoals(doc.path, ())
            elif doc.backend == "coq":
                blocked = self._build_dependencies(doc, data)
                if blocked is not None:
                    raise SourceError(blocked)
                if not doc.goals:  # a file not searched yet: an idle prover loads its imports while Coq finds goals
                    self.scheduler.warm(doc.path, data)
                fg = find_and_prime(doc.path, source=data)
                deps = dependency_digest(doc.needs)  # a changed dependency: its proofs are verified again
                fg = replace(fg, goals=tuple(replace(g, deps_digest=deps) for g in fg.goals)) if deps else fg
            else:
                raise SourceError(f"{doc.backend} goals are not supported")
            log.debug("%s: %d goals found in %.3f s", doc.path.name, len(fg.goals), time.monotonic() - t0)
            goals, error, error_line = fg.goals, fg.error, fg.error_line
        except SourceError as e:
            error, error_line = e.message if hasattr(e, "message") else str(e), getattr(e, "line", None)
        except AutoProveError as e:
            error = str(e)
        except Exception as e:  # a finder bug must not stop the finder thread
            log.exception("finding goals in %s", doc.path)
            error = f"internal error: {e!r}"
        with self._lock:
            doc.finding = False
            if doc.text != text or self.docs.get(doc.path) is not doc:
                return  # edited meanwhile: the newer text is pending already
            doc.error, doc.error_line = error, error_line
            if not goals and error is not None and doc.goals:
                # the text does not compile up to its first goal (e.g. mid-typing): keep the goals and their
                # searches until it does; the error is shown, no stale edit is offered (found_text is old)
                pass
            else:
                self._reconcile(doc, goals, text.encode("utf-8"))
                doc.found_text, doc.found_version = text, version
                self._reverify(doc)
        self.on_document(doc)
        self._status()

    def _build_dependencies(self, doc: Document, data: bytes) -> str | None:
        """Compile what the Coq file of `doc` loads (build.py; in the finder thread), saying "building dependencies"
        meanwhile; why it cannot be, if so."""
        from .build import build_dependencies

        def show(done: int, total: int, f: Path | None) -> None:
            if doc.building != (done < total):
                doc.building = done < total
                self.on_document(doc)

        try:
            report = build_dependencies([doc.path], sources={doc.path: data}, progress=show,
                                        cancel=self._stop_building)
        finally:
            doc.building = False
        doc.needs = report.needs.get(doc.path, frozenset())
        failure = report.blocked.get(doc.path)
        return None if failure is None else str(failure)

    def _reconcile(self, doc: Document, goals: tuple[Goal, ...], source: bytes) -> None:
        """Keep the ticket of every goal whose key is unchanged; withdraw the rest; queue the new ones."""
        old = {tg.goal.key.digest: tg for tg in doc.goals}
        kept = {g.key.digest: old.pop(g.key.digest) for g in goals if g.key.digest in old}
        fresh = [g for g in goals if g.key.digest not in kept]
        priority = {g.key.digest: self._priority(doc, g, list(goals)) for g in fresh}
        tickets = {d: tg.ticket for d, tg in kept.items()}
        for g in sorted(fresh, key=lambda g: priority[g.key.digest]):  # an idle worker takes the first at once
            tickets[g.key.digest] = self.scheduler.submit(g, priority[g.key.digest], source=source)
        new = [TrackedGoal(g, tickets[g.key.digest]) for g in goals]
        for tg in old.values():
            self.scheduler.withdraw(tg.ticket)
        doc.goals = new
        if not self.enabled:
            self.scheduler.pause()

    # -- priorities ----------------------------------------------------------------------------------------------

    def _priority(self, doc: Document, goal: Goal, goals: list[Goal] | None = None) -> float:
        if doc.is_open and doc.edit_line is not None:
            at_edit = next((g for g in (goals if goals is not None else [tg.goal for tg in doc.goals])
                            if (g.end_line or g.line) - 1 >= doc.edit_line), None)
            if at_edit is not None and at_edit.key == goal.key:
                return TIER_HERE * 1e9 - doc.edited_at + 5e8  # behind an explicit proveHere, ahead of the rest
        tier = TIER_OPEN if doc.is_open else TIER_WORKSPACE
        return tier * 1e9 - (doc.edited_at if doc.is_open else 0.0) + self._ordered(goal, goals or ())

    def _within(self, goal: Goal) -> float:
        """A goal's place among its document's goals (under 1): file order under profile 0; under profile 1 the
        cheapest expected first (learn/schedule.expected_seconds, from the ledger's record of the goal), file
        order among equals."""
        if self.options.profile < 1:
            return goal.index * 1e-3
        from .learn.schedule import expected_seconds

        rec = None
        ledger = self.scheduler.ledger
        if ledger is not None:
            try:
                rec = ledger.goal(goal.key.digest)
            except Exception:  # a ledger that cannot be read costs only the ordering
                rec = None
        est = expected_seconds(goal.statement, rec.status if rec else None, rec.seconds if rec else 0.0,
                               self.options.budget)
        return min(0.9, est * 1e-4) + goal.index * 1e-7

    def _ordered(self, goal: Goal, arriving: Sequence[Goal] = ()) -> float:
        """`_within`, led by the blueprint's rank when the project has one."""
        rank = self._blueprint_rank(goal, arriving)
        within = self._within(goal)
        return within if rank is None else 0.5 * rank + 0.45 * within

    def _load_blueprint(self) -> None:
        """The project's blueprint, if it has one: its graph orders the goals (blueprint/priority.py)."""
        if self.root is not None:
            from .blueprint.priority import load_project_blueprint

            self._blueprint = load_project_blueprint(self.root)

    def set_blueprint(self, bp: "Blueprint") -> None:
        """Order by this blueprint (the dashboard's, read from where the user said) from now on."""
        with self._lock:
            self._blueprint, self._ranks = bp, (frozenset(), {})
            docs = list(self.docs.values())
        for doc in docs:
            with self._lock:
                self._reprioritize(doc)

    def _blueprint_rank(self, goal: Goal, arriving: Sequence[Goal] = ()) -> float | None:
        """The blueprint's rank of `goal` (0–1, lower first; 1 for a goal it does not name), from the goals open now
        and those `arriving` (computed again when that set changes); None without a blueprint."""
        if self._blueprint is None:
            return None
        from .blueprint.priority import goal_ranks, short_name

        with self._lock:
            opened = frozenset([tg.goal.lemma for d in self.docs.values() for tg in d.goals
                                if tg.goal.fillable and tg.out.status != "proved"]
                               + [g.lemma for g in arriving if g.fillable] + [goal.lemma])
            if opened != self._ranks[0]:
                self._ranks = (opened, goal_ranks(self._blueprint, opened))
            return self._ranks[1].get(short_name(goal.lemma), 1.0)

    def _reprioritize(self, doc: Document) -> None:
        for tg in doc.goals:
            if tg.ticket is not self._here:
                self.scheduler.reprioritize(tg.ticket, self._priority(doc, tg.goal))

    def prove_here(self, path: Path, line: int, column: int) -> TrackedGoal | None:
        """Move the goal at (0-based line, code-point column) of `path` — or the next one after it — to the front."""
        with self._lock:
            doc = self.docs.get(path)
            if doc is None or not doc.goals:
                return None
            at = self.goal_at(doc, line, column, nearest=True)
            if at is None:
                return None
            self._here = at.ticket
            self.scheduler.reprioritize(at.ticket, TIER_HERE * 1e9 - time.monotonic())
            return at

    def search_again(self, path: Path, key: object, budget: float) -> TrackedGoal | None:
        """Search the goal of `path` with this key again, for `budget` seconds, at the front of the queue (an agent's
        `search` with a budget); None when the file no longer has it."""
        with self._lock:
            doc = self.docs.get(path)
            i = next((i for i, tg in enumerate(doc.goals) if tg.goal.key == key), None) if doc is not None else None
            if doc is None or i is None:
                return None
            old = doc.goals[i]
            if old.ticket.state in ("queued", "running") and old.out.budget_s == budget:
                new = old  # already waiting or running with this budget
            else:
                new = self._requeue(doc, i, budget)
            self._here = new.ticket
            self.scheduler.reprioritize(new.ticket, TIER_HERE * 1e9 - time.monotonic())
            return new

    def take_results(self, src: str) -> "SyncReport":
        """Import the results exported at `src` (sync.py) into this workspace's ledger, and search again at once the
        tracked goals that got one and have no proof here: each imported proof is verified here first (the
        scheduler's ledger check), then offered like any other."""
        from .sync import SyncError, import_results

        if self.root is None or self.scheduler.ledger is None:
            raise SyncError("no workspace folder with a ledger to import into")
        report = import_results(self.root, src)
        if not report.keys:
            return report
        with self._lock:
            for doc in self.docs.values():
                for i, tg in enumerate(doc.goals):
                    if tg.goal.key.digest in report.keys and not (tg.out.status == "proved" and tg.out.verified):
                        self._requeue(doc, i, tg.out.budget_s)
        return report

    def _requeue(self, doc: Document, i: int, budget: float | None) -> TrackedGoal:
        """The document's i-th goal withdrawn and submitted afresh (with `budget`; None: the options'), at its
        place in the queue; the caller holds the lock."""
        old = doc.goals[i]
        self.scheduler.withdraw(old.ticket)
        new = doc.goals[i] = TrackedGoal(old.goal, self.scheduler.submit(
            old.goal, self._priority(doc, old.goal), source=old.ticket.source, budget=budget))
        return new

    @staticmethod
    def goal_at(doc: Document, line: int, column: int, nearest: bool = False) -> TrackedGoal | None:
        """The goal whose placeholder or statement covers (0-based line, column); with `nearest`, else the first
        goal at or after that line."""
        pos = (line + 1, column)
        for tg in doc.goals:
            g = tg.goal
            if (g.line, g.column) <= pos <= (g.end_line or g.line, g.end_column or g.column + 9):
                return tg
        if nearest:
            after = [tg for tg in doc.goals if (tg.goal.end_line or tg.goal.line) >= line + 1]
            return after[0] if after else doc.goals[-1]
        return None

    def tracked(self) -> list[tuple[Document, list[TrackedGoal]]]:
        """Every known document with its goals as last found (a snapshot)."""
        with self._lock:
            return [(d, list(d.goals)) for d in self.docs.values()]

    def usual_order(self) -> None:
        """Undo `prove_here`: every goal goes back to its ordinary priority."""
        with self._lock:
            self._here = None
            for doc in self.docs.values():
                self._reprioritize(doc)

    def current(self, doc: Document) -> bool:
        """Whether `doc`'s goals are found for its current text (not waiting, being found or built again)."""
        with self._lock:
            return (doc.found_text is not None and doc.found_text == doc.text and doc.path not in self._pending
                    and not doc.finding and not doc.building)

    def settled(self) -> bool:
        """Whether every known file's goals are found for its current text (none waiting, being found or built)."""
        with self._lock:
            return not self._pending and not any(d.finding or d.building for d in self.docs.values())

    # -- settings ------------------------------------------------------------------------------------------------

    def configure(self, *, cpu: float | None = None, budget: float | None = None, enabled: bool | None = None,
                  max_provers: int | None = None, strict: bool | None = None, profile: int | None = None,
                  llm: dict[str, object] | None = None, ticket_seconds: float | None = None) -> None:
        """Apply changed settings to the running workspace (new budgets apply to searches not yet started; turning
        `strict` on searches again every goal whose proof stands on open lemmas)."""
        if strict is not None and strict != self.options.strict:
            self.options = replace(self.options, strict=strict)
            self.scheduler.options = replace(self.scheduler.options, strict=strict)
            with self._lock:
                for doc in self.docs.values():
                    for i, tg in enumerate(doc.goals):
                        if tg.out.depends_on_open:
                            self.scheduler.withdraw(tg.ticket)
                            doc.goals[i] = TrackedGoal(tg.goal, self.scheduler.submit(
                                tg.goal, self._priority(doc, tg.goal), source=tg.ticket.source))
        if cpu is not None:
            self.scheduler.set_cpu(cpu)
            self.options = replace(self.options, cpu=cpu)
        if budget is not None:
            self.options = replace(self.options, budget=budget)
            self.scheduler.options = replace(self.scheduler.options, budget=budget)
        if ticket_seconds is not None:  # searches started from now on
            self.options = replace(self.options, ticket_seconds=ticket_seconds)
            self.scheduler.options = replace(self.scheduler.options, ticket_seconds=ticket_seconds)
        if profile is not None:  # searches started from now on
            self.options = replace(self.options, profile=profile)
            self.scheduler.options = replace(self.scheduler.options, profile=profile)
        if llm:  # profile 2's model and caps (ProveOptions' llm_* fields), for searches started from now on
            self.options = replace(self.options, **llm)  # type: ignore[arg-type]
            self.scheduler.set_llm(**llm)
        if max_provers is not None:
            cap = max_provers or None  # 0: no cap beyond the CPU target
            self.options = replace(self.options, max_provers=cap)
            self.scheduler.options = replace(self.scheduler.options, max_provers=cap)
            self.scheduler.governor._max_workers = cap
        if enabled is not None and enabled != self.enabled:
            self.enabled = enabled
            (self.scheduler.resume if enabled else self.scheduler.pause)()
        self._status()

    def pause(self) -> None:
        self.scheduler.pause()
        self._status()

    def resume(self) -> None:
        if self.enabled:
            self.scheduler.resume()
        self._status()

    # -- status --------------------------------------------------------------------------------------------------

    def status(self) -> dict[str, object]:
        """Counts for status bars: queued, running, proved, exhausted (timeouts included), errors; CPU fraction;
        libraries profile 1 is still harvesting in the background."""
        with self._lock:
            outs = [tg.out for d in self.docs.values() for tg in d.goals]
        c = Counter(o.status for o in outs)
        return {
            "queued": c["queued"], "running": c["searching"], "proved": c["proved"],
            "exhausted": c["exhausted"] + c["timeout"], "errors": c["error"], "total": len(outs),
            "cpu": round(self.scheduler.governor.last_fraction, 3), "paused": self.scheduler.paused,
            "enabled": self.enabled, "cpuTarget": self.scheduler.governor.target,
            "budgetSeconds": self.options.budget,
            "learning": self.scheduler.learning_pending(),  # libraries still being harvested in the background
        }

    # -- the HTTP endpoint's questions (endpoint.Service) -------------------------------------------------------

    def sorries(self, file: Path) -> list[dict[str, object]]:
        """The goals known in `file`, for `#sorries`: place, lemma, status and the verified proof."""
        with self._lock:
            doc = self._doc_at(Path(file))
            goals = list(doc.goals) if doc is not None else []
        return [{"line": tg.goal.line, "column": tg.goal.column, "name": tg.goal.lemma, "kind": tg.out.kind,
                 "status": tg.out.status, "message": tg.out.message,
                 "proof": tg.out.replacement if tg.out.verified else None} for tg in goals]

    def _doc_at(self, file: Path) -> Document | None:
        """The document of `file`, also when one side names it through a symlink (the Lean package resolves
        paths, an editor may not). Called with the lock held."""
        doc = self.docs.get(file)
        if doc is None:
            doc = next((d for p, d in self.docs.items() if _same_file(p, file)), None)
        return doc

    def suggest(self, backend: str, file: Path, line: int, column: int, goal: str) -> list["Suggestion"]:
        """Tactic scripts for a goal an editor-side tactic stands at: a proof this workspace verified for a goal
        with the same text (or at that place), then the search's own first candidates for the goal's shape."""
        from .endpoint import Suggestion
        from .provers.base import GoalView, ProofState
        from .strategies import SearchContext, strategy_for

        out: list[Suggestion] = []
        if backend == "lean":
            from .provers.lean import parse_goal

            view = parse_goal(goal)
            extra: dict[str, object] = {"mathlib": _imports_mathlib(file)}
        else:
            hyps, _, concl = goal.rpartition("\n" + "=" * 20 + "\n") if "=" * 20 in goal else ("", "", goal)
            view = GoalView(tuple(h for h in hyps.split("\n") if h.strip()), concl.strip())
            extra = {}
        want = " ".join(view.text().split())
        with self._lock:
            tracked = [tg for d in self.docs.values() for tg in d.goals]
        for tg in tracked:
            o = tg.out
            if not (o.verified and o.script and tg.goal.backend == backend):
                continue
            here = _same_file(tg.goal.file, Path(file)) and tg.goal.line == line
            if here or " ".join(o.root_goal.split()) == want:
                out.append(Suggestion(("\n" if backend == "lean" else " ").join(o.script), "verified"))
        state = ProofState((), (view,), 0, False, 0)
        ctx = SearchContext(tactic_timeout=self.options.tactic_timeout, extra=extra)
        for c in strategy_for(backend, self.options.profile).candidates(state, ctx, 0):
            if c.delay == 0 and all(s.tactic != c.tactic for s in out):
                out.append(Suggestion(c.tactic, "strategy"))
        return out

    def add_listener(self, fn: Callable[[], None]) -> None:
        """Call `fn()` (no arguments, quickly) whenever a goal or the status changes."""
        with self._lock:
            self._listeners.append(fn)

    def remove_listener(self, fn: Callable[[], None]) -> None:
        with self._lock:
            if fn in self._listeners:
                self._listeners.remove(fn)

    def _tell(self) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for fn in listeners:
            try:
                fn()
            except Exception:
                log.exception("workspace listener failed")

    def _status(self) -> None:
        self.on_status(self.status())
        self._tell()

    def _reverify(self, doc: Document) -> None:
        """A goal whose key survived an edit keeps its proof, which was verified in the older text. If nothing it
        depends on changed — the text before it and its own proof (Coq: up to the proof's closing sentence;
        Lean: up to the end of its declaration) are byte for byte the same — the proof holds in the current text
        as it is, re-based to the goal's new place (`ticket.source` becomes the current text). Otherwise it goes
        through the scheduler again with the current text (the ledger re-verifies it there, one compile) before a
        quick fix is offered for it. Called with the lock held."""
        if doc.found_text is None:
            return
        found = doc.found_text.encode("utf-8")
        for i, tg in enumerate(doc.goals):
            t = tg.ticket
            same_deps = t.goal.deps_digest == tg.goal.deps_digest
            if t.state == "done" and tg.out.status == "proved" and t.source is not None and (
                    t.source != found or not same_deps):
                upto = depends_through(t.goal, t.source)
                if same_deps and upto is not None and t.source[:upto] == found[:upto]:
                    t.source = found
                    continue
                doc.goals[i] = TrackedGoal(tg.goal, self.scheduler.submit(
                    tg.goal, self._priority(doc, tg.goal), source=found))

    def _on_event(self, kind: str, out: GoalOutcome) -> None:
        if kind == "done":
            with self._lock:
                doc = self.docs.get(out.goal.file)
                if doc is not None:
                    self._reverify(doc)
        with self._lock:
            doc = self.docs.get(out.goal.file)
        if doc is not None and any(tg.out is out for tg in doc.goals):
            self.on_document(doc)
        if kind != "progress":
            self._status()
        else:
            self._tell()


def _imports_mathlib(file: Path) -> bool:
    """Whether a Lean file imports Mathlib (its header, read lexically; an unreadable file: no)."""
    try:
        head = Path(file).read_text(encoding="utf-8", errors="replace")[:20000]
    except OSError:
        return False
    return bool(re.search(r"^import\s+Mathlib\b", head, re.M))


def _same_file(a: Path, b: Path) -> bool:
    """The same file, possibly named through different symlinks."""
    if a == b:
        return True
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def depends_through(goal: Goal, source: bytes) -> int | None:
    """The byte offset up to which a proof of `goal` (found in `source`) depends on the file's text: Coq — the end
    of the proof's closing sentence (everything before the statement, the statement and the rest of its own proof);
    Lean — the end of the goal's declaration. None when it cannot be told."""
    if goal.backend == "coq":
        return goal.closer_end or None
    if goal.backend == "lean":
        from .lean_source import enclosing_declaration

        text = source.decode("utf-8", "replace")
        a = len(source[: goal.start].decode("utf-8", "replace"))
        decl = enclosing_declaration(text, a)
        return len(text[: decl.end].encode("utf-8")) if decl is not None else None
    return None
