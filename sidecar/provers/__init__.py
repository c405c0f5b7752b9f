"""Provers: one module per backend behind the small `Prover` protocol of `base`.

Nothing outside this package knows what XML or JSON a prover speaks. Use `open_prover` to get one.
"""

from __future__ import annotations

from .base import Environment, GoalView, Prover, ProofState, TacticResult

__all__ = ["Environment", "GoalView", "Prover", "ProofState", "TacticResult", "open_prover"]


def open_prover(backend: str, **options: object) -> Prover:
    """Return a fresh, not yet started prover for `backend` ("coq" or "lean").

    Raises:
        ProverUnavailable: the backend is unknown or its toolchain is missing.
    """
    from ..errors import ProverUnavailable

    if backend == "coq":
        from .coq import CoqProver

        return CoqProver(**options)  # type: ignore[arg-type]
    if backend == "lean":
        from .lean import LeanProver

        return LeanProver(**options)  # type: ignore[arg-type]
    raise ProverUnavailable(f"unknown backend {backend!r}")
