"""Harvest: replay each visible proof once through the prover and record what it did.

For every named proof of a source (a library's `.v`, a project file, the goal's own file) the harvest records a
`LemmaProof` (statement, tactic sentences, the global constants they name) and, for every tactic, a `TacticExample`:
the focused goal the tactic was applied to and the tactic. Sentences are Coq's own (`coq_source.run_coqc`), proofs
are delimited as `goals.py` delimits them (`classify`, `_walk`).

Decomposition, as Tactician does it: a sentence `t1; t2` is run as `t1` on the state before it and `t2` on each goal
`t1` produced (with goal selectors, so each part acts on its own goal); `t1; [t2 | t3]` likewise with one branch per
goal; a selector `2: t`, `all: t`, `1,3: t`, `1-2: t` becomes `t` on each selected goal; bullets and braces are
run and give every later tactic its own state. `first`/`try`/`repeat`/`solve`/`now`, `||`, `+`, Ltac `let`/`fun`
are kept whole. The whole sentence is run too and a decomposition is kept only when it reaches the very same goals
(else the sentence is recorded whole): every recorded tactic really ran on the state it is paired with. A `;` whose
first part makes more than `MAX_SPLIT_GOALS` goals is recorded whole (`destruct b; reflexivity` over 256 cases). Stored
tactic text is the sentence's (comments removed, white space collapsed, no final period); local names are kept as
written (`local_names` tells which words of a tactic name hypotheses of its state).

A proof that does not replay (a tactic fails or overruns the per-tactic timeout, `Admitted`, `Abort`, the
environment does not load) is skipped and counted by reason. Each source is replayed in a prover of its own.

Lean: the whole file is run once through the REPL with `allTactics` (`LeanProver.run_file`); each listed tactic is
recorded with the first goal before it (`lean_harvest`), tactics inside `first`/`try`/`repeat`/... are not learnt
alone, bullets/`case`/`<;>` only through their parts, declarations with an error or a `sorry` are skipped.

The cache: one gzip'd JSON file per (origin, Coq version, digest of the source's text) under
`$AUTOPROVE_CACHE/harvest/<Coq version>/` (default `~/.cache/auto-prove`), written atomically. An entry that does not
read back (garbage, half-written), that names another Coq version, or whose project dependencies (.vo files outside
Coq's own library) changed since, is reported in one line and that source alone is harvested again.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Mapping, Sequence, Union

from ..coq_source import Sentence, classify, coq_version, mask_code, parse_libraries, run_coqc, strip_comments
from ..errors import AutoProveError, ProverCrashed, ProverError, SourceError
from ..goals import _module_path, _walk
from ..procs import temp_prefix
from ..provers.base import Environment, GoalView, ProofState, Prover
from . import LemmaProof, Origin, TacticExample
from .visibility import Source, _coq_install, library_files, load_path_entries

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["Harvest", "HarvestCache", "harvest_source", "cached_harvest", "harvest_sources", "visible_examples", "coq_version",
           "cache_root", "split_tactic", "tactic_parts", "local_names", "normalize_tactic", "lean_harvest",
           "TACTIC_TIMEOUT", "CACHE_VAR"]

log = logging.getLogger(__name__)

CACHE_VAR = "AUTOPROVE_CACHE"  # auto-prove's cache folder (default ~/.cache/auto-prove); the harvest is under harvest/
TACTIC_TIMEOUT = 2.0  # seconds per tactic during replay
MAX_SPLIT_GOALS = 10  # a `;` whose first part makes more goals is learnt whole (splitting costs goals² printing)
ENTER_TIMEOUT = 300.0  # seconds to load the sentences before one proof (on top of what is loaded already)
CUT_TIMEOUT = 600.0  # seconds for the coqc run that cuts a source into sentences
_FORMAT = 1  # cache entry format
_KEEP_PER_ORIGIN = 3  # cache entries kept per origin and Coq version (older digests are removed)

# --------------------------------------------------------------------------------------------------
# records


@dataclass(frozen=True)
class Harvest:
    """What replaying one source gave."""

    source: Source
    examples: tuple[TacticExample, ...] = ()
    proofs: tuple[LemmaProof, ...] = ()  # the proofs that replayed
    skipped: Mapping[str, int] = field(default_factory=dict)  # reason -> proofs not replayed for it
    from_cache: bool = False
    seconds: float = 0.0  # time spent (reading the cache, or cutting and replaying)
    message: str = ""  # one line when the source could not be harvested at all (no .v, does not compile)
    # (lemma, order) -> digest of every sentence up to the end of that proof (with the load path): a later harvest
    # of the same source after an edit takes the proofs whose digest it still has instead of replaying them
    keys: Mapping[tuple[str, int], str] = field(default_factory=dict)
    deps: Mapping[str, str] = field(default_factory=dict)  # as read from the cache: the project .vo it loaded

    @property
    def replayed(self) -> int:
        """Proofs that replayed."""
        return len(self.proofs)

    @property
    def failed(self) -> int:
        """Proofs skipped because they did not replay (not counting anonymous proofs or proof terms)."""
        return sum(n for why, n in self.skipped.items() if why not in _NOT_FAILURES)


_NOT_FAILURES = ("anonymous", "term")  # skipped without being a failure: `Goal`/obligations, `Proof term.`


# --------------------------------------------------------------------------------------------------
# tactic text: normalisation and decomposition (pure)

_WS_OR_STRING = re.compile(r'"(?:[^"]|"")*"|\s+')


def normalize_tactic(sentence: str) -> str:
    """A tactic sentence's text without comments, white space collapsed (strings kept), no final period."""
    s = strip_comments(sentence)
    s = _WS_OR_STRING.sub(lambda m: m.group(0) if m.group(0).startswith('"') else " ", s).strip()
    if s.endswith(".") and not s.endswith(".."):
        s = s[:-1].rstrip()
    elif s.endswith("..."):
        s = s[:-1]  # `tac...` (Proof with): the prover adds the period back
    return s


@dataclass(frozen=True)
class Atom:
    """A tactic run as it is (one part of a decomposition)."""

    text: str


@dataclass(frozen=True)
class Then:
    """`first; rest`: `rest` on every goal `first` produced."""

    first: "Node"
    rest: "Node"


@dataclass(frozen=True)
class Dispatch:
    """`first; [b1 | ... | bn]`: branch i on the i-th goal `first` produced (None: left as it is)."""

    first: "Node"
    branches: tuple["Node | None", ...]


Node = Union[Atom, Then, Dispatch]

_OPEN, _CLOSE = "([{", ")]}"
_BLOCK_START = ("match", "lazymatch", "multimatch")
_WHOLE_START = re.compile(r"^(?:now|let|fun|ltac2|Ltac2)\b")  # notations that swallow `;` and Ltac binders
_WORD = re.compile(r"[^\W\d][\w']*")


def _top_level_cuts(text: str, sep: str) -> list[int] | None:
    """Offsets of `sep` (";" or "|") outside brackets, strings and match...end blocks; None when the text has a
    top-level `let`/`fun` (whose body would swallow a `;`) or brackets do not balance."""
    masked = text  # comments are gone already (normalize_tactic); strings are skipped below
    cuts: list[int] = []
    depth = 0
    i, n = 0, len(masked)
    while i < n:
        c = masked[i]
        if c == '"':
            j = masked.find('"', i + 1)
            i = n if j < 0 else j + 1
            continue
        if c in _OPEN:
            depth += 1
        elif c in _CLOSE:
            depth -= 1
            if depth < 0:
                return None
        elif (m := _WORD.match(masked, i)) is not None:
            word = m.group(0)
            if (i == 0 or not (masked[i - 1].isalnum() or masked[i - 1] in "_'.")):
                if word in _BLOCK_START:
                    depth += 1
                elif word == "end":
                    depth -= 1
                    if depth < 0:
                        return None
                elif word in ("let", "fun") and depth == 0:
                    return None
            i = m.end()
            continue
        elif c == sep and depth == 0:
            if sep == "|" and (masked.startswith("||", i) or (i > 0 and masked[i - 1] == "|")):
                i += 1
                continue
            cuts.append(i)
        i += 1
    return cuts if depth == 0 else None


def _split(text: str, sep: str) -> list[str] | None:
    cuts = _top_level_cuts(text, sep)
    if cuts is None:
        return None
    bounds = [-1, *cuts, len(text)]
    return [text[bounds[k] + 1 : bounds[k + 1]].strip() for k in range(len(bounds) - 1)]


def split_tactic(text: str) -> Node:
    """The decomposition tree of one tactic expression (without a goal selector); an `Atom` when it is kept whole."""
    text = text.strip()
    if _WHOLE_START.match(text):
        return Atom(text)
    parts = _split(text, ";")
    if parts is None or len(parts) < 2 or any(not p for p in parts):
        return Atom(text)
    node: Node = Atom(parts[0])
    for part in parts[1:]:
        if part.startswith("[") and part.endswith("]") and not part.startswith("[>") and _matching(part):
            inner = part[1:-1]
            branches = _split(inner, "|")
            if branches is None or any(".." in b for b in branches):
                return Atom(text)
            node = Dispatch(node, tuple(split_tactic(b) if b else None for b in branches))
        elif part.startswith("[") and _matching(part):
            return Atom(text)  # `[> ...]` or an odd bracket: whole
        else:
            node = Then(node, Atom(part))  # `a; b; c` is `(a; b); c`: every part is a single tactic
    return node


def _matching(part: str) -> bool:
    """The `[` at the start of `part` closes at its very end."""
    depth = 0
    for k, c in enumerate(part):
        if c in _OPEN:
            depth += 1
        elif c in _CLOSE:
            depth -= 1
            if depth == 0:
                return k == len(part) - 1
    return False


_SELECTOR = re.compile(r"^(all|par|\d+(?:\s*-\s*\d+)?(?:\s*,\s*\d+(?:\s*-\s*\d+)?)*)\s*:\s*(?!=)(.+)$", re.S)

Selection = Union[tuple[int, ...], str, None]  # explicit goal numbers (1-based), "all", or None (the first goal)


def tactic_parts(text: str) -> tuple[Selection, Node]:
    """A tactic sentence's goal selector (if any) and the decomposition of the rest."""
    m = _SELECTOR.match(text.strip())
    if not m:
        return None, split_tactic(text)
    sel, rest = m.group(1), m.group(2).strip()
    if sel in ("all", "par"):
        return "all", split_tactic(rest)
    goals: list[int] = []
    for item in sel.split(","):
        a, _, b = item.partition("-")
        lo, hi = int(a), int(b or a)
        goals.extend(range(lo, hi + 1))
    return tuple(sorted(set(goals))), split_tactic(rest)


def local_names(example: TacticExample) -> tuple[str, ...]:
    """Words of the example's tactic that name hypotheses of its state (what is adapted to a new state)."""
    names: set[str] = set()
    for h in example.hyps:
        head = h.split(":", 1)[0] if ":" in h else ""
        head = head.split(":=", 1)[0]
        names.update(w.strip() for w in head.split(","))
    words = _WORD.findall(mask_code(example.tactic))
    return tuple(dict.fromkeys(w for w in words if w in names))


# --------------------------------------------------------------------------------------------------
# Coq version and the cache

def cache_root() -> Path:
    """auto-prove's cache folder: $AUTOPROVE_CACHE, else ~/.cache/auto-prove."""
    env = os.environ.get(CACHE_VAR)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "auto-prove"


def _slug(text: str, limit: int = 60) -> str:
    return re.sub(r"[^\w.-]+", "_", text)[-limit:].strip("_") or "x"


class HarvestCache:
    """Harvests on disk, one file per (origin, Coq version, digest of the source); see the module docstring."""

    def __init__(self, folder: Path | None = None, version: str | None = None) -> None:
        self.folder = Path(folder) if folder is not None else cache_root() / "harvest"
        self._version = version

    @property
    def version(self) -> str:
        """The Coq version whose harvests this cache serves."""
        if self._version is None:
            self._version = coq_version()
        return self._version

    def _dir(self) -> Path:
        return self.folder / _slug(self.version, 40)

    def path(self, origin: Origin, digest: str) -> Path:
        """Where the entry of (origin, this Coq version, digest) lives."""
        tag = hashlib.sha256(origin.encode()).hexdigest()[:12]
        return self._dir() / f"{_slug(origin)}-{tag}-{digest[:16]}.json.gz"

    def load(self, source: Source, digest: str) -> Harvest | None:
        """The cached harvest of `source` at `digest`, or None (absent, unreadable, other Coq version, stale
        dependencies: said in one line, and the entry is removed)."""
        p = self.path(source.origin, digest)
        if not p.exists():
            return None
        return self._read(p, source, digest)

    def _read(self, p: Path, source: Source, digest: str | None) -> Harvest | None:
        """The entry at `p` (`load`), which must be of `digest` unless it is None (any digest of the origin)."""
        t0 = time.monotonic()
        try:
            with gzip.open(p, "rt", encoding="utf-8") as fh:
                doc = json.load(fh)
            if not isinstance(doc, dict) or doc.get("format") != _FORMAT or not isinstance(doc.get("coq"), str):
                raise ValueError("unknown format")
            if doc.get("coq") != self.version:
                log.warning("harvest cache: %s was made by Coq %s, not %s; harvesting %s again", p.name,
                            doc.get("coq"), self.version, source.name)
                self._remove(p)
                return None
            if doc.get("origin") != source.origin or (digest is not None and doc.get("digest") != digest):
                raise ValueError("entry is for another source")
            if not _deps_current(doc.get("deps") or {}):
                log.info("harvest cache: %s loads project files that changed; harvesting it again", source.name)
                self._remove(p)
                return None
            origin = source.origin
            examples = tuple(TacticExample(tuple(e[0]), str(e[1]), str(e[2]), str(e[3]), origin, int(e[4]))
                             for e in doc["examples"])
            proofs = tuple(LemmaProof(str(q[0]), str(q[1]), tuple(q[2]), origin, int(q[3]), frozenset(q[4]))
                           for q in doc["proofs"])
            skipped = {str(k): int(v) for k, v in dict(doc["skipped"]).items()}
            keys = {(str(k[0]), int(k[1])): str(k[2]) for k in doc.get("keys") or ()}
        except Exception as e:  # noqa: BLE001 - any damage: warn, drop the entry, harvest again
            log.warning("harvest cache: %s is unreadable (%s); harvesting %s again", p, _one_line(e), source.name)
            self._remove(p)
            return None
        return Harvest(source, examples, proofs, skipped, from_cache=True, seconds=time.monotonic() - t0,
                       message=str(doc.get("message", "")), keys=keys,
                       deps={str(k): str(v) for k, v in dict(doc.get("deps") or {}).items()})

    def latest(self, source: Source) -> Harvest | None:
        """The most recent readable entry of `source`'s origin, whatever its digest (for an incremental harvest
        after an edit: its proofs whose `keys` still match are taken as they are); None if there is none."""
        for q in self._entries_like(self.path(source.origin, "0" * 16)):
            h = self._read(q, source, None)
            if h is not None:
                return h
        return None

    @staticmethod
    def _entries_like(p: Path) -> list[Path]:
        """The entries of the same origin as entry path `p` (any digest), newest first."""
        stem = p.name.rsplit("-", 1)[0]  # <slug>-<origin tag>

        def mtime(q: Path) -> float:
            try:
                return q.stat().st_mtime
            except OSError:
                return 0.0

        found = list(p.parent.glob(stem + "-*.json.gz")) if p.parent.is_dir() else []
        return sorted(found, key=mtime, reverse=True)

    def store(self, harvest: Harvest, digest: str, deps: Mapping[str, str]) -> None:
        """Write an entry atomically (a failure to write is logged, never raised); keep a few digests per origin."""
        p = self.path(harvest.source.origin, digest)
        doc = {
            "format": _FORMAT, "coq": self.version, "origin": harvest.source.origin, "digest": digest,
            "deps": dict(deps), "message": harvest.message, "skipped": dict(harvest.skipped),
            "examples": [[list(e.hyps), e.goal, e.tactic, e.lemma, e.order] for e in harvest.examples],
            "proofs": [[q.lemma, q.statement, list(q.script), q.order, sorted(q.constants)] for q in harvest.proofs],
            "keys": [[lemma, order, key] for (lemma, order), key in harvest.keys.items()],
        }
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=p.name + ".", suffix=".tmp", dir=p.parent)
            try:
                with os.fdopen(fd, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6) as fh:
                    fh.write(json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
                os.replace(tmp, p)
            except BaseException:
                self._remove(Path(tmp))
                raise
            self._prune(p)
        except OSError as e:
            log.warning("harvest cache: cannot write %s (%s); the harvest of %s is not kept", p, _one_line(e),
                        harvest.source.name)

    def _prune(self, keep: Path) -> None:
        same = [q for q in self._entries_like(keep) if q != keep]
        for q in same[_KEEP_PER_ORIGIN - 1:]:
            self._remove(q)

    @staticmethod
    def _remove(p: Path) -> None:
        try:
            p.unlink()
        except OSError:
            pass

    def size(self) -> int:
        """Bytes the entries of this Coq version take on disk."""
        d = self._dir()
        return sum(q.stat().st_size for q in d.glob("*.json.gz")) if d.is_dir() else 0


def _sha_file(path: str) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return "missing"


def _deps_current(deps: Mapping[str, str]) -> bool:
    return all(_sha_file(p) == sha for p, sha in deps.items())


def _one_line(e: object) -> str:
    text = " ".join(str(e).split()) or e.__class__.__name__
    return text if len(text) <= 160 else text[:159] + "…"


# --------------------------------------------------------------------------------------------------
# replaying one proof


class _Skip(Exception):
    """The proof does not replay; `reason` is the count it goes to."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason


class _Mismatch(Exception):
    """A decomposition did not behave as the whole sentence (a part failed or touched other goals)."""


_VERNAC = re.compile(
    r"^(?:Show|Check|Print|Search\w*|Locate|About|Eval|Compute|Unshelve|Opaque|Transparent|Strategy|Hint|Set|Unset"
    r"|Local|Global|Fail|Succeed|Guarded|Focus|Unfocus|Undo|Restart|Create|Arguments|Typeclasses|Existing|Ltac"
    r"|Tactic|Notation|Infix|Reserved|Declare|Require|Import|Export|Open|Close|Bind|Delimit|Info|Optimize"
    r"|Remove|Add|Test|Pwd|Cd|Redirect|Instance|Definition|Let|Implicit|Generalizable|Universe|Constraint)\b")
_STRUCTURAL = re.compile(r"[-+*]+|\{|\}|(?:\d+|\[\s*[A-Za-z_][\w']*\s*\])\s*:\s*\{")
_TERM_KINDS = ("Constant", "Inductive", "Constructor", "Projection", "Variable", "Axiom")
_NOT_NAMES = frozenset("""
 intro intros apply eapply rewrite erewrite auto eauto trivial simpl cbn cbv red hnf unfold fold split
 left right exists eexists exact eexact assumption reflexivity symmetry transitivity induction destruct case
 elim inversion inversion_clear subst clear clearbody revert generalize dependent specialize assert enough
 pose set remember cut change pattern congruence tauto intuition firstorder lia lra nia ring field omega
 discriminate injection contradiction exfalso constructor econstructor try repeat first solve now do progress
 idtac fail in as with at using by eqn into from to let match goal end fun forall exists H lazy vm_compute
 native_compute compute f_equal replace refine all par easy absurd rename move after before Proof Qed
 Defined setoid_rewrite autorewrite autounfold unshelve shelve give_up admit decide zify abstract simple
 lazymatch multimatch context type of is_var fresh gfail once exactly_once tryif then else info_auto info_eauto
 case_eq dependent eassumption cofix fix assert_fails assert_succeeds rapply notypeclasses typeclasses
""".split())


class _ProofReplay:
    """Runs the tactic sentences of one proof from its root, recording examples (see the module docstring)."""

    def __init__(self, prover: Prover, lemma: str, origin: Origin, order: int, timeout: float) -> None:
        self.prover, self.lemma, self.origin, self.order, self.timeout = prover, lemma, origin, order, timeout
        self.examples: list[TacticExample] = []

    def _run(self, state: ProofState, tactic: str) -> ProofState:
        r = self.prover.run(state, tactic, self.timeout)
        if r.outcome == "timeout":
            raise _Skip("timeout", f"`{tactic}` ran out of time")
        if r.outcome == "failed" or r.state is None:
            raise _Skip("failed", f"`{tactic}`: {_one_line(r.message)}")
        return r.state

    def _record(self, goal: GoalView, tactic: str, into: list[TacticExample]) -> None:
        into.append(TacticExample(goal.hypotheses, goal.conclusion, tactic, self.lemma, self.origin, self.order))

    def sentence(self, state: ProofState, text: str) -> ProofState:
        """Run one sentence of the proof (already normalised) and record what it teaches."""
        if _STRUCTURAL.fullmatch(text):
            return self._run(state, text)
        if _VERNAC.match(text) and not text.startswith(("Time ", "Timeout ")):
            return self._run(state, text)
        inner = text
        while True:  # `Time tac`, `Timeout n tac`: the tactic is what is learnt
            m = re.match(r"^(?:Time\s+|Timeout\s+\d+\s+)(.+)$", inner, re.S)
            if not m:
                break
            inner = m.group(1)
        if text.endswith(".."):  # `tac...` of `Proof with`: run, not learnt
            return self._run(state, text)
        selection, node = tactic_parts(inner)
        if isinstance(node, Atom) and (selection is None or (isinstance(selection, tuple) and len(selection) == 1)):
            after = self._run(state, text)  # nothing to split: run once, learn the tactic on its goal
            k = 1 if selection is None else selection[0]
            if 1 <= k <= len(state.goals):
                self._record(state.goals[k - 1], node.text, self.examples)
            return after
        parts: list[TacticExample] | None = []
        decomposed: ProofState | None = None
        try:
            decomposed = self._selected(state, selection, node, parts)  # type: ignore[arg-type]
        except (_Mismatch, _Skip):
            parts = None
        whole = self._run(state, text)
        if parts is not None and decomposed is not None and _view(decomposed) == _view(whole):
            self.examples.extend(parts)
        else:
            body = _SELECTOR.match(inner)
            if selection is None and state.goals:
                self._record(state.goals[0], inner, self.examples)
            elif isinstance(selection, tuple) and len(selection) == 1 and body and selection[0] <= len(state.goals):
                self._record(state.goals[selection[0] - 1], body.group(2).strip(), self.examples)
        return whole

    def _selected(self, state: ProofState, selection: Selection, node: Node, out: list[TacticExample]) -> ProofState:
        if selection is None:
            return self._exec(node, state, 1, out)[0]
        wanted: Sequence[int] = range(1, len(state.goals) + 1) if isinstance(selection, str) else selection
        if len(wanted) > MAX_SPLIT_GOALS:
            raise _Mismatch()
        shift = 0
        for g in wanted:  # in increasing order: goal g now sits at g + shift
            state, produced = self._exec(node, state, g + shift, out)
            shift += produced - 1
        return state

    def _exec(self, node: Node, state: ProofState, p: int, out: list[TacticExample]) -> tuple[ProofState, int]:
        """Run `node` on goal `p` (1-based) of `state`: the new state and how many goals replaced goal p."""
        if isinstance(node, Atom):
            if not 1 <= p <= len(state.goals):
                raise _Mismatch()
            before = len(state.goals)
            try:
                after = self._run(state, node.text if p == 1 else f"{p}: {node.text}")
            except _Skip as e:
                raise _Mismatch() from e
            self._record(state.goals[p - 1], node.text, out)
            produced = len(after.goals) - before + 1
            if produced < 0:
                raise _Mismatch()
            return after, produced
        if isinstance(node, Then):
            state, m = self._exec(node.first, state, p, out)
            if m > MAX_SPLIT_GOALS:
                raise _Mismatch()  # `destruct b; reflexivity` over 256 cases: learnt whole (each reply prints all)
            total, q = 0, p
            for _ in range(m):
                state, k = self._exec(node.rest, state, q, out)
                q, total = q + k, total + k
            return state, total
        state, m = self._exec(node.first, state, p, out)
        if m != len(node.branches):
            raise _Mismatch()
        total, q = 0, p
        for branch in node.branches:
            k = 1
            if branch is not None:
                state, k = self._exec(branch, state, q, out)
            q, total = q + k, total + k
        return state, total


def _view(state: ProofState) -> tuple[object, ...]:
    return tuple((g.hypotheses, g.conclusion) for g in state.goals), state.unfocused, state.finished


# --------------------------------------------------------------------------------------------------
# one source


ProverFactory = Callable[[], Prover]


def _default_prover() -> Prover:
    from ..provers.coq import CoqProver

    return CoqProver(recycle_after=5000)


def _source_bytes(source: Source) -> tuple[bytes | None, tuple[str, ...] | None, str]:
    """(bytes to cut with coqc, or sentences already cut, digest for the cache); (None, None, why) when absent."""
    if source.path is None:
        return None, None, "no source file is known"
    try:
        data = source.path.read_bytes()
    except OSError as e:
        if source.kind == "file" and source.prefix:
            return None, source.prefix, hashlib.sha256("\0".join(source.prefix).encode()).hexdigest()
        return None, None, f"cannot read {source.path} ({e.strerror or e})"
    digest = hashlib.sha256(data).hexdigest()
    if source.kind == "file" and source.digest and digest != source.digest and source.prefix:
        # the file changed on disk since the goal was found: harvest what the goal saw (Coq: the sentences before
        # it; Lean: its text)
        return None, source.prefix, hashlib.sha256("\0".join(source.prefix).encode()).hexdigest()
    return data, None, digest


def cached_harvest(source: Source, *, cache: HarvestCache | None = None) -> Harvest | None:
    """What `harvest_source` would answer without replaying anything: the cached harvest of the source as it is
    now, or None when it would take a replay (a source that cannot be read: its empty `Harvest`, as there)."""
    data, prefix, digest = _source_bytes(source)
    if data is None and prefix is None:
        return harvest_source(source, cache=cache)
    return _cache_for(source, cache).load(source, digest)


def _is_lean(source: Source) -> bool:
    return source.path is not None and source.path.suffix == ".lean"


def _cache_for(source: Source, cache: HarvestCache | None) -> HarvestCache:
    """The cache a source's harvest is kept in (a Lean source's under its toolchain's version)."""
    cache = cache if cache is not None else HarvestCache()
    return HarvestCache(cache.folder, version=_lean_version(source)) if _is_lean(source) else cache


def harvest_source(source: Source, *, cache: HarvestCache | None = None, prover: ProverFactory | None = None,
                   tactic_timeout: float = TACTIC_TIMEOUT, stop: threading.Event | None = None) -> Harvest:
    """Replay the proofs of one source (or read them from the cache). Never raises for a bad source: the
    `Harvest` then says why in `message` (logged once) and has no examples. Once `stop` is set the replay ends
    between two proofs, and what it had is neither returned nor cached (a part of a library is not the library)."""
    t0 = time.monotonic()
    data, prefix, digest = _source_bytes(source)
    if data is None and prefix is None:
        what = "only its .vo is installed" if source.kind == "library" else digest
        msg = f"no source for {source.name} ({what}); not learning from it"
        log.warning("harvest: %s", msg)
        return Harvest(source, message=msg, seconds=time.monotonic() - t0)
    cache = _cache_for(source, cache)
    hit = cache.load(source, digest)
    if hit is not None:
        return hit
    if _is_lean(source):
        try:
            result = _replay_lean(source, data.decode("utf-8", "replace") if data is not None else (prefix or ("",))[0],
                                  prover)
        except AutoProveError as e:
            msg = f"{source.name} could not be harvested: {_one_line(e)}"
            log.warning("harvest: %s", msg)
            return Harvest(source, message=msg, seconds=time.monotonic() - t0)
        result = replace(result, seconds=time.monotonic() - t0)
        cache.store(result, digest, {})
        return result
    workdir = source.workdir
    scratch: Path | None = None
    if workdir is None:  # a library: run where nothing shadows it (a folder on the load path as "" would)
        scratch = Path(tempfile.mkdtemp(prefix=temp_prefix("autoprove_harvest_")))
        workdir = scratch
    try:
        if data is not None:
            assert source.path is not None
            dirpath = source.logical.rpartition(".")[0] if source.kind == "library" else ""
            run = run_coqc(data, source.path.stem, source.args, timeout=CUT_TIMEOUT, load_dir=source.workdir,
                           logical_dir=dirpath or None)
            texts = tuple(s.text for s in run.sentences)
            problem = ""
            if run.timed_out:
                problem = f"coqc did not finish within {CUT_TIMEOUT:g} s"
            elif run.error is not None:
                problem = (f"line {run.error.line}: " if run.error.line else "") + _one_line(run.error.message)
            if problem:
                log.warning("harvest: %s does not compile alone (%s); learning from the proofs before that",
                            source.name, problem)
        else:
            texts = prefix or ()
        reuse: dict[str, tuple[LemmaProof, list[TacticExample]]] = {}
        prior = None
        if source.kind != "library":  # a file being edited: the proofs before the edit are taken from last time
            prior = cache.latest(source)
            if prior is not None and prior.keys:
                by: dict[tuple[str, int], list[TacticExample]] = {}
                for e in prior.examples:
                    by.setdefault((e.lemma, e.order), []).append(e)
                for q in prior.proofs:
                    key = prior.keys.get((q.lemma, q.order))
                    if key is not None:
                        reuse[key] = (q, by.get((q.lemma, q.order), []))
        result, deps = _replay_all(source, texts, workdir, prover or _default_prover, tactic_timeout, reuse, stop)
        if stop is not None and stop.is_set():  # stopped during its last proofs: not the whole library
            raise AutoProveError("the harvest was stopped")
        if not deps and prior is not None and reuse:  # nothing replayed that could say: what it loaded last time
            deps = dict(prior.deps)
    except AutoProveError as e:
        msg = f"{source.name} could not be harvested: {_one_line(e)}"
        log.warning("harvest: %s", msg)
        return Harvest(source, message=msg, seconds=time.monotonic() - t0)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    result = replace(result, seconds=time.monotonic() - t0)
    cache.store(result, digest, deps)
    return result


def _prefix_keys(texts: Sequence[str], args: Sequence[str]) -> list[str]:
    """For each sentence, a digest of it and every sentence before it (and the load path)."""
    h = hashlib.sha256("\0".join(args).encode("utf-8") + b"\1")
    out = []
    for t in texts:
        h.update(t.encode("utf-8") + b"\0")
        out.append(h.copy().hexdigest())
    return out


def _replay_all(source: Source, texts: Sequence[str], workdir: Path, make_prover: ProverFactory,
                tactic_timeout: float, reuse: Mapping[str, tuple[LemmaProof, list[TacticExample]]] | None = None,
                stop: threading.Event | None = None) -> tuple[Harvest, dict[str, str]]:
    """Replay every named proof of `texts` (one source) in one prover; returns the harvest and its dependencies.
    A proof whose prefix digest is in `reuse` (everything up to its end unchanged since that harvest) is taken
    from there, not replayed; the prover is started only if some proof must be."""
    reuse = reuse or {}
    prefix = _prefix_keys(texts, source.args)
    keys: dict[tuple[str, int], str] = {}
    sentences = [Sentence(0, 0, t) for t in texts]
    infos = [classify(t) for t in texts]
    walk = _walk(infos, sentences)
    assert source.path is not None
    file = source.path
    skipped: Counter[str] = Counter()
    examples: list[TacticExample] = []
    proofs: list[LemmaProof] = []
    known: dict[str, str] = {}  # word -> global name it resolved to in this source
    not_terms: set[str] = set()  # words that name no term here (tactics, notations)
    last_env: Environment | None = None  # the last environment that loaded (the most of the file)
    broken_at: int | None = None  # a sentence of the file that does not load in the prover
    started: list[Prover] = []

    def prover() -> Prover:
        if not started:
            started.append(make_prover())
        return started[0]

    try:
        for proof in walk.proofs:
            if stop is not None and stop.is_set():
                raise AutoProveError("the harvest was stopped")
            name = proof.info.name
            if not name or proof.info.keyword in ("Goal", "Obligation"):
                skipped["anonymous"] += 1
                continue
            closer = infos[proof.closer].keyword if proof.closer is not None else ""
            if proof.closer is None:
                skipped["unfinished"] += 1
                continue
            if infos[proof.closer].proof_term:
                skipped["term"] += 1
                continue
            if closer in ("Admitted", "Abort"):
                skipped[closer.lower()] += 1
                continue
            body = list(proof.body)
            if body != list(range(proof.opener + 1, proof.closer)):
                skipped["nested"] += 1
                continue
            first = proof.opener + 1
            if body and infos[body[0]].kind == "proof":
                first += 1
            if broken_at is not None and broken_at < first:
                skipped["environment"] += 1
                continue
            lemma = ".".join((*_module_path(proof.scopes), name))
            key = prefix[proof.closer]
            known_proof = reuse.get(key)
            if known_proof is not None and known_proof[0].lemma == lemma and known_proof[0].order == proof.opener:
                proofs.append(known_proof[0])
                examples.extend(known_proof[1])
                keys[(lemma, proof.opener)] = key
                continue
            p = prover()
            env = Environment(file=file, backend="coq", sentences=tuple(texts[:first]), args=source.args,
                              workdir=workdir)
            try:
                root = p.enter(env, ENTER_TIMEOUT)
            except SourceError as e:
                index = getattr(e, "sentence_index", None)
                if isinstance(index, int) and index < first - 1:
                    broken_at = index  # an earlier sentence: every later proof needs it
                    log.warning("harvest: %s: sentence %d does not load in the prover (%s); skipping the proofs "
                                "after it", source.name, index + 1, _one_line(e.message))
                skipped["environment"] += 1
                continue
            except ProverError as e:
                log.debug("harvest: %s: %s: %s", source.name, lemma, e)
                skipped["environment"] += 1
                continue
            last_env = env
            replay = _ProofReplay(p, lemma, source.origin, proof.opener, tactic_timeout)
            script = [normalize_tactic(texts[i]) for i in range(first, proof.closer)]
            state = root
            try:
                for tac in script:
                    if tac:
                        state = replay.sentence(state, tac)
                if not state.finished:
                    raise _Skip("unfinished", "goals remain after the last tactic")
            except _Skip as e:
                log.debug("harvest: %s: %s not replayed: %s", source.name, lemma, e)
                skipped[e.reason] += 1
                continue
            except ProverCrashed as e:
                log.debug("harvest: %s: %s: prover crashed: %s", source.name, lemma, e)
                skipped["crashed"] += 1
                continue
            constants = _constants(p, state, [s for s in script if s], replay.examples, known, not_terms)
            examples.extend(replay.examples)
            proofs.append(LemmaProof(lemma, texts[proof.opener], tuple(s for s in script if s), source.origin,
                                     proof.opener, frozenset(constants)))
            keys[(lemma, proof.opener)] = key
        deps = _dependencies(prover(), last_env, source) if last_env is not None and proofs else {}
    finally:
        if started:
            started[0].close()
    return Harvest(source, tuple(examples), tuple(proofs), dict(skipped), keys=keys), deps


def _constants(prover: Prover, state: ProofState, script: Sequence[str], examples: Sequence[TacticExample],
               known: dict[str, str], not_terms: set[str]) -> list[str]:
    """Global names (fully qualified) the proof's tactics mention: the words that are no local name and that
    `Locate` resolves to a term at the end of the proof. Answers are remembered for the rest of the source."""
    local: set[str] = set()
    for e in examples:
        for h in e.hyps:
            local.update(w.strip() for w in h.split(":", 1)[0].split(","))
    words = dict.fromkeys(w.rstrip(".") for w in re.findall(r"[A-Za-z_][\w'.]*", mask_code(" ".join(script))))
    out: list[str] = []
    for w in words:
        if not w or w in local or w in _NOT_NAMES or w in not_terms or w[0].isdigit():
            continue
        if w in known:
            out.append(known[w])
            continue
        try:
            r = prover.run(state, f"Locate {w}", 2.0)
        except ProverError:
            break
        hit = _located(r.message) if r.outcome in ("ok", "finished") else None
        if hit is None:
            continue  # perhaps a name bound by the proof itself (not remembered: it may name a term later)
        kind, full = hit
        if kind in _TERM_KINDS:
            known[w] = full
            out.append(full)
        else:
            not_terms.add(w)
    return sorted(set(out))


def _located(text: str) -> tuple[str, str] | None:
    from ..strategies.coq import located

    return located(text or "")


def _dependencies(prover: Prover, env: Environment, source: Source) -> dict[str, str]:
    """sha256 of every .vo the source loaded (up to `env`, its last proof that loaded) that is not Coq's own (a
    project's): a cached harvest is stale once one of them changes."""
    try:
        r = prover.run(prover.enter(env, ENTER_TIMEOUT), "Print Libraries", 10.0)
    except AutoProveError as e:
        log.debug("harvest: %s: Print Libraries: %s", source.name, e)
        return {}
    if r.outcome not in ("ok", "finished"):
        return {}
    entries = load_path_entries(source.args, source.workdir)
    coqlib = _coq_install(entries)
    deps: dict[str, str] = {}
    for name in sorted(parse_libraries(r.message)):
        vo, _ = library_files(name, entries)
        if vo is None or (coqlib is not None and vo.resolve().is_relative_to(coqlib.resolve())):
            continue
        deps[str(vo)] = _sha_file(str(vo))
    return deps


# --------------------------------------------------------------------------------------------------
# Lean: the REPL's own per-tactic record (`allTactics`)

# tactics whose inner tactics are not learnt alone (kept whole); structure (bullets, `case`, `<;>`) learnt through
# its parts only
_LEAN_WHOLE = re.compile(r"^(?:first|try|repeat'?|solve|iterate|any_goals|all_goals|focus|fail_if_success)\b")
_LEAN_STRUCTURE = re.compile(r"^(?:·|\.|case'?\s|next\b|on_goal\b|pick_goal\b)|<;>")


def lean_harvest(text: str, tactics: Sequence[Mapping[str, object]], errors: Sequence[tuple[int, int]],
                 sorries: Sequence[tuple[int, int]], origin: Origin) -> Harvest:
    """Examples and proofs from the REPL's `tactics` list for the command `text` (a whole file): each tactic with
    the first goal before it, attributed to the declaration around it (order = its index among the file's
    declarations). `errors`/`sorries`: (line, column) of the answer's error messages and sorries — a declaration
    with one is skipped ("failed" / "admitted"). Tactics inside `first`/`try`/`repeat`/... are not learnt alone."""
    from ..lean_source import declarations, line_col_to_offset
    from ..provers.lean import parse_goal

    decls = declarations(text)

    def at(pos: object) -> int | None:
        if isinstance(pos, dict) and isinstance(pos.get("line"), int) and isinstance(pos.get("column"), int):
            try:
                return line_col_to_offset(text, pos["line"], pos["column"])
            except ValueError:
                return None
        return None

    def decl_of(offset: int) -> int | None:
        return next((k for k, d in enumerate(decls) if d.start <= offset < d.end), None)

    items = []  # (start, end, tactic, goals, used constants)
    for t in tactics:
        a, b = at(t.get("pos")), at(t.get("endPos"))
        tac, goals = t.get("tactic"), t.get("goals")
        if a is None or b is None or not isinstance(tac, str) or not isinstance(goals, str):
            continue
        used = t.get("usedConstants")
        names = tuple(u for u in used if isinstance(u, str)) if isinstance(used, list) else ()
        items.append((a, b, " ".join(tac.split()), goals, names))
    skipped: Counter[str] = Counter()
    bad: dict[int, str] = {}
    for why, positions in (("failed", errors), ("admitted", sorries)):
        for line, col in positions:
            k = decl_of(line_col_to_offset(text, line, col))
            if k is not None:
                bad.setdefault(k, why)
    whole = [(a, b) for a, b, tac, _, _ in items if _LEAN_WHOLE.match(tac)]
    examples: list[TacticExample] = []
    per_decl: dict[int, list[tuple[int, int, str, tuple[str, ...]]]] = {}
    for a, b, tac, goals, used in sorted(items, key=lambda x: (x[0], -x[1])):
        k = decl_of(a)
        if k is None or k in bad:
            continue
        per_decl.setdefault(k, []).append((a, b, tac, used))
        if _LEAN_STRUCTURE.search(tac) or any(x <= a and b <= y and (x, y) != (a, b) for x, y in whole):
            continue
        first = goals.split("\n\n")[0]
        view = parse_goal(first)
        d = decls[k]
        examples.append(TacticExample(view.hypotheses, view.conclusion, tac, d.name or d.kind, origin, k))
    proofs = []
    for k, its in sorted(per_decl.items()):
        outer = [tac for a, b, tac, _ in its if not any(x <= a and b <= y and (x, y) != (a, b) for x, y, _, _ in its)]
        consts = frozenset(u for *_, used in its for u in used)
        d = decls[k]
        proofs.append(LemmaProof(d.name or d.kind, d.statement, tuple(outer), origin, k, consts))
    skipped.update(bad.values())
    return Harvest(Source(origin, "file", None), tuple(examples), tuple(proofs), dict(skipped))


def _lean_version(source: Source) -> str:
    """"lean <toolchain>" of the source's Lake project (its `lean-toolchain`), for the cache."""
    folder = source.workdir or (source.path.parent if source.path is not None else Path.cwd())
    for d in (Path(folder), *Path(folder).parents):
        if (d / "lean-toolchain").is_file():
            try:
                return "lean " + (d / "lean-toolchain").read_text().strip()
            except OSError:
                break
    return "lean unknown"


def _replay_lean(source: Source, text: str, make_prover: Callable[[], object] | None) -> Harvest:
    """Run the whole file once through the REPL with `allTactics` and read the harvest from its answer."""
    from ..provers.lean import LeanProver

    assert source.path is not None
    lean = make_prover() if make_prover is not None else LeanProver()
    try:
        answer = lean.run_file(source.path, text, source.workdir, ENTER_TIMEOUT, all_tactics=True)  # type: ignore
    finally:
        lean.close()  # type: ignore[attr-defined]
    if answer.error is not None:
        raise SourceError(f"the Lean REPL refused the file: {answer.error}", file=source.path)
    tactics = answer.extra.get("tactics") or []
    errors = [(m.line, m.column) for m in answer.errors]
    sorries = [(s.line, s.column) for s in answer.sorries if s.line is not None and s.column is not None]
    got = lean_harvest(text, [t for t in tactics if isinstance(t, dict)], errors, sorries, source.origin)
    return replace(got, source=source)


# --------------------------------------------------------------------------------------------------
# many sources


def harvest_sources(sources: Iterable[Source], *, jobs: int = 1, cache: HarvestCache | None = None,
                    prover: ProverFactory | None = None, tactic_timeout: float = TACTIC_TIMEOUT,
                    console: "Console | None" = None) -> list[Harvest]:
    """Harvest each source (in `jobs` threads, a prover each), in the order given; with `console`, a progress bar."""
    todo = list(sources)
    cache = cache if cache is not None else HarvestCache()
    results: list[Harvest | None] = [None] * len(todo)
    bar = None
    task = None
    if console is not None and todo:
        from ..report import progress_bar

        bar = progress_bar(console)
        bar.start()
        task = bar.add_task("harvesting proofs", total=len(todo), detail="")
    lock = threading.Lock()

    def one(k: int) -> None:
        try:
            h = harvest_source(todo[k], cache=cache, prover=prover, tactic_timeout=tactic_timeout)
        except Exception as e:  # noqa: BLE001 - one source's bug must not cost the others
            log.exception("harvest: %s failed: %s", todo[k].name, _one_line(e))
            h = Harvest(todo[k], message=f"{todo[k].name} could not be harvested: {_one_line(e)}")
        results[k] = h
        if bar is not None and task is not None:
            with lock:
                bar.update(task, advance=1, detail=f"{h.source.name}: {h.replayed} proofs"
                           + (" (cached)" if h.from_cache else ""))

    try:
        if jobs <= 1 or len(todo) <= 1:
            for k in range(len(todo)):
                one(k)
        else:
            with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="harvest") as pool:
                for f in [pool.submit(one, k) for k in range(len(todo))]:
                    f.result()
    finally:
        if bar is not None:
            bar.stop()
    return [h for h in results if h is not None]


def visible_examples(harvests: Iterable[Harvest], allows: Callable[[Origin, int, str], bool]
                     ) -> Iterator[TacticExample]:
    """The examples of `harvests` that `allows` (a `Visibility.allows`) admits."""
    for h in harvests:
        for e in h.examples:
            if allows(e.origin, e.order, e.lemma):
                yield e
