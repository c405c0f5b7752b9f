"""`CoqProver`: one `coqidetop.opt` process speaking the XML protocol, implementing the `Prover` protocol.

The document model. The process holds one Coq document: the environment's sentences (one `Add` each),
then `{` in focus mode, then a stack of tactics (each with its Coq state id) leading from the goal's root
to the tip. `run(state, tactic)` navigates to `state.path`: it keeps the longest common prefix of the stack,
`Edit_at`s its last state and replays the rest of the path (those tactics succeeded before), then adds the
new tactic and executes it with `Goal`. A failed sentence stays in Coq's document until the next `Edit_at`,
which navigation always does before adding anything.

Finished and unfocused. Goals given up (`admit`, `give_up`) by the path count as remaining, so that such
a path never looks like a proof; goals already given up at the root (earlier `admit`s of the same proof)
do not count.
    Not focus mode: unfocused = background goals (all focus levels) + shelved goals + new given-up goals;
    finished = no foreground goal and unfocused == 0.
    Focus mode (`{` added after the sentences): goals outside the brace do not count. Background focus
    levels are listed innermost first, so the levels that belong inside the brace are the first
    `len(bg) - len(root bg)`; shelved goals count only if they were not already shelved at the root.
    unfocused = goals of the inner levels + new shelved + new given-up goals (0 right after `{`);
    finished = no foreground goal and unfocused == 0 (the other goals of the proof are ignored).

Deadlines. Every call to the process has one. A tactic is sent as `Timeout N tac.` (N = ceil(timeout);
bullets and braces are sent unwrapped) so that Coq stops it itself ("Timeout!"). As a backstop the process
gets SIGINT if no reply came by max(timeout + 0.5, N + 0.75) s (timeout + 0.5 s for unwrapped sentences);
Coq answers "User interrupt." and the session survives. Both give outcome "timeout". The backstop comes
well after Coq's own timeout because of two coqidetop behaviours (idetop.ml, 8.16):
  - a SIGINT that lands between calls after a call that *succeeded* stays pending and fails the next call
    at once with "User interrupt." before it does anything: such a call is retried once;
  - coqidetop clears its raise-on-SIGINT flag only when a call succeeds, so a SIGINT that lands between
    calls after a call that *failed* raises outside any handler and the process exits 1. Hence: before a
    call that might be interrupted within a second of a failed call, a harmless `About` call resets the
    flag; and a SIGINT racing a failure answer is watched for (the process is then restarted at the next
    call and counted in `stats.kills`, not as a crash).
If even SIGINT gets no answer within `interrupt_grace` seconds, the process is killed; the tactic's outcome
is "timeout" and the next call restarts the process. `enter` maps an overrun to `ProverTimeout`.

Restarts. A dead process (EOF, garbage, kill -9, out of memory under RLIMIT_AS) makes the current call
raise `ProverCrashed`; the next `enter`/`run` starts a new process, reloads the environment and replays
the path. At most `max_restarts` crash restarts per goal (counter reset when `enter` gets a different
environment), with back-off; beyond that every call raises `ProverCrashed`. The process is also recycled
(not counted as a crash) after `recycle_after` tactic calls or when its RSS exceeds `max_rss_mb`.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import re
import resource
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, replace
from pathlib import Path

import psutil

from ..errors import AutoProveError, ProverCrashed, ProverTimeout, ProverUnavailable, SourceError
from ..procs import TREE_VAR, resume_and_kill, spawn, tagged_processes, temp_prefix, tree_tag
from . import coq_xml as X
from .base import Environment, GoalView, ProofState, TacticResult

__all__ = ["CoqProver", "CoqStats"]

log = logging.getLogger(__name__)

DEFAULT_BINARY = "coqidetop.opt"
HAMMER_LIBEXEC = "/usr/libexec/coq-hammer"
PROVER_VAR = "AUTOPROVE_PROVER"  # tags one coqidetop process and everything it starts
_PROCESS_COUNTER = itertools.count(1)
USER_INTERRUPT = "User interrupt."
COQ_TIMEOUT = "Timeout!"
_SIGINT_SLACK = 0.5  # seconds after the tactic's timeout before SIGINT
_AFTER_COQ_TIMEOUT = 0.75  # seconds after Coq's own `Timeout N` should have fired before SIGINT
_SIGINT_DEATH_WAIT = 0.1  # how long to watch for a SIGINT that landed after a failure answer (see call)
_DISARM_HORIZON = 1.0  # a call that may be interrupted sooner than this after a failed call is preceded by About
_EDIT_AT_SECONDS = 30.0  # deadline of an Edit_at (measured at well under a millisecond)
_NOTE_LEVELS = ("notice", "info", "warning")  # feedback kept as the message of an "ok" result (e.g. hammer's)
_RSS_CHECK_EVERY = 25  # tactic calls between two RSS checks

# Sentences that `Timeout N` cannot prefix: bullets, braces, goal-selected braces.
# a tactic that builds a fixpoint by hand (`fix`, `cofix`, or a term containing one): what follows it may use the
# recursive hypothesis unguarded, which only the kernel at `Qed` would notice — so every later step is checked
_FIXPOINT = re.compile(r"(?<![\w'.])(?:co)?fix(?![\w'])")
# `Guarded.` right after `fix f 2`, before the binders are introduced, sees a body with too few abstractions: not
# a verdict while goals remain (it is once the term is complete, e.g. `fix f 1; assumption`)
_GUARD_UNDECIDED = "Not enough abstractions"
_STRUCTURAL = re.compile(r"^\s*(?:[-+*]+|\{|\}|(?:\d+|\[\s*[A-Za-z_][\w']*\s*\])\s*:\s*\{)\s*$")


@dataclass(frozen=True)
class CoqStats:
    """Counters of one `CoqProver` since construction."""

    tactic_calls: int = 0  # run() calls
    starts: int = 0  # processes started
    restarts: int = 0  # processes started to replace an earlier one (crash, recycle, different file/args)
    crashes: int = 0  # processes that died, closed a pipe or spoke garbage
    kills: int = 0  # processes lost to our own deadline handling: ignored SIGINT, or a SIGINT raced an error
    adds: int = 0  # Add calls sent
    edit_ats: int = 0  # Edit_at calls sent
    replayed: int = 0  # tactics replayed to rebuild a state
    queries: int = 0  # Query calls sent (`Guarded.` after a hand-built fixpoint)


class _Unresponsive(Exception):
    """The process gave no reply even after SIGINT and the grace period."""


def _split_sentence_end(tactic: str) -> bool:
    """True if `tactic` contains a sentence-ending period outside strings and comments."""
    i, n, depth = 0, len(tactic), 0
    while i < n:
        c = tactic[i]
        if depth:
            if tactic.startswith("(*", i):
                depth, i = depth + 1, i + 2
            elif tactic.startswith("*)", i):
                depth, i = depth - 1, i + 2
            else:
                i += 1
            continue
        if tactic.startswith("(*", i):
            depth, i = 1, i + 2
        elif c == '"':
            j = i + 1
            while j < n:
                if tactic[j] == '"':
                    if tactic.startswith('""', j):
                        j += 2
                        continue
                    break
                j += 1
            i = j + 1
        elif c == ".":
            j = i
            while j < n and tactic[j] == ".":
                j += 1
            if j - i == 1 and (j == n or tactic[j].isspace()):
                return True
            i = j
        else:
            i += 1
    return False


def _shorten(text: str, limit: int = 80) -> str:
    """One line, at most `limit` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class _CoqProcess:
    """One coqidetop process: pipes, stderr drain, calls with deadlines, SIGINT, kill."""

    def __init__(self, argv: list[str], cwd: Path, memory_mb: int | None) -> None:
        env = dict(os.environ)
        env["PATH"] = HAMMER_LIBEXEC + os.pathsep + env.get("PATH", "")
        env[TREE_VAR] = tree_tag()
        self.tag = f"{tree_tag()}/{next(_PROCESS_COUNTER)}"
        env[PROVER_VAR] = self.tag  # inherited by everything it starts, even helpers that leave its tree
        # its own temporary folder, removed with it: CoqHammer's `predict` leaves its feature files in TMPDIR when a
        # `hammer` is interrupted (named for its owner, so the sweep removes it also after a kill -9 of ours)
        self.scratch = Path(tempfile.mkdtemp(prefix=temp_prefix("autoprove_coqtmp_")))
        env["TMPDIR"] = str(self.scratch)
        limit = None if memory_mb is None else int(memory_mb) << 20

        def preexec() -> None:
            """In the child before exec: cap the address space."""
            if limit is not None:
                resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

        try:  # `spawn`: the process dies with ours, whatever kills us (it may be paused by the CPU governor)
            self.proc = spawn(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=str(cwd),
                env=env,
                start_new_session=True,
                preexec=preexec,
            )
        except FileNotFoundError as e:
            shutil.rmtree(self.scratch, ignore_errors=True)
            raise ProverUnavailable(f"{argv[0]} not found: install Coq (coqidetop.opt)") from e
        except OSError as e:
            shutil.rmtree(self.scratch, ignore_errors=True)
            raise ProverCrashed(f"cannot start {argv[0]}: {e}") from e
        assert self.proc.stdin is not None and self.proc.stdout is not None and self.proc.stderr is not None
        self.pid = self.proc.pid
        self._in = self.proc.stdin.fileno()
        self._out = self.proc.stdout.fileno()
        os.set_blocking(self._in, False)
        self._buf = X.ReplyBuffer()
        self._stderr: deque[str] = deque(maxlen=40)
        self._drain = threading.Thread(target=self._drain_stderr, name=f"coqidetop-{self.pid}-stderr", daemon=True)
        self._drain.start()
        self.died_of_sigint = False  # exited from our SIGINT after answering (not a crash)
        self._armed = False  # the last call failed: a SIGINT between calls would kill the process
        self._outstanding = False  # we sent a SIGINT that no answer has reported yet

    def _drain_stderr(self) -> None:
        """Read stderr to EOF, keeping the last lines for crash reports."""
        stream = self.proc.stderr
        assert stream is not None
        try:
            for raw in iter(stream.readline, b""):
                line = raw.decode("utf-8", errors="replace").rstrip()
                self._stderr.append(line)
                log.debug("coqidetop[%d] stderr: %s", self.pid, line)
        except (OSError, ValueError):
            pass

    def stderr_tail(self) -> str:
        """The last lines coqidetop wrote on stderr."""
        return "\n".join(self._stderr)

    def alive(self) -> bool:
        """True while the process has not exited."""
        return self.proc.poll() is None

    def _crashed(self, what: str) -> ProverCrashed:
        """Kill, reap and describe a dead or broken process."""
        if self._outstanding and self.proc.poll() == 1:
            self.died_of_sigint = True  # our unreported SIGINT landed between calls (see `_armed`)
        self.kill()
        self._drain.join(timeout=0.5)
        tail = self.stderr_tail()
        code = self.proc.returncode
        status = f"killed by signal {-code}" if code is not None and code < 0 else f"exit status {code}"
        msg = f"coqidetop (pid {self.pid}) {what}; {status}"
        if tail:
            msg += f"; stderr: {_shorten(tail, 400)}"
        return ProverCrashed(msg)

    def _send(self, payload: bytes, give_up_at: float) -> None:
        """Write a whole call, or raise."""
        view = memoryview(payload)
        while view:
            try:
                view = view[os.write(self._in, view) :]
                continue
            except BlockingIOError:
                pass
            except OSError as e:  # BrokenPipeError above all
                raise self._crashed(f"closed its input ({e.__class__.__name__})") from e
            remaining = give_up_at - time.monotonic()
            if remaining <= 0:
                raise _Unresponsive("coqidetop does not read its input")
            select.select([], [self._in], [], remaining)

    def interrupt(self) -> None:
        """Send SIGINT (Coq answers the running call with "User interrupt."), and SIGCONT: the CPU governor may
        have the process paused, and the deadline that sent the SIGINT expects an answer now."""
        for sig in (signal.SIGINT, signal.SIGCONT):
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def call(
        self, payload: bytes, interrupt_at: float, grace: float, may_interrupt: bool = True
    ) -> tuple[X.Reply, bool]:
        """Send one call and read its reply; SIGINT at `interrupt_at`, give up `grace` s later.

        With `may_interrupt` False no SIGINT is sent (used for Init: before its loop starts, coqidetop has
        no SIGINT handler and the signal would kill it); the call then gives up at `interrupt_at + grace`.

        Returns the reply and whether this call was interrupted. A "User interrupt." failure that this call
        did not cause (a pending SIGINT from earlier) makes the call be sent once more.

        Raises:
            ProverCrashed: EOF or unparseable output (the process is killed).
            _Unresponsive: no reply by `interrupt_at + grace` (the process is left running).
        """
        if self._outstanding:
            self._drain_sigint()
        for attempt in range(2):
            if may_interrupt and self._armed and interrupt_at - time.monotonic() < _DISARM_HORIZON:
                self._disarm()
            reply, interrupted = self._exchange(payload, interrupt_at, grace, may_interrupt)
            if not reply.good and reply.message == USER_INTERRUPT and not interrupted and attempt == 0:
                log.debug("coqidetop[%d]: stale SIGINT failed a call; retrying it", self.pid)
                continue
            if self._outstanding and not reply.good:
                # The call failed on its own just before our SIGINT landed: see `_armed`.
                try:
                    self.proc.wait(timeout=_SIGINT_DEATH_WAIT)
                    self.died_of_sigint = True
                    log.info("coqidetop[%d] exited from a SIGINT that arrived after its answer", self.pid)
                except subprocess.TimeoutExpired:
                    pass
            return reply, interrupted
        raise AssertionError("unreachable")

    def _drain_sigint(self) -> None:
        """Consume a SIGINT we sent that no call has reported yet (it is pending in Coq, or was lost)."""
        reply, _ = self._exchange(X.about_call(), time.monotonic() + _EDIT_AT_SECONDS, 0.0, may_interrupt=False)
        self._outstanding = False
        log.debug("coqidetop[%d]: drained a SIGINT (About answered %s)", self.pid, reply.message or "good")

    def _disarm(self) -> None:
        """Send a call that always succeeds (About), so that a SIGINT between calls stays pending."""
        reply, _ = self._exchange(X.about_call(), time.monotonic() + _EDIT_AT_SECONDS, 0.0, may_interrupt=False)
        if not reply.good:
            log.debug("coqidetop[%d]: About failed: %s", self.pid, reply.message)

    def _exchange(self, payload: bytes, interrupt_at: float, grace: float, may_interrupt: bool) -> tuple[X.Reply, bool]:
        """Write one call and read one reply (the mechanics of `call`)."""
        give_up_at = max(interrupt_at, time.monotonic()) + grace
        self._send(payload, give_up_at)
        interrupted = False
        while True:
            raw = self._buf.pop()
            if raw is not None:
                try:
                    reply = X.decode_reply(raw)
                except X.ProtocolError as e:
                    raise self._crashed(f"sent unparseable output ({e})") from e
                # coqidetop sets its "raise on ^C" flag at the start of a call and clears it only when the
                # call succeeds: after a failed call a SIGINT that arrives between calls makes it exit 1.
                self._armed = not reply.good
                if not reply.good and reply.message == USER_INTERRUPT:
                    self._outstanding = False  # our SIGINT (or a pending one) has been consumed
                return reply, interrupted
            now = time.monotonic()
            if may_interrupt and not interrupted and now >= interrupt_at:
                self.interrupt()
                self._outstanding = True
                interrupted = True
            if now >= give_up_at:
                raise _Unresponsive(f"no reply {grace:.1f}s after SIGINT" if interrupted else "no reply")
            wait_until = give_up_at if (interrupted or not may_interrupt) else interrupt_at
            readable, _, _ = select.select([self._out], [], [], max(0.0, wait_until - now))
            if not readable:
                continue
            try:
                data = os.read(self._out, 1 << 20)
            except OSError as e:
                raise self._crashed(f"output broke ({e})") from e
            if not data:
                raise self._crashed("closed its output")
            self._buf.feed(data)

    def kill_helpers(self) -> None:
        """Kill every process coqidetop started (e.g. CoqHammer's ATPs, which `htimeout` puts in sessions of
        their own): between calls it has none, and an interrupted tactic must not leave them burning CPU."""
        try:
            helpers = psutil.Process(self.pid).children(recursive=True)
        except psutil.Error:
            helpers = []
        known = {h.pid for h in helpers} | {self.pid}
        helpers += [p for p in tagged_processes(PROVER_VAR, self.tag) if p.pid not in known]
        resume_and_kill(helpers)
        psutil.wait_procs(helpers, timeout=2)

    def kill(self) -> None:
        """Kill the whole process tree now and reap it."""
        self.kill_helpers()
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            log.warning("coqidetop[%d] did not die after SIGKILL", self.pid)
        shutil.rmtree(self.scratch, ignore_errors=True)  # nothing runs in it any more

    def close(self) -> None:
        """Terminate the process group, wait briefly, then kill it; close the pipes."""
        self.kill_helpers()
        if self.alive():
            for sig in (signal.SIGTERM, signal.SIGCONT):  # resumed: a paused process would not see the SIGTERM
                try:
                    os.killpg(self.pid, sig)
                except (ProcessLookupError, PermissionError):
                    pass
            try:
                self.proc.wait(timeout=1.0)
            except subprocess.TimeoutExpired:
                pass
        self.kill()  # also reaps any group member left behind
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        self._drain.join(timeout=1.0)
        if self.proc.stderr is not None:
            try:
                self.proc.stderr.close()
            except OSError:
                pass


@dataclass(frozen=True)
class _Loaded:
    """One sentence of the environment as loaded in the process."""

    text: str
    sid: int


class CoqProver:
    """One coqidetop process implementing the `Prover` protocol (see the module docstring)."""

    backend = "coq"

    def __init__(
        self,
        *,
        binary: str = DEFAULT_BINARY,
        memory_mb: int | None = 4096,
        max_restarts: int = 5,
        recycle_after: int = 3000,
        max_rss_mb: int | None = 3072,
        replay_timeout: float = 60.0,
        start_timeout: float = 20.0,
        interrupt_grace: float = 5.0,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self._binary = binary
        self._memory_mb = memory_mb
        self._max_restarts = max_restarts
        self._recycle_after = recycle_after
        self._max_rss_mb = max_rss_mb
        self._replay_timeout = replay_timeout
        self._start_timeout = start_timeout
        self._grace = interrupt_grace
        self._extra_args = tuple(extra_args)
        self._lock = threading.RLock()
        self._stats = CoqStats()
        self._proc: _CoqProcess | None = None
        self._proc_key: tuple[object, ...] | None = None
        self._ever_started = False
        self._closed = False
        self._crash_restarts = 0  # crash restarts since the current goal was entered
        self._cap_env: Environment | None = None  # the goal `_crash_restarts` counts for
        self._calls_in_process = 0
        self._recycle_due = False
        # document model
        self._init_sid = 0
        self._tip = 0
        self._loaded: list[_Loaded] = []
        self._stack: list[_Loaded] = []  # tactics since the root
        self._env: Environment | None = None
        self._load_timeout = 60.0
        self._root_goals = X.CoqGoals()
        self._root_bg_levels = 0
        self._root_shelved: frozenset[str] = frozenset()
        self._root_given_up: frozenset[str] = frozenset()
        self._pending_crash = False  # a process crashed and no new one has been started since

    # ------------------------------------------------------------------------------------------ public

    @property
    def stats(self) -> CoqStats:
        """A snapshot of the counters."""
        return self._stats

    def pids(self) -> list[int]:
        """The coqidetop process id and its descendants' (e.g. hammer's provers), if running."""
        proc = self._proc
        if proc is None or not proc.alive():
            return []
        pids = [proc.pid]
        try:
            pids += [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
        except psutil.Error:
            pass
        return pids

    def close(self) -> None:
        """Stop the process tree; idempotent. From another thread it also ends a call in progress."""
        self._closed = True
        proc = self._proc
        if proc is not None:
            proc.kill()  # a call in progress in another thread sees EOF and raises ProverCrashed
        with self._lock:
            self._drop_process()

    def __enter__(self) -> CoqProver:
        """The prover itself (it starts lazily, at the first `enter`)."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close the prover."""
        self.close()

    def enter(self, env: Environment, timeout: float) -> ProofState:
        """Load `env` (reusing the loaded prefix of the same file) and return the goal's root state.

        Raises:
            SourceError: a sentence fails (message names the 1-based sentence number and its text; the
                exception also carries `sentence_index`, 0-based, and `sentence`).
            ProverTimeout: loading overran `timeout` (the session stays usable).
            ProverCrashed: the process died, or the restart cap is reached.
            ProverUnavailable: coqidetop.opt is not installed.
        """
        with self._lock:
            self._check_open()
            deadline = time.monotonic() + timeout
            if env != self._cap_env:  # a new goal: a fresh allowance of crash restarts
                self._cap_env, self._crash_restarts = env, 0
            self._env = None  # set again once loaded
            self._load_timeout = max(timeout, 30.0)  # for reloads after a restart: it loaded once already
            self._ensure_process(env)
            root = self._load(env, deadline)
            self._env = env
            return root

    def preload(self, env: Environment, timeout: float) -> int:
        """Start the process for `env`'s file and execute the leading sentences of `env` (no proof needs to be
        open at the end), so that a later `enter` of a goal of that file reuses them. Stops quietly at the first
        sentence that fails or at the deadline; returns how many sentences are loaded. A warm-up, so every
        failure is swallowed (logged): `enter` reports problems when it matters."""
        with self._lock:
            self._check_open()
            deadline = time.monotonic() + timeout
            self._env = None
            try:
                self._ensure_process(env)
                sentences = list(env.sentences)
                k = 0
                while k < min(len(self._loaded), len(sentences)) and self._loaded[k].text == sentences[k]:
                    k += 1
                self._edit_at(self._loaded[k - 1].sid if k else self._init_sid)
                del self._loaded[k:]
                self._stack = []
                for text in sentences[k:]:
                    before = self._tip
                    reply = self._add(text, deadline)
                    if reply.good:
                        reply, _ = self._call(X.status_call(False), deadline)
                    if not reply.good:
                        if self._proc is not None and self._proc.alive():
                            self._edit_at(before)
                        else:
                            self._after_crash()
                        break
                    self._loaded.append(_Loaded(text, self._tip))
            except _Unresponsive:
                self._drop_process()
            except AutoProveError as e:
                log.debug("preloading %s: %s", env.file, e)
                if self._proc is not None and not self._proc.alive():
                    self._after_crash()
            return len(self._loaded)

    def run(self, state: ProofState, tactic: str, timeout: float) -> TacticResult:
        """Apply one tactic sentence (no trailing period) to `state` of the goal entered last.

        Raises:
            ProverCrashed: the process died during the call, or the restart cap is reached.
        """
        with self._lock:
            self._check_open()
            if self._env is None:
                raise RuntimeError("CoqProver.run before a successful enter()")
            self._stats = replace(self._stats, tactic_calls=self._stats.tactic_calls + 1)
            if _split_sentence_end(tactic) or not tactic.strip():
                return TacticResult("failed", message="not exactly one tactic sentence (a '.' ends a sentence)")
            self._note_call()
            if self._proc is None or not self._proc.alive() or self._recycle_due:
                self._restart_for_run()
            self._calls_in_process += 1
            try:
                failure = self._navigate(state.path)
                if failure is not None:
                    return failure
                return self._apply(state, tactic, timeout)
            except _Unresponsive as e:
                self._kill_unresponsive()
                raise ProverCrashed(f"coqidetop stopped answering while navigating: {e}") from e
            except ProverCrashed:
                self._after_crash()
                raise

    # ------------------------------------------------------------------------------------------ process

    def _check_open(self) -> None:
        """Refuse calls after close()."""
        if self._closed:
            raise ProverCrashed("CoqProver is closed")

    def _key(self, env: Environment) -> tuple[object, ...]:
        """What fixes a process: file (module name), command-line arguments, working directory."""
        return (os.path.abspath(env.file), tuple(env.args), str(self._cwd(env)))

    @staticmethod
    def _cwd(env: Environment) -> Path:
        """Directory the process runs in."""
        if env.workdir is not None:
            return Path(env.workdir)
        parent = Path(os.path.abspath(env.file)).parent
        return parent if parent.is_dir() else Path.cwd()

    def _ensure_process(self, env: Environment) -> None:
        """Have a live process started for `env`'s file and arguments."""
        proc = self._proc
        if proc is not None and proc.alive() and self._key(env) == self._proc_key and not self._recycle_due:
            return
        if proc is not None and not proc.alive():
            self._after_crash()
        self._start(env, after_crash=self._pending_crash)

    def _after_crash(self) -> None:
        """Forget a dead or broken process; the next call restarts it (counted against the cap).

        A process that exited from our own late SIGINT is not a crash: it is counted in `kills`.
        """
        proc = self._proc
        if proc is None:
            return
        if proc.died_of_sigint:
            self._stats = replace(self._stats, kills=self._stats.kills + 1)
            self._drop_process()
            return
        self._stats = replace(self._stats, crashes=self._stats.crashes + 1)
        self._drop_process()
        self._pending_crash = True

    def _kill_unresponsive(self) -> None:
        """Kill a process that ignored SIGINT; the next call restarts it (not counted against the cap)."""
        if self._proc is not None:
            log.warning("coqidetop[%d] ignored SIGINT; killing it", self._proc.pid)
            self._stats = replace(self._stats, kills=self._stats.kills + 1)
            self._drop_process()

    def _drop_process(self) -> None:
        """Close the current process (if any) and forget the document."""
        proc, self._proc = self._proc, None
        self._proc_key = None
        self._loaded, self._stack = [], []
        self._tip = self._init_sid = 0
        if proc is not None:
            proc.close()

    def _start(self, env: Environment, after_crash: bool) -> None:
        """Start a fresh process for `env` (closing any old one) and send Init."""
        self._check_open()  # closed from another thread while a call of this one was restarting: start nothing
        if after_crash:
            if self._crash_restarts >= self._max_restarts:
                raise ProverCrashed(
                    f"coqidetop crashed {self._crash_restarts} times on this goal; "
                    f"not restarting again (max_restarts={self._max_restarts})"
                )
            self._crash_restarts += 1
            time.sleep(min(0.05 * 2 ** (self._crash_restarts - 1), 1.0))
        self._drop_process()
        self._pending_crash = False
        topfile = os.path.abspath(env.file)
        argv = [self._binary, "-main-channel", "stdfds", *self._extra_args, *env.args, "-topfile", topfile]
        log.debug("starting %s in %s", " ".join(argv), self._cwd(env))
        proc = _CoqProcess(argv, self._cwd(env), self._memory_mb)
        if self._ever_started:
            self._stats = replace(self._stats, restarts=self._stats.restarts + 1)
        self._ever_started = True
        self._stats = replace(self._stats, starts=self._stats.starts + 1)
        self._proc = proc
        self._proc_key = self._key(env)
        self._calls_in_process = 0
        self._recycle_due = False
        try:
            reply, _ = proc.call(X.init_call(), time.monotonic() + self._start_timeout, 0.0, may_interrupt=False)
        except _Unresponsive as e:
            self._drop_process()
            raise ProverTimeout(f"coqidetop did not answer Init: {e}") from e
        except ProverCrashed:
            self._after_crash()
            raise
        if not reply.good or not isinstance(reply.value, X.StateId):
            self._drop_process()
            raise ProverCrashed(f"coqidetop refused Init: {reply.message}")
        self._init_sid = self._tip = reply.value.value

    def _note_call(self) -> None:
        """Decide whether the process is due for recycling (by tactic calls served, by RSS)."""
        if self._calls_in_process >= self._recycle_after:
            self._recycle_due = True
        elif self._max_rss_mb is not None and self._proc is not None and self._calls_in_process % _RSS_CHECK_EVERY == 0:
            try:
                rss = psutil.Process(self._proc.pid).memory_info().rss
            except psutil.Error:
                rss = 0
            if rss > self._max_rss_mb << 20:
                log.info("coqidetop[%d] uses %d MB; recycling it", self._proc.pid, rss >> 20)
                self._recycle_due = True

    def _restart_for_run(self) -> None:
        """Start a new process and reload the current environment (after a crash or for recycling)."""
        env = self._env
        assert env is not None
        if self._proc is not None and not self._proc.alive():
            self._after_crash()
        try:
            self._start(env, after_crash=self._pending_crash)
            self._load(env, time.monotonic() + self._load_timeout)
        except (SourceError, ProverTimeout) as e:
            self._drop_process()
            self._pending_crash = True
            raise ProverCrashed(f"after restarting coqidetop the environment did not load again: {e}") from e

    # ------------------------------------------------------------------------------------------ calls

    def _call(self, payload: bytes, interrupt_at: float) -> tuple[X.Reply, bool]:
        """One call on the live process."""
        assert self._proc is not None
        return self._proc.call(payload, interrupt_at, self._grace)

    def _add(self, text: str, interrupt_at: float) -> X.Reply:
        """Add one sentence on the tip; on success the tip moves to the new state."""
        self._stats = replace(self._stats, adds=self._stats.adds + 1)
        reply, _ = self._call(X.add_call(text, self._tip), interrupt_at)
        if reply.good:
            value = reply.value
            if not (isinstance(value, tuple) and isinstance(value[0], X.StateId)):
                raise self._garbage(f"unexpected Add answer {value!r}")
            self._tip = value[0].value
        return reply

    def _edit_at(self, sid: int) -> None:
        """Make `sid` the tip."""
        if sid == self._tip:
            return
        self._stats = replace(self._stats, edit_ats=self._stats.edit_ats + 1)
        reply, _ = self._call(X.edit_at_call(sid), time.monotonic() + _EDIT_AT_SECONDS)
        if not reply.good:
            raise self._garbage(f"Edit_at {sid} failed: {reply.message}")
        if isinstance(reply.value, X.Union) and reply.value.side == "in_r":
            # Coq kept a closed proof block around the target (asynchronous proofs only); we cannot model it.
            raise self._garbage(f"Edit_at {sid} answered a focus (in_r), which this client does not support")
        self._tip = sid

    def _garbage(self, what: str) -> ProverCrashed:
        """Kill the process after an answer that breaks the document model."""
        proc = self._proc
        self._after_crash()
        return ProverCrashed(f"coqidetop{'' if proc is None else f' (pid {proc.pid})'}: {what}")

    def _goals(self, interrupt_at: float) -> tuple[X.Reply, bool]:
        """Execute up to the tip and fetch the goals."""
        return self._call(X.goal_call(), interrupt_at)

    # ------------------------------------------------------------------------------------------ enter

    def _load(self, env: Environment, deadline: float) -> ProofState:
        """Bring the document to the end of `env`'s sentences (plus `{`) and return the root state."""
        sentences = list(env.sentences) + (["{"] if env.focus else [])
        if not env.sentences:
            raise SourceError("the environment has no sentences (no statement to prove)", file=env.file)
        k = 0
        while k < min(len(self._loaded), len(sentences)) and self._loaded[k].text == sentences[k]:
            k += 1
        try:
            self._edit_at(self._loaded[k - 1].sid if k else self._init_sid)
            del self._loaded[k:]
            self._stack = []
            for i in range(k, len(sentences)):
                self._load_sentence(env, i, sentences[i], deadline, last=i == len(sentences) - 1)
            if len(sentences) == k:  # nothing new: fetch the goals of the (reused) root
                reply, _ = self._goals(deadline)
                if not reply.good and reply.message == USER_INTERRUPT:
                    raise ProverTimeout(f"{env.file}: loading overran its deadline")
                self._check_loaded(env, len(sentences) - 1, sentences[-1], reply)
            return self._root_state(env)
        except _Unresponsive as e:
            self._drop_process()
            raise ProverTimeout(f"{env.file}: coqidetop did not answer while loading: {e}") from e
        except ProverCrashed:
            self._after_crash()
            raise

    def _load_sentence(self, env: Environment, i: int, text: str, deadline: float, last: bool) -> None:
        """Add and execute sentence `i`; raise SourceError or ProverTimeout if it fails."""
        before = self._tip
        reply = self._add(text, deadline)
        if reply.good:
            reply, _ = self._goals(deadline) if last else self._call(X.status_call(False), deadline)
        if reply.good:
            self._loaded.append(_Loaded(text, self._tip))
            if last:
                self._check_loaded(env, i, text, reply)
            return
        if self._proc is not None and self._proc.alive():
            self._edit_at(before)
        else:
            self._after_crash()  # a SIGINT raced the failure and ended the process: restarted next call
        if reply.message == USER_INTERRUPT:
            raise ProverTimeout(f"{env.file}: loading overran its deadline at sentence {i + 1}: {_shorten(text)}")
        self._source_error(env, i, text, reply.message)

    def _check_loaded(self, env: Environment, i: int, text: str, reply: X.Reply) -> None:
        """Check the Goal answer after the last sentence and remember the root's goals."""
        if not reply.good:
            self._source_error(env, i, text, reply.message)
        if not isinstance(reply.value, X.CoqGoals):
            self._source_error(env, i, text, "no proof is open after this sentence")
        goals = reply.value
        assert isinstance(goals, X.CoqGoals)
        self._root_goals = goals
        self._root_bg_levels = len(goals.bg)
        self._root_shelved = frozenset(g.id for g in goals.shelved)
        self._root_given_up = frozenset(g.id for g in goals.given_up)

    def _source_error(self, env: Environment, i: int, text: str, message: str) -> None:
        """Raise the SourceError for sentence `i` (index len(env.sentences) is the focusing `{`)."""
        if i >= len(env.sentences):
            what = "focusing the first goal with `{` failed"
        else:
            what = f"sentence {i + 1} of {len(env.sentences)} failed: `{_shorten(text)}`"
        err = SourceError(f"{what}: {message}", file=env.file, line=None)
        err.sentence_index = i  # type: ignore[attr-defined]
        err.sentence = text  # type: ignore[attr-defined]
        raise err

    def _root_state(self, env: Environment) -> ProofState:
        """The ProofState of the root (path ())."""
        return self._state((), self._root_goals, env.focus, self._tip)

    def _state(self, path: tuple[str, ...], goals: X.CoqGoals, focus: bool, sid: int) -> ProofState:
        """Build a ProofState from Coq's goals (see the module docstring for the rules)."""
        new_given_up = sum(1 for g in goals.given_up if g.id not in self._root_given_up)
        if focus:
            inner = goals.bg[: max(0, len(goals.bg) - self._root_bg_levels)]
            inner_count = sum(len(b) + len(a) for b, a in inner)
            new_shelved = sum(1 for g in goals.shelved if g.id not in self._root_shelved)
            unfocused = inner_count + new_shelved + new_given_up
        else:
            unfocused = len(goals.bg_flat()) + len(goals.shelved) + new_given_up
        views = tuple(GoalView(g.hypotheses, g.conclusion) for g in goals.fg)
        finished = not views and unfocused == 0
        return ProofState(path=path, goals=views, unfocused=unfocused, finished=finished, handle=sid)

    # ------------------------------------------------------------------------------------------ run

    def _root_sid(self) -> int:
        """State id of the root (end of the loaded environment)."""
        return self._loaded[-1].sid if self._loaded else self._init_sid

    def _navigate(self, path: tuple[str, ...]) -> TacticResult | None:
        """Make the tip the state reached by `path`; a TacticResult if the path cannot be replayed."""
        k = 0
        while k < min(len(self._stack), len(path)) and self._stack[k].text == path[k]:
            k += 1
        self._edit_at(self._stack[k - 1].sid if k else self._root_sid())
        del self._stack[k:]
        if k == len(path):
            return None
        deadline = time.monotonic() + self._replay_timeout
        for tactic in path[k:]:
            self._stats = replace(self._stats, replayed=self._stats.replayed + 1)
            reply = self._add(tactic + ".", deadline)
            if not reply.good:
                return self._replay_failed(path, tactic, reply.message)
            self._stack.append(_Loaded(tactic, self._tip))
        reply, _ = self._call(X.status_call(False), deadline)
        if not reply.good:
            return self._replay_failed(path, None, reply.message)
        return None

    def _replay_failed(self, path: tuple[str, ...], tactic: str | None, message: str) -> TacticResult:
        """Return to the root after a replay failure and describe it."""
        self._stack = []
        self._tip = -1  # the document may hold the failed sentence: force the Edit_at
        self._edit_at(self._root_sid())
        where = f" at `{_shorten(tactic)}`" if tactic else ""
        log.warning("replaying a path of %d tactics failed%s: %s", len(path), where, message)
        return TacticResult("failed", message=f"could not rebuild the state (replay failed{where}): {message}")

    def _apply(self, state: ProofState, tactic: str, timeout: float) -> TacticResult:
        """Add `tactic` at the tip (which is `state`) under its deadline and execute it."""
        assert self._env is not None
        start = time.monotonic()
        if _STRUCTURAL.match(tactic):
            sent = tactic
            interrupt_at = start + max(timeout, 0.0) + _SIGINT_SLACK
        else:
            coq_seconds = max(1, math.ceil(timeout))
            sent = f"Timeout {coq_seconds} {tactic}"
            interrupt_at = start + max(timeout + _SIGINT_SLACK, coq_seconds + _AFTER_COQ_TIMEOUT)
        before = self._tip
        try:
            reply = self._add(sent + ".", interrupt_at)
            interrupted = False
            if reply.good:
                reply, interrupted = self._goals(interrupt_at)
        except _Unresponsive:
            self._kill_unresponsive()
            return TacticResult(
                "timeout",
                message="coqidetop ignored SIGINT; process killed (restarted at the next call)",
                seconds=time.monotonic() - start,
            )
        seconds = time.monotonic() - start
        proc_lost = self._proc is None or not self._proc.alive()
        if proc_lost:
            self._after_crash()  # a late SIGINT ended it after it answered: restarted at the next call
        if not reply.good:
            if not proc_lost:
                self._tip_after_failure(before)
            if reply.message == COQ_TIMEOUT or (reply.message == USER_INTERRUPT and interrupted):
                if not proc_lost and self._proc is not None:
                    self._proc.kill_helpers()
                return TacticResult("timeout", message=reply.message, seconds=seconds)
            return TacticResult("failed", message=reply.message, seconds=seconds)
        if not isinstance(reply.value, X.CoqGoals):
            if not proc_lost:
                self._tip_after_failure(before)
            return TacticResult("failed", message="the sentence closed the proof or is not a tactic", seconds=seconds)
        new = self._state((*state.path, tactic), reply.value, self._env.focus, self._tip)
        if not proc_lost and any(_FIXPOINT.search(t) for t in new.path):
            unguarded = self._unguarded(interrupt_at, complete=new.finished)
            if unguarded:
                self._tip_after_failure(before)
                return TacticResult("failed", message=unguarded, seconds=time.monotonic() - start)
        if not proc_lost:
            self._stack.append(_Loaded(tactic, self._tip))
        notes = "\n".join(f.text for f in reply.feedback if f.kind == "message" and f.level in _NOTE_LEVELS)
        return TacticResult("finished" if new.finished else "ok", state=new, message=notes, seconds=seconds)

    def _unguarded(self, interrupt_at: float, complete: bool) -> str:
        """Coq's `Guarded.` at the tip: '' when the proof term (`complete`) or partial term may be guarded, else
        why not."""
        self._stats = replace(self._stats, queries=self._stats.queries + 1)
        reply, _ = self._call(X.query_call("Guarded.", self._tip), max(interrupt_at, time.monotonic() + 2.0))
        if reply.good or (not complete and _GUARD_UNDECIDED in reply.message):
            return ""
        return "not guarded (a recursive call on no smaller argument): " + _shorten(reply.message, 160)

    def _tip_after_failure(self, before: int) -> None:
        """Take a failed sentence out of the document (Coq keeps it until an Edit_at)."""
        if self._tip != before:
            self._tip = -1  # unknown: force the Edit_at
            self._edit_at(before)

