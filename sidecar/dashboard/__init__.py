"""The dashboard: the blueprint graph coloured by the live search, coverage over time, the queue, the CPU, strategy
families, recent proofs; served on 127.0.0.1 (`server.py`), scraped by Prometheus (`metrics.py`), exported as
Markdown and SVG for CI (`export.py`). `model.py` gathers what all of them show."""
