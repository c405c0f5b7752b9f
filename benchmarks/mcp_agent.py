"""A scripted agent session over MCP on the lemma bank: latency and size of every tool call.

The bank's lemmas of one difficulty (default easy) are written as a project of one file per lemma (every earlier
lemma proved, the lemma itself `Admitted.`, as `auto-prove bank` does). `auto-prove mcp` is started on it as an
agent's host starts it (stdio, the official SDK's client), and a scripted agent that knows each lemma's reference
proof does what an agent does on every goal: `list_goals`, `get_goal`, `try_tactics` (a wrong tactic and the
reference proof), `check_proof`, `apply_proof` (written). The background search runs meanwhile, as it would.

Prints per tool: calls, median and p95 latency (ms), median and largest answer (bytes); the size of the tool
listing (bytes, and tokens estimated at 4 bytes each); how many goals were verified and written, and whether every
written file compiles with `coqc`.

    python benchmarks/mcp_agent.py [--difficulty easy] [--limit N] [--cpu 0.5] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from mcp import Client  # noqa: E402
from mcp.client.stdio import StdioServerParameters  # noqa: E402

from sidecar.bank import BankRun, materialize  # noqa: E402
from sidecar.bankfile import load_bank  # noqa: E402


def p95(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(0.95 * (len(xs) - 1))))]


async def session(root: Path, proofs: dict[str, str], cpu: float) -> dict[str, object]:
    times: dict[str, list[float]] = {}
    sizes: dict[str, list[int]] = {}
    counts = {"verified": 0, "written": 0, "refused": 0, "other": 0}
    env = dict(os.environ, PYTHONPATH=str(HERE.parent))
    params = StdioServerParameters(command=sys.executable, args=["-m", "sidecar", "mcp", str(root), "--cpu", str(cpu)],
                                   env=env)
    async with Client(params) as client:
        async def call(tool: str, **arguments: object) -> dict:
            t0 = time.perf_counter()
            r = await client.call_tool(tool, arguments)
            times.setdefault(tool, []).append((time.perf_counter() - t0) * 1000)
            body = json.dumps(r.structured_content)
            sizes.setdefault(tool, []).append(len(body.encode()))
            return r.structured_content or {}

        listing = json.dumps([t.model_dump(mode="json", exclude_none=True) for t in (await client.list_tools()).tools])
        goals: list[dict] = []
        t_first = time.perf_counter()
        while True:  # until every file's goals are found (an answer before that lists those found so far)
            page = await call("list_goals", limit=200)
            if page.get("status") == "ok" and page.get("complete"):
                goals = page["goals"]
                break
            await asyncio.sleep(0.5)
        first_list = time.perf_counter() - t_first
        for g in goals:
            lemma = g["lemma"]
            script = proofs[lemma]
            got = await call("get_goal", id=g["id"])
            if got.get("status") != "ok":
                counts["other"] += 1
                continue
            await call("try_tactics", id=g["id"], tactics=["exact I", script])
            verdict = await call("check_proof", id=g["id"], script=script)
            counts[verdict["status"] if verdict.get("status") in ("verified", "refused") else "other"] += 1
            applied = await call("apply_proof", id=g["id"], script=script, digest=got["digest"], dry_run=False)
            counts["written"] += bool(applied.get("written"))
        await call("status")
    return {"tools": {k: {"calls": len(v), "median_ms": round(statistics.median(v), 1), "p95_ms": round(p95(v), 1),
                          "median_bytes": int(statistics.median(sizes[k])), "max_bytes": max(sizes[k])}
                      for k, v in times.items()},
            "listing_bytes": len(listing.encode()), "listing_tokens_est": len(listing.encode()) // 4,
            "goals": len(goals), "first_list_s": round(first_list, 1), **counts}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--difficulty", default="easy")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--cpu", type=float, default=0.5)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    bank = load_bank()
    with tempfile.TemporaryDirectory(prefix="mcp-agent-") as tmp:
        root = Path(tmp)
        meta = materialize(BankRun(backend="coq", difficulties=(args.difficulty,), limit=args.limit), root)
        proofs = {name: bank.lemma(name).coq_proof for name, _d, _t in meta.values()}
        t0 = time.monotonic()
        doc = asyncio.run(session(root, proofs, args.cpu))
        doc["wall_s"] = round(time.monotonic() - t0, 1)
        compiled = 0
        for f in sorted(root.glob("*.v")):
            r = subprocess.run(["coqc", f.name], cwd=root, capture_output=True, timeout=300)
            compiled += r.returncode == 0 and "Admitted." not in f.read_text()
        doc["compiled_without_admitted"] = compiled
        doc["files"] = len(meta)
    print(f"{doc['goals']} goals ({args.difficulty}), first list after {doc['first_list_s']} s, "
          f"session {doc['wall_s']} s: verified {doc['verified']}, refused {doc['refused']}, other {doc['other']}, "
          f"written {doc['written']}; {doc['compiled_without_admitted']}/{doc['files']} files compile with no Admitted")
    print(f"tool listing: {doc['listing_bytes']} bytes (~{doc['listing_tokens_est']} tokens)")
    print(f"{'tool':<14}{'calls':>6}{'median ms':>11}{'p95 ms':>9}{'median B':>10}{'max B':>8}")
    for name, t in doc["tools"].items():  # type: ignore[union-attr]
        print(f"{name:<14}{t['calls']:>6}{t['median_ms']:>11}{t['p95_ms']:>9}{t['median_bytes']:>10}{t['max_bytes']:>8}")
    if args.json:
        args.json.write_text(json.dumps(doc, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
