# One entry point: `make book` runs the study and builds the book, `make test` runs the tests.
# Both bootstrap .venv from pyproject.toml first; nothing beyond Python 3.11 or 3.12, pip and a C compiler
# is assumed. The targets call the package's command, `glacier-outlines` (glacier_utils/cli.py).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
CLI := $(VENV)/bin/glacier-outlines
STAMP := $(VENV)/.installed
PROFILE ?= quick
# make book STUDY=path/to/study.toml DATA_SEED=7: passed to the notebooks that take `study` / `data_seed`.
STUDY ?=
DATA_SEED ?=
PYTEST_ARGS ?=
BOOK_ARGS = --profile $(PROFILE) $(if $(FORCE),--force,) $(if $(STUDY),--study $(STUDY),) $(if $(DATA_SEED),--data-seed $(DATA_SEED),)

.PHONY: book run build test install references clean-book

# Whenever pyproject.toml changes, every dependency is brought to the newest version its range allows
# (--upgrade-strategy eager), as on a fresh machine, so a developer's .venv tests what CI tests.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] in ((3, 11), (3, 12)) else "Python 3.11 or 3.12 is required, found " + sys.version.split()[0])'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --upgrade --upgrade-strategy eager -e '.[dev]'
	@# Keep notebook outputs out of commits (a git filter; harmless outside a git checkout).
	-git rev-parse --git-dir >/dev/null 2>&1 && $(VENV)/bin/nbstripout --install
	touch $(STAMP)

install: $(STAMP)

## The main job: execute every notebook with papermill (PROFILE=quick by default) and build the HTML book.
book: $(STAMP)
	$(CLI) book $(BOOK_ARGS)

## Only rebuild the HTML from the already executed notebooks.
build: $(STAMP)
	$(CLI) book --profile $(PROFILE) --build-only

## The tests: unit tests and the notebooks under nbval (quick profile). pytest's exit 5 (no tests) is not a failure.
test: $(STAMP)
	$(CLI) test -- $(PYTEST_ARGS)

## After an intended change of results: store the pinned cells' outputs of the last quick `make book` in
## notebooks/pinned_results.json (the references nbval compares with); review them with `git diff notebooks`.
references: $(STAMP)
	$(CLI) references

clean-book:
	rm -rf _build
