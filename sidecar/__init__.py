"""auto-prove: background proof search whose every offered proof is independently verified."""

__version__ = "0.1.0"
