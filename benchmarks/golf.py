"""Proof golf on the bank: the proofs the search found, before and after golf, and what golf cost.

Runs `auto-prove bank` (default: profile 1, easy and medium, 60 s) with golf on, then from its rows: the mean length
(sentences) of the verified proofs as found and as written, how many golf shortened, and the seconds golf took per
proved goal (mean, median, max).

    python benchmarks/golf.py [--profile 1] [--difficulty easy --difficulty medium] [--budget 60] [--golf 5]
                              [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from sidecar.coq_source import script_sentences  # noqa: E402


def sentences(proof: str) -> int:
    body = [s for s in script_sentences(proof) if s not in ("Proof", "Qed", "Defined")]
    return len(body)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="1")
    ap.add_argument("--difficulty", action="append", default=None)
    ap.add_argument("--budget", default="60")
    ap.add_argument("--golf", default="5")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="golf-bench-") as tmp:
        out = Path(tmp) / "bank.json"
        cmd = [sys.executable, "-m", "sidecar", "bank", "--profile", args.profile, "--budget", args.budget,
               "--golf", args.golf, "--json", str(out)]
        for d in args.difficulty or ["easy", "medium"]:
            cmd += ["--difficulty", d]
        subprocess.run(cmd, check=True, cwd=HERE.parent)
        doc = json.loads(out.read_text())
    rows = [r for r in doc["goals"] if r.get("status") == "proved" and r.get("verified") and r.get("proof")]
    before = [sentences(r.get("golfed_from") or r["proof"]) for r in rows]
    after = [sentences(r["proof"]) for r in rows]
    spent = [r.get("golf_seconds", 0.0) for r in rows]
    shortened = [r for r in rows if r.get("golfed_from")]
    print(f"\n{len(rows)} proofs (profile {args.profile}, {args.budget} s, golf {args.golf} s)")
    if rows:
        print(f"mean length before golf {statistics.mean(before):.2f} sentences, after {statistics.mean(after):.2f}; "
              f"{len(shortened)} shortened ({sum(b - a for b, a in zip(before, after))} sentences fewer in all)")
        print(f"golf time per proved goal: mean {statistics.mean(spent):.2f} s, median {statistics.median(spent):.2f} "
              f"s, max {max(spent):.2f} s; in all {sum(spent):.0f} s of the run's {doc.get('wall_s', 0):.0f} s")
        for r in shortened[:10]:
            print(f"  {r['name']}: {' '.join(r['golfed_from'].split())}  →  {' '.join(r['proof'].split())}")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "before": before, "after": after, "golf_seconds": spent},
                                        indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
