"""What a coding agent may do with a project (the MCP server's tools, `mcp_server.py`): list its goals under stable
ids, read a goal's state, try tactics on it, ask the independent verifier about a proof, apply a verified proof,
and start and follow searches.

Protocol-agnostic, over the same `LiveWorkspace` (goals kept current, background search under the CPU target) and
`Scheduler` (verification) as the language server and `serve`: no second copy of goals, search or verification.

Every answer is a dict with a `status` from one fixed set, and every answer about a goal carries the digest of the
file text the goal was found in:

- `ok`: the question was answered (a list, a goal, tactics tried, a job started);
- `verified`: the independent verifier accepted the proof (`check_proof`, `apply_proof`);
- `refused` + `reason`: the verifier said no, or the file changed since the digest the caller had;
- `error` + `reason`: a wrong id or argument, a file that does not load, a prover that failed;
- `timeout`: the prover or the verifier ran out of time — never read as success;
- `busy`: the goal's file is being read again after a change, or the prover is in use; ask again.

A goal's id is `<file relative to the project>:<lemma>` (`#k` added for the k-th hole of a lemma with several,
from 1), so it survives edits elsewhere in the file. Nothing here writes a file except `apply_proof` with
`dry_run=False`, and only bytes the verifier checked, over the exact text the caller's digest names.
"""

from __future__ import annotations

import fnmatch
import hashlib
import itertools
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from .errors import AutoProveError, ProverTimeout, SourceError

if TYPE_CHECKING:
    from .goals import Goal
    from .live import Document, LiveWorkspace, TrackedGoal
    from .provers.base import GoalView, Prover, ProofState

__all__ = ["Agent", "AgentAnswer", "STATUSES", "MAX_TACTICS"]

log = logging.getLogger(__name__)

STATUSES = ("ok", "verified", "refused", "error", "timeout", "busy")
MAX_TACTICS = 20  # tactics (or scripts) one `try_tactics` call may try
PAGE = 50  # goals per `list_goals` page unless asked
CONTEXT_LINES = 6  # lines of text shown before and after a goal
MIN_BUDGET, MAX_BUDGET = 1.0, 3600.0  # seconds a `search` with a budget may give each goal

AgentAnswer = dict[str, Any]


class _Refusal(Exception):
    """An answer other than ok, raised where it is found and returned by the tool."""

    def __init__(self, status: str, reason: str, **extra: Any) -> None:
        super().__init__(reason)
        self.answer = {"status": status, "reason": reason, **extra}


@dataclass
class _Job:
    ids: tuple[str, ...]
    tickets: dict[str, object]
    started: float = field(default_factory=time.monotonic)
    cancelled: bool = False


class Agent:
    """The tools' core for one project (thread-safe; several clients may share it)."""

    def __init__(self, live: "LiveWorkspace", root: Path, *, tactic_timeout: float = 10.0,
                 settle_seconds: float = 5.0, prover_wait: float = 30.0) -> None:
        self.live = live
        self.root = Path(root).resolve()
        self.tactic_timeout = tactic_timeout
        self.settle_seconds = settle_seconds  # how long a call waits for goals being found (then: busy, or partial)
        self.prover_wait = prover_wait  # how long a call waits for the tool prover before answering busy
        self._provers: dict[str, "Prover"] = {}
        self._prover_lock = threading.Lock()
        self._jobs: dict[str, _Job] = {}
        self._job_ids = itertools.count(1)
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the provers the tools started (the workspace is the caller's)."""
        with self._lock:
            provers, self._provers = list(self._provers.values()), {}
        for p in provers:
            try:
                p.close()
            except Exception:  # best effort: they die with this process anyway
                log.debug("closing a tool prover", exc_info=True)

    # -- ids ---------------------------------------------------------------------------------------------------

    def _rel(self, path: Path) -> str:
        try:
            return path.resolve().relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    def _tracked(self) -> list[tuple[str, "Document", "TrackedGoal"]]:
        """(id, document, goal) of every goal found, in file order."""
        out = []
        for doc, goals in sorted(self.live.tracked(), key=lambda dg: self._rel(dg[0].path)):
            names = [".".join((*tg.goal.module_path, tg.goal.lemma)) for tg in goals]
            holes, seen = Counter(names), Counter[str]()
            for name, tg in zip(names, goals):
                seen[name] += 1
                out.append((f"{self._rel(doc.path)}:{name}" + (f"#{seen[name]}" if holes[name] > 1 else ""), doc, tg))
        return out

    def _wait(self, ready: Callable[[], bool]) -> bool:
        """Wait up to `settle_seconds` for `ready()`; whether it came true."""
        deadline = time.monotonic() + self.settle_seconds
        while not ready():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def _goal(self, goal_id: object) -> tuple["Document", "TrackedGoal"]:
        """The goal of `goal_id` in its file's current text (waiting a little while that file's goals are found
        again after a change)."""
        if not isinstance(goal_id, str) or not goal_id:
            raise _Refusal("error", "a goal id is a string such as 'Foo.v:my_lemma' (see list_goals)")
        rel = goal_id.rsplit(":", 1)[0]
        doc = next((d for d, _ in self.live.tracked() if self._rel(d.path) == rel), None)
        if doc is None and not self._wait(lambda: self.live.settled() or any(
                self._rel(d.path) == rel for d, _ in self.live.tracked())):
            raise _Refusal("busy", "the project's files are still being read; ask again shortly")
        doc = next((d for d, _ in self.live.tracked() if self._rel(d.path) == rel), None)
        if doc is None:
            raise _Refusal("error", f"no file {rel!r} with goals in the project (list_goals gives the ids)")
        if not self._wait(lambda: self.live.current(doc)):
            raise _Refusal("busy", f"{rel} changed; its goals are being found again; ask again shortly")
        for gid, d, tg in self._tracked():
            if gid == goal_id and d is doc:
                if not tg.goal.fillable:
                    raise _Refusal("error", f"{goal_id} is not a goal: its placeholder's type is not a proposition "
                                            "(a definition's body, a witness) and is the user's to write")
                return doc, tg
        raise _Refusal("error", f"no goal {goal_id!r} (list_goals gives the ids)")

    @staticmethod
    def _digest(doc: "Document") -> str:
        return hashlib.sha256((doc.found_text or "").encode("utf-8")).hexdigest()

    # -- the tools -----------------------------------------------------------------------------------------------

    def list_goals(self, pattern: str = "*", status: str | None = None, cursor: int = 0,
                   limit: int = PAGE) -> AgentAnswer:
        """Goals whose file matches `pattern` (a glob on the path relative to the project) and, if given, whose
        search status is `status`; one page from `cursor`."""
        complete = self._wait(self.live.settled)  # a little while; then what is found so far, marked incomplete
        if not isinstance(cursor, int) or cursor < 0 or not isinstance(limit, int) or limit < 1:
            return {"status": "error", "reason": "cursor must be an integer ≥ 0 and limit one ≥ 1"}
        rows = []
        for gid, doc, tg in self._tracked():
            if not self.live.current(doc):
                continue  # being found again: its goals and their digest are about to change
            rel = self._rel(doc.path)
            if not (fnmatch.fnmatch(rel, pattern) or fnmatch.fnmatch(Path(rel).name, pattern)):
                continue
            if not tg.goal.fillable:
                continue  # a definition's body is the user's to write: not a goal
            if status and tg.out.status != status:
                continue
            rows.append({"id": gid, "file": rel, "line": tg.goal.line, "lemma": tg.goal.lemma, "kind": tg.out.kind,
                         "search": tg.out.status, "digest": self._digest(doc)})
        page = rows[cursor:cursor + limit]
        answer: AgentAnswer = {"status": "ok", "goals": page, "total": len(rows), "complete": complete}
        if not complete:
            answer["note"] = "some files' goals are still being found: list again for the rest"
        if cursor + limit < len(rows):
            answer["next_cursor"] = cursor + limit
        return answer

    def get_goal(self, goal_id: str) -> AgentAnswer:
        """A goal's statement, its state (hypotheses and conclusion, as the prover shows them), the text around it,
        and what the background search did."""
        try:
            doc, tg = self._goal(goal_id)
            g, out = tg.goal, tg.out
            with self._prover(g.backend) as prover:
                root = self._enter(prover, g)
            text = doc.found_text or ""
            lines = text.splitlines()
            a, b = max(0, g.line - 1 - CONTEXT_LINES), min(len(lines), (g.end_line or g.line) + CONTEXT_LINES)
            return {"status": "ok", "id": goal_id, "digest": self._digest(doc), "file": self._rel(g.file),
                    "line": g.line, "lemma": g.lemma, "kind": out.kind, "statement": g.statement,
                    "goals": [_view(v) for v in root.goals], "context": {"first_line": a + 1,
                                                                        "text": "\n".join(lines[a:b])},
                    "search": _search(out)}
        except _Refusal as r:
            return r.answer

    def try_tactics(self, goal_id: str, tactics: Sequence[str]) -> AgentAnswer:
        """Run each of `tactics` (a tactic, or a script of several sentences) from the goal's start, separately:
        for each, the goals it leaves, or the error and the goal the failing sentence was run on. Nothing is
        verified or written here (`check_proof` does that)."""
        try:
            if not isinstance(tactics, (list, tuple)) or not tactics or \
                    not all(isinstance(t, str) and t.strip() for t in tactics):
                raise _Refusal("error", "tactics is a non-empty list of tactic texts")
            if len(tactics) > MAX_TACTICS:
                raise _Refusal("error", f"at most {MAX_TACTICS} tactics per call")
            doc, tg = self._goal(goal_id)
            g = tg.goal
            results = []
            with self._prover(g.backend) as prover:
                root = self._enter(prover, g)
                for t in tactics:
                    results.append(self._try(prover, root, t, g.backend))
            return {"status": "ok", "id": goal_id, "digest": self._digest(doc), "results": results}
        except _Refusal as r:
            return r.answer

    def check_proof(self, goal_id: str, script: str | Sequence[str]) -> AgentAnswer:
        """The independent verifier's verdict on `script` for the goal (the patched file compiled from scratch,
        the statement unchanged, no admits or axioms behind it beyond what the project allows). Writes nothing."""
        try:
            doc, tg = self._goal(goal_id)
            return self._check(goal_id, doc, tg, script)[0]
        except _Refusal as r:
            return r.answer

    def apply_proof(self, goal_id: str, script: str | Sequence[str], digest: str,
                    dry_run: bool = True) -> AgentAnswer:
        """Verify `script` against the file as it is now and, unless `dry_run`, write exactly the bytes the verifier
        checked. `digest` is the one the caller's answers carried: when the file no longer has that text, nothing
        is checked or written (`refused`, reason `stale`)."""
        try:
            if not isinstance(digest, str) or len(digest) != 64:
                raise _Refusal("error", "digest is the 64-hex-digit digest an earlier answer carried")
            doc, tg = self._goal(goal_id)
            path = tg.goal.file
            try:
                on_disk = path.read_bytes()
            except OSError as e:
                raise _Refusal("error", f"cannot read {self._rel(path)}: {e.strerror or e}")
            now = hashlib.sha256(on_disk).hexdigest()
            if digest != now or digest != self._digest(doc):
                raise _Refusal("refused", "stale: the file changed since that digest; get the goal again",
                               digest=now)
            answer, verdict = self._check(goal_id, doc, tg, script, source=on_disk)
            if answer["status"] != "verified" or dry_run:
                return {**answer, "written": False}
            from .patch import write_file_atomically

            if path.read_bytes() != on_disk:  # changed while it was being checked
                raise _Refusal("refused", "stale: the file changed while the proof was being checked")
            assert verdict is not None and verdict.patched is not None
            write_file_atomically(path, verdict.patched)
            self.live.file_changed(path)
            return {**answer, "written": True, "digest": hashlib.sha256(verdict.patched).hexdigest()}
        except _Refusal as r:
            return r.answer

    def proofs(self, goal_id: str) -> AgentAnswer:
        """Verified proofs known for the goal: the background search's, and the ledger's from earlier runs."""
        try:
            doc, tg = self._goal(goal_id)
            out = tg.out
            found = []
            if out.status == "proved" and out.verified and out.replacement:
                found.append({"proof": out.replacement, "script": list(out.script or ()), "header": out.header,
                              "source": "search", "seconds": round(out.seconds, 3), "strategy": out.strategy,
                              "families": sorted(set(out.families)), "depends_on_open": list(out.depends_on_open)})
            ledger = self.live.scheduler.ledger
            rec = ledger.goal(tg.goal.key.digest) if ledger is not None else None
            # a proof imported from elsewhere (sync.py) is listed only once the scheduler has verified it here
            if rec is not None and rec.status == "proved" and rec.proof and rec.verified and \
                    all(f["proof"] != rec.proof for f in found):
                found.append({"proof": rec.proof, "source": "ledger (verified again before it is offered)",
                              "seconds": round(rec.seconds, 3)})
            return {"status": "ok", "id": goal_id, "digest": self._digest(doc), "proofs": found}
        except _Refusal as r:
            return r.answer

    def premises(self, goal_id: str, query: str = "", limit: int = 20) -> AgentAnswer:
        """Lemmas in scope for the goal, best first: those whose conclusion has the goal's shape and those sharing
        its constants (Coq's own `Search` in the goal's session), then, under profile 1, those the proofs of
        similar visible lemmas used. With `query`, what `Search <query>` finds there instead. All local. Lean: the
        file's earlier lemmas sharing the most names with the goal (with `query`: holding its words)."""
        try:
            if not isinstance(limit, int) or not 1 <= limit <= 100:
                raise _Refusal("error", "limit is an integer from 1 to 100")
            doc, tg = self._goal(goal_id)
            g = tg.goal
            if g.backend == "lean":  # the file's own lemmas, ranked from its text (Lean's environment: not here)
                from .strategies.lean import lean_premises

                if not isinstance(query, str):
                    raise _Refusal("error", "query is words a lemma's name or statement must hold")
                found = lean_premises(g.env.source or "", g.env.placeholder[0], g.statement, query, limit, g.lemma)
                return {"status": "ok", "id": goal_id, "digest": self._digest(doc),
                        "premises": [{"name": n, "statement": st, "source": "file"} for n, st in found]}
            from .coq_source import script_sentences
            from .strategies.coq import CoqPremises

            if query and (not isinstance(query, str) or len(script_sentences(query)) != 1 or query.strip()
                          .endswith(".")):
                raise _Refusal("error", "query is the arguments of one Coq `Search`, e.g. '_ + 0' or 'Nat.add \"<=\"'")
            rows: list[dict[str, Any]] = []
            with self._prover(g.backend) as prover:
                root = self._enter(prover, g)
                # never a lemma of a library only the session's added imports load: the file does not load it
                sched = self.live.scheduler
                outside = sched.foreign_libraries(g, prover, root) if sched.session_headers(g) else frozenset()
                finder = CoqPremises(prover, timeout=self.tactic_timeout, keep=limit, exclude=g.lemma,
                                     outside=sorted(outside))
                found = finder.search(root, query, limit) if query else finder.ranked(root)
            rows = [{"name": n, "statement": st, "source": "search"} for n, st in found]
            learning = self.live.scheduler.learning
            if not query and learning is not None:
                vis = learning.prepare(g)
                if vis is not None:
                    for n in learning.view(g, vis).premises(limit):
                        if all(r["name"] != n for r in rows):
                            rows.append({"name": n, "source": "learned"})
            return {"status": "ok", "id": goal_id, "digest": self._digest(doc), "premises": rows[:limit]}
        except _Refusal as r:
            return r.answer

    def search(self, goal_ids: Sequence[str], budget: float | None = None) -> AgentAnswer:
        """Put these goals at the front of the background search; a job to follow them with `search_status`. With
        `budget` (seconds), each goal not proved is searched again for that long (one that ended `exhausted` at a
        smaller budget too; at this budget or more, the ledger's verdict stands)."""
        try:
            if not isinstance(goal_ids, (list, tuple)) or not goal_ids:
                raise _Refusal("error", "ids is a non-empty list of goal ids")
            if budget is not None and (isinstance(budget, bool) or not isinstance(budget, (int, float))
                                       or not MIN_BUDGET <= budget <= MAX_BUDGET):
                raise _Refusal("error", f"budget is a number of seconds from {MIN_BUDGET:g} to {MAX_BUDGET:g}")
            found = [(gid, *self._goal(gid)) for gid in goal_ids]  # every id checked before anything moves
            tickets = {}
            for gid, doc, tg in found:
                if budget is not None and tg.out.status != "proved":
                    again = self.live.search_again(doc.path, tg.goal.key, float(budget))
                    tg = again if again is not None else tg
                else:
                    self.live.prove_here(doc.path, tg.goal.line - 1, tg.goal.column)
                tickets[gid] = tg.ticket
            self.live.resume()
            job = f"job-{next(self._job_ids)}"
            with self._lock:
                self._jobs[job] = _Job(tuple(goal_ids), tickets)
            return {"status": "ok", "job": job, **self._job_state(job)}
        except _Refusal as r:
            return r.answer

    def search_status(self, job: str, cancel: bool = False) -> AgentAnswer:
        """Where a job's goals are: queued, searching, proved (with the verified proof), exhausted, error. With
        `cancel`, they go back to the ordinary order of the background search."""
        with self._lock:
            j = self._jobs.get(job) if isinstance(job, str) else None
        if j is None:
            return {"status": "error", "reason": f"no job {job!r}"}
        if cancel and not j.cancelled:
            j.cancelled = True
            self.live.usual_order()
        return {"status": "ok", "job": job, **self._job_state(job)}

    def status(self) -> AgentAnswer:
        """The background search: goals queued, running, proved; CPU; whether goals are still being found."""
        return {"status": "ok", **self.live.status(), "settled": self.live.settled(),
                "jobs": len(self._jobs)}

    # -- helpers -------------------------------------------------------------------------------------------------

    def _job_state(self, job: str) -> dict[str, Any]:
        j = self._jobs[job]
        goals = {}
        for gid, ticket in j.tickets.items():
            out = ticket.out  # type: ignore[attr-defined]
            goals[gid] = {"search": out.status, **({"proof": out.replacement} if out.verified else {}),
                          **({"message": out.message} if out.message else {})}
        running = any(v["search"] in ("queued", "searching") for v in goals.values())
        return {"done": not running, "cancelled": j.cancelled, "goals": goals,
                "seconds": round(time.monotonic() - j.started, 1)}

    def _prover(self, backend: str) -> "_Held":
        if not self._prover_lock.acquire(timeout=self.prover_wait):
            raise _Refusal("busy", "the tool prover is in use by another call; ask again")
        try:
            p = self._provers.get(backend)
            if p is None:
                from .provers import open_prover

                p = self._provers[backend] = open_prover(backend)
        except AutoProveError as e:
            self._prover_lock.release()
            raise _Refusal("error", str(e))
        return _Held(p, self._prover_lock)

    def _enter(self, prover: "Prover", goal: "Goal") -> "ProofState":
        """The goal's start, as the search sessions stand at it: the file's environment after the imports a proof
        may add (Lia unless configured otherwise; `check_proof` says which one a proof needs)."""
        from dataclasses import replace

        headers = self.live.scheduler.session_headers(goal)
        timeout = self.live.options.enter_timeout
        try:
            if headers:
                try:
                    return prover.enter(replace(goal.env, sentences=(*headers, *goal.env.sentences)), timeout)
                except SourceError:  # the imports change how the file itself runs: the file's own environment
                    pass
            return prover.enter(goal.env, timeout)
        except ProverTimeout as e:
            raise _Refusal("timeout", f"the prover did not reach the goal in time: {e}")
        except SourceError as e:
            raise _Refusal("error", f"the file does not load up to the goal: {getattr(e, 'message', e)}")
        except AutoProveError as e:
            raise _Refusal("error", str(e))

    def _try(self, prover: "Prover", root: "ProofState", tactic: str, backend: str) -> dict[str, Any]:
        from .coq_source import script_sentences

        steps = script_sentences(tactic) if backend == "coq" else [tactic]
        state = root
        for k, s in enumerate(steps):
            try:
                r = prover.run(state, s, self.tactic_timeout)
            except AutoProveError as e:
                return {"tactic": tactic, "status": "error", "reason": f"the prover failed: {e}", "at": k}
            if r.outcome in ("failed", "timeout"):
                return {"tactic": tactic, "status": "error" if r.outcome == "failed" else "timeout",
                        "reason": r.message.strip()[:2000], "at": k, "sentence": s,
                        "goals_at_error": [_view(v) for v in state.goals]}
            assert r.state is not None
            state = r.state
        return {"tactic": tactic, "status": "ok", "finished": state.finished,
                "goals": [_view(v) for v in state.goals], "unfocused": state.unfocused,
                **({"note": "no goals left: check_proof verifies it"} if state.finished else {})}

    def _check(self, goal_id: str, doc: "Document", tg: "TrackedGoal", script: str | Sequence[str],
               source: bytes | None = None) -> tuple[AgentAnswer, Any]:
        from .coq_source import script_sentences

        g = tg.goal
        if isinstance(script, str):
            steps = script_sentences(script) if g.backend == "coq" else [script]
        elif isinstance(script, (list, tuple)) and all(isinstance(s, str) for s in script):
            steps = [s for item in script for s in (script_sentences(item) if g.backend == "coq" else [item])]
        else:
            raise _Refusal("error", "script is a proof text or a list of tactic sentences")
        if not steps:
            raise _Refusal("error", "an empty script proves nothing")
        data = source if source is not None else (doc.found_text or "").encode("utf-8")
        lean = None
        held = None
        try:
            if g.backend == "lean":
                held = self._prover("lean")
                lean = held.prover
            verdict, replacement, header = self.live.scheduler.check(g, steps, source=data, lean=lean)
        except ProverTimeout as e:
            raise _Refusal("timeout", f"the verifier ran out of time: {e}")
        except (AutoProveError, ValueError) as e:
            raise _Refusal("error", str(e))
        finally:
            if held is not None:
                held.release()
        base: AgentAnswer = {"id": goal_id, "digest": hashlib.sha256(data).hexdigest(), "replacement": replacement,
                             "header": header or None}
        if not verdict.ok:
            reasons = "; ".join(verdict.reasons)
            status = "timeout" if "timed out" in reasons or "did not finish" in reasons else "refused"
            return {"status": status, "reason": reasons, **base}, verdict
        extra: AgentAnswer = {"assumptions": list(verdict.assumptions)}
        if verdict.depends_on_open:
            extra["depends_on_open"] = list(verdict.depends_on_open)
        if not verdict.complete:
            extra["note"] = "the lemma still ends in Admitted: other holes remain"
        return {"status": "verified", **base, **extra}, verdict


class _Held:
    """The tool prover, held by one call (a context manager that releases it)."""

    def __init__(self, prover: "Prover", lock: threading.Lock) -> None:
        self.prover = prover
        self._lock: threading.Lock | None = lock

    def release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> "Prover":
        return self.prover

    def __exit__(self, *exc: object) -> None:
        self.release()


def _view(v: "GoalView") -> dict[str, Any]:
    return {"hypotheses": list(v.hypotheses), "conclusion": v.conclusion}


def _search(out: Any) -> dict[str, Any]:
    d: dict[str, Any] = {"status": out.status, "attempts": out.attempts, "seconds": round(out.seconds, 3)}
    if out.strategies:
        d["tried"] = dict(out.strategies)
    if out.remaining:
        d["reached"] = out.remaining
    if getattr(out, "tickets", ()) and out.status != "proved":
        d["tickets"] = [t.as_json() for t in out.tickets]  # helper lemmas that would help (tickets.py)
    if out.message:
        d["message"] = out.message
    if out.verified and out.replacement:
        d["proof"] = out.replacement
    return d
