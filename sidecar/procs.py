"""The processes auto-prove starts, and how none of them outlives it: `spawn`, the tree tag, `guard_tree`.

Three mechanisms, because the owner may die of anything (kill -9 included) and a paused prover never notices:

1. `spawn` starts every child (provers, coqc, the Lean REPL) with PR_SET_PDEATHSIG=SIGKILL (Linux): the kernel
   kills the child when its parent dies, even while the CPU governor has it stopped. The signal fires when the
   *thread* that forked the child ends, not the process, and children are started from worker threads that may
   end while others still use the child; so every fork happens on one spawner thread that lives as long as the
   process.
2. Every child carries `TREE_VAR=<owner's tag>` in its environment, and so does everything it starts. Helpers that
   leave the tree (CoqHammer's ATPs: forked by a worker of coqidetop, in sessions of their own; PR_SET_PDEATHSIG is
   not inherited across fork) are found by it. `guard_tree` (called by the commands that start provers) starts a
   guardian: a small process outside the tree that waits on a pipe only the owner holds and, when the owner dies,
   resumes and kills every process carrying the owner's tag.
3. `guard_tree` also sweeps first: processes of this user whose tag names a dead owner (whose guardian was killed
   too) are resumed and killed, and temporary folders named for a dead owner (`temp_prefix`) are removed. A live
   owner's processes, auto-prove processes themselves, this process and its ancestors are never touched. The tag is
   `pid-createms-startticks`; the start time in clock ticks since boot identifies the owner even across wall-clock
   steps, and a zombie owner counts as dead.
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import ctypes.util
import logging
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import psutil

__all__ = ["TREE_VAR", "tree_tag", "own_tree", "process_tag", "tagged_processes", "owner_alive", "spawn", "run",
           "sweep_orphans", "guard_tree", "resume_and_kill", "temp_prefix"]

log = logging.getLogger(__name__)

TREE_VAR = "AUTOPROVE_TREE"
_PR_SET_PDEATHSIG = 1
_PROC = Path("/proc")
_LINUX = sys.platform.startswith("linux") and _PROC.is_dir()


# --------------------------------------------------------------------------------------------------
# the tag


def _stat_fields(pid: int) -> list[str] | None:
    """Fields 3.. of /proc/<pid>/stat (state first), or None when the process is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    return raw[raw.rfind(b")") + 2:].decode("ascii", "replace").split()


def _start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat)."""
    f = _stat_fields(pid)
    return int(f[19]) if f and len(f) > 19 else None


_TAG: tuple[int, str] | None = None  # (pid it was made for, tag)


def process_tag(pid: int) -> str:
    """The tag of process `pid` as an owner: `pid-createms-startticks` (`pid-createms` where /proc is missing).

    Raises:
        psutil.NoSuchProcess: no such process.
    """
    tag = f"{pid}-{int(psutil.Process(pid).create_time() * 1000)}"
    ticks = _start_ticks(pid) if _LINUX else None
    return tag if ticks is None else f"{tag}-{ticks}"


def tree_tag() -> str:
    """This process's tag (unique per process), also exported in its environment for the processes it starts."""
    global _TAG
    pid = os.getpid()
    if _TAG is None or _TAG[0] != pid:
        _TAG = (pid, process_tag(pid))
    if os.environ.get(TREE_VAR) != _TAG[1]:
        os.environ[TREE_VAR] = _TAG[1]
    return _TAG[1]


def owner_alive(tag: str) -> bool:
    """Whether the process that made `tag` is still running. Unknown shapes count as alive (never ours to judge)."""
    parts = tag.split("-")
    try:
        pid = int(parts[0])
    except ValueError:
        return True
    if _LINUX:
        f = _stat_fields(pid)
        if f is None or f[0] in ("Z", "X"):  # gone, or dead and waiting to be reaped
            return False
        if len(parts) >= 3 and parts[2].isdigit():
            return len(f) > 19 and f[19] == parts[2]
        return True  # an older tag without start ticks: the pid is taken, maybe by the owner
    try:
        p = psutil.Process(pid)
        if p.status() == psutil.STATUS_ZOMBIE:
            return False
        return len(parts) < 2 or not parts[1].isdigit() or abs(p.create_time() * 1000 - int(parts[1])) < 2000
    except psutil.Error:
        return False


def _environ(pid: int) -> bytes | None:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return f.read()
    except OSError:
        return None


def _tag_of(env: bytes) -> str | None:
    key = TREE_VAR.encode() + b"="
    for item in env.split(b"\0"):
        if item.startswith(key):
            return item[len(key):].decode("utf-8", "replace")
    return None


def _own_pids_started() -> list[tuple[int, int]]:
    """(pid, when its /proc entry was made, in ns) of this user's processes (Linux: from /proc, a stat each)."""
    uid = os.getuid()
    out = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                st = entry.stat()
                if st.st_uid == uid:
                    out.append((int(entry.name), st.st_ctime_ns))
            except OSError:
                continue
    return out


def _own_pids() -> list[int]:
    """Pids of this user's processes."""
    return [pid for pid, _ in _own_pids_started()]


def _carries(env: bytes | None, needle: bytes) -> bool:
    """Whether an environment block (`_environ`) holds the item `needle` (b"VAR=value") exactly."""
    return env is not None and needle in env and needle in env.split(b"\0")


_FACTS: dict[int, tuple[int, int, bytes | None]] = {}  # pid -> (its /proc entry's time, parent, environment)
_FACTS_LOCK = threading.Lock()
_SETTLED_NS = 2_000_000_000  # a process seen for less than this may still be between fork and exec


def _facts(pid: int, started: int) -> tuple[int, bytes | None]:
    """(parent pid or -1, environment) of a process, read once per process for `own_tree`: neither changes once it
    has exec'd (a child whose parent died is found by its tag). Not kept for a process first seen under 2 s ago
    (`started`): between fork and exec /proc shows its parent's environment."""
    with _FACTS_LOCK:
        hit = _FACTS.get(pid)
    if hit is not None and hit[0] == started:
        return hit[1], hit[2]
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
        parent = int(data[data.rindex(b")") + 2:].split()[1])
    except (OSError, ValueError, IndexError):
        parent = -1
    env = _environ(pid)
    if time.time_ns() - started >= _SETTLED_NS:
        with _FACTS_LOCK:
            if len(_FACTS) > 4096:
                _FACTS.clear()
            _FACTS[pid] = (started, parent, env)
    return parent, env


def own_tree() -> list[tuple[int, int]]:
    """(pid, start) of this process's descendants and of the processes carrying its tag (Linux; the start tells a
    reused pid from the process that had it), from one walk of /proc that reads only the processes it has not seen
    before (`_facts`). The CPU governor lists its tree several times a second, and each worker of a cluster has a
    governor of its own: with psutil's listing (every process's stat read each time) the governors of 64 workers on
    one machine took most of it."""
    me, needle = os.getpid(), f"{TREE_VAR}={tree_tag()}".encode()
    kids: dict[int, list[tuple[int, int]]] = {}
    tagged = set()
    for pid, started in _own_pids_started():
        parent, env = _facts(pid, started)
        kids.setdefault(parent, []).append((pid, started))
        if pid != me and _carries(env, needle):
            tagged.add((pid, started))
    out, todo = set(), list(kids.get(me, []))
    while todo:
        p = todo.pop()
        if p not in out:
            out.add(p)
            todo += kids.get(p[0], [])
    return sorted(out | tagged)


def tagged_processes(var: str, value: str) -> list[psutil.Process]:
    """Live processes of this user (other than this one) whose environment has `var=value`."""
    me = os.getpid()
    out = []
    if _LINUX:
        needle = f"{var}={value}".encode()
        for pid in _own_pids():
            if pid == me:
                continue
            if not _carries(_environ(pid), needle):
                continue
            try:
                out.append(psutil.Process(pid))
            except psutil.Error:
                continue
        return out
    for p in psutil.process_iter():
        if p.pid == me:
            continue
        try:
            if p.environ().get(var) == value:
                out.append(p)
        except psutil.Error:
            continue
    return out


# --------------------------------------------------------------------------------------------------
# starting children


def _load_prctl() -> Callable[..., int] | None:
    if not _LINUX:
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    return prctl


_PRCTL = _load_prctl()  # looked up here: a child between fork and exec must not load libraries


class _Spawner:
    """One long-lived thread that runs every fork (see the module docstring: PR_SET_PDEATHSIG is per thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], concurrent.futures.Future[Any]]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run `fn` on the spawner thread and return its result (or raise its exception)."""
        if threading.current_thread() is self._thread or sys.is_finalizing():
            return fn()
        with self._lock:
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                self._jobs = queue.SimpleQueue()
                self._thread = threading.Thread(target=self._loop, args=(self._jobs,), name="child-spawner",
                                                daemon=True)
                self._pid = os.getpid()
                self._thread.start()
            jobs = self._jobs
        fut: concurrent.futures.Future[Any] = concurrent.futures.Future()
        jobs.put((fn, fut))
        return fut.result()

    @staticmethod
    def _loop(jobs: queue.SimpleQueue[tuple[Callable[[], Any], concurrent.futures.Future[Any]]]) -> None:
        while True:
            fn, fut = jobs.get()
            if not fut.set_running_or_notify_cancel():
                continue
            try:
                fut.set_result(fn())
            except BaseException as e:  # handed to the caller's thread
                fut.set_exception(e)


_SPAWNER = _Spawner()


def _child_preexec(parent: int, then: Callable[[], None] | None) -> Callable[[], None]:
    """The function run in the child between fork and exec: die with `parent`, then `then` (e.g. RLIMIT_AS)."""
    prctl = _PRCTL

    def preexec() -> None:
        if prctl is not None:
            if prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
                raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
            if os.getppid() != parent:  # the parent died before the request took effect
                os.kill(os.getpid(), signal.SIGKILL)
        if then is not None:
            then()

    return preexec


def spawn(argv: Sequence[str], *, preexec: Callable[[], None] | None = None, env: dict[str, str] | None = None,
          **popen_kwargs: Any) -> subprocess.Popen[Any]:
    """`subprocess.Popen(argv, **popen_kwargs)` for a child that dies with this process (whatever kills it) and
    carries this process's tree tag. `preexec` runs in the child after the death signal is set.

    Raises:
        OSError: as Popen (FileNotFoundError when argv[0] does not exist).
    """
    child_env = dict(os.environ if env is None else env)
    child_env[TREE_VAR] = tree_tag()
    parent = os.getpid()
    args = list(argv)

    def start() -> subprocess.Popen[Any]:
        return subprocess.Popen(args, env=child_env, preexec_fn=_child_preexec(parent, preexec), **popen_kwargs)

    return _SPAWNER.call(start)  # type: ignore[no-any-return]


def run(argv: Sequence[str], *, timeout: float | None = None, input: bytes | str | None = None,
        **popen_kwargs: Any) -> subprocess.CompletedProcess[Any]:
    """`subprocess.run` through `spawn` (the child dies with this process); on timeout its process group is
    killed when it has one of its own (`start_new_session=True`), else the child.

    Raises:
        subprocess.TimeoutExpired, OSError: as subprocess.run.
    """
    if input is not None:
        popen_kwargs["stdin"] = subprocess.PIPE
    proc = spawn(argv, **popen_kwargs)
    with proc:
        try:
            out, err = proc.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_child(proc, popen_kwargs.get("start_new_session", False))
            proc.communicate()
            raise
        except BaseException:
            _kill_child(proc, popen_kwargs.get("start_new_session", False))
            raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _kill_child(proc: subprocess.Popen[Any], group: bool) -> None:
    try:
        if group:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    except (ProcessLookupError, PermissionError):
        pass


def resume_and_kill(procs: Sequence[psutil.Process]) -> None:
    """SIGCONT then SIGKILL each process (a stopped process is resumed before anything that expects it to run)."""
    for p in procs:
        for sig in (signal.SIGCONT, signal.SIGKILL):
            try:
                p.send_signal(sig)
            except psutil.Error:
                break


# --------------------------------------------------------------------------------------------------
# what dead owners left behind


def temp_prefix(prefix: str) -> str:
    """A temporary folder name prefix (`prefix` starting with "autoprove_") that names this process as its owner, so
    that the sweep removes the folder if this process dies before it does (kill -9 runs no `finally`)."""
    return f"{prefix}{tree_tag()}_"


_OWNED_TEMP = re.compile(r"^autoprove_[a-z]+_(\d+-\d+-\d+)_")


def _sweep_temp_folders() -> int:
    """Remove this user's temporary folders whose owner (see `temp_prefix`) is dead; returns how many."""
    removed = 0
    uid = os.getuid()
    try:
        entries = list(os.scandir(tempfile.gettempdir()))
    except OSError:
        return 0
    for entry in entries:
        m = _OWNED_TEMP.match(entry.name)
        if m is None or owner_alive(m.group(1)):
            continue
        try:
            if not entry.is_dir(follow_symlinks=False) or entry.stat(follow_symlinks=False).st_uid != uid:
                continue
        except OSError:
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        removed += 1
    return removed


def _is_auto_prove(pid: int) -> bool:
    """Whether `pid` is an auto-prove process itself (never swept: it may be a live owner)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return False
    names = [os.path.basename(a) for a in argv[:3]]
    return b"auto-prove" in names or any(a == b"-m" and b == b"sidecar" for a, b in zip(argv, argv[1:]))


def sweep_orphans() -> list[str]:
    """Resume and kill this user's processes whose tree tag names a dead owner, and remove its temporary folders
    (`temp_prefix`); returns what was killed ("pid name"). Never touches a live owner's processes or folders,
    auto-prove processes, this process or its ancestors."""
    if not _LINUX:
        return []
    t0 = time.perf_counter()
    spare = {os.getpid()}
    try:
        spare |= {p.pid for p in psutil.Process().parents()}
    except psutil.Error:
        pass
    verdicts: dict[str, bool] = {}
    victims: list[psutil.Process] = []
    for pid in _own_pids():
        if pid in spare:
            continue
        env = _environ(pid)
        if not env or TREE_VAR.encode() not in env:
            continue
        tag = _tag_of(env)
        if tag is None:
            continue
        if tag not in verdicts:
            verdicts[tag] = owner_alive(tag)
        if verdicts[tag] or _is_auto_prove(pid):
            continue
        try:
            p = psutil.Process(pid)  # remembers the start time: a recycled pid is not signalled
            if _tag_of(_environ(pid) or b"") == tag:
                victims.append(p)
        except psutil.Error:
            continue
    described = []
    for p in victims:
        try:
            described.append(f"{p.pid} {p.name()}")
        except psutil.Error:
            described.append(str(p.pid))
    resume_and_kill(victims)
    if victims:
        log.warning("killed %d process(es) left behind by an auto-prove that died: %s", len(victims),
                    ", ".join(described))
    folders = _sweep_temp_folders()
    log.debug("orphan sweep: %d tag(s) seen, %d killed, %d temporary folder(s) removed, %.1f ms", len(verdicts),
              len(victims), folders, (time.perf_counter() - t0) * 1000)
    return described


# The guardian: started detached (its own session, reparented away from us), holding the read end of a pipe whose
# only write end is ours. EOF means this process died, however it died; then it kills what carries our tag.
_GUARDIAN = r"""
import os, signal, sys, time
key, uid, fd = sys.argv[1].encode(), int(sys.argv[2]), int(sys.argv[3])
if os.fork():
    os._exit(0)
os.setsid()
while True:
    try:
        if not os.read(fd, 64):
            break
    except InterruptedError:
        continue
    except OSError:
        break
me = os.getpid()
for _ in range(5):
    hit = 0
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == me:
            continue
        try:
            if os.stat("/proc/" + d).st_uid != uid:
                continue
            with open("/proc/" + d + "/environ", "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if key in env:
            hit += 1
            for s in (signal.SIGCONT, signal.SIGKILL):
                try:
                    os.kill(int(d), s)
                except OSError:
                    pass
    if not hit:
        break
    time.sleep(0.05)
"""

_GUARD_LOCK = threading.Lock()
_GUARDED: tuple[int, int] | None = None  # (pid, write end of the guardian's pipe)


def _start_guardian() -> None:
    global _GUARDED
    with _GUARD_LOCK:
        if _GUARDED is not None and _GUARDED[0] == os.getpid():
            return
        r, w = os.pipe()  # both ends close-on-exec: no child of ours inherits the write end
        env = {k: v for k, v in os.environ.items() if k != TREE_VAR}  # not part of the tree it watches
        try:
            proc = subprocess.Popen([sys.executable, "-I", "-S", "-c", _GUARDIAN, f"{TREE_VAR}={tree_tag()}",
                                     str(os.getuid()), str(r)], pass_fds=(r,), env=env, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                                    cwd="/")
            proc.wait(timeout=30)  # the guardian forked itself away and this first process exited
        except (OSError, subprocess.TimeoutExpired) as e:
            os.close(w)
            log.warning("no guardian for this process's helpers (%s); they are swept at the next start", e)
            return
        finally:
            os.close(r)
        _GUARDED = (os.getpid(), w)


def guard_tree() -> list[str]:
    """For a command that starts provers: sweep what dead auto-prove processes left behind, and make sure what
    this one starts (helpers that leave its tree included) is killed when it dies. Returns what the sweep killed."""
    tree_tag()
    try:
        killed = sweep_orphans()
    except Exception:  # a best-effort cleanup must never stop the command
        log.warning("sweeping orphaned processes failed", exc_info=True)
        killed = []
    if _LINUX:
        _start_guardian()
    return killed
