"""`auto-prove lsp`: the language-server shell over `LiveWorkspace` (stdio, pygls).

For every goal of an open document: an Information diagnostic (source `auto-prove`) that follows its search, a
hover with what the search knows, and — once a proof is verified — a preferred quick fix that replaces exactly the
placeholder, as a versioned `TextDocumentEdit`. Commands: `autoProve.proveHere`, `autoProve.pause`,
`autoProve.resume`, `autoProve.status`, `autoProve.dashboard` (starts the dashboard on first use and answers
`{"url": ...}` with its token; `dashboard/`), `autoProve.syncImport` (results exported elsewhere, `sync.py`, taken
and their goals searched again at once); notification `autoProve/status` for status bars. Settings (from
`initializationOptions` or `workspace/didChangeConfiguration`, key `autoProve`): `cpuTarget`, `enabled`,
`budgetSeconds`, `maxProvers`, `strict`, `profile`, `ticketSeconds`, and profile 2's `llm`, `llmBaseUrl`,
`llmDollars`, `llmCalls`, `llmStepCalls`.

Everything here is translation between LSP and the workspace: positions (LSP counts UTF-16 code units, goals
count code points), throttling (at most one diagnostics message per document every 250 ms), and threads (the
scheduler reports from worker threads; messages go out on the server's event loop).
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from lsprotocol import types as T
from pygls.lsp.server import LanguageServer

from . import __version__
from .endpoint import Endpoint
from .live import Document, LiveWorkspace, TrackedGoal, depends_through
from .scheduler import ProveOptions
from .strategies import DEFAULT_PROFILE
from .workspace import collect_files

__all__ = ["AutoProveServer", "main", "SOURCE", "QUICK_FIX_TITLE", "STATUS_METHOD"]

log = logging.getLogger(__name__)

SOURCE = "auto-prove"
QUICK_FIX_TITLE = "Insert verified proof (auto-prove)"
STATUS_METHOD = "autoProve/status"
MIN_INTERVAL = 0.25  # seconds between two diagnostics messages for one document
MAX_WORKSPACE_FILES = 2000


def uri_to_path(uri: str) -> Path | None:
    p = urlparse(uri)
    if p.scheme != "file":
        return None
    return Path(unquote(p.path)).absolute()


def path_to_uri(path: Path) -> str:
    return path.absolute().as_uri()


class Positions:
    """Code-point positions (what goals count) to the client's units (the encoding negotiated at initialize:
    UTF-16 by default, UTF-8 or UTF-32 when the client prefers them), and back."""

    def __init__(self, codec: Any, text: str) -> None:
        self.codec = codec
        self.lines = text.split("\n")

    def to_client(self, line: int, col: int) -> T.Position:
        if not 0 <= line < len(self.lines):
            return T.Position(line=max(0, min(line, len(self.lines))), character=0)
        return self.codec.position_to_client_units(self.lines, T.Position(line=line, character=col))

    def from_client(self, pos: T.Position) -> tuple[int, int]:
        if not 0 <= pos.line < len(self.lines):
            return pos.line, 0
        p = self.codec.position_from_client_units(self.lines, pos)
        return p.line, p.character

    def range(self, line: int, col: int, end_line: int, end_col: int) -> T.Range:
        return T.Range(start=self.to_client(line, col), end=self.to_client(end_line, end_col))

    def goal(self, tg: TrackedGoal) -> T.Range:
        g = tg.goal
        end_line = (g.end_line or g.line) - 1
        end_col = g.end_column if g.end_line else g.column + len("Admitted." if g.kind == "admitted" else "admit.")
        return self.range(g.line - 1, g.column, end_line, end_col)


def status_message(tg: TrackedGoal, budget: float, paused: bool) -> str:
    out = tg.out
    restarted = f", prover restarted {out.crashes}×" if out.crashes else ""
    if out.status == "proved" and out.verified:
        return f"proof found ({out.proof_label()}) — quick fix available"
    if out.status == "skipped":
        return out.message
    if out.status == "searching" and out.phase:
        return out.phase
    if out.status == "searching":
        return f"searching ({out.seconds:.0f} s, {out.attempts} tactics tried{restarted})"
    if out.status in ("exhausted", "timeout"):
        extra = f": {out.message}" if out.message else ""
        return f"no proof within budget ({budget:.0f} s{restarted}){extra}"[:300]
    if out.status == "error":
        return f"error: {out.message}"[:300]
    return "queued (paused)" if paused else "queued"



class AutoProveServer(LanguageServer):
    """pygls server holding one LiveWorkspace."""

    def __init__(self) -> None:
        super().__init__("auto-prove", __version__, text_document_sync_kind=T.TextDocumentSyncKind.Incremental)
        self.live: LiveWorkspace | None = None
        # profile 1 in the editor (`autoProve.profile`): a long-lived process loads the memory once, and no goal waits
        # for a library's first harvest (library_seconds=0: they are harvested in the background)
        self.options = ProveOptions(profile=DEFAULT_PROFILE, library_seconds=0.0)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last_sent: dict[Path, float] = {}
        self._scheduled: set[Path] = set()
        self._watch_stop = threading.Event()
        self._status_last = 0.0
        self._status_scheduled = False
        self._initially_enabled = True  # `autoProve.enabled` from initializationOptions
        self._lean_warned = False
        self.endpoint: Endpoint | None = None
        self.dashboard: Any = None  # dashboard.server.Dashboard, started by the first `autoProve.dashboard`
        self._dashboard_lock = threading.Lock()

    def open_dashboard(self) -> str:
        """The dashboard's URL (token included), starting it over this workspace the first time."""
        with self._dashboard_lock:
            if self.dashboard is None:
                from .dashboard.model import DashboardModel
                from .dashboard.server import Dashboard

                if self.live is None or self.live.root is None:
                    raise ValueError("the dashboard needs a workspace folder")
                self.dashboard = Dashboard(DashboardModel(self.live.root, self.live)).start()
                self.dashboard.model.start()
            return str(self.dashboard.url)

    def close_workspace(self) -> None:
        """Stop watching and searching; kill every prover (idempotent)."""
        self._watch_stop.set()
        endpoint, self.endpoint = self.endpoint, None
        if endpoint is not None:
            endpoint.close()
        with self._dashboard_lock:
            board, self.dashboard = self.dashboard, None
        if board is not None:
            board.close()
            board.model.close()
        live = self.live
        if live is not None:
            live.close()

    def shutdown(self) -> None:
        """Also on `exit` without `shutdown`, or when the client's end of stdio closes."""
        try:
            self.close_workspace()
        finally:
            super().shutdown()

    # -- thread hand-off -------------------------------------------------------------------------------------

    def call_soon(self, fn: Any, *args: Any) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # the loop is shutting down
            pass

    # -- workspace events -> messages ------------------------------------------------------------------------

    def document_changed(self, doc: Document) -> None:
        """From any thread: publish `doc`'s diagnostics, at most every MIN_INTERVAL per document."""
        self.call_soon(self._schedule_publish, doc.path)

    def _schedule_publish(self, path: Path) -> None:
        if path in self._scheduled:
            return
        wait = self._last_sent.get(path, 0.0) + MIN_INTERVAL - time.monotonic()
        if wait <= 0:
            self._publish(path)
            return
        self._scheduled.add(path)
        assert self._loop is not None
        self._loop.call_later(wait, self._publish_scheduled, path)

    def _publish_scheduled(self, path: Path) -> None:
        self._scheduled.discard(path)
        self._publish(path)

    def _publish(self, path: Path) -> None:
        if self.live is None:
            return
        doc = self.live.docs.get(path)
        if doc is None or not doc.is_open:
            return
        self._last_sent[path] = time.monotonic()
        self.text_document_publish_diagnostics(T.PublishDiagnosticsParams(
            uri=path_to_uri(path), version=doc.version, diagnostics=self.diagnostics(doc)))

    def positions(self, doc: Document) -> Positions:
        return Positions(self.workspace.position_codec, doc.text)

    def diagnostics(self, doc: Document) -> list[T.Diagnostic]:
        assert self.live is not None
        text = doc.text
        pos = self.positions(doc)
        diags: list[T.Diagnostic] = []
        if doc.error and not doc.goals:
            line = max(0, (doc.error_line or 1) - 1)
            diags.append(T.Diagnostic(range=pos.range(line, 0, line, 0), severity=T.DiagnosticSeverity.Warning,
                                      source=SOURCE, message=f"cannot find goals: {doc.error}"[:500]))
            return diags
        current = doc.found_text == text
        valid = self.valid_goals(doc)
        if doc.found_text is None or (not current and len(valid) < len(doc.goals)):
            # the prover has not looked at this text yet: placeholders found lexically are queued, except those of
            # goals whose text and everything before it are unchanged (their state and quick fix still hold)
            taken = [pos.goal(tg) for tg in valid]
            for (l, c, el, ec, _) in doc.prescan:
                r = pos.range(l, c, el, ec)
                if not any(_overlap(r, t) for t in taken):
                    diags.append(T.Diagnostic(range=r, severity=T.DiagnosticSeverity.Information, source=SOURCE,
                                              code="queued", message="queued (building dependencies)"
                                              if doc.building else "queued (finding goals)"))
            if doc.found_text is None:
                return diags
        budget, paused = self.live.options.budget, self.live.scheduler.paused
        if doc.error and doc.error_line and current:
            line = doc.error_line - 1
            diags.append(T.Diagnostic(range=pos.range(line, 0, line, 0), severity=T.DiagnosticSeverity.Warning,
                                      source=SOURCE, message=f"goals after this point are not searched: the file "
                                                             f"stops compiling here ({doc.error})"[:500]))
        for tg in valid:
            diags.append(T.Diagnostic(range=pos.goal(tg), severity=T.DiagnosticSeverity.Information,
                                      source=SOURCE, code=tg.out.status,
                                      message=status_message(tg, budget, paused)))
        return diags

    def quick_fix_edits(self, doc: Document, tg: TrackedGoal) -> list[T.TextEdit | T.AnnotatedTextEdit]:
        """The edits of a goal's verified proof: exactly those the verifier checked (`patch.plan_edits`: the
        placeholder, `Admitted.` → `Qed.` when the last `admit.` of a proof is filled, the import line)."""
        from .patch import plan_edits

        out = tg.out
        if doc.found_text is None or out.replacement is None:
            return []
        found = doc.found_text.encode("utf-8")
        if tg.ticket.source is not None and tg.ticket.source != found:
            return []  # verified in an older text: it is being verified again in this one
        try:
            planned = plan_edits(found, [(tg.goal, out.replacement)],
                                 headers=out.header.split("\n") if out.header else ())
        except ValueError as e:
            log.warning("no quick fix for %s: %s", tg.goal.lemma, e)
            return []
        pos = self.positions(doc)

        def at(offset: int) -> T.Position:
            before = found[:offset].decode("utf-8", "replace")
            line = before.count("\n")
            return pos.to_client(line, len(before) - (before.rfind("\n") + 1))

        return [T.TextEdit(range=T.Range(start=at(e.start), end=at(e.end)), new_text=e.text.decode("utf-8"))
                for e in planned]

    def ticket_actions(self, doc: Document, tg: TrackedGoal, uri: str) -> list[T.CodeAction]:
        """"Add helper lemma …": each ticket of the goal as a lemma of its own before the goal's (its proof when it
        has one, else `Admitted.`); the statement was checked at that place by Coq (tickets.py). None for a name the
        document already has."""
        if doc.found_text is None:
            return []
        before = doc.found_text.encode("utf-8")[:tg.goal.statement_start].decode("utf-8", "replace")
        line = before.count("\n")
        start = self.positions(doc).to_client(line, len(before) - (before.rfind("\n") + 1))
        out = []
        for t in tg.out.tickets:
            if re.search(rf"(?<![\w'.]){re.escape(t.name)}(?![\w'])", doc.found_text):
                continue
            edit = T.WorkspaceEdit(document_changes=[T.TextDocumentEdit(
                text_document=T.OptionalVersionedTextDocumentIdentifier(uri=uri, version=doc.version),
                edits=[T.TextEdit(range=T.Range(start=start, end=start),
                                  new_text=t.insertion(before))])])
            how = "with its proof" if t.proof else "Admitted."
            out.append(T.CodeAction(title=f"auto-prove: add helper lemma {t.name} ({how})",
                                    kind=T.CodeActionKind.QuickFix, is_preferred=False, edit=edit))
        return out

    @staticmethod
    def valid_goals(doc: Document) -> list[TrackedGoal]:
        """The goals found in `doc.found_text` that still hold in the current text: all of them when it is that
        text; after an edit, those whose own text and everything before it are unchanged (then their places,
        states and proofs still apply: a proof depends on nothing after that — `live.depends_through`)."""
        if doc.found_text is None:
            return []
        if doc.found_text == doc.text:
            return list(doc.goals)
        old, new = doc.found_text.encode("utf-8"), doc.text.encode("utf-8")
        out = []
        for tg in doc.goals:
            upto = depends_through(tg.goal, old)
            # the same bytes up to there, and what follows still ends the sentence there
            if upto is not None and old[:upto] == new[:upto] and (len(new) == upto or new[upto:upto + 1].isspace()):
                out.append(tg)
        return out

    def status_changed(self, status: dict[str, object]) -> None:
        self.call_soon(self._send_status)

    def _send_status(self) -> None:
        if self.live is None:
            return
        wait = self._status_last + MIN_INTERVAL - time.monotonic()
        if wait > 0:
            if not self._status_scheduled:
                self._status_scheduled = True
                assert self._loop is not None
                self._loop.call_later(wait, self._send_status_later)
            return
        self._status_last = time.monotonic()
        self.protocol.notify(STATUS_METHOD, self.live.status())

    def _send_status_later(self) -> None:
        self._status_scheduled = False
        self._send_status()

    # -- settings ----------------------------------------------------------------------------------------------

    def apply_settings(self, settings: Any) -> None:
        if not isinstance(settings, dict):
            return
        s = settings.get("autoProve", settings)
        if not isinstance(s, dict):
            return
        kw: dict[str, Any] = {}

        def number(key: str, lo: float, hi: float) -> float | None:
            v = s.get(key)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and lo <= v <= hi:
                return float(v)
            if v is not None:
                self.window_show_message(T.ShowMessageParams(
                    type=T.MessageType.Warning, message=f"auto-prove: ignoring autoProve.{key} = {v!r} "
                                                        f"(expected a number from {lo:g} to {hi:g})"))
            return None

        cpu = number("cpuTarget", 0.05, 1.0)
        budget = number("budgetSeconds", 1.0, 86400.0)
        provers = number("maxProvers", 0, 64)  # 0: as many as the CPU target allows
        tickets = number("ticketSeconds", 0.0, 3600.0)  # helper lemmas: seconds each (0: proposed only)
        if cpu is not None:
            kw["cpu"] = cpu
        if budget is not None:
            kw["budget"] = budget
        if provers is not None:
            kw["max_provers"] = int(provers)
        if tickets is not None:
            kw["ticket_seconds"] = tickets
        if isinstance(s.get("enabled"), bool):
            kw["enabled"] = s["enabled"]
        if isinstance(s.get("strict"), bool):
            kw["strict"] = s["strict"]
        profile = s.get("profile")
        if isinstance(profile, int) and not isinstance(profile, bool):
            from .strategies import PROFILES

            if profile in PROFILES:
                kw["profile"] = profile
            else:
                self.window_show_message(T.ShowMessageParams(
                    type=T.MessageType.Warning, message=f"auto-prove: ignoring autoProve.profile = {profile!r} "
                                                        f"(known: {', '.join(map(str, PROFILES))})"))
        llm = self._llm_settings(s)
        if llm:
            kw["llm"] = llm
        if self.live is None:
            self.options = replace(self.options, **{k: v for k, v in kw.items() if k not in ("enabled", "llm")},
                                   **llm)
            self._initially_enabled = kw.get("enabled", True)
        else:
            self.live.configure(**kw)

    def _llm_settings(self, s: dict[str, Any]) -> dict[str, Any]:
        """Profile 2's model from `autoProve.llm` ("openai:<model>" | "anthropic:<model>"), `llmBaseUrl`, and the
        caps `llmDollars`, `llmCalls`, `llmStepCalls` (the keys stay in the environment); a wrong one is said and
        ignored."""
        out: dict[str, Any] = {}
        if "llm" in s:
            spec = s.get("llm") or ""
            base = s.get("llmBaseUrl") or None
            try:
                if spec:
                    from .llm.providers import provider_from_spec

                    provider_from_spec(str(spec), base_url=base)
                out.update(llm=str(spec), llm_base_url=base)
            except Exception as e:  # LLMError: the SDK missing, a wrong spec
                self.window_show_message(T.ShowMessageParams(
                    type=T.MessageType.Warning, message=f"auto-prove: ignoring autoProve.llm = {spec!r}: {e}"))
        for key, field, kind in (("llmDollars", "llm_run_dollars", float), ("llmCalls", "llm_run_calls", int),
                                 ("llmStepCalls", "llm_step_calls", int)):
            v = s.get(key)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0:
                out[field] = kind(v)
            elif v is not None:
                self.window_show_message(T.ShowMessageParams(
                    type=T.MessageType.Warning, message=f"auto-prove: ignoring autoProve.{key} = {v!r} "
                                                        f"(expected a number from 0)"))
        return out

    # -- watching the workspace -------------------------------------------------------------------------------

    def workspace_backends(self) -> list[str]:
        """Backends whose files are searched when not open: Coq always, Lean when a toolchain is found (each Lean
        file with a `sorry` is run in the REPL to find its goals; without a toolchain that cannot happen)."""
        from .toolchains import missing_toolchain

        return ["coq"] + (["lean"] if missing_toolchain("lean") is None else [])

    def watch(self, root: Path, backends: list[str]) -> None:
        """Goals of the project's other files (of `backends`), kept current by watching them."""
        if self.live is not None:
            self.live.watch(root, backends, self._watch_stop)


def build_server() -> AutoProveServer:
    server = AutoProveServer()

    @server.feature(T.INITIALIZE)
    def initialize(ls: AutoProveServer, params: T.InitializeParams) -> None:
        ls.apply_settings(params.initialization_options or {})

    @server.feature(T.INITIALIZED)
    async def initialized(ls: AutoProveServer, params: T.InitializedParams) -> None:
        ls._loop = asyncio.get_running_loop()
        root = uri_to_path(ls.workspace.root_uri) if ls.workspace.root_uri else None
        ls.live = LiveWorkspace(ls.options, root, on_document=ls.document_changed, on_status=ls.status_changed)
        ls.live.enabled = ls._initially_enabled
        ls.live.start()
        if not ls.live.enabled:
            ls.live.scheduler.pause()
        for doc in list(ls.workspace.text_documents.values()):  # opened before `initialized`
            p = uri_to_path(doc.uri)
            if p is not None:
                ls.live.open(p, doc.source, doc.version)
        if root is not None and root.is_dir():
            try:  # the channel of the Lean package's `auto_prove` / `#sorries` (and any other local caller)
                ls.endpoint = Endpoint(root, ls.live).start()
            except OSError as e:
                log.warning("no HTTP endpoint for %s: %s", root, e)

            def scan() -> None:  # off the event loop: looking for a Lean toolchain imports lean-interact (~0.4 s)
                backends = ls.workspace_backends()
                ls.watch(root, backends)
                try:
                    files = [f for b in backends for f in collect_files([root], b)]
                    files = files[:MAX_WORKSPACE_FILES]
                except Exception as e:
                    log.warning("cannot list %s: %s", root, e)
                    return
                if ls.live is not None:
                    ls.live.add_workspace_files([f.absolute() for f in files])
            threading.Thread(target=scan, name="workspace-scan", daemon=True).start()

    @server.feature(T.SHUTDOWN)
    async def shutdown(ls: AutoProveServer, *args: Any) -> None:
        await asyncio.to_thread(ls.close_workspace)  # provers are killed; the event loop stays responsive

    @server.feature(T.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: AutoProveServer, params: T.DidOpenTextDocumentParams) -> None:
        p = uri_to_path(params.text_document.uri)
        if p is not None and ls.live is not None:
            ls.live.open(p, params.text_document.text, params.text_document.version)
            if p.suffix == ".lean" and not ls._lean_warned:
                from .toolchains import missing_toolchain

                why = missing_toolchain("lean")
                if why:
                    ls._lean_warned = True
                    ls.window_show_message(T.ShowMessageParams(
                        type=T.MessageType.Info, message=f"auto-prove: Lean files are not searched here: {why}"))

    @server.feature(T.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: AutoProveServer, params: T.DidChangeTextDocumentParams) -> None:
        p = uri_to_path(params.text_document.uri)
        if p is None or ls.live is None:
            return
        doc = ls.workspace.get_text_document(params.text_document.uri)
        lines = [c.range.start.line for c in params.content_changes
                 if isinstance(c, T.TextDocumentContentChangePartial)]
        ls.live.change(p, doc.source, params.text_document.version, min(lines) if lines else None)

    @server.feature(T.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: AutoProveServer, params: T.DidSaveTextDocumentParams) -> None:
        return None  # open documents follow the editor's text; saving changes nothing we track

    @server.feature(T.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: AutoProveServer, params: T.DidCloseTextDocumentParams) -> None:
        p = uri_to_path(params.text_document.uri)
        if p is not None and ls.live is not None:
            ls.live.close_document(p)
            ls.text_document_publish_diagnostics(T.PublishDiagnosticsParams(uri=params.text_document.uri,
                                                                            diagnostics=[]))

    @server.feature(T.TEXT_DOCUMENT_HOVER)
    def hover(ls: AutoProveServer, params: T.HoverParams) -> T.Hover | None:
        doc = _doc(ls, params.text_document.uri)
        if doc is None:
            return None
        pos = ls.positions(doc)
        tg = LiveWorkspace.goal_at(doc, *pos.from_client(params.position))
        if tg is None or not any(v is tg for v in ls.valid_goals(doc)):
            return None
        return T.Hover(contents=T.MarkupContent(kind=T.MarkupKind.Markdown, value=hover_text(ls, tg)),
                       range=pos.goal(tg))

    @server.feature(T.TEXT_DOCUMENT_CODE_ACTION,
                    T.CodeActionOptions(code_action_kinds=[T.CodeActionKind.QuickFix]))
    def code_action(ls: AutoProveServer, params: T.CodeActionParams) -> list[T.CodeAction] | None:
        doc = _doc(ls, params.text_document.uri)
        if doc is None or doc.version is None:
            return None
        actions = []
        pos = ls.positions(doc)
        for tg in ls.valid_goals(doc):  # since the last edit, only goals it cannot have touched: no stale edit
            out = tg.out
            r = pos.goal(tg)
            if r.end.line < params.range.start.line or r.start.line > params.range.end.line:
                continue
            if out.tickets and out.status != "proved":
                actions += ls.ticket_actions(doc, tg, params.text_document.uri)
            if not (out.status == "proved" and out.verified and out.replacement):
                continue
            edits = ls.quick_fix_edits(doc, tg)
            if not edits:
                continue
            edit = T.WorkspaceEdit(document_changes=[T.TextDocumentEdit(
                text_document=T.OptionalVersionedTextDocumentIdentifier(uri=params.text_document.uri,
                                                                        version=doc.version),
                edits=edits)])
            diag = [d for d in params.context.diagnostics if d.source == SOURCE and d.range == r]
            title = QUICK_FIX_TITLE if not out.depends_on_open else \
                f"{QUICK_FIX_TITLE[:-1]}; {out.proof_label().removeprefix('verified, ')})"
            actions.append(T.CodeAction(title=title, kind=T.CodeActionKind.QuickFix,
                                        is_preferred=not out.depends_on_open, edit=edit, diagnostics=diag or None))
        return actions

    @server.command("autoProve.proveHere")
    def prove_here(ls: AutoProveServer, *args: Any) -> dict[str, Any]:
        """Arguments: uri, line, character (0-based, UTF-16) — or one object {uri, position}."""
        uri, line, char = _position_args(args)
        doc = _doc(ls, uri) if uri else None
        if doc is None or ls.live is None or not ls.valid_goals(doc):
            return {"ok": False, "message": "no open document with goals at that position (yet)"}
        tg = ls.live.prove_here(doc.path, *ls.positions(doc).from_client(T.Position(line=line, character=char)))
        if tg is None:
            return {"ok": False, "message": "no goal there"}
        return {"ok": True, "lemma": tg.goal.lemma, "line": tg.goal.line, "status": tg.out.status}

    @server.command("autoProve.pause")
    def pause(ls: AutoProveServer, *args: Any) -> dict[str, object]:
        if ls.live is not None:
            ls.live.pause()
        return ls.live.status() if ls.live else {}

    @server.command("autoProve.resume")
    def resume(ls: AutoProveServer, *args: Any) -> dict[str, object]:
        if ls.live is not None:
            ls.live.resume()
        return ls.live.status() if ls.live else {}

    @server.command("autoProve.dashboard")
    def dashboard(ls: AutoProveServer, *args: Any) -> dict[str, Any]:
        try:
            return {"ok": True, "url": ls.open_dashboard()}
        except Exception as e:  # no folder, the port, no prometheus-client: said, the server goes on
            log.warning("no dashboard: %s", e)
            return {"ok": False, "error": str(e)}

    @server.command("autoProve.syncImport")
    def sync_import(ls: AutoProveServer, *args: Any) -> dict[str, Any]:
        """Argument: where the exports are (a file, a folder or a URL; `auto-prove sync`). Their results join the
        workspace's ledger and the goals that got one are searched again at once: each imported proof is verified
        here before it is offered."""
        src = args[0] if args and isinstance(args[0], str) else (args[0][0] if args and isinstance(args[0], list)
                                                                 and args[0] and isinstance(args[0][0], str) else "")
        if not src or ls.live is None:
            return {"ok": False, "message": "give the file, folder or URL of the exports (and open a folder)"}
        from .errors import AutoProveError as Failure

        try:
            report = ls.live.take_results(src)
        except Failure as e:  # not an export, unreadable, no ledger: said, nothing lost
            return {"ok": False, "message": str(e)}
        return {"ok": True, "message": report.line("imported") if report.files else f"nothing to import at {src}",
                "goals": len(report.keys)}

    @server.command("autoProve.status")
    def status(ls: AutoProveServer, *args: Any) -> dict[str, object]:
        return ls.live.status() if ls.live else {}

    @server.feature(T.WORKSPACE_DID_CHANGE_CONFIGURATION)
    def did_change_configuration(ls: AutoProveServer, params: T.DidChangeConfigurationParams) -> None:
        ls.apply_settings(params.settings)

    return server


def _doc(ls: AutoProveServer, uri: str) -> Document | None:
    p = uri_to_path(uri)
    if p is None or ls.live is None:
        return None
    return ls.live.docs.get(p)


def _position_args(args: tuple[Any, ...]) -> tuple[str | None, int, int]:
    try:
        if len(args) == 1 and isinstance(args[0], dict):
            a = args[0]
            pos = a.get("position", {})
            return str(a["uri"]), int(pos.get("line", 0)), int(pos.get("character", 0))
        return str(args[0]), int(args[1]), int(args[2])
    except (IndexError, KeyError, TypeError, ValueError):
        return None, 0, 0


def hover_text(ls: AutoProveServer, tg: TrackedGoal) -> str:
    assert ls.live is not None
    out = tg.out
    lines = [f"**auto-prove** — `{tg.goal.lemma}`: {status_message(tg, ls.live.options.budget, ls.live.scheduler.paused)}",
             "", f"elapsed {out.seconds:.1f} s · {out.attempts} tactics tried"
             + (f" · the prover crashed {out.crashes}× and was restarted" if out.crashes else "")
             + (" · found in an earlier session (from the project's ledger)" if out.from_ledger else "")]
    if out.strategies:
        lines.append("strategies: " + ", ".join(f"{k} {v}" for k, v in sorted(out.strategies.items(),
                                                                               key=lambda kv: -kv[1])))
    if out.status == "proved" and out.verified and out.replacement:
        lines += ["", "verified proof:", f"```{tg.goal.backend}",
                  (out.header + "\n" if out.header else "") + out.replacement, "```"]
        if out.depends_on_open:
            lines += ["", "It stands on the project's open lemmas " + ", ".join(f"`{n}`" for n in out.depends_on_open)
                      + ": the lemma is proved once they are (`autoProve.strict` refuses such proofs)."]
    elif out.remaining:
        lines += ["", "closest state reached (goals left):", "```coq", out.remaining[:2000], "```"]
    if out.tickets and out.status != "proved":
        lines += ["", "helper lemmas that would help (checked statements; a quick fix adds one to the file):"]
        for t in out.tickets:
            lines += [f"- `{t.name}` ({t.status}):", "```coq", t.statement, "```"]
    return "\n".join(lines)


def main() -> None:
    """Run the server on stdio."""
    build_server().start_io()


def _overlap(a: T.Range, b: T.Range) -> bool:
    """Whether two ranges share a position."""
    return not ((a.end.line, a.end.character) < (b.start.line, b.start.character)
                or (b.end.line, b.end.character) < (a.start.line, a.start.character))
