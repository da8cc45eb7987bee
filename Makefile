# make run  : create .venv, install roomchat, build the web client, serve config/roomchat.yaml
# make test : create .venv with the test extras, build the web client, lint (ruff, mypy), run the whole suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
CONFIG ?= config/roomchat.yaml
PYTEST_ARGS ?=
TEST_WORKERS ?= 4

# The web client (web/, docs/web-client.md) is built into the package by npm; rebuilt only when
# its lockfile or sources change.
WEB_BUNDLE  := roomchat/web/static/index.html
WEB_SOURCES := web/package.json web/package-lock.json web/index.html web/vite.config.ts web/tsconfig.json \
               $(wildcard web/src/*) $(wildcard web/public/*)

.PHONY: run test lint install install-test check bench clean web-client screenshots

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

web/node_modules/.installed: web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(WEB_BUNDLE): web/node_modules/.installed $(WEB_SOURCES)
	cd web && npm run build
	touch $@

web-client: $(WEB_BUNDLE)

run: install web-client
	$(BIN)/roomchat serve --config $(CONFIG)

check: install
	$(BIN)/roomchat check $(CONFIG)

# ruff and mypy (pinned in the test extras), as configured in pyproject.toml.
lint: install-test
	$(BIN)/ruff check .
	$(BIN)/mypy

test: lint web-client
	$(BIN)/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

# docs/images/*.png, taken in headless Chromium through a class on the default config (docs/web-client.md).
screenshots: install-test web-client
	$(BIN)/python tests/browser/screenshots.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
