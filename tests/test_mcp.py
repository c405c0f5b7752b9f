"""`auto-prove mcp`: the agent tools over the Model Context Protocol, driven by the official SDK's own client over
stdio against real Coq projects (the server is the real command, started as an agent's host starts it)."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Awaitable, Callable

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from conftest import REPO, cli_env, kill_tagged, wait_gone

needs_coq = pytest.mark.skipif(shutil.which("coqidetop.opt") is None, reason="coqidetop.opt not installed")

PROJECT = {
    "_CoqProject": "-R . P\n",
    "A.v": "Lemma add_zero_r : forall n : nat, n + 0 = n.\nProof.\nAdmitted.\n\n"
           "Definition f (n : nat) : nat.\nAdmitted.\n\n"
           "Lemma split_me : forall n : nat, n + 0 = n /\\ 0 + n = n.\nProof.\n  intros n. split.\n  - admit.\n"
           "  - reflexivity.\nAdmitted.\n",
}


def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    for name, text in PROJECT.items():
        (root / name).write_text(text)
    return root


def single(tmp_path: Path, name: str, text: str) -> Path:
    """A project of one file."""
    root = tmp_path / "proj"
    root.mkdir()
    (root / name).write_text(text)
    return root


def run_agent(root: Path, session: Callable[[Client], Awaitable[None]], *args: str) -> None:
    """Start `auto-prove mcp ROOT` as an MCP host would, run `session` with the SDK's client, and check that
    nothing the server started outlives the session."""
    env, tag = cli_env()

    async def main() -> None:
        params = StdioServerParameters(command=sys.executable, args=["-m", "sidecar", "mcp", str(root), "--cpu", "0.3",
                                                                     *args], env=env, cwd=str(REPO))
        async with Client(params) as client:
            await session(client)

    try:
        asyncio.run(asyncio.wait_for(main(), 240))
    finally:
        left = wait_gone(tag, 20)
        killed = kill_tagged(tag) if left else []
    assert not killed, f"processes outlived the MCP session: {killed}"


async def call(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    r = await client.call_tool(tool, arguments)
    assert not r.is_error, r.content
    assert isinstance(r.structured_content, dict), r
    return r.structured_content


async def until(client: Client, tool: str, ok: Callable[[dict[str, Any]], bool], seconds: float,
                **arguments: Any) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        answer = await call(client, tool, **arguments)
        if ok(answer) or asyncio.get_running_loop().time() > deadline:
            return answer
        await asyncio.sleep(0.5)


@needs_coq
def test_an_agent_lists_reads_tries_checks_and_applies_a_proof(tmp_path: Path) -> None:
    root = project(tmp_path)
    a = root / "A.v"

    async def session(client: Client) -> None:
        tools = {t.name for t in (await client.list_tools()).tools}
        assert {"list_goals", "get_goal", "try_tactics", "check_proof", "apply_proof", "proofs", "search",
                "search_status", "status"} <= tools
        listed = await until(client, "list_goals", lambda r: r["complete"], 60)
        assert listed["status"] == "ok" and listed["complete"]
        ids = [g["id"] for g in listed["goals"]]
        # the definition's body is not a goal; the bullet's admit is the lemma's (one hole)
        assert ids == ["A.v:add_zero_r", "A.v:split_me"], listed
        digest = listed["goals"][0]["digest"]
        goal = await call(client, "get_goal", id="A.v:add_zero_r")
        assert goal["status"] == "ok" and goal["digest"] == digest
        assert goal["goals"] == [{"hypotheses": [], "conclusion": "forall n : nat, n + 0 = n"}]
        assert "Lemma add_zero_r" in goal["context"]["text"]
        inner = await call(client, "get_goal", id="A.v:split_me")
        assert inner["goals"][0]["conclusion"] == "n + 0 = n" and "n : nat" in inner["goals"][0]["hypotheses"]
        tried = await call(client, "try_tactics", id="A.v:add_zero_r",
                           tactics=["intros n. induction n; simpl", "reflexivity", "intros n; lia."])
        first, wrong, done = tried["results"]
        assert first["status"] == "ok" and not first["finished"] and len(first["goals"]) == 2
        assert first["goals"][1]["conclusion"] == "S (n + 0) = S n"
        assert wrong["status"] == "error" and wrong["reason"] and \
            wrong["goals_at_error"][0]["conclusion"] == "forall n : nat, n + 0 = n"
        assert done["status"] == "ok" and done["finished"]
        # the verifier's word: a wrong script is refused, a right one verified, and nothing is written
        refused = await call(client, "check_proof", id="A.v:add_zero_r", script="intros n. reflexivity.")
        assert refused["status"] == "refused" and refused["reason"]
        ok = await call(client, "check_proof", id="A.v:add_zero_r", script="intros n. induction n; simpl; auto.")
        assert ok["status"] == "verified" and ok["digest"] == digest, ok
        dry = await call(client, "apply_proof", id="A.v:add_zero_r", script="intros n. induction n; simpl; auto.",
                         digest=digest)
        assert dry["status"] == "verified" and dry["written"] is False
        assert a.read_text() == PROJECT["A.v"]
        # `lia` needs an import the file does not have: the proof carries it, and the written file compiles
        applied = await call(client, "apply_proof", id="A.v:split_me", script="lia.", digest=digest, dry_run=False)
        assert applied["status"] == "verified" and applied["written"] is True, applied
        assert applied["header"] == "From Coq Require Import Lia."
        assert applied["digest"] != digest
        after = await until(client, "list_goals", lambda r: r["complete"] and
                            all(g["digest"] == applied["digest"] for g in r["goals"]), 60)
        assert [g["id"] for g in after["goals"]] == ["A.v:add_zero_r"], after

    run_agent(root, session)
    text = a.read_text()
    assert text.startswith("From Coq Require Import Lia.") and "{ lia. }" in text, text
    assert text.count("Admitted.") == 2  # add_zero_r and the definition's body are untouched
    subprocess.run(["coqc", "-R", ".", "P", "A.v"], cwd=root, check=True, capture_output=True, timeout=120)


@needs_coq
def test_a_stale_digest_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    """An edit between `get_goal` and `apply_proof`: the digest the agent holds no longer names the file's text,
    so the proof is neither checked nor written, and the answer says so."""
    root = project(tmp_path)
    a = root / "A.v"

    async def session(client: Client) -> None:
        goal = await call(client, "get_goal", id="A.v:add_zero_r")
        edited = "(* an edit by someone else *)\n" + PROJECT["A.v"]
        a.write_text(edited)
        answer = await call(client, "apply_proof", id="A.v:add_zero_r", script="intros n. induction n; auto.",
                            digest=goal["digest"], dry_run=False)
        assert answer["status"] in ("refused", "busy"), answer
        if answer["status"] == "refused":
            assert answer["reason"].startswith("stale")
        assert a.read_text() == edited
        # once the edit is taken in, the goal has a new digest, and the old one stays refused
        fresh = await until(client, "get_goal", lambda r: r["status"] == "ok" and r["digest"] != goal["digest"], 60,
                            id="A.v:add_zero_r")
        assert fresh["status"] == "ok" and fresh["line"] == goal["line"] + 1
        again = await call(client, "apply_proof", id="A.v:add_zero_r", script="intros n. induction n; auto.",
                           digest=goal["digest"], dry_run=False)
        assert again["status"] == "refused" and again["reason"].startswith("stale")
        assert a.read_text() == edited

    run_agent(root, session)


@needs_coq
def test_bad_requests_get_clear_errors_and_a_timeout_is_never_success(tmp_path: Path) -> None:
    root = project(tmp_path)

    async def session(client: Client) -> None:
        assert (await call(client, "get_goal", id="A.v:nope"))["status"] == "error"
        assert (await call(client, "get_goal", id="A.v:f"))["status"] == "error"  # a definition is not a goal
        wrong = await client.call_tool("try_tactics", {"id": 3, "tactics": "auto"})
        assert wrong.is_error and "tactics" in wrong.content[0].text  # type: ignore[union-attr]
        too_many = await call(client, "try_tactics", id="A.v:add_zero_r", tactics=["auto"] * 21)
        assert too_many["status"] == "error" and "20" in too_many["reason"]
        bad_digest = await call(client, "apply_proof", id="A.v:add_zero_r", script="auto.", digest="x")
        assert bad_digest["status"] == "error"
        assert (await call(client, "search_status", job="job-9"))["status"] == "error"
        looping = await call(client, "try_tactics", id="A.v:add_zero_r", tactics=["do 1000000000 idtac", "intros n"])
        spin, fine = looping["results"]
        assert spin["status"] == "timeout" and not spin.get("finished"), spin
        assert fine["status"] == "ok"  # the prover goes on after a timeout
        status = await call(client, "status")
        assert status["status"] == "ok" and "queued" in status

    run_agent(root, session, "--tactic-timeout", "2")


@needs_coq
def test_search_jobs_report_verified_proofs(tmp_path: Path) -> None:
    root = project(tmp_path)

    async def session(client: Client) -> None:
        job = await call(client, "search", ids=["A.v:split_me"])
        assert job["status"] == "ok" and job["job"]
        done = await until(client, "search_status", lambda r: r["done"], 120, job=job["job"])
        row = done["goals"]["A.v:split_me"]
        assert row["search"] == "proved" and row["proof"], done
        known = await call(client, "proofs", id="A.v:split_me")
        assert known["proofs"] and known["proofs"][0]["source"] == "search"

    run_agent(root, session)


@needs_coq
def test_a_search_with_a_budget_searches_an_ended_goal_again(tmp_path: Path) -> None:
    """A goal that ended without a proof at the server's budget is searched again when an agent gives a bigger one
    (and recorded at that budget); a budget that is not a number of seconds is refused."""
    import sqlite3

    root = single(tmp_path, "H.v", "Lemma hard : forall n : nat, n = S n.\nProof.\nAdmitted.\n")

    async def session(client: Client) -> None:
        first = await call(client, "search", ids=["H.v:hard"])
        ended = await until(client, "search_status", lambda r: r["done"], 60, job=first["job"])
        assert ended["goals"]["H.v:hard"]["search"] in ("exhausted", "timeout"), ended
        for bad in (0.1, 10 ** 6):
            refused = await call(client, "search", ids=["H.v:hard"], budget=bad)
            assert refused["status"] == "error" and "budget" in refused["reason"], refused
        typed = await client.call_tool("search", {"ids": ["H.v:hard"], "budget": "long"})  # the SDK's own check
        assert typed.is_error and "budget" in str(typed.content)
        again = await call(client, "search", ids=["H.v:hard"], budget=4)
        assert again["goals"]["H.v:hard"]["search"] in ("queued", "searching"), again
        done = await until(client, "search_status", lambda r: r["done"], 60, job=again["job"])
        assert done["goals"]["H.v:hard"]["search"] in ("exhausted", "timeout"), done

    run_agent(root, session, "--budget", "2")
    db = sqlite3.connect(root / ".auto-prove" / "ledger.sqlite")
    assert [r[0] for r in db.execute("SELECT budget_s FROM goals")] == [4.0]

    async def leave(client: Client) -> None:  # a client that goes away while its search runs
        job = await call(client, "search", ids=["H.v:hard"], budget=120)
        await until(client, "search_status", lambda r: r["goals"]["H.v:hard"]["search"] == "searching", 30,
                    job=job["job"])

    run_agent(root, leave, "--budget", "2")  # the server ends with its client, and nothing it started outlives it


@needs_coq
def test_profile_2_serves_the_models_proofs_verified(tmp_path: Path) -> None:
    """`auto-prove mcp --profile 2 --llm ...`: the background search asks the model (a scripted server) for next
    tactics; the proof it leads to is verified before the agent sees it, labelled with the model's family."""
    from llm_server import ScriptedLLM, asks_steps

    root = single(tmp_path, "B.v", "Lemma big : exists n : nat, n * 3 = 37035.\nProof.\nAdmitted.\n")

    async def session(client: Client) -> None:
        job = await call(client, "search", ids=["B.v:big"])
        done = await until(client, "search_status", lambda r: r["done"], 120, job=job["job"])
        assert done["goals"]["B.v:big"]["search"] == "proved", done
        (known,) = (await call(client, "proofs", id="B.v:big"))["proofs"]
        assert "exists 12345" in known["proof"] and "llm-step" in known["families"], known
        status = await call(client, "status")
        assert status["status"] == "ok"

    with ScriptedLLM([lambda body: "```coq\nexists 12345.\n```" if asks_steps(body) else "```coq\nexact I.\n```"]
                     ) as srv:
        run_agent(root, session, "--profile", "2", "--llm", "openai:scripted", "--llm-base-url", srv.url,
                  "--budget", "20")
        assert srv.requests and all(asks_steps(b) for b in srv.requests)


def test_the_tool_descriptions_stay_short() -> None:
    """Every agent turn pays for the tool listing: it stays small (lean-lsp-mcp's users report 100k tokens)."""
    from sidecar.agent import Agent
    from sidecar.mcp_server import build_server

    async def listing() -> str:
        server = build_server(Agent.__new__(Agent))
        async with Client(server) as client:
            tools = (await client.list_tools()).tools
        return json.dumps([t.model_dump(mode="json", exclude_none=True) for t in tools])

    text = asyncio.run(listing())
    assert len(text) < 6000, len(text)


@needs_coq
def test_a_killed_server_leaves_no_prover_behind(tmp_path: Path) -> None:
    """kill -9 of `auto-prove mcp` while its tool prover and a search run: every process it started dies too."""
    import os
    import signal

    from conftest import tagged_cmdlines, tagged_processes

    root = project(tmp_path)
    env, tag = cli_env()
    seen: dict[str, Any] = {}

    async def main() -> None:
        params = StdioServerParameters(command=sys.executable, args=["-m", "sidecar", "mcp", str(root), "--cpu", "0.3"],
                                       env=env, cwd=str(REPO))
        async with Client(params) as client:
            await call(client, "search", ids=["A.v:add_zero_r", "A.v:split_me"])
            await call(client, "get_goal", id="A.v:add_zero_r")  # the tool prover is up
            seen["provers"] = sum("coqidetop" in " ".join(c) for c in tagged_cmdlines(tag))
            server = [p for p in tagged_processes(tag) if "mcp" in p.cmdline() and "sidecar" in p.cmdline()]
            seen["servers"] = len(server)
            os.kill(server[0].pid, signal.SIGKILL)
            seen["killed"] = True
            await asyncio.wait_for(client.call_tool("status", {}), 20)
            seen["answered"] = True

    try:
        asyncio.run(asyncio.wait_for(main(), 120))
    except BaseException:  # the SDK's client ends in an exception (group) once its server is gone
        pass
    assert seen.get("provers", 0) >= 1 and seen.get("servers") == 1 and seen.get("killed"), seen
    assert not seen.get("answered"), seen
    left = wait_gone(tag, 20)
    killed = kill_tagged(tag) if left else []
    assert not killed, f"processes outlived the killed server: {killed}"


@needs_coq
def test_one_http_server_per_project_is_shared_and_wants_its_token(tmp_path: Path) -> None:
    """`mcp --http`: two clients of one server see the same goals (one applies a proof, the other sees the goal
    go); a request without the token is refused; a second server for the project is not started; SIGTERM removes
    `mcp.json` and leaves nothing running."""
    import signal
    import time
    import urllib.error
    import urllib.request

    import httpx2
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    from sidecar.mcp_server import MCP_FILE

    root = project(tmp_path)
    env, tag = cli_env()
    proc = subprocess.Popen([sys.executable, "-m", "sidecar", "mcp", str(root), "--http", "--cpu", "0.3"],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        file = root / MCP_FILE
        deadline = time.monotonic() + 60
        while not file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        info = json.loads(file.read_text())
        assert file.stat().st_mode & 0o777 == 0o600
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(urllib.request.Request(info["url"], data=b"{}", method="POST"), timeout=10)
        assert refused.value.code == 401
        second = subprocess.run([sys.executable, "-m", "sidecar", "mcp", str(root), "--http"], cwd=REPO, env=env,
                                capture_output=True, text=True, timeout=60)
        assert second.returncode == 0 and "already serves" in second.stdout and info["url"] in second.stdout

        def client() -> Client:
            http: httpx2.AsyncClient = create_mcp_http_client(headers={"Authorization": f"Bearer {info['token']}"})
            return Client(streamable_http_client(info["url"], http_client=http))

        async def main() -> None:
            async with client() as a, client() as b:
                la = await until(a, "list_goals", lambda r: r["complete"], 60)
                lb = await call(b, "list_goals")
                assert [(g["id"], g["digest"]) for g in la["goals"]] == [(g["id"], g["digest"]) for g in lb["goals"]]
                assert len(la["goals"]) == 2
                digest = la["goals"][0]["digest"]
                done = await call(a, "apply_proof", id="A.v:add_zero_r", script="intros n. induction n; auto.",
                                  digest=digest, dry_run=False)
                assert done["status"] == "verified" and done["written"]
                seen = await until(b, "list_goals", lambda r: r["complete"] and len(r["goals"]) == 1, 60)
                assert [g["id"] for g in seen["goals"]] == ["A.v:split_me"]

        asyncio.run(asyncio.wait_for(main(), 180))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    assert not (root / MCP_FILE).exists()
    left = wait_gone(tag, 20)
    killed = kill_tagged(tag) if left else []
    assert not killed, f"processes outlived the HTTP server: {killed}"


@needs_coq
def test_premises_rank_the_lemmas_in_scope_and_run_a_search(tmp_path: Path) -> None:
    root = project(tmp_path)

    async def session(client: Client) -> None:
        ranked = await call(client, "premises", id="A.v:add_zero_r")
        names = [p["name"] for p in ranked["premises"]]
        # the file loads no library: Init's `plus_n_O`, never PeanoNat's `Nat.add_0_r` (only the session's Lia has it)
        assert ranked["status"] == "ok" and "plus_n_O" in names and not any("add_0_r" in n for n in names), names
        found = await call(client, "premises", id="A.v:add_zero_r", query="(_ = _ + 0)", limit=5)
        assert found["premises"] and len(found["premises"]) <= 5
        assert all(p["statement"] for p in found["premises"])
        bad = await call(client, "premises", id="A.v:add_zero_r", query="nat. Require Import Lia")
        assert bad["status"] == "error"

    run_agent(root, session)


@needs_coq
def test_proofs_imported_from_elsewhere_are_listed_only_once_verified_here(tmp_path: Path) -> None:
    """`proofs` lists a proof taken by `auto-prove sync import` only after the scheduler verified it here; a forged
    one in the same export is never listed."""
    from test_lsp import WITNESS, _export

    root = single(tmp_path, "Witness.v", WITNESS)
    _export(tmp_path / "exports", root, root / "Witness.v", {"square_root": "Proof. exists 37. reflexivity. Qed.",
                                                             "not_provable": "Proof. admit. Admitted."})
    env, _ = cli_env()
    got = subprocess.run([sys.executable, "-m", "sidecar", "sync", "import", str(tmp_path / "exports"), str(root)],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert got.returncode == 0 and "imported 2 goal result(s)" in got.stdout, got

    async def session(client: Client) -> None:
        seen: list[dict[str, Any]] = []

        async def listed(goal: str) -> dict[str, Any]:
            answer = await call(client, "proofs", id=goal)
            seen.append(answer)
            return answer

        deadline = asyncio.get_running_loop().time() + 120
        while True:
            forged = await listed("Witness.v:not_provable")
            assert not [p for p in forged.get("proofs", []) if "admit" in p["proof"]], forged
            right = await listed("Witness.v:square_root")
            if any("exists 37" in p["proof"] for p in right.get("proofs", [])):
                break
            assert asyncio.get_running_loop().time() < deadline, seen[-2:]
            await asyncio.sleep(0.3)

    run_agent(root, session, "--budget", "2")
