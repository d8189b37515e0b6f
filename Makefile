# elastic-atlas: `make release` builds a release, `make test` runs the tests.
# Both create the virtual environment .venv when it is missing.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
VERSION ?=
ATLAS := $(BIN)/elastic-atlas

.PHONY: help venv test lint format release models models-kvrh models-gvrh benchmarks clean

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

# Default: the embedded sample (releases/0.1.0+sample). The real release:
#   make release RELEASE=build/release.toml VERSION=1.0.0
release: $(STAMP)
	$(ATLAS) schema
	$(ATLAS) release $(if $(VERSION),--version $(VERSION),) $(if $(RELEASE),--config $(RELEASE),)

# Retrain the frozen checkpoints (needs ../shared/data/matbench): three seeds per target,
# two one-thread runs side by side; `make -j2 models` runs both targets at once.
SEEDS := 0 1 2
DATE ?= $(shell date -u +%Y-%m-%d)
models: models-kvrh models-gvrh

# $(1): target name, $(2): short name in the model folder. Re-running resumes unfinished runs.
define train_target
	for seed in $(SEEDS); do \
	  $(ATLAS) train --target $(1) --seed $$seed --run-dir runs/$(1)-seed$$seed --quiet || exit 1; \
	done
	$(ATLAS) freeze $(foreach s,$(SEEDS),runs/$(1)-seed$(s)) -o models/cgcnn3x64-matbench-$(DATE)-$(2)
endef

models-kvrh: $(STAMP)
	$(call train_target,log10_k_vrh,kvrh)

models-gvrh: $(STAMP)
	$(call train_target,log10_g_vrh,gvrh)

benchmarks: $(STAMP)
	$(BIN)/python benchmarks/bench_validate.py
	$(BIN)/python benchmarks/bench_reference.py
	$(BIN)/python benchmarks/bench_predict.py
	$(BIN)/python benchmarks/bench_build.py --reference
	$(BIN)/python benchmarks/bench_release.py

clean:
	rm -rf .pytest_cache .ruff_cache build/cache dist  # caches: $$ELASTIC_ATLAS_CACHE or the user cache folder
