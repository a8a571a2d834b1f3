# Switchyard — the two Quickstart commands are `make run` and `make test`.
# Everything is installed into ./.venv from uv.lock; uv itself is pinned and installed into ./.tools.
UV_VERSION := 0.13.8
PYTHON ?= python3
UV := .tools/bin/uv
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/.venv

.PHONY: install run test test-fast lint bench clean

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# Byte-code is compiled once at install (--compile-bytecode) and written for src/ and tests/ during the test run
# (PYTHONDONTWRITEBYTECODE unset): the suite starts hundreds of gateway and CLI processes, and on a machine that
# sets PYTHONDONTWRITEBYTECODE each of them compiled every imported module from source again.
.venv/.synced: $(UV) uv.lock pyproject.toml
	$(UV) sync --frozen --quiet --compile-bytecode
	@touch $@

tests/e2e/node/node_modules/.installed: tests/e2e/node/package-lock.json
	cd tests/e2e/node && npm ci --silent --no-audit --no-fund
	@touch $@

# Debian's chromium for the dashboard's browser tests (Playwright drives it; no browser is ever downloaded).
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(CHROMIUM):
	$(SUDO) apt-get update -q
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium

# Debian's Prometheus: tests/e2e/test_prometheus.py scrapes a real gateway with it and evaluates the Grafana
# dashboard's queries (deploy/grafana/). Its service is not started; the test runs its own instance.
PROMETHEUS := /usr/bin/prometheus

$(PROMETHEUS):
	$(SUDO) apt-get update -q
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus

install: .venv/.synced

## Install everything and start the gateway on the embedded default (SQLite under ./.switchyard).
run: install
	.venv/bin/switchyard serve

## Run the whole test suite (unit, in-process, contract on SQLite and PostgreSQL, end-to-end with real SDKs).
## Four pytest-xdist workers on two cores (much of the suite waits on sockets, subprocesses and timers); a test
## module stays on one worker, so its module fixtures start once, and the slowest modules are handed out first
## (tests/support/module_order.py, module_costs.txt). PYTEST_ARGS="-n 0" runs it in one process.
PYTEST_ARGS ?= -n 4 --dist loadfile --durations=25
test: install tests/e2e/node/node_modules/.installed $(CHROMIUM) $(PROMETHEUS)
	env -u PYTHONDONTWRITEBYTECODE .venv/bin/python -m pytest $(PYTEST_ARGS)

## Style (ruff), the layer rules (import-linter) and types (mypy): [tool.importlinter], [tool.mypy] in pyproject.toml.
lint: install
	.venv/bin/ruff check src tests
	.venv/bin/ruff format --check src tests
	PYTHONPATH=src .venv/bin/lint-imports --no-cache
	.venv/bin/mypy

## Side-by-side benchmark table (direct upstream vs Switchyard); see bench/README.md.
bench: install
	bash bench/run.sh

clean:
	rm -rf .venv .tools tests/e2e/node/node_modules
