"""The language server end to end: `python -m sidecar lsp` started as a subprocess and driven over stdio by a real
LSP client (pytest-lsp), with real Coq behind it. Edits a copy of a small Coq file in tmp_path."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import psutil
import pytest
import pytest_lsp
from lsprotocol import types as T
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from conftest import REPO, RawLsp, cli_env, tagged_cmdlines, tagged_named, tagged_processes

pytestmark = [pytest.mark.timeout(240)]

ENV, TAG = cli_env()

SOURCE = """(* goals for the language server *)
Require Import Arith.

Lemma plus_zero : forall n : nat, n + 0 = n.
Admitted.

Lemma and_swap : forall P Q : Prop, P /\\ Q -> Q /\\ P.
Proof.
  intros P Q H.
  destruct H as [HP HQ].
  split.
  - admit.
  - exact HP.
Admitted.

Lemma not_provable : forall n : nat, n = S n.
Admitted.
"""


def settings(**kw: Any) -> dict[str, Any]:
    """The editor mechanics are tested under the deterministic profile 0; the default (1) has its own test."""
    return {"autoProve": {"budgetSeconds": 20, "cpuTarget": 0.5, "profile": 0, **kw}}


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[sys.executable, "-m", "sidecar", "lsp"],
                                              server_env=ENV))
async def client(lsp_client: LanguageClient, tmp_path: Path):
    statuses: list[Any] = []

    @lsp_client.feature("autoProve/status")
    def on_status(params: Any) -> None:
        statuses.append(params)

    lsp_client.statuses = statuses  # type: ignore[attr-defined]
    lsp_client.root = tmp_path  # type: ignore[attr-defined]
    await lsp_client.initialize_session(T.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"), root_uri=tmp_path.as_uri(),
        initialization_options=settings()))
    yield
    await lsp_client.shutdown_session()


async def until(pred: Callable[[], Any], timeout: float = 90.0, what: str = "condition") -> Any:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        v = pred()
        if v:
            return v
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def open_file(client: LanguageClient, path: Path, text: str, version: int = 1) -> str:
    path.write_text(text)
    uri = path.as_uri()
    client.text_document_did_open(T.DidOpenTextDocumentParams(
        text_document=T.TextDocumentItem(uri=uri, language_id="coq", version=version, text=text)))
    return uri


def ours(client: LanguageClient, uri: str) -> list[T.Diagnostic]:
    return [d for d in client.diagnostics.get(uri, []) if d.source == "auto-prove"]


def apply_edits(text: str, edits: list[T.TextEdit]) -> str:
    lines = text.split("\n")

    def offset(p: T.Position) -> int:
        return sum(len(l) + 1 for l in lines[: p.line]) + p.character  # ASCII test files: UTF-16 == code points

    for e in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        a, b = offset(e.range.start), offset(e.range.end)
        text = text[:a] + e.new_text + text[b:]
    return text


async def quick_fixes(client: LanguageClient, uri: str, d: T.Diagnostic) -> list[T.CodeAction]:
    res = await client.text_document_code_action_async(T.CodeActionParams(
        text_document=T.TextDocumentIdentifier(uri=uri), range=d.range,
        context=T.CodeActionContext(diagnostics=[d])))
    return [a for a in res or [] if isinstance(a, T.CodeAction)]


@pytest.mark.asyncio
async def test_open_diagnose_quick_fix_apply_compiles(client: LanguageClient) -> None:
    f = client.root / "Goals.v"  # type: ignore[attr-defined]
    uri = open_file(client, f, SOURCE)
    # the status diagnostics arrive, one per goal, at once (queued), then follow the search
    first = await until(lambda: ours(client, uri), 10, "first diagnostics")
    assert all(d.severity == T.DiagnosticSeverity.Information for d in first)
    done = await until(lambda: (lambda ds: ds if len(ds) == 3 and all(
        d.code in ("proved", "exhausted", "timeout") for d in ds) else None)(ours(client, uri)), 150,
        "all three goals settled")
    by_line = {d.range.start.line: d for d in done}
    proved = [d for d in done if d.code == "proved"]
    assert len(proved) == 2 and all("quick fix available" in d.message for d in proved), done
    assert by_line[16].code in ("exhausted", "timeout") and "no proof within budget" in by_line[16].message
    # hover on a placeholder tells what the search knows
    hov = await client.text_document_hover_async(T.HoverParams(
        text_document=T.TextDocumentIdentifier(uri=uri), position=proved[0].range.start))
    assert hov is not None and "verified proof" in hov.contents.value  # type: ignore[union-attr]
    # apply the quick fixes one by one, as an editor would (each edit is for the current version)
    text, version = SOURCE, 1
    for line in sorted((d.range.start.line for d in proved), reverse=True):
        # after an edit elsewhere the proof is verified again in the current text before it is offered
        d = await until(lambda: next((x for x in ours(client, uri) if x.range.start.line == line
                                      and x.code == "proved"), None), 60, "the proof verified in the current text")
        actions = await quick_fixes(client, uri, d)
        assert len(actions) == 1, actions
        a = actions[0]
        assert a.title == "Insert verified proof (auto-prove)" and a.is_preferred and a.kind == "quickfix"
        (change,) = a.edit.document_changes  # type: ignore[union-attr]
        assert isinstance(change, T.TextDocumentEdit) and change.text_document.version == version
        text = apply_edits(text, list(change.edits))  # type: ignore[arg-type]
        version += 1
        client.text_document_did_change(T.DidChangeTextDocumentParams(
            text_document=T.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[T.TextDocumentContentChangeWholeDocument(text=text)]))
        # the goal just filled disappears once the server has looked at the new text
        await until(lambda: len(ours(client, uri)) < 3 and all(
            x.range.start.line != line and "finding goals" not in x.message for x in ours(client, uri)), 60,
            "re-found goals")
    f.write_text(text)
    c = subprocess.run(["coqc", f.name], cwd=f.parent, capture_output=True, text=True, timeout=120)
    assert c.returncode == 0, c.stdout + c.stderr + "\n" + text
    assert "Admitted." in text.split("Lemma not_provable")[1]  # the unprovable goal is untouched
    st = await client.workspace_execute_command_async(T.ExecuteCommandParams(command="autoProve.status"))
    assert st["total"] == 1 and client.statuses  # type: ignore[attr-defined, index]


@pytest.mark.asyncio
async def test_edit_during_search_requeues_and_never_offers_a_stale_edit(client: LanguageClient) -> None:
    f = client.root / "Edit.v"  # type: ignore[attr-defined]
    src = "Lemma a : forall n : nat, n = n.\nAdmitted.\n\nLemma b : forall n : nat, n * 1 = n.\nAdmitted.\n"
    uri = open_file(client, f, src)
    await until(lambda: any(d.code == "proved" for d in ours(client, uri)), 60, "a proof")
    # change lemma a's statement: its goal is a new goal; the old quick fix must not be offered for it
    edited = src.replace("n = n.", "n + 0 = n.", 1)
    client.text_document_did_change(T.DidChangeTextDocumentParams(
        text_document=T.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[T.TextDocumentContentChangeWholeDocument(text=edited)]))
    stale = await quick_fixes(client, uri, T.Diagnostic(range=T.Range(start=T.Position(line=1, character=0),
                                                                      end=T.Position(line=1, character=9)),
                                                        message="", source="auto-prove"))
    for a in stale:  # anything offered is for the new version only
        assert a.edit.document_changes[0].text_document.version == 2  # type: ignore[union-attr, index]
    ds = await until(lambda: (lambda ds: ds if len(ds) == 2 and all(d.code == "proved" for d in ds) else None)(
        ours(client, uri)), 90, "both goals proved after the edit")
    acts = await quick_fixes(client, uri, next(d for d in ds if d.range.start.line == 1))
    assert len(acts) == 1 and acts[0].edit.document_changes[0].text_document.version == 2  # type: ignore
    fixed = apply_edits(edited, list(acts[0].edit.document_changes[0].edits))  # type: ignore
    f.write_text(fixed)  # the proof offered after the edit proves the edited statement
    c = subprocess.run(["coqc", f.name], cwd=f.parent, capture_output=True, text=True, timeout=120)
    assert c.returncode == 0 and "n + 0 = n" in fixed, c.stdout + c.stderr + fixed


@pytest.mark.asyncio
async def test_data_skipped_and_open_lemma_proofs_labelled(client: LanguageClient) -> None:
    """A definition's body is never searched or offered; a proof standing on an open lemma says so."""
    f = client.root / "Trust.v"  # type: ignore[attr-defined]
    src = ("Definition f (b : bool) : bool.\nAdmitted.\n\n"
           "Fixpoint sum (n : nat) : nat := match n with 0 => 0 | S k => n + sum k end.\n"
           "Lemma helper : forall n : nat, sum n = 0.\nAdmitted.\n\n"
           "Lemma uses_helper : sum 5 + 0 = 0.\nProof.\nAdmitted.\n")
    uri = open_file(client, f, src)
    ds = await until(lambda: (lambda ds: ds if len(ds) == 3 and all(
        d.code in ("proved", "exhausted", "timeout", "skipped") for d in ds) else None)(ours(client, uri)), 120,
        "all three goals settled")
    by_line = {d.range.start.line: d for d in ds}
    assert by_line[1].code == "skipped" and by_line[1].message == "a definition's body: not filled"
    assert await quick_fixes(client, uri, by_line[1]) == []
    hov = await client.text_document_hover_async(T.HoverParams(
        text_document=T.TextDocumentIdentifier(uri=uri), position=by_line[1].range.start))
    assert hov is not None and "a definition's body: not filled" in hov.contents.value  # type: ignore[union-attr]
    d = by_line[9]
    assert d.code == "proved" and "proof found (verified, uses 1 open lemma: helper)" in d.message, d
    (a,) = await quick_fixes(client, uri, d)
    assert a.title == "Insert verified proof (auto-prove; uses 1 open lemma: helper)" and not a.is_preferred


@pytest.mark.asyncio
async def test_fix_stays_offered_when_nothing_it_depends_on_changed(client: LanguageClient) -> None:
    """Applying the quick fix of a goal below another leaves the other's fix offered at once, never re-queued:
    a Coq proof depends only on the text up to its own end."""
    f = client.root / "Keep.v"  # type: ignore[attr-defined]
    src = "Lemma a : forall n : nat, n = n.\nAdmitted.\n\nLemma b : forall n : nat, n + 0 = n.\nAdmitted.\n"
    uri = open_file(client, f, src)
    ds = await until(lambda: (lambda ds: ds if len(ds) == 2 and all(d.code == "proved" for d in ds) else None)(
        ours(client, uri)), 90, "both goals proved")
    da, db = sorted(ds, key=lambda d: d.range.start.line)
    (fix_b,) = await quick_fixes(client, uri, db)
    text = apply_edits(src, list(fix_b.edit.document_changes[0].edits))  # type: ignore[union-attr, index, arg-type]
    seen: list[str] = []
    client.text_document_did_change(T.DidChangeTextDocumentParams(
        text_document=T.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[T.TextDocumentContentChangeWholeDocument(text=text)]))
    # at once, before the server has looked at the new text, and all along after it: a's fix is offered
    t0 = time.monotonic()
    while time.monotonic() - t0 < 4.0:
        acts = await quick_fixes(client, uri, da)
        assert len(acts) == 1, (time.monotonic() - t0, acts)
        assert acts[0].edit.document_changes[0].text_document.version == 2  # type: ignore[union-attr, index]
        seen += [d.code for d in ours(client, uri) if d.range.start.line == da.range.start.line]  # type: ignore[misc]
        await asyncio.sleep(0.1)
    assert set(seen) == {"proved"}, seen  # never queued or searched again
    final = apply_edits(text, list(acts[0].edit.document_changes[0].edits))  # type: ignore[union-attr, index]
    f.write_text(final)
    c = subprocess.run(["coqc", f.name], cwd=f.parent, capture_output=True, text=True, timeout=120)
    assert c.returncode == 0 and "Admitted" not in final, c.stdout + c.stderr + final


@pytest.mark.asyncio
async def test_a_file_that_does_not_parse_gets_one_clear_diagnostic(client: LanguageClient) -> None:
    f = client.root / "Broken.v"  # type: ignore[attr-defined]
    uri = open_file(client, f, "Lemma broken : forall n : nat, n = .\nAdmitted.\n")
    ds = await until(lambda: (lambda ds: ds if ds and ds[0].severity == T.DiagnosticSeverity.Warning else None)(
        ours(client, uri)), 30, "error diagnostic")
    assert len(ds) == 1 and "cannot find goals" in ds[0].message and ds[0].range.start.line == 0
    # and the server still works for a good file
    g = client.root / "Good.v"  # type: ignore[attr-defined]
    uri2 = open_file(client, g, "Lemma t : True.\nAdmitted.\n")
    await until(lambda: any(d.code == "proved" for d in ours(client, uri2)), 60, "the good file's proof")


@pytest.mark.asyncio
async def test_the_dashboard_command_serves_this_workspace(client: LanguageClient) -> None:
    import urllib.request

    f = client.root / "Board.v"  # type: ignore[attr-defined]
    uri = open_file(client, f, "Lemma a : 1 = 1.\nAdmitted.\n")
    await until(lambda: any(d.code == "proved" for d in ours(client, uri)), 60, "the proof")
    r = await client.workspace_execute_command_async(T.ExecuteCommandParams(command="autoProve.dashboard"))
    assert r["ok"] and "token=" in r["url"]  # type: ignore[index]
    again = await client.workspace_execute_command_async(T.ExecuteCommandParams(command="autoProve.dashboard"))
    assert again["url"] == r["url"]  # type: ignore[index]  # one dashboard per workspace
    saved = json.loads((client.root / ".auto-prove" / "dashboard.json").read_text())  # type: ignore[attr-defined]
    req = urllib.request.Request(saved["url"] + "/api/state", headers={"Authorization": f"Bearer {saved['token']}"})
    state = await asyncio.to_thread(lambda: json.loads(urllib.request.urlopen(req, timeout=30).read()))
    assert [(g["lemma"], g["status"]) for g in state["goals"]] == [("a", "proved")]
    assert "-Admitted." in state["proofs"][0]["diff"] and "+Qed." in state["proofs"][0]["diff"]


@pytest.mark.asyncio
async def test_a_goal_not_proved_shows_its_tickets_and_a_quick_fix_adds_one(client: LanguageClient) -> None:
    from test_tickets import SORTED

    client.workspace_did_change_configuration(T.DidChangeConfigurationParams(
        settings={"autoProve": {**settings()["autoProve"], "budgetSeconds": 3, "ticketSeconds": 0}}))
    f = client.root / "Sorted.v"  # type: ignore[attr-defined]
    uri = open_file(client, f, SORTED)
    d = await until(lambda: next((x for x in ours(client, uri) if x.code in ("exhausted", "timeout")), None), 120,
                    "the search to give up")
    hov = await client.text_document_hover_async(T.HoverParams(
        text_document=T.TextDocumentIdentifier(uri=uri), position=d.range.start))
    assert hov is not None and "helper lemmas that would help" in hov.contents.value  # type: ignore[union-attr]
    actions = [a for a in await quick_fixes(client, uri, d) if "add helper lemma" in a.title]
    assert actions and actions[0].title.startswith("auto-prove: add helper lemma ins_sorted_helper1")
    edit = actions[0].edit.document_changes[0]  # type: ignore[union-attr,index]
    text = apply_edits(SORTED, edit.edits)  # type: ignore[union-attr]
    assert "Lemma ins_sorted_helper1 : " in text and text.index("ins_sorted_helper1") < text.index("Lemma ins_sorted :")
    f.write_text(text)
    assert subprocess.run(["coqc", "-q", str(f)], cwd=f.parent, capture_output=True).returncode == 0


WITNESS = """Require Import Arith.

Lemma square_root : exists n : nat, n * n = 1369.
Admitted.

Lemma not_provable : forall n : nat, n = S n.
Admitted.
"""


def _export(folder: Path, root: Path, file: Path, proofs: dict[str, str]) -> None:
    """An export as another machine's `auto-prove sync export` writes it (sync.py's format), with these proofs."""
    import gzip

    from sidecar.fingerprint import fingerprint
    from sidecar.sync import FORMAT, VERSION
    from sidecar.workspace import discover

    goals, _ = discover([file], "coq")
    rows: list[dict[str, Any]] = [{"format": FORMAT, "version": VERSION, "created": "", "host": "elsewhere",
                                   "project": root.name, "fingerprints": {"coq": fingerprint(root, "coq").as_json()}}]
    for g in goals:
        rows.append({"type": "goal", "key": g.key.digest, "backend": "coq", "file": file.name, "lemma": g.lemma,
                     "line": g.line, "kind": g.kind, "status": "proved", "proof": proofs[g.lemma], "header": "",
                     "budget_s": 600.0, "seconds": 1.0, "attempts": 1, "strategy": "", "message": "",
                     "file_digest": g.file_digest, "deps_digest": "", "depends_on_open": [], "golfed_from": ""})
    folder.mkdir()
    (folder / "elsewhere.jsonl.gz").write_bytes(gzip.compress("\n".join(json.dumps(r) for r in rows).encode()))


@pytest.mark.asyncio
async def test_proofs_found_elsewhere_are_verified_here_then_offered_at_once(client: LanguageClient) -> None:
    """`autoProve.syncImport`: a goal the search gave up on gets the proof another machine found, verified here, and
    its quick fix at once; a forged proof in the same export is never offered."""
    client.workspace_did_change_configuration(T.DidChangeConfigurationParams(
        settings={"autoProve": {**settings()["autoProve"], "budgetSeconds": 2, "ticketSeconds": 0}}))
    root = client.root  # type: ignore[attr-defined]
    f = root / "Witness.v"
    uri = open_file(client, f, WITNESS)
    await until(lambda: (lambda ds: len(ds) == 2 and all(d.code in ("exhausted", "timeout") for d in ds))(
        ours(client, uri)), 120, "both searches to give up")
    _export(root / "exports", root, f, {"square_root": "Proof. exists 37. reflexivity. Qed.",
                                        "not_provable": "Proof. admit. Admitted."})
    r = await client.workspace_execute_command_async(T.ExecuteCommandParams(
        command="autoProve.syncImport", arguments=[str(root / "exports")]))
    assert r["ok"] and r["goals"] == 2, r  # type: ignore[index]
    assert "imported 2 goal result(s) (2 proof(s))" in r["message"]  # type: ignore[index]
    d = await until(lambda: next((x for x in ours(client, uri) if x.code == "proved"), None), 60, "the imported proof")
    assert d.range.start.line == 3
    fix = (await quick_fixes(client, uri, d))[0]
    text = apply_edits(WITNESS, fix.edit.document_changes[0].edits)  # type: ignore[union-attr,index]
    assert "exists 37. reflexivity. Qed." in text
    # resubmitted with the other, behind it: by now queued again or searched again, never proved by the forgery
    await until(lambda: next((x for x in ours(client, uri) if x.range.start.line == 6
                              and x.code in ("exhausted", "timeout")), None), 60, "the forged proof's goal settled")
    assert [x.code for x in ours(client, uri) if x.range.start.line == 6] != ["proved"]
    bad = await client.workspace_execute_command_async(T.ExecuteCommandParams(
        command="autoProve.syncImport", arguments=[]))
    assert bad["ok"] is False  # type: ignore[index]


@pytest.mark.asyncio
async def test_commands_pause_resume_prove_here(client: LanguageClient) -> None:
    st = await client.workspace_execute_command_async(T.ExecuteCommandParams(command="autoProve.pause"))
    assert st["paused"] is True  # type: ignore[index]
    f = client.root / "Cmd.v"  # type: ignore[attr-defined]
    uri = open_file(client, f, "Lemma a : 1 = 1.\nAdmitted.\nLemma b : 2 = 2.\nAdmitted.\n")
    ds = await until(lambda: (lambda ds: ds if len(ds) == 2 and ds[0].code == "queued" else None)(ours(client, uri)),
                     30, "queued goals")
    await asyncio.sleep(1.0)
    assert all(d.code == "queued" and "paused" in d.message for d in ours(client, uri))
    r = await client.workspace_execute_command_async(T.ExecuteCommandParams(
        command="autoProve.proveHere", arguments=[uri, 3, 0]))
    assert r["ok"] and r["lemma"] == "b"  # type: ignore[index]
    st = await client.workspace_execute_command_async(T.ExecuteCommandParams(command="autoProve.resume"))
    assert st["paused"] is False  # type: ignore[index]
    await until(lambda: all(d.code == "proved" for d in ours(client, uri)) and len(ours(client, uri)) == 2, 60,
                "proofs after resume")
    bad = await client.workspace_execute_command_async(T.ExecuteCommandParams(
        command="autoProve.proveHere", arguments=["file:///nowhere.v", 0, 0]))
    assert bad["ok"] is False  # type: ignore[index]
    # settings change while running: the new target and budget are in force at once
    client.workspace_did_change_configuration(T.DidChangeConfigurationParams(
        settings={"autoProve": {"cpuTarget": 0.25, "budgetSeconds": 7, "enabled": True}}))
    st: Any = None
    for _ in range(50):
        st = await client.workspace_execute_command_async(T.ExecuteCommandParams(command="autoProve.status"))
        if st["cpuTarget"] == 0.25:  # type: ignore[index]
            break
        await asyncio.sleep(0.1)
    assert st["cpuTarget"] == 0.25 and st["budgetSeconds"] == 7  # type: ignore[index]
    client.workspace_did_change_configuration(T.DidChangeConfigurationParams(
        settings={"autoProve": {"cpuTarget": "lots"}}))
    msg = await until(lambda: [m for m in client.messages if "cpuTarget" in m.message], 10, "a warning")
    assert msg[0].type == T.MessageType.Warning


def test_garbage_and_out_of_order_messages_do_not_kill_the_server(tmp_path: Path) -> None:
    """1,000 malformed or out-of-order messages, then a proper session: the server answers it."""
    env, tag = cli_env()
    srv = RawLsp(env, stdout=subprocess.PIPE)
    proc, send = srv.proc, srv.send
    try:
        for i in range(1000):
            k = i % 5
            if k == 0:
                send(None, b"{not json")
            elif k == 1:
                send({"jsonrpc": "2.0", "id": i, "method": "textDocument/hover", "params": {"bogus": 1}})
            elif k == 2:
                send({"jsonrpc": "2.0", "method": "textDocument/didChange", "params": {"textDocument": {}}})
            elif k == 3:
                send({"jsonrpc": "2.0", "id": i, "method": "no/such/method", "params": []})
            else:
                send({"jsonrpc": "2.0", "id": i, "result": 3})  # a response to nothing
        send({"jsonrpc": "2.0", "id": 5000, "method": "initialize",
              "params": {"capabilities": {}, "rootUri": tmp_path.as_uri(), "processId": None}})
        # read messages until the answer to initialize arrives
        deadline = time.monotonic() + 60
        got = None
        while time.monotonic() < deadline:
            msg = srv.read()
            if msg.get("id") == 5000:
                got = msg
                break
        assert got is not None and "capabilities" in got["result"], got
        assert proc.poll() is None
        srv.shutdown()
    finally:
        srv.kill()
    assert not [p for p in tagged_processes(tag) if "coqidetop" in " ".join(p.cmdline())]


def test_shutdown_kills_a_compile_in_progress(tmp_path: Path) -> None:
    """Goal finding runs coqc in a session of its own; shutting the server down mid-compile does not leave it
    running."""
    env, tag = cli_env()
    slow = tmp_path / "Slow.v"
    slow.write_text("Lemma a : True.\nProof.\n  Fail Timeout 120 repeat (assert True).\nAdmitted.\n")
    srv = RawLsp(env, cwd=tmp_path)

    def compiles() -> list[psutil.Process]:
        return [p for p in tagged_processes(tag) if "coqc" in " ".join(p.cmdline())]

    try:
        srv.initialize(tmp_path)
        srv.send({"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": slow.as_uri(), "languageId": "coq", "version": 1, "text": slow.read_text()}}})
        deadline = time.monotonic() + 30
        while not compiles() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert compiles(), "the goal-finding compile never started"
        time.sleep(0.5)
        srv.shutdown()
    finally:
        srv.kill()
    deadline = time.monotonic() + 5
    while compiles() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not compiles(), [p.cmdline() for p in compiles()]


@pytest.mark.asyncio
async def test_kill_9_of_a_prover_mid_search(client: LanguageClient) -> None:
    """The server survives a prover killed mid-search, the search goes on (and says so), later goals are proved."""
    f = client.root / "Kill.v"  # type: ignore[attr-defined]
    uri = open_file(client, f, "Lemma hard : forall n : nat, n = S n.\nAdmitted.\n"
                               "Lemma easy : forall n : nat, 0 + n = n.\nAdmitted.\n")
    await client.workspace_execute_command_async(T.ExecuteCommandParams(
        command="autoProve.proveHere", arguments=[uri, 1, 0]))
    await until(lambda: any(d.code == "searching" and d.range.start.line == 1 for d in ours(client, uri)), 60,
                "search started")
    await asyncio.sleep(1.0)
    provers = tagged_named(TAG, "coqidetop")
    assert provers
    for p in provers:
        p.kill()
    ds = await until(lambda: (lambda ds: ds if len(ds) == 2 and all(
        d.code in ("proved", "exhausted", "timeout") for d in ds) else None)(ours(client, uri)), 120, "both settled")
    by_line = {d.range.start.line: d for d in ds}
    assert by_line[3].code == "proved"
    # the search of the goal whose prover was killed went on after a restart, and says so
    assert by_line[1].code in ("exhausted", "timeout") and "prover restarted" in by_line[1].message, by_line[1]
    st = await client.workspace_execute_command_async(T.ExecuteCommandParams(command="autoProve.status"))
    assert st["proved"] >= 1  # type: ignore[index]


@pytest.mark.asyncio
async def test_goals_of_files_that_are_not_open_are_found_and_watched(client: LanguageClient) -> None:
    """The workspace's other files are searched too (after the open documents) and followed on disk."""
    other = client.root / "Other.v"  # type: ignore[attr-defined]
    other.write_text("Lemma w1 : True.\nAdmitted.\n")

    async def status() -> dict[str, Any]:
        return await client.workspace_execute_command_async(T.ExecuteCommandParams(command="autoProve.status"))

    t0 = time.monotonic()
    while time.monotonic() - t0 < 60:
        st = await status()
        if st["total"] >= 1 and st["proved"] >= 1:
            break
        await asyncio.sleep(0.2)
    assert st["total"] == 1 and st["proved"] == 1, st
    other.write_text("Lemma w1 : True.\nAdmitted.\nLemma w2 : 1 = 1.\nAdmitted.\n")
    while time.monotonic() - t0 < 120:
        st = await status()
        if st["total"] == 2 and st["proved"] == 2:
            break
        await asyncio.sleep(0.2)
    assert st["total"] == 2 and st["proved"] == 2, st
    assert "file://" + str(other) not in client.diagnostics  # diagnostics are for open documents only


def test_zz_shutdown_left_no_prover_behind() -> None:
    """Every server above was shut down by its client: none of their provers (or ATPs) is left."""
    time.sleep(1.0)
    left = tagged_cmdlines(TAG)
    assert not left, left


def test_found_proofs_persist_across_sessions(tmp_path: Path) -> None:
    """A proof found in one session is shown at once by the next (the project's ledger, keyed by goal and
    environment), without searching again."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from lspclient import Client

    f = tmp_path / "Persist.v"
    text = "Lemma p : forall n : nat, n + 0 = n.\nAdmitted.\n"
    f.write_text(text)

    def proved(c: Client, since: float, timeout: float) -> tuple[float, list[dict[str, Any]]]:
        return c.wait_diagnostics(f.as_uri(), lambda d: d.get("code") == "proved", timeout, since)

    first = Client(tmp_path, settings())
    try:
        proved(first, first.open(f, text), 90)
    finally:
        first.close()
    second = Client(tmp_path, settings())
    try:
        t0 = second.open(f, text)
        t1, msg = proved(second, t0, 30)
        st = second.request("workspace/executeCommand", {"command": "autoProve.status"})
        hover = second.request("textDocument/hover", {"textDocument": {"uri": f.as_uri()},
                                                      "position": {"line": 1, "character": 2}})
    finally:
        second.close()
    assert st["proved"] == 1
    assert "found in an earlier session" in hover["contents"]["value"], hover
    assert (tmp_path / ".auto-prove" / "ledger.sqlite").exists()


def test_the_editor_learns_by_default_and_no_goal_waits_for_a_library(tmp_path: Path) -> None:
    """The server's default profile is 1. On a machine that has harvested nothing, a goal is proved (from its file's
    earlier proof) while the libraries the file loads are still being harvested in the background — the status
    says how many are left — and shutting down leaves none of that harvest behind."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from lspclient import Client

    env, tag = cli_env({"AUTOPROVE_CACHE": str(tmp_path / "cache")})
    project = tmp_path / "project"
    project.mkdir()
    f = project / "Learn.v"
    text = ("Lemma a : forall n : nat, n + 0 = n.\nProof. intros n. rewrite <- plus_n_O. reflexivity. Qed.\n\n"
            "Lemma b : forall m : nat, m + 0 = m.\nAdmitted.\n")
    f.write_text(text)
    c = Client(project, {"autoProve": {"budgetSeconds": 30, "cpuTarget": 0.5}}, env=env)
    try:
        c.wait_diagnostics(f.as_uri(), lambda d: d.get("code") == "proved", 120, c.open(f, text))
        st = c.request("workspace/executeCommand", {"command": "autoProve.status"})
        assert st["proved"] == 1 and st["learning"] > 0, st  # proved before the libraries were all harvested
        pushed = [m["params"] for _, m in c.messages if m.get("method") == "autoProve/status"]
        assert any(p.get("learning", 0) > 0 for p in pushed)
    finally:
        c.close()
    time.sleep(1.0)
    left = tagged_cmdlines(tag)
    assert not left, left


def test_profile_2_in_the_editor_settings(tmp_path: Path) -> None:
    """`autoProve.profile = 2` with `autoProve.llm`: the model (a scripted server) is asked for next tactics and the
    proof it leads to is offered once verified; a model setting that cannot be used is said and ignored."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from llm_server import ScriptedLLM, asks_steps
    from lspclient import Client

    f = tmp_path / "Big.v"
    text = "Lemma big : exists n : nat, n * 3 = 37035.\nProof.\nAdmitted.\n"
    f.write_text(text)
    with ScriptedLLM([lambda body: "```coq\nexists 12345.\n```" if asks_steps(body) else "```coq\nexact I.\n```"]
                     ) as srv:
        c = Client(tmp_path, settings(profile=2, llm="openai:scripted", llmBaseUrl=srv.url, llmCalls=10))
        try:
            _, diags = c.wait_diagnostics(f.as_uri(), lambda d: d.get("code") == "proved", 120, c.open(f, text))
            (d,) = [d for d in diags if d.get("code") == "proved"]
            actions = c.request("textDocument/codeAction", {
                "textDocument": {"uri": f.as_uri()}, "range": d["range"], "context": {"diagnostics": [d]}})
            c.notify("workspace/didChangeConfiguration", {"settings": settings(llm="nonsense")})
            _, warned = c.wait(lambda m: m.get("method") == "window/showMessage"
                               and "autoProve.llm" in m["params"]["message"], 30)
        finally:
            c.close()
        assert srv.requests and all(asks_steps(b) for b in srv.requests) and len(srv.requests) <= 10
    edit = json.dumps(actions)
    assert "exists 12345" in edit, actions
    assert "nonsense" in warned["params"]["message"]
