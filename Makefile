# rota: common tasks. `make help` lists them.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -hE '^[a-z][a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@# Bytecode now, as pip does for a wheel: an editable install otherwise compiles rota's
	@# modules on every start where PYTHONDONTWRITEBYTECODE is set (~0.1 s per process).
	$(BIN)/python -m compileall -q rota
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install rota with its dev tools

run: $(STAMP) ## start rota up: server + workers on SQLite with a demo batch
	$(BIN)/rota up

test: $(STAMP) ## run the whole test suite (lint, types, tests)
	$(BIN)/ruff check rota tests bench
	$(BIN)/ruff format --check rota tests bench
	$(BIN)/mypy
	$(BIN)/pytest

stress: $(STAMP) ## the multi-node and concurrent-claimer tests at full size (PostgreSQL, Redis)
	ROTA_STRESS=1 $(BIN)/pytest -m stress -p no:cacheprovider --timeout 1800

reliability: $(STAMP) ## the fault-injection suite at full size; writes docs/reliability.md
	ROTA_RELIABILITY=1 $(BIN)/pytest -m reliability -p no:cacheprovider --timeout 3600 -s

fuzz: $(STAMP) ## Schemathesis against a live server: 200 cases per operation, stateful too
	ROTA_FUZZ_EXAMPLES=200 $(BIN)/pytest tests/e2e/test_fuzz.py -p no:cacheprovider --timeout 3600

lint: $(STAMP) ## ruff and mypy only
	$(BIN)/ruff check rota tests bench
	$(BIN)/mypy

fmt: $(STAMP) ## format the code
	$(BIN)/ruff format rota tests bench
	$(BIN)/ruff check --fix rota tests bench

bench: $(STAMP) ## run the SQLite benchmarks and print the figures
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python -m bench.bench_sqlite

bench-postgres: $(STAMP) ## rota beside PgQueuer and Procrastinate on the local PostgreSQL
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python -m bench.bench_postgres

bench-redis: $(STAMP) ## rota beside RQ, Celery, Dramatiq, arq, Huey and SAQ on the local Redis
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python -m bench.bench_redis

bench-defaults: $(STAMP) ## every system at its defaults as real processes; ratios to issue 18's targets
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/python -m bench.bench_defaults

bench-floor: $(STAMP) ## what a bare PostgreSQL / Redis round trip costs here, back to back and idle
	$(BIN)/python -m bench.bench_floor

bench-schedules: $(STAMP) ## 10,000 and 100,000 schedules, 1,000 due in one second (PostgreSQL, Redis)
	$(BIN)/python -m bench.bench_schedules
	$(BIN)/python -m bench.bench_schedules --store redis

bench-fairness: $(STAMP) ## claim speed with fair share on against off, 10 and 10,000 tenants (PostgreSQL, Redis)
	$(BIN)/python -m bench.bench_fairness

bench-hostile: $(STAMP) ## hostile input and 1,000 idle long-polls against rota serve (SQLite, PostgreSQL)
	$(BIN)/python -m bench.bench_hostile
	$(BIN)/python -m bench.bench_hostile --postgres

bench-wakeups: $(STAMP) ## a quiet queue's workers beside a busy queue's: store work per busy task (PostgreSQL, Redis)
	$(BIN)/python -m bench.bench_wakeups

clean: ## remove the venv, caches and local databases
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache rota.db rota.db-wal rota.db-shm

.PHONY: help install run test stress reliability fuzz lint fmt bench bench-postgres bench-redis bench-defaults bench-schedules bench-fairness bench-hostile bench-wakeups clean
