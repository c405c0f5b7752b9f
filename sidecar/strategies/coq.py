"""Profile 0 for Coq: general, deterministic tactic candidates for the first goal of a state.

Nothing here names a particular lemma of any benchmark. Candidates come from the shape of the goal (products,
conjunctions, disjunctions, equalities, existentials), its hypotheses and variables (destruct, induction, rewrite,
apply), and its environment: lemmas proved earlier in the same file, definitions to unfold, and argument-free
Ltac tactics the file defines. Costs order the candidates; the search adds them along a path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterator

from ..canonical import normalize_space
from ..coq_source import bracket_depths, strip_comments
from ..provers.base import GoalView, ProofState
from . import Candidate, SearchContext

__all__ = ["CoqProfile0", "CoqPremises", "foreign_names", "goal_pattern", "search_terms", "scrutinees", "parse_hypotheses", "top_level_has", "leading_binders", "rank_lemmas", "symbols", "spec_cases"]

# Closing tactics: (tactic, cost, timeout factor). They either finish the goal or are pruned as no progress.
_CLOSERS: tuple[tuple[str, float, float], ...] = (
    ("assumption", 0.5, 0.5),
    ("reflexivity", 0.5, 0.5),
    ("discriminate", 0.6, 0.5),
    ("contradiction", 0.6, 0.5),
    ("trivial", 0.6, 0.5),
    ("auto", 0.7, 1.0),
    ("congruence", 0.8, 1.0),
    ("lia", 0.8, 1.0),
    ("tauto", 0.9, 1.0),
    ("eauto", 1.0, 1.0),
    ("now intuition", 1.0, 1.0),
    ("intros; subst; auto", 1.0, 1.0),
    ("simpl; auto", 1.0, 1.0),
    ("intros; lia", 1.0, 1.0),
    ("intros; ring", 1.1, 1.0),
    ("intros; field", 1.3, 1.0),
    ("firstorder", 1.2, 1.5),
    ("nia", 1.4, 1.5),
    ("auto with *", 1.5, 1.5),
    ("intros; simpl in *; congruence", 1.3, 1.0),
    ("intros; split; auto", 1.3, 1.0),
)

# CoqHammer's automation either succeeds fast (0.02-0.07 s on the development set's proofs) or searches until it
# is stopped: half the tactic time (1 s) each, never retried with more (a timed-out one cost 4 s, and up to 16 s)
_HAMMER_CLOSERS: tuple[tuple[str, float, float], ...] = (
    ("sauto", 1.0, 0.5),
    ("hauto", 1.2, 0.5),
    ("intros; sauto", 1.2, 0.5),
)

_IDENT = r"[A-Za-z_][A-Za-z0-9_']*"
_STMT_WORDS = ("Lemma", "Theorem", "Fact", "Remark", "Corollary", "Proposition", "Property")
_STMT_RE = re.compile(r"^\s*(?:#\[[^\]]*\]\s*)?(?:(?:Local|Global|Polymorphic|Program)\s+)*(" + "|".join(_STMT_WORDS)
                      + r")\s+(" + _IDENT + r")\b(.*)$", re.S)
_DEF_RE = re.compile(r"^\s*(?:(?:Local|Global|Program)\s+)*(Definition|Fixpoint|Let|CoFixpoint)\s+(" + _IDENT + r")\b")
_LTAC_RE = re.compile(r"^\s*(?:(?:Local|Global)\s+)*Ltac\s+(" + _IDENT + r")\s*:=", re.S)
_PROPISH = re.compile(r"(=|<|>|<>|/\\|\\/|->|<->|~|\bTrue\b|\bFalse\b|\bforall\b|\bexists\b)")


@dataclass(frozen=True)
class Hypothesis:
    """A hypothesis line split into its names and its type."""

    names: tuple[str, ...]
    type: str
    defined: bool = False  # `x := v : T`


def parse_hypotheses(hyps: tuple[str, ...]) -> list[Hypothesis]:
    """Split printed hypotheses like "n, m : nat" or "x := 3 : nat" into names and types."""
    out = []
    for h in hyps:
        h = normalize_space(h)
        m = re.match(r"^((?:" + _IDENT + r")(?:\s*,\s*" + _IDENT + r")*)\s*(:=|:)\s*(.*)$", h)
        if not m:
            continue
        names = tuple(n.strip() for n in m.group(1).split(","))
        body = m.group(3)
        if m.group(2) == ":=":
            typ = body.rsplit(" : ", 1)[-1]
            out.append(Hypothesis(names, typ, True))
        else:
            out.append(Hypothesis(names, body))
    return out


def top_level_has(text: str, op: str) -> bool:
    """True when operator `op` occurs in `text` outside all brackets (and outside a leading binder)."""
    body = text
    if body.startswith(("forall ", "exists ", "fun ")):
        return False
    for i, depth in bracket_depths(body):
        if depth == 0 and body.startswith(op, i):
            return True
    return False


def leading_binders(concl: str) -> list[str]:
    """Names bound by a leading `forall` of the conclusion, in order."""
    c = normalize_space(concl)
    if not c.startswith("forall "):
        return []
    comma = None
    for i, depth in bracket_depths(c):
        if depth == 0 and c[i] == ",":
            comma = i
            break
    if comma is None:
        return []
    head = c[len("forall "):comma]
    names: list[str] = []
    for group in re.findall(r"\(([^()]*)\)", head) or [head]:
        part = group.split(":", 1)[0]
        names.extend(n for n in part.split() if re.fullmatch(_IDENT, n) and n != "_")
    return names


def scrutinees(text: str) -> list[str]:
    """Terms an `if ... then` or `match ... with` of `text` branches on, innermost keywords included, in order
    of appearance (what `destruct` on that very term would split)."""
    out: list[str] = []
    for m in re.finditer(r"\b(if|match)\s+", text):
        start = m.end()
        depth, i, end = 0, start, None
        stop = ("then",) if m.group(1) == "if" else ("with", "as", "return", "in")
        while i < len(text):
            c = text[i]
            if c in "([{":
                depth += 1
            elif c in ")]}":
                if depth == 0:
                    break
                depth -= 1
            elif depth == 0 and (i == start or not (text[i - 1].isalnum() or text[i - 1] in "_'.")):
                word = re.match(r"[A-Za-z_][A-Za-z0-9_']*", text[i:])
                if word and word.group(0) in stop:
                    end = i
                    break
                if word:
                    i += len(word.group(0))
                    continue
            i += 1
        if end is None:
            continue
        term = text[start:end].strip()
        if term and "," not in term and not re.search(r"\b(?:if|match|fun|let)\b", term) and term not in out:
            out.append(term)
    return out


def symbols(text: str) -> set[str]:
    """Identifiers and operator symbols of a Coq term, for cheap relevance ranking."""
    idents = set(re.findall(r"[A-Za-z_][A-Za-z0-9_'.]*", text))
    ops = set(re.findall(r"\+\+|<=|>=|<>|<->|->|::|[+*\-<>=^]", text))
    return (idents | ops) - {"forall", "exists", "fun", "match", "with", "end", "as", "in", "let", "if", "then",
                             "else", "Type", "Prop", "Set"}


def rank_lemmas(goal_text: str, lemmas: tuple[tuple[str, str], ...], k: int) -> list[str]:
    """The `k` environment lemmas whose statements share the most (rare) symbols with the goal."""
    want = symbols(goal_text)
    if not want or not lemmas:
        return []
    freq: dict[str, int] = {}
    sym_of = []
    for name, stmt in lemmas:
        s = symbols(stmt)
        sym_of.append((name, s))
        for x in s:
            freq[x] = freq.get(x, 0) + 1
    scored = []
    for idx, (name, s) in enumerate(sym_of):
        shared = want & s
        if not shared:
            continue
        score = sum(1.0 / freq[x] for x in shared) + 0.001 * idx  # later (closer) lemmas break ties
        scored.append((score, name))
    scored.sort(reverse=True)
    return [n for _, n in scored[:k]]


def _strip_binders(text: str) -> str:
    """The body of a `forall ..., body` (text itself when it has no leading binder)."""
    if not text.startswith("forall "):
        return text
    for i, depth in bracket_depths(text):
        if depth == 0 and text[i] == ",":
            return text[i + 1:].strip()
    return text


# Reflection lemmas of the numeric libraries: `destruct (Pos.compare_spec a b)` splits a goal on `a ?= b` into its
# three cases, each with the case's hypothesis and the comparison replaced by `Eq`/`Lt`/`Gt` (likewise `eqb`, `leb`,
# `ltb` with `reflect`, and `max`/`min` with their two cases): the usual first step of a proof about a comparison.
_SPEC_INFIX = {"?=": "compare_spec", "=?": "eqb_spec", "<=?": "leb_spec", "<?": "ltb_spec"}
_SPEC_PREFIX = re.compile(r"(?<![A-Za-z0-9_'.])((?:[A-Z][A-Za-z0-9_']*\.)?)(max|min|compare|eqb|leb|ltb)\s+")
_NUM_MODULES = {"nat": "Nat", "positive": "Pos", "Z": "Z", "N": "N"}


def _enclosing(text: str, i: int, j: int) -> tuple[int, int] | None:
    """(start, end) of the innermost bracket pair around text[i:j], or None when it is at the top level."""
    depth, start = 0, None
    for k in range(i - 1, -1, -1):
        if text[k] == ")":
            depth += 1
        elif text[k] == "(":
            if depth == 0:
                start = k
                break
            depth -= 1
    depth = 0
    for k in range(j, len(text)):
        if text[k] == "(":
            depth += 1
        elif text[k] == ")":
            if depth == 0:
                return (start, k) if start is not None else None
            depth -= 1
    return None


def _arguments(text: str, i: int, n: int) -> list[str]:
    """The next `n` arguments of an application starting at text[i]: names or bracketed terms."""
    args: list[str] = []
    while len(args) < n:
        while i < len(text) and text[i] == " ":
            i += 1
        if i >= len(text):
            break
        if text[i] == "(":
            end = next((k for k, depth in bracket_depths(text[i:]) if depth == 0), None)
            if end is None:
                break
            args.append(text[i:i + end + 1])
            i += end + 1
            continue
        m = re.match(r"[A-Za-z0-9_'.]+", text[i:])
        if not m or m.group(0) in _NOT_CONSTANTS:
            break
        args.append(m.group(0))
        i += m.end()
    return args


def spec_cases(concl: str, hyps: list["Hypothesis"], limit: int = 3) -> list[str]:
    """`destruct (<spec lemma> a b)` for the comparisons and `max`/`min` applications of a conclusion, the lemma
    qualified by the operands' numeric type when the hypotheses tell it (`n m : positive` gives `Pos.`), and
    unqualified as the file's own scope resolves it. What an `if`/`match` branches on first, then the rest in order
    of appearance; at most `limit` distinct comparisons."""
    types = {n: h.type for h in hyps for n in h.names}

    def modules(*terms: str) -> list[str]:
        found = [_NUM_MODULES[types[w]] for t in terms for w in re.findall(r"[A-Za-z_][A-Za-z0-9_']*", t)
                 if types.get(w) in _NUM_MODULES]
        return ["", *(f"{m}." for m in dict.fromkeys(found))]

    out: list[tuple[str, ...]] = []
    # a comparison is the whole of a bracketed term or of what an `if`/`match` branches on
    terms = [f"({t})" for t in scrutinees(concl)] + [concl]
    for text in terms:
        for m in re.finditer(r" (\?=|=\?|<=\?|<\?) ", text):
            span = _enclosing(text, m.start(), m.end())
            if span is None:
                continue
            a, b = text[span[0] + 1:m.start()].strip(), text[m.end():span[1]].strip()
            if a and b and "," not in a + b and not re.search(
                    r"\b(?:if|then|else|match|with|fun|let|forall|exists)\b", a + " " + b):
                group = tuple(f"{q}{_SPEC_INFIX[m.group(1)]} {_arg(a)} {_arg(b)}" for q in modules(a, b))
                if group not in out:
                    out.append(group)
    for m in _SPEC_PREFIX.finditer(concl):
        args = _arguments(concl, m.end(), 2)
        if len(args) == 2:
            quals = [m.group(1)] if m.group(1) else modules(*args)
            out.append(tuple(f"{q}{m.group(2)}_spec {args[0]} {args[1]}" for q in quals))
    specs: list[str] = []
    for group in out[:limit]:
        specs.extend(s for s in group if s not in specs)
    return specs


def _arg(term: str) -> str:
    return term if re.fullmatch(r"[A-Za-z0-9_'.]+", term) or term.startswith("(") and _enclosing(
        term, 1, 1) == (0, len(term) - 1) else f"({term})"


_NOTATIONS = ("++", "::", "<=", ">=", "<>", "<", ">", "+", "*", "-", "^", "/", "mod")
_NOT_CONSTANTS = {"forall", "exists", "fun", "match", "with", "end", "as", "in", "let", "if", "then", "else",
                  "Type", "Prop", "Set", "return", "fix", "struct", "True", "False", "and", "or", "not", "eq", "iff"}


def _bound_names(goal: GoalView, concl: str) -> set[str]:
    """Names the goal binds locally: its hypotheses and the binders of its conclusion."""
    bound: set[str] = set()
    for h in parse_hypotheses(goal.hypotheses):
        bound.update(h.names)
    for group in re.findall(r"(?:forall|exists|fun)\s+([^,:=]*?)(?:,|:|=>)", concl):
        bound.update(group.replace("(", " ").replace(")", " ").split())
    return bound


def search_terms(goal: GoalView) -> tuple[list[str], list[str]]:
    """Constants and notation symbols of a goal's conclusion that a `Search` can look lemmas up by."""
    concl = normalize_space(goal.conclusion)
    bound = _bound_names(goal, concl)
    consts: list[str] = []
    for tok in re.findall(r"[A-Za-z_][A-Za-z0-9_'.]*", concl):
        if tok in bound or tok in _NOT_CONSTANTS or tok in consts or tok[0].isdigit():
            continue
        consts.append(tok)
    spaced = f" {concl} "
    notations = [n for n in _NOTATIONS if f" {n} " in spaced]
    return consts, notations


def goal_pattern(goal: GoalView) -> str | None:
    """The goal's conclusion with its local names made holes, for `SearchPattern` (None when too general).

    Leading `forall` binders are dropped; the rest keeps its notations, so `p / r <= p / q` gives
    `_ / _ <= _ / _`, which finds exactly the library lemmas whose conclusion has that shape."""
    concl = normalize_space(goal.conclusion)
    body = concl
    while body.startswith("forall "):
        stripped = _strip_binders(body)
        if stripped is body or stripped == body:
            break
        body = stripped
    if re.search(r"\b(?:forall|exists|fun|match|let)\b", body):
        return None  # inner binders would need their names kept consistently
    bound = _bound_names(goal, concl)

    def hole(m: "re.Match[str]") -> str:
        w = m.group(0)
        return "_" if w in bound else w

    pattern = re.sub(r"(?<![A-Za-z0-9_'.])[A-Za-z_][A-Za-z0-9_']*(?![A-Za-z0-9_'.])", hole, body)
    pattern = re.sub(r"\(\s*_\s*\)", "_", pattern)
    informative = re.sub(r"\b_\b|[()\s]|=|->|<->|~|/\\|\\/", "", pattern)
    if not informative or pattern.strip() == "_":
        return None
    return pattern


class CoqPremises:
    """Lemmas from the loaded libraries that fit a goal, found by Coq's own `Search` in the goal's session."""

    def __init__(self, prover: "object", timeout: float = 1.0, keep: int = 10, exclude: str = "",
                 outside: "list[str] | tuple[str, ...]" = ()) -> None:
        self.prover = prover
        self.exclude = exclude  # the goal's own lemma name: another module's lemma of that name is no premise
        self.outside = " outside " + " ".join(outside) if outside else ""  # libraries whose lemmas are off limits
        self.timeout = timeout
        self.keep = keep
        self._cache: dict[str, list[tuple[str, str]]] = {}

    def __call__(self, state: ProofState) -> list[str]:
        """Names of the best-fitting library lemmas for the first goal of `state` (cached per query).

        Lemmas whose conclusion has the goal's very shape (`SearchPattern`) come first, shortest statement
        first, then equivalences with the goal's shape on one side; then lemmas sharing the goal's constants and notations (`Search`), ranked by `rank_premises`."""
        if not state.goals:
            return []
        g = state.goals[0]
        pattern = goal_pattern(g)
        shaped: list[tuple[str, str]] = []
        iffs: list[tuple[str, str]] = []
        if pattern is not None:
            pkey = "pattern " + pattern
            if pkey not in self._cache:
                self._cache[pkey] = self._query(state, [f"SearchPattern ({pattern})"], limit=60)
            # `A <-> B` lemmas with the goal's shape on either side (`Nat.compare_lt_iff` for `(n ?= m) = Lt`):
            # `apply` takes an equivalence in whichever direction fits, the usual `now apply ..._iff`
            ikey = "iff " + pattern
            if ikey not in self._cache:
                self._cache[ikey] = self._query(state, [f"SearchPattern (({pattern}) <-> _)"], limit=20) + \
                    self._query(state, [f"SearchPattern (_ <-> ({pattern}))"], limit=20)
            local = {n for h in parse_hypotheses(g.hypotheses) for n in h.names}  # SearchPattern lists those too
            shaped = sorted((e for e in self._cache[pkey] if e[0] not in local), key=lambda e: len(e[1]))
            iffs = sorted((e for e in self._cache[ikey] if e[0] not in local), key=lambda e: len(e[1]))
        consts, notations = search_terms(g)
        terms = consts[:3] + [f'"{n}"' for n in notations[:2]]
        key = " ".join(terms)  # goals with the same search terms share one lookup
        if key not in self._cache:
            queries = []
            if terms:
                queries.append("Search " + " ".join(terms))
            if len(terms) > 1:
                queries.extend("Search " + t for t in terms[:2])
            self._cache[key] = self._query(state, queries, limit=400, enough=5)
        names = list(dict.fromkeys([n for n, _ in shaped[: max(3, self.keep // 2)]] + [n for n, _ in iffs[:3]]))
        rest = rank_premises(g.conclusion, consts + notations, [e for e in self._cache[key] if e[0] not in names],
                             self.keep)
        return (names + rest)[: self.keep + len(names)]

    def ranked(self, state: ProofState) -> list[tuple[str, str]]:
        """`self(state)` with each name's statement as `Search` printed it."""
        names = self(state)
        known = {n: stmt for found in self._cache.values() for n, stmt in found}
        return [(n, known.get(n, "")) for n in names]

    def search(self, state: ProofState, arguments: str, limit: int) -> list[tuple[str, str]]:
        """(name, statement) of what `Search <arguments>` finds in the goal's session (at most `limit`)."""
        return self._query(state, ["Search " + arguments], limit=limit)

    def _query(self, state: ProofState, queries: list[str], limit: int, enough: int = 1) -> list[tuple[str, str]]:
        """(name, statement) results of the first queries, until one gave at least `enough`."""
        found: dict[str, str] = {}
        for q in queries:
            if len(found) >= enough:
                break
            try:
                r = self.prover.run(state, q + self.outside, self.timeout)  # type: ignore[attr-defined]
            except Exception:  # a query is best effort; the search goes on without it
                break
            if r.outcome in ("ok", "finished") and r.message.strip():
                for name, stmt in parse_search_output(r.message)[:limit]:
                    if self.exclude and name.split(".")[-1] == self.exclude:
                        continue
                    found.setdefault(name, stmt)
        return list(found.items())


_TERM_KINDS = ("Constant", "Inductive", "Constructor", "Projection", "Variable", "Axiom")


def located(text: str) -> tuple[str, str] | None:
    """(kind, full name) of what a name refers to, from `Locate name` output; None if it names no object.

    `Locate x` lists every object whose name ends in `x`; those that `x` alone does not reach carry "(shorter
    name to refer to it in current context is ...)". The first entry without that note is the one `x` means."""
    blocks: list[str] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if line[0].isspace() and blocks:
            blocks[-1] += " " + line.strip()
        else:
            blocks.append(line.strip())
    for b in blocks:
        if b.startswith("No object") or "shorter name to refer to it" in b:
            continue
        parts = b.split()
        if len(parts) >= 2:
            return parts[0], parts[1]
    return None


def foreign_names(prover: "object", state: ProofState, script: tuple[str, ...], foreign: "frozenset[str]",
                  timeout: float = 2.0) -> list[str]:
    """Names in `script` that resolve (Coq's `Locate` at `state`) to a constant of a `foreign` library."""
    if not foreign:
        return []
    words = dict.fromkeys(w.rstrip(".") for w in re.findall(r"[A-Za-z_][A-Za-z0-9_'.]*", " ".join(script)))
    out = []
    for w in list(words)[:60]:
        try:
            r = prover.run(state, f"Locate {w}", timeout)  # type: ignore[attr-defined]
        except Exception:  # no answer: the name stays unjudged (verification still checks the proof)
            continue
        hit = located(r.message or "") if r.outcome in ("ok", "finished") else None
        if hit and hit[0] in _TERM_KINDS and any(hit[1].startswith(lib + ".") for lib in foreign):
            out.append(hit[1])  # (tactics of an added import, e.g. sauto, are what it is for)
    return out


def parse_search_output(text: str) -> list[tuple[str, str]]:
    """(name, statement) pairs from the output of `Search`."""
    out: list[tuple[str, str]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        m = re.match(r"^([A-Za-z_][A-Za-z0-9_'.]*)\s*:\s?(.*)$", line)
        if m and not line[0].isspace():
            out.append((m.group(1), m.group(2)))
        elif out:
            out[-1] = (out[-1][0], out[-1][1] + " " + line.strip())
    return out


def rank_premises(conclusion: str, terms: list[str], found: list[tuple[str, str]], k: int) -> list[str]:
    """The `k` premises most like the goal: shared search terms first, then how closely the statement's symbols
    match the conclusion's (a lemma that states the goal's very shape ranks first), shorter statements first."""
    want = set(terms)
    concl = symbols(conclusion)
    scored = []
    for i, (name, stmt) in enumerate(found):
        s = symbols(stmt)
        shared = len(want & s)
        jac = len(concl & s) / max(1, len(concl | s))
        scored.append((-shared, -round(jac, 3), len(stmt), i, name))
    scored.sort()
    return [t[-1] for t in scored[:k]]


def environment_of(sentences: tuple[str, ...]) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...], tuple[str, ...]]:
    """Lemmas (name, statement), definition names and argument-free Ltac names found in environment sentences."""
    lemmas: list[tuple[str, str]] = []
    defs: list[str] = []
    ltacs: list[str] = []
    for i, s in enumerate(sentences[:-1] if sentences else ()):
        text = strip_comments(s)
        m = _STMT_RE.match(text)
        if m:
            lemmas.append((m.group(2), normalize_space(m.group(3))))
            continue
        m2 = _DEF_RE.match(text)
        if m2:
            defs.append(m2.group(2))
            continue
        m3 = _LTAC_RE.match(text)
        if m3:
            ltacs.append(m3.group(1))
    return tuple(lemmas), tuple(dict.fromkeys(defs)), tuple(dict.fromkeys(ltacs))



def _unique(cands: list[Candidate], seen: set[str]) -> Iterator[Candidate]:
    for c in cands:
        if c.tactic not in seen:
            seen.add(c.tactic)
            yield c


class CoqProfile0:
    """Deterministic candidates for Coq goals."""

    backend = "coq"

    def candidates(self, state: ProofState, ctx: SearchContext, depth: int) -> Iterator[Candidate]:
        """Candidates for the first goal of `state`: the cheap ones sorted by cost, then library premises."""
        if not state.goals:
            return
        g: GoalView = state.goals[0]
        t = ctx.tactic_timeout
        concl = normalize_space(g.conclusion)
        hyps = parse_hypotheses(g.hypotheses)
        out: list[Candidate] = []

        def add(tac: str, strategy: str, cost: float, tf: float = 1.0) -> None:
            out.append(Candidate(tac, strategy, cost, max(0.05, t * tf)))

        for tac, cost, tf in _CLOSERS:
            add(tac, "closer", cost, tf)
        if ctx.hammer:
            for tac, cost, tf in _HAMMER_CLOSERS:
                add(tac, "sauto", cost, tf)

        product = concl.startswith("forall ") or concl.startswith("~") or top_level_has(concl, "->")
        if product:
            add("intros", "intro", 0.3)
        if top_level_has(concl, "/\\") or top_level_has(concl, "<->"):
            add("split", "split", 0.5)
        if top_level_has(concl, "\\/"):
            add("left", "split", 1.2)
            add("right", "split", 1.2)
        if concl.startswith("exists "):
            add("eexists", "exists", 1.0)
            for h in hyps:
                if not _PROPISH.search(h.type):
                    for n in h.names:
                        add(f"exists {n}", "exists", 1.5)
        if top_level_has(concl, "="):
            add("f_equal", "congr", 1.5)
            add("symmetry", "congr", 2.5)
        if concl == "False":
            add("exfalso", "congr", 3.0)
        add("constructor", "constructor", 1.2)
        add("econstructor", "constructor", 2.0)
        add("simpl", "simpl", 0.8)
        add("simpl in *", "simpl", 1.2)
        add("subst", "subst", 1.0)
        add("split; intros", "split", 2.0)
        add("intuition", "intuition", 1.5)

        # case analysis on what an `if`/`match` of the goal branches on (e.g. `if Nat.eqb x y then ...`)
        for i, term in enumerate(scrutinees(concl)[:3]):
            arg = term if re.fullmatch(_IDENT, term) else f"({term})"
            add(f"destruct {arg}", "destruct", 1.3 + 0.2 * i)
            add(f"destruct {arg} eqn:?", "destruct", 1.5 + 0.2 * i)
            add(f"destruct {arg}; simpl; auto", "destruct", 1.6 + 0.2 * i)
            add(f"destruct {arg}; simpl; lia", "destruct", 1.7 + 0.2 * i)
        # comparisons and max/min: case analysis by the library's reflection lemma (`compare_spec` and the like)
        for i, spec in enumerate(spec_cases(concl, hyps)):
            add(f"destruct ({spec})", "destruct", 1.3 + 0.1 * i)
            add(f"destruct ({spec}); subst; auto", "destruct", 1.5 + 0.1 * i)
        # variables: case analysis and induction (leading binders first: induction before intros keeps the
        # later quantifiers in the goal, i.e. generalizes the induction hypothesis)
        for i, b in enumerate(leading_binders(concl)[:4]):
            add(f"induction {b}", "induction", 1.5 + 0.2 * i)
            add(f"induction {b}; simpl; auto", "induction", 1.6 + 0.2 * i)
            add(f"destruct {b}", "destruct", 1.8 + 0.2 * i)
        data_vars: list[str] = []
        for h in hyps:
            if h.defined:
                continue
            propish = bool(_PROPISH.search(h.type)) or h.type[:1].isupper() and " " in h.type
            for n in h.names:
                if propish:
                    self._hypothesis_candidates(add, n, h.type, concl)
                elif not (h.type in ("Type", "Set", "Prop") or h.type.startswith("Type")):
                    data_vars.append(n)
        for n in data_vars:
            add(f"induction {n}", "induction", 2.0)
            add(f"induction {n}; simpl; auto", "induction", 2.0)
            add(f"induction {n}; intros; simpl; auto", "induction", 2.1)
            add(f"destruct {n}", "destruct", 2.0)
            add(f"destruct {n}; simpl; auto", "destruct", 2.2)
            # generalize the other variables first, so the induction hypothesis quantifies over them
            others = [m for m in reversed(data_vars) if m != n and re.search(r"\b" + re.escape(m) + r"\b", concl)]
            if others:
                gen = "; ".join(f"generalize dependent {m}" for m in others)
                add(f"{gen}; induction {n}; intros; simpl; auto", "induction", 2.3)
                add(f"{gen}; induction {n}; intros", "induction", 2.5)

        # the environment: lemmas proved earlier, definitions, the file's own tactics
        goal_text = concl + " " + " ".join(h.type for h in hyps)

        def uses(name: str, family: str, c: float) -> None:
            add(f"apply {name}", family, c)
            add(f"eapply {name}", family, c + 0.4)
            add(f"rewrite {name}", family, c + 0.3)
            add(f"rewrite <- {name}", family, c + 0.5)
            add(f"intros; apply {name}; auto", family, c + 0.2)

        for i, name in enumerate(rank_lemmas(goal_text, ctx.lemmas, 8)):
            uses(name, "lemma", 1.6 + 0.25 * i)
        top = rank_lemmas(goal_text, ctx.lemmas, 6)
        if top:
            add("eauto using " + ", ".join(top), "lemma", 1.4, 1.5)
            add("intros; eauto using " + ", ".join(top), "lemma", 1.6, 1.5)
        # the project's open lemmas: the same uses, dearer (a proof that needs none of them is preferred)
        for i, name in enumerate(rank_lemmas(goal_text, ctx.open_lemmas, 6)):
            uses(name, "open-lemma", 2.2 + 0.25 * i)
        for d in ctx.definitions:
            if re.search(r"\b" + re.escape(d) + r"\b", goal_text):
                add(f"unfold {d}", "unfold", 1.2)
                add(f"unfold {d} in *", "unfold", 1.6)
        for name in ctx.extra.get("ltacs", ()):  # type: ignore[union-attr]
            add(str(name), "ltac", 1.8)
        if ctx.hammer and depth == 0:
            # hammer is costly (ATPs, then reconstruction): it waits until cheap search had a fair chance
            out.append(Candidate("hammer", "hammer", 1.45, max(t, float(ctx.extra.get("hammer_timeout", 20.0))),  # type: ignore[arg-type]
                                 delay=float(ctx.extra.get("hammer_delay", 0.0))))  # type: ignore[arg-type]
        seen: set[str] = set()
        yield from _unique(sorted(out, key=lambda c: c.cost), seen)
        # library premises last: looking them up costs `Search` queries, worth paying only when nothing cheaper
        # closed the goal (the costs still rank the children they produce)
        premises = ctx.extra.get("premises")
        if callable(premises):
            out = []
            names = premises(state)
            for i, name in enumerate(names):
                c = 1.9 + 0.25 * i
                add(f"now apply {name}", "premise", c - 0.1)  # closes the goal or fails: no new state to search
                add(f"apply {name}", "premise", c)
                add(f"rewrite {name}", "premise", c + 0.3)
                add(f"rewrite <- {name}", "premise", c + 0.5)
                add(f"eapply {name}", "premise", c + 0.6)
            if names:
                add("eauto using " + ", ".join(names[:6]), "premise", 1.5, 1.5)
                add("intros; eauto using " + ", ".join(names[:6]), "premise", 1.7, 1.5)
            yield from _unique(sorted(out, key=lambda c: c.cost), seen)

    @staticmethod
    def _hypothesis_candidates(add, n: str, typ: str, concl: str) -> None:  # type: ignore[no-untyped-def]
        typ = normalize_space(typ)
        body = _strip_binders(typ)
        if top_level_has(typ, "/\\") or top_level_has(typ, "\\/") or typ.startswith("exists ") or top_level_has(typ, "<->"):
            add(f"destruct {n}", "destruct", 1.0)
        if top_level_has(body, "=") and not top_level_has(body, "->") or (
                body is not typ and top_level_has(body, "=")):
            add(f"rewrite {n}", "rewrite", 1.3)
            add(f"rewrite {n}; auto", "rewrite", 1.2)
            add(f"rewrite <- {n}", "rewrite", 1.6)
            add(f"rewrite {n} in *", "rewrite", 2.2)
        add(f"apply {n}", "apply", 1.4)
        add(f"eapply {n}", "apply", 2.0)
        add(f"inversion {n}", "inversion", 2.5)
        add(f"destruct {n}", "destruct", 2.6)
        add(f"induction {n}", "induction", 3.0)
