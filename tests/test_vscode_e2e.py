"""The VS Code extension end to end, in a real VS Code (code-server) driven through headless Chromium.

The extension is built as a .vsix the way a user's `npm run package` builds it, installed into a fresh
code-server, and a Coq project with an easy `Admitted.` is opened. The test waits for auto-prove's status bar item
and diagnostic, applies the quick fix from the editor (Ctrl+. → "Insert verified proof (auto-prove)"), saves, and
checks that the file on disk changed and compiles with `coqc`. Screenshots of every step are kept on failure.

Needs the tools .ci/editor-tools installs (code-server, Node 24, chromium) and Playwright; without them the test is
skipped, unless AUTOPROVE_E2E_REQUIRED=1 (set by .ci/run), where a missing tool is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest

import editor_harness as eh

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

EASY = "Lemma add_zero_r : forall n : nat, n + 0 = n.\nProof.\nAdmitted.\n"
ARTIFACTS = Path(__file__).resolve().parent.parent / "e2e-artifacts"


def _require_tools() -> None:
    why = eh.missing_tools() or (None if shutil.which("coqc") else "coqc is not installed")
    if why:
        if os.environ.get("AUTOPROVE_E2E_REQUIRED") == "1":
            pytest.fail(f"editor end-to-end test cannot run: {why}")
        pytest.skip(why)


@pytest.fixture(scope="module")
def vsix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    _require_tools()
    return eh.build_vsix(tmp_path_factory.mktemp("vsix"))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "coqproj"
    folder.mkdir()
    (folder / "_CoqProject").write_text("-R . Demo\n")
    (folder / "Easy.v").write_text(EASY)
    return folder


@pytest.fixture
def steps_dir(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Path]:
    d = tmp_path / "screens"
    yield d
    failed = getattr(request.node, "rep_call", None)
    if (os.environ.get("AUTOPROVE_E2E_KEEP") == "1" or (failed is not None and failed.failed)) and d.exists():
        dest = ARTIFACTS / request.node.name
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(d, dest)
        print(f"screenshots of each step: {dest}")


def test_quick_fix_from_the_editor_writes_a_proof_that_compiles(vsix: Path, project: Path, tmp_path: Path,
                                                               steps_dir: Path) -> None:
    with eh.editor_page(vsix, project, tmp_path / "editor", eh.sidecar_settings(), steps_dir) as (editor, page, steps):
        assert any(p.name.startswith("auto-prove.auto-prove") for p in (editor.home / "extensions").iterdir())
        eh.open_file(page, steps, "Easy.v")
        # the status bar item appears and follows the sidecar
        eh.wait_status(page, steps, "auto-prove:")
        # auto-prove's diagnostic on the goal (Information severity)
        page.wait_for_selector(".monaco-editor .squiggly-info", timeout=120_000)
        steps.shot("diagnostic")
        eh.wait_status(page, steps, "1 found")
        item = eh.offer_quick_fix(page, steps)
        text = eh.apply_and_save(page, steps, item, project / "Easy.v", EASY)
    assert "Admitted." not in text and "Qed." in text and text.startswith("Lemma add_zero_r")
    r = subprocess.run(["coqc", "-R", ".", "Demo", "Easy.v"], cwd=project, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


def _sidecars(editor: eh.Editor) -> list[int]:
    """PIDs of the sidecar processes this editor started (descendants of code-server running `python -m sidecar
    lsp` or `auto-prove lsp`)."""
    import psutil

    assert editor.proc is not None
    out = []
    for p in psutil.Process(editor.proc.pid).children(recursive=True):
        try:
            cmd = p.cmdline()
        except psutil.Error:
            continue
        if "lsp" in cmd and any(a == "sidecar" or a.endswith("/auto-prove") for a in cmd):
            out.append(p.pid)
    return out


def test_status_menu_live_settings_and_a_guarded_restart(vsix: Path, project: Path, tmp_path: Path,
                                                          steps_dir: Path) -> None:
    """"Prove goal at cursor" answers; the status bar item's menu pauses and resumes; a changed setting reaches the
    running sidecar (same process); two restarts asked at once leave exactly one sidecar."""
    with eh.editor_page(vsix, project, tmp_path / "editor", eh.sidecar_settings(),
                        steps_dir) as (editor, page, steps):
        eh.open_file(page, steps, "Easy.v")
        eh.wait_status(page, steps, "1 found")
        first = _sidecars(editor)
        assert len(first) == 1, first
        # "Prove goal at cursor" on the goal's line answers what the sidecar knows of it
        page.locator(".monaco-editor .view-lines").first.click()
        page.keyboard.press("Control+End")
        eh.run_command(page, "auto-prove: Prove goal at cursor")
        note = page.locator(".notifications-toasts .notification-toast", has_text="add_zero_r (line 3)")
        note.first.wait_for(state="visible")
        assert "proof found, quick fix available" in note.first.inner_text()
        steps.shot("prove-here")
        # the menu of the status bar item
        page.locator(".part.statusbar .statusbar-item", has_text="auto-prove:").first.click()
        page.locator(".quick-input-list .monaco-list-row", has_text="Pause background search").first.click()
        eh.wait_status(page, steps, "auto-prove: paused")
        page.locator(".part.statusbar .statusbar-item", has_text="auto-prove:").first.click()
        page.locator(".quick-input-list .monaco-list-row", has_text="Resume background search").first.click()
        eh.wait_status(page, steps, "searching")
        # a live setting: the same sidecar process turns its search off
        settings = editor.home / "user-data" / "User" / "settings.json"
        eh.edit_user_settings(page, steps, settings, {**json.loads(settings.read_text()), "autoProve.enabled": False})
        eh.wait_status(page, steps, "auto-prove: off")
        assert _sidecars(editor) == first
        # two restarts at once: one sidecar afterwards, a new one
        eh.run_command(page, "auto-prove: Restart sidecar")
        eh.run_command(page, "auto-prove: Restart sidecar")
        eh.wait_status(page, steps, "auto-prove: off")  # the new sidecar reports (still disabled)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (len(_sidecars(editor)) != 1 or _sidecars(editor) == first):
            page.wait_for_timeout(200)
        now = _sidecars(editor)
        assert len(now) == 1 and now != first, (first, now, eh.extension_log(editor))


def test_a_wrong_server_path_says_what_to_fix(vsix: Path, project: Path, tmp_path: Path, steps_dir: Path) -> None:
    with eh.editor_page(vsix, project, tmp_path / "editor", {"autoProve.serverPath": "/nonexistent/auto-prove"},
                        steps_dir) as (editor, page, steps):
        eh.open_file(page, steps, "Easy.v")
        eh.wait_status(page, steps, "no sidecar")
        note = page.locator(".notifications-toasts .notification-toast", has_text="autoProve.serverPath")
        note.first.wait_for(state="visible")
        steps.shot("message")
        assert "/nonexistent/auto-prove" in note.first.inner_text()
        assert _sidecars(editor) == []
