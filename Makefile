# Northstar: `make run` to try it, `make test` to check it.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# the local document store when no MONGODB_URI is given: postgresql (FerretDB on a private
# PostgreSQL, the default), sqlite (FerretDB on SQLite) or mongod; e.g. `make test NORTHSTAR_DOCSTORE=sqlite`
export NORTHSTAR_DOCSTORE

.PHONY: run up down test lint install bench bench-load chaos demo clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## install the project and its tools into .venv

run: $(STAMP) ## foreground: Kafka, the document store, the web app and the services; Ctrl-C stops all
	$(PY) -m deploy.local.stack run

up: $(STAMP) ## the same in the background
	$(PY) -m deploy.local.stack up

down: $(STAMP) ## stop what `make up` started
	$(PY) -m deploy.local.stack down

test: $(STAMP) ## the whole suite against real Kafka and the real document store
	bash deploy/tools/install.sh
	$(PY) -m deploy.local.stack test $(PYTEST_ARGS)

lint: $(STAMP) ## ruff and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy shared services deploy tests/bench

demo: $(STAMP) ## a narrated end-to-end story against `make up`
	$(PY) -m deploy.local.demo

bench: $(STAMP) ## benchmarks against ceilings measured in the same run (against `make up`'s servers)
	$(PY) -m tests.bench.run

bench-load: $(STAMP) ## sustained open-loop load, 50/100/200/400 points/s, against `make up`'s servers (docs/bench-load.md)
	$(PY) -m tests.bench.load $(BENCH_LOAD_ARGS)

chaos: $(STAMP) ## fault scenarios on private servers it starts and stops itself
	$(PY) -m tests.chaos.run

clean:
	rm -rf .run .mypy_cache .pytest_cache .ruff_cache
