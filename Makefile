# Two commands for people (README): `make run` and `make test`. Everything installs into .venv/
# from the pinned lock files in requirements/, so a fresh clone needs only Python 3.11+ and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint typecheck check bench lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: $(BIN)/python requirements/runtime.lock pyproject.toml
	$(BIN)/pip install --quiet -r requirements/runtime.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements/dev.lock
	$(BIN)/pip install --quiet -r requirements/dev.lock
	touch $@

run: $(VENV)/.runtime  ## install, then serve API, worker, dispatcher and scheduler in one process
	$(BIN)/yorozu serve --host $(HOST) --port $(PORT)

test: $(VENV)/.dev  ## install, then run lint, type check and the whole test suite
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest

bench: $(VENV)/.dev
	$(BIN)/python -m bench

lock:  ## re-pin requirements/*.lock from pyproject.toml (needs uv on PATH)
	uv pip compile pyproject.toml --python-version 3.11 -o requirements/runtime.lock
	uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements/dev.lock

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
