# Every target builds or refreshes the virtualenv it needs; only python3 (3.11+) and Java 17+
# have to be on the machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
# The browser the monitor's tests drive (Debian's package; the path is also in
# tests/integration/test_monitor.py).
CHROMIUM := /usr/bin/chromium

.PHONY: setup browser demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)
	$(BIN)/segstream jars

# Installs Debian's chromium when missing: as root directly, else through password-less sudo.
browser:
	@if [ -x $(CHROMIUM) ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then SUDO=; \
	elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; \
	else echo "$(CHROMIUM) is missing and cannot be installed without root: run 'sudo apt-get install -y chromium'" >&2; exit 1; fi; \
	$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null || \
	{ echo "installing Debian's chromium failed: the monitor's browser test needs $(CHROMIUM)" >&2; exit 1; }

demo: setup
	$(BIN)/segstream demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: setup browser lint
	$(BIN)/pytest $(PYTEST_ARGS)

bench: setup
	$(BIN)/python -m bench.startup

clean:
	-$(BIN)/segstream kafka stop
	rm -rf lake .segstream
