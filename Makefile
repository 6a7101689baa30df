# Two commands for a fresh machine: `make demo` (the main job, on the local stack) and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CHECKOV_VENV := .venv-checkov
# Three workers on 2 cores, a test file each at a time (a file's fixtures stay in one process): the third
# fills the time the others wait on a browser, a child process or a retry. Files are handed out in the order
# tests/conftest.py collects them (slow ones first), not by their number of tests. <= 6 min on 2 cores.
PYTEST_ARGS ?= -n 3 --dist loadfile --no-loadscope-reorder
TIER ?=

.PHONY: install test lint fmt bench up down logs demo clean package image migrate-demo

install: $(VENV)/.installed node_modules/.installed $(CHECKOV_VENV)/.installed
	@test -x /usr/bin/chromium || echo "note: /usr/bin/chromium is missing, so the console's browser tests will skip (as root: apt-get install -y chromium)"

$(VENV)/.installed: requirements.txt requirements-lock.txt requirements-dev.txt localvision/requirements.txt constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m localvision.ml.build
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	touch $@

test: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

fmt: install
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

bench: install
	$(PY) -m bench $(if $(TIER),--tier $(TIER))

up: install
	$(PY) -m devstack up

down:
	@if [ -x $(PY) ]; then $(PY) -m devstack down; else echo "nothing to stop"; fi

logs:
	$(PY) -m devstack logs

demo: install
	$(PY) -m devstack demo

# The zip azd deploys (the repository minus .funcignore); its path is the last line printed.
package:
	@$(PYTHON) scripts/package.py

clean: down
	rm -rf .local

# localvision's container image (podman; a Debian base built with mmdebstrap and kept under .local/images).
image: install
	$(PY) -m devstack.container build

# The move from Custom Vision to a self-hosted localvision, end to end on a private stack (docs/migration.md).
migrate-demo: install
	$(PY) -m devstack.migration
