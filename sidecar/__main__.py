"""`python -m sidecar` runs the auto-prove command line."""

from .cli import main

main()
