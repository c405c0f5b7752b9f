"""A learned schedule: where the next seconds of a goal's budget go, from what finished proofs before.

The ledger keeps every attempt (its strategy family, its time) and which family finished each proved goal. A family's
rate of success per second spent is uncertain when it has been tried little, so each goal samples it (Thompson
sampling over a Beta posterior: successes = proofs it finished, failures = the seconds it spent, in units of a
tactic's typical time), and its candidates are made cheaper or dearer by how the sample compares with the families'
mean. Over a project's history the families that pay get the time first, while untried ones still get explored.
A family never seen keeps its profile-0 cost.

`expected_seconds` is the other half: a difficulty estimate per goal, by which the language server orders the goals
of one document under profile 1 (cheapest first, so the proofs that can come soon come first): what the ledger shows
a goal cost before, else the size of its statement.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass
from typing import Mapping

__all__ = ["FamilyPrior", "MAX_SHIFT", "expected_seconds"]

MAX_SHIFT = 0.6  # at most this much is added to or taken from a candidate's cost
_UNIT_SECONDS = 0.05  # one failure per this many seconds a family spent without finishing a proof


@dataclass(frozen=True)
class FamilyPrior:
    """Cost shifts per family for one goal's search (see the module docstring)."""

    shift: Mapping[str, float]

    @classmethod
    def sample(cls, history: Mapping[str, tuple[int, int, float]], rng: random.Random | None = None) -> "FamilyPrior":
        """Draw this goal's shifts from the history (attempts, finished, seconds) of each family."""
        rng = rng or random.Random()
        rates: dict[str, float] = {}
        for family, (attempts, wins, seconds) in history.items():
            losses = max(attempts, seconds / _UNIT_SECONDS) - wins
            rates[family] = rng.betavariate(1.0 + wins, 1.0 + max(0.0, losses))
        if not rates:
            return cls({})
        mean = sum(rates.values()) / len(rates)
        shift = {f: max(-MAX_SHIFT, min(MAX_SHIFT, -0.3 * math.log(r / mean))) for f, r in rates.items() if r > 0}
        return cls(shift)

    def cost(self, family: str, cost: float) -> float:
        """A candidate's cost under this schedule (never below a tenth of what it was)."""
        return max(0.1 * cost, cost + self.shift.get(family, 0.0))


_TOKEN = re.compile(r"[A-Za-z_][\w'.]*|\d+|[^\s\w]+")
SECONDS_PER_TOKEN = 0.25  # a new goal's estimate: longer statements take longer (see the issue-12 note)


def expected_seconds(statement: str, status: str | None = None, spent: float = 0.0, budget: float = 60.0) -> float:
    """Seconds a goal is expected to take: what it took if the ledger has it proved (`status`, `spent`); more than
    it was given if it was searched without a proof (`spent` twice over, and a budget more); else the size of its
    statement in tokens, a few seconds for a one-line lemma."""
    if status == "proved":
        return spent
    if status in ("exhausted", "timeout", "error"):
        return 2.0 * spent + budget
    return SECONDS_PER_TOKEN * len(_TOKEN.findall(statement))
