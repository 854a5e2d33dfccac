# Two commands for people (README): `make run` and `make test`. Everything installs into .venv/
# from the pinned lock files in requirements/, so a fresh clone needs only Python 3.11+ and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test bench lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Every dependency comes from a lock file with its hashes (--require-hashes): a wheel that
# differs from the one locked is refused. The project itself is the only unhashed install,
# editable and without dependencies.
$(VENV)/.runtime: $(BIN)/python requirements/runtime.lock pyproject.toml
	$(BIN)/pip install --quiet --require-hashes -r requirements/runtime.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements/dev.lock
	$(BIN)/pip install --quiet --require-hashes -r requirements/dev.lock
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

# Re-pins from pyproject.toml with every wheel's hash. uv keeps the versions already in the
# lock files unless pyproject.toml needs others; `make lock UPGRADE=--upgrade` moves them all.
UV ?= uv
lock:  ## re-pin requirements/*.lock from pyproject.toml, with hashes (needs uv: pip install uv)
	$(UV) pip compile pyproject.toml --python-version 3.11 --generate-hashes $(UPGRADE) -o requirements/runtime.lock
	$(UV) pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes $(UPGRADE) -o requirements/dev.lock

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
