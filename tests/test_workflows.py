"""The GitHub Actions workflow shipped for users' repositories (.github/workflows/*.yml).

No GitHub Actions runner and no Lean toolchain are available here, so the workflow cannot be run. What can be
checked offline is checked: every workflow file validates against the GitHub-workflow JSON schema vendored in
check-jsonschema (`--builtin-schema vendor.github-workflows`, no network); a deliberately broken copy fails, so the
validator is known to really run; the workflow has the steps users are promised; and the two scripts inside it
(the pip requirement built from AUTO_PROVE_SPEC and the job summary written from the JSON report) are run here
with bash and Python against a stub `pip` and a sample report."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

pytest.importorskip("check_jsonschema")  # the `test` extra installs it

from ruamel.yaml import YAML  # noqa: E402  (check-jsonschema's own YAML parser: YAML 1.2, so `on:` stays "on")

from conftest import REPO  # noqa: E402

pytestmark = [pytest.mark.timeout(120)]

WORKFLOWS = REPO / ".github" / "workflows"
AUTO_PROVE = WORKFLOWS / "auto-prove.yml"
WORKFLOW_FILES = sorted(WORKFLOWS.glob("*.yml")) + sorted(WORKFLOWS.glob("*.yaml"))


def load(path: Path) -> dict[str, Any]:
    """A workflow file as plain data."""
    doc = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    assert isinstance(doc, dict), f"{path} is not a YAML mapping"
    return doc


def dump(doc: dict[str, Any], path: Path) -> Path:
    """Write plain data back as YAML."""
    yaml = YAML(typ="safe")
    yaml.default_flow_style = False
    with path.open("w", encoding="utf-8") as f:
        yaml.dump(doc, f)
    return path


def validate(path: Path) -> subprocess.CompletedProcess[str]:
    """check-jsonschema against its vendored GitHub-workflows schema, as the command users would run."""
    return subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows",
                           str(path)], capture_output=True, text=True, timeout=60)


def steps(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every step of every job."""
    for job in doc["jobs"].values():
        yield from job.get("steps", [])


def step_using(doc: dict[str, Any], action: str) -> dict[str, Any]:
    """The one step that `uses:` the action (any version)."""
    found = [s for s in steps(doc) if str(s.get("uses", "")).split("@")[0] == action]
    assert len(found) == 1, f"expected one step using {action}, found {len(found)}"
    return found[0]


def step_named(doc: dict[str, Any], prefix: str) -> dict[str, Any]:
    """The one step whose name starts with `prefix`."""
    found = [s for s in steps(doc) if str(s.get("name", "")).startswith(prefix)]
    assert len(found) == 1, f"expected one step named {prefix!r}..., found {len(found)}"
    return found[0]


# --------------------------------------------------------------------------------------------------
# the schema


def test_there_are_workflows() -> None:
    assert AUTO_PROVE in WORKFLOW_FILES


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda p: p.name)
def test_workflow_matches_github_schema(path: Path) -> None:
    r = validate(path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ok -- validation done" in r.stdout


def _no_runs_on(doc: dict[str, Any]) -> None:
    for job in doc["jobs"].values():
        del job["runs-on"]


def _bad_trigger(doc: dict[str, Any]) -> None:
    doc["on"] = {"pushh": None}


def _timeout_as_text(doc: dict[str, Any]) -> None:
    for job in doc["jobs"].values():
        job["timeout-minutes"] = "an hour"


def _step_with_run_and_uses(doc: dict[str, Any]) -> None:
    next(steps(doc))["run"] = "echo both"


@pytest.mark.parametrize("breakage", [_no_runs_on, _bad_trigger, _timeout_as_text, _step_with_run_and_uses],
                         ids=lambda f: f.__name__.strip("_"))
def test_broken_copy_fails_validation(breakage: Any, tmp_path: Path) -> None:
    """The validator really runs: an untouched copy passes, each broken copy fails."""
    doc = load(AUTO_PROVE)
    good = validate(dump(copy.deepcopy(doc), tmp_path / "good.yml"))
    assert good.returncode == 0, good.stdout + good.stderr
    breakage(doc)
    bad = validate(dump(doc, tmp_path / "bad.yml"))
    assert bad.returncode != 0, bad.stdout
    assert "Schema validation errors" in bad.stdout + bad.stderr


# --------------------------------------------------------------------------------------------------
# what users are promised


def test_triggers_permissions_concurrency_timeout() -> None:
    doc = load(AUTO_PROVE)
    assert set(doc["on"]) == {"push", "pull_request", "workflow_dispatch"}
    assert set(doc["on"]["workflow_dispatch"]["inputs"]) == {"budget", "package-spec", "lake-package-directory"}
    assert doc["permissions"] == {"contents": "read"}
    assert "group" in doc["concurrency"]
    (job,) = doc["jobs"].values()
    assert isinstance(job["timeout-minutes"], int) and job["timeout-minutes"] > 0
    assert doc["env"]["AUTO_PROVE_SPEC"] == "${{ inputs.package-spec || 'auto-prove' }}"


def test_steps_in_order() -> None:
    doc = load(AUTO_PROVE)
    order = [str(s.get("uses", s.get("name"))).split("@")[0] for s in steps(doc)]
    assert order[:4] == ["actions/checkout", "leanprover/lean-action", "actions/setup-python", "Install auto-prove"]
    assert step_using(doc, "actions/checkout")["uses"] == "actions/checkout@v4"
    assert step_using(doc, "actions/setup-python")["with"]["python-version"] == "3.11"


def test_lean_action_gets_only_its_real_inputs() -> None:
    """The inputs of leanprover/lean-action@v1 as its action.yml declares them (read from the action's repository;
    the schema cannot check another action's inputs)."""
    lean_action_inputs = {"auto-config", "build", "test", "lint", "build-args", "use-mathlib-cache",
                          "check-reservoir-eligibility", "lean4checker", "use-github-cache", "lake-package-directory",
                          "reinstall-transient-toolchain"}
    step = step_using(load(AUTO_PROVE), "leanprover/lean-action")
    assert step["uses"] == "leanprover/lean-action@v1"
    assert set(step["with"]) <= lean_action_inputs
    assert step["with"]["use-mathlib-cache"] in ("true", "false", "auto")


def test_runs_the_headless_prover_with_a_json_report() -> None:
    doc = load(AUTO_PROVE)
    run = step_named(doc, "Search proofs")["run"]
    assert "auto-prove prove . --backend lean" in run
    assert '--json "$AUTO_PROVE_REPORT"' in run and '--budget "$AUTO_PROVE_BUDGET"' in run and "--cpu 1.0" in run
    assert "${{" not in run  # inputs reach the shell through env, never pasted into the script
    assert doc["env"]["AUTO_PROVE_REPORT"] == "auto-prove-report.json"
    assert doc["env"]["AUTO_PROVE_BUDGET"] == "${{ inputs.budget || 60 }}"


def test_uploads_the_report_always() -> None:
    upload = step_using(load(AUTO_PROVE), "actions/upload-artifact")
    assert upload["uses"] == "actions/upload-artifact@v4"
    assert upload["if"] == "always()"
    assert upload["with"]["path"].endswith("${{ env.AUTO_PROVE_REPORT }}")


# --------------------------------------------------------------------------------------------------
# the scripts inside the workflow, run here


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
@pytest.mark.parametrize(("spec", "extras", "expected"), [
    ("auto-prove", "lean", "auto-prove[lean]"),
    ("auto-prove==0.1.0", "lean", "auto-prove[lean]==0.1.0"),
    ("auto-prove>=0.1,<0.2", "lean", "auto-prove[lean]>=0.1,<0.2"),
    ("auto-prove @ git+https://github.com/o/auto-prove@v0.1.0", "lean",
     "auto-prove[lean] @ git+https://github.com/o/auto-prove@v0.1.0"),
    ("git+https://github.com/o/auto-prove@main", "lean", "auto-prove[lean] @ git+https://github.com/o/auto-prove@main"),
    ("./vendor/auto-prove", "lean,lsp", "./vendor/auto-prove[lean,lsp]"),
    ("auto-prove==0.1.0", "", "auto-prove==0.1.0"),
])
def test_install_step_builds_the_pip_requirement(spec: str, extras: str, expected: str, tmp_path: Path) -> None:
    """The install step's bash, with `pip` and `auto-prove` stubbed: the one argument pip gets."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "pip-args.json"
    (bin_dir / "pip").write_text(f"#!{sys.executable}\nimport json, sys\n"
                                 f"open({str(log)!r}, 'w').write(json.dumps(sys.argv[1:]))\n")
    (bin_dir / "auto-prove").write_text("#!/bin/sh\nexit 0\n")
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    step = step_named(load(AUTO_PROVE), "Install auto-prove")
    assert step["shell"] == "bash"
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "AUTO_PROVE_SPEC": spec,
           "AUTO_PROVE_EXTRAS": extras}
    r = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", step["run"]], env=env, capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(log.read_text()) == ["install", expected]


def _summary(tmp_path: Path, report: dict[str, Any] | None) -> str:
    """Run the summary step's Python in tmp_path (as the workflow's `shell: python` does) and return what it
    appended to GITHUB_STEP_SUMMARY."""
    step = step_named(load(AUTO_PROVE), "Write the job summary")
    assert step["shell"] == "python" and step["if"] == "always()"
    if report is not None:
        (tmp_path / "auto-prove-report.json").write_text(json.dumps(report))
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    script = tmp_path / "summary.py"
    script.write_text(step["run"])
    env = {**os.environ, "AUTO_PROVE_REPORT": "auto-prove-report.json", "GITHUB_WORKSPACE": str(tmp_path),
           "GITHUB_STEP_SUMMARY": str(summary)}
    r = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    text = summary.read_text()
    assert text.startswith("earlier step\n")  # appended, not overwritten
    return text


def test_summary_lists_proved_goals(tmp_path: Path) -> None:
    def goal(rel: str, line: int, name: str, status: str, verified: bool) -> dict[str, Any]:
        return {"file": str(tmp_path / rel), "line": line, "name": name, "kind": "sorry", "status": status,
                "proof": "simp" if verified else None, "seconds": 1.0, "attempts": 3, "verified": verified,
                "strategy": None, "header": None, "message": ""}

    report = {"goals": [goal("Foo/Basic.lean", 12, "add_zero'", "proved", True),
                        goal("Foo/Basic.lean", 30, "hard", "failed", False),
                        goal("Foo/Other.lean", 7, "or_comm'", "proved", True)],
              "summary": {"total": 3, "proved": 2, "wall_s": 9.0, "cpu_fraction": 0.9}}
    text = _summary(tmp_path, report)
    assert "Goals: 3, proved and checked by Lean: 2" in text
    assert "| `Foo/Basic.lean:12` | `add_zero'` |" in text
    assert "| `Foo/Other.lean:7` | `or_comm'` |" in text
    assert "hard" not in text and ":30" not in text


def test_summary_without_a_report(tmp_path: Path) -> None:
    assert "No report: auto-prove did not run to the end" in _summary(tmp_path, None)
