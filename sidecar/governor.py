"""CpuGovernor: holds the CPU of this process tree (the tool and every prover it starts) near a target fraction.

Three levers, measured with psutil over the whole tree: how many provers run at once (`workers`), low priority
for prover processes (nice), and a SIGSTOP/SIGCONT duty cycle on the provers when the tree runs over target.
One busy prover is 1/cores of the machine, so targets below that need the duty cycle and targets above it need
provers in parallel.
"""

from __future__ import annotations

import logging
import math
import os
import signal
import threading
import time
from typing import Callable

import psutil

from .procs import _LINUX, TREE_VAR, own_tree, tagged_processes, tree_tag

_KEPT: dict[tuple[int, int], psutil.Process] = {}  # tree_processes' psutil objects, by (pid, start)
_KEPT_LOCK = threading.Lock()

__all__ = ["CpuGovernor", "tree_cpu_seconds", "tree_processes", "TREE_VAR", "tree_tag", "tagged_processes"]

log = logging.getLogger(__name__)

# Every process this tool starts carries TREE_VAR=<this process's tag> in its environment (see procs.py). Some
# helpers leave the tree: CoqHammer's ATPs are started by a forked worker that exits, and `htimeout` gives them
# sessions of their own, so they are neither descendants nor in the prover's process group. The tag still finds them.


def tree_processes(root: psutil.Process | None = None) -> list[psutil.Process]:
    """Live descendants of `root` (default: this process) and, for this process, the helpers that left the tree
    but carry its tag."""
    me = root or psutil.Process()
    if me.pid == os.getpid() and _LINUX:  # the cheap walk (procs.own_tree), psutil objects kept between calls
        tree = own_tree()
        with _KEPT_LOCK:
            for gone in set(_KEPT) - set(tree):
                del _KEPT[gone]
            out = []
            for key in tree:
                p = _KEPT.get(key)
                if p is None:
                    try:
                        p = _KEPT[key] = psutil.Process(key[0])
                    except psutil.Error:
                        continue
                out.append(p)
        return out
    try:
        kids = me.children(recursive=True)
    except psutil.Error:
        return []
    if me.pid == os.getpid():
        known = {k.pid for k in kids}
        kids += [p for p in tagged_processes(TREE_VAR, tree_tag()) if p.pid not in known]
    return kids


def tree_cpu_seconds(root: psutil.Process | None = None, kids: list[psutil.Process] | None = None) -> float:
    """CPU seconds used so far by `root` (default: this process), its reaped children and its live tree
    (`kids`, when the caller has just listed them with `tree_processes`)."""
    me = root or psutil.Process()
    try:
        t = me.cpu_times()
    except psutil.Error:
        return 0.0
    total = t.user + t.system + t.children_user + t.children_system
    for p in kids if kids is not None else tree_processes(me):
        try:
            ct = p.cpu_times()
            total += ct.user + ct.system
        except psutil.Error:
            continue
    return total


class CpuGovernor:
    """Duty-cycle controller for the process tree's CPU use, as a fraction of the whole machine."""

    def __init__(self, target: float = 0.5, *, cores: int | None = None, period: float = 0.2,
                 max_workers: int | None = None, nice: int = 10) -> None:
        if not 0.05 <= target <= 1.0:
            raise ValueError("cpu target must be between 0.05 and 1.0")
        self.cores = cores or psutil.cpu_count() or 1
        self.target = target
        self.period = period
        self.nice = nice
        self._max_workers = max_workers
        self._pause = 0.0  # fraction of each period the provers are stopped
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._me = psutil.Process(os.getpid())
        self._niced: set[int] = set()
        self._samples: list[tuple[float, float]] = []  # (time, tree cpu seconds)
        self.last_fraction = 0.0
        self.boost = 0  # extra provers allowed while the tree runs under target unthrottled
        self.saturated: Callable[[], bool] = lambda: False  # set by the scheduler: every allowed prover is busy
        self._under = 0  # consecutive periods under target with no pause
        self._over = 0  # consecutive periods throttled

    @property
    def workers(self) -> int:
        """How many provers may run at once for this target: one per core's worth of target, plus `boost` while
        the tree stays under target without being throttled (provers wait on this process between tactics, so
        two provers do not fill two cores; see `_adapt`)."""
        n = max(1, math.ceil(self.target * self.cores - 1e-9)) + self.boost
        return min(n, self._max_workers) if self._max_workers else n

    @property
    def max_workers(self) -> int:
        """The most provers `workers` can ever allow (worker threads to create)."""
        n = 2 * self.cores
        return min(n, self._max_workers) if self._max_workers else n

    def set_target(self, target: float) -> None:
        """Change the target while running."""
        self.target = min(1.0, max(0.05, target))

    def start(self) -> "CpuGovernor":
        """Start the control thread (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="cpu-governor", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop controlling and resume every paused prover."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None
        self._signal_children(signal.SIGCONT)

    def __enter__(self) -> "CpuGovernor":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def tree_cpu_seconds(self) -> float:
        """CPU seconds used so far by this process tree."""
        return tree_cpu_seconds(self._me)

    def _children(self) -> list[psutil.Process]:
        return tree_processes(self._me)

    def _signal_children(self, sig: int) -> None:
        for p in self._children():
            try:
                p.send_signal(sig)
            except psutil.Error:
                continue

    def _renice(self, kids: list[psutil.Process]) -> None:
        for p in kids:
            if p.pid in self._niced:
                continue
            self._niced.add(p.pid)
            try:
                if p.nice() < self.nice:
                    p.nice(self.nice)
            except psutil.Error:
                continue

    def _loop(self) -> None:
        try:
            self._control()
        except Exception:  # a dead control loop must not leave provers paused or the tool unthrottled silently
            log.exception("the CPU governor stopped")
        finally:
            self._signal_children(signal.SIGCONT)

    def _control(self) -> None:
        kids = self._children()  # one listing per period: it measures this period and is signalled in the next
        last_t, last_cpu = time.monotonic(), tree_cpu_seconds(self._me, kids)
        ewma = 0.0
        while not self._stop.is_set():
            self._renice(kids)
            run_for = self.period * (1.0 - self._pause)
            stop_for = self.period * self._pause
            if stop_for > 0.005 and kids:
                self._stop.wait(run_for)
                try:
                    for p in kids:
                        try:
                            p.send_signal(signal.SIGSTOP)
                        except psutil.Error:
                            pass
                    self._stop.wait(stop_for)
                finally:  # whatever happens, nothing stays paused
                    for p in kids:
                        try:
                            p.send_signal(signal.SIGCONT)
                        except psutil.Error:
                            pass
            else:
                self._stop.wait(self.period)
            kids = self._children()
            now, cpu = time.monotonic(), tree_cpu_seconds(self._me, kids)
            dt = now - last_t
            if dt <= 0:
                continue
            frac = max(0.0, cpu - last_cpu) / dt / self.cores
            last_t, last_cpu = now, cpu
            ewma = frac if ewma == 0.0 else 0.6 * ewma + 0.4 * frac
            self.last_fraction = ewma
            # integral control of the pause fraction
            err = frac - self.target
            self._pause = min(0.95, max(0.0, self._pause + 0.5 * err))
            self._adapt(ewma)

    def _adapt(self, ewma: float) -> None:
        """Allow one more prover after 3 s under target (by more than 0.05) with nothing paused; take it back
        after 3 s of throttling. Only while every allowed prover is busy does this matter: the scheduler runs
        no more provers than it has goals, and it tells (`saturated`) when all allowed provers are busy."""
        periods = max(1, round(3.0 / self.period))
        if self._pause == 0.0 and ewma < self.target - 0.05 and self.saturated():
            self._under, self._over = self._under + 1, 0
            if self._under >= periods and self.boost < self.cores:
                self.boost, self._under = self.boost + 1, 0
        elif self._pause > 0.1:
            self._over, self._under = self._over + 1, 0
            if self._over >= periods and self.boost > 0:
                self.boost, self._over = self.boost - 1, 0
        else:
            self._under = self._over = 0
