"""The dashboard as files, for CI: `dashboard.md` (coverage, false and missing greens, what can be proved next, the
critical path, strategy families, the goals the ledger knows), `coverage.svg` (a badge) and `graph.svg` (the
blueprint drawn as on the page, coloured by the prover's word). No server, no browser."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from ..errors import AutoProveError
from .model import DashboardModel

__all__ = ["COLOURS", "badge_svg", "export_dashboard", "graph_svg"]

# the page's colours (static/style.css), for the drawing made here: state -> (fill, stroke)
COLOURS = {
    "fully proved": ("#1b7f3b", "#555"), "proved": ("#66bb6a", "#555"), "found": ("#b9f6ca", "#00c853"),
    "searching": ("#ffd54f", "#555"), "queued": ("#fff3c4", "#555"), "exhausted": ("#ffcdd2", "#555"),
    "can prove": ("#90caf9", "#555"), "stated": ("#ffffff", "#1e88e5"), "missing": ("#eeeeee", "#d50000"),
    "not formalized": ("#f5f5f5", "#bbbbbb"),
}


def badge_svg(label: str, value: str, colour: str) -> str:
    """A flat badge in the usual two-part shape (its text widths estimated from the character count)."""
    lw, vw = 7 * len(label) + 12, 7 * len(value) + 12
    w = lw + vw
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="20" role="img" '
            f'aria-label="{escape(label)}: {escape(value)}"><title>{escape(label)}: {escape(value)}</title>'
            f'<rect width="{lw}" height="20" fill="#555"/><rect x="{lw}" width="{vw}" height="20" fill="{colour}"/>'
            f'<g fill="#fff" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11" text-anchor="middle">'
            f'<text x="{lw / 2}" y="14">{escape(label)}</text><text x="{lw + vw / 2}" y="14">{escape(value)}</text>'
            f'</g></svg>\n')


def graph_svg(graph: dict[str, Any], states: dict[str, str], critical: list[str]) -> str:
    w, h = graph["nodeWidth"], graph["nodeHeight"]
    pos = {n["label"]: (n["x"], n["y"]) for n in graph["nodes"]}
    path = set(zip(critical, critical[1:]))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {graph["width"]} {graph["height"]}" '
           f'width="{graph["width"]}" height="{graph["height"]}" font-family="sans-serif" font-size="11">',
           '<rect width="100%" height="100%" fill="#fff"/>']
    for a, b in graph["edges"]:
        (x1, y1), (x2, y2) = pos[a], pos[b]
        crit = (a, b) in path
        out.append(f'<line x1="{x1}" y1="{y1 + h / 2}" x2="{x2}" y2="{y2 - h / 2}" '
                   f'stroke="{"#e65100" if crit else "#9e9e9e"}" stroke-width="{2.5 if crit else 1}"/>')
    for n in graph["nodes"]:
        st = states.get(n["label"], "not formalized")
        fill, stroke = COLOURS.get(st, ("#fff", "#555"))
        text = n["label"] if len(n["label"]) <= 22 else n["label"][:21] + "…"
        out.append(f'<g><title>{escape(n["label"])}: {escape(st)}</title>'
                   f'<rect x="{n["x"] - w / 2}" y="{n["y"] - h / 2}" width="{w}" height="{h}" rx="6" fill="{fill}" '
                   f'stroke="{stroke}"/><text x="{n["x"]}" y="{n["y"] + 4}" text-anchor="middle" '
                   f'fill="{"#fff" if st == "fully proved" else "#222"}">{escape(text)}</text></g>')
    out.append("</svg>\n")
    return "\n".join(out)


def _table(head: list[str], rows: list[list[object]]) -> list[str]:
    def cell(x: object) -> str:
        return str(x).replace("|", "\\|").replace("\n", " ")

    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + \
           ["| " + " | ".join(cell(x) for x in r) + " |" for r in rows] + [""]


def export_dashboard(model: DashboardModel, out_dir: Path) -> list[Path]:
    """Check the blueprint now and write the three files into `out_dir`; the paths written."""
    model.load_now()
    state = model.state()
    graph = model.graph()
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    c = state["coverage"]
    lines = [f"# auto-prove: {Path(state['project']).name}", ""]
    if c is not None:
        share = c["proved"] / c["nodes"] if c["nodes"] else 1.0
        colour = "#4c1" if share >= 1 else "#dfb317" if share >= 0.5 else "#e05d44"
        badge = badge_svg("blueprint", f"{c['proved']}/{c['nodes']} proved", colour)
        lines += ["![coverage](coverage.svg)", ""]
        if graph["error"]:
            lines += [f"Note: {graph['error']}.", ""]
        lines += ["## Coverage", ""]
        lines += _table(["nodes", "stated", "proved", "fully proved", "can be proved next"],
                        [[c["nodes"], c["stated"], c["proved"], c["fullyProved"], c["canProve"]]])
        lines += ["![blueprint graph](graph.svg)", ""]
        (out_dir / "graph.svg").write_text(graph_svg(graph, state["nodes"], state["criticalPath"]), encoding="utf-8")
        written.append(out_dir / "graph.svg")
        if state["falseGreens"]:
            lines += ["## False greens (marked proved, not proved)", ""]
            lines += [f"- `{f['label']}`: {f['why']}" for f in state["falseGreens"]] + [""]
        if state["missingGreens"]:
            lines += ["## Missing greens (proved, not marked)", ""]
            lines += [f"- `{x}`" for x in state["missingGreens"]] + [""]
        if state["next"]:
            lines += ["## Can be proved next", ""] + [f"- `{x}`" for x in state["next"]] + [""]
        if state["criticalPath"]:
            lines += ["## Critical path", "", " → ".join(f"`{x}`" for x in state["criticalPath"]), ""]
    else:
        badge = badge_svg("blueprint", "none", "#9f9f9f")
        lines += [f"No blueprint graph: {graph['error'] or graph['state']}", ""]
    (out_dir / "coverage.svg").write_text(badge, encoding="utf-8")
    written.append(out_dir / "coverage.svg")
    if state["families"]:
        lines += ["## Strategy families (the whole ledger)", ""]
        lines += _table(["family", "attempts", "proofs", "seconds"],
                        [[f["family"], f["attempts"], f["proofs"], f["seconds"]] for f in state["families"]])
    if state["tickets"]:
        lines += ["## Tickets (helper lemmas for goals not proved)", ""]
        lines += _table(["goal", "helper", "status", "statement"],
                        [[t["lemma"], t["name"], t["status"], f"`{t['statement']}`"] for t in state["tickets"]])
    if model.ledger is not None:
        try:
            recs = list(model.ledger.goals())
        except AutoProveError:
            recs = []
        if recs:
            counts = Counter(r.status for r in recs)
            lines += ["## Goals (the ledger)", "", ", ".join(f"{n} {s}" for s, n in sorted(counts.items())), ""]
            proved = [r for r in recs if r.status == "proved" and r.verified]
            if proved:
                lines += _table(["lemma", "where", "strategy", "seconds"],
                                [[r.lemma, f"{model.rel(Path(r.file))}:{r.line}", r.strategy, round(r.seconds, 2)]
                                 for r in proved])
    (out_dir / "dashboard.md").write_text("\n".join(lines), encoding="utf-8")
    written.append(out_dir / "dashboard.md")
    return written
