"""The scheduler: a priority queue of goals, a pool of prover workers under the CPU governor, and the one path
every goal takes — ledger check → search → verify → ledger.

The CLI, the bank runner and the language server all drive this class; none of them talks to a prover.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Callable, Literal

from .errors import AutoProveError, LedgerError, ProverError, SourceError
from .goals import Goal
from .governor import CpuGovernor
from .ledger import GoalRecord, Ledger
from .provers import open_prover
from .provers.base import Prover, ProofState
from .search import Search, SearchBudget, SearchResult
from .strategies import SearchContext, strategy_for

__all__ = ["ProveOptions", "GoalOutcome", "Scheduler", "HAMMER_HEADER", "DEFAULT_IMPORTS"]

log = logging.getLogger(__name__)

HAMMER_HEADER = "From Hammer Require Import Hammer Tactics."
# Imports every Coq search session loads unless told otherwise: Coq's own arithmetic decision procedure. A proof
# that needs one gets it added at the top of its file (verified there); proofs that do not, add nothing.
DEFAULT_IMPORTS = ("From Coq Require Import Lia.",)
Status = Literal["queued", "searching", "proved", "exhausted", "timeout", "error"]


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

    def as_json(self) -> dict[str, object]:
        """The stable JSON row (field names are read by other tools)."""
        g = self.goal
        return {
            "file": str(g.file), "line": g.line, "name": g.lemma, "kind": g.kind, "status": self.status,
            "proof": self.replacement if self.verified else None, "seconds": round(self.seconds, 3),
            "attempts": self.attempts, "verified": self.verified, "strategy": self.strategy,
            "header": self.header or None, "message": self.message,
        }


EventSink = Callable[[str, GoalOutcome], None]  # ("queued"|"started"|"progress"|"done", outcome)


class Scheduler:
    """Runs goals through search and verification on a worker pool held to a CPU target."""

    def __init__(self, options: ProveOptions, ledger: Ledger | None = None, *,
                 on_event: EventSink | None = None) -> None:
        self.options = options
        self.ledger = ledger
        self.on_event = on_event or (lambda kind, out: None)
        self.governor = CpuGovernor(options.cpu, max_workers=options.max_provers)
        self._queue: list[tuple[float, int, Goal]] = []
        self._order = itertools.count()
        self._lock = threading.Condition()
        self._cancel = threading.Event()
        self._ledger_warned = False

    def cancel(self) -> None:
        """Stop every search at its next prover call."""
        self._cancel.set()
        with self._lock:
            self._lock.notify_all()

    def run(self, goals: list[Goal]) -> list[GoalOutcome]:
        """Prove `goals` (in file order, files kept together) and return one outcome per goal, in input order."""
        outcomes = {id(g): GoalOutcome(g) for g in goals}
        for i, g in enumerate(goals):
            heapq.heappush(self._queue, (float(i), next(self._order), g))
            self.on_event("queued", outcomes[id(g)])
        n = min(self.governor.workers, max(1, len(goals)))
        with self.governor:
            threads = [threading.Thread(target=self._worker, args=(outcomes,), name=f"prover-{k}", daemon=True)
                       for k in range(n)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        return [outcomes[id(g)] for g in goals]

    # -- one worker ------------------------------------------------------------------------------------------

    def _worker(self, outcomes: dict[int, GoalOutcome]) -> None:
        provers: dict[str, Prover] = {}
        try:
            while not self._cancel.is_set():
                with self._lock:
                    if not self._queue:
                        return
                    _, _, goal = heapq.heappop(self._queue)
                out = outcomes[id(goal)]
                try:
                    self._prove_one(goal, out, provers)
                except AutoProveError as e:
                    out.status, out.message = "error", str(e)
                except Exception as e:  # a bug must not take the other goals down with it
                    log.exception("unexpected failure on %s:%s", goal.file, goal.line)
                    out.status, out.message = "error", f"internal error: {e!r}"
                self._record_goal(out)
                self.on_event("done", out)
        finally:
            for p in provers.values():
                p.close()

    def _prove_one(self, goal: Goal, out: GoalOutcome, provers: dict[str, Prover]) -> None:
        from .patch import render_replacement
        from .strategies.coq import foreign_names

        if self._from_ledger(goal, out):
            return
        out.status = "searching"
        self.on_event("started", out)
        t0 = time.monotonic()
        prover = provers.get(goal.backend)
        if prover is None:
            prover = provers[goal.backend] = open_prover(goal.backend)
        headers = self._headers(goal)
        try:
            try:
                root = prover.enter(replace(goal.env, sentences=(*headers, *goal.env.sentences)),
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
        ctx = self._context(goal, prover, headers, root)
        budget = SearchBudget(seconds=max(0.1, self.options.budget - (time.monotonic() - t0)),
                              tactic_timeout=self.options.tactic_timeout)

        def on_attempt(strategy: str, tactic: str, outcome: str, seconds: float) -> None:
            if self.ledger is not None:
                self._ledger_call(self.ledger.record_attempt, goal.key.digest, strategy, tactic, outcome, seconds)

        def on_progress(r: SearchResult) -> None:
            out.attempts, out.seconds = r.attempts, time.monotonic() - t0
            out.strategies = dict(r.strategies)
            self.on_event("progress", out)

        accepted: list[tuple[str, str]] = []  # (replacement, header) of the script verification took
        refusals: list[str] = []
        foreign = ctx.extra.get("foreign") or frozenset()

        def accept(script: tuple[str, ...]) -> bool:
            """A finished script counts only once checked independently (and not leaning on an import's library)."""
            used = foreign_names(prover, root, script, foreign)  # type: ignore[arg-type]
            if used:
                refusals.append("names " + ", ".join(used[:3]) + " from a library only the added import loads")
                return False
            replacement = render_replacement(goal, script)
            verdict, header = self._verify(goal, replacement, headers)
            if not verdict.ok:
                refusals.append("; ".join(verdict.reasons))
                log.warning("%s:%s verification refused a found script: %s", goal.file, goal.line, refusals[-1])
                return False
            accepted.append((replacement, header))
            return True

        strat = strategy_for(goal.backend, self.options.profile)
        result = Search(prover, strat, ctx, budget, on_attempt=on_attempt, cancel=self._cancel,
                        on_progress=on_progress, accept=accept).run(root)
        out.attempts, out.strategies, out.strategy = result.attempts, dict(result.strategies), result.strategy
        if result.best is not None and not result.best.finished:
            out.remaining = "\n\n".join(g.text() for g in result.best.goals)
        if result.status == "proved" and result.script is not None and accepted:
            out.script = result.script
            out.status, out.verified = "proved", True
            out.replacement, out.header = accepted[-1]
        elif result.status == "cancelled":
            out.status = "queued"
        elif result.status == "error":
            out.status, out.message = "error", result.message
        else:
            out.status = "timeout" if result.status == "timeout" else "exhausted"
        if refusals and out.status != "proved":
            out.message = (f"found {len(refusals)} script(s) but none passed verification; last: " + refusals[-1])
        out.seconds = time.monotonic() - t0

    def _verify(self, goal: Goal, replacement: str, headers: list[str]):  # type: ignore[no-untyped-def]
        """Verify with as few of the session's imports as the proof needs: none, then each alone, then all."""
        from . import verify as verifier

        verdict = verifier.verify(goal, replacement, timeout=self.options.verify_timeout)
        if verdict.ok or not headers:
            return verdict, ""
        tries = [[h] for h in headers] + ([headers] if len(headers) > 1 else [])
        for hs in tries:
            with_header = verifier.verify(goal, replacement, timeout=self.options.verify_timeout, header=hs)
            if with_header.ok:
                return with_header, "\n".join(hs)
        return verdict, ""

    def _headers(self, goal: Goal) -> list[str]:
        """Import lines the search sessions load before the file (and a proof may therefore need)."""
        if goal.backend != "coq":
            return []
        return list(self.options.imports) + ([HAMMER_HEADER] if self.options.hammer else [])

    def _context(self, goal: Goal, prover: Prover, headers: list[str], root: ProofState) -> SearchContext:
        from .strategies.coq import CoqPremises, environment_of

        if goal.backend != "coq":
            return SearchContext(tactic_timeout=self.options.tactic_timeout)
        lemmas, defs, ltacs = environment_of(goal.env.sentences)
        admitted = set(goal.admitted_names)
        lemmas = tuple((n, s) for n, s in lemmas if n not in admitted and n != goal.lemma)
        # CoqHammer's tactics are usable without adding anything when the file itself loads them
        file_has_hammer = any("Hammer" in x and "Require" in x for x in goal.env.sentences)
        foreign = self._foreign_libraries(goal, prover, root) if headers else frozenset()
        return SearchContext(lemmas=lemmas, definitions=defs, hammer=HAMMER_HEADER in headers or file_has_hammer,
                             tactic_timeout=self.options.tactic_timeout,
                             extra={"ltacs": ltacs, "lemma": goal.lemma, "foreign": foreign,
                                    "premises": CoqPremises(prover, exclude=goal.lemma, outside=sorted(foreign)),
                                    "hammer_timeout": max(20.0, 0.5 * self.options.budget)})

    def _foreign_libraries(self, goal: Goal, prover: Prover, root: ProofState) -> frozenset[str]:
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

    def _from_ledger(self, goal: Goal, out: GoalOutcome) -> bool:
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
            if rec.file_digest != goal.file_digest:  # the file changed: the stored proof must verify again
                from . import verify as verifier

                verdict = verifier.verify(goal, rec.proof, timeout=self.options.verify_timeout,
                                          header=header.split("\n") if header else "")
                if not verdict.ok:
                    return False
                # checked against the file as it is now: record that, so the next run does not check again
                self._ledger_call(self.ledger.upsert_goal, replace(rec, file=str(goal.file), line=goal.line,
                                                                   file_digest=goal.file_digest))
            out.status, out.replacement, out.verified, out.header = "proved", rec.proof, True, header
            out.seconds, out.attempts, out.strategy, out.from_ledger = rec.seconds, rec.attempts, rec.strategy, True
            return True
        if rec.status in ("exhausted", "timeout") and rec.budget_s >= self.options.budget:
            out.status, out.seconds, out.attempts, out.from_ledger = rec.status, rec.seconds, rec.attempts, True
            out.message = rec.message
            return True
        return False

    def _record_goal(self, out: GoalOutcome) -> None:
        if self.ledger is None or out.from_ledger or out.status == "queued":
            return
        g = out.goal
        rec = GoalRecord(
            key=g.key.digest, file=str(g.file), lemma=g.lemma, line=g.line, kind=g.kind, status=out.status,
            proof=out.replacement if out.verified else None, budget_s=self.options.budget, seconds=out.seconds,
            attempts=out.attempts, verified=out.verified, file_digest=g.file_digest,
            message=out.message, strategy=out.strategy, header=out.header,
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
