"""`LeanProver`: the Lean 4 REPL (leanprover-community/repl) through lean-interact, implementing `Prover`.

A goal's environment is its whole file (`Environment.source`) and the character range of its `sorry`
(`Environment.placeholder`). `enter` sends the file as one `Command`; the REPL answers with the file's `sorries`,
each with a `proofState`, and the root is the proof state of the `sorry` at the placeholder. A tactic is a
`ProofStep` on a proof state; proof states persist in the REPL, so branching costs nothing. `Completed` with no
goals left means the path is a complete proof.

lean-interact kills the REPL when a request overruns its timeout; the next call then starts a new REPL, runs the
file again and replays the state's path (as the Coq prover does after a crash), up to `max_restarts` per goal.

Whether a `sorry` stands for a proof at all is asked of Lean too (`sort_of`): one probe tactic on its proof state,
`apply _root_.Classical.byContradiction` (core Lean, `{p : Prop} (h : ¬p → False) : p`). `MVarId.apply` must unify
the theorem's conclusion, a metavariable `?p : Prop` (or, with fewer arguments, a proposition), with the target, and
`isDefEq` assigns a metavariable only after `checkTypesAndAssign` has checked `Prop =?= type of the target`
(Lean/Meta/ExprDefEq.lean, `processAssignment`, the case of a metavariable without arguments): so the probe succeeds
exactly when the target is a proposition (up to Lean's definitional equality), and fails with `apply`'s unification
error when it is a type of data (`Nat`, `Nat → Nat`, `Inhabited Foo`, `Prop` itself). Anything else — another
error, no answer, a REPL restarted since the file ran, a goal showing a metavariable (whose sort unification could
still choose) — is "unknown", which every caller treats as data. Proof states persist in the REPL, so the probe
changes nothing the search later starts from.

Everything the REPL answers is read through `parse_response` (one public function, so any recorded transcript can
be checked against it) into the small typed records below; nothing else here looks at raw JSON.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..errors import ProverCrashed, ProverTimeout, ProverUnavailable, SourceError
from ..procs import spawn, tree_tag
from .base import Environment, GoalView, ProofState, TacticResult

__all__ = ["LeanProver", "ReplResponse", "ReplSorry", "ReplMessage", "parse_response", "parse_goal",
           "find_toolchain", "LeanToolchain", "DEFAULT_TOOLCHAIN", "SORT_PROBE", "SORT_PROBE_TIMEOUT",
           "PlaceholderSort", "sort_from_probe"]

log = logging.getLogger(__name__)

# The toolchain lean/ pins (lean/lean-toolchain; a test keeps them equal): the newest stable Lean release that
# lean-interact 0.11 supports. A user's own project keeps its own toolchain; this one is for the bank and lean/.
DEFAULT_TOOLCHAIN = "leanprover/lean4:v4.35.0"

# What a placeholder stands for, as Lean says (the values of goals.GoalSort): see the module docstring.
PlaceholderSort = Literal["prop", "data", "unknown"]
SORT_PROBE = "apply _root_.Classical.byContradiction"  # `_root_`: no namespace or local name can capture it
SORT_PROBE_TIMEOUT = 30.0
# `apply`'s unification failure (Lean/Meta/Tactic/Apply.lean `throwApplyError`): "Tactic `apply` failed: could not
# unify the conclusion of `@Classical.byContradiction`…" (Lean ≥ 4.2x), "tactic 'apply' failed, failed to unify…"
# (earlier); the REPL answers it as `{"message": "Lean error:\n…"}` (REPL/Main.lean `runProofStep`)
_APPLY_UNIFY_FAILURE = re.compile(r"\A(?:Lean error:\s*)?[Tt]actic [`']apply[`'] failed[,:]\s*"
                                  r"(?:could not unify the (?:conclusion|type) of `@?(?:_root_\.)?"
                                  r"Classical\.byContradiction`|failed to unify)\s")
_METAVARIABLE = re.compile(r"(?<![\w.'!?₀-₉])\?[A-Za-z_]")  # `?m.12`, `?a`, `?u`: a goal not fully elaborated


# --------------------------------------------------------------------------------------------------
# the REPL's answers


@dataclass(frozen=True)
class ReplMessage:
    severity: str  # error | warning | info | trace
    data: str
    line: int  # 1-based
    column: int  # 0-based, code points
    end_line: int | None = None
    end_column: int | None = None


@dataclass(frozen=True)
class ReplSorry:
    goal: str
    proof_state: int | None
    line: int | None  # position in the command's text (absent for sorries a proof step created)
    column: int | None
    end_line: int | None
    end_column: int | None


@dataclass(frozen=True)
class ReplResponse:
    """One REPL answer, whatever the request was. `error` is set when the REPL refused the request itself (its
    `{"message": ...}` shape); command answers have `env`, proof-step answers `proof_state` and `proof_status`."""

    error: str | None = None
    env: int | None = None
    messages: tuple[ReplMessage, ...] = ()
    sorries: tuple[ReplSorry, ...] = ()
    proof_state: int | None = None
    proof_status: str | None = None
    goals: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)  # other keys (tactics, infotree, traces, ...)

    @property
    def errors(self) -> tuple[ReplMessage, ...]:
        return tuple(m for m in self.messages if m.severity == "error")

    @property
    def completed(self) -> bool:
        return self.proof_status == "Completed" and not self.goals


def _pos(obj: Any) -> tuple[int, int] | None:
    if isinstance(obj, dict) and isinstance(obj.get("line"), int) and isinstance(obj.get("column"), int):
        return obj["line"], obj["column"]
    return None


def parse_response(obj: Any) -> ReplResponse:
    """Read one REPL answer (a JSON object as `json.loads` gives it) into a `ReplResponse`.

    Raises:
        ValueError: `obj` is not an answer the REPL gives (not an object, or fields of the wrong type).
    """
    if not isinstance(obj, dict):
        raise ValueError(f"a REPL answer is a JSON object, not {type(obj).__name__}")
    if set(obj) == {"message"}:
        return ReplResponse(error=str(obj["message"]))
    messages = []
    for m in obj.get("messages") or []:
        start = _pos(m.get("pos")) if isinstance(m, dict) else None
        if start is None or not isinstance(m.get("data"), str) or not isinstance(m.get("severity"), str):
            raise ValueError(f"malformed message {m!r}")
        end = _pos(m.get("endPos"))
        messages.append(ReplMessage(m["severity"], m["data"], start[0], start[1],
                                    end[0] if end else None, end[1] if end else None))
    sorries = []
    for s in obj.get("sorries") or []:
        if not isinstance(s, dict) or not isinstance(s.get("goal"), str):
            raise ValueError(f"malformed sorry {s!r}")
        start, end = _pos(s.get("pos")), _pos(s.get("endPos"))
        if ("pos" in s and start is None) or ("endPos" in s and end is None):
            raise ValueError(f"malformed sorry position {s!r}")
        ps = s.get("proofState")
        sorries.append(ReplSorry(s["goal"], ps if isinstance(ps, int) else None, start[0] if start else None,
                                 start[1] if start else None, end[0] if end else None, end[1] if end else None))
    goals = obj.get("goals") or []
    if not isinstance(goals, list) or not all(isinstance(g, str) for g in goals):
        raise ValueError(f"malformed goals {goals!r}")
    env, ps, status = obj.get("env"), obj.get("proofState"), obj.get("proofStatus")
    if env is not None and not isinstance(env, int) or ps is not None and not isinstance(ps, int):
        raise ValueError("env and proofState are integers")
    known = {"messages", "sorries", "goals", "env", "proofState", "proofStatus"}
    return ReplResponse(None, env, tuple(messages), tuple(sorries), ps, status if isinstance(status, str) else None,
                        tuple(goals), {k: v for k, v in obj.items() if k not in known})


def parse_goal(text: str) -> GoalView:
    """One goal as the REPL prints it (`x : Nat\\nh : x = 2\\n⊢ x = 2`, a case tag line first when there is one)
    into hypotheses and conclusion; a hypothesis continued on indented lines stays one hypothesis."""
    hyps: list[str] = []
    concl: list[str] = []
    in_concl = False
    for line in text.split("\n"):
        if in_concl:
            concl.append(line)
        elif line.startswith("⊢"):
            in_concl = True
            concl.append(line[1:].strip())
        elif line.startswith("case ") and not hyps:
            continue
        elif line[:1].isspace() and hyps:
            hyps[-1] += "\n" + line
        elif line.strip():
            hyps.append(line)
    return GoalView(tuple(hyps), "\n".join(concl).strip())


def sort_from_probe(answer: "ReplResponse | None") -> PlaceholderSort:
    """What the REPL's answer to `SORT_PROBE` says about the target (None: no answer). "prop": `apply` closed the
    goal into exactly one new goal `¬T → False`; "data": `apply`'s unification error; anything else "unknown"."""
    if answer is None:
        return "unknown"
    if answer.error is not None:
        return "data" if _APPLY_UNIFY_FAILURE.match(answer.error) else "unknown"
    if answer.errors or answer.proof_state is None or len(answer.goals) != 1:
        return "unknown"
    new_goal = " ".join(parse_goal(answer.goals[0]).conclusion.split())
    return "prop" if new_goal.startswith("¬") and new_goal.endswith("→ False") else "unknown"


# --------------------------------------------------------------------------------------------------
# the toolchain


@dataclass(frozen=True)
class LeanToolchain:
    """Where the REPL comes from for one project."""

    project: Path  # the Lake project (folder with lakefile.lean / lakefile.toml / lean-toolchain)
    lake: Path
    repl: Path | None  # a built REPL checkout (holding .lake/build/bin/repl); None: lean-interact builds its own


def _project_of(path: Path) -> Path:
    p = path if path.is_dir() else path.parent
    for d in [p, *p.parents]:
        if any((d / n).is_file() for n in ("lakefile.lean", "lakefile.toml", "lean-toolchain")):
            return d
    return p


def find_toolchain(path: Path) -> LeanToolchain:
    """The Lean toolchain for the file or project at `path`: `lake` from `AUTOPROVE_LAKE`, PATH or ~/.elan/bin,
    and a REPL from `AUTOPROVE_LEAN_REPL` (a built checkout of leanprover-community/repl) if set.

    Raises:
        ProverUnavailable: no `lake` (no Lean toolchain on this machine), or lean-interact is not installed.
    """
    lake = os.environ.get("AUTOPROVE_LAKE") or shutil.which("lake")
    if not lake:
        elan = Path.home() / ".elan" / "bin" / "lake"
        lake = str(elan) if elan.is_file() else None
    if not lake:
        raise ProverUnavailable("no Lean toolchain found (no `lake` on PATH or in ~/.elan/bin): install elan, "
                                "https://lean-lang.org/install")
    try:
        import lean_interact  # noqa: F401
    except ImportError as e:
        raise ProverUnavailable(f"the Lean backend needs lean-interact: pip install 'auto-prove[lean]' ({e})") from e
    repl = os.environ.get("AUTOPROVE_LEAN_REPL")
    return LeanToolchain(_project_of(Path(path).absolute()), Path(lake), Path(repl) if repl else None)


# --------------------------------------------------------------------------------------------------
# the prover


class LeanProver:
    """One Lean REPL (restarted as needed) implementing the `Prover` protocol."""

    backend = "lean"

    def __init__(self, *, memory_mb: int | None = 8192, max_restarts: int = 5, start_timeout: float = 600.0) -> None:
        self._memory_mb = memory_mb
        self._max_restarts = max_restarts
        self._start_timeout = start_timeout
        self._lock = threading.RLock()
        self._server: Any = None  # lean_interact.LeanServer
        self._file_server: Any = None  # the server the last `run_file` ran in
        self._toolchain: LeanToolchain | None = None
        self._env: Environment | None = None
        self._loaded: tuple[str, Path] | None = None  # (source, project) the live REPL has run
        self._sorries: tuple[ReplSorry, ...] = ()
        self._handles: dict[tuple[str, ...], int] = {}  # path -> proof state in the live REPL
        self._restarts = 0
        self._closed = False

    @property
    def lean_version(self) -> str:
        """The Lean version of the running REPL ("" before it started)."""
        return str(getattr(self._server, "lean_version", "") or "")

    # -- Prover ------------------------------------------------------------------------------------------------

    def enter(self, env: Environment, timeout: float) -> ProofState:
        """Run the file and stand at the `sorry` of `env.placeholder`.

        Raises:
            SourceError: the file has no `sorry` at the placeholder (or the REPL refused the file).
            ProverUnavailable, ProverCrashed, ProverTimeout.
        """
        with self._lock:
            self._check_open()
            if self._env is None or (env.file, env.source, env.workdir) != (self._env.file, self._env.source,
                                                                            self._env.workdir):
                self._restarts = 0
            self._env = env
            root = self._root(env, timeout)
            return root

    def run(self, state: ProofState, tactic: str, timeout: float) -> TacticResult:
        """Apply one tactic (any tactic sequence the REPL accepts) to `state`.

        Raises:
            ProverCrashed: the REPL died and could not be brought back (restart cap).
        """
        with self._lock:
            self._check_open()
            if self._env is None:
                raise RuntimeError("LeanProver.run before a successful enter()")
            t0 = time.monotonic()
            try:
                handle = self._handle_of(state, timeout)
            except ProverTimeout as e:
                return TacticResult("timeout", message=str(e), seconds=time.monotonic() - t0)
            if handle is None:
                return TacticResult("failed", message="the state could not be rebuilt", seconds=time.monotonic() - t0)
            r = self._request("step", {"tactic": tactic, "proofState": handle}, timeout)
            seconds = time.monotonic() - t0
            if r is None:
                return TacticResult("timeout", message=f"no answer within {timeout:g} s (REPL restarted)",
                                    seconds=seconds)
            if r.error is not None:
                return TacticResult("failed", message=r.error, seconds=seconds)
            if r.errors:
                return TacticResult("failed", message="\n".join(m.data for m in r.errors), seconds=seconds)
            if r.proof_state is None or (r.proof_status or "").startswith("Error"):
                return TacticResult("failed", message=r.proof_status or "no proof state", seconds=seconds)
            if "sorry" in (r.proof_status or ""):
                return TacticResult("failed", message=f"refused: {r.proof_status}", seconds=seconds)
            path = (*state.path, tactic)
            self._handles[path] = r.proof_state
            finished = r.completed
            goals = tuple(parse_goal(g) for g in r.goals)
            new = ProofState(path, goals, 0, finished, r.proof_state)
            return TacticResult("finished" if finished else "ok", new, seconds=seconds)

    def run_file(self, file: Path, source: str, workdir: Path | None, timeout: float, *,
                 all_tactics: bool = False) -> ReplResponse:
        """Run `source` (the text of `file`, possibly with commands appended) as one command in a fresh environment
        and return the REPL's answer: for finding a file's sorries and for verification. The REPL keeps no state
        from it that a later `enter` relies on. `all_tactics`: the answer also lists every tactic with the goals
        before it (`extra["tactics"]`, for the harvest).

        Raises:
            ProverUnavailable: no Lean toolchain.
            ProverTimeout: no answer within `timeout` (the REPL is restarted at the next call).
            ProverCrashed: the REPL died.
        """
        with self._lock:
            self._check_open()
            self._restarts = 0
            self._ensure_server(Environment(file=file, backend="lean", source=source, workdir=workdir))
            self._file_server = self._server  # the REPL whose proof states `sort_of` may ask about
            r = self._request("command", {"cmd": source, **({"all_tactics": True} if all_tactics else {})}, timeout)
            if r is None:
                raise ProverTimeout(f"{file}: the Lean REPL did not finish within {timeout:g} s")
            return r

    def sort_of(self, proof_state: int, timeout: float, *, goal: str = "") -> PlaceholderSort:
        """Whether the target of `proof_state` — a sorry's state from the last `run_file`, in the same REPL — is a
        proposition ("prop"), a type of data ("data") or undecided ("unknown"), asked with `SORT_PROBE`. `goal` is
        the sorry's goal as the REPL printed it: one that shows a metavariable is "unknown" without asking. Never
        raises for the REPL's sake: a REPL that died, timed out or was restarted since gives "unknown"."""
        with self._lock:
            if self._closed or _METAVARIABLE.search(goal):
                return "unknown"
            server = self._server
            if server is None or server is not self._file_server or not server.is_alive():
                return "unknown"  # the proof state belongs to a REPL that is gone
            try:
                answer = self._request("step", {"tactic": SORT_PROBE, "proofState": proof_state}, timeout)
            except ProverCrashed:
                log.debug("the sort probe crashed the Lean REPL", exc_info=True)
                return "unknown"
            return sort_from_probe(answer)

    def pids(self) -> list[int]:
        server = self._server
        proc = getattr(server, "_proc", None)
        if proc is None or proc.poll() is not None:
            return []
        try:
            import psutil

            p = psutil.Process(proc.pid)
            return [p.pid, *(c.pid for c in p.children(recursive=True))]
        except Exception:
            return [proc.pid]

    def close(self) -> None:
        self._closed = True
        self._kill()

    def __enter__(self) -> "LeanProver":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ---------------------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise ProverCrashed("LeanProver is closed")

    def _kill(self) -> None:
        pids = self.pids()
        server, self._server = self._server, None
        self._loaded, self._handles = None, {}
        for pid in pids:  # resumed first: lean-interact terminates, then waits, and a paused REPL would not end
            try:
                os.kill(pid, signal.SIGCONT)
            except OSError:
                pass
        if server is not None:
            try:
                server.kill()
            except Exception:
                log.debug("killing the Lean REPL", exc_info=True)

    def _ensure_server(self, env: Environment) -> None:
        toolchain = find_toolchain(env.workdir or env.file)
        if self._server is not None and self._server.is_alive() and toolchain == self._toolchain:
            return
        if self._server is not None:
            self._kill()
            self._restarts += 1
            if self._restarts > self._max_restarts:
                raise ProverCrashed(f"the Lean REPL died {self._restarts - 1} times on this goal; not restarting")
        from lean_interact import LeanREPLConfig, LocalProject

        tree_tag()  # exported first: the `lake`/`git` runs of lean-interact's set-up carry it (see procs.py)
        try:
            config = LeanREPLConfig(project=LocalProject(directory=str(toolchain.project), auto_build=False),
                                    local_repl_path=str(toolchain.repl) if toolchain.repl else None,
                                    build_repl=toolchain.repl is None, lake_path=str(toolchain.lake),
                                    memory_hard_limit_mb=self._memory_mb, verbose=False)
            self._server = _owned_server_class()(config)
        except Exception as e:  # lean-interact raises plain exceptions of several kinds while setting up
            raise ProverUnavailable(f"could not start the Lean REPL for {toolchain.project}: {e}") from e
        self._toolchain = toolchain
        self._loaded, self._handles = None, {}

    def _request(self, kind: str, payload: dict[str, Any], timeout: float) -> ReplResponse | None:
        """Send one request through lean-interact; None when it timed out (the REPL was killed)."""
        from lean_interact import Command, ProofStep

        assert self._server is not None
        req = Command(**payload) if kind == "command" else ProofStep(**payload)
        try:
            raw = self._server.run_dict(self._server._augment_request(req).model_dump(exclude_none=True, by_alias=True),
                                        timeout=max(0.1, timeout))
        except TimeoutError:
            self._kill()
            return None
        except (ConnectionAbortedError, ChildProcessError, BrokenPipeError, OSError) as e:
            self._kill()
            raise ProverCrashed(f"the Lean REPL stopped: {str(e).splitlines()[0] if str(e) else e!r}") from e
        except ValueError as e:  # not JSON
            self._kill()
            raise ProverCrashed(f"the Lean REPL answered something that is not JSON: {e}") from e
        try:
            return parse_response(raw)
        except ValueError as e:
            self._kill()
            raise ProverCrashed(f"unexpected REPL answer: {e}") from e

    def _root(self, env: Environment, timeout: float) -> ProofState:
        self._ensure_server(env)
        key = (env.source, (self._toolchain.project if self._toolchain else Path()))
        if self._loaded != key:
            r = self._request("command", {"cmd": env.source}, timeout)
            if r is None:
                raise ProverTimeout(f"{env.file}: the Lean REPL did not run the file within {timeout:g} s")
            if r.error is not None:
                raise SourceError(f"the Lean REPL refused the file: {r.error}", file=env.file)
            self._loaded, self._sorries, self._handles = key, r.sorries, {}
        line, col, end_line, end_col = _line_col(env.source, env.placeholder)
        for s in self._sorries:
            if (s.line, s.column) == (line, col) and s.proof_state is not None:
                self._handles[()] = s.proof_state
                return ProofState((), (parse_goal(s.goal),), 0, False, s.proof_state)
        raise SourceError(f"no `sorry` with a proof state at line {line}, column {col}", file=env.file, line=line)

    def _handle_of(self, state: ProofState, timeout: float) -> int | None:
        """The live REPL's proof state for `state`, rebuilding it (file run again, path replayed) after a restart."""
        h = self._handles.get(state.path)
        if h is not None and self._server is not None and self._server.is_alive():
            return h
        assert self._env is not None
        root = self._root(self._env, timeout)
        handle = root.handle
        for i, tac in enumerate(state.path):
            sub = state.path[: i + 1]
            if sub in self._handles:
                handle = self._handles[sub]
                continue
            r = self._request("step", {"tactic": tac, "proofState": handle}, timeout)
            if r is None:
                raise ProverTimeout("replaying the path overran its deadline")
            if r.error is not None or r.proof_state is None or r.errors:
                return None
            handle = self._handles[sub] = r.proof_state
        return handle


_OWNED_SERVER: Any = None


def _owned_server_class() -> Any:
    """lean-interact's `LeanServer` with its REPL process (`lake env repl`, in a session of its own) started through
    `procs.spawn`, so that it dies with this process whatever kills it. The rest is lean-interact's own."""
    global _OWNED_SERVER
    if _OWNED_SERVER is None:
        from lean_interact import LeanServer
        from lean_interact.utils import _limit_memory

        class OwnedLeanServer(LeanServer):  # type: ignore[misc]
            def start(self) -> None:
                config = self.config
                repl = os.path.join(config._cache_repl_dir, ".lake", "build", "bin", "repl")
                limit = config.memory_hard_limit_mb
                self._proc = spawn([str(config.lake_path), "env", str(repl)], cwd=config.working_dir,
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   encoding="utf-8", text=True, bufsize=1, start_new_session=True,
                                   preexec=lambda: _limit_memory(limit))
                if not self.is_alive():
                    stdout, stderr = self.get_stdout_stderr()
                    raise ChildProcessError(f"The Lean server could not be started:\nstdout: {stdout}\n"
                                            f"stderr: {stderr}")

        _OWNED_SERVER = OwnedLeanServer
    return _OWNED_SERVER


def _line_col(source: str, placeholder: tuple[int, int]) -> tuple[int, int, int, int]:
    """(1-based line, 0-based column) of both ends of a character range of `source`."""
    a, b = placeholder

    def at(i: int) -> tuple[int, int]:
        before = source[:i]
        return before.count("\n") + 1, i - (before.rfind("\n") + 1)

    return (*at(a), *at(b))
