"""Helper-lemma tickets: what they add to `prove`, side by side with the same run without them.

Takes a bank file (default the hard one) with every proof replaced by `Admitted.`, and runs `auto-prove prove` on
a copy of it twice in this run: `--no-tickets`, then `--tickets --ticket-seconds S`, same budget, profile and CPU.
Prints per run: goals proved, wall time; for the run with tickets: tickets made, goals not proved that got at least
one, tickets whose helper was proved, goals proved through a helper (`used`), the tickets themselves.

    python benchmarks/tickets.py [--file bank/coq/BankHard.v] [--budget 10] [--ticket-seconds 10] [--profile 0]
                                 [--cpu 1.0]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def run(work: Path, args: argparse.Namespace, tickets: bool) -> tuple[dict, float]:
    out = work / f"out-{tickets}.json"
    cmd = [sys.executable, "-m", "sidecar", "prove", str(work / "T.v"), "--budget", str(args.budget), "--cpu",
           str(args.cpu), "--profile", str(args.profile), "--fresh", "--json", str(out)]
    cmd += ["--tickets", "--ticket-seconds", str(args.ticket_seconds)] if tickets else ["--no-tickets"]
    t0 = time.monotonic()
    r = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    wall = time.monotonic() - t0
    if r.returncode != 0:
        print(r.stdout[-2000:], r.stderr[-2000:])
        raise SystemExit(f"prove failed ({r.returncode})")
    return json.loads(out.read_text()), wall


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--file", type=Path, default=REPO / "bank" / "coq" / "BankHard.v")
    ap.add_argument("--budget", type=float, default=10.0)
    ap.add_argument("--ticket-seconds", type=float, default=10.0)
    ap.add_argument("--profile", default="0")
    ap.add_argument("--cpu", type=float, default=1.0)
    args = ap.parse_args()
    text = re.sub(r"Proof\.(.*?)(Qed|Defined)\.", "Admitted.", args.file.read_text(), flags=re.S)
    with tempfile.TemporaryDirectory(prefix="tickets-bench-") as tmp:
        work = Path(tmp)
        rows = {}
        for tickets in (False, True):
            (work / "T.v").write_text(text)
            for p in work.glob(".auto-prove"):
                subprocess.run(["rm", "-rf", str(p)])
            rows[tickets] = run(work, args, tickets)
    print(f"{args.file.name}: {len(rows[False][0]['goals'])} goals, budget {args.budget} s, profile {args.profile}, "
          f"--cpu {args.cpu}, ticket seconds {args.ticket_seconds}")
    for tickets, (doc, wall) in rows.items():
        proved = sum(g["status"] == "proved" for g in doc["goals"])
        print(f"  {'with' if tickets else 'without':7} tickets: proved {proved}/{len(doc['goals'])} in {wall:.0f} s")
    doc = rows[True][0]
    made = [(g["name"], t) for g in doc["goals"] for t in g.get("tickets", [])]
    unproved = [g for g in doc["goals"] if g["status"] != "proved"]
    print(f"  tickets made: {len(made)}; goals not proved with at least one: "
          f"{sum(bool(g.get('tickets')) for g in unproved)}/{len(unproved)}; helpers proved: "
          f"{sum(t['status'] in ('proved', 'used') for _, t in made)}; goals proved through a helper: "
          f"{sum(t['status'] == 'used' for _, t in made)}")
    before = {g["name"] for g in rows[False][0]["goals"] if g["status"] == "proved"}
    after = {g["name"] for g in doc["goals"] if g["status"] == "proved"}
    print(f"  proved only with tickets: {', '.join(sorted(after - before)) or '-'}; only without: "
          f"{', '.join(sorted(before - after)) or '-'}")
    for name, t in made:
        print(f"    {name}: {t['name']} ({t['status']}): {t['statement']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
