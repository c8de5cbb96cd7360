# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
SOURCES := bot tests $(wildcard bench)

.PHONY: run test test-fast lint typecheck unit install install-dev system-deps bench chaos clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## make run: start the bot embedded (no Redis, no Twilio): web chat at http://127.0.0.1:8000/chat
run: install
	$(BIN)/bot serve --host 127.0.0.1 --port 8000

## system packages the tests need: redis-server (real-Redis tests), chromium (browser tests)
system-deps:
	@missing=""; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  echo "installing$$missing with apt-get"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

lint: install-dev
	$(BIN)/ruff check $(SOURCES)
	$(BIN)/ruff format --check $(SOURCES)

typecheck: install-dev
	$(BIN)/mypy --strict bot

unit: install-dev system-deps
	$(BIN)/python -m pytest -q

## make test-fast: the pure and in-memory tests, for iterating (no spawned processes, no browser)
test-fast: install-dev
	$(BIN)/python -m pytest -q -m "not slow and not browser"

## make test: everything CI runs
test: lint typecheck unit

bench: install-dev
	$(BIN)/python bench/run_all.py

## make chaos: a few minutes of killed workers, Redis restarts and a faulty fake Twilio (not in make test)
chaos: install-dev system-deps
	$(BIN)/python bench/chaos.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
