"""`python -m sidecar` runs the auto-prove command line."""

from .cli import main

if __name__ == "__main__":  # not when a spawned worker process (Dask, multiprocessing) imports it
    main()
