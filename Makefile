# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_TEST := $(VENV)/.installed-test

.PHONY: run test bench lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(STAMP_TEST): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(STAMP_RUN)

## run: install, initialise the knowledge base (idempotent) and serve the platform
run: $(STAMP_RUN)
	$(BIN)/vipkb init
	$(BIN)/vipkb summary
	$(BIN)/vipkb serve

## test: install with the test extras, lint, and run the whole suite
test: $(STAMP_TEST)
	$(BIN)/ruff check vipkb simulators webapp tests benchmarks
	$(BIN)/python -m pytest

## bench: run the benchmarks and print their tables
bench: $(STAMP_TEST)
	$(BIN)/python benchmarks/kb.py
	$(BIN)/python benchmarks/simulators.py
	$(BIN)/python benchmarks/load_balance.py
	$(BIN)/python benchmarks/web.py

lint: $(STAMP_TEST)
	$(BIN)/ruff check vipkb simulators webapp tests benchmarks

clean:
	rm -rf $(VENV) var
