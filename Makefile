# vru: two commands on a fresh machine — `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
HOME_DIR ?= vru-home

.PHONY: setup demo test lint bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	@# bytecode now, as pip does for installed packages: an editable source tree would be
	@# compiled again at every `vru` start where PYTHONDONTWRITEBYTECODE is set
	$(BIN)/python -m compileall -q src >/dev/null
	@rm -f $(VENV)/.installed-* && touch $@

setup: $(STAMP)

## make demo: synthetic Thames Valley + the real data.police.uk months → a lake in ./vru-home
demo: $(STAMP)
	@$(BIN)/python -m compileall -q src >/dev/null
	$(BIN)/vru --home $(HOME_DIR) demo

## make test: every test, on SQLite and on a throwaway PostgreSQL server
test: $(STAMP)
	$(BIN)/ruff check src tests bench
	scripts/debs.sh
	@set -e; \
	pg="$$(scripts/pg.sh start)"; eval "$$pg"; trap 'scripts/pg.sh stop >/dev/null 2>&1 || true' EXIT; \
	test -n "$${VRU_TEST_POSTGRES_URL:-}" || { echo "no PostgreSQL for the shared-deployment tests" >&2; exit 1; }; \
	$(BIN)/python -m pytest -p no:cacheprovider --timeout 900 -rs

lint: $(STAMP)
	$(BIN)/ruff check src tests bench

bench: $(STAMP)
	$(BIN)/python bench/bench_ingest.py
	$(BIN)/python bench/bench_counts.py
	$(BIN)/python bench/bench_web.py

clean:
	rm -rf $(VENV) $(HOME_DIR) .pytest_cache
