"""Helper-lemma tickets: what a goal the search could not close would need.

When a search ends without a proof, the goals left in its best partial state are what stood in the way. Each (the
first `MAX_TICKETS`) becomes a proposed helper lemma: its conclusion closed over the part of its context it
mentions (variables it names, the hypotheses about them, transitively), so that it holds in the file and not only
inside this proof. A proposal is a ticket only once the prover accepts it as a statement (`assert (…) as name.` at the
goal's root: it must type-check where the lemma stands, with nothing of the proof's local context).

A ticket is then searched as a goal of its own, at the same root (the first goal after the `assert`, searched
alone), for `seconds`; when it is proved, the goal is searched again from there, with the helper in its context, for
as long. A proof found that way is the whole script — the `assert`, the helper's proof, the rest — and goes through
the same independent verification as any other (the caller's `accept`). Tickets go to the ledger, the CLI, the hover
and the dashboard; `auto-prove tickets --accept` puts one into the file as a lemma of its own with `Admitted.`.

Coq only for now: a Lean goal gets no tickets (Lean's `have` without a value is Mathlib's syntax, and nothing here
can check a Lean statement).
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import re
import threading
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from .provers.base import GoalView, Prover, ProofState
from .search import Acceptance, AttemptSink, Search, SearchBudget, SearchResult, first_goal_closed

if TYPE_CHECKING:
    from .ledger import TicketRecord

__all__ = ["accept_ticket", "HelperTicket", "MAX_TICKETS", "TicketPhase", "helper_statement", "propose"]

log = logging.getLogger(__name__)

MAX_TICKETS = 2  # tickets made per goal
MAX_PROPOSALS = 6  # proposals checked per goal (a false or ill-typed one is dropped)
MAX_INSTANCES = 16  # small instances tried against a proposal before it becomes a ticket (spread over all)
# values tried for a variable of these types (a type variable is taken as nat)
_SMALL = {"nat": ("0", "1", "2", "3"), "bool": ("true", "false"),
          "list nat": ("[]", "[0]", "[1; 0]", "[0; 1]", "[2; 2]", "[0; 1; 2]"),
          "Z": ("0%Z", "1%Z", "(-1)%Z")}
# a false closed instance: computed, then refuted by one of these (nothing a file must have loaded: no `lia`)
_REFUTE = ("first [solve [discriminate] | solve [easy] | solve [congruence] | solve [inversion H] "
           "| solve [do 8 (match goal with K : _ <= _ |- _ => inversion K; subst; clear K end)]]")
_PROVE_HYP = "ltac:(compute; first [solve [easy] | solve [repeat constructor] | solve [auto] | solve [intuition]])"
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_']*")
_EVAR = re.compile(r"\?[A-Za-z_]")


@dataclass(frozen=True)
class HelperTicket:
    """A proposed helper lemma of one goal."""

    name: str
    statement: str
    status: str = "open"  # open | proved (its own proof found) | used (the goal was proved with it)
    proof: tuple[str, ...] = ()  # the helper's own tactics, once proved

    def as_json(self) -> dict[str, object]:
        return {"name": self.name, "statement": self.statement, "status": self.status,
                **({"proof": " ".join(self.proof)} if self.proof else {})}

    @classmethod
    def from_record(cls, record: "TicketRecord") -> "HelperTicket":
        """The ticket as the ledger keeps it (its proof one tactic per line)."""
        return cls(record.name, record.statement, record.status,
                   tuple(record.proof.split("\n")) if record.proof else ())

    def lemma_text(self) -> str:
        """The helper as a lemma of the file (Coq): with its proof when it has one, else `Admitted.`"""
        body = f"Proof.\n  {' '.join(self.proof)}\nQed." if self.proof else "Admitted."
        return f"Lemma {self.name} : {self.statement}.\n{body}\n"

    def insertion(self, before: str) -> str:
        """The text that puts this helper where the goal's lemma starts, `before` being the file's text up to there:
        a lemma of its own followed by a blank line, at that line's indentation (the CLI's `--accept` and the
        editor's quick fix)."""
        line = before[before.rfind("\n") + 1:]
        indent = line if not line.strip() else ""
        return "".join((indent if i else "") + ln + "\n"
                       for i, ln in enumerate(self.lemma_text().splitlines())) + "\n" + indent


def _binders(hyp: str) -> tuple[list[str], str, str | None] | None:
    """("n, m : nat") -> (["n", "m"], "nat", None); ("x := 3 : nat") -> (["x"], "nat", "3"); None if unreadable."""
    hyp = " ".join(hyp.split())
    if " := " in hyp.split(" : ", 1)[0]:
        name, rest = hyp.split(" := ", 1)
        body, sep, typ = rest.rpartition(" : ")
        if not sep or not _IDENT.fullmatch(name.strip()):
            return None
        return [name.strip()], typ.strip(), body.strip()
    names, sep, typ = hyp.partition(" : ")
    idents = [n.strip() for n in names.split(",")]
    if not sep or not all(_IDENT.fullmatch(n) for n in idents):
        return None
    return idents, typ.strip(), None


def _closure(view: GoalView, relevant_only: bool) -> tuple[list[tuple[str, str, str | None]], str] | None:
    """The binders (name, type, let-body or None) the goal is closed over, and its conclusion; None when a
    hypothesis cannot be read or something has an existential variable."""
    concl = " ".join(view.conclusion.split())
    if _EVAR.search(concl):
        return None
    hyps = []
    facts: set[str] = set()
    for h in view.hypotheses:
        b = _binders(h)
        if b is None or _EVAR.search(b[1]) or (b[2] is not None and _EVAR.search(b[2])):
            return None
        if len(b[0]) == 1 and b[2] is None and not _is_var(b[1]):
            if b[1] in facts:
                continue  # the same fact twice (`H` and `H1`): once is enough
            facts.add(b[1])
        for name in b[0]:
            hyps.append((name, b[1], b[2]))
    if not relevant_only:
        return hyps, concl
    names = {name for name, _, _ in hyps}
    wanted = set(_IDENT.findall(concl)) & names
    changed = True
    while changed:
        changed = False
        for name, typ, body in hyps:
            mentions = set(_IDENT.findall(typ + " " + (body or ""))) & names
            if name not in wanted and mentions & wanted:
                wanted.add(name)  # a hypothesis about what is kept (or a variable of a kept type: harmless)
                changed = True
            if name in wanted and not mentions <= wanted:
                wanted |= mentions  # what a kept one names
                changed = True
    return [h for h in hyps if h[0] in wanted], concl


def helper_statement(view: GoalView, relevant_only: bool = True) -> str | None:
    """The goal closed over its context (Coq syntax): `forall (n : nat) (m : nat) (H : n <= m), concl`, with let-bound
    hypotheses as `let x : T := v in`. With `relevant_only`, only the hypotheses the conclusion needs: the variables
    it names and those the kept hypotheses name, and every hypothesis about them. None for a goal with an
    existential variable or a hypothesis that cannot be read."""
    c = _closure(view, relevant_only)
    if c is None:
        return None
    hyps, concl = c
    out: list[str] = []
    group: list[str] = []

    def flush() -> None:
        if group:
            out.append("forall " + " ".join(group) + ",")
            group.clear()

    for name, typ, body in hyps:
        if body is not None:
            flush()
            out.append(f"let {name} : {typ} := {body} in")
        else:
            group.append(f"({name} : {typ})")
    flush()
    return " ".join(out + [concl])


def helper_binders(view: GoalView, relevant_only: bool = True) -> list[tuple[str, str, bool]]:
    """The (name, type, is a variable) binders of `helper_statement`, in order, let-bound ones left out."""
    c = _closure(view, relevant_only)
    return [(name, typ, _is_var(typ)) for name, typ, body in (c[0] if c else []) if body is None]


def counterexample_tactics(statement_binders: list[tuple[str, str, bool]]) -> list[str]:
    """Tactics that refute a statement from one small instance of its variables each (`intro H; specialize (H …);
    compute in H; …`), for a statement whose variables are all of a type in `_SMALL` (or a type variable, taken as
    nat); [] otherwise. `statement_binders`: (name, type, is a variable) in order; hypotheses get proofs found by
    computation (an instance that does not satisfy them cannot refute anything)."""
    tyvars: set[str] = set()
    choices: list[tuple[str, ...]] = []
    for name, typ, is_var in statement_binders:
        t = " ".join(typ.split())
        if not is_var:
            choices.append((_PROVE_HYP,))
            continue
        if t in ("Type", "Set"):
            tyvars.add(name)
            choices.append(("nat",))
            continue
        for v in tyvars:
            t = re.sub(rf"\b{re.escape(v)}\b", "nat", t)
        if t not in _SMALL:
            return []
        choices.append(_SMALL[t])
    combos = list(itertools.islice(itertools.product(*choices), 4096))
    step = max(1, len(combos) // MAX_INSTANCES)
    picked = combos[::step][:MAX_INSTANCES]
    if combos[-1] not in picked:
        picked[-1:] = [combos[-1]]
    out = []
    for args in picked:
        spec = f"specialize (H {' '.join(args)}); " if args else ""
        out.append(f"intro H; {spec}compute in H; {_REFUTE}")
    return out


def _is_var(typ: str) -> bool:
    """A binder that is a variable rather than a hypothesis: its type is a type we know values of, or a sort."""
    t = " ".join(typ.split())
    return t in _SMALL or t in ("Type", "Set") or bool(re.fullmatch(r"list [A-Za-z_][A-Za-z0-9_']*|[A-Z]", t))


def propose(states: Sequence[ProofState], root: ProofState, lemma: str,
            limit: int = MAX_PROPOSALS) -> list[tuple[str, str, list[tuple[str, str, bool]]]]:
    """(name, statement, its binders) of the helper lemmas the goals of `states` suggest (the search's nearest
    states to a proof, nearest first; each state's first goal first); none that is the goal itself, none twice."""
    own = {helper_statement(g, False) for g in root.goals} | {helper_statement(g) for g in root.goals}
    base = lemma.rsplit(".", 1)[-1]
    out: list[tuple[str, str, list[tuple[str, str, bool]]]] = []
    for state in states:
        for view in state.goals:
            stmt = helper_statement(view)
            if stmt is None or stmt in own or any(stmt == s for _, s, _ in out):
                continue
            out.append((f"{base}_helper{len(out) + 1}", stmt, helper_binders(view)))
            if len(out) >= limit:
                return out
    return out


class TicketPhase:
    """After a search that found no proof: propose tickets, check them, search each, retry the goal with a proved one.
    Knows no scheduler: the prover, strategy and verification come from the caller."""

    def __init__(self, prover: Prover, strategy: object, ctx: object, budget: SearchBudget, seconds: float, *,
                 accept: Callable[[tuple[str, ...]], Acceptance], on_attempt: AttemptSink | None = None,
                 cancel: threading.Event | None = None, tactic_timeout: float = 5.0) -> None:
        self.prover, self.strategy, self.ctx = prover, strategy, ctx
        self.budget, self.seconds = budget, seconds
        self.accept, self.on_attempt = accept, on_attempt
        self.cancel = cancel or threading.Event()
        self.tactic_timeout = tactic_timeout

    def run(self, root: ProofState, result: SearchResult, lemma: str) -> tuple[SearchResult, list[HelperTicket]]:
        """`result` itself, or a proved result whose script goes through a helper; and the tickets made."""
        if result.best is None or result.best.finished:
            return result, []
        tickets: list[HelperTicket] = []
        states = [result.best] + [s for s in result.near if s is not result.best]
        own = {_norm(g.conclusion) for g in root.goals}
        for _, stmt, binders in propose(states, root, lemma):
            if self.cancel.is_set() or len(tickets) >= MAX_TICKETS:
                break
            name = f"{lemma.rsplit('.', 1)[-1]}_helper{len(tickets) + 1}"
            try:
                r = self.prover.run(root, f"assert ({stmt}) as {name}", self.tactic_timeout)
                if r.outcome != "ok" or r.state is None or len(r.state.goals) < 2:
                    log.debug("ticket %s refused as a statement: %s", name, r.message[:200] or r.outcome)
                    continue
                printed = _norm(r.state.goals[0].conclusion)  # Coq's own printing: the same text for the same
                if printed in own or any(_norm(t.statement) == printed for t in tickets):  # statement
                    continue  # the goal itself, or a ticket already made, in other words
                false = self._refuted(root, stmt, binders)
                others = [g.conclusion for g in root.goals[:1]] + [t.statement for t in tickets]
                if not false and any(self._equivalent(root, stmt, other) for other in others):
                    log.debug("ticket %s dropped: the goal or a ticket in other words", name)
                    continue
            except Exception as e:  # a crashed prover ends the phase; the search's own result stands
                log.debug("ticket %s: the prover failed: %s", name, e)
                break
            if false:
                log.debug("ticket %s dropped: false at %s", name, false)
                continue
            if printed != stmt and "?" not in printed:  # shown as Coq prints it, when that reads back the same
                again = self.prover.run(root, f"assert ({printed}) as {name}", self.tactic_timeout)
                if again.outcome == "ok" and again.state is not None and \
                        _norm(again.state.goals[0].conclusion) == printed:
                    stmt = printed
            ticket = HelperTicket(name, stmt)
            if self.seconds <= 0:
                tickets.append(ticket)
                continue
            sub = replace(self.budget, seconds=self.seconds, fallback_seconds=0.0)
            h = Search(self.prover, self.strategy, self.ctx, sub, on_attempt=self.on_attempt,  # type: ignore[arg-type]
                       cancel=self.cancel, goal_closed=first_goal_closed(r.state)).run(r.state)
            result = _merged(result, h)
            if h.status != "proved" or h.best is None or h.script is None:
                tickets.append(ticket)
                continue
            ticket = replace(ticket, status="proved", proof=tuple(h.script[len(r.state.path):]))
            retry = Search(self.prover, self.strategy, self.ctx, sub,  # type: ignore[arg-type]
                           on_attempt=self.on_attempt, cancel=self.cancel, accept=self.accept).run(h.best)
            if retry.status == "proved" and retry.script is not None:
                tickets.append(replace(ticket, status="used"))
                retry = _merged(retry, result)
                return retry, tickets
            result = _merged(result, retry)
            tickets.append(ticket)
        return result, tickets

    def _equivalent(self, root: ProofState, stmt: str, other: str) -> bool:
        """Whether `stmt` and `other` (the goal, or a ticket made) follow from each other by applying one to the other
        (after `symmetry` at most): the same in other words (`m = n` for `n = m`), no help. A helper the goal
        follows from by more than that is kept: it is what the goal needs."""
        both = [f"(({other}) -> ({stmt}))", f"(({stmt}) -> ({other}))"]
        tac = "intro G; intros; first [solve [eapply G; eauto] | solve [symmetry; eapply G; eauto]]"
        for imp in both:
            r = self.prover.run(root, f"assert {imp} by ({tac})", min(1.0, self.tactic_timeout))
            if r.outcome != "ok":
                return False
        return True

    def _refuted(self, root: ProofState, stmt: str, binders: list[tuple[str, str, bool]]) -> str:
        """The refutation Coq accepted of `stmt` at a small instance (`counterexample_tactics`), or ""."""
        for tac in counterexample_tactics(binders):
            r = self.prover.run(root, f"assert (~ ({stmt})) by ({tac})", min(1.0, self.tactic_timeout))
            if r.outcome == "ok":
                return tac
        return ""


def _norm(text: str) -> str:
    return " ".join(text.split())


def _merged(into: SearchResult, other: SearchResult) -> SearchResult:
    """`into` with `other`'s attempts and families counted too."""
    into.attempts += other.attempts
    into.strategies.update(other.strategies)
    into.crashes += other.crashes
    return into


def accept_ticket(record: "TicketRecord", timeout: float = 300.0) -> tuple[Path, bytes, bytes]:
    """The file of `record`'s goal with the helper inserted before the goal's lemma as a lemma of its own (`Admitted.`,
    or its proof when it has one): (file, text before, text after), after checking that the file still compiles
    with it. Writes nothing.

    Raises:
        AutoProveError: the goal is no longer in the file, or the file does not compile with the helper in it.
    """
    from .coq_source import run_coqc
    from .errors import AutoProveError
    from .workspace import discover

    file = Path(record.file)
    goals, problems = discover([file], "coq")
    if problems:
        raise AutoProveError(f"cannot read {file}: {problems[0]}")
    here = [g for g in goals if g.key.digest == record.key] or [g for g in goals if g.lemma == record.lemma]
    if not here:
        raise AutoProveError(f"{record.lemma} has no open goal in {file} any more: nothing to accept the ticket for")
    goal = here[0]
    before = file.read_bytes()
    if hashlib.sha256(before).hexdigest() != goal.file_digest:
        raise AutoProveError(f"{file} changed while its goals were read: try again")
    if record.name.encode() in before:
        raise AutoProveError(f"{file} already has a {record.name}")
    at = goal.statement_start
    text = HelperTicket.from_record(record).insertion(before[:at].decode("utf-8", "replace"))
    after = before[:at] + text.encode() + before[at:]
    run = run_coqc(after, file.stem, goal.env.args, timeout=timeout, load_dir=goal.env.workdir)
    if run.returncode != 0:
        why = run.error.message if run.error is not None else ("timed out" if run.timed_out else run.stderr[-300:])
        raise AutoProveError(f"{file} does not compile with {record.name} in it, so it was left as it is: {why}")
    return file, before, after
