"""A real VS Code (code-server) with the auto-prove extension installed, driven through headless Chromium.

Used by tests/test_vscode_e2e.py and benchmarks/editor_e2e.py. The recipe (../shared/notes/vscode-e2e-on-this-
machine.md): code-server from npm on Node 24 (installed by .ci/editor-tools under a tools folder outside the
clone), Playwright for Python with Debian's chromium (never `playwright install`). Waits are on selectors and on
file contents, never fixed sleeps; every step leaves a screenshot, kept when something fails.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

REPO = Path(__file__).resolve().parent.parent
EXTENSION = REPO / "vscode-ext"
CODE_SERVER_VERSION = "4.139.1"
CHROMIUM = "/usr/bin/chromium"
QUICK_FIX_TITLE = "Insert verified proof (auto-prove)"


def tools_dir() -> Path:
    return Path(os.environ.get("AUTOPROVE_TOOLS") or Path.home() / ".cache" / "auto-prove-tools")


def code_server_bin() -> Path:
    return tools_dir() / f"code-server-{CODE_SERVER_VERSION}" / "node_modules" / ".bin" / "code-server"


def node24_bin_dir() -> Path:
    return tools_dir() / "node24" / "node_modules" / ".bin"


def missing_tools() -> str | None:
    """None when everything the editor test needs is here, else what is missing (and how to get it)."""
    if not code_server_bin().exists() or not (node24_bin_dir() / "node").exists():
        return f"code-server {CODE_SERVER_VERSION} / Node 24 not under {tools_dir()} (run .ci/editor-tools)"
    if not Path(CHROMIUM).exists():
        return "chromium is not installed (run .ci/editor-tools)"
    if shutil.which("npm") is None:
        return "npm is not installed"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "playwright (Python) is not installed (pip install -e '.[test]')"
    return None


def build_vsix(out_dir: Path) -> Path:
    """`npm ci` (or install) and `npm run package` in vscode-ext/, as a user would; the .vsix is copied out."""
    env = dict(os.environ, npm_config_fund="false", npm_config_audit="false", npm_config_update_notifier="false")
    install = ["npm", "ci"] if (EXTENSION / "package-lock.json").exists() else ["npm", "install"]
    if not (EXTENSION / "node_modules" / ".package-lock.json").exists():
        subprocess.run(install, cwd=EXTENSION, env=env, check=True, capture_output=True, timeout=600)
    subprocess.run(["npm", "run", "package"], cwd=EXTENSION, env=env, check=True, capture_output=True, timeout=600)
    out_dir.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy2(EXTENSION / "auto-prove.vsix", out_dir / "auto-prove.vsix"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Editor:
    """One code-server process (fresh profile) with the extension installed, serving `folder`."""

    folder: Path
    home: Path
    settings: dict[str, Any]
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.home / "code-server.log"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PATH"] = f"{node24_bin_dir()}{os.pathsep}{env.get('PATH', '')}"
        env["XDG_CONFIG_HOME"] = str(self.home / "config")
        env["XDG_DATA_HOME"] = str(self.home / "data")
        env["XDG_CACHE_HOME"] = str(self.home / "cache")
        env.pop("VSCODE_IPC_HOOK_CLI", None)
        return env

    def install(self, vsix: Path) -> None:
        user = self.home / "user-data"
        (user / "User").mkdir(parents=True, exist_ok=True)
        base = {"workbench.startupEditor": "none", "security.workspace.trust.enabled": False,
                "telemetry.telemetryLevel": "off", "update.mode": "none", "extensions.autoUpdate": False,
                "extensions.autoCheckUpdates": False, "workbench.tips.enabled": False,
                "editor.quickSuggestions": {"other": False, "comments": False, "strings": False},
                "workbench.enableExperiments": False, "files.autoSave": "off"}
        (user / "User" / "settings.json").write_text(json.dumps({**base, **self.settings}, indent=1))
        r = subprocess.run([str(code_server_bin()), "--user-data-dir", str(user), "--extensions-dir",
                            str(self.home / "extensions"), "--install-extension", str(vsix)],
                           env=self.env(), capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError(f"code-server --install-extension failed: {r.stdout}\n{r.stderr}")

    def start(self, timeout: float = 60) -> str:
        self.port = _free_port()
        logf = open(self.log, "wb")
        self.proc = subprocess.Popen(
            [str(code_server_bin()), "--bind-addr", f"127.0.0.1:{self.port}", "--auth", "none",
             "--user-data-dir", str(self.home / "user-data"), "--extensions-dir", str(self.home / "extensions"),
             "--disable-telemetry", "--disable-update-check", "--disable-workspace-trust",
             "--disable-getting-started-override", str(self.folder)],
            env=self.env(), stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
        url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"code-server exited: {self.log.read_text(errors='replace')[-2000:]}")
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=2) as r:
                    if r.status == 200:
                        return f"{url}/?folder={self.folder}"
            except OSError:
                time.sleep(0.1)
        raise TimeoutError("code-server did not answer /healthz")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=15)
            except (OSError, subprocess.TimeoutExpired):
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=15)


def extension_log(editor: "Editor") -> str:
    """The extension's output channel ("auto-prove") as code-server logged it."""
    logs = sorted((editor.home / "user-data" / "logs").glob("*/exthost*/output_logging_*/*auto-prove.log"))
    return "\n".join(p.read_text(errors="replace") for p in logs)


class Steps:
    """Screenshots of each step, kept in `folder` (the caller keeps them when something failed)."""

    def __init__(self, page: Any, folder: Path) -> None:
        self.page, self.folder, self.n = page, folder, 0
        folder.mkdir(parents=True, exist_ok=True)

    def shot(self, name: str) -> None:
        self.n += 1
        try:
            self.page.screenshot(path=str(self.folder / f"{self.n:02d}-{name}.png"))
        except Exception:  # a screenshot must never hide the real failure
            pass


@contextmanager
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                               args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                     "--disable-component-update", "--no-first-run", "--disable-sync",
                                     "--disable-dev-shm-usage"])
        try:
            yield b
        finally:
            b.close()


def open_workbench(b: Any, url: str, steps_dir: Path) -> tuple[Any, Steps]:
    page = b.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(60_000)
    page.goto(url)
    page.wait_for_selector(".monaco-workbench .part.statusbar", timeout=90_000)
    steps = Steps(page, steps_dir)
    steps.shot("workbench")
    return page, steps


@contextmanager
def editor_page(vsix: Path, folder: Path, home: Path, settings: dict[str, Any],
                steps_dir: Path) -> Iterator[tuple[Editor, Any, Steps]]:
    """A fresh code-server for `folder` with the extension installed and `settings`, and a browser page on its
    workbench; both are stopped afterwards."""
    home.mkdir(parents=True, exist_ok=True)
    editor = Editor(folder, home, settings)
    editor.install(vsix)
    url = editor.start()
    try:
        with browser() as b:
            page, steps = open_workbench(b, url, steps_dir)
            yield editor, page, steps
    finally:
        editor.stop()


def open_file(page: Any, steps: Steps, name: str) -> float:
    """Quick Open (Ctrl+P), the file's name, Enter; waits for its editor tab. Returns when Enter was pressed
    (time.monotonic())."""
    page.keyboard.press("Escape")  # a menu or hover left open would take the click
    page.locator(".monaco-workbench .part.editor").click(position={"x": 200, "y": 200})
    page.keyboard.press("Control+P")
    page.wait_for_selector(".quick-input-widget input", state="visible")
    page.keyboard.type(name)
    page.wait_for_selector(f".quick-input-list .monaco-list-row[aria-label*='{name}']")
    t0 = time.monotonic()
    page.keyboard.press("Enter")
    page.wait_for_selector(f".tabs-container .tab[aria-label*='{name}']")
    page.wait_for_selector(".monaco-editor .view-lines")
    steps.shot(f"opened-{name}")
    return t0


def status_text(page: Any) -> str:
    items = page.locator(".part.statusbar .statusbar-item", has_text="auto-prove")
    return " | ".join(items.all_inner_texts())


def wait_status(page: Any, steps: Steps, needle: str, timeout: float = 120) -> str:
    """Waits for the auto-prove status bar item to contain `needle`."""
    page.wait_for_selector(f".part.statusbar .statusbar-item:has-text('{needle}')", timeout=timeout * 1000)
    steps.shot("status-" + needle.replace(" ", "-"))
    return status_text(page)


def offer_quick_fix(page: Any, steps: Steps, timeout: float = 120) -> Any:
    """Puts the cursor on the next problem (F8, Escape) and opens the quick fixes (Ctrl+.) until auto-prove's is
    in the list; returns that list item."""
    deadline = time.monotonic() + timeout
    page.keyboard.press("Escape")  # a menu or hover left open would take the click
    page.locator(".monaco-editor .view-lines").first.click()
    while True:  # keys only from here: a click could land on a menu that is still closing
        page.keyboard.press("Escape")
        page.keyboard.press("Control+Home")
        page.keyboard.press("F8")
        page.keyboard.press("Escape")
        page.keyboard.press("Control+.")
        item = page.locator(".action-widget .monaco-list-row", has_text=QUICK_FIX_TITLE)
        try:
            # the menu is filled once; if the fix was not there yet, the whole gesture is made again (so the time
            # at which the fix is seen is known to within about this wait plus the gesture, ~1.2 s)
            item.first.wait_for(state="visible", timeout=1000)
            steps.shot("quick-fix-offered")
            return item.first
        except Exception:
            page.keyboard.press("Escape")
            if time.monotonic() > deadline:
                steps.shot("no-quick-fix")
                raise


def apply_and_save(page: Any, steps: Steps, item: Any, file: Path, before: str, timeout: float = 30) -> str:
    item.click()
    steps.shot("quick-fix-applied")
    page.keyboard.press("Control+S")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = file.read_text(encoding="utf-8")
        if text != before:
            steps.shot("saved")
            return text
        page.wait_for_timeout(100)
    steps.shot("not-saved")
    raise TimeoutError(f"{file} did not change on disk after the quick fix and Ctrl+S")


def run_command(page: Any, title: str) -> None:
    """Runs a command from the command palette (F1) by its title."""
    page.keyboard.press("F1")
    page.wait_for_selector(".quick-input-widget input", state="visible")
    page.keyboard.type(title)
    page.locator(".quick-input-list .monaco-list-row", has_text=title).first.wait_for(state="visible")
    page.keyboard.press("Enter")


def edit_user_settings(page: Any, steps: Steps, file: Path, settings: dict[str, Any], timeout: float = 30) -> None:
    """Replaces the user settings the way a user does: "Preferences: Open User Settings (JSON)", new text, Ctrl+S;
    waits for `file` (the settings file) to hold them. (code-server does not notice that file changing on disk
    behind its back.) The settings editor may open as a tab or as a modal editor, depending on the version."""
    run_command(page, "Preferences: Open User Settings (JSON)")
    view = page.locator(".monaco-editor:has-text('workbench.startupEditor') .view-lines").last
    view.wait_for(state="visible")
    view.click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(json.dumps(settings))  # one line: no auto-indent between the brackets
    page.keyboard.press("Control+Shift+End")  # and without what the editor auto-closed after the cursor
    page.keyboard.press("Delete")
    page.keyboard.press("Control+S")
    deadline = time.monotonic() + timeout
    while True:
        text = file.read_text()
        try:
            if json.loads(text) == settings:
                break
        except ValueError:
            pass  # being written
        if time.monotonic() > deadline:
            steps.shot("settings-not-saved")
            raise TimeoutError(f"{file} did not get the new settings; it holds:\n{text}")
        page.wait_for_timeout(100)
    steps.shot("settings-saved")
    page.keyboard.press("Control+W")


def sidecar_settings() -> dict[str, Any]:
    """Editor settings that point the extension at this checkout's sidecar (through this Python)."""
    return {"autoProve.python": sys.executable, "autoProve.budgetSeconds": 60, "autoProve.cpuTarget": 0.5}
