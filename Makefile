# Two set-up commands (README Quick start): `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run test check lint bench ui clean

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

# The whole test suite (lint included): what CI runs. Three workers on two cores: many full-lane tests
# wait on servers, daemons and ticks, and a third worker fills those waits (measured on 2 cores, one
# clean clone: 2 workers 608 s, 3 workers 523 s, 4 workers 553 s).
test: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -n 3

# The fast lane, before each commit: lint + every test that needs no server, no Dagster run and no
# external tool (tests/conftest.py, CHECK_MODULES).
check: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -n 2 -m "not full"

# The benchmark figures: bench/results.json and the table in docs/benchmarks.md.
bench: $(STAMP)
	$(BIN)/python -m bench.run

ui: $(STAMP)
	$(BIN)/ctx ui

clean:
	rm -rf out .ctx
