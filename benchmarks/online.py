#!/usr/bin/env python3
"""Online learning (profile 1): a module's development lemmas proved in file order, memory carried over vs reset.

For each chosen module of the Coq standard-library development set (../shared/coq-stdlib-dev, the modules with the
most cases): one file — the module's last case file, i.e. the module's text up to its last development lemma — in
which every earlier development lemma's original proof is replaced by `Admitted.`, so the file holds all of the
module's development lemmas as goals, in file order, and none of their proofs is visible. That file is proved twice,
side by side, by `auto-prove prove --profile 1 --max-provers 1 --strict --fresh` (goals one after another, in file
order):

* carried — each proof auto-prove verifies joins the memories at once, for the goals after it (the default);
* reset — the same run with online learning off (`AUTOPROVE_ONLINE_LEARNING=0`): every goal starts from the
  harvested memory only.

Prints, per module and overall: goals proved under each, and the search seconds of the goals proved under both
(what "the second similar lemma is cheaper" shows as). Every proof counted is one auto-prove verified (batch
compile of the patched file, statement unchanged, no axiom or open lemma behind it: --strict).

    python benchmarks/online.py [--modules 4] [--module Arith/Between.v] [--budget 60] [--cpu 0.5] [--hammer]
                                [--json out.json]
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_SET = HERE.parent.parent / "shared" / "coq-stdlib-dev"
sys.path.insert(0, str(HERE.parent))
from sidecar.procs import run as run_child  # noqa: E402  (each child dies with this script, whatever kills it)


def module_file(cases: list[dict], folder: Path) -> tuple[str, list[str]] | None:
    """The text of the module's last case file with the earlier development lemmas' proofs replaced by
    `Admitted.`, and the development lemmas it holds as goals (file order); None if a proof cannot be found."""
    cases = sorted(cases, key=lambda c: c["statement_range"][0])
    last = cases[-1]
    data = (folder / last["case_file"]).read_bytes()  # the manifest's ranges are byte offsets
    cuts: list[tuple[int, int]] = []
    for c in cases[:-1]:
        start, end = c["statement_range"]
        proof = c["proof_text"].encode("utf-8")
        if not data[start:end].decode("utf-8", "replace").startswith(c["statement"].strip()[:40]):
            return None
        at = data.find(proof, end)
        if at < 0 or data[end:at].strip():
            return None
        cuts.append((at, at + len(proof)))
    for a, b in reversed(cuts):
        data = data[:a] + b"Admitted." + data[b:]
    return data.decode("utf-8"), [c["lemma"] for c in cases]


def run(text: str, name: str, lemmas: list[str], args: argparse.Namespace, online: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix="online-") as tmp:
        work = Path(tmp) / name
        work.write_text(text, encoding="utf-8")
        cmd = [sys.executable, "-m", "sidecar", "prove", str(work), "--budget", str(args.budget), "--cpu",
               str(args.cpu), "--json", str(Path(tmp) / "out.json"), "--fresh", "--strict", "--profile", "1",
               "--max-provers", "1", "--harvest-seconds", "1e9"]  # with every library it may see harvested
        if args.hammer:
            cmd.append("--hammer")
        env = dict(os.environ, AUTOPROVE_ONLINE_LEARNING="1" if online else "0")
        t0 = time.monotonic()
        p = run_child(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                      timeout=(args.budget * 3 + 120) * len(lemmas) + 600)
        wall = time.monotonic() - t0
        goals: dict[str, dict] = {}
        try:
            out = json.loads((Path(tmp) / "out.json").read_text())
            for g in out["goals"]:
                if g["name"] in lemmas:
                    goals[g["name"]] = {"status": g["status"], "seconds": g.get("seconds", 0.0),
                                        "families": g.get("families", [])}
        except (OSError, ValueError, KeyError):
            return {"error": p.stderr[-800:], "wall_s": wall, "goals": {}}
        return {"wall_s": round(wall, 1), "goals": goals}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", type=Path, default=DEFAULT_SET)
    ap.add_argument("--modules", type=int, default=4, help="how many modules (those with the most cases)")
    ap.add_argument("--budget", type=float, default=60.0)
    ap.add_argument("--cpu", type=float, default=0.5, help="per run; the two runs go side by side")
    ap.add_argument("--module", action="append", default=[], help="only this source file (e.g. Arith/Between.v)")
    ap.add_argument("--hammer", action="store_true")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    folder = args.set / "cases"
    manifest = json.loads((folder / "manifest.json").read_text())
    by: dict[str, list[dict]] = defaultdict(list)
    for c in manifest["cases"]:
        by[c["source_file"]].append(c)
    chosen: list[tuple[str, str, list[str]]] = []
    for src, cs in sorted(by.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        if args.module and src not in args.module:
            continue
        if len(chosen) >= args.modules or len(cs) < 2:
            break
        made = module_file(cs, folder)
        if made is None:
            print(f"{src}: the earlier lemmas' proofs are not where the manifest says; skipped")
            continue
        chosen.append((src, *made))
    t0 = time.monotonic()
    results: dict[tuple[str, bool], dict] = {}
    with cf.ThreadPoolExecutor(max_workers=2) as ex:  # carried and reset side by side, module by module
        for src, text, lemmas in chosen:
            name = "M_" + Path(src).stem + ".v"
            futs = {ex.submit(run, text, name, lemmas, args, online): online for online in (True, False)}
            for f in cf.as_completed(futs):
                results[(src, futs[f])] = f.result()
            c, r = results[(src, True)], results[(src, False)]
            pc = sum(g["status"] == "proved" for g in c["goals"].values())
            pr = sum(g["status"] == "proved" for g in r["goals"].values())
            print(f"{src}: {len(lemmas)} goals; carried {pc} proved ({c['wall_s']} s), reset {pr} proved "
                  f"({r['wall_s']} s)" + (f"; error: {c.get('error') or r.get('error')}" if 'error' in c or
                                          'error' in r else ""), flush=True)
    tot = Counter()
    both: list[tuple[float, float]] = []
    mem = 0
    for src, _, lemmas in chosen:
        c, r = results[(src, True)]["goals"], results[(src, False)]["goals"]
        for lem in lemmas:
            a, b = c.get(lem, {}), r.get(lem, {})
            tot["goals"] += 1
            tot["carried"] += a.get("status") == "proved"
            tot["reset"] += b.get("status") == "proved"
            if a.get("status") == "proved" and b.get("status") == "proved":
                both.append((a["seconds"], b["seconds"]))
            mem += a.get("status") == "proved" and any(f in ("memory", "reuse", "premise-learned")
                                                       for f in a.get("families", []))
    print(f"\n{len(chosen)} modules, {tot['goals']} goals, budget {args.budget:.0f} s, cpu {args.cpu} per run, "
          f"wall {time.monotonic() - t0:.0f} s")
    print(f"proved: carried {tot['carried']}, reset {tot['reset']}; carried proofs using learned candidates {mem}")
    if both:
        sc, sr = [x for x, _ in both], [y for _, y in both]
        print(f"goals proved under both ({len(both)}): search seconds carried median {statistics.median(sc):.1f} "
              f"total {sum(sc):.1f}; reset median {statistics.median(sr):.1f} total {sum(sr):.1f}")
    if args.json:
        args.json.write_text(json.dumps({f"{s}|{'carried' if o else 'reset'}": v for (s, o), v in results.items()},
                                        indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
