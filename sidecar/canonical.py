"""Canonical text forms used as keys: proof states (transposition table) and statements (goal keys)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .provers.base import ProofState

__all__ = ["normalize_space", "canonical_state"]

_SPACE = re.compile(r"\s+")


def normalize_space(text: str) -> str:
    """Collapse every run of white space to one space and strip the ends."""
    return _SPACE.sub(" ", text).strip()


def canonical_state(state: "ProofState") -> str:
    """Text that is equal for two states with the same remaining goals (hypotheses as a set, in order of goals)."""
    parts = []
    for g in state.goals:
        hyps = sorted(normalize_space(h) for h in g.hypotheses)
        parts.append(" ; ".join(hyps) + " |- " + normalize_space(g.conclusion))
    return f"{state.unfocused}#" + " || ".join(parts)
