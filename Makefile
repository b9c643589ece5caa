# One entry point: `make book` runs the study and builds the book, `make test` runs the tests.
# Both bootstrap .venv from pyproject.toml first; nothing beyond Python 3.11, pip and a C compiler is assumed.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PROFILE ?= quick
PYTEST_ARGS ?=

.PHONY: book run build test install references clean-book

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Python 3.11 is required, found " + sys.version.split()[0])'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@# Keep notebook outputs out of commits (a git filter; harmless outside a git checkout).
	-git rev-parse --git-dir >/dev/null 2>&1 && $(VENV)/bin/nbstripout --install
	touch $(STAMP)

install: $(STAMP)

## The main job: execute every notebook with papermill (PROFILE=quick by default) and build the HTML book.
book: $(STAMP)
	$(PY) -m tools.pipeline --profile $(PROFILE) $(if $(FORCE),--force,)

## Only rebuild the HTML from the already executed notebooks.
build: $(STAMP)
	$(PY) -m tools.pipeline --profile $(PROFILE) --build-only

## The tests: unit tests and the notebooks under nbval (quick profile). pytest's exit 5 (no tests) is not a failure.
test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$rc

## After an intended change of results: store the pinned cells' outputs of the last quick `make book` in
## notebooks/pinned_results.json (the references nbval compares with); review them with `git diff notebooks`.
references: $(STAMP)
	$(PY) -m tools.pipeline --update-references

clean-book:
	rm -rf _build
