# Two set-up commands (README Quick start): `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run test lint bench ui clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	touch $(STAMP)

$(TEST_STAMP): $(STAMP) pyproject.toml
	$(BIN)/pip install -q -e '.[test,postgres,celery]'
	touch $(TEST_STAMP)

# The main job on the bundled example, through the Dagster asset graph.
run: $(STAMP)
	$(BIN)/ctx build examples/online-boutique.contextcore.yaml

# The whole test suite (lint included).
test: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

# SPEC §9 figures: bench/results.json and the table in docs/benchmarks.md.
bench: $(STAMP)
	$(BIN)/python -m bench.run

ui: $(STAMP)
	$(BIN)/ctx ui

clean:
	rm -rf out .ctx
