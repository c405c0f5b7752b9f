"""How long a large blueprint takes: a generated one of N nodes (default 500; a random DAG of `\\uses`, each node
naming a Coq lemma of a generated project, one in five of them `Admitted`) read through plasTeX, its graph measures
(coverage, next, critical path, what each node unblocks, the goals' ranks), and the check of its declarations
against Coq (build, `Locate`, `Print Assumptions`).

    python benchmarks/blueprint.py [--nodes 500] [--files 10] [--seed 1] [--repeat 3]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from sidecar.blueprint.priority import goal_ranks  # noqa: E402
from sidecar.blueprint.read import read_blueprint  # noqa: E402
from sidecar.blueprint.truth import coq_truth  # noqa: E402

WEB = ("\\documentclass{report}\n\\usepackage{amsthm}\n\\usepackage{blueprint}\n\\newtheorem{lemma}{Lemma}\n"
       "\\begin{document}\n\\input{content}\n\\end{document}\n")


def generate(root: Path, nodes: int, files: int, rng: random.Random) -> list[str]:
    """A Coq project of `files` files and its blueprint of `nodes` nodes; the names of the admitted lemmas."""
    (root / "_CoqProject").write_text("-R . Gen\n" + "".join(f"F{f}.v\n" for f in range(files)))
    per = [[] for _ in range(files)]  # type: list[list[str]]
    admitted = []
    content = []
    for k in range(nodes):
        name = f"l{k}"
        open_ = rng.random() < 0.2
        per[k * files // nodes].append(f"Lemma {name} : forall n : nat, n + {k} = {k} + n.\n"
                                       + ("Admitted.\n" if open_ else "Proof. intros n. apply Nat.add_comm. Qed.\n"))
        if open_:
            admitted.append(name)
        uses = sorted({f"n{rng.randrange(k)}" for _ in range(rng.randint(0, 3))}) if k else []
        content.append(f"\\begin{{lemma}}\\label{{n{k}}}\\rocq{{{name}}}" + ("\\rocqok" if not open_ else "")
                       + (f"\\uses{{{', '.join(uses)}}}" if uses else "") + f"\nStatement {k}.\n\\end{{lemma}}\n")
    for f, lemmas in enumerate(per):
        head = "From Coq Require Import Arith.\n" + (f"Require Import Gen.F{f - 1}.\n" if f else "")
        (root / f"F{f}.v").write_text(head + "\n".join(lemmas))
    src = root / "blueprint" / "src"
    src.mkdir(parents=True)
    (src / "web.tex").write_text(WEB)
    (src / "content.tex").write_text("".join(content))
    return admitted


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nodes", type=int, default=500)
    ap.add_argument("--files", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bp-bench-") as tmp:
        root = Path(tmp)
        admitted = generate(root, args.nodes, args.files, random.Random(args.seed))
        reads = []
        for _ in range(args.repeat):
            t0 = time.monotonic()
            bp = read_blueprint(root / "blueprint")
            reads.append(time.monotonic() - t0)
        assert len(bp.nodes) == args.nodes, len(bp.nodes)
        t0 = time.monotonic()
        truth = coq_truth(root, bp.decls())
        t_truth = time.monotonic() - t0
        t0 = time.monotonic()
        truth2 = coq_truth(root, bp.decls())
        t_truth2 = time.monotonic() - t0
        assert truth == truth2
        t0 = time.monotonic()
        st = bp.status(truth)
        cov = bp.coverage(st)
        nxt = bp.can_prove_next(st)
        path = bp.critical_path(st)
        waits = bp.unblocks(st)
        t_graph = time.monotonic() - t0
        t0 = time.monotonic()
        ranks = goal_ranks(bp, admitted)
        t_ranks = time.monotonic() - t0
    print(f"{args.nodes} nodes, {len(admitted)} admitted, {args.files} Coq files")
    print(f"read through plasTeX (a subprocess on a copy): median {statistics.median(reads):.2f} s "
          f"(of {args.repeat}: {', '.join(f'{r:.2f}' for r in reads)})")
    print(f"checked against Coq: {t_truth:.1f} s cold (the project built), {t_truth2:.1f} s again")
    print(f"graph: coverage, next, critical path, unblocks in {1000 * t_graph:.0f} ms; goal ranks in "
          f"{1000 * t_ranks:.0f} ms")
    print(f"coverage: {cov.stated} stated, {cov.can_prove} can be proved next, {cov.proved} proved, "
          f"{cov.fully_proved} fully proved; critical path {len(path)} nodes; the most waited-on node: "
          f"{max(waits.values()) if waits else 0} nodes; {len(nxt)} next; {len(ranks)} goals ranked")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
