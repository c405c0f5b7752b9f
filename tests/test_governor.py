"""The CPU governor: worker counts per target, duty cycle on a busy child, nothing left stopped."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil
import pytest

from sidecar.governor import CpuGovernor, tree_cpu_seconds


def test_workers_follow_target() -> None:
    assert CpuGovernor(0.5, cores=2).workers == 1
    assert CpuGovernor(1.0, cores=2).workers == 2
    assert CpuGovernor(0.25, cores=2).workers == 1
    assert CpuGovernor(0.75, cores=4).workers == 3
    assert CpuGovernor(1.0, cores=8, max_workers=2).workers == 2
    with pytest.raises(ValueError):
        CpuGovernor(0.0)


def test_an_extra_prover_only_while_saturated_and_under_target() -> None:
    """Provers wait on the sidecar between tactics, so at high targets one more prover is allowed while every
    allowed prover is busy and the tree stays under target unthrottled; throttling takes it back."""
    g = CpuGovernor(1.0, cores=2)
    periods = round(3.0 / g.period)
    for _ in range(3 * periods):
        g._adapt(0.5)
    assert g.boost == 0 and g.workers == 2  # idle, not saturated: nothing to gain
    g.saturated = lambda: True
    for _ in range(periods):
        g._adapt(0.5)
    assert g.boost == 1 and g.workers == 3
    for _ in range(5 * periods):
        g._adapt(0.5)
    assert g.boost == 2 and g.workers == 4 == g.max_workers  # at most one extra per core
    g._pause = 0.5
    for _ in range(periods):
        g._adapt(1.0)
    assert g.boost == 1
    assert CpuGovernor(1.0, cores=2, max_workers=3).max_workers == 3


def test_duty_cycle_holds_a_busy_child_below_one_core() -> None:
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        gov = CpuGovernor(0.1, cores=psutil.cpu_count() or 2, period=0.1)
        with gov:
            time.sleep(1.5)  # let the controller settle
            c0, t0 = tree_cpu_seconds(), time.monotonic()
            time.sleep(3.0)
            frac_of_one_core = (tree_cpu_seconds() - c0) / (time.monotonic() - t0)
        assert frac_of_one_core < 0.7, frac_of_one_core  # unthrottled it would be ~1.0
        assert psutil.Process(busy.pid).status() != psutil.STATUS_STOPPED
    finally:
        busy.kill()
        busy.wait()


def test_helpers_that_left_the_tree_are_still_governed() -> None:
    """A helper started through a parent that exited, in a session of its own (as CoqHammer starts ATPs), is
    no descendant; its tag still brings it under the governor and into the measured CPU."""
    import os
    import signal
    import subprocess

    import psutil

    from sidecar.governor import TREE_VAR, CpuGovernor, tree_tag

    env = {**os.environ, TREE_VAR: tree_tag()}
    out = subprocess.run(["sh", "-c", "setsid sleep 300 >/dev/null 2>&1 & echo $!"], env=env, capture_output=True,
                         text=True, timeout=10)
    pid = int(out.stdout)
    try:
        assert pid not in {p.pid for p in psutil.Process().children(recursive=True)}
        assert pid in {p.pid for p in CpuGovernor(0.5)._children()}
    finally:
        os.kill(pid, signal.SIGKILL)
