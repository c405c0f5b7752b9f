"""The scheduler: a priority queue of goals, a pool of prover workers under the CPU governor, and the one path
every goal takes — ledger check → search → verify → ledger.

The CLI, the bank runner and the language server all drive this class; none of them talks to a prover.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Literal, Sequence

from .errors import AutoProveError, LedgerError, ProverError, SourceError
from .goals import Goal
from .governor import CpuGovernor
from .ledger import GoalRecord, Ledger
from .provers import open_prover
from .provers.base import Environment, Prover, ProofState
from .search import Acceptance, Search, SearchBudget, SearchResult, first_goal_closed
from .strategies import SearchContext, strategy_for

if TYPE_CHECKING:
    from .learn.service import Learning
    from .llm.proposer import GoalContext, LLMProposer
    from .tickets import HelperTicket

__all__ = ["ProveOptions", "GoalOutcome", "Scheduler", "Ticket", "HAMMER_HEADER", "DEFAULT_IMPORTS"]

log = logging.getLogger(__name__)

HAMMER_HEADER = "From Hammer Require Import Hammer Tactics."
# Imports every Coq search session loads unless told otherwise: Coq's own arithmetic decision procedure. A proof
# that needs one gets it added at the top of its file (verified there); proofs that do not, add nothing.
DEFAULT_IMPORTS = ("From Coq Require Import Lia.",)
WARM_DELAY = 0.1  # seconds between a file's goals being looked for and an idle prover warming up for it
Status = Literal["queued", "searching", "proved", "exhausted", "timeout", "error", "skipped"]
# after a proof that uses the project's open lemmas is found, the search looks this long (a fraction of the goal's
# budget) for one that uses none before it settles for the first
CLEAN_PROOF_SHARE = 0.2
# a focused search on the first goal of a state with several (search.py) gets this share of the goal's budget, at
# most FOCUS_MAX s. OFF (0): at 2 s per focus it lost 2 proofs and gained none on 32 dev cases side by side
# (2026-12-06), although it proves split-heavy goals several times faster (17.7 s -> 3.1 s); see the README
FOCUS_SHARE, FOCUS_MAX = 0.0, 4.0


@dataclass(frozen=True)
class ProveOptions:
    """Settings of a proving run; cheap to build, named defaults."""

    budget: float = 60.0  # seconds of search per goal
    cpu: float = 0.5  # fraction of the machine for the whole process tree
    profile: int = 0
    tactic_timeout: float = 2.0
    hammer: bool = False  # load CoqHammer in search sessions (proofs may then need its import)
    imports: tuple[str, ...] = DEFAULT_IMPORTS  # Coq import lines search sessions load first; a proof may add them
    max_provers: int | None = None
    verify_timeout: float = 300.0
    enter_timeout: float = 300.0
    resume: bool = True  # reuse the ledger's proved/exhausted results
    strict: bool = False  # refuse proofs that use the project's open (admitted/sorry) lemmas
    # folder of a converted seq2seq tactic model whose tactics join the search (learn/neural.py); None: the folder in
    # $AUTOPROVE_MODEL if set; "": none
    neural_model: str | None = None
    # profile 1: add each verified proof to the memories at once, for the goals after it; None: on unless
    # $AUTOPROVE_ONLINE_LEARNING is "0" (benchmarks/online.py measures with it off, as "memory reset each time")
    online_learning: bool | None = None
    # profile 1: seconds a goal may wait, over the process, for libraries harvested for the first time on this
    # machine; past it they are harvested in the background while the goals go on without them. None: no limit
    # (the CLI); the language server uses 0 — no goal waits for a library, every later goal profits from it
    library_seconds: float | None = None
    # profile 2: the language model ("openai:<model>" | "anthropic:<model>"), its base URL, the repair rounds, the
    # seconds its phase may take per goal, and caps over the whole run (None: none)
    llm: str = ""
    llm_base_url: str | None = None
    llm_rounds: int = 3
    llm_seconds: float = 120.0
    llm_timeout: float = 60.0  # seconds per call
    llm_max_tokens: int = 1024  # the longest answer asked for
    llm_step_calls: int = 4  # states of one goal the model is asked next tactics for inside the search (0: none)
    golf_seconds: float = 5.0  # after a proof is verified: seconds to look for a shorter one (golf.py); 0: none
    # a Coq goal the search could not close: helper lemmas proposed from what is left (tickets.py), each searched for
    # `ticket_seconds` (past the goal's budget), and the goal again with a proved one for as long; 0: proposed and
    # checked only; tickets=False: none
    tickets: bool = True
    ticket_seconds: float = 10.0
    llm_run_calls: int | None = None
    llm_run_tokens: int | None = None
    llm_run_dollars: float | None = None


@dataclass
class GoalOutcome:
    """The result for one goal, as reported and written."""

    goal: Goal
    status: Status = "queued"
    script: tuple[str, ...] | None = None
    replacement: str | None = None  # the verified text that replaces the placeholder
    header: str = ""  # import line the proof needs at the top of the file ("" if none)
    seconds: float = 0.0
    attempts: int = 0
    verified: bool = False
    strategy: str = ""
    strategies: dict[str, int] = field(default_factory=dict)
    message: str = ""
    from_ledger: bool = False
    remaining: str = ""  # the best partial state's goals, for reports and hovers
    root_goal: str = ""  # the goal as the prover showed it at the start (GoalView.text), to match it by text
    crashes: int = 0  # prover crashes the search survived
    depends_on_open: tuple[str, ...] = ()  # the project's open lemmas the verified proof uses (empty: none)
    families: tuple[str, ...] = ()  # the candidate family of each step of the found proof ("memory", "closer", ...)
    phase: str = ""  # while searching: what the goal waits for before its search ("" once the search runs)
    budget_s: float | None = None  # this goal's own search seconds (an agent's `search`); None: ProveOptions.budget
    golfed_from: str = ""  # the verified proof golf replaced by a shorter one ("" when it did not)
    golf_seconds: float = 0.0  # what looking for a shorter proof took
    tickets: tuple["HelperTicket", ...] = ()  # helper lemmas proposed when the search found no proof (tickets.py)

    @property
    def kind(self) -> str:
        """The placeholder's kind as reported: "data" for a placeholder that is not a proposition, else the goal's."""
        return self.goal.kind if self.goal.fillable else "data"

    def as_json(self) -> dict[str, object]:
        """The stable JSON row (field names are read by other tools)."""
        g = self.goal
        return {
            "file": str(g.file), "line": g.line, "name": g.lemma, "kind": self.kind, "status": self.status,
            "proof": self.replacement if self.verified else None, "seconds": round(self.seconds, 3),
            "attempts": self.attempts, "verified": self.verified, "strategy": self.strategy,
            "header": self.header or None, "message": self.message,
            "depends_on_open": list(self.depends_on_open), "families": list(self.families),
            **({"golfed_from": self.golfed_from} if self.golfed_from else {}),
            **({"golf_seconds": round(self.golf_seconds, 3)} if self.golf_seconds else {}),
            **({"tickets": [t.as_json() for t in self.tickets]} if self.tickets else {}),
        }

    def proof_label(self) -> str:
        """How a verified proof is described everywhere: "verified", or which open lemmas it stands on."""
        if not self.depends_on_open:
            return "verified"
        n = len(self.depends_on_open)
        return f"verified, uses {n} open lemma{'s' if n > 1 else ''}: {', '.join(self.depends_on_open)}"


EventSink = Callable[[str, GoalOutcome], None]  # ("queued"|"started"|"progress"|"done", outcome)


@dataclass(eq=False)
class Ticket:
    """One goal submitted to a running scheduler: its outcome, priority and cancellation."""

    goal: Goal
    out: GoalOutcome
    priority: float
    state: Literal["queued", "running", "done", "withdrawn"] = "queued"
    cancel: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    source: bytes | None = None  # the file's text the goal was found in, when it is not what is on disk
    version: int = 0  # bumped when the priority changes (older heap entries are skipped)
    requeue: bool = False  # cancelled only to be searched again later (pause, a higher priority)


class Scheduler:
    """Runs goals through search and verification on a worker pool held to a CPU target.

    Two ways to drive it: `run(goals)` proves a fixed list and returns (the CLI and the bank), or `start()` then
    `submit`/`withdraw`/`reprioritize`/`pause`/`resume`/`set_cpu` while it runs, and `close()` (the language
    server). Lower priority values are searched first."""

    def __init__(self, options: ProveOptions, ledger: Ledger | None = None, *,
                 on_event: EventSink | None = None, learning: "Learning | None" = None) -> None:
        self.options = options
        self.ledger = ledger
        self.learning = learning  # profile 1: what the search learns from (made on first use when not given)
        self._owns_learning = learning is None  # one it made is closed with it; a caller's stays the caller's
        self._history: tuple[float, dict[str, tuple[int, int, float]]] | None = None  # (read at, family history)
        self.on_event = on_event or (lambda kind, out: None)
        # profile 1: called with how many libraries still wait for their background harvest, as it progresses
        self.on_learning: Callable[[int], None] | None = None
        self.governor = CpuGovernor(options.cpu, max_workers=options.max_provers)
        self.governor.saturated = lambda: self._running >= self._allowed() and bool(self._queue)
        self._queue: list[tuple[float, int, int, Ticket]] = []
        self._order = itertools.count()
        self._lock = threading.Condition()
        self._tickets: set[Ticket] = set()
        self._threads: list[threading.Thread] = []
        self._prover_sets: list[dict[str, Prover]] = []  # each worker's provers (for close)
        self._running = 0
        self._paused = False
        self._closing = False
        self._ledger_warned = False
        self._warm: dict[str, tuple[float, Environment]] = {}  # backend:file -> (not before, what to preload)
        self._llm: "LLMProposer | None" = None  # profile 2's proposer (`_proposer`)
        self._llm_unusable = ""
        self._llm_inflight = 0  # next-step calls whose answer is awaited (`close` lets them record their usage)
        self._llm_quiet = threading.Condition()
        self._refused: dict[tuple[object, ...], str] = {}  # (goal, file, script, imports, strict) -> why it was refused

    # -- the batch API -----------------------------------------------------------------------------------------

    def run(self, goals: list[Goal]) -> list[GoalOutcome]:
        """Prove `goals` (in file order, files kept together) and return one outcome per goal, in input order."""
        tickets = [self.submit(g, float(i)) for i, g in enumerate(goals)]
        self.start(max(1, min(self.governor.max_workers, len(goals))))
        try:
            for t in tickets:
                while not t.done.wait(0.2):
                    if self._closing:
                        break
        finally:
            self.close()
        return [t.out for t in tickets]

    def cancel(self) -> None:
        """Stop every search at its next prover call; queued goals stay queued."""
        with self._lock:
            self._closing = True
            for t in self._tickets:
                t.cancel.set()
            self._lock.notify_all()

    # -- the long-running API --------------------------------------------------------------------------------

    def start(self, workers: int | None = None) -> "Scheduler":
        """Start the governor and the worker threads (idempotent). Workers beyond what the CPU target allows
        wait; `set_cpu` can let them run later."""
        with self._lock:
            if self._threads:
                return self
            n = workers or self.governor.max_workers
            if self.options.max_provers:
                n = min(n, self.options.max_provers)
            self.governor.start()
            self._threads = [threading.Thread(target=self._worker, name=f"prover-{k}", daemon=True)
                             for k in range(max(1, n))]
        for t in self._threads:
            t.start()
        return self

    def close(self, timeout: float = 30.0) -> None:
        """Cancel every search, stop the workers (closing their provers) and the governor. Provers are killed
        at once rather than waited for: a tactic in progress may have seconds left to run."""
        self.cancel()
        self.governor.stop()  # first: it resumes provers it had paused, so they can die promptly
        with self._llm_quiet:  # a model call still answering is paid for: let it reach the ledger (briefly)
            self._llm_quiet.wait_for(lambda: self._llm_inflight == 0, timeout=min(timeout, 10.0))
        if self.learning is not None and self._owns_learning:
            self.learning.close()  # the background harvest of libraries, if one runs
        with self._lock:
            live = [p for d in self._prover_sets for p in d.values()]
        for p in live:
            try:
                p.close()
            except Exception:  # closing is best effort; the worker closes again on its way out
                log.debug("closing a prover", exc_info=True)
        for t in self._threads:
            t.join(timeout=timeout)
        self.governor.stop()

    def submit(self, goal: Goal, priority: float, source: bytes | None = None, budget: float | None = None) -> Ticket:
        """Queue `goal` (found in `source`, default: the file on disk), searched for `budget` seconds (default the
        options'); the ticket carries its outcome. A placeholder that is not a proposition is never queued: its
        ticket is done at once, status "skipped"."""
        ticket = Ticket(goal, GoalOutcome(goal, budget_s=budget), priority, source=source)
        if not goal.fillable:
            from .sorts import SKIP_MESSAGES

            ticket.out.status, ticket.out.message = "skipped", SKIP_MESSAGES[goal.sort]
            ticket.state = "done"
            self._record_goal(ticket.out)
            ticket.done.set()
            self._emit("done", ticket.out)
            return ticket
        with self._lock:
            self._tickets.add(ticket)
            heapq.heappush(self._queue, (priority, next(self._order), ticket.version, ticket))
            self._lock.notify()
        self._emit("queued", ticket.out)
        return ticket

    def warm(self, path: Path, source: bytes) -> None:
        """A file's goals are about to be found: let an idle worker start a prover for it and load its imports
        meanwhile (they are most of what entering its first goal costs). Best effort: only Coq files, only the
        imports guessed lexically at the top of `source`, only when no goal is waiting; a wrong guess costs
        nothing but the time of the idle worker."""
        from .coq_source import leading_requires
        from .coqproject import coq_project_for

        if path.suffix != ".v":
            return
        try:
            project = coq_project_for(path)
        except AutoProveError:
            return
        env = Environment(file=path, backend="coq", sentences=(*self._headers_for("coq"), *leading_requires(source)),
                          args=project.args, workdir=project.root)
        with self._lock:
            self._warm.pop(f"coq:{path}", None)
            # a moment later: starting a process stalls this (Python) process briefly, and the editor's first
            # diagnostics for the file are being sent right now
            self._warm[f"coq:{path}"] = (time.monotonic() + WARM_DELAY, env)
            while len(self._warm) > 4:
                self._warm.pop(next(iter(self._warm)))
            self._lock.notify()

    def reprioritize(self, ticket: Ticket, priority: float) -> None:
        """Move a queued goal in the queue (a running or finished one is left alone)."""
        with self._lock:
            if ticket.state == "running":
                ticket.priority = priority  # used if it goes back to the queue (pause)
                return
            if ticket.state != "queued" or ticket.priority == priority:
                return
            ticket.priority, ticket.version = priority, ticket.version + 1
            self._compact()
            heapq.heappush(self._queue, (priority, next(self._order), ticket.version, ticket))
            self._lock.notify()

    def _compact(self) -> None:
        """Drop stale heap entries when they outnumber the live ones (priorities change on every keystroke)."""
        if len(self._queue) > 64 and len(self._queue) > 2 * sum(1 for t in self._tickets if t.state == "queued"):
            self._queue = [e for e in self._queue if e[3].state == "queued" and e[2] == e[3].version]
            heapq.heapify(self._queue)

    def withdraw(self, ticket: Ticket) -> None:
        """Drop a goal: out of the queue, or its search cancelled at the next prover call."""
        with self._lock:
            if ticket.state in ("done", "withdrawn"):
                return
            was_queued = ticket.state == "queued"
            ticket.state = "withdrawn"
            ticket.cancel.set()
            self._tickets.discard(ticket)
            if was_queued:
                ticket.done.set()

    def pause(self) -> None:
        """Stop searching: running searches are cancelled and go back to the queue."""
        with self._lock:
            self._paused = True
            for t in self._tickets:
                if t.state == "running":
                    t.requeue = True
                    t.cancel.set()

    def resume(self) -> None:
        with self._lock:
            self._paused = False
            self._lock.notify_all()

    @property
    def paused(self) -> bool:
        return self._paused

    def set_cpu(self, target: float) -> None:
        """Change the CPU target while running (concurrency and duty cycle follow)."""
        with self._lock:
            self.governor.set_target(target)
            self._lock.notify_all()

    # -- one worker ------------------------------------------------------------------------------------------

    def _emit(self, kind: str, out: GoalOutcome) -> None:
        """Report an event; a failing listener is logged, never allowed to stop a worker."""
        try:
            self.on_event(kind, out)
        except Exception:
            log.exception("event listener failed on %s", kind)

    def _allowed(self) -> int:
        return self.governor.workers

    def _next(self) -> Ticket | Environment | None:
        """Wait for a goal this worker may search, or else a file to warm up for (None when closing)."""
        with self._lock:
            while True:
                if self._closing:
                    return None
                if not self._paused and self._running < self._allowed():
                    while self._queue:
                        _, _, version, t = heapq.heappop(self._queue)
                        if t.state == "queued" and version == t.version:
                            t.state = "running"
                            self._running += 1
                            return t
                    now = time.monotonic()
                    ready = [k for k, (t, _) in self._warm.items() if t <= now]
                    if ready:
                        self._running += 1
                        return self._warm.pop(ready[-1])[1]
                    if self._warm:
                        self._lock.wait(max(0.01, min(t for t, _ in self._warm.values()) - now))
                        continue
                self._lock.wait(0.5)

    def _preload(self, env: Environment, provers: dict[str, Prover]) -> None:
        """Warm this worker's prover up for `env` (see `warm`); never fails."""
        try:
            prover = provers.get(env.backend)
            if prover is None:
                prover = provers[env.backend] = open_prover(env.backend)
            preload = getattr(prover, "preload", None)
            if preload is not None:
                t0 = time.monotonic()
                n = preload(env, 30.0)
                log.debug("%s: preloaded %d sentences in %.3f s", env.file.name, n, time.monotonic() - t0)
            if env.backend == "coq" and self._headers_for("coq"):
                # what the file's own imports load (cached): `foreign_libraries` needs it before search starts
                from .coq_source import loaded_libraries, require_sentences

                own = require_sentences(env.sentences[len(self._headers_for("coq")):])
                if own:
                    loaded_libraries(own, env.args, env.workdir)
        except Exception:
            log.debug("preloading %s", env.file, exc_info=True)
        finally:
            with self._lock:
                self._running -= 1
                self._lock.notify_all()

    def _worker(self) -> None:
        provers: dict[str, Prover] = {}
        with self._lock:
            self._prover_sets.append(provers)
        try:
            while True:
                ticket = self._next()
                if ticket is None:
                    return
                if isinstance(ticket, Environment):
                    self._preload(ticket, provers)
                    continue
                out = ticket.out
                try:
                    self._prove_one(ticket.goal, out, provers, ticket.cancel, ticket.source)
                except AutoProveError as e:
                    out.status, out.message = "error", str(e)
                except Exception as e:  # a bug must not take the other goals down with it
                    log.exception("unexpected failure on %s:%s", ticket.goal.file, ticket.goal.line)
                    out.status, out.message = "error", f"internal error: {e!r}"
                with self._lock:
                    self._running -= 1
                    again = ticket.state == "running" and ticket.requeue and out.status == "queued" \
                        and not self._closing
                    if again:
                        ticket.state, ticket.requeue = "queued", False
                        ticket.cancel.clear()
                        ticket.version += 1
                        heapq.heappush(self._queue, (ticket.priority, next(self._order), ticket.version, ticket))
                    elif ticket.state == "running":
                        ticket.state = "done"
                    self._lock.notify_all()
                if again:
                    self._emit("queued", out)
                    continue
                try:
                    self._record_goal(out)
                except Exception:  # the result stands even if it could not be recorded
                    log.exception("recording the result of %s:%s", ticket.goal.file, ticket.goal.line)
                finally:
                    ticket.done.set()
                self._emit("done", out)
        finally:
            for p in provers.values():
                p.close()

    def _prove_one(self, goal: Goal, out: GoalOutcome, provers: dict[str, Prover], cancel: threading.Event,
                   source: bytes | None = None) -> None:
        from .patch import render_replacement
        from .strategies.coq import foreign_names

        if self._from_ledger(goal, out, source, provers):
            return
        out.status = "searching"
        self._emit("started", out)
        t0 = time.monotonic()
        goal_seconds = self._budget(out)
        prover = self._prover_for(goal.backend, provers)
        if prover is None:  # the scheduler is closing
            out.status = "queued"
            return
        if cancel.is_set():
            out.status = "queued"
            return
        headers = self._headers(goal)
        try:
            try:
                root = prover.enter(replace(goal.env, sentences=(*headers, *self._search_settings(headers),
                                                                 *goal.env.sentences)),
                                    self.options.enter_timeout)
            except SourceError:
                if not headers:
                    raise
                # the imports change how the file itself runs: search this goal in the file's own environment
                log.warning("%s:%s: the file does not load after %s; searching without it", goal.file, goal.line,
                            " ".join(headers))
                headers = []
                root = prover.enter(goal.env, self.options.enter_timeout)
        except SourceError as e:
            out.status, out.message, out.seconds = "error", f"{goal.file}:{goal.line}: {e.message}", time.monotonic() - t0
            return
        except ProverError as e:
            out.status, out.message, out.seconds = "error", f"{goal.file}:{goal.line}: {e}", time.monotonic() - t0
            return
        out.root_goal = root.goals[0].text() if root.goals else ""
        crashes0 = _crash_count(prover)  # a prover killed while idle restarts without the search seeing a crash
        ctx = self._context(goal, prover, headers, root, goal_seconds)
        learning = self._learning() if self.options.profile >= 1 else None
        t_learn = time.monotonic()
        visibility = None
        if learning is not None:

            def harvesting(done: int, total: int) -> None:  # the editor shows it while the goal waits for it
                out.phase = f"learning from the visible proofs ({done}/{total} sources)" if done < total else ""
                self._emit("progress", out)

            visibility = learning.prepare(goal, on_source=harvesting)
            if learning.deferred:  # the libraries past the allowance: harvested while the goals go on
                learning.catch_up_in_background(on_source=self._learning_progress)
        if learning is not None and visibility is not None:
            ctx.extra["learned"] = learning.view(goal, visibility)
        if learning is not None and self.ledger is not None:
            ctx.extra["schedule"] = self._schedule(goal)
        t0 += time.monotonic() - t_learn  # harvesting what the goal may see is not part of its search budget
        budget = SearchBudget(seconds=max(0.1, goal_seconds - (time.monotonic() - t0)),
                              tactic_timeout=self.options.tactic_timeout,
                              focus_seconds=min(FOCUS_MAX, FOCUS_SHARE * goal_seconds))

        def on_attempt(strategy: str, tactic: str, outcome: str, seconds: float) -> None:
            if self.ledger is not None:
                self._ledger_call(self.ledger.record_attempt, goal.key.digest, strategy, tactic, outcome, seconds)

        def on_progress(r: SearchResult) -> None:
            out.attempts, out.seconds = r.attempts, time.monotonic() - t0
            out.crashes = max(r.crashes, _crash_count(prover) - crashes0)
            if r.best is not None and not r.best.finished:
                out.remaining = "\n\n".join(g.text() for g in r.best.goals)
            out.strategies = dict(r.strategies)
            self._emit("progress", out)

        taken: dict[tuple[str, ...], tuple[str, str, tuple[str, ...]]] = {}  # script -> (replacement, header, opens)
        refusals: Counter[str] = Counter()  # refusal class -> how many found scripts it refused
        why: dict[str, str] = {}  # refusal class -> its first reason
        foreign = ctx.extra.get("foreign") or frozenset()

        def refuse(reason: str) -> bool:
            cls = refusal_class(reason)
            if not refusals[cls]:  # one line per class per goal, however many scripts it refuses
                why[cls] = reason
                log.warning("%s:%s: a found proof was refused: %s", goal.file.name, goal.line, _one_line(reason))
            refusals[cls] += 1
            return False

        def remember(memo: tuple[object, ...], reason: str) -> bool:
            with self._lock:
                self._refused[memo] = reason
                while len(self._refused) > 4096:
                    self._refused.pop(next(iter(self._refused)))
            return refuse(reason)

        def accept(script: tuple[str, ...]) -> Acceptance:
            """A finished script counts only once checked independently (and not leaning on an import's library);
            one that stands on the project's open lemmas is kept as a fallback while a cleaner one is looked for."""
            memo = (goal.key.digest, goal.file_digest, script, tuple(headers), self.options.strict)
            with self._lock:
                known = self._refused.get(memo)
            if known is not None:  # a refused script is never verified twice
                return refuse(known)
            if goal.backend == "lean":
                from .verify_lean import verify_lean

                verdict, replacement = verify_lean(goal, script, prover, original=source,  # type: ignore[arg-type]
                                                   timeout=self.options.verify_timeout,
                                                   allow_open=not self.options.strict)
                header = ""
            else:
                used = foreign_names(prover, root, script, foreign)  # type: ignore[arg-type]
                if used:
                    return remember(memo, "names " + ", ".join(used[:3]) + " from a library only the added import loads")
                replacement = render_replacement(goal, script, source=source)
                t_verify = time.monotonic()
                verdict, header = self._verify(goal, replacement, headers, source)
                log.debug("%s:%s verified in %.3f s (%s), %.3f s after entering", goal.file.name, goal.line,
                          time.monotonic() - t_verify, "ok" if verdict.ok else "refused", t_verify - t_search)
            if not verdict.ok:
                log.debug("%s:%s refused script: %s", goal.file.name, goal.line, " ".join(script))
                return remember(memo, "; ".join(verdict.reasons))
            opens = tuple(getattr(verdict, "depends_on_open", ()))
            taken[script] = (replacement, header, opens)
            if opens and not all(_mentions(goal.statement, n) for n in opens):
                return "fallback"  # a proof that needs none of them may exist: look for it a little longer
            return True

        t_search = time.monotonic()
        log.debug("%s:%s entered in %.3f s", goal.file.name, goal.line, t_search - t0)
        strat = strategy_for(goal.backend, self.options.profile)
        from .learn.neural import with_neural  # the local neural generator: the strategy itself unless configured

        strat = with_neural(strat, self.options.neural_model, goal.backend)
        gctx = None
        if self.options.profile >= 2 and self._proposer() is not None:
            gctx = self._goal_context(goal, root, ctx, source)
            strat = self._with_steps(strat, goal, gctx, goal_seconds)
        budget = replace(budget, fallback_seconds=CLEAN_PROOF_SHARE * goal_seconds)
        first: SearchResult | None = None
        if ctx.extra.get("learned") is not None:  # profile 1: the memory alone first, for a short slice
            from .strategies.learned import LearnedFirst, first_slice

            first = Search(prover, LearnedFirst(goal.backend), ctx,
                           replace(budget, seconds=min(budget.seconds, first_slice(goal_seconds))),
                           on_attempt=on_attempt, cancel=cancel, on_progress=on_progress, accept=accept).run(root)
            budget = replace(budget, seconds=max(0.1, budget.seconds - first.seconds))
        # a proof standing on open lemmas (a fallback) found by the memory still lets the merged search look for a
        # clean one; it is kept if that search finds none
        settled = first is not None and first.status in ("proved", "cancelled", "error") and not (
            first.fallback is not None and first.script == first.fallback[0])
        if first is not None and settled:
            result = first
        else:
            result = Search(prover, strat, ctx, budget, on_attempt=on_attempt, cancel=cancel,
                            on_progress=on_progress, accept=accept).run(root)
            if first is not None:  # the report counts the attempts of both
                if result.status != "proved" and first.status == "proved":
                    result, first = first, result
                result.attempts += first.attempts
                result.strategies.update(first.strategies)
        if self.options.profile >= 2 and result.status in ("exhausted", "timeout") and not cancel.is_set():
            result = self._llm_phase(goal, prover, root, ctx, gctx, accept, cancel, result, strat, budget,
                                     goal_seconds)
        if self.options.tickets and goal.backend == "coq" and result.status in ("exhausted", "timeout") \
                and not cancel.is_set():
            result = self._ticket_phase(goal, out, prover, root, ctx, strat, budget, accept, on_attempt, cancel,
                                        result, goal_seconds)
        out.attempts, out.strategies, out.strategy = result.attempts, dict(result.strategies), result.strategy
        out.crashes = max(result.crashes, _crash_count(prover) - crashes0)
        if result.best is not None and not result.best.finished:
            out.remaining = "\n\n".join(g.text() for g in result.best.goals)
        if result.status == "proved" and result.script is not None and result.script in taken:
            out.script = result.script
            out.status, out.verified = "proved", True
            out.replacement, out.header, out.depends_on_open = taken[result.script]
            out.families = result.families
            if learning is not None and result.trace and self._online():
                learning.learn(goal, result.trace, result.script)  # online: the next goal already knows it
            if self.options.golf_seconds > 0 and len(result.script) > 1 and not cancel.is_set():
                self._golf(goal, out, prover, root, accept, taken, ctx)
        elif result.status == "cancelled":
            out.status = "queued"
        elif result.status == "error":
            out.status, out.message = "error", f"{goal.file}:{goal.line}: {result.message}"
        else:
            out.status = "timeout" if result.status == "timeout" else "exhausted"
        if refusals and out.status != "proved":
            n = sum(refusals.values())
            out.message = f"found {n} proof{'s' if n > 1 else ''}, none passed verification: " + "; ".join(
                _one_line(why[c]) + (f" (×{k})" if k > 1 else "") for c, k in refusals.most_common())
        out.seconds = time.monotonic() - t0

    def set_llm(self, **fields: object) -> None:
        """New profile-2 settings (ProveOptions' llm_* fields): the next goal makes its model afresh (the run's caps
        start again)."""
        with self._lock:
            self.options = replace(self.options, **fields)  # type: ignore[arg-type]
            self._llm, self._llm_unusable = None, ""

    def _ticket_phase(self, goal: Goal, out: GoalOutcome, prover: Prover, root: ProofState, ctx: SearchContext,
                      strat: object, budget: SearchBudget, accept: Callable[[tuple[str, ...]], Acceptance],
                      on_attempt: Callable[[str, str, str, float], None], cancel: threading.Event,
                      result: SearchResult, goal_seconds: float) -> SearchResult:
        """Helper lemmas from what the search left (tickets.py): proposed, checked, searched, and the goal searched
        again with a proved one; recorded in `out.tickets` and the ledger."""
        from .tickets import TicketPhase

        out.phase = "searching helper lemmas"
        self._emit("progress", out)
        seconds = self.options.ticket_seconds
        phase = TicketPhase(prover, strat, ctx, budget, seconds, accept=accept, on_attempt=on_attempt, cancel=cancel,
                            tactic_timeout=self.options.tactic_timeout)
        result, made = phase.run(root, result, goal.lemma)
        out.phase, out.tickets = "", tuple(made)
        if self.ledger is not None:
            for t in made:
                self._ledger_call(self.ledger.record_ticket, goal.key.digest, str(goal.file), goal.lemma, t.name,
                                  t.statement, t.status, "\n".join(t.proof))
        return result

    def _golf(self, goal: Goal, out: GoalOutcome, prover: Prover, root: ProofState,
              accept: Callable[[tuple[str, ...]], object], taken: dict[tuple[str, ...], tuple[str, str, tuple[str, ...]]],
              ctx: SearchContext | None = None) -> None:
        """A shorter verified proof in place of `out`'s (golf.py), the longer kept in `out.golfed_from`; one that
        stands on open lemmas only replaces one that does too. A step-by-step chain may give way to one lemma: the
        file's own proved before the goal, the library premises ranked for it, and, for a proof that already stands
        on open lemmas, its open ones. `golf_seconds` counts the lookup of premises too."""
        from .golf import golf

        t0 = time.monotonic()
        lemmas: list[str] = []
        if ctx is not None and len(out.script or ()) > 1:
            lemmas = [name for name, _ in reversed(ctx.lemmas)][:4]  # the nearest first
            finder = ctx.extra.get("premises")
            if callable(finder):
                try:
                    lemmas += list(finder(root))[:4]
                except Exception:  # golf goes on with what it has
                    log.debug("no premises for golf", exc_info=True)
            if out.depends_on_open:  # a clean proof is never replaced by one standing on an open lemma
                lemmas += [name for name, _ in reversed(ctx.open_lemmas)][:2]

        first = out.script or ()
        clean = not out.depends_on_open

        def takes(script: tuple[str, ...]) -> bool:
            verdict = accept(script)
            return verdict is True or (verdict == "fallback" and not clean)

        shorter = golf(prover, root, first, takes, goal.backend, self.options.golf_seconds,
                       self.options.tactic_timeout, lemmas)
        out.golf_seconds = time.monotonic() - t0
        if shorter is None or shorter not in taken:
            return
        out.golfed_from = out.replacement or ""
        out.script = shorter
        out.replacement, out.header, out.depends_on_open = taken[shorter]
        out.families = _golfed_families(first, out.families, shorter)
        log.info("%s:%s: golfed from %d sentences to %d", goal.file.name, goal.line, len(first), len(shorter))

    def _budget(self, out: GoalOutcome) -> float:
        """The goal's search seconds: its own (an agent's `search`) or the options'."""
        return out.budget_s if out.budget_s is not None else self.options.budget

    def _proposer(self) -> "LLMProposer | None":
        """Profile 2's language model, made once per scheduler (its run budget is shared by every goal); None, said
        once, when it cannot be used."""
        from .llm.proposer import Budget, LLMProposer
        from .llm.providers import LLMError, provider_from_spec

        with self._lock:
            if self._llm is None and not self._llm_unusable:
                try:
                    provider = provider_from_spec(self.options.llm, base_url=self.options.llm_base_url,
                                                  timeout=self.options.llm_timeout)
                    self._llm = LLMProposer(provider, rounds=self.options.llm_rounds, sketches=True,
                                            max_tokens=self.options.llm_max_tokens, run_budget=Budget(
                        calls=self.options.llm_run_calls, tokens=self.options.llm_run_tokens,
                        dollars=self.options.llm_run_dollars))
                except LLMError as e:
                    self._llm_unusable = str(e)
                    log.warning("no language model: %s; searching without it", e)
            return self._llm

    def _goal_context(self, goal: Goal, root: ProofState, ctx: SearchContext, source: bytes | None) -> "GoalContext":
        """What the model's prompts show of `goal`: its statement and state, the file before it, proofs of similar
        lemmas (profile 1's memory), ranked premises."""
        from .llm.proposer import GoalContext

        data = source if source is not None else goal.file.read_bytes()
        examples: list[tuple[str, str]] = []
        view = ctx.extra.get("learned")
        if view is not None:
            try:
                end = "." if goal.backend == "coq" else ""
                examples = [(st, "\n".join(f"{t}{end}" for t in script))
                            for st, script in view.examples(3)]  # type: ignore[attr-defined]
            except Exception:  # the prompt goes on without them
                log.debug("no similar proofs for the prompt", exc_info=True)
        premises: list[str] = []
        finder = ctx.extra.get("premises")
        if callable(finder):
            try:
                premises = list(finder(root))
            except Exception:
                log.debug("no premises for the prompt", exc_info=True)
        return GoalContext(goal.backend, goal.statement, _shown(root),
                           before=data[:goal.statement_start].decode("utf-8", "replace"),
                           examples=tuple(examples), premises=tuple(premises))

    def _with_steps(self, strategy: object, goal: Goal, gctx: "GoalContext", seconds: float) -> object:
        """`strategy` with the model's next tactics merged in (llm/steps.py); each call's usage goes to the ledger."""
        from .llm.proposer import Budget
        from .llm.steps import LLMSteps

        proposer = self._proposer()
        if proposer is None or self.options.llm_step_calls <= 0:
            return strategy
        caps = Budget(calls=self.options.llm_step_calls)

        def ask(state: ProofState) -> list[tuple[str, ...]]:
            with self._llm_quiet:
                self._llm_inflight += 1
            try:
                got = proposer.next_steps(gctx, _shown(state), state.path, caps=caps,
                                          timeout=min(self.options.llm_timeout, max(5.0, seconds / 4)))
                if self.ledger is not None:
                    try:
                        self.ledger.record_llm_call(goal.key.digest, proposer.provider.name, got.usage)
                    except LedgerError as e:
                        self._warn_ledger(e)
                return got.steps
            finally:
                with self._llm_quiet:
                    self._llm_inflight -= 1
                    self._llm_quiet.notify_all()

        return LLMSteps(strategy, ask, calls=self.options.llm_step_calls,
                        wait=max(1.0, 2.0 * self.options.tactic_timeout))

    def _llm_phase(self, goal: Goal, prover: Prover, root: ProofState, ctx: SearchContext, gctx: "GoalContext | None",
                   accept: Callable[[tuple[str, ...]], object], cancel: threading.Event,
                   result: SearchResult, strategy: object, budget: SearchBudget, seconds: float) -> SearchResult:
        """Profile 2, once the search ended without a proof: the language model's whole proofs with repair rounds
        (llm/proposer.py). A proposal may be a sketch (Coq): each sentence `admit.` is a hole that a short focused
        search (the same strategy) must close, leaving the other goals as they were; the holes' tactics take their
        places. A script counts only when it finishes in the prover and `accept` (the same independent verification
        as every other) takes the whole of it. Every call's usage goes to the ledger."""
        from .llm.proposer import SKETCH_HOLES, Feedback

        proposer = self._proposer()
        if proposer is None:
            return result
        step_timeout = max(self.options.tactic_timeout, 10.0)
        hole_seconds = min(10.0, max(2.0, seconds / 6))

        def fill(state: ProofState) -> tuple[ProofState, list[str]] | None:
            """Close the first goal of `state` alone with a focused search: the state after it and its tactics."""
            sub = Search(prover, strategy, ctx, replace(  # type: ignore[arg-type]
                budget, seconds=hole_seconds, fallback_seconds=0.0, max_depth=len(state.path) + budget.focus_depth),
                         cancel=cancel, goal_closed=first_goal_closed(state), focus_levels=0).run(state)
            if sub.status != "proved" or sub.best is None or not sub.trace:
                return None
            return sub.best, [t for _, t in sub.trace]

        def check(script: list[str]) -> Feedback:
            state, done = root, []
            for s in script:
                if cancel.is_set():
                    return Feedback(False, error="cancelled")
                if s in SKETCH_HOLES and goal.backend == "coq":
                    if not state.goals:
                        return Feedback(False, error="a hole where no goal is left", sentence=s)
                    found = fill(state)
                    if found is None:
                        return Feedback(False, error=f"the automatic search could not close this hole in "
                                                     f"{hole_seconds:g} s; prove it in the script", sentence=s,
                                        goal_at_error=state.goals[0].text())
                    state, tactics = found
                    done += tactics
                    continue
                try:
                    r = prover.run(state, s, step_timeout)
                except ProverError as e:
                    return Feedback(False, error=f"the prover failed: {e}", sentence=s, goal_at_error=_shown(state))
                if r.outcome in ("failed", "timeout") or r.state is None:
                    why = r.message.strip() or f"no answer within {step_timeout:g} s"
                    return Feedback(False, error=why, sentence=s, goal_at_error=_shown(state))
                state = r.state
                done.append(s)
            if not state.finished:
                return Feedback(False, error="the script ends with goals left", remaining=_shown(state))
            if accept(tuple(done)) in (True, "fallback"):
                return Feedback(True, script=tuple(done))
            return Feedback(False, error="the prover accepted it, but the independent check of the whole file (the "
                                         "statement unchanged, nothing admitted, no new axiom) refused it")

        if gctx is None:
            return result
        report = proposer.prove(gctx, check, deadline=time.monotonic() + self.options.llm_seconds)
        if self.ledger is not None:
            for row in report.usage:
                try:
                    self.ledger.record_llm_call(goal.key.digest, proposer.provider.name, row)
                except LedgerError as e:
                    self._warn_ledger(e)
        strategies = Counter(result.strategies)
        strategies["llm"] += report.calls
        if report.script is None:
            log.info("%s:%s: the language model found no proof (%d call(s), %s)", goal.file.name, goal.line,
                     report.calls, report.stopped)
            return replace(result, strategies=strategies, attempts=result.attempts + report.calls)
        family = "llm-sketch" if report.sketch else "llm"
        return replace(result, status="proved", script=report.script, strategy=family, strategies=strategies,
                       attempts=result.attempts + report.calls, families=(family,) * len(report.script), trace=())

    def _schedule(self, goal: Goal) -> object:
        """This goal's draw of the learned schedule (learn/schedule.py) from the ledger's history (read at most
        once a minute), seeded by the goal so that a re-run makes the same choices."""
        import random

        from .learn.schedule import FamilyPrior

        now = time.monotonic()
        if self._history is None or now - self._history[0] > 60.0:
            try:
                self._history = (now, self.ledger.family_history() if self.ledger is not None else {})
            except LedgerError as e:
                self._warn_ledger(e)
                self._history = (now, {})
        return FamilyPrior.sample(self._history[1], random.Random(goal.key.digest))

    def _online(self) -> bool:
        """Whether verified proofs join the memories at once (ProveOptions.online_learning)."""
        if self.options.online_learning is not None:
            return self.options.online_learning
        return os.environ.get("AUTOPROVE_ONLINE_LEARNING", "1").strip() != "0"

    def _learning_progress(self, done: int, total: int) -> None:
        if self.on_learning is not None:
            self.on_learning(total - done)

    def learning_pending(self) -> int:
        """Libraries waiting for their background harvest (profile 1; 0 when there is nothing to learn)."""
        learning = self.learning
        return len(learning.deferred) if learning is not None else 0

    def _learning(self) -> "Learning":
        """The memories of this scheduler's searches (profile 1), made on first use."""
        with self._lock:
            if self.learning is None:
                from .learn.service import Learning

                self.learning = Learning(self.ledger.root if self.ledger is not None else None,
                                         library_seconds=self.options.library_seconds)
            return self.learning

    def check(self, goal: Goal, script: Sequence[str], source: bytes | None = None,  # type: ignore[no-untyped-def]
              lean: "Prover | None" = None):
        """The independent verdict on a tactic script from outside the search (an agent's, `agent.py`), exactly as
        a found script is judged: Coq through `_verify` with the imports a proof may add, Lean by `verify_lean`
        through `lean` (a REPL). Returns (verdict, replacement, header); writes nothing."""
        if goal.backend == "lean":
            from .verify_lean import verify_lean

            if lean is None:
                raise ValueError("a Lean goal is checked through a Lean prover")
            verdict, replacement = verify_lean(goal, list(script), lean, original=source,  # type: ignore[arg-type]
                                               timeout=self.options.verify_timeout, allow_open=not self.options.strict)
            return verdict, replacement, ""
        from .patch import render_replacement

        replacement = render_replacement(goal, list(script), source=source)
        verdict, header = self._verify(goal, replacement, self._headers(goal), source)
        return verdict, replacement, header

    def _verify(self, goal: Goal, replacement: str, headers: list[str],  # type: ignore[no-untyped-def]
                source: bytes | None = None):
        """Verify with as few of the session's imports as the proof needs: none, then each alone, then all."""
        from . import verify as verifier

        allow_open = not self.options.strict
        verdict = verifier.verify(goal, replacement, timeout=self.options.verify_timeout, original=source,
                                  allow_open=allow_open)
        if verdict.ok or not headers:
            return verdict, ""
        tries = [[h] for h in headers] + ([headers] if len(headers) > 1 else [])
        for hs in tries:
            with_header = verifier.verify(goal, replacement, timeout=self.options.verify_timeout, header=hs,
                                          original=source, allow_open=allow_open)
            if with_header.ok:
                return with_header, "\n".join(hs)
        return verdict, ""

    def session_headers(self, goal: Goal) -> list[str]:
        """The import lines search sessions load before the goal's file (a proof found there may need one)."""
        return self._headers(goal)

    def _headers(self, goal: Goal) -> list[str]:
        """Import lines the search sessions load before the file (and a proof may therefore need)."""
        return self._headers_for(goal.backend)

    def _search_settings(self, headers: list[str]) -> tuple[str, ...]:
        """Settings of the search sessions only (never written to the file): CoqHammer's time for its provers,
        a twelfth of the goal's budget (3-20 s). Its default, 20 s, on top of the first call's translation of the
        whole environment (~9 s here), made a `hammer` that fails take half of a 60 s budget; the proofs it finds
        on the development set it finds within 5 s (benchmarks in the README)."""
        if HAMMER_HEADER not in headers:
            return ()
        return (f"Set Hammer ATPLimit {int(min(20, max(3, self.options.budget / 12)))}.",)

    def _headers_for(self, backend: str) -> list[str]:
        if backend != "coq":
            return []
        return list(self.options.imports) + ([HAMMER_HEADER] if self.options.hammer else [])

    def _context(self, goal: Goal, prover: Prover, headers: list[str], root: ProofState,
                 seconds: float) -> SearchContext:
        from .strategies.coq import CoqPremises, environment_of

        if goal.backend == "lean":
            from .lean_source import declarations, lean_imports

            text = goal.env.source
            a = goal.env.placeholder[0]
            from .lean_source import lean_sorries

            holes = [x for x, _ in lean_sorries(text)]
            earlier = [(d, any(d.start <= h < d.end for h in holes)) for d in declarations(text)
                       if d.end <= a and d.name and d.kind in ("theorem", "lemma")]
            lemmas = tuple((d.name, d.statement) for d, is_open in earlier if not is_open)
            opens = () if self.options.strict else tuple((d.name, d.statement) for d, is_open in earlier if is_open)
            mathlib = any(m == "Mathlib" or m.startswith("Mathlib.") for m in lean_imports(text))
            version = getattr(prover, "lean_version", "") or ""
            return SearchContext(lemmas=tuple(reversed(lemmas)), open_lemmas=tuple(reversed(opens)),
                                 tactic_timeout=self.options.tactic_timeout,
                                 extra={"mathlib": mathlib, "lean_version": version, "lemma": goal.lemma})
        if goal.backend != "coq":
            return SearchContext(tactic_timeout=self.options.tactic_timeout)
        found, defs, ltacs = environment_of(goal.env.sentences)
        admitted = set(goal.admitted_names)
        lemmas = tuple((n, s) for n, s in found if n not in admitted and n != goal.lemma)
        # the file's still-open lemmas: usable (a proof standing on them is labelled) unless the run is strict
        opens = () if self.options.strict else tuple((n, s) for n, s in found if n in admitted and n != goal.lemma)
        # CoqHammer's tactics are usable without adding anything when the file itself loads them
        file_has_hammer = any("Hammer" in x and "Require" in x for x in goal.env.sentences)
        foreign = self.foreign_libraries(goal, prover, root) if headers else frozenset()
        return SearchContext(lemmas=lemmas, open_lemmas=opens, definitions=defs,
                             hammer=HAMMER_HEADER in headers or file_has_hammer,
                             tactic_timeout=self.options.tactic_timeout,
                             extra={"ltacs": ltacs, "lemma": goal.lemma, "foreign": foreign,
                                    "premises": CoqPremises(prover, exclude=goal.lemma, outside=sorted(foreign)),
                                    "hammer_timeout": max(20.0, 0.5 * seconds),
                                    "hammer_delay": 0.2 * seconds})

    def foreign_libraries(self, goal: Goal, prover: Prover, root: ProofState) -> frozenset[str]:
        """Libraries the session has only because of the added imports: a proof may use their tactics but must
        not name their lemmas (the file would then depend on a library it never asked for)."""
        from .coq_source import loaded_libraries, parse_libraries, require_sentences

        try:
            r = prover.run(root, "Print Libraries", 10.0)
            session = parse_libraries(r.message) if r.outcome in ("ok", "finished") else frozenset()
            own = loaded_libraries(require_sentences(goal.env.sentences), goal.env.args, goal.env.workdir)
        except AutoProveError as e:
            log.warning("%s:%s: could not list loaded libraries: %s", goal.file, goal.line, e)
            return frozenset()
        if own is None or not session:
            return frozenset()
        return frozenset(session - own)

    # -- ledger ----------------------------------------------------------------------------------------------

    def _prover_for(self, backend: str, provers: dict[str, Prover]) -> Prover | None:
        """This worker's prover for `backend`, started on first use; None when the scheduler is closing."""
        prover = provers.get(backend)
        if prover is None:
            prover = open_prover(backend)
            with self._lock:
                provers[backend] = prover
                closing = self._closing
            if closing:
                prover.close()
                return None
        return prover

    def _from_ledger(self, goal: Goal, out: GoalOutcome, source: bytes | None = None,
                     provers: dict[str, Prover] | None = None) -> bool:
        """Reuse a proved (re-verified) or exhausted-at-this-budget result from an earlier run."""
        if self.ledger is None or not self.options.resume:
            return False
        try:
            rec = self.ledger.goal(goal.key.digest)
        except LedgerError as e:  # an unreadable ledger (corrupt file) must not cost the goal: search it
            self._warn_ledger(e)
            return False
        if rec is None:
            return False
        if rec.status == "proved" and rec.proof:
            header = rec.header
            if header and not set(header.split("\n")) <= set(self._headers(goal)):
                return False  # found with imports this run does not allow
            if rec.depends_on_open and self.options.strict:
                return False  # stands on open lemmas, which this run refuses: search for another
            imported = not rec.verified
            if rec.file_digest != goal.file_digest or rec.deps_digest != goal.deps_digest or imported:
                # the file or a project file it loads changed, or the proof was found elsewhere (sync.py): the
                # stored proof must verify again, here
                checked = self._reverify_stored(goal, rec.proof, header, source,
                                                provers if provers is not None else {})
                if checked is None:
                    return False
                # checked against the file as it is now: record that, so the next run does not check again
                rec = replace(rec, file=str(goal.file), line=goal.line, file_digest=goal.file_digest,
                              proof=checked[0], depends_on_open=checked[1], deps_digest=goal.deps_digest,
                              verified=True)
                self._ledger_call(self.ledger.upsert_goal, rec)
            out.status, out.replacement, out.verified, out.header = "proved", rec.proof, True, header
            out.depends_on_open = rec.depends_on_open
            out.seconds, out.attempts, out.strategy, out.from_ledger = rec.seconds, rec.attempts, rec.strategy, True
            if imported:
                out.message = "found elsewhere (sync import), verified here"
            return True
        if rec.status in ("exhausted", "timeout") and rec.budget_s >= self._budget(out) \
                and rec.deps_digest == goal.deps_digest:  # not after a project file it loads changed
            out.status, out.seconds, out.attempts, out.from_ledger = rec.status, rec.seconds, rec.attempts, True
            out.message = rec.message
            out.tickets = self._stored_tickets(goal)
            return True
        return False

    def _stored_tickets(self, goal: Goal) -> tuple["HelperTicket", ...]:
        from .tickets import HelperTicket

        try:
            rows = self.ledger.tickets(goal.key.digest) if self.ledger is not None else []
        except LedgerError:
            return ()
        return tuple(HelperTicket.from_record(r) for r in rows)

    def _reverify_stored(self, goal: Goal, proof: str, header: str, source: bytes | None,
                         provers: dict[str, Prover]) -> tuple[str, tuple[str, ...]] | None:
        """A stored proof checked again in the file as it is now: (the replacement to use, the open lemmas it stands
        on), or None (search again)."""
        if goal.backend == "coq":
            from . import verify as verifier

            verdict = verifier.verify(goal, proof, timeout=self.options.verify_timeout, original=source,
                                      header=header.split("\n") if header else "", allow_open=not self.options.strict)
            return (proof, verdict.depends_on_open) if verdict.ok else None
        if goal.backend == "lean":
            from .patch import lean_script_of
            from .verify_lean import verify_lean

            script = lean_script_of(proof)
            if script is None:
                return None
            try:
                prover = self._prover_for("lean", provers)
                if prover is None:
                    return None
                verdict, replacement = verify_lean(goal, script, prover, original=source,  # type: ignore[arg-type]
                                                   timeout=self.options.verify_timeout,
                                                   allow_open=not self.options.strict)
            except AutoProveError as e:  # no REPL, a crash: the goal is searched (and reports that) instead
                log.warning("%s:%s: stored proof not re-checked: %s", goal.file, goal.line, e)
                return None
            return (replacement, tuple(getattr(verdict, "depends_on_open", ()))) if verdict.ok else None
        return None

    def _record_goal(self, out: GoalOutcome) -> None:
        if self.ledger is None or out.from_ledger or out.status == "queued":
            return
        g = out.goal
        rec = GoalRecord(
            key=g.key.digest, file=str(g.file), lemma=g.lemma, line=g.line, kind=out.kind, status=out.status,
            proof=out.replacement if out.verified else None, budget_s=self._budget(out), seconds=out.seconds,
            attempts=out.attempts, verified=out.verified, file_digest=g.file_digest,
            message=out.message, strategy=out.strategy, header=out.header, depends_on_open=out.depends_on_open,
            deps_digest=g.deps_digest, golfed_from=out.golfed_from,
        )
        self._ledger_call(self.ledger.upsert_goal, rec)

    def _ledger_call(self, fn: Callable[..., None], *args: object) -> None:
        try:
            fn(*args)
        except LedgerError as e:
            self._warn_ledger(e)

    def _warn_ledger(self, e: LedgerError) -> None:
        if not self._ledger_warned:
            self._ledger_warned = True
            log.error("%s", e)


def _crash_count(prover: Prover) -> int:
    """Crashes the prover has restarted after so far (0 for provers that do not count them)."""
    stats = getattr(prover, "stats", None)
    return int(getattr(stats, "crashes", 0) or 0)


def refusal_class(reason: str) -> str:
    """What kind of refusal `reason` is, for counting and logging once per kind: the first words of its first reason
    (e.g. "uses the admitted lemma A" and "… lemma B" are one kind, "the proof fails: …" another)."""
    return " ".join(_one_line(reason).split(";")[0].split()[:4])


def _golfed_families(script: Sequence[str], families: Sequence[str], shorter: Sequence[str]) -> tuple[str, ...]:
    """The family of each step of a golfed script: the original step's where it kept one (in order), else "golf"."""
    out, i = [], 0
    for s in shorter:
        j = next((k for k in range(i, len(script)) if script[k] == s), None)
        if j is None:
            out.append("golf")
        else:
            out.append(families[j] if j < len(families) else "golf")
            i = j + 1
    return tuple(out)


def _shown(state: ProofState) -> str:
    """A state's goals as the prover prints them, for a model's prompt."""
    return "\n\n".join(g.text() for g in state.goals)


def _one_line(text: str, limit: int = 200) -> str:
    """The first line of a (prover) message, shortened; a line ending in a colon (coqc's bare `Error:`) runs on
    into the next, which says what the error is."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    line = lines[0] if lines else ""
    for more in lines[1:]:
        if not line.endswith(":"):
            break
        line += " " + more
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _mentions(text: str, name: str) -> bool:
    """Whether `text` names `name` (by its last component): an open lemma the statement itself is about is one
    every proof of it stands on."""
    return re.search(r"(?<![\w'.])" + re.escape(name.split(".")[-1]) + r"(?![\w'])", text) is not None
