"""`auto-prove mcp`: the agent tools (`agent.py`) over the Model Context Protocol (the official `mcp` SDK, extra
`mcp`), on stdio or as one streamable-HTTP server per project that several clients share.

Over HTTP the server listens on 127.0.0.1 only, on a port the system picks unless told, and every request needs
`Authorization: Bearer <token>` (else 401), as for the editor's endpoint: the URL and the token are in
`<project>/.auto-prove/mcp.json` (mode 0600, removed on exit). A second `--http` server for the same project is not
started: the running one is named instead.

A thin shell: each tool is one `Agent` method; descriptions are kept short (an agent pays for them in context on
every turn). The server holds one `LiveWorkspace` for the project, as `serve` does: goals are found and searched in
the background under the CPU target, and the tools read and steer the same state.
"""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from . import __version__

if TYPE_CHECKING:
    from mcp.server import MCPServer

    from .agent import Agent

__all__ = ["build_server", "INSTRUCTIONS", "MCP_FILE", "running_server", "serve_http", "serve_stdio"]

log = logging.getLogger(__name__)

MCP_FILE = Path(".auto-prove") / "mcp.json"  # the project's shared HTTP server: url, token, pid (mode 0600)

INSTRUCTIONS = (
    "auto-prove: the open goals (Coq Admitted/admit, Lean sorry) of one project, searched in the background; only "
    "proofs the independent verifier accepted are ever offered or written. Ids come from list_goals; answers carry "
    "the file's digest and a status: ok, verified, refused (+reason), error (+reason), timeout, busy (ask again).")


def build_server(agent: "Agent") -> "MCPServer":
    """The MCP server whose tools are `agent`'s."""
    from mcp.server import MCPServer

    mcp = MCPServer("auto-prove", version=__version__, instructions=INSTRUCTIONS)

    @mcp.tool(description="Goals of the project (glob on the file path, optional search status), paged.")
    def list_goals(pattern: str = "*", status: str | None = None, cursor: int = 0,
                   limit: int = 50) -> dict[str, Any]:
        return agent.list_goals(pattern, status, cursor, limit)

    @mcp.tool(description="One goal: statement, hypotheses and conclusion, nearby text, what the search did.")
    def get_goal(id: str) -> dict[str, Any]:  # noqa: A002 (the tool's argument name)
        return agent.get_goal(id)

    @mcp.tool(description="Run up to 20 tactics or scripts, each from the goal's start: goals left, or the error "
                          "and the goal it happened on. Verifies nothing.")
    def try_tactics(id: str, tactics: list[str]) -> dict[str, Any]:  # noqa: A002
        return agent.try_tactics(id, tactics)

    @mcp.tool(description="The independent verifier's verdict on a proof script (compiled in the file, statement "
                          "unchanged, no admits or new axioms). Writes nothing.")
    def check_proof(id: str, script: str) -> dict[str, Any]:  # noqa: A002
        return agent.check_proof(id, script)

    @mcp.tool(description="Verify a proof against the file with this digest and, unless dry_run, write it. A "
                          "stale digest is refused.")
    def apply_proof(id: str, script: str, digest: str, dry_run: bool = True) -> dict[str, Any]:  # noqa: A002
        return agent.apply_proof(id, script, digest, dry_run)

    @mcp.tool(description="Verified proofs known for a goal (background search, earlier runs).")
    def proofs(id: str) -> dict[str, Any]:  # noqa: A002
        return agent.proofs(id)

    @mcp.tool(description="Lemmas in scope for a goal, best first (local); query: the arguments of a Coq Search.")
    def premises(id: str, query: str = "", limit: int = 20) -> dict[str, Any]:  # noqa: A002
        return agent.premises(id, query, limit)

    @mcp.tool(description="Search these goals first in the background; returns a job for search_status. With "
                          "budget (seconds), goals not proved are searched again for that long.")
    def search(ids: list[str], budget: float | None = None) -> dict[str, Any]:
        return agent.search(ids, budget)

    @mcp.tool(description="A search job's goals (proofs when found); cancel=true returns them to the usual order.")
    def search_status(job: str, cancel: bool = False) -> dict[str, Any]:
        return agent.search_status(job, cancel)

    @mcp.tool(description="The background search: goals queued, running, proved; CPU use.")
    def status() -> dict[str, Any]:
        return agent.status()

    return mcp


@contextmanager
def _agent(root: Path, options: Any, tactic_timeout: float) -> Iterator["Agent"]:
    """The project's live workspace (watched: an agent edits files on disk, their goals follow) and the agent
    over it; both closed on the way out."""
    from .agent import Agent
    from .live import LiveWorkspace
    from .workspace import collect_files

    live = LiveWorkspace(options, root).start()
    agent = Agent(live, root, tactic_timeout=tactic_timeout)
    try:
        live.watch(root, ["coq", "lean"])
        live.add_workspace_files(collect_files([root]))
        yield agent
    finally:
        agent.close()
        live.close()


def serve_stdio(root: Path, options: Any, *, tactic_timeout: float = 10.0) -> None:
    """Run the MCP server on stdin/stdout for the project at `root` until the client closes the stream."""
    with _agent(root, options, tactic_timeout) as agent:
        build_server(agent).run("stdio")


def running_server(root: Path) -> dict[str, Any] | None:
    """The project's HTTP server if one is running (its `mcp.json`, whose process is alive), else None."""
    import json

    import psutil

    try:
        data = json.loads((root / MCP_FILE).read_text())
        pid = int(data["pid"])
        if pid != os.getpid() and psutil.pid_exists(pid) and any(
                "mcp" in a for a in psutil.Process(pid).cmdline()):
            return dict(data)
    except (OSError, ValueError, KeyError, TypeError, psutil.Error):
        pass
    return None


def _with_token(app: Any, token: str) -> Any:
    """`app` behind a bearer-token check (constant time); lifespan events pass through."""
    import hmac

    expected = f"Bearer {token}".encode()

    async def guarded(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, expected):
                await send({"type": "http.response.start", "status": 401,
                            "headers": [(b"content-type", b"application/json"),
                                        (b"www-authenticate", b"Bearer")]})
                await send({"type": "http.response.body",
                            "body": b'{"error": "missing or wrong token (see .auto-prove/mcp.json)"}'})
                return
        await app(scope, receive, send)

    return guarded


def serve_http(root: Path, options: Any, *, tactic_timeout: float = 10.0, port: int = 0,
               on_ready: Any = None) -> None:
    """Run the MCP server over streamable HTTP on 127.0.0.1 for the project at `root` until interrupted;
    `on_ready(url, file)` once it listens and `mcp.json` is written."""
    import secrets
    import socket

    import uvicorn

    from .endpoint import remove_service_file, write_service_file

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)  # connections wait in the backlog from now on, before the server loop runs
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/mcp"
    token = secrets.token_hex(16)
    file = root / MCP_FILE
    try:
        with _agent(root, options, tactic_timeout) as agent:
            app = _with_token(build_server(agent).streamable_http_app(host="127.0.0.1"), token)
            write_service_file(file, url, token)
            try:
                if on_ready is not None:
                    on_ready(url, file)
                uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on")).run(sockets=[sock])
            finally:
                remove_service_file(file, token)
    finally:
        sock.close()
