# shopwindow: the two commands a new user needs are `make serve` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test lint bench loadtest docs clean compile screenshots

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The request path's modules, compiled with Cython (setup.py); only what changed is rebuilt.
# SHOPWINDOW_PURE=1 skips it (and runs the plain Python source).
compile: $(STAMP)
	$(BIN)/python setup.py --quiet build_ext --inplace

serve: compile
	$(BIN)/shopwindow serve --dev

lint: $(STAMP)
	$(BIN)/ruff check setup.py src tests loadtests tools
	$(BIN)/ruff format --check setup.py src tests loadtests tools
	$(BIN)/mypy

test: lint compile
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The peer engines the benchmark compares with, installed once.
$(VENV)/.bench: pyproject.toml | $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $@

bench: $(VENV)/.bench compile
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk) || true
	$(BIN)/python -m shopwindow.bench $(BENCH_ARGS)

loadtest: compile
	$(BIN)/python loadtests/run.py $(LOADTEST_ARGS)
	$(BIN)/python loadtests/rule_edits.py $(RULE_EDITS_ARGS)

# Pictures of the demo shop (Chromium) in build/screenshots/; not part of `make test`.
screenshots: $(STAMP)
	$(BIN)/python tools/screenshots.py $(SCREENSHOTS_ARGS)

docs: $(STAMP)
	$(BIN)/shopwindow docs settings > docs/settings.md

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache bench-results.json build
	rm -f src/shopwindow/*.c src/shopwindow/*.so
