# The README's contract: `make run` opens the dashboard, `make test` runs every test.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python

.PHONY: run test test-long lint bench cli clean

run: $(VENV)/.runtime $(VENV)/.kernels
	$(PY) -m streamlit run serve.py

# numba compiles the engine's kernels on first use (about half a minute from scratch) and caches them
# beside the sources: compiled here, once per change to the engine, not while the first visitor waits.
$(VENV)/.kernels: $(VENV)/.runtime $(wildcard quant/*.py) dashboard/model/outcomes.py
	@echo "Compiling the engine's kernels, once (about half a minute)..."
	$(PY) -c "from dashboard.model.outcomes import warm_up; list(warm_up())"
	touch $@

test: $(VENV)/.dev
	$(PY) -m pytest

# What ruff and mypy check: the engine, the page and (once it exists) its package.
LINT_PATHS := quant $(wildcard dashboard) app.py serve.py

# All three checks run, so one pass shows every finding; any failure fails the target.
lint: $(VENV)/.dev
	@status=0; \
	$(PY) -m ruff check $(LINT_PATHS) || status=1; \
	$(PY) -m ruff format --check $(LINT_PATHS) || status=1; \
	$(PY) -m mypy $(LINT_PATHS) || status=1; \
	exit $$status

# The long fuzz and load runs, kept out of `make test`.
test-long: $(VENV)/.dev
	$(PY) -m pytest -m long --run-long

bench: $(VENV)/.dev
	$(PY) -m bench

# The CLI on the bundled sample, without a browser.
cli: $(VENV)/.runtime
	$(PY) -m quant --sample -k 16 -o sample.k16.png --json

$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	  || { echo "quant needs Python 3.11 or newer (found $$($(PYTHON) --version))"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.runtime: requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .ruff_cache .mypy_cache build dist artifacts
