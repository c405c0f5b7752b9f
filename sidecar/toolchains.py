"""Which prover toolchains are installed: one clear sentence when one is missing."""

from __future__ import annotations

import shutil

__all__ = ["missing_toolchain", "hammer_available"]


def missing_toolchain(backend: str) -> str | None:
    """None when `backend` can run here, else a one-line explanation with the fix."""
    if backend == "coq":
        if shutil.which("coqidetop.opt") is None or shutil.which("coqc") is None:
            return ("Coq backend unavailable: coqc/coqidetop.opt not found on PATH "
                    "(Debian: apt-get install coq libcoq-stdlib)")
        return None
    if backend == "lean":
        from pathlib import Path

        from .errors import ProverUnavailable
        from .provers.lean import find_toolchain

        try:
            find_toolchain(Path.cwd())
        except ProverUnavailable as e:
            return f"Lean backend unavailable: {e}"
        return None
    return f"unknown backend {backend!r}"


def hammer_available() -> bool:
    """CoqHammer's plugin and its ATP helper are installed."""
    import os

    return os.path.isdir("/usr/libexec/coq-hammer") or shutil.which("htimeout") is not None
