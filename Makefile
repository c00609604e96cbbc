# Shipyard: `make demo` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test bench bench-feast bench-mlflow bench-nannyml bench-evidently lint typecheck clean services

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

## demo: install Shipyard and run the demo on embedded defaults in ./shipyard-demo
demo: $(VENV)/.installed
	$(BIN)/shipyard demo --dir shipyard-demo

## test: install with dev extras, lint, type-check, check the layering, run the whole suite
test: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest -q -n auto --dist loadgroup

## bench: run the benchmarks and print a table of figures against targets
bench: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/run.py

## bench-feast: install Feast in its own venv (.venv-feast: its pins clash with ours), then run the
## benchmarks; those with a Feast side run it there, on the same files
FEAST_VENV := .venv-feast
$(FEAST_VENV)/.installed:
	$(PYTHON) -m venv $(FEAST_VENV)
	$(FEAST_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(FEAST_VENV)/bin/pip install --quiet "feast==0.67.0" pandas pyarrow
	touch $@

bench-feast: $(VENV)/.installed-dev $(FEAST_VENV)/.installed
	$(BIN)/python benchmarks/run.py

## bench-nannyml: install NannyML in its own venv (.venv-nannyml: its pins clash with ours), then run
## the CBPE benchmark; it adds NannyML's CBPE on the same files and the per-window differences
NANNYML_VENV := .venv-nannyml
$(NANNYML_VENV)/.installed:
	$(PYTHON) -m venv $(NANNYML_VENV)
	$(NANNYML_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(NANNYML_VENV)/bin/pip install --quiet "nannyml==0.13.1" "pandas<3" statsmodels pyarrow
	touch $@

bench-nannyml: $(VENV)/.installed-dev $(NANNYML_VENV)/.installed
	$(BIN)/python benchmarks/run.py cbpe

## services: install (from Debian's packages) and start PostgreSQL with a `test` database, Redis and
## Chromium, as the suite expects them; needs root. `make test` does not run it: CI does, first.
services:
	bash .ci/services

## bench-mlflow: install MLflow in its own venv (.venv-mlflow), then run the benchmarks; those with
## an MLflow side (REST writes: mlflow server on SQLite under the same load) run it there
MLFLOW_VENV := .venv-mlflow
$(MLFLOW_VENV)/.installed:
	$(PYTHON) -m venv $(MLFLOW_VENV)
	$(MLFLOW_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(MLFLOW_VENV)/bin/pip install --quiet "mlflow>=3.5" scikit-learn pandas
	touch $@

bench-mlflow: $(VENV)/.installed-dev $(MLFLOW_VENV)/.installed
	$(BIN)/python benchmarks/run.py

## bench-evidently: install Evidently in its own venv (.venv-evidently; it needs pandas < 3), then run
## the drift benchmark, which compares every column's method, value and decision with Evidently's
EVIDENTLY_VENV := .venv-evidently
$(EVIDENTLY_VENV)/.installed:
	$(PYTHON) -m venv $(EVIDENTLY_VENV)
	$(EVIDENTLY_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(EVIDENTLY_VENV)/bin/pip install --quiet "evidently==0.7.23" "pandas>=2.3,<3" pyarrow
	touch $@

bench-evidently: $(VENV)/.installed-dev $(EVIDENTLY_VENV)/.installed
	$(BIN)/python benchmarks/run.py drift

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache shipyard-demo
