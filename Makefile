# elastic-atlas: `make release` builds a release, `make test` runs the tests.
# Both create the virtual environment .venv when it is missing.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
VERSION ?=
ATLAS := $(BIN)/elastic-atlas

.PHONY: help venv browser test lint format release models folds inner loco calibrate benchmarks benchmarks-md clean

help:
	@echo "make release     build a release into releases/<version>/ (embedded sample by default)"
	@echo "make test        run the test suite"
	@echo "make lint        ruff lint + format check"
	@echo "make models      retrain the frozen CGCNN checkpoint from ../shared/data (-j2: 2 runs)"
	@echo "make folds       one run per Matbench fold and the 5-fold figure (-j2: 2 runs)"
	@echo "make inner       nested cross-validation runs inside fold 0 (uncertainty benchmark)"
	@echo "make loco        leave-chemical-system-out runs inside fold 0 (calibration for new materials)"
	@echo "make calibrate   the frozen checkpoint re-calibrated on them (models/...-kg-loco)"
	@echo "make benchmarks  run the measurements of benchmarks/ (needs ../shared/data), then render"
	@echo "make benchmarks-md  rewrite BENCHMARKS.md's tables from benchmarks/results"

venv: $(STAMP)

# The CPU wheel of torch 2.13.0 is pinned in pyproject.toml (a looser pin pulls a CUDA build).
# cffconvert pins jsonschema<4, which frictionless cannot use, so it gets a venv of its own.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[all,dev]'
	test -x $(VENV)/cffconvert/bin/cffconvert || ( $(PYTHON) -m venv $(VENV)/cffconvert && \
	  $(VENV)/cffconvert/bin/python -m pip install --quiet --disable-pip-version-check cffconvert )
	touch $(STAMP)

test: $(STAMP) browser
	$(BIN)/python -m pytest -q

# A real browser for the release page's test (Debian's chromium; the test skips without one).
browser:
	@command -v chromium >/dev/null 2>&1 || ( command -v apt-get >/dev/null 2>&1 && \
	  ( apt-get install -y -q chromium >/dev/null 2>&1 || \
	    ( apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1 ) ) ) || \
	  echo "no chromium could be installed: the page's browser test will skip"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports pyproject.toml

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Default: the embedded sample (releases/0.1.0+sample). The real release:
#   make release RELEASE=build/release.toml VERSION=1.0.0
release: $(STAMP)
	$(ATLAS) schema
	$(ATLAS) release $(if $(VERSION),--version $(VERSION),) $(if $(RELEASE),--config $(RELEASE),)

# Retrain the frozen checkpoint (needs ../shared/data/matbench): one network for K and G,
# five seeds on Matbench fold 0; `make -j2 models` trains two seeds side by side (one thread
# each). Re-running resumes unfinished runs; a finished run (runs/<name>/done) is kept.
SEEDS := 0 1 2 3 4
DATE ?= $(shell date -u +%Y-%m-%d)
MODEL := models/cgcnn3x64-matbench-$(DATE)-kg
FOLD0_RUNS := $(foreach s,$(SEEDS),runs/kg-f0-s$(s))
# One seed on each of Matbench's five official folds: the 5-fold figure the field compares.
FOLD_RUNS := $(foreach f,0 1 2 3 4,runs/kg-f$(f)-s0)

models: $(addsuffix /done,$(FOLD0_RUNS))
	$(ATLAS) freeze $(FOLD0_RUNS) -o $(MODEL) $(if $(wildcard benchmarks/results/folds.json),--folds-report benchmarks/results/folds.json)

folds: $(addsuffix /done,$(FOLD_RUNS))
	$(ATLAS) folds $(FOLD_RUNS) -o benchmarks/results/folds.json

# Nested cross-validation inside fold 0 for benchmarks/bench_uncertainty_limit.py: run N trains
# without the N-th fifth of the fold's training entries (and without its test entries).
INNER_RUNS := $(foreach i,0 1 2 3 4,runs/kg-f0-i$(i)-s0)

inner: $(addsuffix /done,$(INNER_RUNS))

# Leave-cluster-out inside fold 0: run N trains without the N-th fifth of the fold's chemical
# systems (whole systems held out), so its errors on them look like errors on new compositions.
LOCO_RUNS := $(foreach i,0 1 2 3 4,runs/kg-f0-c$(i)-s0)

loco: $(addsuffix /done,$(LOCO_RUNS))
	$(BIN)/python benchmarks/export_heldout.py $(LOCO_RUNS) -o benchmarks/results/loco_heldout.csv

# The shipped checkpoint: the frozen one re-calibrated for new materials on the leave-out
# errors (`make models loco calibrate`; the shipped one is `make calibrate DATE=2026-12-02`).
calibrate: $(STAMP)
	$(ATLAS) calibrate $(MODEL) --leave-out benchmarks/results/loco_heldout.csv -o $(MODEL)-loco

runs/kg-f0-c%-s0/done: | $(STAMP)
	$(ATLAS) train --fold 0 --inner-fold $* --inner-split chemsys --seed 0 --run-dir runs/kg-f0-c$*-s0 --quiet

runs/kg-f0-i%-s0/done: | $(STAMP)
	$(ATLAS) train --fold 0 --inner-fold $* --seed 0 --run-dir runs/kg-f0-i$*-s0 --quiet

# runs/kg-f<fold>-s<seed>/done: one training run
runs/kg-f%/done: | $(STAMP)
	stem=$*; $(ATLAS) train --fold $${stem%%-s*} --seed $${stem##*-s} --run-dir runs/kg-f$* --quiet

# Every figure of BENCHMARKS.md: measure (about 40 min on 2 cores, needs ../shared), then render.
# The training-based results (folds, trials, trust, uncertainty limit, leave-out calibration)
# come from their own targets and scripts, named in BENCHMARKS.md.
FORMER := benchmarks/out/former/models
benchmarks: $(STAMP)
	mkdir -p benchmarks/out/former && git archive fdc0645 models/ | tar -x -C benchmarks/out/former
	$(BIN)/python benchmarks/bench_reference.py --json benchmarks/results/reference.json
	$(BIN)/python benchmarks/bench_symmetry.py --json benchmarks/results/symmetry.json
	$(BIN)/python benchmarks/bench_validate.py --json benchmarks/results/validate.json
	$(BIN)/python benchmarks/bench_predict.py --json benchmarks/results/predict.json
	$(BIN)/python benchmarks/bench_release.py --json benchmarks/results/release_speed.json \
	  --former $(FORMER)/cgcnn3x64-matbench-2026-11-25-kvrh $(FORMER)/cgcnn3x64-matbench-2026-11-25-gvrh
	$(BIN)/python benchmarks/bench_standalone.py --json benchmarks/results/standalone.json
	$(BIN)/python benchmarks/bench_page.py benchmarks/out/standalone/0.9.0-rc1 --json benchmarks/results/page.json
	$(BIN)/python benchmarks/bench_trust.py
	$(BIN)/python benchmarks/bench_ood_calibration.py --release benchmarks/out/standalone/0.9.0-rc1
	$(BIN)/python benchmarks/bench_heldout.py --json benchmarks/results/heldout.json
	$(BIN)/python benchmarks/reliability.py --quiet --json benchmarks/results/reliability.json
	$(BIN)/python benchmarks/bench_plan.py --members 100000 1000000 --zip ../shared/data/mp2018/structures.zip ../shared/data/gnome/by_id.zip --json benchmarks/results/plan.json
	$(BIN)/python benchmarks/bench_merge.py --json benchmarks/results/merge.json
	$(BIN)/python benchmarks/render.py

# BENCHMARKS.md's tables from benchmarks/results/*.json, nothing measured
benchmarks-md: $(STAMP)
	$(BIN)/python benchmarks/render.py

clean:
	rm -rf .pytest_cache .ruff_cache build/cache dist  # caches: $$ELASTIC_ATLAS_CACHE or the user cache folder
