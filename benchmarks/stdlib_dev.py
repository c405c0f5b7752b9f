#!/usr/bin/env python3
"""Solve rate on the Coq standard-library development set (../shared/coq-stdlib-dev), checked by its own checker.

For each case: copy the case file into a fresh folder, run `auto-prove prove --write` on it with the per-case budget,
then hand the written file to the set's strict checker (`benchlib.py check-filled`). A header line that auto-prove
put at the top of the file (e.g. the CoqHammer import with --hammer) is passed to the checker as its HEADER_FILE,
which is the checker's documented way to allow one. Prints the solve rate overall and per bucket.

    python benchmarks/stdlib_dev.py [--budget 60] [--jobs 2] [--limit N] [--cases d001,d004] [--hammer]
    python benchmarks/stdlib_dev.py --profile 0 --profile 1 ...   # profiles side by side: each case under each
    python benchmarks/stdlib_dev.py --baseline hammer --baseline sauto ...   # one-tactic baselines, same checker
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_SET = HERE.parent.parent / "shared" / "coq-stdlib-dev"
# profile 1 is measured with every library a case may see harvested (a warmed-up machine), not with what the command
# line's one-shot allowance leaves time for on a cold cache
UNBOUNDED_HARVEST = 1e9
sys.path.insert(0, str(HERE.parent))
from sidecar.procs import run as run_child  # noqa: E402  (each child dies with this script, whatever kills it)


def _run(cmd: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    return run_child(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def llm_usage(project: Path) -> dict:
    """The language model's calls (all, and those for next tactics inside the search), tokens and seconds in a run's
    ledger (profile 2)."""
    import sqlite3

    try:
        db = sqlite3.connect(project / ".auto-prove" / "ledger.sqlite")
        calls, steps, tokens, seconds = db.execute(
            "SELECT COUNT(*), SUM(outcome LIKE 'steps%'), SUM(input_tokens + output_tokens), SUM(seconds) "
            "FROM llm_calls").fetchone()
        db.close()
    except sqlite3.Error:
        calls = steps = tokens = seconds = 0
    return {"llm_calls": int(calls or 0), "llm_step_calls": int(steps or 0), "llm_tokens": int(tokens or 0),
            "llm_seconds": round(seconds or 0.0, 1)}


def run_case(case: Path, manifest: dict, args: argparse.Namespace, profile: int = 0) -> dict:
    entry = next(c for c in manifest["cases"] if c["case_file"] == case.name)
    with tempfile.TemporaryDirectory(prefix="stdlib-dev-") as tmp:
        work = Path(tmp) / case.name
        shutil.copyfile(case, work)
        original = work.read_bytes()
        cmd = [sys.executable, "-m", "sidecar", "prove", str(work), "--write", "--budget", str(args.budget),
               "--cpu", str(args.cpu), "--json", str(Path(tmp) / "out.json"), "--fresh", "--strict",
               "--profile", str(profile), "--harvest-seconds", str(UNBOUNDED_HARVEST)]
        if args.hammer:
            cmd.append("--hammer")
        # helper-lemma tickets spend time past the budget: off unless asked, so that the figures stay comparable
        cmd += ["--tickets", "--ticket-seconds", str(args.ticket_seconds)] if args.tickets else ["--no-tickets"]
        if profile >= 2:  # the language model (benchmarks/llm_proposer.py sets these)
            cmd += ["--llm", args.llm] + (["--llm-base-url", args.llm_base_url] if args.llm_base_url else []) + \
                list(getattr(args, "llm_args", ()))
        t0 = time.monotonic()
        p = _run(cmd, timeout=args.budget * 3 + 600)
        wall = time.monotonic() - t0
        filled = work.read_bytes()
        res = {"case": case.name, "bucket": entry["bucket"], "wall_s": round(wall, 1), "rc": p.returncode,
               "written": filled != original, "accepted": False, "profile": profile}
        if profile >= 2:
            res.update(llm_usage(Path(tmp)))
        try:
            out = json.loads((Path(tmp) / "out.json").read_text())
            g = [x for x in out["goals"] if x["name"] == entry["lemma"]]
            res["status"] = g[0]["status"] if g else "no goal found"
            res["strategy"] = g[0].get("strategy") if g else ""
            res["families"] = g[0].get("families", []) if g else []
            res["message"] = (g[0].get("message") or "")[:300] if g else ""
        except (OSError, ValueError, KeyError):
            res["status"] = "no report"
            res["stderr"] = p.stderr[-800:]
        if not res["written"]:
            return res
        header = b""
        if not filled.startswith(original[:200]):  # a header line was put on top
            cut = filled.find(original[:200])
            header, filled = filled[:cut], filled[cut:]
        filled_path = Path(tmp) / "filled.v"
        filled_path.write_bytes(filled)
        cmd2 = [sys.executable, str(args.set / "benchlib.py"), "check-filled", str(case), str(filled_path)]
        if header:
            (Path(tmp) / "header.v").write_bytes(header)
            cmd2.append(str(Path(tmp) / "header.v"))
        env = dict(os.environ, BENCH_MANIFEST=str(args.set / "cases" / "manifest.json"))
        c = _run(cmd2, env=env, timeout=900)
        try:
            verdict = json.loads(c.stdout)
        except ValueError:
            verdict = {"ok": False, "reasons": ["checker output unreadable: " + c.stdout[-300:] + c.stderr[-300:]]}
        res["accepted"] = bool(verdict.get("ok"))
        res["checker_reasons"] = verdict.get("reasons", [])
        res["header"] = header.decode().strip()
        return res


BASELINE_HEADER = b"From Hammer Require Import Hammer Tactics.\nFrom Coq Require Import Lia.\n"


def run_baseline(case: Path, tactic: str, args: argparse.Namespace) -> bool:
    """Whether `Proof. <tactic>. Qed.` alone passes the set's checker within the budget (the README's baselines:
    one tactic per case, with the CoqHammer and Lia imports as the header)."""
    with tempfile.TemporaryDirectory(prefix="stdlib-base-") as tmp:
        proof, header = Path(tmp) / "proof.v", Path(tmp) / "header.v"
        proof.write_text(f"Proof. {tactic}. Qed.\n")
        header.write_bytes(BASELINE_HEADER)
        env = dict(os.environ, BENCH_MANIFEST=str(args.set / "cases" / "manifest.json"),
                   BENCH_TIMEOUT=str(int(args.budget)))
        cmd = [sys.executable, str(args.set / "benchlib.py"), "check", str(case), str(proof), str(header)]
        c = _run(cmd, env=env, timeout=args.budget * 4 + 300)
        try:
            return bool(json.loads(c.stdout).get("ok"))
        except ValueError:
            return False


def run_baselines(case: Path, manifest: dict, args: argparse.Namespace) -> dict:
    entry = next(c for c in manifest["cases"] if c["case_file"] == case.name)
    t0 = time.monotonic()
    res: dict = {"case": case.name, "bucket": entry["bucket"], "baselines": {}}
    for tac in args.baseline:
        res["baselines"][tac] = run_baseline(case, tac, args)
    res["accepted"] = any(res["baselines"].values())
    res["wall_s"] = round(time.monotonic() - t0, 1)
    res["status"] = ",".join(t for t, ok in res["baselines"].items() if ok) or "none"
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", type=Path, default=DEFAULT_SET)
    ap.add_argument("--budget", type=float, default=60.0)
    ap.add_argument("--cpu", type=float, default=0.5)
    ap.add_argument("--jobs", type=int, default=1, help="cases run side by side (each at --cpu)")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--cases", default="", help="comma-separated case id prefixes, e.g. d001,d017")
    ap.add_argument("--hammer", action="store_true", help="pass --hammer to auto-prove")
    ap.add_argument("--tickets", action="store_true", help="let auto-prove search helper lemmas for a goal it could "
                    "not close (past the budget: --ticket-seconds per helper and per retry)")
    ap.add_argument("--ticket-seconds", type=float, default=10.0)
    ap.add_argument("--profile", type=int, action="append", default=[],
                    help="strategy profile (repeatable: each case is run under each, side by side; default 0)")
    ap.add_argument("--json", type=Path, default=None, help="write per-case results here")
    ap.add_argument("--baseline", action="append", default=[], metavar="TACTIC",
                    help="instead of auto-prove, check `Proof. TACTIC. Qed.` on each case (repeatable, e.g. "
                         "--baseline hammer --baseline sauto); prints each tactic's rate and their union")
    args = ap.parse_args()
    manifest = json.loads((args.set / "cases" / "manifest.json").read_text())
    cases = sorted((args.set / "cases").glob("d*.v"))
    if args.cases:
        pref = tuple(args.cases.split(","))
        cases = [c for c in cases if c.name.startswith(pref)]
    if args.limit:
        cases = cases[: args.limit]
    t0 = time.monotonic()
    results = []
    profiles = args.profile or [0]
    with cf.ThreadPoolExecutor(max_workers=args.jobs) as ex:
        if args.baseline:
            futs = {ex.submit(run_baselines, c, manifest, args): c for c in cases}
        else:  # each case under every profile, the order alternating so that neither always runs first
            futs = {ex.submit(run_case, c, manifest, args, p): c
                    for k, c in enumerate(cases) for p in (profiles if k % 2 == 0 else profiles[::-1])}
        for i, f in enumerate(cf.as_completed(futs), 1):
            r = f.result()
            results.append(r)
            mark = "OK " if r["accepted"] else "-- "
            tag = f"p{r['profile']} " if len(profiles) > 1 and "profile" in r else ""
            print(f"[{i:3}/{len(futs)}] {mark}{tag}{r['case']:<60} {r.get('status', ''):<10} {r['wall_s']:6.1f}s "
                  f"{r.get('strategy') or ''} {'; '.join(r.get('checker_reasons', []))[:100]}", flush=True)
    print()
    what = f"baselines {', '.join(args.baseline)} (union)" if args.baseline else \
        f"auto-prove --cpu {args.cpu}, hammer {args.hammer}"
    print(f"budget {args.budget:.0f} s per case, {what}, jobs {args.jobs}, wall {time.monotonic() - t0:.0f} s")
    for tac in args.baseline:
        n = sum(1 for r in results if r["baselines"].get(tac))
        print(f"  {tac:<20} {n}/{len(results)} = {100 * n / max(1, len(results)):.1f}%")
    for p in ([None] if args.baseline else profiles):
        rs = [r for r in results if p is None or r.get("profile") == p]
        report(rs, "" if p is None else f"profile {p}: ")
    if len(profiles) > 1 and not args.baseline:
        by = {(r["case"], r["profile"]): r["accepted"] for r in results}
        a, b = profiles[0], profiles[1]
        gained = sorted(c.name for c in cases if by.get((c.name, b)) and not by.get((c.name, a)))
        lost = sorted(c.name for c in cases if by.get((c.name, a)) and not by.get((c.name, b)))
        print(f"profile {b} vs {a}: {len(gained)} gained, {len(lost)} lost")
        for name in gained:
            print(f"  + {name}")
        for name in lost:
            print(f"  - {name}")
    if args.json:
        args.json.write_text(json.dumps(sorted(results, key=lambda r: r["case"]), indent=1))
    return 0


def report(results: list[dict], prefix: str) -> None:
    """Solve rate overall and per bucket, finishing families, and which proofs used what was learned."""
    total = Counter(r["bucket"] for r in results)
    ok = Counter(r["bucket"] for r in results if r["accepted"])
    n_ok = sum(ok.values())
    print(f"{prefix}solved (checker-accepted) {n_ok}/{len(results)} = {100 * n_ok / max(1, len(results)):.1f}%")
    for b in ("short", "medium", "long"):
        if total[b]:
            print(f"  {b:<7} {ok[b]}/{total[b]} = {100 * ok[b] / total[b]:.1f}%")
    accepted = [r for r in results if r["accepted"]]
    fams = Counter(r.get("strategy") or "?" for r in accepted)
    print("  finishing families: " + ", ".join(f"{k} {v}" for k, v in fams.most_common()))
    learned = {"memory", "reuse", "premise-learned", "neural"}
    used = Counter(f for r in accepted for f in set(r.get("families", [])) if f in learned)
    if used:
        print("  proofs using " + ", ".join(f"{k}: {v}/{len(accepted)}" for k, v in used.most_common()))
    unverified = [r for r in results if r.get("written") and not r["accepted"]]
    print(f"  written but refused by the checker: {len(unverified)}")


if __name__ == "__main__":
    sys.exit(main())
