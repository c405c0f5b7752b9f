"""Features of a proof state, as Tactician computes them, from the prover's printed goal.

Tactician (Blaauwbroek et al.) describes a state by the term walks of length ≤ 3 of its goal and hypotheses: each
node's label, each parent → child pair and each grandparent → parent → child triple, with the role of the term (the
goal, or a hypothesis) as a prefix, plus the goal's head symbol. We have no kernel terms, only what `coqidetop`
prints, so the term tree is rebuilt by a small parser of Coq's printed notation: application by juxtaposition,
the usual infix operators at their Coq levels, `forall`/`exists`/`fun` binders, parentheses. It need not be Coq's
own parse — the same text must give the same features, and similar statements similar features.

Local names (hypothesis names, bound variables) are not features: they become the label `§`, so `H : n <= m` and
`H0 : a <= b` share their walks. Features are hashed to 64-bit integers (within one process: see `_hash`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Sequence

from ..coq_source import bracket_depths

__all__ = ["state_features", "term_features", "parse_term", "Node", "hyp_names", "ascii_notation"]

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<num>\d+)
  | (?P<mathop>[\u2190-\u22FF\u2A00-\u2AFF])
  | (?P<id>[A-Za-z_\u00C0-\uFFFF][\w'.\u00C0-\uFFFF]*)
  | (?P<op><->|->|<-|/\\|\\/|<>|<=|>=|=>|::|\+\+|:=|[-+*/<>=~^%&|@!?:$#;,.])
  | (?P<open>[(\[{])
  | (?P<close>[)\]}])
  | (?P<other>.)
""", re.X)

# binding powers of infix operators (higher binds tighter), right-associative ones marked
_INFIX: dict[str, tuple[int, bool]] = {
    "<->": (5, False), "->": (10, True), "\\/": (15, True), "/\\": (20, True),
    "=": (30, False), "<>": (30, False), "<=": (30, False), "<": (30, False), ">=": (30, False), ">": (30, False),
    "::": (40, True), "++": (40, True),
    "+": (50, False), "-": (50, False), "*": (60, False), "/": (60, False), "^": (70, True),
}
_BINDERS = ("forall", "exists", "fun", "exists!")
LOCAL = "§"


@dataclass(frozen=True)
class Node:
    label: str
    children: tuple["Node", ...] = ()


# Lean 4 prints the logic in Unicode; its ASCII forms are the ones the parser knows (and Coq prints), so a Lean state
# and the same Coq state have the same features
_LEAN_NOTATION = {"∀": " forall ", "∃": " exists ", "→": " -> ", "←": " <- ", "↔": " <-> ", "∧": " /\\ ",
                  "∨": " \\/ ", "¬": " ~ ", "≤": " <= ", "≥": " >= ", "≠": " <> ", "↦": " => ", "λ": " fun ",
                  "×": " * "}
_LEAN_RE = re.compile("|".join(map(re.escape, _LEAN_NOTATION)))


def ascii_notation(text: str) -> str:
    """`text` with Lean's Unicode connectives, quantifiers and comparisons in their ASCII forms (`∀` → forall,
    `→` → ->, `∧` → /\\, `≤` → <=, ...); ASCII text is returned as it is."""
    return text if text.isascii() else _LEAN_RE.sub(lambda m: _LEAN_NOTATION[m.group()], text)


def _tokens(text: str) -> list[str]:
    out = []
    for m in _TOKEN.finditer(ascii_notation(text)):
        kind = m.lastgroup
        if kind == "ws":
            continue
        out.append(m.group())
    return out


class _Parser:
    def __init__(self, tokens: Sequence[str], local: frozenset[str]) -> None:
        self.toks = tokens
        self.i = 0
        self.local = set(local)

    def peek(self) -> str | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> str | None:
        t = self.peek()
        self.i += 1
        return t

    def expr(self, min_bp: int = 0) -> Node:
        left = self.prefix()
        while True:
            op = self.peek()
            if op is None or op not in _INFIX:
                return left
            bp, right_assoc = _INFIX[op]
            if bp < min_bp:
                return left
            self.take()
            right = self.expr(bp if right_assoc else bp + 1)
            left = Node(op, (left, right))

    def prefix(self) -> Node:
        t = self.peek()
        if t is None:
            return Node("?")
        if t in _BINDERS:
            return self.binder()
        if t == "~":
            self.take()
            return Node("~", (self.expr(75),))
        if t == "-" :
            self.take()
            return Node("neg", (self.expr(75),))
        return self.application()

    def binder(self) -> Node:
        kind = self.take() or "?"
        types: list[Node] = []
        # binders: names, `(x y : T)` groups, `x : T` — up to the comma (or `=>` for fun)
        stop = "=>" if kind == "fun" else ","
        depth = 0
        start = self.i
        while self.peek() is not None and not (depth == 0 and self.peek() == stop):
            t = self.take()
            if t in ("(", "[", "{"):
                depth += 1
            elif t in (")", "]", "}"):
                depth -= 1
                if depth < 0:
                    self.i -= 1
                    break
        binder_tokens = self.toks[start:self.i]
        if self.peek() == stop:
            self.take()
        # names are identifiers before a ':' at depth (0 or 1), types after
        names, chunk, depth = [], [], 0
        seen_colon = False
        for t in binder_tokens:
            if t in ("(", "{", "["):
                depth += 1
                if depth == 1:
                    seen_colon, chunk = False, []
                continue
            if t in (")", "}", "]"):
                depth -= 1
                if depth == 0 and chunk:
                    types.append(_Parser(chunk, frozenset(self.local | set(names))).expr())
                    chunk = []
                continue
            if t == ":" and depth <= 1:
                seen_colon = True
                continue
            if not seen_colon:
                if re.match(r"[A-Za-z_]", t):
                    names.append(t)
            else:
                chunk.append(t)
        if chunk:
            types.append(_Parser(chunk, frozenset(self.local | set(names))).expr())
        saved = set(self.local)
        self.local |= set(names)
        body = self.expr()
        self.local = saved
        return Node(kind, (*types, body))

    def atom(self) -> Node | None:
        t = self.peek()
        if t is None or t in _INFIX or t in (")", "]", "}", ",", "=>", ":", ";", "|", ":=") or t in _BINDERS:
            return None
        if t in ("(", "[", "{"):
            self.take()
            close = {"(": ")", "[": "]", "{": "}"}[t]
            inner = self.expr()
            while self.peek() not in (None, close):  # tuples, lists, records: the rest is kept as siblings
                sep = self.take()
                if sep in (",", ";", "|", ":", ":="):
                    extra = self.expr()
                    inner = Node("pair" if sep == "," else sep, (inner, extra))
            self.take()
            return inner if t == "(" else Node(t + close, (inner,))
        self.take()
        if t in self.local:
            return Node(LOCAL)
        if t.isdigit():
            return Node(t if len(t) <= 2 else "§num")
        if re.match(r"[^\w]", t):
            return Node(t)
        return Node(t)

    def application(self) -> Node:
        head = self.atom()
        if head is None:
            t = self.take()
            return Node(t or "?")
        args: list[Node] = []
        while True:
            a = self.atom()
            if a is None:
                break
            args.append(a)
        if not args:
            return head
        return Node(head.label, (*head.children, *args)) if not head.children and head.label != LOCAL \
            else Node("@", (head, *args))


def parse_term(text: str, local: Iterable[str] = ()) -> Node:
    """The term tree of a printed Coq term (see the module docstring); `local`: names that are local here."""
    return _Parser(_tokens(text), frozenset(local)).expr()


def _walks(node: Node, out: list[str], prefix: str) -> None:
    stack: list[tuple[Node, str | None, str | None]] = [(node, None, None)]
    while stack:
        n, parent, grand = stack.pop()
        out.append(f"{prefix}{n.label}")
        if parent is not None:
            out.append(f"{prefix}{parent}>{n.label}")
            if grand is not None:
                out.append(f"{prefix}{grand}>{parent}>{n.label}")
        for c in n.children:
            stack.append((c, n.label, parent))


def _hash(feature: str) -> int:
    """A feature's number: Python's own string hash (64 bits, and the fastest there is). It differs between
    processes (hash randomisation), which is fine because features are only ever compared within one process —
    never write them anywhere."""
    return hash(feature)


def hyp_names(hyps: Sequence[str]) -> list[str]:
    """The local names a list of printed hypotheses declares (`n, m : nat` declares n and m)."""
    return list(_hyp_names(tuple(hyps)))


@lru_cache(maxsize=1 << 15)
def _hyp_names(hyps: tuple[str, ...]) -> tuple[str, ...]:
    names: list[str] = []
    for h in hyps:
        head = h.split(":", 1)[0] if ":" in h else ""
        head = head.split(":=", 1)[0]
        # Coq prints `n, m : nat`, Lean `n m : Nat`
        names.extend(x for x in re.split(r"[,\s]+", head) if x and _NAME.fullmatch(x))
    return tuple(names)


_NAME = re.compile(r"\s*[A-Za-z_][\w']*\s*")


@lru_cache(maxsize=1 << 17)
def term_features(text: str, role: str, local: frozenset[str]) -> frozenset[int]:
    """Hashed walks of length ≤ 3 of one printed term, prefixed by its role ("g" goal, "h" hypothesis)."""
    tree = parse_term(text, local)
    walks: list[str] = []
    _walks(tree, walks, role + ":")
    if role == "g":
        walks.append(f"top:{tree.label}")
    return frozenset(_hash(w) for w in walks)


def state_features(hyps: Sequence[str], goal: str) -> frozenset[int]:
    """The features of a proof state's focused goal: its conclusion's walks and its hypotheses' types' walks."""
    local = frozenset(hyp_names(hyps))
    out: set[int] = set(term_features(goal, "g", local))
    for h in hyps:
        if ":" not in h:
            continue
        body = h.split(":", 1)[1]
        if body.startswith("="):  # `x := t : T`
            continue
        out |= term_features(body.strip(), "h", local)
    return frozenset(out)


_STATEMENT_HEAD = re.compile(r"^\s*(?:#\[[^\]]*\]\s*)?(?:(?:Local|Global|Polymorphic|Monomorphic|Program|Let)\s+)*"
                             r"(?:[A-Z][A-Za-z]*\s+(?P<name>[A-Za-z_][\w'.]*)\s*"
                             # Lean 4: `@[simp] private theorem name ...`, `example ...` (no name)
                             r"|(?:@\[[^\]]*\]\s*)?(?:(?:private|protected|noncomputable|nonrec)\s+)*"
                             r"(?:(?:theorem|lemma|def|abbrev|instance)\s+(?P<lname>[^\s:({\[]+)\s*|example\b\s*))", re.S)


def statement_parts(statement: str) -> tuple[str, str]:
    """(binders, type) of a statement sentence `Lemma name binders : type.` (binders "" when none)."""
    text = re.sub(r"\(\*.*?\*\)", " ", statement, flags=re.S).strip()
    if text.endswith("."):
        text = text[:-1]
    if text.endswith(":="):  # a Lean declaration's header may keep its `:=`
        text = text[:-2].rstrip()
    m = _STATEMENT_HEAD.match(text)
    rest = text[m.end():] if m else text
    for i, depth in bracket_depths(rest):
        if rest[i] == ":" and depth == 0 and rest[i + 1 : i + 2] != "=":
            return rest[:i].strip(), rest[i + 1 :].strip()
    return "", rest.strip()


def statement_binders(statement: str) -> list[str]:
    """The names a statement quantifies over, in order: its binders before the colon, then the leading `forall`s."""
    binders, typ = statement_parts(statement)
    m = re.match(r"forall\s+(.*?),", ascii_notation(typ).strip(), re.S)
    return list(dict.fromkeys(_binder_names(binders) + (_binder_names(m.group(1)) if m else [])))


def _binder_names(text: str) -> list[str]:
    """Names declared by a binder list: `x y`, `(x y : T)`, `{A}`, `{A : Type}`, `x y : T`, in order."""
    names: list[str] = []
    depth, colon = 0, False
    for tok in _tokens(text):
        if tok in ("(", "{", "["):
            depth += 1
            if depth == 1:
                colon = False
        elif tok in (")", "}", "]"):
            depth -= 1
        elif tok == ":" and depth <= 1:
            colon = True
        elif not colon and depth <= 1 and re.fullmatch(r"[A-Za-z_][\w']*", tok):
            names.append(tok)
    return names


def statement_features(statement: str) -> frozenset[int]:
    """Features of a statement sentence: its type, with the binders before the colon as local names."""
    binders, typ = statement_parts(statement)
    local = frozenset(statement_binders(statement))
    return term_features(typ, "g", local)
