#!/usr/bin/env python3
"""Harvest: time and disk size for every library the Coq standard-library development set loads.

For each case of ../shared/coq-stdlib-dev the goal is found (one coqc run of the case) and `visibility_for` lists the
libraries the case itself loads (`Print Libraries` after the case's own Requires: never Lia, which only the tool
adds); the union of those libraries is then harvested (`harvest_sources`, one prover per library, `--jobs` at a
time) into the harvest cache. Prints the number of libraries, proofs replayed and skipped (by reason), examples,
time, the cache's size on disk and the throughput. A second pass (`--again`) reads everything back from the cache.

    python benchmarks/harvest.py [--jobs 2] [--limit N] [--cache DIR] [--fresh] [--again] [--json out.json]

`--edits CASE` measures instead what an edit costs in the goal's own file (which the editor harvests again after
every edit): the case file harvested whole into an empty cache, then after an edit at its end (only the goal's
`Admitted.` changes), in the middle (a definition inserted before the middle lemma), and before its first lemma.

    python benchmarks/harvest.py --edits d010_List_NoDup_nth.v
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import logging
import shutil
import sys
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
DEFAULT_SET = HERE.parent.parent / "shared" / "coq-stdlib-dev"

from rich.console import Console  # noqa: E402

from sidecar.coq_source import run_coqc  # noqa: E402
from sidecar.coqproject import coq_project_for  # noqa: E402
from sidecar.goals import goals_from_run  # noqa: E402
from sidecar.learn.harvest import Harvest, HarvestCache, harvest_sources  # noqa: E402
from sidecar.learn.visibility import Source, visibility_for  # noqa: E402


def case_libraries(case: Path) -> list[Source]:
    """The library sources the case's goal may learn from (its own Requires only)."""
    source = case.read_bytes()
    project = coq_project_for(case)
    run = run_coqc(source, case.stem, project.args, load_dir=project.root)
    found = goals_from_run(case, source, run, project, 300.0)
    if not found.goals:
        return []
    vis = visibility_for(found.goals[-1])
    return [s for s in vis.sources if s.kind == "library"]


def summarize(harvests: list[Harvest], seconds: float, cache: HarvestCache) -> dict[str, object]:
    skipped: Counter[str] = Counter()
    for h in harvests:
        skipped.update(h.skipped)
    replayed = sum(h.replayed for h in harvests)
    examples = sum(len(h.examples) for h in harvests)
    failed = sum(h.failed for h in harvests)
    return {
        "libraries": len(harvests),
        "libraries_without_source": sum(1 for h in harvests if h.message and not h.proofs),
        "from_cache": sum(1 for h in harvests if h.from_cache),
        "proofs_replayed": replayed,
        "proofs_skipped": failed,
        "skipped_by_reason": dict(skipped.most_common()),
        "replay_rate": round(replayed / (replayed + failed), 4) if replayed + failed else None,
        "examples": examples,
        "constants_per_proof": round(sum(len(q.constants) for h in harvests for q in h.proofs) / max(1, replayed), 2),
        "seconds": round(seconds, 1),
        "cache_bytes": cache.size(),
        "proofs_per_s": round(replayed / seconds, 1) if seconds else None,
        "examples_per_s": round(examples / seconds, 1) if seconds else None,
        "slowest": sorted(((round(h.seconds, 1), h.source.name) for h in harvests), reverse=True)[:8],
    }


def show(title: str, s: dict[str, object], console: Console) -> None:
    console.print(f"[bold]{title}[/bold]")
    for k, v in s.items():
        console.print(f"  {k:28} {v}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", type=Path, default=DEFAULT_SET)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0, help="only the first N cases")
    ap.add_argument("--cache", type=Path, default=None, help="harvest cache folder (default: the user's)")
    ap.add_argument("--fresh", action="store_true", help="empty this Coq version's cache folder first")
    ap.add_argument("--again", action="store_true", help="then harvest once more (all from the cache)")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--edits", default="", help="a case file: time the harvest of its own file after edits")
    args = ap.parse_args()
    if args.edits:
        return edits(args.set / "cases" / args.edits)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s", stream=sys.stderr)
    console = Console(stderr=True)
    cache = HarvestCache(args.cache)
    if args.fresh:
        shutil.rmtree(cache.path("x", "0").parent, ignore_errors=True)

    cases = sorted((args.set / "cases").glob("*.v"))
    if args.limit:
        cases = cases[: args.limit]
    t0 = time.monotonic()
    libraries: dict[str, Source] = {}
    with cf.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for srcs in pool.map(case_libraries, cases):
            for s in srcs:
                libraries.setdefault(s.origin, s)
    t_scan = time.monotonic() - t0
    console.print(f"{len(cases)} cases load {len(libraries)} libraries (found in {t_scan:.1f} s)")

    t1 = time.monotonic()
    harvests = harvest_sources(sorted(libraries.values(), key=lambda s: s.origin), jobs=args.jobs, cache=cache,
                               console=console)
    first = summarize(harvests, time.monotonic() - t1, cache)
    show(f"harvest ({args.jobs} jobs)", first, console)
    doc: dict[str, object] = {"cases": len(cases), "scan_seconds": round(t_scan, 1), "harvest": first}
    if args.again:
        t2 = time.monotonic()
        again = harvest_sources(sorted(libraries.values(), key=lambda s: s.origin), jobs=args.jobs, cache=cache)
        second = summarize(again, time.monotonic() - t2, cache)
        show("again (from the cache)", second, console)
        doc["again"] = second
    if args.json:
        args.json.write_text(json.dumps(doc, indent=1) + "\n")
    print(json.dumps(doc))
    return 0


def edits(case: Path) -> int:
    """Harvest the case's own file whole, then again after an edit at the end, in the middle, at the top."""
    import tempfile

    from sidecar.coq_source import classify
    from sidecar.learn.harvest import harvest_source

    with tempfile.TemporaryDirectory(prefix="harvest-edits-") as tmp:
        f = Path(tmp) / case.name
        text = case.read_text(encoding="utf-8")
        f.write_text(text, encoding="utf-8")
        cache = HarvestCache(Path(tmp) / "cache")
        src = Source(origin=str(f), kind="project", path=f, workdir=f.parent)
        run = run_coqc(text.encode(), f.stem, load_dir=f.parent)
        openers = [s.start for s in run.sentences if classify(s.text).kind == "opener"]
        if not openers:
            print(f"{case.name}: no lemma found")
            return 1
        middle = openers[len(openers) // 2]
        data = text.encode()
        steps = [("whole file", data),
                 ("edit at the end", data.replace(b"Admitted.", b"Proof. Admitted.")),
                 ("edit in the middle", data[:middle] + b"Definition an_edit := 0.\n" + data[middle:]),
                 ("edit at the top", data[:openers[0]] + b"Definition an_edit := 0.\n" + data[openers[0]:])]
        for what, content in steps:
            f.write_bytes(content)
            t0 = time.monotonic()
            h = harvest_source(src, cache=cache)
            print(f"{what:<20} {time.monotonic() - t0:7.1f} s  {h.replayed} proofs, {len(h.examples)} examples")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
