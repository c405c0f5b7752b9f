"""The LLM proposer (profile 2): ask a model for a whole proof of a goal, and when the prover rejects it, show the
model what went wrong (the error, the goal the failing step ran on, the goals left) for a few repair rounds.

Knows no prover and no file: the caller gives the goal's context and a `check(script) -> Feedback` that runs a
script in the prover. Nothing a model says is trusted — a script that finishes in `check` still goes through the
same independent verification as every other candidate (the scheduler's). Calls stop at the first of: a proof,
the round limit, an error repeated, the budget (per goal and per run: calls, tokens, seconds, money).
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from .providers import Completion, LLMError, Provider

__all__ = ["Budget", "Feedback", "GoalContext", "LLMProposer", "Prices", "ProposalReport", "StepsReport",
           "extract_script", "extract_steps"]

DEFAULT_ROUNDS = 3  # the first proposal and two repairs: rounds beyond 2-3 rarely pay (Goedel-Prover-V2, Kimina)
BEFORE_CHARS = 12_000  # text of the file before the goal kept in the prompt (its end: the nearest definitions)

# dollars per million tokens: (input, output, cache read, cache write); a model not listed costs 0 (a local server).
# Edit or extend it in $AUTOPROVE_LLM_PRICES (a JSON object of the same shape).
DEFAULT_PRICES: dict[str, tuple[float, float, float, float]] = {
    "anthropic:claude-sonnet-4-5": (3.0, 15.0, 0.30, 3.75),
    "anthropic:claude-haiku-4-5": (1.0, 5.0, 0.10, 1.25),
    "anthropic:claude-opus-4-1": (15.0, 75.0, 1.50, 18.75),
    "openai:gpt-4.1": (2.0, 8.0, 0.50, 0.0),
    "openai:gpt-4.1-mini": (0.40, 1.60, 0.10, 0.0),
}


class Prices:
    """The price table: DEFAULT_PRICES, overridden by the JSON file named in $AUTOPROVE_LLM_PRICES."""

    def __init__(self, table: dict[str, tuple[float, float, float, float]] | None = None) -> None:
        self.table = dict(DEFAULT_PRICES if table is None else table)
        path = os.environ.get("AUTOPROVE_LLM_PRICES")
        if table is None and path:
            try:
                extra = json.loads(Path(path).read_text())
                self.table.update({str(k): tuple(float(x) for x in v) for k, v in extra.items()})  # type: ignore
            except (OSError, ValueError, TypeError) as e:
                raise LLMError("unavailable", f"the price table {path} is unusable: {e}") from e

    def cost(self, provider: str, c: Completion) -> float:
        p = self.table.get(provider)
        if p is None:
            return 0.0
        plain = max(0, c.input_tokens - c.cache_read_tokens - c.cache_write_tokens)
        return (plain * p[0] + c.output_tokens * p[1] + c.cache_read_tokens * p[2]
                + c.cache_write_tokens * p[3]) / 1e6


@dataclass
class Budget:
    """Caps on calls to the model (None: no cap); `spend` records, `check` refuses the next call past a cap."""

    calls: int | None = None
    tokens: int | None = None
    seconds: float | None = None
    dollars: float | None = None
    used_calls: int = 0
    used_tokens: int = 0
    used_seconds: float = 0.0
    used_dollars: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def check(self) -> None:
        with self._lock:
            for cap, used, what in ((self.calls, self.used_calls, "calls"), (self.tokens, self.used_tokens, "tokens"),
                                    (self.seconds, self.used_seconds, "seconds"),
                                    (self.dollars, self.used_dollars, "dollars")):
                if cap is not None and used >= cap:
                    raise LLMError("budget", f"the {what} cap ({cap:g}) is spent")

    def spend(self, c: Completion, dollars: float) -> None:
        with self._lock:
            self.used_calls += 1
            self.used_tokens += c.input_tokens + c.output_tokens
            self.used_seconds += c.seconds
            self.used_dollars += dollars


@dataclass(frozen=True)
class GoalContext:
    """What the prompt shows of one goal."""

    backend: str  # "coq" | "lean"
    statement: str
    state: str  # the goal as the prover prints it (hypotheses, a rule, the conclusion)
    before: str = ""  # the file's text before the goal
    examples: tuple[tuple[str, str], ...] = ()  # (statement, proof script) of similar proved lemmas
    premises: tuple[str, ...] = ()  # lemma names in scope, best first


@dataclass(frozen=True)
class Feedback:
    """What the prover said of a proposed script."""

    finished: bool
    error: str = ""  # the prover's message at the failing sentence ("" when none failed)
    sentence: str = ""  # the failing sentence
    goal_at_error: str = ""  # the goal it ran on
    remaining: str = ""  # the goals left when the script ran out without finishing
    script: tuple[str, ...] = ()  # the script that finished, when it is not the proposal (a sketch's holes filled)


@dataclass
class ProposalReport:
    script: tuple[str, ...] | None = None
    rounds: int = 0
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    dollars: float = 0.0
    stopped: str = ""  # why it ended without a proof: "rounds", "repeated", "budget", "<LLMError reason>", ...
    sketch: bool = False  # the proof is a proposal whose holes the search filled
    usage: list[dict[str, object]] = field(default_factory=list)  # one row per call (the ledger's)


@dataclass
class StepsReport:
    """One call for next tactics: the steps (each a tactic and the sentences run after it) and the call's usage."""

    steps: list[tuple[str, ...]] = field(default_factory=list)
    usage: dict[str, object] = field(default_factory=dict)  # the ledger's row (its "outcome" says why none came)


_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)```", re.S)
_HOLES = re.compile(r"(?<![\w'.])(admit|Admitted|sorry|give_up)(?![\w'])")
SKETCH_HOLES = ("admit", "give_up")  # a sketch's hole: a whole sentence the search is asked to fill (Coq)


def extract_script(text: str, backend: str) -> list[str] | None:
    """The tactic script of a model's answer: the last fenced block (else the whole text), without `Proof.`/`Qed.`
    (Coq) or `by` (Lean), split into sentences (Coq) or kept as one block (Lean). None when there is none."""
    from ..coq_source import script_sentences

    blocks = _FENCE.findall(text)
    body = blocks[-1][1] if blocks else text
    body = body.strip()
    if backend == "coq":
        sentences = script_sentences(body)
        if sentences and re.match(r"(Lemma|Theorem|Example|Corollary|Fact|Remark|Proposition)\b", sentences[0]):
            sentences = sentences[1:]
        while sentences and sentences[0] == "Proof":
            sentences = sentences[1:]
        while sentences and sentences[-1] in ("Qed", "Defined", "Admitted"):
            sentences = sentences[:-1]
        return sentences or None
    body = re.sub(r"^\s*by\b", "", body).strip()
    return [body] if body else None


class LLMProposer:
    """Whole proofs with repair rounds, for one provider and one run's budget."""

    def __init__(self, provider: Provider, *, run_budget: Budget | None = None, prices: Prices | None = None,
                 rounds: int = DEFAULT_ROUNDS, goal_caps: Budget | None = None, max_tokens: int = 1024,
                 sketches: bool = False) -> None:
        self.provider = provider
        self.run_budget = run_budget or Budget()
        self.prices = prices or Prices()
        self.rounds = rounds
        self.goal_caps = goal_caps or Budget(calls=rounds)
        self.max_tokens = max_tokens
        self.sketches = sketches  # `check` fills holes (whole `admit.` sentences) with the search: allow them

    def prove(self, goal: GoalContext, check: Callable[[list[str]], Feedback],
              deadline: float | None = None) -> ProposalReport:
        report = ProposalReport()
        budget = Budget(self.goal_caps.calls, self.goal_caps.tokens, self.goal_caps.seconds, self.goal_caps.dollars)
        system = _system(goal.backend, self.sketches and goal.backend == "coq")
        prefix = _prefix(goal)
        prompt = _first_prompt(goal)
        seen: set[tuple[str, str]] = set()
        for k in range(self.rounds):
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left < 1.0:
                report.stopped = "seconds"
                break
            try:
                budget.check()
                self.run_budget.check()
                c = self.provider.complete(system, prefix, prompt, max_tokens=self.max_tokens, timeout=left)
            except LLMError as e:
                report.stopped = e.reason
                report.usage.append({"outcome": e.reason, "message": str(e)[:300]})
                _count_failed(e, budget, self.run_budget)
                break
            dollars = self.prices.cost(self.provider.name, c)
            budget.spend(c, dollars)
            self.run_budget.spend(c, dollars)
            report.calls += 1
            report.rounds = k + 1
            report.input_tokens += c.input_tokens
            report.output_tokens += c.output_tokens
            report.dollars += dollars
            row = _call_row(c, dollars)
            report.usage.append(row)
            script = extract_script(c.text, goal.backend)
            if script is None:
                row["outcome"] = "no script"
                fb = Feedback(False, error="the answer held no proof script in a fenced block")
            elif any(_HOLES.search(s) and not (self.sketches and s in SKETCH_HOLES) for s in script):
                row["outcome"] = "holes"
                fb = Feedback(False, error="the script leaves a hole (admit/sorry) inside a sentence; write a "
                                           "complete proof" + (" or make each hole a sentence `admit.` of its own"
                                                               if self.sketches else ""))
            else:
                fb = check(script)
                row["outcome"] = "finished" if fb.finished else "failed"
                if fb.finished:
                    report.script = fb.script or tuple(script)
                    report.sketch = any(s in SKETCH_HOLES for s in script)
                    return report
            key = (fb.error.strip(), fb.sentence.strip())
            if key in seen:
                report.stopped = "repeated"
                break
            seen.add(key)
            prompt = _repair_prompt(goal, c.text, script, fb)
        else:
            report.stopped = "rounds"
        return report

    def next_steps(self, goal: GoalContext, state: str, done: Sequence[str], k: int = 6,
                   caps: Budget | None = None, timeout: float | None = None) -> StepsReport:
        """One call for up to `k` next tactics on a proof in progress (`done` the tactics so far, `state` the goals
        they leave), within the run's budget and `caps` (the goal's). A failed call gives no steps and says why in
        its row's outcome; nothing here is run or trusted."""
        out = StepsReport()
        try:
            for b in (caps, self.run_budget):
                if b is not None:
                    b.check()
            c = self.provider.complete(_steps_system(goal.backend, k), _prefix(goal),
                                       _steps_prompt(goal, state, done, k),
                                       max_tokens=min(self.max_tokens, 64 * k), timeout=timeout)
        except LLMError as e:
            out.usage = {"outcome": f"steps {e.reason}", "message": str(e)[:300]}
            _count_failed(e, caps, self.run_budget)
            return out
        dollars = self.prices.cost(self.provider.name, c)
        for b in (caps, self.run_budget):
            if b is not None:
                b.spend(c, dollars)
        out.steps = extract_steps(c.text, goal.backend, k)
        out.usage = {**_call_row(c, dollars), "outcome": f"steps {len(out.steps)}"}
        return out


def _count_failed(e: LLMError, *budgets: Budget | None) -> None:
    """A call that was sent and failed still counts against the call caps (its tokens are unknown: none counted)."""
    if e.reason in ("budget", "unavailable"):
        return  # refused before anything was sent
    for b in budgets:
        if b is not None:
            b.spend(Completion(""), 0.0)


def _call_row(c: Completion, dollars: float) -> dict[str, object]:
    return {"input_tokens": c.input_tokens, "output_tokens": c.output_tokens,
            "cache_read_tokens": c.cache_read_tokens, "cache_write_tokens": c.cache_write_tokens,
            "dollars": round(dollars, 6), "seconds": round(c.seconds, 3)}


def extract_steps(text: str, backend: str, k: int) -> list[tuple[str, ...]]:
    """A next-steps answer's tactics: each line of the last fenced block (else of the whole text) is one step, for Coq
    split into sentences (a line may hold a few, run in order); holes and proof ends are dropped, each step once,
    at most `k`."""
    from ..coq_source import script_sentences

    blocks = _FENCE.findall(text)
    body = blocks[-1][1] if blocks else text
    out: list[tuple[str, ...]] = []
    for line in body.splitlines():
        line = re.sub(r"^\s*(?:[-*]\s+|\d+[.)]\s+)", "", line).strip()  # a list's bullet or number
        if not line or line.startswith(("(*", "--")):
            continue
        if backend == "coq":
            step = tuple(s for s in script_sentences(line) if s not in ("Proof", "Qed", "Defined"))
        else:
            step = (re.sub(r"^by\b", "", line).strip(),)
        if not step or not all(step) or any(_HOLES.search(s) for s in step) or step in out:
            continue
        out.append(step)
        if len(out) >= k:
            break
    return out


def _system(backend: str, sketches: bool = False) -> str:
    lang = "Coq 8.16" if backend == "coq" else "Lean 4"
    holes = ("You may leave a routine step as a hole: a sentence `admit.` of its own, which an automatic search "
             "fills; never `Admitted`.") if sketches else "Never use admit, Admitted or sorry."
    return (f"You are an expert {lang} proof engineer. Write a complete proof of the goal. Answer with the tactic "
            f"script only, in one fenced code block, without the statement, `Proof.`, `Qed.` or `by`. {holes}")


def _steps_system(backend: str, k: int) -> str:
    lang = "Coq 8.16" if backend == "coq" else "Lean 4"
    return (f"You are an expert {lang} proof engineer. A proof is in progress; propose up to {k} different next "
            f"tactics for its first goal, the most promising first. Answer with one fenced code block holding one "
            f"tactic per line, nothing else. Never use admit, Admitted or sorry.")


def _steps_prompt(goal: GoalContext, state: str, done: Sequence[str], k: int) -> str:
    parts = [_first_prompt(goal, state=False)]
    dot = "." if goal.backend == "coq" else ""
    if done:
        parts.append("The tactics so far:\n```\n" + "\n".join(t + dot for t in done) + "\n```")
    parts.append(f"The goals now (the first is the one to work on):\n```\n{state[:4000]}\n```")
    parts.append(f"Give up to {k} next tactics, one per line.")
    return "\n\n".join(parts)


def _prefix(goal: GoalContext) -> str:
    before = goal.before[-BEFORE_CHARS:]
    return f"The file so far:\n```\n{before}\n```" if before.strip() else ""


def _first_prompt(goal: GoalContext, state: bool = True) -> str:
    parts = [f"Prove:\n```\n{goal.statement}\n```"]
    if state:
        parts.append(f"The goal as the prover shows it:\n```\n{goal.state}\n```")
    if goal.examples:
        parts.append("Proofs of similar lemmas:\n" + "\n".join(
            _example(goal.backend, st, script) for st, script in goal.examples[:4]))
    if goal.premises:
        parts.append("Lemmas that may help: " + ", ".join(goal.premises[:20]))
    return "\n\n".join(parts)


def _example(backend: str, statement: str, script: str) -> str:
    if backend == "coq":
        return f"```\n{statement.rstrip('.')}.\nProof.\n{script}\nQed.\n```"
    return f"```\n{statement} := by\n{script}\n```"


def _repair_prompt(goal: GoalContext, answer: str, script: Sequence[str] | None, fb: Feedback) -> str:
    shown = "\n".join(s + ("." if goal.backend == "coq" else "") for s in script) if script else answer[-2000:]
    parts = [_first_prompt(goal), f"Your previous attempt:\n```\n{shown}\n```"]
    if fb.error:
        parts.append(f"It failed{f' at `{fb.sentence}`' if fb.sentence else ''}: {fb.error.strip()[:1500]}")
    if fb.goal_at_error:
        parts.append(f"The goal there was:\n```\n{fb.goal_at_error[:3000]}\n```")
    if fb.remaining:
        parts.append(f"It ended with these goals left:\n```\n{fb.remaining[:3000]}\n```")
    parts.append("Write a corrected complete proof.")
    return "\n\n".join(parts)
