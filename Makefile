# shopwindow: the two commands a new user needs are `make serve` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check
SERVE_STAMP := $(VENV)/.serve
STAMP := $(VENV)/.installed

.PHONY: serve test lint bench loadtest docs clean first-run-check screenshots

# What serving needs, and nothing else: a first `make serve` answers within two minutes.
$(SERVE_STAMP): pyproject.toml
	@echo "shopwindow: setting up $(VENV) with what serving needs (first run only)..."
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --progress-bar off -e .
	touch $(SERVE_STAMP)

# The test and benchmark tools (pytest, ruff, mypy, Playwright, locust, ...).
$(STAMP): $(SERVE_STAMP)
	@echo "shopwindow: installing the test tools into $(VENV)..."
	$(PIP) install --quiet -e '.[dev]'
	touch $(STAMP)

serve: $(SERVE_STAMP)
	$(BIN)/shopwindow serve --dev

lint: $(STAMP)
	$(BIN)/ruff check src tests loadtests bench tools
	$(BIN)/ruff format --check src tests loadtests bench tools
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The peer engines the benchmark compares with, installed once.
$(VENV)/.bench: pyproject.toml | $(STAMP)
	$(PIP) install --quiet -e '.[dev,bench]'
	touch $@

bench: $(VENV)/.bench
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk) || true
	$(BIN)/python -m bench.harness $(BENCH_ARGS)

loadtest: $(STAMP)
	$(BIN)/python loadtests/run.py $(LOADTEST_ARGS)
	$(BIN)/python loadtests/rule_edits.py $(RULE_EDITS_ARGS)
	$(BIN)/python loadtests/origin_proxy.py $(ORIGIN_PROXY_ARGS)

# How long a new user waits: a fresh clone, an empty pip cache, `make serve` until it answers.
first-run-check:
	$(PYTHON) bench/first_run.py $(FIRST_RUN_ARGS)

# Pictures of the demo shop (Chromium) in build/screenshots/; not part of `make test`.
screenshots: $(STAMP)
	$(BIN)/python tools/screenshots.py $(SCREENSHOTS_ARGS)

docs: $(STAMP)
	$(BIN)/shopwindow docs settings > docs/settings.md

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache bench-results.json build
