"""The real Lean REPL's recorded transcripts replayed through lean-interact, as the Lean backend runs the REPL.

No Lean toolchain can be installed here, so `LeanServer` starts the stand-in REPL (tests/lean_standin/repl.py) exactly
as it starts the real one: `lake env <checkout>/.lake/build/bin/repl` in a Lean project, through the stand-in `lake`,
with the configuration sidecar/provers/lean.py builds. Every transcript with recorded answers is sent through
lean-interact's own request classes and its answers compared with the recording after lean-interact's response models.
The stand-in is also checked alone over pipes, byte for byte (what the REPL's own test.sh checks), which covers what
lean-interact cannot send: requests split over several lines. See tests/lean_standin/NOTES.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import psutil
import pytest
from lean_interact import (
    AutoLeanServer,
    Command,
    FileCommand,
    LeanREPLConfig,
    LeanServer,
    LocalProject,
    PickleEnvironment,
    PickleProofState,
    ProofStep,
    UnpickleEnvironment,
    UnpickleProofState,
)
from lean_interact.interface import BaseREPLQuery, BaseREPLResponse, CommandResponse, LeanError, ProofStepResponse

from lean_standin import repl as standin

pytestmark = [pytest.mark.timeout(30)]

STANDIN = Path(__file__).resolve().parent / "lean_standin"
LAKE = STANDIN / "lake"
REPL = STANDIN / "repl.py"
TRANSCRIPTS = standin.default_transcripts()
RECORDED = sorted(p.name[: -len(".expected.out")] for p in TRANSCRIPTS.glob("*.expected.out"))
UNANSWERED = sorted(p.stem for p in TRANSCRIPTS.glob("*.in") if not (TRANSCRIPTS / f"{p.stem}.expected.out").exists())
HANDWRITTEN = standin.HANDWRITTEN_TRANSCRIPTS  # NOT recorded: written in the recorded shape (its README)
HAND_WRITTEN = sorted(p.name[: -len(".expected.out")] for p in HANDWRITTEN.glob("*.expected.out"))
LEAN_TOOLCHAIN = f"leanprover/lean4:{standin.RECORDED_LEAN_VERSION}"
REQUEST_TIMEOUT = 10.0
OFF_RECORD = {"message": standin.OFF_RECORD_MESSAGE}

JsonObject = dict[str, Any]

# lean-interact's request class for each REPL input, tried in the REPL's own order (REPL/Main.lean `parse`)
REQUEST_CLASSES: list[tuple[frozenset[str], type[BaseREPLQuery]]] = [
    (frozenset({"proofState", "tactic"}), ProofStep),
    (frozenset({"env", "pickleTo"}), PickleEnvironment),
    (frozenset({"unpickleEnvFrom"}), UnpickleEnvironment),
    (frozenset({"proofState", "pickleTo"}), PickleProofState),
    (frozenset({"unpickleProofStateFrom"}), UnpickleProofState),
    (frozenset({"cmd"}), Command),
    (frozenset({"path"}), FileCommand),
]
COMMAND_LIKE = (Command, FileCommand, PickleEnvironment, UnpickleEnvironment)


@dataclass(frozen=True)
class LeanSetup:
    """A Lean project and a built REPL checkout, both stand-ins, as the backend finds them."""

    project: Path
    repl: Path

    @property
    def binary(self) -> Path:
        return self.repl / ".lake" / "build" / "bin" / "repl"


@pytest.fixture(scope="module")
def lean_setup(tmp_path_factory: pytest.TempPathFactory) -> LeanSetup:
    root = tmp_path_factory.mktemp("lean")
    return LeanSetup(standin.make_project(root / "project"), standin.make_checkout(root / "repl"))


def backend_config(setup: LeanSetup) -> LeanREPLConfig:
    """The configuration sidecar/provers/lean.py builds for a project when given a built REPL checkout."""
    return LeanREPLConfig(project=LocalProject(directory=str(setup.project), auto_build=False),
                          local_repl_path=str(setup.repl), build_repl=False, lake_path=str(LAKE),
                          memory_hard_limit_mb=8192, verbose=False)


@pytest.fixture
def server(lean_setup: LeanSetup) -> Iterator[LeanServer]:
    """A fresh REPL session (each transcript was recorded in its own REPL process)."""
    with LeanServer(backend_config(lean_setup)) as s:
        yield s


@pytest.fixture
def standin_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A file the stand-in `lake` and REPL append their calls to (inherited through lean-interact's Popen)."""
    log = tmp_path / "standin.jsonl"
    monkeypatch.setenv(standin.LOG_VAR, str(log))
    return log


def read_log(log: Path) -> list[JsonObject]:
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []


def transcript(name: str, folder: Path = TRANSCRIPTS) -> tuple[list[JsonObject], list[JsonObject]]:
    """The requests of `name` as the REPL reads them, and its recorded answers."""
    requests = [json.loads(q) for q in standin.split_queries((folder / f"{name}.in").read_text(encoding="utf-8"))]
    answers = [json.loads(a) for a in standin.split_answers(
        (folder / f"{name}.expected.out").read_text(encoding="utf-8"))]
    assert len(requests) == len(answers)
    return requests, answers


def to_query(raw: JsonObject) -> BaseREPLQuery:
    """`raw` as lean-interact's request object, every field a declared one and sent under its own name."""
    cls = next(c for keys, c in REQUEST_CLASSES if keys <= raw.keys())
    query = cls.model_validate(raw)
    assert not query.model_extra, f"{cls.__name__} does not declare {sorted(query.model_extra or {})}"
    assert query.model_dump(exclude_none=True, by_alias=True) == raw
    return query


def plain(response: BaseREPLResponse | LeanError) -> JsonObject:
    """What survives lean-interact's response model, as plain JSON under the REPL's field names."""
    return response.model_dump(mode="json", by_alias=True, exclude_unset=True)


def pos(p: Any) -> JsonObject | None:
    return None if p is None else {"line": p.line, "column": p.column}


def check_backend_fields(response: BaseREPLResponse | LeanError, recorded: JsonObject) -> None:
    """The fields the Lean backend reads, through lean-interact's own (snake_case) attributes."""
    if isinstance(response, LeanError):
        assert response.message == recorded["message"]
        return
    assert len(response.sorries) == len(recorded.get("sorries", []))
    for s, rs in zip(response.sorries, recorded.get("sorries", [])):
        assert (s.goal, s.proof_state) == (rs["goal"], rs.get("proofState"))
        assert (pos(s.start_pos), pos(s.end_pos)) == (rs.get("pos"), rs.get("endPos"))
    assert len(response.messages) == len(recorded.get("messages", []))
    for m, rm in zip(response.messages, recorded.get("messages", [])):
        assert (m.severity, m.data, pos(m.start_pos), pos(m.end_pos)) == (
            rm["severity"], rm["data"], rm["pos"], rm.get("endPos"))
    if isinstance(response, CommandResponse):
        assert response.env == recorded["env"]
    else:
        assert isinstance(response, ProofStepResponse)
        assert (response.proof_state, response.proof_status) == (recorded["proofState"], recorded["proofStatus"])
        assert response.goals == recorded.get("goals", [])


def replay(server: LeanServer, name: str, folder: Path = TRANSCRIPTS) -> None:
    """Send every request of transcript `name` through `server.run` and compare each answer with the recording."""
    for i, (raw, recorded) in enumerate(zip(*transcript(name, folder))):
        query = to_query(raw)
        response = server.run(query, timeout=REQUEST_TIMEOUT)  # type: ignore[call-overload]
        where = f"{name} #{i}: {raw}"
        if set(recorded) == {"message"}:
            assert isinstance(response, LeanError), where
        else:
            expected = CommandResponse if isinstance(query, COMMAND_LIKE) else ProofStepResponse
            assert isinstance(response, expected), where
        assert plain(response) == recorded, where
        check_backend_fields(response, recorded)


def run_standin(stdin: bytes, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, str(REPL)], input=stdin, capture_output=True, timeout=20,
                          env={**os.environ, **(env or {})})


def answers_of(stdout: bytes) -> list[JsonObject]:
    return [json.loads(a) for a in standin.split_answers(stdout.decode("utf-8"))]


# --------------------------------------------------------------------------------------------------
# how lean-interact starts and talks to the REPL


def settled_cmdline(proc: psutil.Process, seconds: float = 5.0) -> list[str]:
    """A just-started process's command line: /proc shows none for a moment while the child execs (a clean-clone run
    once read [] here)."""
    deadline = time.monotonic() + seconds
    while True:
        line = proc.cmdline()
        if line or time.monotonic() > deadline:
            return line
        time.sleep(0.02)


def test_there_are_recorded_transcripts() -> None:
    assert len(RECORDED) >= 50, TRANSCRIPTS


def test_lean_interact_runs_lake_env_only_and_frames_requests(lean_setup: LeanSetup, standin_log: Path) -> None:
    """The backend's configuration runs nothing until the server starts; then `lake env <repl>` in the project,
    which runs the REPL with Lake's variables. Requests are one JSON line and a blank line; commands carry
    lean-interact's two additions."""
    config = backend_config(lean_setup)
    assert read_log(standin_log) == [] and config.lean_version == standin.RECORDED_LEAN_VERSION
    with LeanServer(config) as server:
        lake_proc = psutil.Process(server._proc.pid)  # type: ignore[union-attr]
        assert settled_cmdline(lake_proc)[-2:] == ["env", str(lean_setup.binary)]
        assert Path(lake_proc.cwd()) == lean_setup.project.resolve()
        r = server.run(Command(cmd="def f : Nat := by sorry"), timeout=REQUEST_TIMEOUT)
        assert isinstance(r, CommandResponse) and r.sorries[0].proof_state == 0
        p = server.run(ProofStep(proof_state=0, tactic="apply Int.natAbs"), timeout=REQUEST_TIMEOUT)  # proof_step.in
        assert isinstance(p, ProofStepResponse) and plain(p) == transcript("proof_step")[1][1]
        (repl_proc,) = lake_proc.children()  # Lake spawns the program and waits for it
        assert repl_proc.cmdline()[1:] == [str(REPL)]
        pids = [lake_proc.pid, repl_proc.pid]
    assert not [pid for pid in pids if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]

    lake_call, start, command, step = read_log(standin_log)
    project = str(lean_setup.project.resolve())
    assert (lake_call["program"], lake_call["argv"]) == ("lake", ["env", str(lean_setup.binary)])
    assert lake_call["cwd"] == project
    assert (start["event"], start["cwd"], start["argv"][1:]) == ("start", project, [])
    assert start["env"]["LAKE"] == str(LAKE) and start["env"]["ELAN_TOOLCHAIN"] == LEAN_TOOLCHAIN
    assert str(Path(project) / ".lake" / "build" / "lib" / "lean") in start["env"]["LEAN_PATH"]
    sent = json.loads(command["lines"][0])
    assert command["lines"] == [json.dumps(sent, ensure_ascii=False) + "\n", "\n"]
    assert sent == {"cmd": "def f : Nat := by sorry", "incrementality": True, "setOptions": [[["Elab", "async"], True]]}
    assert step["lines"] == ['{"proofState": 0, "tactic": "apply Int.natAbs"}\n', "\n"]


def test_lean_interact_local_build_calls_only_what_the_stand_in_lake_does(tmp_path: Path, standin_log: Path) -> None:
    """With building left on (not what the backend does), lean-interact also runs `lake --version` (in its own
    folder), `lake exe cache get` (its failure accepted) and `lake build` in the project, then `lake --version` and
    `lake build` in the REPL checkout."""
    project, repl = standin.make_project(tmp_path / "project"), standin.make_checkout(tmp_path / "repl")
    config = LeanREPLConfig(project=LocalProject(directory=str(project), lake_path=str(LAKE), auto_build=True),
                            local_repl_path=str(repl), build_repl=True, lake_path=str(LAKE), verbose=False)
    with LeanServer(config) as server:
        assert isinstance(server.run(Command(cmd="def f : Nat := by sorry"), timeout=REQUEST_TIMEOUT),
                          CommandResponse)
    calls = [(c["argv"], Path(c["cwd"])) for c in read_log(standin_log) if c["program"] == "lake"]
    here, project, repl = Path.cwd().resolve(), project.resolve(), repl.resolve()
    assert calls == [(["--version"], here), (["exe", "cache", "get"], project), (["build"], project),
                     (["--version"], here), (["build"], repl), (["env", str(repl / ".lake/build/bin/repl")], project)]


# --------------------------------------------------------------------------------------------------
# every recorded transcript through lean-interact


@pytest.mark.parametrize("name", RECORDED)
def test_transcript_through_lean_interact(server: LeanServer, name: str) -> None:
    replay(server, name)


@pytest.mark.parametrize("name", HAND_WRITTEN)
def test_handwritten_transcript_through_lean_interact(server: LeanServer, name: str) -> None:
    """The hand-written transcripts (the sort probe's answers) are in the recorded shape: each request is one of
    lean-interact's request classes with declared fields only, and each answer validates against its response
    models and dumps back to exactly what was written, as every recorded answer does."""
    replay(server, name, HANDWRITTEN)


def test_handwritten_transcripts_extend_recorded_sessions_verbatim() -> None:
    """A hand-written transcript named after a recorded one repeats that session's first request and answer byte
    for byte before adding the probe; the stand-in answers from the recorded folder first."""
    recorded = {t.name: t for t in standin.load_transcripts(TRANSCRIPTS)}
    extended = 0
    for t in standin.load_transcripts(HANDWRITTEN):
        base = recorded.get(t.name.removeprefix("sort_"))
        assert all(r.get("tactic") == "apply _root_.Classical.byContradiction" for r in t.requests[1:]), t.name
        if base is not None:
            assert (t.requests[0], t.answers[0]) == (base.requests[0], base.answers[0]), t.name
            extended += 1
    assert extended >= 5 and standin.transcript_folders() == [TRANSCRIPTS, HANDWRITTEN]


def test_auto_lean_server_replays_a_transcript(lean_setup: LeanSetup) -> None:
    """`AutoLeanServer` talks the same way (its memory watch is turned off: a busy machine would make it restart)."""
    server = AutoLeanServer(backend_config(lean_setup), max_total_memory=1.0, max_process_memory=None)
    try:
        replay(server, "pickle_proof_state_env")
    finally:
        server.kill()


def test_unknown_request_gets_the_repl_error_shape(server: LeanServer) -> None:
    """A request no recording continues is answered `{"message": ...}` (a `LeanError`), and so is every later one."""
    r = server.run(Command(cmd="theorem unrecorded : 2 + 2 = 4 := by decide"), timeout=REQUEST_TIMEOUT)
    assert isinstance(r, LeanError) and plain(r) == OFF_RECORD
    assert server.is_alive()
    first_of_many = Command(cmd="def f : Nat := by sorry")  # recorded, but not after the request above
    assert plain(server.run(first_of_many, timeout=REQUEST_TIMEOUT)) == OFF_RECORD
    step = server.run(ProofStep(proof_state=0, tactic="exact 42"), timeout=REQUEST_TIMEOUT)
    assert isinstance(step, LeanError) and server.is_alive()


def test_transcripts_folder_is_configurable(lean_setup: LeanSetup, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """`AUTOPROVE_LEAN_TRANSCRIPTS` reaches the REPL through lean-interact and `lake env`."""
    (tmp_path / "mine.in").write_text('{"cmd": "example : True := trivial"}\n', encoding="utf-8")
    (tmp_path / "mine.expected.out").write_text('{"env": 0}\n\n', encoding="utf-8")
    monkeypatch.setenv(standin.TRANSCRIPTS_VAR, str(tmp_path))
    with LeanServer(backend_config(lean_setup)) as server:
        replay(server, "mine", tmp_path)
        assert isinstance(server.run(Command(cmd="def f : Nat := by sorry"), timeout=REQUEST_TIMEOUT), LeanError)


# --------------------------------------------------------------------------------------------------
# the stand-in alone, over pipes


@pytest.mark.parametrize("folder, name", [(TRANSCRIPTS, n) for n in RECORDED] +
                         [(HANDWRITTEN, n) for n in HAND_WRITTEN])
def test_standin_prints_the_recording_byte_for_byte(folder: Path, name: str) -> None:
    """`repl < NAME.in` prints `NAME.expected.out` exactly (the REPL's test.sh check), raw line breaks included; the
    hand-written transcripts loaded beside the recorded ones change no recorded answer."""
    run = run_standin((folder / f"{name}.in").read_bytes())
    assert (run.returncode, run.stderr) == (0, b"")
    assert run.stdout == (folder / f"{name}.expected.out").read_bytes()


def test_standin_answers_one_request_at_a_time_over_pipes() -> None:
    """Driven interactively: each answer is printed (and flushed) with its blank line before the next request;
    comments get no answer; lean-interact's additions are ignored, other options are not."""
    requests, answers = transcript("proof_branching")
    proc = subprocess.Popen([sys.executable, str(REPL)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    stdin, stdout = proc.stdin, proc.stdout
    assert stdin is not None and stdout is not None

    def send(text: str) -> None:
        stdin.write(text.encode("utf-8") + b"\n\n")
        stdin.flush()

    def ask(text: str) -> JsonObject:
        send(text)
        lines = []
        while (line := stdout.readline()) not in (b"\n", b""):
            lines.append(line)
        return json.loads(b"".join(lines))

    try:
        first, *rest = requests
        send("-- a comment is a query of its own, answered by nothing")
        send("# so is this one,\n" + json.dumps(first))  # (a query's lines are joined: this request is in the comment)
        augmented = {**first, "incrementality": True, "setOptions": [[["Elab", "async"], True]]}
        assert ask(json.dumps(augmented)) == answers[0]
        for request, answer in zip(rest, answers[1:]):
            assert ask(json.dumps(request)) == answer
        assert ask(json.dumps({**first, "setOptions": [[["pp", "all"], True]]})) == OFF_RECORD
    finally:
        stdin.close()
        assert proc.wait(timeout=10) == 0


@pytest.mark.parametrize("name", UNANSWERED)
def test_standin_survives_transcripts_without_answers(name: str) -> None:
    """Transcripts with no recorded answers (lean-interact has nothing to compare): the stand-in answers every
    request with a JSON object, recorded answers while some transcript agrees, the error shape after."""
    requests = standin.split_queries((TRANSCRIPTS / f"{name}.in").read_text(encoding="utf-8"))
    run = run_standin((TRANSCRIPTS / f"{name}.in").read_bytes())
    got = answers_of(run.stdout)
    assert run.returncode == 0 and len(got) == len(requests)
    off = next((i for i, a in enumerate(got) if a == OFF_RECORD), len(got))
    assert all(a == OFF_RECORD for a in got[off:])
    transcripts = standin.load_transcripts(TRANSCRIPTS)
    for i, a in enumerate(got[:off]):
        assert any(i < len(t.answers) and json.loads(t.answers[i]) == a for t in transcripts), (i, a)


def test_standin_answers_malformed_input_instead_of_crashing() -> None:
    """Where the real REPL throws (and exits), the stand-in answers the REPL's error shape; such input is no request
    of the session, so a recorded transcript still starts afterwards."""
    requests, answers = transcript("tactic_sorry")
    stdin = "not json\n\n[1, 2]\n\n{\"foo\": 1}\n\n# a comment\n\n" + json.dumps(requests[0]) + "\n\n"
    run = run_standin(stdin.encode("utf-8"))
    assert run.returncode == 0
    bad_json, not_object, no_command, recorded = answers_of(run.stdout)
    assert bad_json["message"].startswith("Could not parse JSON:\n")
    assert not_object["message"].startswith("Could not parse as a valid JSON command:\n")
    assert no_command["message"].startswith("Could not parse as a valid JSON command:\n")
    assert recorded == answers[0]


def test_transcript_folders_are_configurable_as_a_list(tmp_path: Path) -> None:
    """`AUTOPROVE_LEAN_TRANSCRIPTS` may name several folders (`os.pathsep`); they are read in that order."""
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "mine.in").write_text('{"cmd": "example : True := trivial"}\n', encoding="utf-8")
    (tmp_path / "a" / "mine.expected.out").write_text('{"env": 0}\n\n', encoding="utf-8")
    folders = os.pathsep.join([str(tmp_path / "a"), str(TRANSCRIPTS)])
    stdin = b'{"cmd": "example : True := trivial"}\n\n'
    assert answers_of(run_standin(stdin, env={standin.TRANSCRIPTS_VAR: folders}).stdout) == [{"env": 0}]
    step = (b'{"cmd": "def f : Nat := by sorry"}\n\n'
            b'{"proofState": 0, "tactic": "apply _root_.Classical.byContradiction"}\n\n')
    only_recorded = answers_of(run_standin(step, env={standin.TRANSCRIPTS_VAR: str(TRANSCRIPTS)}).stdout)
    assert only_recorded[1] == OFF_RECORD
    default = answers_of(run_standin(step).stdout)
    assert default[0] == only_recorded[0] and "could not unify" in default[1]["message"]


def test_standin_without_transcripts_fails_loudly(tmp_path: Path) -> None:
    run = run_standin(b'{"cmd": "def f : Nat := 1"}\n\n', env={standin.TRANSCRIPTS_VAR: str(tmp_path)})
    assert run.returncode == 1 and b"no transcripts" in run.stderr and run.stdout == b""


def test_session_follows_every_transcript_with_the_same_history() -> None:
    """Several transcripts start with the same request; the second request decides which one answers."""
    transcripts = standin.load_transcripts(TRANSCRIPTS)
    first = {"cmd": "def f : Nat := by sorry"}
    sharing = [t.name for t in transcripts if t.requests[0] == first]
    assert len(sharing) >= 3, sharing
    for t in transcripts:
        if t.name not in sharing:
            continue
        replayer = standin.Replayer(transcripts)
        assert replayer.reply(first) == t.answers[0] and replayer.followed == sharing
        for request, answer in zip(t.requests[1:], t.answers[1:]):
            assert replayer.reply(request) == answer
        assert t.name in replayer.followed


def test_normalise_removes_only_lean_interact_additions() -> None:
    base = {"cmd": "#eval 1", "env": 0}
    assert standin.normalise({**base, "incrementality": True, "setOptions": [[["Elab", "async"], True]]}) == base
    mixed = {**base, "setOptions": [[["pp", "all"], True], [["Elab", "async"], True]]}
    assert standin.normalise(mixed) == {**base, "setOptions": [[["pp", "all"], True]]}
    assert standin.normalise({**base, "incrementality": False}) == {**base, "incrementality": False}


def test_standin_lake_commands(tmp_path: Path) -> None:
    """`lake --version`, `build`, `update`, `exe` and `env` as lean-interact may call them."""
    project = standin.make_project(tmp_path / "project")

    def lake(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(LAKE), *args], cwd=project, capture_output=True, text=True, timeout=20)

    assert lake("--version").stdout.strip().endswith(f"(Lean version {standin.RECORDED_LEAN_VERSION[1:]})")
    assert lake("build").returncode == 0 and lake("update").returncode == 0
    assert lake("exe", "cache", "get").returncode == 1
    printed = dict(line.split("=", 1) for line in lake("env").stdout.splitlines())
    assert printed["LAKE"] == str(LAKE) and printed["ELAN_TOOLCHAIN"] == LEAN_TOOLCHAIN
    child = lake("env", sys.executable, "-c", "import os, sys; print(os.environ['LEAN_SYSROOT']); sys.exit(7)")
    assert child.returncode == 7 and child.stdout.strip() == str(STANDIN)
    assert lake("env", str(tmp_path / "missing")).returncode == 1
