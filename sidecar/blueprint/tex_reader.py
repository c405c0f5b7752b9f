"""Read a blueprint's LaTeX with plasTeX and its `plastexdepgraph`/`leanblueprint` plugins, parse only (no HTML), and
print its nodes as JSON on stdout. Run as `python -m sidecar.blueprint.tex_reader MAIN.tex` in a copy of the
blueprint's folder (`read.py` does that: parsing writes files beside the source, e.g. `lean_decls`).

Besides leanblueprint's `\\lean{}`, `\\leanok`, `\\mathlibok`, `\\notready`, the Coq spellings `\\rocq{}` and
`\\rocqok` are read as the same marks. plasTeX's own messages (an unresolved label, an unknown command) go to
stderr, where the caller reads them.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

__all__ = ["main"]

PLUGINS = ["plastexdepgraph", "leanblueprint"]


def _ids(nodes: Any) -> list[str]:
    return [n.id for n in nodes or () if getattr(n, "id", None)]


def read(main: Path) -> dict[str, Any]:
    from plasTeX.Config import defaultConfig
    from plasTeX.TeX import TeX, TeXDocument

    _acyclic_ancestors()
    _relative_inputs()
    config = defaultConfig()
    config["general"]["plugins"] = PLUGINS
    doc = TeXDocument(config=config)
    doc.userdata["jobname"] = main.stem
    doc.userdata["working-dir"] = str(main.parent)
    _rocq_marks(doc)
    os.chdir(main.parent)  # plasTeX finds the file, and what it \input{}s, from here
    tex = TeX(doc, file=main.name)
    document = tex.parse()
    graphs = document.userdata.get("dep_graph", {}).get("graphs", {})
    if document not in graphs:
        raise SystemExit("no dependency graph: the blueprint does not load the `blueprint` package "
                         "(\\usepackage{blueprint})")
    nodes = []
    for node in graphs[document].nodes:
        proof = node.userdata.get("proved_by")
        nodes.append({
            "label": node.id,
            "kind": getattr(node, "thmName", "") or "",
            "title": getattr(getattr(node, "title", None), "textContent", "").strip(),
            "decls": list(node.userdata.get("leandecls", []) or []),
            "leanok": bool(node.userdata.get("leanok")),
            "mathlibok": bool(node.userdata.get("mathlibok")),
            "notready": bool(node.userdata.get("notready")),
            "uses": _ids(node.userdata.get("uses")),
            "has_proof": proof is not None,
            "proof_leanok": bool(proof is not None and proof.userdata.get("leanok")),
            "proof_uses": _ids(proof.userdata.get("uses")) if proof is not None else [],
        })
    nodes.sort(key=lambda n: n["label"])
    return {"nodes": nodes}


def _acyclic_ancestors() -> None:
    """plastexdepgraph's `ancestors` recurses forever on a cycle of `\\uses` (leanblueprint calls it after parsing):
    the same set, found without recursion, so that a cycle is reported by the caller instead of crashing here."""
    from plastexdepgraph.Packages.depgraph import DepGraph

    def ancestors(self: Any, node: Any) -> set[Any]:
        if node not in self.nodes:
            return set()
        if node not in self._ancestors:
            seen: set[Any] = set()
            todo = list(self.predecessors(node))
            while todo:
                n = todo.pop()
                if n not in seen:
                    seen.add(n)
                    todo.extend(self.predecessors(n))
            self._ancestors[node] = seen
        return self._ancestors[node]

    DepGraph.ancestors = ancestors


def _relative_inputs() -> None:
    """`\\input{chapter/main}`: without a TeX distribution (no `kpsewhich`), plasTeX finds only a file named
    exactly so in a folder of $TEXINPUTS, never one in a subfolder. A name is looked up relative to the folder of
    the file being read, then to the blueprint's folder (with `.tex` added), before plasTeX's own lookup."""
    from plasTeX.TeX import TeX

    original = TeX.kpsewhich

    def kpsewhich(self: Any, name: str) -> str:
        here = os.path.dirname(getattr(self, "filename", "") or "") or os.getcwd()
        for folder in dict.fromkeys((here, os.getcwd())):
            for candidate in (name, name + ".tex"):
                path = os.path.join(folder, candidate)
                if os.path.isfile(path):
                    return path
        return original(self, name)

    TeX.kpsewhich = kpsewhich


def _rocq_marks(doc: Any) -> None:
    """`\\rocq{}` and `\\rocqok`: leanblueprint's `\\lean{}` and `\\leanok` under their Coq names."""
    from leanblueprint.Packages import blueprint as bp

    doc.context.addGlobal("rocq", type("rocq", (bp.lean,), {}))
    doc.context.addGlobal("rocqok", type("rocqok", (bp.leanok,), {}))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m sidecar.blueprint.tex_reader MAIN.tex", file=sys.stderr)
        return 2
    out = read(Path(args[0]).resolve())
    sys.stdout.write(json.dumps(out) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
