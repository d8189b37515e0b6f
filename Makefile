# elastic-atlas: `make release` builds a release, `make test` runs the tests.
# Both create the virtual environment .venv when it is missing.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
VERSION ?=
ATLAS := $(BIN)/elastic-atlas

.PHONY: help venv test lint format release models benchmarks clean

help:
	@echo "make release     build a release into releases/<version>/ (embedded sample by default)"
	@echo "make test        run the test suite"
	@echo "make lint        ruff lint + format check"
	@echo "make models      retrain the frozen CGCNN checkpoints from ../shared/data"
	@echo "make benchmarks  run the measurements of benchmarks/ (needs ../shared/data)"

venv: $(STAMP)

# The CPU wheel of torch 2.13.0 is pinned in pyproject.toml (a looser pin pulls a CUDA build).
# cffconvert pins jsonschema<4, which frictionless cannot use, so it gets a venv of its own.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	test -x $(VENV)/cffconvert/bin/cffconvert || ( $(PYTHON) -m venv $(VENV)/cffconvert && \
	  $(VENV)/cffconvert/bin/python -m pip install --quiet --disable-pip-version-check cffconvert )
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

release: $(STAMP)
	$(ATLAS) schema
	$(ATLAS) release $(if $(VERSION),--version $(VERSION),)

models: $(STAMP)
	$(ATLAS) train --all

benchmarks: $(STAMP)
	$(BIN)/python benchmarks/bench_validate.py

clean:
	rm -rf .pytest_cache .ruff_cache build/cache
