"""The dashboard: time from a proof found to its node turning green in the browser.

A live workspace (profile 0) proves the demo project's goals with the demo blueprint in place; the dashboard serves
it and a real headless Chromium (Debian's, through Playwright) has the page open. The workspace notes the wall time
at which each verified proof is first reported (a listener on the workspace, as the dashboard's own); the page notes
when the node's `data-state` becomes `found` (a MutationObserver). Both clocks are this machine's wall clock.
Prints, per node and in all: the latency (median, max), and the page's first draw of the graph.

    python benchmarks/dashboard.py [--budget 30] [--cpu 0.5] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

CHROMIUM = "/usr/bin/chromium"
WATCH = """
window.__green = {};
new MutationObserver((ms) => {
  for (const m of ms) {
    const g = m.target;
    if (g.dataset && g.dataset.state === "found" && !(g.dataset.label in window.__green))
      window.__green[g.dataset.label] = Date.now();
  }
}).observe(document.getElementById("graph"), {subtree: true, attributes: true, attributeFilter: ["data-state"]});
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--budget", type=float, default=30.0)
    ap.add_argument("--cpu", type=float, default=0.5)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    from sidecar.dashboard.model import DashboardModel
    from sidecar.dashboard.server import Dashboard
    from sidecar.live import LiveWorkspace
    from sidecar.scheduler import ProveOptions

    with tempfile.TemporaryDirectory(prefix="dashboard-bench-") as tmp:
        project = Path(tmp) / "demo"
        shutil.copytree(REPO / "bank" / "demo", project)
        shutil.copytree(REPO / "blueprint", project / "blueprint")
        live = LiveWorkspace(ProveOptions(budget=args.budget, cpu=args.cpu, profile=0, library_seconds=0.0),
                             project).start()
        live.scheduler.pause()
        found: dict[str, float] = {}  # lemma -> ms when its verified proof was first reported

        def note() -> None:
            now = time.time() * 1000
            for _, goals in live.tracked():
                for tg in goals:
                    if tg.out.status == "proved" and tg.out.verified:
                        found.setdefault(tg.goal.lemma, now)

        live.add_listener(note)
        board = Dashboard(DashboardModel(project, live)).start()
        try:
            live.add_workspace_files(sorted(project.glob("*.v")))
            with sync_playwright() as pw:
                b = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                       args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                             "--disable-component-update", "--no-first-run", "--disable-sync"])
                page = b.new_page(viewport={"width": 1400, "height": 900})
                t0 = time.monotonic()
                page.goto(board.url)
                page.wait_for_selector("g.node[data-state]", timeout=120_000)
                first_draw = time.monotonic() - t0
                page.evaluate(WATCH)
                live.resume()
                deadline = time.monotonic() + 20 * args.budget
                while time.monotonic() < deadline:
                    st = live.status()
                    if st["total"] and not st["queued"] and not st["running"]:
                        break
                    time.sleep(0.5)
                time.sleep(1.5)  # the last event's way to the page
                green: dict[str, float] = page.evaluate("window.__green")
                nodes = {n["label"]: n["decls"] for n in board.model.graph()["nodes"]}
                b.close()
        finally:
            board.close()
            board.model.close()
            live.close()
    rows = []
    for label, decls in sorted(nodes.items()):
        lemmas = [d.rsplit(".", 1)[-1] for d in decls]
        t_found = min((found[x] for x in lemmas if x in found), default=None)
        if t_found is not None:
            rows.append((label, t_found, green.get(label)))
    lat = [g - f for _, f, g in rows if g is not None]
    print(f"page's first draw of the graph: {first_draw:.2f} s")
    print(f"{'node':<24} latency (ms)")
    for label, f, g in rows:
        print(f"{label:<24} {'not seen' if g is None else f'{g - f:.0f}'}")
    if lat:
        print(f"proof found -> node green in the browser: {len(lat)} nodes, median {statistics.median(lat):.0f} ms, "
              f"max {max(lat):.0f} ms, mean {statistics.mean(lat):.0f} ms (events at most {1000 / 4:.0f} ms apart)")
    missed = [label for label, _, g in rows if g is None]
    if missed:
        print(f"never turned green on the page: {', '.join(missed)}")
    if args.json:
        args.json.write_text(json.dumps({"first_draw_s": first_draw, "latency_ms": lat, "missed": missed}))
    return 1 if missed or not lat else 0


if __name__ == "__main__":
    sys.exit(main())
