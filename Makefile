# The two commands of the README:  make demo  (runs the workflow on the embedded synthetic cohort)
#                                  make test  (runs the whole test suite)
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
CORES ?= 2
SNAKEMAKE_ARGS ?=

.PHONY: demo test test-fast lint env bench report clean-results

env: $(VENV)/.installed

# torch is installed first and pinned: 2.13.0 is the CPU build this platform keeps on disk; any
# other resolution could pull a multi-GB CUDA build. GPU users install their own torch first.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "torch==2.13.0"
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

demo: env
	$(BIN)/snakemake --cores $(CORES) --rerun-incomplete --configfile config/config.yaml $(SNAKEMAKE_ARGS)
	$(BIN)/snakemake --cores $(CORES) --configfile config/config.yaml --report results/report.html

lint: env
	$(BIN)/ruff check src tests workflow/scripts benchmarks
	$(BIN)/snakemake --lint --configfile config/config.yaml

test: env lint
	$(BIN)/python -m pytest -q --durations=15

test-fast: env
	$(BIN)/python -m pytest -q -m "not slow"

bench: env
	for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean-results:
	rm -rf results logs benchmarks/out .snakemake

# Debian's elastix 5.0.1 for benchmarks/bench_preprocess.py (the paper's registration tool, the anchor).
.PHONY: bench-deps
bench-deps:
	command -v elastix >/dev/null || (apt-get update && apt-get install -y elastix) || \
		(sudo apt-get update && sudo apt-get install -y elastix)
