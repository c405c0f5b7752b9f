"""Goals as Dask tasks: `prove --cluster local:N` (a LocalCluster of N worker processes on this machine) or
`--cluster tcp://host:8786` (a Dask scheduler whose workers run elsewhere).

Each task is one goal. A worker runs it through its own `Scheduler` — the very path a goal takes on one machine
(ledger check, search, verification, golf, tickets) — with its own provers under its own CPU governor, one per
worker process and set of options. The worker's ledger is an in-memory one, seeded with the client's record of the
goal (so a stored proof is reused, and verified again when its file changed, exactly as on one machine); what the
goal left there (its row, its attempts, its tickets, its model calls) travels back with the outcome and is written
to the project's ledger by the client. Cancelling (Ctrl-C) sets a Dask `Event` the running tasks watch and
withdraws their goals at the next prover call; each goal has the run's budget, as on one machine.

A worker that dies loses its goals in flight; the Dask scheduler runs them again on another worker. Before any goal
is sent, every worker checks that it sees the project as the client does — the same files at the same path (a shared
filesystem or a checkout at the same path), the same toolchain and library revisions (fingerprint.py) — and a
worker that does not is a clear error; a worker joining later checks before its first goal.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

from .errors import AutoProveError
from .fingerprint import Fingerprint, fingerprint, project_files
from .goals import Goal
from .ledger import GoalRecord, Ledger, TicketRecord
from .scheduler import GoalOutcome, ProveOptions

__all__ = ["ClusterError", "Cluster", "WorkerCheck", "GoalTask", "TaskResult", "parse_spec", "check_here"]

log = logging.getLogger(__name__)

TOPIC = "auto-prove"
CONNECT_SECONDS = 60.0  # how long a `tcp://` scheduler may take to answer and have a worker
POLL = 0.25  # seconds between a task's looks at its goal and at the run's cancel event


class ClusterError(AutoProveError):
    """The cluster cannot be used: no scheduler, no workers, or a worker that does not see the project as we do."""


def parse_spec(spec: str) -> tuple[str, int | str]:
    """("local", N) for `local:N`, ("address", addr) for a scheduler address (`tcp://host:8786`, `tls://…`)."""
    s = spec.strip()
    if s.startswith("local:"):
        try:
            n = int(s[len("local:"):])
        except ValueError:
            n = 0
        if n < 1:
            raise ClusterError(f"--cluster {spec!r}: local:N needs a number of workers N >= 1")
        return "local", n
    if "://" in s:
        return "address", s
    raise ClusterError(f"--cluster {spec!r}: expected local:N or a Dask scheduler address such as tcp://host:8786")


# -- what every worker must agree on ------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkerCheck:
    """The project as the client sees it: a worker must see the same before it is given goals."""

    root: str
    fingerprints: tuple[Fingerprint, ...]
    files: tuple[tuple[str, str], ...]  # (path relative to root, sha256)

    @property
    def digest(self) -> str:
        return hashlib.sha256(json.dumps([self.root, [f.as_json() for f in self.fingerprints], self.files])
                              .encode()).hexdigest()

    @staticmethod
    def here(root: Path, backends: Sequence[str]) -> "WorkerCheck":
        root = Path(root).resolve()
        return WorkerCheck(str(root), tuple(fingerprint(root, b) for b in sorted(set(backends))),
                           tuple(sorted(project_files(root).items())))


def check_here(expected: WorkerCheck) -> list[str]:
    """Run on a worker: how this machine's view of the project differs from the client's ([] when it does not)."""
    from .toolchains import missing_toolchain

    root = Path(expected.root)
    if not root.is_dir():
        return [f"no project folder {root} (the project must be at the same path on every worker)"]
    problems = []
    for fp in expected.fingerprints:
        missing = missing_toolchain(fp.backend)
        if missing:
            problems.append(missing)
            continue
        problems += fp.differences(fingerprint(root, fp.backend))  # "there": the worker; "here": the client
    mine = project_files(root)
    theirs = dict(expected.files)
    absent = [p for p in theirs if p not in mine]
    changed = [p for p in theirs if p in mine and mine[p] != theirs[p]]
    if absent:
        problems.append(f"{len(absent)} project file(s) missing there: {', '.join(absent[:3])}")
    if changed:
        problems.append(f"{len(changed)} project file(s) differ from the client's: {', '.join(changed[:3])}")
    return problems


# -- the task ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GoalTask:
    """One goal as sent to a worker."""

    goal: Goal
    options: ProveOptions  # its budget is the goal's, as on one machine
    stored: GoalRecord | None  # the client ledger's record of the goal
    stored_tickets: tuple[TicketRecord, ...]
    run: str  # the run's id: its cancel event and its event topic
    index: int  # the goal's place in the run


@dataclass
class TaskResult:
    """What a worker sends back: the outcome and what the goal wrote to the worker's ledger."""

    outcome: GoalOutcome
    record: GoalRecord | None  # the goal's row when the worker changed it
    attempts: list[tuple[object, ...]] = field(default_factory=list)
    llm_calls: list[tuple[object, ...]] = field(default_factory=list)
    tickets: list[TicketRecord] = field(default_factory=list)
    worker: str = ""
    started: float = 0.0  # wall-clock time.time() on the worker
    finished: float = 0.0
    received: float = 0.0  # time.time() on the client when the result was collected


_LOCK = threading.Lock()
_SCHEDULERS: dict[ProveOptions, tuple[Any, Ledger]] = {}  # this worker process's schedulers, by options
_CHECKED: dict[str, list[str]] = {}  # WorkerCheck digest -> problems found on this worker
_GUARDED: list[bool] = []


def run_goal(task: GoalTask, check: WorkerCheck) -> TaskResult:
    """A Dask task: prove one goal on this worker (see the module docstring)."""
    from distributed import Event, get_worker

    started = time.time()
    worker = get_worker()
    with _LOCK:
        if check.digest not in _CHECKED:
            _CHECKED[check.digest] = check_here(check)
        problems = _CHECKED[check.digest]
    if problems:
        raise ClusterError(f"worker {worker.address}: " + "; ".join(problems))
    sched, ledger = _scheduler_for(task.options, Path(check.root))
    key = task.goal.key.digest
    ledger.forget(key)
    if task.stored is not None:
        ledger.upsert_goal(task.stored)
    for t in task.stored_tickets:
        ledger.record_ticket(t.key, t.file, t.lemma, t.name, t.statement, t.status, t.proof)
    a0, l0 = ledger.last_id("attempts"), ledger.last_id("llm_calls")
    ticket = sched.submit(task.goal, float(task.index))
    cancel = Event(f"{TOPIC}-cancel-{task.run}")
    said, next_look = False, time.monotonic() + 1.0
    while not ticket.done.wait(POLL):
        if not said and ticket.out.status == "searching":
            said = True
            worker.log_event(f"{TOPIC}-{task.run}", {"kind": "started", "index": task.index})
        if time.monotonic() >= next_look:
            next_look = time.monotonic() + 1.0
            if cancel.is_set():
                sched.withdraw(ticket)
                ticket.done.wait(30.0)
                break
    rec = ledger.goal(key)
    result = TaskResult(outcome=ticket.out, record=rec if rec != task.stored else None,
                        attempts=ledger.log_rows("attempts", key, a0), llm_calls=ledger.log_rows("llm_calls", key, l0),
                        tickets=ledger.tickets(key), worker=worker.address, started=started, finished=time.time())
    ledger.forget(key)
    return result


def _scheduler_for(options: ProveOptions, root: Path) -> tuple[Any, Ledger]:
    """This worker process's scheduler for `options` (started on first use, closed when the process exits)."""
    from .scheduler import Scheduler

    with _LOCK:
        if not _GUARDED:
            from .procs import guard_tree

            guard_tree()  # what this worker starts dies with it, kill -9 included
            atexit.register(_close_all)
            _GUARDED.append(True)
        if options not in _SCHEDULERS:
            ledger = Ledger(root, in_memory=True)
            _SCHEDULERS[options] = (Scheduler(options, ledger).start(), ledger)
        return _SCHEDULERS[options]


def _preload() -> int:
    """Run on each worker when the cluster is taken up: import what a goal needs (seconds of CPU per process)."""
    from . import scheduler, search, verify  # noqa: F401
    from .provers import coq  # noqa: F401

    return 0


def _close_all() -> None:
    with _LOCK:
        running = list(_SCHEDULERS.values())
        _SCHEDULERS.clear()
    for sched, _ in running:
        sched.close(timeout=5.0)


# -- the client --------------------------------------------------------------------------------------------------

EventSink = Callable[[str, GoalOutcome], None]


class Cluster:
    """A Dask cluster to prove goals on: a LocalCluster this object starts (and stops), or a running scheduler.

    `cpu` is `--cpu`: with a scheduler's address each worker's share of its own machine (its governor's target);
    the N workers of `local:N` share this machine, so each gets 1/N of it."""

    def __init__(self, spec: str, *, cpu: float = 0.5) -> None:
        self.spec = spec
        self.kind, self.target = parse_spec(spec)
        self.submitted_at = 0.0  # time.time() when the last run's goals were sent (after the workers' check)
        share = cpu / int(self.target) if self.kind == "local" else cpu
        self.worker_cpu = max(0.05, min(1.0, share))
        self.client: Any = None
        self._local: Any = None

    def __enter__(self) -> "Cluster":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> "Cluster":
        try:
            from distributed import Client, LocalCluster
        except ImportError as e:
            raise ClusterError("--cluster needs Dask distributed: pip install 'auto-prove[cluster]'") from e
        try:
            if self.kind == "local":
                if not log.isEnabledFor(logging.DEBUG):  # Dask's own chatter only with -v
                    logging.getLogger("distributed").setLevel(logging.ERROR)
                # ":0": the scheduler's small HTTP server on a free port, never a clash with another run's
                self._local = LocalCluster(n_workers=int(self.target), threads_per_worker=1, processes=True,
                                           dashboard_address=":0", worker_dashboard_address=None,
                                           silence_logs=logging.ERROR)
                self.client = Client(self._local, set_as_default=False)
            else:
                self.client = Client(str(self.target), timeout=CONNECT_SECONDS, set_as_default=False)
                self.client.wait_for_workers(1, timeout=CONNECT_SECONDS)
            self.client.run(_preload)  # every worker imports the prover path now, not on its first goal
        except ClusterError:
            raise
        except Exception as e:  # noqa: BLE001 -- Dask's many ways of failing to connect, said in one line
            self.close()
            raise ClusterError(f"cannot use the cluster {self.spec}: {type(e).__name__}: {e}") from e
        return self

    @property
    def workers(self) -> list[str]:
        return sorted(self.client.scheduler_info(n_workers=-1)["workers"]) if self.client is not None else []

    def close(self) -> None:
        for thing in (self.client, self._local):
            if thing is not None:
                try:
                    thing.close()
                except Exception:  # noqa: BLE001 -- closing is best effort
                    log.debug("closing %s", thing, exc_info=True)
        self.client = self._local = None

    def check(self, expected: WorkerCheck) -> None:
        """Every worker sees the project as `expected` says, or ClusterError naming each that does not."""
        answers = self.client.run(check_here, expected)
        bad = {w: p for w, p in sorted(answers.items()) if p}
        if bad:
            raise ClusterError("the cluster's workers do not see the project as this machine does:\n"
                               + "\n".join(f"  worker {w}: " + "; ".join(p) for w, p in bad.items()))

    def run(self, goals: Sequence[Goal], options: ProveOptions, ledger: Ledger | None, *,
            on_event: EventSink | None = None, results: list[TaskResult] | None = None) -> list[GoalOutcome]:
        """Prove `goals` on the cluster; one outcome per goal, in input order (each also written to `ledger` as it
        arrives). `results`, when given, receives every worker's TaskResult (the benchmark's timings)."""
        from distributed import Event, as_completed

        emit = on_event or (lambda kind, out: None)
        outs: list[GoalOutcome | None] = [None] * len(goals)
        pending = []
        if any(not g.fillable for g in goals):  # never sent: the local scheduler says why, as on one machine
            from .scheduler import Scheduler

            here = Scheduler(options, ledger, on_event=emit)
            for i, g in enumerate(goals):
                if not g.fillable:
                    outs[i] = here.submit(g, float(i)).out
        todo = [i for i in range(len(goals)) if outs[i] is None]
        if not todo:
            return [o for o in outs if o is not None]
        check = WorkerCheck.here(_root_of(ledger, goals), sorted({goals[i].backend for i in todo}))
        self.check(check)
        run = uuid.uuid4().hex[:12]
        opts = replace(options, cpu=self.worker_cpu)
        started: set[int] = set()

        def on_topic(event: Any) -> None:
            msg = event[1] if isinstance(event, tuple) else event
            i = msg.get("index") if isinstance(msg, dict) else None
            if isinstance(i, int) and 0 <= i < len(goals) and i not in started:
                started.add(i)
                emit("started", GoalOutcome(goals[i], status="searching"))

        self.client.subscribe_topic(f"{TOPIC}-{run}", on_topic)
        cancel = Event(f"{TOPIC}-cancel-{run}", client=self.client)
        shared = self.client.scatter(check, broadcast=True, hash=False)
        self.submitted_at = time.time()
        for i in todo:
            g = goals[i]
            stored, tickets = _stored(ledger, g, options)
            task = GoalTask(g, opts, stored, tickets, run, i)
            fut = self.client.submit(run_goal, task, shared, key=f"goal-{run}-{i}", priority=len(goals) - i,
                                     pure=False)
            fut.index = i  # type: ignore[attr-defined]
            pending.append(fut)
            emit("queued", GoalOutcome(g))
        try:
            # the results are fetched by the client's own loop as the tasks finish (not one by one from here)
            for fut, got in as_completed(pending, loop=self.client.loop, with_results=True, raise_errors=False):
                i = fut.index  # type: ignore[attr-defined]
                out = self._collect(got, goals[i], ledger, results)
                outs[i] = out
                emit("done", out)
        except BaseException:
            cancel.set()
            self.client.cancel(pending, force=True)
            raise
        finally:
            try:
                self.client.unsubscribe_topic(f"{TOPIC}-{run}")
            except Exception:  # noqa: BLE001
                pass
        return [o for o in outs if o is not None]

    def _collect(self, got: Any, goal: Goal, ledger: Ledger | None, results: list[TaskResult] | None) -> GoalOutcome:
        """A finished task's outcome, its ledger rows written here; a task that failed becomes an error outcome."""
        from distributed.scheduler import KilledWorker

        if isinstance(got, ClusterError):
            raise got
        if isinstance(got, KilledWorker):
            return GoalOutcome(goal, status="error", message=f"{goal.file}:{goal.line}: the workers searching it "
                                                             f"died each time ({got})")
        if not isinstance(got, TaskResult):  # a worker's bug costs its goal only
            return GoalOutcome(goal, status="error", message=f"{goal.file}:{goal.line}: the worker failed: {got!r}")
        res = got
        if results is not None:
            res.received = time.time()
            results.append(res)
        out = res.outcome
        out.goal = goal  # the caller's own object (callers match outcomes to goals by identity)
        if ledger is not None:
            key = goal.key.digest
            try:
                if res.record is not None:
                    ledger.upsert_goal(replace(res.record, file=str(goal.file)))
                ledger.add_log_rows("attempts", key, res.attempts)
                ledger.add_log_rows("llm_calls", key, res.llm_calls)
                for t in res.tickets:
                    ledger.record_ticket(key, str(goal.file), t.lemma, t.name, t.statement, t.status, t.proof)
            except AutoProveError as e:
                log.error("%s", e)
        return out


def _stored(ledger: Ledger | None, goal: Goal, options: ProveOptions) -> tuple[GoalRecord | None,
                                                                             tuple[TicketRecord, ...]]:
    if ledger is None or not options.resume:
        return None, ()
    try:
        return ledger.goal(goal.key.digest), tuple(ledger.tickets(goal.key.digest))
    except AutoProveError:
        return None, ()


def _root_of(ledger: Ledger | None, goals: Sequence[Goal]) -> Path:
    if ledger is not None:
        return ledger.root
    from .workspace import project_root

    return project_root([g.file for g in goals])
