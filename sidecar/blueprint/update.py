"""The `\\leanok` updater: marks what the prover proved and unmarks what it does not confirm, as edits of the
blueprint's own files (a unified diff to review; written only when asked).

A node the prover proves gets the mark on its statement and in its proof (`\\rocqok` where the node names Coq
declarations with `\\rocq{}`, else `\\leanok`); a node marked proved that the prover does not confirm (a false green)
loses the mark of its proof — or of its statement when it has no proof, or when its declarations do not exist.
Nothing else of the text changes. Nodes are found by their `\\label{}` in the blueprint's `.tex` files.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .check import BlueprintCheck
from .read import find_blueprint

__all__ = ["BlueprintEdit", "marks_in_worktree", "plan_updates"]

_MARK = re.compile(r"\\(?:leanok|rocqok)(?![A-Za-z])[ \t]*")


@dataclass(frozen=True)
class BlueprintEdit:
    file: Path
    before: str
    after: str
    added: tuple[str, ...]  # labels marked
    removed: tuple[str, ...]  # labels unmarked

    def diff(self, root: Path) -> str:
        rel = self.file.is_relative_to(root)
        name = str(self.file.relative_to(root)) if rel else str(self.file)
        return "".join(difflib.unified_diff(self.before.splitlines(True), self.after.splitlines(True),
                                            f"a/{name}" if rel else name, f"b/{name}" if rel else name))


def _span(text: str, label: str) -> tuple[int, int, str, int] | None:
    """(start, end, environment, position after the label) of the environment holding `\\label{label}`."""
    m = re.search(r"\\label\{" + re.escape(label) + r"\}", text)
    if m is None:
        return None
    begins = list(re.finditer(r"\\begin\{(\w+\*?)\}(\[[^\]]*\])?", text[: m.start()]))
    if not begins:
        return None
    b = begins[-1]
    env = b.group(1)
    end = text.find(f"\\end{{{env}}}", m.end())
    if end < 0:
        return None
    return b.start(), end + len(f"\\end{{{env}}}"), env, m.end()


def _proof_after(text: str, at: int) -> tuple[int, int] | None:
    """The `proof` environment right after position `at` (blank lines and comments between), if any."""
    m = re.compile(r"(?:\s|%[^\n]*\n)*\\begin\{proof\}(\[[^\]]*\])?").match(text, at)
    if m is None:
        return None
    end = text.find("\\end{proof}", m.end())
    return (m.end(), end) if end >= 0 else None


def plan_updates(check: BlueprintCheck, where: Path) -> list[BlueprintEdit]:
    """The edits that make the marks of the blueprint at `where` say what the prover says (none when they do)."""
    main = find_blueprint(where)
    files = sorted(p for p in main.parent.rglob("*.tex") if p.is_file())
    bp, status = check.blueprint, check.status
    to_mark = {label for label in bp.nodes if status[label] == "proved" and not bp.nodes[label].marked_proved}
    to_unmark = set(bp.false_greens(status))
    edits = []
    for f in files:
        text = original = f.read_text(encoding="utf-8")
        added, removed = [], []
        for label in sorted(to_mark | to_unmark):
            span = _span(text, label)
            if span is None:
                continue
            start, end, _env, after_label = span
            mark = "\\rocqok" if "\\rocq{" in text[start:end] else "\\leanok"
            proof = _proof_after(text, end)
            if label in to_mark:
                if proof is not None and not _MARK.search(text[proof[0]:proof[1]]):
                    text = text[: proof[0]] + mark + text[proof[0]:]
                if not _MARK.search(text[start:end]):
                    text = text[:after_label] + mark + text[after_label:]
                added.append(label)
                continue
            if proof is not None and status[label] in ("stated", "proved"):  # the statement stands: unmark the proof
                text = text[: proof[0]] + _MARK.sub("", text[proof[0]:proof[1]]) + text[proof[1]:]
            else:  # no proof to unmark, or no declaration at all: the statement's mark goes (and the proof's)
                statement = _MARK.sub("", text[start:end])
                text = text[:start] + statement + text[end:]
                proof = _proof_after(text, start + len(statement))
                if proof is not None:
                    text = text[: proof[0]] + _MARK.sub("", text[proof[0]:proof[1]]) + text[proof[1]:]
            removed.append(label)
        if text != original:
            edits.append(BlueprintEdit(f, original, text, tuple(added), tuple(removed)))
    return edits


def marks_in_worktree(path: Path) -> Callable[[Path], list[str]]:
    """--leanok: in the worktree with every proof in it, the blueprint's marks made to say what the prover says."""
    from ..errors import AutoProveError
    from ..vcs import VcsError
    from .check import check_blueprint
    from .priority import project_blueprint

    def marks(work: Path) -> list[str]:
        import git

        top = Path(str(git.Repo(path, search_parent_directories=True).working_tree_dir)).resolve()
        root = work / Path(path).resolve().relative_to(top) if Path(path).is_dir() else work
        where = project_blueprint(root) or project_blueprint(work)
        if where is None:
            raise VcsError("--leanok: the project has no blueprint (blueprint/src/web.tex); nothing was committed")
        try:
            edits = plan_updates(check_blueprint(root, where), where)
        except AutoProveError as problem:
            raise VcsError(f"--leanok: {problem}; nothing was committed") from None
        for edit in edits:
            edit.file.write_text(edit.after, encoding="utf-8")
        return [edit.file.relative_to(work).as_posix() for edit in edits]

    return marks
