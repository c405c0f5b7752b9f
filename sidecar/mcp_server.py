"""`auto-prove mcp`: the agent tools (`agent.py`) over the Model Context Protocol (the official `mcp` SDK, extra
`mcp`), on stdio.

A thin shell: each tool is one `Agent` method; descriptions are kept short (an agent pays for them in context on
every turn). The server holds one `LiveWorkspace` for the project, as `serve` does: goals are found and searched in
the background under the CPU target, and the tools read and steer the same state.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__

if TYPE_CHECKING:
    from mcp.server import MCPServer

    from .agent import Agent

__all__ = ["build_server", "INSTRUCTIONS"]

log = logging.getLogger(__name__)

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

    @mcp.tool(description="Search these goals first in the background; returns a job for search_status.")
    def search(ids: list[str]) -> dict[str, Any]:
        return agent.search(ids)

    @mcp.tool(description="A search job's goals (proofs when found); cancel=true returns them to the usual order.")
    def search_status(job: str, cancel: bool = False) -> dict[str, Any]:
        return agent.search_status(job, cancel)

    @mcp.tool(description="The background search: goals queued, running, proved; CPU use.")
    def status() -> dict[str, Any]:
        return agent.status()

    return mcp


def serve_stdio(root: Path, options: Any, *, tactic_timeout: float = 10.0) -> None:
    """Run the MCP server on stdin/stdout for the project at `root` until the client closes the stream."""
    from .agent import Agent
    from .live import LiveWorkspace
    from .workspace import collect_files

    live = LiveWorkspace(options, root).start()
    agent = Agent(live, root, tactic_timeout=tactic_timeout)
    try:
        live.watch(root, ["coq", "lean"])  # an agent edits files on disk: their goals follow
        live.add_workspace_files(collect_files([root]))
        build_server(agent).run("stdio")
    finally:
        agent.close()
        live.close()
