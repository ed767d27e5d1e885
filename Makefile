# Two set-up commands (README Quick start): `make run` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench ui clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

# The main job on the bundled example.
run: $(STAMP)
	$(BIN)/ctx build examples/online-boutique.contextcore.yaml

# The whole test suite (lint included).
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m bench.run

ui: $(STAMP)
	$(BIN)/ctx ui

clean:
	rm -rf out .ctx bench/results.json
