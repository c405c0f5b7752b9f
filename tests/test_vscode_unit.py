"""The extension's own unit tests (vscode-ext/src/test: sidecar discovery, settings mapping, status text), run with
Node's test runner after the TypeScript compiles: `npm test` in vscode-ext/, as a developer runs it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from editor_harness import EXTENSION

pytestmark = pytest.mark.timeout(600)


@pytest.mark.skipif(shutil.which("npm") is None and os.environ.get("AUTOPROVE_E2E_REQUIRED") != "1",
                    reason="npm is not installed")
def test_extension_unit_tests_pass() -> None:
    env = dict(os.environ, npm_config_fund="false", npm_config_audit="false", npm_config_update_notifier="false")
    if not (EXTENSION / "node_modules" / ".package-lock.json").exists():
        subprocess.run(["npm", "ci"], cwd=EXTENSION, env=env, check=True, capture_output=True, timeout=600)
    r = subprocess.run(["npm", "test"], cwd=EXTENSION, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    passed = re.search(r"^# pass (\d+)$", r.stdout, re.M)
    assert "# fail 0" in r.stdout and passed and int(passed.group(1)) >= 12, r.stdout[-2000:]
