# The two commands a new user needs: `make demo` and `make test`. Both set up everything they use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench system-deps clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(INSTALLED)

## make demo: simulate 2023 on a fresh embedded store and publish the five seeded states' sheets
demo: $(INSTALLED)
	$(BIN)/clearinghouse demo --out demo-out

## make test: system packages, lint, strict type check, then the whole suite (SQLite, PostgreSQL, HTTP)
test: $(INSTALLED) system-deps lint typecheck unit

system-deps:
	bash scripts/system-deps.sh

lint: $(INSTALLED)
	$(BIN)/ruff check src tests bench scripts

typecheck: $(INSTALLED)
	$(BIN)/mypy --strict src tests bench scripts

unit: $(INSTALLED)
	$(BIN)/pytest

## make bench: the benchmarks in bench/, each printing its figures
bench: $(INSTALLED)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev,bench]'
	for script in bench/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) demo-out .mypy_cache .ruff_cache .pytest_cache
