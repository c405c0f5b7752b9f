"""Is a Coq placeholder a proposition? Coq's own answer, asked in the goal's own context.

Only a placeholder whose type is a proposition is a goal: any proof of a proposition will do, whereas the body of a
definition (a function, an instance's fields, a witness) is the user's to write, however easily something
type-checks there. Coq decides, never a keyword: `Lemma l : nat. Admitted.` is data, `Definition d : 1 = 1.
Admitted.` is a proposition.

Two probes, printed by coqc while it compiles a private copy of the file:

* after a proof closed by `Admitted.` (kind "admitted"), a command asking for the sort of the lemma's type:
  `Check ltac:(let T := type of @L in tryif (let _ := constr:(T : Prop) in idtac) then exact Coq.Init.Logic.I
  else exact Coq.Init.Datatypes.true)` prints `I : True` exactly when `T : Prop` type-checks (its sort is Prop; Set
  and Type never convert to Prop), else `true : bool` — full names and no numeral, so that neither a local `I` nor
  an open scope (`0` read as a `positive` inside `Module Pos`) changes the answer, which is read by the printed type;
* before a bare `admit.` (kind "admit"), a tactic sentence that changes nothing and prints, for the focused goal,
  whether its conclusion `G` satisfies `G : Prop` (`idtac`, so the answer is a line of coqc's standard output).

Anything else — the probe did not run, its output is not one of the two answers, the lemma's name is not what Coq
calls it — is "unknown", which every caller treats as data (fail closed). The goal-finding compile carries the
first probe for the lemmas it guesses (`verify.find_and_prime`); `decide_sorts` runs one more compile, with both
probes at the exact places Coq's sentences gave, for the goals still undecided. Answers are cached by goal key (the
statement, everything before it and the proof's own sentences before the placeholder), so an edit elsewhere in the
file costs no further compile. The verifier asks Coq again in the compile of the patched file.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence

from .coq_source import Assembly, Piece, run_coqc

if TYPE_CHECKING:
    from .goals import Goal, GoalSort

__all__ = ["admitted_probe", "admit_probe", "read_admitted_probe", "read_admit_probe", "decide_sorts",
           "remember_sort", "SKIP_MESSAGES"]

_OUT = "autoprove_sort"
_MARK = "autoprove-sort"
_ADMIT_ANSWER = re.compile(rf"^{_MARK} (\S+) (prop|data)$", re.M)
# the admitted probe's two answers, by the type of what it printed (the term itself may print otherwise: a notation,
# a qualified name when a local one shadows it): `… : True` from the Prop branch, any other `… : T` from the other
_PROP_ANSWER = re.compile(r"\S+ : (?:Coq\.Init\.Logic\.|Logic\.)?True")
_DATA_ANSWER = re.compile(r"\S+ : \S+")
_CACHE: "OrderedDict[str, GoalSort]" = OrderedDict()
_CACHE_SIZE = 4096
_LOCK = threading.Lock()

# What a placeholder that is not searched says, everywhere (CLI, JSON, ledger, diagnostics, hover).
SKIP_MESSAGES: Mapping[str, str] = {
    "data": "a definition's body: not filled",
    "unknown": "not filled: the prover could not tell whether its type is a proposition",
}


def admitted_probe(key: str, lemma: str) -> bytes:
    """A command to put right after `lemma`'s closing sentence: its output (`read_admitted_probe`) says whether the
    lemma's type is a proposition."""
    return (f'\nRedirect "{_OUT}_{key}" Check ltac:(let T := type of @{lemma} in tryif (let _ := constr:(T : Prop) '
            "in idtac) then exact Coq.Init.Logic.I else exact Coq.Init.Datatypes.true).\n").encode()


def admit_probe(key: str) -> bytes:
    """A tactic sentence to put right before a bare `admit.`: it changes nothing and prints (`read_admit_probe`)
    whether the focused goal's conclusion is a proposition."""
    return (f'tryif (lazymatch goal with |- ?G => let _ := constr:(G : Prop) in idtac end) then idtac "{_MARK} {key} '
            f'prop" else idtac "{_MARK} {key} data". ').encode()


def read_admitted_probe(outputs: Mapping[str, str], key: str) -> "GoalSort":
    """The answer of `admitted_probe(key, …)` among a coqc run's `Redirect` outputs."""
    text = " ".join(outputs.get(f"{_OUT}_{key}", "").split())
    if _PROP_ANSWER.fullmatch(text):
        return "prop"
    if _DATA_ANSWER.fullmatch(text):
        return "data"
    return "unknown"


def read_admit_probe(stdout: str, key: str) -> "GoalSort":
    """The answer of `admit_probe(key)` in a coqc run's standard output (the first, if the sentence ran twice)."""
    for m in _ADMIT_ANSWER.finditer(stdout):
        if m.group(1) == key:
            return m.group(2)  # type: ignore[return-value]
    return "unknown"


def remember_sort(goal: "Goal", sort: "GoalSort") -> "Goal":
    """`goal` with `sort`, remembered for goals of the same key (only definite answers are remembered)."""
    if sort != "unknown":
        with _LOCK:
            _CACHE[goal.key.digest] = sort
            _CACHE.move_to_end(goal.key.digest)
            while len(_CACHE) > _CACHE_SIZE:
                _CACHE.popitem(last=False)
    return replace(goal, sort=sort)


def decide_sorts(source: bytes, goals: Sequence["Goal"], *, timeout: float) -> tuple["Goal", ...]:
    """`goals` (of one Coq file, found in `source`) with `sort` decided: known answers kept or taken from the
    cache, the rest asked of Coq in one compile of a copy of `source` truncated after the last of them."""
    out = list(goals)
    todo: list[int] = []
    for i, g in enumerate(out):
        if g.backend != "coq" or g.sort != "unknown":
            continue
        with _LOCK:
            known = _CACHE.get(g.key.digest)
        if known is not None:
            out[i] = replace(g, sort=known)
        else:
            todo.append(i)
    if not todo:
        return tuple(out)
    g0 = out[todo[0]]
    pieces = {i: _probe_piece(out[i], f"sort{i}") for i in todo}
    while pieces:
        asm = Assembly(source, pieces.values(), truncate=max(out[i].closer_end for i in pieces))
        run = run_coqc(asm.source, Path(g0.file).stem, g0.env.args, timeout=timeout, load_dir=g0.env.workdir)
        if run.timed_out:
            return tuple(out)
        loc = asm.locate(run.error.start) if run.error is not None and run.error.start is not None else None
        if loc is not None and loc[0] is not None and loc[0].startswith("sort"):
            del pieces[int(loc[0][4:])]  # this probe cannot run here: that goal stays unknown
            continue
        break
    for i in pieces:
        g = out[i]
        sort = read_admit_probe(run.stdout, str(g.start)) if g.kind == "admit" \
            else read_admitted_probe(run.outputs, str(g.closer_end))
        out[i] = remember_sort(g, sort)
    return tuple(out)


def _probe_piece(goal: "Goal", tag: str) -> Piece:
    if goal.kind == "admit":
        return Piece(goal.start, goal.start, admit_probe(str(goal.start)), tag)
    return Piece(goal.closer_end, goal.closer_end, admitted_probe(str(goal.closer_end), goal.lemma), tag)
