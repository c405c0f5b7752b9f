"""Integration tests of `CoqProver` against real coqidetop.opt processes (no mocks of Coq)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from sidecar.errors import ProverCrashed, ProverTimeout, ProverUnavailable, SourceError
from sidecar.provers.base import Environment, ProofState, Prover, TacticResult
from sidecar.provers.coq import CoqProver

if shutil.which("coqidetop.opt") is None:
    pytest.skip("coqidetop.opt is not installed", allow_module_level=True)

pytestmark = pytest.mark.timeout(60)

ARITH = "Require Import Arith Lia."
LEMMA = "Lemma t : forall n m : nat, n + 0 = n /\\ m = m."
LOOP = "repeat (assert True)"  # loops until interrupted (each step adds a hypothesis)


def env_of(tmp: Path, *sentences: str, focus: bool = False, name: str = "T.v", **kw: object) -> Environment:
    """An environment for a file `name` in `tmp`."""
    return Environment(file=tmp / name, backend="coq", sentences=sentences, focus=focus, **kw)  # type: ignore[arg-type]


def ok(result: TacticResult) -> ProofState:
    """The state of an "ok"/"finished" result, asserting it is one."""
    assert result.outcome in ("ok", "finished"), result
    assert result.state is not None
    return result.state


def coq_processes() -> set[int]:
    """Pids of coqidetop processes that are children of this test process."""
    me = psutil.Process()
    return {p.pid for p in me.children(recursive=True) if "coqidetop" in p.name()}


@pytest.fixture(scope="module")
def prover() -> Iterator[CoqProver]:
    """One prover shared by the tests that leave it healthy."""
    with CoqProver() as p:
        yield p


@pytest.fixture
def fresh() -> Iterator[CoqProver]:
    """A prover of its own, for tests that break or restart it."""
    p = CoqProver()
    try:
        yield p
    finally:
        p.close()


def test_is_a_prover(prover: CoqProver) -> None:
    assert isinstance(prover, Prover)
    assert prover.backend == "coq"


def test_enter_run_finish(prover: CoqProver, tmp_path: Path) -> None:
    root = prover.enter(env_of(tmp_path, ARITH, LEMMA), timeout=30)
    assert root.path == () and not root.finished
    assert [g.conclusion for g in root.goals] == ["forall n m : nat, n + 0 = n /\\ m = m"]
    r = prover.run(root, "intros", timeout=5)
    assert r.outcome == "ok" and r.seconds > 0
    s = ok(r)
    assert s.path == ("intros",)
    assert s.goals[0].hypotheses == ("n, m : nat",)
    done = prover.run(s, "lia", timeout=5)
    assert done.outcome == "finished"
    assert done.state is not None and done.state.finished and done.state.goals == ()
    assert ". ".join(done.state.path) + "." == "intros. lia."


def test_failed_tactic_then_branch_from_root(prover: CoqProver, tmp_path: Path) -> None:
    root = prover.enter(env_of(tmp_path, ARITH, LEMMA), timeout=30)
    s = ok(prover.run(root, "intros", timeout=5))
    bad = prover.run(s, "apply no_such_lemma", timeout=5)
    assert bad.outcome == "failed" and bad.state is None
    assert "no_such_lemma" in bad.message
    syntax = prover.run(s, "intros ))", timeout=5)
    assert syntax.outcome == "failed" and "Syntax error" in syntax.message
    # the session still works, from the same state and from the root (a branch)
    assert prover.run(s, "split", timeout=5).outcome == "ok"
    other = ok(prover.run(root, "split", timeout=5))
    assert len(other.goals) == 2 and other.path == ("split",)
    assert prover.run(other, "lia", timeout=5).outcome == "ok"  # closes the first of two goals


def test_navigate_to_discarded_sibling_replays(prover: CoqProver, tmp_path: Path) -> None:
    root = prover.enter(env_of(tmp_path, ARITH, LEMMA), timeout=30)
    a = ok(prover.run(root, "intros n m", timeout=5))
    b = ok(prover.run(a, "split", timeout=5))
    c = ok(prover.run(a, "rewrite Nat.add_0_r", timeout=5))  # Edit_at(a) discards b's Coq state
    assert c.goals[0].conclusion == "n = n /\\ m = m"
    before = prover.stats.replayed
    b2 = ok(prover.run(b, "lia", timeout=5))  # rebuilt: intros n m; split
    assert prover.stats.replayed == before + 1  # only `split` replayed: `intros n m` is the common prefix
    assert b2.path == ("intros n m", "split", "lia")
    assert [g.conclusion for g in b2.goals] == ["m = m"]
    deep = ok(prover.run(c, "split", timeout=5))
    assert prover.run(deep, "all: reflexivity", timeout=5).outcome == "finished"


def test_looping_tactic_times_out_and_session_survives(prover: CoqProver, tmp_path: Path) -> None:
    root = prover.enter(env_of(tmp_path, ARITH, LEMMA), timeout=30)
    t0 = time.monotonic()
    r = prover.run(root, LOOP, timeout=0.5)
    elapsed = time.monotonic() - t0
    assert r.outcome == "timeout", r
    assert elapsed < 3.0  # Coq's own `Timeout 1` fires at 1 s; SIGINT would come at 1.75 s
    assert r.message in ("Timeout!", "User interrupt.")
    s = ok(prover.run(root, "intros", timeout=5))
    assert prover.run(s, "lia", timeout=5).outcome == "finished"


def test_near_zero_deadlines(prover: CoqProver, tmp_path: Path) -> None:
    root = prover.enter(env_of(tmp_path, ARITH, LEMMA), timeout=30)
    outcomes = set()
    state = root
    for _ in range(20):
        r = prover.run(state, "intros", timeout=0.001)
        outcomes.add(r.outcome)
        if r.state is not None:
            state = root
    assert outcomes <= {"ok", "timeout"}
    loop = prover.run(root, LOOP, timeout=0.001)
    assert loop.outcome == "timeout"
    s = ok(prover.run(root, "intros", timeout=5))
    assert prover.run(s, "lia", timeout=5).outcome == "finished"
    # an environment that cannot load in 1 ms: ProverTimeout, and the session stays usable
    try:
        prover.enter(env_of(tmp_path, "Require Import Reals.", "Lemma r : 1 = 1."), timeout=0.001)
    except ProverTimeout:
        pass
    root2 = prover.enter(env_of(tmp_path, ARITH, LEMMA), timeout=30)
    assert prover.run(root2, "intros; lia", timeout=5).outcome == "finished"


def test_source_errors_and_recovery(prover: CoqProver, tmp_path: Path) -> None:
    with pytest.raises(SourceError) as missing:
        prover.enter(env_of(tmp_path, ARITH, "Require Import NoSuchLib.", LEMMA), timeout=30)
    assert missing.value.file == tmp_path / "T.v" and missing.value.line is None
    assert "sentence 2 of 3" in missing.value.message and "NoSuchLib" in missing.value.message
    assert getattr(missing.value, "sentence_index") == 1
    with pytest.raises(SourceError) as parse:
        prover.enter(env_of(tmp_path, ARITH, "Lemma x : forall n, n = n )."), timeout=30)
    assert "Syntax error" in parse.value.message and getattr(parse.value, "sentence_index") == 1
    with pytest.raises(SourceError) as exec_error:
        prover.enter(env_of(tmp_path, ARITH, "Check no_such_constant.", LEMMA), timeout=30)
    assert "no_such_constant" in exec_error.value.message
    with pytest.raises(SourceError, match="no proof is open"):
        prover.enter(env_of(tmp_path, ARITH, "Definition d := 1."), timeout=30)
    root = prover.enter(env_of(tmp_path, ARITH, LEMMA), timeout=30)
    assert prover.run(root, "intros; lia", timeout=5).outcome == "finished"


def test_focus_mode(prover: CoqProver, tmp_path: Path) -> None:
    env = env_of(tmp_path, ARITH, LEMMA, "Proof.", "intros.", "split.", focus=True)
    root = prover.enter(env, timeout=30)
    assert len(root.goals) == 1 and root.unfocused == 0 and not root.finished
    assert root.goals[0].conclusion == "n + 0 = n"
    s = ok(prover.run(root, "rewrite Nat.add_0_r", timeout=5))
    assert s.unfocused == 0
    done = prover.run(s, "reflexivity", timeout=5)
    assert done.outcome == "finished"  # though `m = m` is still open outside the brace
    # goals shelved inside the focus count as unfinished
    env2 = env_of(tmp_path, ARITH, "Lemma e : exists n : nat, n = n.", "Proof.", focus=True)
    root2 = prover.enter(env2, timeout=30)
    ex = ok(prover.run(root2, "eexists", timeout=5))
    refl = ok(prover.run(ex, "reflexivity", timeout=5))
    assert refl.goals == () and refl.unfocused == 1 and not refl.finished  # ?n is still shelved
    assert prover.run(root2, "exists 0; reflexivity", timeout=5).outcome == "finished"


def test_unfocused_counts_background_goals(prover: CoqProver, tmp_path: Path) -> None:
    root = prover.enter(env_of(tmp_path, ARITH, LEMMA, "Proof.", "intros."), timeout=30)
    both = ok(prover.run(root, "split", timeout=5))
    assert len(both.goals) == 2 and both.unfocused == 0
    braced = ok(prover.run(both, "{", timeout=5))  # structural sentences are not wrapped in Timeout
    assert len(braced.goals) == 1 and braced.unfocused == 1
    first = ok(prover.run(braced, "lia", timeout=5))
    assert first.goals == () and first.unfocused == 1 and not first.finished


def test_prefix_reuse_adds_only_new_sentences(prover: CoqProver, tmp_path: Path) -> None:
    first = env_of(tmp_path, ARITH, "Lemma a : forall n, n * 1 = n.", "Proof.", name="Reuse.v")
    prover.enter(first, timeout=30)
    starts, adds = prover.stats.starts, prover.stats.adds
    second = env_of(
        tmp_path,
        *first.sentences,
        "intros.",
        "lia.",
        "Qed.",
        "Lemma b : forall n, 0 + n = n.",
        name="Reuse.v",
    )
    root = prover.enter(second, timeout=30)
    assert prover.stats.starts == starts  # same process
    assert prover.stats.adds == adds + 4  # the four new sentences only, no reload
    assert prover.run(root, "reflexivity", timeout=5).outcome == "finished"
    # back to the shorter environment: Edit_at only, no Add at all
    adds = prover.stats.adds
    root1 = prover.enter(first, timeout=30)
    assert prover.stats.adds == adds
    assert root1.goals[0].conclusion == "forall n : nat, n * 1 = n"
    assert prover.run(root1, "intros; lia", timeout=5).outcome == "finished"


def test_preload_warms_up_what_enter_reuses(fresh: CoqProver, tmp_path: Path) -> None:
    """A warm-up loads a file's leading sentences with no proof open; entering a goal of that file then adds
    only what follows. A failing sentence ends the warm-up quietly, and enter still works."""
    assert fresh.preload(env_of(tmp_path, ARITH, "Definition two := 2.", name="Warm.v"), timeout=30) == 2
    starts, adds = fresh.stats.starts, fresh.stats.adds
    root = fresh.enter(env_of(tmp_path, ARITH, "Definition two := 2.", LEMMA, name="Warm.v"), timeout=30)
    assert (fresh.stats.starts, fresh.stats.adds) == (starts, adds + 1)
    assert fresh.run(root, "split; [lia | reflexivity]", timeout=5).outcome == "finished"
    assert fresh.preload(env_of(tmp_path, ARITH, "Check nope.", "Definition x := 1.", name="Warm.v"), 30) == 1
    root = fresh.enter(env_of(tmp_path, ARITH, LEMMA, name="Warm.v"), timeout=30)
    assert fresh.stats.starts == starts and fresh.run(root, "split; [lia | reflexivity]", 5).outcome == "finished"


def test_unicode_round_trips(prover: CoqProver, tmp_path: Path) -> None:
    env = env_of(
        tmp_path,
        "Require Import String.",
        "Open Scope string_scope.",
        "(* ∀ comment *) Notation \"'∀∀' x , P\" := (forall x : nat, P) (at level 200, x ident).",
        'Lemma u : ∀∀ x, "héllo ∀ <&>" = "héllo ∀ <&>" /\\ x = x.',
    )
    root = prover.enter(env, timeout=30)
    assert '"héllo ∀ <&>" = "héllo ∀ <&>"' in root.goals[0].conclusion
    s = ok(prover.run(root, 'intros x; assert (H : "é∀" = "é∀") by reflexivity', timeout=5))
    assert 'H : "é∀" = "é∀"' in s.goals[0].hypotheses
    bad = prover.run(s, 'exact "日本"', timeout=5)
    assert bad.outcome == "failed"
    assert prover.run(s, "split; reflexivity", timeout=5).outcome == "finished"


def test_given_up_goals_are_not_a_proof(prover: CoqProver, tmp_path: Path) -> None:
    root = prover.enter(env_of(tmp_path, ARITH, LEMMA), timeout=30)
    given_up = ok(prover.run(root, "admit", timeout=5))
    assert given_up.goals == () and given_up.unfocused == 1 and not given_up.finished
    # a proof with an earlier admit: that goal does not count, the new one does
    env = env_of(tmp_path, ARITH, LEMMA, "Proof.", "intros.", "split.", "admit.")
    root2 = prover.enter(env, timeout=30)
    assert root2.unfocused == 0 and len(root2.goals) == 1
    assert prover.run(root2, "reflexivity", timeout=5).outcome == "finished"


def test_hand_built_fixpoints_are_checked_for_guardedness_at_every_step(prover: CoqProver, tmp_path: Path) -> None:
    """`fix f 1` makes the goal its own hypothesis: a step that uses it unguarded fails here (Coq's `Guarded.`),
    not at Qed after the search has offered the proof (the bank's evenb_ev: 46 such scripts refused by coqc)."""
    root = prover.enter(env_of(tmp_path, "Lemma selfish : forall n : nat, n + 0 = n."), timeout=30)
    fixed = ok(prover.run(root, "fix f 1", timeout=5))  # undecided until the binders are there: not refused
    for bad in ("assumption", "intros n; apply f"):
        r = prover.run(fixed, bad, timeout=5)
        assert r.outcome == "failed" and r.message.startswith("not guarded"), (bad, r)
        assert "ill-formed" in r.message
    assert prover.run(root, "fix f 1; assumption", timeout=5).outcome == "failed"
    # the document is where it was: a guarded recursive proof goes through, step by step
    s = ok(prover.run(fixed, "intros [|n]", timeout=5))
    s = ok(prover.run(s, "reflexivity", timeout=5))
    s = ok(prover.run(s, "simpl", timeout=5))
    done = prover.run(s, "rewrite (f n); reflexivity", timeout=5)
    assert done.outcome == "finished", done
    assert prover.stats.queries >= 5


def test_messages_of_ok_results(prover: CoqProver, tmp_path: Path) -> None:
    root = prover.enter(env_of(tmp_path, ARITH, LEMMA), timeout=30)
    r = prover.run(root, 'idtac "hello"; intros', timeout=5)
    assert r.outcome == "ok" and r.message == "hello"


def test_multi_sentence_tactic_is_refused(prover: CoqProver, tmp_path: Path) -> None:
    root = prover.enter(env_of(tmp_path, ARITH, LEMMA), timeout=30)
    assert prover.run(root, "intros. lia", timeout=5).outcome == "failed"
    assert prover.run(root, "lia.", timeout=5).outcome == "failed"
    assert prover.run(root, 'intros; idtac "a. b"; (* c. d *) lia', timeout=5).outcome == "finished"
    assert prover.run(root, "split; [ intros; lia | .. ]", timeout=5).outcome == "ok"


def test_load_path_args_and_topfile(prover: CoqProver, tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "A.v").write_text("Definition three := 3.\n")
    subprocess.run(["coqc", "-R", str(proj), "Proj", str(proj / "A.v")], check=True, cwd=proj, capture_output=True)
    env = Environment(
        file=proj / "B.v",
        backend="coq",
        sentences=("From Proj Require Import A.", "Definition four := S three.", "Lemma f : Proj.B.four = 4."),
        args=("-R", str(proj), "Proj"),
        workdir=proj,
    )
    root = prover.enter(env, timeout=30)
    assert prover.run(root, "reflexivity", timeout=5).outcome == "finished"


def test_kill_during_call_raises_then_recovers(fresh: CoqProver, tmp_path: Path) -> None:
    root = fresh.enter(env_of(tmp_path, ARITH, LEMMA), timeout=30)
    a = ok(fresh.run(root, "intros", timeout=5))
    b = ok(fresh.run(a, "split", timeout=5))
    pid = fresh.pids()[0]
    threading.Timer(0.3, os.kill, (pid, signal.SIGKILL)).start()
    with pytest.raises(ProverCrashed):
        fresh.run(b, LOOP, timeout=10)
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    # the next call restarts, reloads the environment and replays the path of `b`
    r = fresh.run(b, "lia", timeout=5)
    assert r.outcome == "ok" and r.state is not None and r.state.path == ("intros", "split", "lia")
    assert fresh.stats.restarts == 1 and fresh.stats.crashes == 1
    assert fresh.pids() and fresh.pids()[0] != pid


def test_kill_while_idle_restarts_transparently(fresh: CoqProver, tmp_path: Path) -> None:
    root = fresh.enter(env_of(tmp_path, ARITH, LEMMA), timeout=30)
    a = ok(fresh.run(root, "intros", timeout=5))
    pid = fresh.pids()[0]
    scratch = Path(psutil.Process(pid).environ()["TMPDIR"])
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.1)
    assert fresh.run(a, "lia", timeout=5).outcome == "finished"
    assert fresh.stats.crashes == 1
    assert not scratch.exists()  # the dead process's temporary folder went with it


def test_restart_cap(tmp_path: Path) -> None:
    with CoqProver(max_restarts=1) as p:
        root = p.enter(env_of(tmp_path, LEMMA), timeout=30)
        for _ in range(2):
            os.kill(p.pids()[0], signal.SIGKILL)
            time.sleep(0.05)
            try:
                p.run(root, "intros", timeout=5)
            except ProverCrashed as e:
                assert "max_restarts=1" in str(e)
                break
        else:
            pytest.fail("the restart cap was not enforced")
        # a new goal resets the cap
        root = p.enter(env_of(tmp_path, LEMMA, "Proof."), timeout=30)
        assert p.run(root, "intros; rewrite <- plus_n_O; split; reflexivity", timeout=5).outcome == "finished"


def test_memory_bomb_under_small_rlimit(tmp_path: Path) -> None:
    with CoqProver(memory_mb=600) as p:
        root = p.enter(env_of(tmp_path, "Ltac loop := loop.", "Lemma t : True."), timeout=30)
        t0 = time.monotonic()
        try:
            r = p.run(root, "loop", timeout=20)
            assert r.outcome in ("failed", "timeout")
        except ProverCrashed:
            pass
        assert time.monotonic() - t0 < 15
        assert p.run(root, "exact I", timeout=5).outcome == "finished"


def test_recycling_after_n_calls(tmp_path: Path) -> None:
    with CoqProver(recycle_after=3) as p:
        root = p.enter(env_of(tmp_path, ARITH, LEMMA), timeout=30)
        s = ok(p.run(root, "intros", timeout=5))
        s = ok(p.run(s, "split", timeout=5))
        s = ok(p.run(s, "lia", timeout=5))  # third call in this process: the process is now due
        r = p.run(s, "reflexivity", timeout=5)  # restarts, reloads, replays three tactics
        assert r.outcome == "finished"
        assert p.stats.restarts == 1 and p.stats.crashes == 0 and p.stats.replayed == 3


def test_close_leaves_no_process(tmp_path: Path) -> None:
    before = coq_processes()
    p = CoqProver()
    root = p.enter(env_of(tmp_path, LEMMA), timeout=30)
    pid = p.pids()[0]
    assert pid in coq_processes()
    p.run(root, "intros", timeout=5)
    p.close()
    p.close()  # idempotent
    assert not psutil.pid_exists(pid)
    assert coq_processes() <= before
    assert p.pids() == []
    with pytest.raises(ProverCrashed):
        p.enter(env_of(tmp_path, LEMMA), timeout=30)


def test_missing_binary_is_unavailable(tmp_path: Path) -> None:
    with CoqProver(binary="/nonexistent/coqidetop.opt") as p:
        with pytest.raises(ProverUnavailable):
            p.enter(env_of(tmp_path, LEMMA), timeout=5)


def test_bad_module_name_is_reported(tmp_path: Path) -> None:
    with CoqProver(max_restarts=0) as p:
        with pytest.raises(ProverCrashed, match="Invalid character"):
            p.enter(env_of(tmp_path, LEMMA, name="my-file.v"), timeout=10)


def _detached_sleeper(env: dict[str, str]) -> int:
    """Start `sleep` the way CoqHammer starts its ATPs: via a parent that exits, in a session of its own."""
    out = subprocess.run(["sh", "-c", "setsid sleep 300 >/dev/null 2>&1 & echo $!"], env=env, capture_output=True,
                         text=True, timeout=10)
    return int(out.stdout.strip())


def test_close_kills_helpers_that_left_the_process_tree(tmp_path: Path) -> None:
    from sidecar.provers.coq import PROVER_VAR

    p = CoqProver()
    p.enter(env_of(tmp_path, LEMMA), timeout=30)
    tag = psutil.Process(p.pids()[0]).environ()[PROVER_VAR]
    stray = _detached_sleeper({**os.environ, PROVER_VAR: tag})
    other = _detached_sleeper({**os.environ, PROVER_VAR: tag + "-someone-else"})
    try:
        assert psutil.Process(stray).ppid() != p.pids()[0]  # not a descendant: only the tag finds it
        p.close()
        psutil.wait_procs([psutil.Process(stray)], timeout=5) if psutil.pid_exists(stray) else None
        assert not psutil.pid_exists(stray) or psutil.Process(stray).status() == psutil.STATUS_ZOMBIE
        assert psutil.pid_exists(other)  # another prover's helper is not touched
    finally:
        for pid in (stray, other):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.mark.skipif(not Path("/usr/libexec/coq-hammer").is_dir(), reason="CoqHammer is not installed")
def test_an_interrupted_hammer_leaves_no_atp_running(fresh: CoqProver, tmp_path: Path) -> None:
    from sidecar.provers.coq import PROVER_VAR

    env = env_of(tmp_path, "From Hammer Require Import Hammer.",
                 "Lemma t : forall (A B : Type) (R : A -> B -> Prop), (forall x, exists y, R x y) -> "
                 "exists f : A -> B, forall x, R x (f x).")
    root = fresh.enter(env, timeout=60)
    tag = psutil.Process(fresh.pids()[0]).environ()[PROVER_VAR]
    scratch = Path(psutil.Process(fresh.pids()[0]).environ()["TMPDIR"])  # the prover's own temporary folder
    assert scratch.is_dir() and scratch != Path("/tmp")
    r = fresh.run(root, "hammer", timeout=4)
    assert r.outcome in ("timeout", "failed")
    left = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get(PROVER_VAR) == tag and proc.pid not in fresh.pids() and \
                    proc.status() != psutil.STATUS_ZOMBIE:
                left.append(proc.cmdline())
        except psutil.Error:
            continue
    assert not left, left
    assert ok(fresh.run(root, "intros", timeout=5))  # the session goes on
    fresh.close()  # what the interrupted hammer left in its temporary folder goes with the prover
    assert not scratch.exists()
