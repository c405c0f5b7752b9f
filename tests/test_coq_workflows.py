"""The GitHub Actions workflows shipped for users' Coq repositories, run here for real.

`.github/workflows/auto-prove-coq.yml` is the quick sweep (every push, pull request and manual run; read-only, no
secret); `auto-prove-nightly.yml` the long one (schedule and manual runs), which commits its proofs on a branch,
pushes it and opens a pull request.

No GitHub Actions runner is available here, so `run_job` below plays one for these two files: every `run:` step in
order, with bash (`bash --noprofile --norc -eo pipefail`, as GitHub runs `shell: bash`) or Python, with the
workflow's, job's and step's `env:`, `working-directory` and `if:` after the `${{ ... }}` expressions were evaluated
as GitHub would for a push, schedule or manual (workflow_dispatch) run, and with GITHUB_WORKSPACE,
GITHUB_STEP_SUMMARY, GITHUB_OUTPUT and RUNNER_TEMP in temporary folders. The evaluator (`Expr`) knows only what
these files use - `||`, `&&`, `==`, `!=`, `!`, literals, the contexts github, inputs, env, secrets, steps, runner,
and hashFiles/always/success/failure/cancelled - and fails the test on anything else, as it does on a workflow or
step key it does not play. `uses:` steps are not run: actions/checkout is played by copying a Coq project into a
fresh git repository (or by cloning the test's bare `origin`), actions/cache by restoring what the test hands it
(nothing, or the folder an earlier run saved), actions/upload-artifact by noting the paths, actions/setup-python
by nothing (this Python is 3.11).

The Coq project is tests/fixtures/cli/small: four easy goals and a false one (A.v, B.v, `_CoqProject`), searched
by the real `auto-prove prove` with the real coqc and coqidetop.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

pytest.importorskip("check_jsonschema")  # the `test` extra installs it

from conftest import CLI_FIXTURES, REPO, cli_env, kill_tagged, wait_gone  # noqa: E402
from test_workflows import load, validate  # noqa: E402

pytestmark = [
    pytest.mark.skipif(shutil.which("coqc") is None or shutil.which("coqidetop.opt") is None,
                       reason="needs Coq (coqc, coqidetop.opt)"),
    pytest.mark.skipif(shutil.which("bash") is None or shutil.which("git") is None, reason="needs bash and git"),
]

WORKFLOWS = REPO / ".github" / "workflows"
QUICK = WORKFLOWS / "auto-prove-coq.yml"
NIGHTLY = WORKFLOWS / "auto-prove-nightly.yml"
SMALL = CLI_FIXTURES / "small"
EASY = {"add_zero", "conj_hole", "mul_one", "le_succ"}  # the fixture's goals the search proves in a few seconds
GIT_ID = ["-c", "user.name=test", "-c", "user.email=test@example.com"]


class Unhandled(AssertionError):
    """An expression or a workflow feature this runner does not play: the test fails rather than guess."""


# --------------------------------------------------------------------------------------------------
# the `${{ ... }}` expressions


_TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>\d+(?:\.\d+)?)|(?P<op>\|\||&&|==|!=|!|\(|\)|,|\.)"
                    r"|(?P<name>[A-Za-z_][A-Za-z0-9_-]*))")
_FUNCTIONS = {"hashFiles", "always", "success", "failure", "cancelled"}
_STATUS = re.compile(r"\b(always|success|failure|cancelled)\s*\(")


@dataclass
class Contexts:
    """What the expressions of one run may read."""

    github: dict[str, Any]
    inputs: dict[str, Any]  # {} on push and schedule, as on GitHub
    declared_inputs: set[str]
    env: dict[str, str]
    secrets: dict[str, str]
    steps: dict[str, dict[str, Any]]
    runner: dict[str, str]
    workspace: Path
    failed: bool = False  # an earlier step failed (success(), failure())


class Expr:
    """One expression (the text between `${{` and `}}`), parsed and evaluated with GitHub's semantics for the
    operators it knows: `a || b` is a when a is truthy else b, `a && b` is a when a is falsy else b, a missing
    property is null, strings compare case-insensitively."""

    def __init__(self, text: str, ctx: Contexts) -> None:
        self.text, self.ctx = text, ctx
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        while pos < len(text.rstrip()):
            m = _TOKEN.match(text, pos)
            if not m or m.end() == pos:
                raise Unhandled(f"cannot read expression {text!r} at {text[pos:]!r}")
            kind = m.lastgroup or ""
            self.tokens.append((kind, m.group(kind)))
            pos = m.end()
        self.i = 0

    def value(self) -> Any:
        v = self._or()
        if self.i != len(self.tokens):
            raise Unhandled(f"unexpected {self.tokens[self.i][1]!r} in {self.text!r}")
        return v

    def _peek(self) -> str | None:
        return self.tokens[self.i][1] if self.i < len(self.tokens) else None

    def _take(self, expected: str | None = None) -> tuple[str, str]:
        if self.i >= len(self.tokens):
            raise Unhandled(f"expression {self.text!r} ends early")
        tok = self.tokens[self.i]
        if expected is not None and tok[1] != expected:
            raise Unhandled(f"expected {expected!r}, found {tok[1]!r} in {self.text!r}")
        self.i += 1
        return tok

    def _or(self) -> Any:
        v = self._and()
        while self._peek() == "||":
            self._take()
            w = self._and()
            v = v if truthy(v) else w
        return v

    def _and(self) -> Any:
        v = self._compare()
        while self._peek() == "&&":
            self._take()
            w = self._compare()
            v = w if truthy(v) else v
        return v

    def _compare(self) -> Any:
        v = self._unary()
        if self._peek() in ("==", "!="):
            op = self._take()[1]
            same = equal(v, self._unary())
            return same if op == "==" else not same
        return v

    def _unary(self) -> Any:
        if self._peek() == "!":
            self._take()
            return not truthy(self._unary())
        return self._primary()

    def _primary(self) -> Any:
        kind, tok = self._take()
        if tok == "(":
            v = self._or()
            self._take(")")
            return v
        if kind == "str":
            return tok[1:-1].replace("''", "'")
        if kind == "num":
            return float(tok) if "." in tok else int(tok)
        if kind != "name":
            raise Unhandled(f"unexpected {tok!r} in {self.text!r}")
        if tok in ("true", "false"):
            return tok == "true"
        if tok == "null":
            return None
        if self._peek() == "(":
            return self._call(tok)
        path = [tok]
        while self._peek() == ".":
            self._take()
            kind, name = self._take()
            if kind != "name":
                raise Unhandled(f"bad property {name!r} in {self.text!r}")
            path.append(name)
        return self._lookup(path)

    def _call(self, name: str) -> Any:
        if name not in _FUNCTIONS:
            raise Unhandled(f"function {name}() is not played here ({self.text!r})")
        self._take("(")
        args = []
        while self._peek() != ")":
            args.append(self._or())
            if self._peek() == ",":
                self._take()
        self._take(")")
        if name == "hashFiles":
            return hash_files(self.ctx.workspace, [str(a) for a in args])
        if args:
            raise Unhandled(f"{name}() takes no argument ({self.text!r})")
        return {"always": True, "success": not self.ctx.failed, "failure": self.ctx.failed, "cancelled": False}[name]

    def _lookup(self, path: list[str]) -> Any:
        ctx = self.ctx
        head, rest = path[0], path[1:]
        if not rest:
            raise Unhandled(f"a whole context ({head}) is not played here ({self.text!r})")
        first = rest[0]
        if head == "inputs":
            if first not in ctx.declared_inputs:
                raise Unhandled(f"inputs.{first} is not a declared input ({self.text!r})")
            value: Any = ctx.inputs
        elif head == "env":
            if first not in ctx.env:
                raise Unhandled(f"env.{first} is not defined where {self.text!r} is used")
            value = ctx.env
        elif head == "secrets":
            if first != "GITHUB_TOKEN":
                raise Unhandled(f"secrets.{first}: only GITHUB_TOKEN is played ({self.text!r})")
            value = ctx.secrets
        elif head == "steps":
            if first not in ctx.steps:
                raise Unhandled(f"no earlier step with id {first!r} ({self.text!r})")
            value = ctx.steps
        elif head == "runner":
            if first not in ctx.runner:
                raise Unhandled(f"runner.{first} is not played ({self.text!r})")
            value = ctx.runner
        elif head == "github":
            if first not in ctx.github:
                raise Unhandled(f"github.{first} is not played ({self.text!r})")
            value = ctx.github
        else:
            raise Unhandled(f"context {head!r} is not played here ({self.text!r})")
        for name in rest:
            value = value.get(name) if isinstance(value, dict) else None
        return value


def truthy(v: Any) -> bool:
    return v not in (None, False, 0, "") and v == v  # NaN is falsy too


def equal(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.casefold() == b.casefold()
    if type(a) is type(b):
        return bool(a == b)
    if None in (a, b) and "" in (a, b):
        return True  # null and '' both convert to 0
    if None in (a, b) and any(isinstance(x, str) and not re.fullmatch(r"\s*[-+.\d]+\s*", x) for x in (a, b)):
        return False  # null (0) against a string that is not a number (NaN)
    raise Unhandled(f"comparison of {a!r} with {b!r} is not played here")


def as_text(v: Any) -> str:
    """An expression's value where a string is needed (env, with, working-directory)."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def substitute(text: Any, ctx: Contexts) -> str:
    """A YAML value with each `${{ ... }}` replaced by its value."""
    if isinstance(text, bool) or text is None:
        return as_text(text)
    return re.sub(r"\$\{\{(.*?)\}\}", lambda m: as_text(Expr(m.group(1), ctx).value()), str(text), flags=re.S)


def condition(cond: Any, ctx: Contexts) -> bool:
    """A step's `if:` (default `success()`); without a status function GitHub adds `success() &&`."""
    if cond is None:
        return not ctx.failed
    text = str(cond).strip()
    m = re.fullmatch(r"\$\{\{(.*)\}\}", text, flags=re.S)
    text = m.group(1) if m else text
    if not _STATUS.search(text):
        text = f"success() && ({text})"
    return truthy(Expr(text, ctx).value())


def hash_files(workspace: Path, patterns: list[str]) -> str:
    """hashFiles(): one SHA-256 over the SHA-256 of each matching file (under the workspace), '' when none."""
    files = sorted({p for pat in patterns for p in workspace.glob(pat) if p.is_file() and ".git" not in p.parts})
    if not files:
        return ""
    h = hashlib.sha256()
    for f in files:
        h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


# --------------------------------------------------------------------------------------------------
# the runner


@dataclass
class StepRun:
    name: str
    ran: bool
    returncode: int | None = None
    output: str = ""


@dataclass
class JobRun:
    workspace: Path
    steps: list[StepRun]
    outputs: dict[str, dict[str, Any]]
    uploads: list[Path]
    saved: dict[str, Path]  # actions/cache: what the post-job step saves (path as written -> folder)
    summary: str
    failed: bool
    env: dict[str, str]  # the workflow's and job's env as evaluated

    def step(self, prefix: str) -> StepRun:
        found = [s for s in self.steps if s.name.startswith(prefix)]
        assert len(found) == 1, f"expected one step named {prefix!r}..., found {[s.name for s in self.steps]}"
        return found[0]

    def __str__(self) -> str:
        return "\n".join(f"--- {s.name}: " + (f"exit {s.returncode}\n{s.output}" if s.ran else "skipped")
                         for s in self.steps) + f"\n--- summary\n{self.summary}"


_WORKFLOW_KEYS = {"name", "on", "permissions", "concurrency", "env", "jobs"}
_JOB_KEYS = {"name", "runs-on", "timeout-minutes", "steps", "env"}
_STEP_KEYS = {"name", "id", "if", "uses", "with", "run", "shell", "env", "working-directory"}
_SHELLS = {"bash": ["bash", "--noprofile", "--norc", "-eo", "pipefail"], "python": [sys.executable]}


def dispatch_inputs(doc: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """The `inputs` context of a manual run: the given values, the declared defaults for the others, typed."""
    declared = doc["on"]["workflow_dispatch"]["inputs"]
    unknown = set(given) - set(declared)
    assert not unknown, f"not declared inputs: {unknown}"
    out = {}
    for name, spec in declared.items():
        v = given.get(name, spec.get("default", ""))
        out[name] = {"number": float, "boolean": bool, "string": str}[spec.get("type", "string")](v)
        if isinstance(out[name], float) and out[name].is_integer():
            out[name] = int(out[name])
    return out


def run_job(workflow: Path, event: str, workspace: Path, *, inputs: dict[str, Any] | None = None,
            checkout: Callable[[Path, dict[str, str]], None], restore: dict[str, Path] | None = None,
            secrets: dict[str, str] | None = None, extra_env: dict[str, str] | None = None,
            timeout: float = 240.0) -> JobRun:
    """Run the workflow's one job as GitHub would for `event` (push, schedule or workflow_dispatch), in
    `workspace` (made here, empty, as on a fresh runner)."""
    doc = load(workflow)
    assert set(doc) <= _WORKFLOW_KEYS, f"workflow keys not played: {set(doc) - _WORKFLOW_KEYS}"
    assert event in doc["on"], f"{workflow.name} does not run on {event}"
    ((_, job),) = doc["jobs"].items()
    assert set(job) <= _JOB_KEYS, f"job keys not played: {set(job) - _JOB_KEYS}"
    workspace.mkdir(parents=True)
    runner_dir = workspace.parent / f"{workspace.name}-runner"
    temp = runner_dir / "temp"
    temp.mkdir(parents=True)
    summary_file, env_file, path_file = runner_dir / "step_summary.md", runner_dir / "env", runner_dir / "path"
    for f in (summary_file, env_file, path_file):
        f.write_text("")
    assert inputs is None or event == "workflow_dispatch", "inputs only come with a manual run"
    run_id = str(int(time.time() * 1000))
    declared = set((doc["on"].get("workflow_dispatch") or {}).get("inputs") or {})
    ctx = Contexts(
        github={"event_name": event, "workflow": doc["name"], "ref": "refs/heads/main", "run_id": run_id,
                "workspace": str(workspace), "repository": "octo/demo", "event": {}},
        inputs=dispatch_inputs(doc, inputs or {}) if event == "workflow_dispatch" else {},
        declared_inputs=declared, env={}, secrets={"GITHUB_TOKEN": ""} | (secrets or {}), steps={},
        runner={"os": "Linux", "temp": str(temp)}, workspace=workspace)
    if event == "workflow_dispatch":
        ctx.github["event"] = {"inputs": {k: as_text(v) for k, v in ctx.inputs.items()}}
    substitute(doc.get("concurrency", {}).get("group", ""), ctx)  # evaluated on GitHub too: must be playable
    for key, value in (doc.get("env") or {}).items():
        ctx.env[key] = substitute(value, ctx)
    for key, value in (job.get("env") or {}).items():
        ctx.env[key] = substitute(value, ctx)
    substitute(job.get("name", ""), ctx)
    job_env = dict(ctx.env)

    # the runner's own variables (https://docs.github.com/actions/learn-github-actions/variables), over this
    # machine's environment without any GitHub variable or token of its own
    base = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "RUNNER_", "GH_"))}
    base.pop("AUTOPROVE_PROFILE", None)  # auto-prove's own default profile, as on a runner
    base.update(CI="true", GITHUB_ACTIONS="true", GITHUB_WORKSPACE=str(workspace), GITHUB_EVENT_NAME=event,
                GITHUB_REF="refs/heads/main", GITHUB_RUN_ID=run_id, GITHUB_WORKFLOW=doc["name"],
                GITHUB_REPOSITORY="octo/demo", RUNNER_OS="Linux", RUNNER_TEMP=str(temp),
                GITHUB_STEP_SUMMARY=str(summary_file), GITHUB_ENV=str(env_file), GITHUB_PATH=str(path_file))
    # This machine's `auto-prove` script comes from an editable install whose recorded source folder is not this
    # checkout, so the script finds `sidecar` through PYTHONPATH (as tests/conftest.py's cli_env does); pip is kept
    # off the network (the install step must find auto-prove installed and do nothing); the tag lets the
    # processes of the run be found and cleaned up after it.
    _, tag = cli_env()
    base.update(PYTHONPATH=str(REPO) + (os.pathsep + base["PYTHONPATH"] if base.get("PYTHONPATH") else ""),
                PIP_NO_INDEX="1", AUTOPROVE_TEST_TAG=tag)
    base.update(extra_env or {})

    runs: list[StepRun] = []
    uploads: list[Path] = []
    saved: dict[str, Path] = {}
    deadline = time.monotonic() + timeout
    try:
        for i, step in enumerate(job["steps"]):
            assert set(step) <= _STEP_KEYS, f"step keys not played: {set(step) - _STEP_KEYS}"
            ctx.env = dict(job_env)
            for key, value in (step.get("env") or {}).items():
                ctx.env[key] = substitute(value, ctx)
            name = substitute(step.get("name") or step.get("uses") or step.get("run"), ctx)
            if not condition(step.get("if"), ctx):
                runs.append(StepRun(name, False))
                if "id" in step:
                    ctx.steps[step["id"]] = {"outputs": {}, "outcome": "skipped"}
                continue
            with_ = {k: substitute(v, ctx) for k, v in (step.get("with") or {}).items()}
            if "uses" in step:
                assert "run" not in step
                action = step["uses"].split("@")[0]
                if action == "actions/checkout":
                    checkout(workspace, with_)
                elif action == "actions/setup-python":
                    assert with_["python-version"] == f"{sys.version_info[0]}.{sys.version_info[1]}"
                elif action == "actions/cache":
                    path = with_["path"]
                    assert with_["key"].startswith(with_["restore-keys"].split()[-1])
                    if not path.startswith("~"):  # the runner's home folder is this machine's: left alone
                        dest = workspace / path
                        if restore and path in restore:
                            shutil.copytree(restore[path], dest)
                        saved[path] = dest
                elif action == "actions/upload-artifact":
                    assert with_["if-no-files-found"] in ("warn", "error", "ignore")
                    uploads += [workspace / line.strip() for line in with_["path"].splitlines() if line.strip()]
                else:
                    raise Unhandled(f"action {step['uses']} is not played here")
                runs.append(StepRun(name, True, 0))
                continue
            shell = step.get("shell")
            if shell not in _SHELLS:
                raise Unhandled(f"step {name!r}: shell {shell!r} is not played (give bash or python)")
            script = runner_dir / f"step{i}.{'py' if shell == 'python' else 'sh'}"
            script.write_text(step["run"], encoding="utf-8")
            output_file = runner_dir / f"output{i}"
            output_file.write_text("")
            cwd = workspace / substitute(step.get("working-directory", "."), ctx)
            env = {**base, **ctx.env, "GITHUB_OUTPUT": str(output_file)}
            try:
                proc = subprocess.run([*_SHELLS[shell], str(script)], cwd=cwd, env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True,
                                      timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired as e:
                raise AssertionError(f"step {name!r} did not end in time:\n{e.output}") from None
            runs.append(StepRun(name, True, proc.returncode, proc.stdout))
            print(f"--- {name}: exit {proc.returncode}\n{proc.stdout}")
            outputs: dict[str, str] = {}
            for line in output_file.read_text().splitlines():
                if "<<" in line or "=" not in line:
                    raise Unhandled(f"GITHUB_OUTPUT line not played: {line!r}")
                k, v = line.split("=", 1)
                outputs[k] = v
            if "id" in step:
                ctx.steps[step["id"]] = {"outputs": outputs, "outcome": "success" if proc.returncode == 0
                                         else "failure"}
            if env_file.read_text() or path_file.read_text():
                raise Unhandled("GITHUB_ENV / GITHUB_PATH are not played")
            ctx.failed = ctx.failed or proc.returncode != 0
    finally:
        left = wait_gone(tag, 15.0)
        killed = kill_tagged(tag) if left else []
    assert not killed, f"processes of the run outlived it: {killed}"
    # actions/cache saves in its post-job step, and only when the job succeeded
    return JobRun(workspace, runs, ctx.steps, uploads, saved if not ctx.failed else {},
                  summary_file.read_text(), ctx.failed, job_env)


# --------------------------------------------------------------------------------------------------
# projects, checkouts, a GitHub API


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *GIT_ID, *args], cwd=cwd, check=True, capture_output=True, text=True,
                          timeout=60).stdout.strip()


def checkout_copy(project: Path) -> Callable[[Path, dict[str, str]], None]:
    """actions/checkout for the quick sweep: the project as the only commit of a fresh repository on `main`."""

    def checkout(workspace: Path, with_: dict[str, str]) -> None:
        assert with_ == {}
        shutil.copytree(project, workspace, dirs_exist_ok=True)
        git("init", "--quiet", "-b", "main", cwd=workspace)
        git("add", "-A", cwd=workspace)
        git("commit", "--quiet", "-m", "the project", cwd=workspace)

    return checkout


def checkout_clone(origin: Path) -> Callable[[Path, dict[str, str]], None]:
    """actions/checkout with fetch-depth 0: every branch of `origin` and its history, `main` checked out."""

    def checkout(workspace: Path, with_: dict[str, str]) -> None:
        assert with_ == {"fetch-depth": "0"}
        git("clone", "--quiet", "--branch", "main", str(origin), ".", cwd=workspace)

    return checkout


def proved(run: JobRun) -> dict[str, dict[str, Any]]:
    """The goals of the run's report proved and verified, by lemma."""
    doc = json.loads((run.workspace / run.env["AUTO_PROVE_REPORT"]).read_text(encoding="utf-8"))
    return {g["name"]: g for g in doc["goals"] if g["status"] == "proved" and g["verified"]}


def remote_branches(origin: Path) -> dict[str, str]:
    """Branch -> commit on the bare repository."""
    out = git("for-each-ref", "--format=%(refname:lstrip=2) %(objectname)", "refs/heads/", cwd=origin)
    return dict(line.split() for line in out.splitlines())


class FakeGitHub:
    """GitHub's REST API for one call, POST /repos/{owner}/{repo}/pulls, on 127.0.0.1 (auto-prove is pointed at
    it through $AUTOPROVE_GITHUB_API, the setting for GitHub Enterprise)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append({"path": self.path, "authorization": self.headers.get("Authorization"),
                                      "body": body})
                reply = json.dumps({"html_url": "https://github.com/octo/demo/pull/1", "number": 1}).encode()
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --------------------------------------------------------------------------------------------------
# what the files promise, read


def test_both_files_match_github_schema() -> None:
    for path in (QUICK, NIGHTLY):
        r = validate(path)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "ok -- validation done" in r.stdout


def test_quick_sweep_is_safe_on_forks() -> None:
    """Push, pull_request (never pull_request_target) and manual runs; a read-only token; no secret at all."""
    doc = load(QUICK)
    assert set(doc["on"]) == {"push", "pull_request", "workflow_dispatch"}
    assert set(doc["on"]["workflow_dispatch"]["inputs"]) == {"budget", "package-spec", "project-directory"}
    assert doc["permissions"] == {"contents": "read"}
    (job,) = doc["jobs"].values()
    assert "permissions" not in job
    text = QUICK.read_text(encoding="utf-8")
    assert "pull_request_target" not in text and "secrets." not in text
    assert "group" in doc["concurrency"] and doc["concurrency"]["cancel-in-progress"] is True
    assert isinstance(job["timeout-minutes"], int) and job["timeout-minutes"] > 0
    assert doc["env"]["AUTO_PROVE_EXTRAS"] == ""


def test_nightly_never_runs_on_pull_requests_and_gives_the_token_to_one_step() -> None:
    doc = load(NIGHTLY)
    assert set(doc["on"]) == {"schedule", "workflow_dispatch"}
    assert re.fullmatch(r"\d+ \d+ \* \* \*", doc["on"]["schedule"][0]["cron"])  # once a day
    assert set(doc["on"]["workflow_dispatch"]["inputs"]) == {"budget", "cluster", "package-spec",
                                                             "project-directory"}
    assert doc["permissions"] == {"contents": "write", "pull-requests": "write"}
    (job,) = doc["jobs"].values()
    assert "permissions" not in job and "env" not in job
    assert isinstance(job["timeout-minutes"], int) and 0 < job["timeout-minutes"] <= 360
    with_secrets = [s for s in job["steps"] if "secrets." in json.dumps(s)]
    assert [s["name"] for s in with_secrets] == ["Search proofs and propose them"]
    assert with_secrets[0]["env"]["GITHUB_TOKEN"] == "${{ secrets.GITHUB_TOKEN }}"
    text = NIGHTLY.read_text(encoding="utf-8")
    assert text.count("secrets.") == 1 and "GITHUB_TOKEN" not in json.dumps(doc["env"])


@pytest.mark.parametrize("path", [QUICK, NIGHTLY], ids=lambda p: p.name)
def test_inputs_reach_scripts_through_env_only(path: Path) -> None:
    for job in load(path)["jobs"].values():
        for step in job["steps"]:
            assert "${{" not in step.get("run", ""), step.get("name")


@pytest.mark.parametrize(("event", "inputs", "expected"), [
    ("schedule", None, {"AUTO_PROVE_BUDGET": "300", "AUTO_PROVE_CLUSTER": "", "AUTO_PROVE_EXTRAS": "",
                        "AUTO_PROVE_SPEC": "auto-prove", "PROJECT_DIR": "."}),
    ("workflow_dispatch", {}, {"AUTO_PROVE_BUDGET": "300", "AUTO_PROVE_CLUSTER": "", "AUTO_PROVE_EXTRAS": "",
                               "AUTO_PROVE_SPEC": "auto-prove", "PROJECT_DIR": "."}),
    ("workflow_dispatch", {"budget": 1200, "cluster": "tcp://10.0.0.5:8786", "project-directory": "theories"},
     {"AUTO_PROVE_BUDGET": "1200", "AUTO_PROVE_CLUSTER": "tcp://10.0.0.5:8786", "AUTO_PROVE_EXTRAS": "cluster",
      "PROJECT_DIR": "theories"}),
])
def test_nightly_env_from_inputs(event: str, inputs: dict[str, Any] | None, expected: dict[str, str],
                                 tmp_path: Path) -> None:
    doc = load(NIGHTLY)
    ctx = Contexts(github={}, inputs=dispatch_inputs(doc, inputs) if inputs is not None else {},
                   declared_inputs=set(doc["on"]["workflow_dispatch"]["inputs"]), env={}, secrets={}, steps={},
                   runner={}, workspace=tmp_path)
    env = {k: substitute(v, ctx) for k, v in doc["env"].items()}
    assert {k: env[k] for k in expected} == expected


def test_the_evaluator_refuses_what_it_does_not_know(tmp_path: Path) -> None:
    ctx = Contexts(github={"ref": "refs/heads/main"}, inputs={}, declared_inputs={"budget"}, env={}, secrets={},
                   steps={}, runner={}, workspace=tmp_path)
    assert substitute("${{ inputs.budget || 10 }}", ctx) == "10"
    for bad in ("${{ inputs.budgett || 10 }}", "${{ vars.X }}", "${{ format('{0}', 1) }}", "${{ env.NOPE }}",
                "${{ secrets.NPM_TOKEN }}", "${{ github.ref == 1 }}", "${{ inputs.budget ? 1 : 2 }}"):
        with pytest.raises(Unhandled):
            substitute(bad, ctx)


def _stub_bin(tmp_path: Path, log: Path) -> Path:
    """`pip` and `auto-prove` that only write down their arguments (one JSON list per line)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("pip", "auto-prove"):
        (bin_dir / name).write_text(f"#!{sys.executable}\nimport json, os, sys\n"
                                    f"open({str(log)!r}, 'a').write(json.dumps([os.path.basename(sys.argv[0])]"
                                    f" + sys.argv[1:]) + '\\n')\n")
        (bin_dir / name).chmod(0o755)
    return bin_dir


@pytest.mark.parametrize(("cluster", "token", "pr", "expected"), [
    ("", "", "true", ["--branch", "--push", "origin"]),
    ("", "t0ken", "true", ["--branch", "--push", "origin", "--pr"]),
    ("", "t0ken", "false", ["--branch", "--push", "origin"]),
    ("tcp://10.0.0.5:8786", "t0ken", "true", ["--cluster", "tcp://10.0.0.5:8786", "--branch", "--push", "origin",
                                              "--pr"]),
])
def test_nightly_command_line(cluster: str, token: str, pr: str, expected: list[str], tmp_path: Path) -> None:
    """The nightly's install and search steps with stub `pip` and `auto-prove`: the extra and the options each
    setting gives."""
    log = tmp_path / "argv.jsonl"
    bin_dir = _stub_bin(tmp_path, log)
    doc = load(NIGHTLY)
    steps = {s["name"]: s for s in doc["jobs"]["auto-prove"]["steps"]}
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "AUTO_PROVE_SPEC": "auto-prove",
           "AUTO_PROVE_EXTRAS": "cluster" if cluster else "", "AUTO_PROVE_CLUSTER": cluster,
           "AUTO_PROVE_BUDGET": "300", "AUTO_PROVE_REPORT": "r.json", "AUTO_PROVE_PR": pr, "GITHUB_TOKEN": token,
           "RUNNER_TEMP": str(tmp_path)}
    for name in ("Install auto-prove", "Search proofs and propose them"):
        r = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", steps[name]["run"]], env=env,
                           cwd=tmp_path, capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stdout + r.stderr
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert calls[0] == ["pip", "install", "auto-prove[cluster]" if cluster else "auto-prove"]
    assert calls[1] == ["auto-prove", "--help"]
    assert calls[2] == ["auto-prove", "prove", ".", "--backend", "coq", "--budget", "300", "--cpu", "1.0", *expected,
                        "--json", "r.json"]
    said = (tmp_path / "auto-prove.log").read_text()
    assert ("no GITHUB_TOKEN" in said) == (not token and pr == "true")


# --------------------------------------------------------------------------------------------------
# the quick sweep, run


@pytest.fixture(scope="module")
def quick_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[JobRun, JobRun]]:
    """Two runs of the quick sweep: a push (the defaults: 10 s per goal), then a manual run with 3 s per goal on a
    fresh checkout whose cache step restores the folder the first run saved."""
    root = tmp_path_factory.mktemp("quick")
    first = run_job(QUICK, "push", root / "first", checkout=checkout_copy(SMALL))
    print(first)
    second = None
    if first.saved:
        second = run_job(QUICK, "workflow_dispatch", root / "second", inputs={"budget": 3},
                         checkout=checkout_copy(SMALL), restore=first.saved)
        print(second)
    yield first, second  # type: ignore[misc]


@pytest.mark.timeout(300)
def test_quick_sweep_proves_and_reports(quick_runs: tuple[JobRun, JobRun]) -> None:
    run, _ = quick_runs
    assert not run.failed, str(run)
    assert [s.name for s in run.steps if not s.ran] == []
    assert run.env["AUTO_PROVE_BUDGET"] == "10" and run.env["PROJECT_DIR"] == "."
    install = run.step("Install auto-prove").output
    assert "pip install auto-prove\n" in install and "Requirement already satisfied: auto-prove" in install
    assert run.step("Install Coq").output.startswith("The Coq Proof Assistant")  # found, not installed
    found = proved(run)
    assert EASY <= set(found) and "false_goal" not in found
    assert all(g["proof"] for g in found.values())
    assert run.uploads == [run.workspace / "./auto-prove-report.json"] and run.uploads[0].is_file()


@pytest.mark.timeout(300)
def test_quick_sweep_leaves_the_project_alone(quick_runs: tuple[JobRun, JobRun]) -> None:
    run, _ = quick_runs
    for f in SMALL.iterdir():
        assert (run.workspace / f.name).read_bytes() == f.read_bytes(), f.name
    assert git("status", "--porcelain", "--untracked-files=no", cwd=run.workspace) == ""
    assert git("branch", "--list", cwd=run.workspace) == "* main"


@pytest.mark.timeout(300)
def test_quick_sweep_summary(quick_runs: tuple[JobRun, JobRun]) -> None:
    run, _ = quick_runs
    assert "## auto-prove (Coq)" in run.summary
    assert "Goals: 5, proved and checked by coqc: 4" in run.summary
    assert "| `A.v:5` | `add_zero` |" in run.summary and "| `B.v:4` | `mul_one` |" in run.summary
    assert "false_goal" not in run.summary


@pytest.mark.timeout(300)
def test_quick_sweep_exports_for_the_next_run(quick_runs: tuple[JobRun, JobRun]) -> None:
    run, _ = quick_runs
    assert list(run.saved) == ["./.auto-prove-sync"]
    exported = [p for p in run.saved["./.auto-prove-sync"].rglob("*") if p.is_file()]
    assert exported, "auto-prove sync export wrote nothing into .auto-prove-sync"


@pytest.mark.timeout(300)
def test_quick_sweep_imports_what_the_last_run_found(quick_runs: tuple[JobRun, JobRun]) -> None:
    """The second run's cache step restores the first run's export; `sync import` takes its results into the fresh
    checkout's ledger and `prove` reports the same proofs, each checked by coqc here first."""
    first, second = quick_runs
    assert second is not None, "the first run saved nothing to restore"
    assert not second.failed, str(second)
    assert second.env["AUTO_PROVE_BUDGET"] == "3"
    said = " ".join(second.step("Import the proofs of earlier runs").output.split())  # rich wraps at 80 columns
    assert "imported 5 goal result(s) (4 proof(s))" in said and "from 1 file(s)" in said
    assert "each proof is verified here before it is offered" in said
    before, after = proved(first), proved(second)
    assert set(after) == set(before)
    for name, goal in after.items():
        assert goal["message"] == "found elsewhere (sync import), verified here", name
        assert goal["proof"] == before[name]["proof"] and goal["attempts"] == before[name]["attempts"]
    assert len(list(second.saved["./.auto-prove-sync"].iterdir())) == 2  # the first run's export and its own


@pytest.mark.timeout(300)
def test_quick_sweep_without_open_goals(tmp_path: Path) -> None:
    """A project with nothing left to prove: the search finds no goal, there is nothing to export, the job
    succeeds."""
    project = tmp_path / "done"
    project.mkdir()
    (project / "_CoqProject").write_text("-R . Done\n\nDone.v\n")
    (project / "Done.v").write_text("Lemma done : 1 + 1 = 2.\nProof. reflexivity. Qed.\n")
    run = run_job(QUICK, "push", tmp_path / "ws", checkout=checkout_copy(project))
    print(run)
    assert not run.failed, str(run)
    assert "nothing to import" in run.step("Import the proofs of earlier runs").output
    assert "nothing to export" in run.step("Export the proofs for later runs").output
    assert "Goals: 0, proved and checked by coqc: 0" in run.summary


def test_export_keeps_the_ten_newest(tmp_path: Path) -> None:
    """The export step's clean-up, with a stub `auto-prove` whose export writes one file as the real one does."""
    sync = tmp_path / ".auto-prove-sync"
    sync.mkdir()
    (tmp_path / ".auto-prove").mkdir()
    (tmp_path / ".auto-prove" / "ledger.sqlite").write_bytes(b"")
    for k in range(12):
        f = sync / f"auto-prove-old-{k}.jsonl.gz"
        f.write_bytes(b"")
        os.utime(f, (1_000_000 + k, 1_000_000 + k))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "auto-prove").write_text('#!/bin/sh\n'
                                        '[ "$1 $2" = "sync export" ] && touch "$3/auto-prove-new.jsonl.gz"\n')
    (bin_dir / "auto-prove").chmod(0o755)
    for path in (QUICK, NIGHTLY):
        step = next(s for s in load(path)["jobs"]["auto-prove"]["steps"] if s["name"].startswith("Export"))
        env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "AUTO_PROVE_SYNC": sync.name}
        r = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], cwd=tmp_path,
                           env=env, capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stdout + r.stderr
        assert {p.name for p in sync.iterdir()} == {"auto-prove-new.jsonl.gz"} | {
            f"auto-prove-old-{k}.jsonl.gz" for k in range(3, 12)}


# --------------------------------------------------------------------------------------------------
# the nightly sweep, run


@pytest.fixture(scope="module")
def nightly(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Three runs of the nightly sweep against a local bare repository as `origin` (so the pull request cannot be
    opened on GitHub): a scheduled run without GITHUB_TOKEN; a second scheduled run on the same commit; a manual run
    with a token and auto-prove pointed at a fake GitHub API. The project is the small one without its false lemma:
    a scheduled run spends up to 300 s on a goal it cannot prove."""
    root = tmp_path_factory.mktemp("nightly")
    seed = root / "seed"
    shutil.copytree(SMALL, seed)
    a = (seed / "A.v").read_text(encoding="utf-8")
    false_lemma = "(* false: stays open whatever the search does *)\nLemma false_goal : 2 + 2 = 5.\nAdmitted.\n\n"
    assert false_lemma in a
    (seed / "A.v").write_text(a.replace(false_lemma, ""), encoding="utf-8")
    git("init", "--quiet", "-b", "main", cwd=seed)
    git("add", "-A", cwd=seed)
    git("commit", "--quiet", "-m", "the project", cwd=seed)
    origin = root / "origin.git"
    git("clone", "--quiet", "--bare", str(seed), str(origin), cwd=root)
    main = git("rev-parse", "HEAD", cwd=seed)
    out: dict[str, Any] = {"origin": origin, "main": main, "seed": seed}
    out["first"] = run_job(NIGHTLY, "schedule", root / "first", checkout=checkout_clone(origin))
    print(out["first"])
    out["after_first"] = remote_branches(origin)
    out["second"] = run_job(NIGHTLY, "schedule", root / "second", checkout=checkout_clone(origin),
                            restore=out["first"].saved)
    print(out["second"])
    out["after_second"] = remote_branches(origin)
    github = FakeGitHub()
    try:
        out["third"] = run_job(NIGHTLY, "workflow_dispatch", root / "third", inputs={"budget": 5},
                               checkout=checkout_clone(origin), restore=out["first"].saved,
                               secrets={"GITHUB_TOKEN": "t0ken-for-the-test"},
                               extra_env={"AUTOPROVE_GITHUB_API": github.url, "AUTOPROVE_GITHUB_REPO": "octo/demo",
                                          "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"})
    finally:
        github.close()
    print(out["third"])
    out["after_third"] = remote_branches(origin)
    out["pulls"] = github.requests
    yield out


@pytest.mark.timeout(400)
def test_nightly_pushes_a_branch_of_proofs(nightly: dict[str, Any]) -> None:
    run, origin, main = nightly["first"], nightly["origin"], nightly["main"]
    assert not run.failed, str(run)
    assert run.env["AUTO_PROVE_BUDGET"] == "300" and run.env["AUTO_PROVE_EXTRAS"] == ""
    search = run.step("Search proofs and propose them")
    assert search.ran and search.returncode == 0
    assert "no GITHUB_TOKEN: the branch is pushed, no pull request is opened" in search.output
    branch = f"auto-prove/main-{main[:8]}"
    assert nightly["after_first"] == {"main": main, branch: nightly["after_first"][branch]}
    tip = nightly["after_first"][branch]
    assert git("rev-parse", f"{tip}^", cwd=origin) == main  # one commit on top of main
    diff = git("diff", main, tip, "--", "A.v", "B.v", cwd=origin)
    assert "-Admitted." in diff and "+Qed." in diff
    after = git("show", f"{tip}:A.v", cwd=origin)
    assert re.search(r"Lemma add_zero : forall n : nat, n \+ 0 = n\.\s*Proof\.", after)
    assert "Verified" in git("log", "-1", "--format=%B", tip, cwd=origin)
    assert git("log", "-1", "--format=%an <%ae>", tip, cwd=origin).startswith("github-actions[bot] <")
    assert f"pushed {branch} to origin" in run.summary
    assert "`A.v:5` `add_zero`" in run.summary
    # the checkout is untouched: the proofs went to the branch only
    for f in ("A.v", "B.v", "_CoqProject"):
        assert (run.workspace / f).read_bytes() == (nightly["seed"] / f).read_bytes()


@pytest.mark.timeout(400)
def test_nightly_exports_and_uploads(nightly: dict[str, Any]) -> None:
    run = nightly["first"]
    assert not run.failed, str(run)
    assert run.uploads == [run.workspace / "./auto-prove-report.json", run.workspace / "./.auto-prove-sync"]
    assert all(p.exists() for p in run.uploads)
    assert any(p.is_file() for p in run.uploads[1].rglob("*"))


@pytest.mark.timeout(400)
def test_nightly_does_not_sweep_a_commit_twice(nightly: dict[str, Any]) -> None:
    run = nightly["second"]
    assert not run.failed, str(run)
    assert run.outputs["earlier"]["outputs"] == {"swept": f"auto-prove/main-{nightly['main'][:8]}",
                                                 "search": "false"}
    assert not run.step("Search proofs and propose them").ran
    assert not run.step("Export the proofs for later runs").ran  # nothing checked here: it would add an empty export
    assert nightly["after_second"] == nightly["after_first"]
    assert "has a branch of proofs already" in run.summary


@pytest.mark.timeout(400)
def test_nightly_manual_run_opens_a_pull_request(nightly: dict[str, Any]) -> None:
    run, main = nightly["third"], nightly["main"]
    assert not run.failed, str(run)
    assert run.env["AUTO_PROVE_BUDGET"] == "5"
    branch = f"auto-prove/main-{main[:8]}-2"  # the first run's branch, made local, keeps its name taken
    assert set(nightly["after_third"]) == set(nightly["after_first"]) | {branch}
    assert nightly["after_third"][f"auto-prove/main-{main[:8]}"] == nightly["after_first"][f"auto-prove/main-"
                                                                                            f"{main[:8]}"]
    (pull,) = nightly["pulls"]
    assert pull["path"] == "/repos/octo/demo/pulls"
    assert pull["authorization"] == "Bearer t0ken-for-the-test"
    assert pull["body"]["head"] == branch and pull["body"]["base"] == "main"
    assert "add_zero" in pull["body"]["body"]
    assert "pull request: https://github.com/octo/demo/pull/1" in run.summary
