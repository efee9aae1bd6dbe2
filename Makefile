# Developer and CI entry points. Recipes are indented with tabs.
#   make venv   create .venv and install the project with the dev extras
#   make test   run pytest against throwaway PostgreSQL + Redis (tests/services.py)
#   make test-quick   the same without the Chromium, Node.js and promtool tests (no npm, no apt
#               for chromium or prometheus; PostgreSQL and Redis are still needed)
#   make lint   ruff check + ruff format --check
#   make run    the server on http://127.0.0.1:8000 (bin/manage runs management commands)
#   make sbom   CycloneDX SBOMs of the Python and npm dependencies in var/ci/ (CI runs it)
# Pass pytest options with PYTEST_ARGS, e.g. make test PYTEST_ARGS="-x -k token".

PY ?= python3
VENV := .venv
PYTHON := $(VENV)/bin/python
DEV_STAMP := $(VENV)/.installed-dev
RUN_STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
# Test-only secrets: the suite runs with a production-style DATABASE_URL, which makes them
# mandatory (authserver/config.py). Never use these values anywhere else.
TEST_ENV := SECRET_KEY=test-only-secret-key-0123456789abcdefghijklmnop \
	KEY_ENCRYPTION_KEY=test-only-key-encryption-key-0123456789abcdef

.PHONY: venv test test-quick lint run sbom

venv: $(DEV_STAMP)

# Reinstall only when pyproject.toml changes (or the stamp is missing).
$(DEV_STAMP): pyproject.toml
	test -x $(PYTHON) || $(PY) -m venv $(VENV)
	$(PYTHON) -m pip install -q --upgrade pip
	$(PYTHON) -m pip install -q -e '.[dev]'
	touch $@

# The MCP TypeScript SDK (npm), driven by Node in tests/e2e/test_typescript_sdk.py.
TS_SDK := tests/compat/ts_sdk
$(TS_SDK)/node_modules/.package-lock.json: $(TS_SDK)/package-lock.json
	cd $(TS_SDK) && npm ci --no-audit --no-fund --loglevel=error

# The official MCP conformance suite (npm), driven by tests/compat/test_conformance.py.
CONFORMANCE := tests/compat/conformance
$(CONFORMANCE)/node_modules/.package-lock.json: $(CONFORMANCE)/package-lock.json
	cd $(CONFORMANCE) && npm ci --no-audit --no-fund --loglevel=error

test: $(DEV_STAMP) $(TS_SDK)/node_modules/.package-lock.json tests/upstream/node_modules/.package-lock.json $(CONFORMANCE)/node_modules/.package-lock.json
	sh tests/ensure_chromium.sh
	sh tests/ensure_promtool.sh
	$(TEST_ENV) $(PYTHON) tests/services.py -- $(PYTHON) -m pytest $(PYTEST_ARGS)

# The suite minus the tests marked browser, node or promtool (tests/conftest.py marks them):
# nothing to install beyond .venv, and the slowest tests left out.
QUICK_MARKERS := not browser and not node and not promtool
test-quick: $(DEV_STAMP)
	$(TEST_ENV) $(PYTHON) tests/services.py -- $(PYTHON) -m pytest -m "$(QUICK_MARKERS)" $(PYTEST_ARGS)

# The real upstream OAuth provider of the connection tests (docs/CONNECTIONS.md), from npm.
tests/upstream/node_modules/.package-lock.json: tests/upstream/package-lock.json
	cd tests/upstream && npm ci --no-audit --no-fund --silent

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check . && $(VENV)/bin/lint-imports

# The embedded default: SQLite under var/, no Redis, background jobs in a Celery worker with
# embedded beat on a file-based broker. Serves http://127.0.0.1:8000.
$(RUN_STAMP): pyproject.toml
	test -x $(PYTHON) || $(PY) -m venv $(VENV)
	$(PYTHON) -m pip install -q --upgrade pip
	$(PYTHON) -m pip install -q -e .
	touch $@

# Migrations run quietly (errors still print); after "Serving", a box says where the admin is
# and where its first password was saved (var/first-admin-password, 0600; never printed).
run: $(RUN_STAMP)
	@echo "Preparing the database (migrations run quietly; errors still show)..."
	@$(PYTHON) manage.py migrate --noinput --verbosity 0
	@$(PYTHON) manage.py bootstrap
	@$(PYTHON) manage.py serve

# The demo MCP server's own venv (bin/demo-mcp-server): only what it needs, pinned with hashes
# (examples/demo_mcp_server/requirements.txt, written by bin/lock --demo), not the dev toolset.
DEMO_VENV := .venv-demo
$(DEMO_VENV)/.installed: examples/demo_mcp_server/requirements.txt
	test -x $(DEMO_VENV)/bin/python || $(PY) -m venv $(DEMO_VENV)
	$(DEMO_VENV)/bin/python -m pip install -q --require-hashes --no-deps \
		-r examples/demo_mcp_server/requirements.txt
	touch $@

# The demo (examples/): our server as `make run` on 127.0.0.1:8000, plus a demo MCP server
# protected by it on 127.0.0.1:8001/mcp (DEMO_PORT), registered as a resource. Ctrl-C stops both.
.PHONY: demo
demo: $(DEV_STAMP)
	$(PYTHON) examples/demo.py

# A bounded soak with faults (Redis stopped, Celery worker killed, PostgreSQL restarted);
# figures in bench/RELIABILITY.md. SOAK_SECONDS=180 by default.
SOAK_SECONDS ?= 180
soak: $(DEV_STAMP)
	$(PYTHON) tests/reliability/soak.py --duration $(SOAK_SECONDS) --out bench/results/soak-latest.json

# Benchmarks (bench/run.py): our server vs node-oidc-provider and the bare-stack
# floor on throwaway PostgreSQL + Redis; writes bench/results/. BENCH_ARGS=--quick: < 2 min.
.PHONY: bench
bench: $(DEV_STAMP)
	$(PYTHON) bench/run.py $(BENCH_ARGS)

# A large company's data (bench/company.py: 1M people, 100k clients, 10k MCP servers with 50
# tools, 5M group memberships, 1.1M token rows) and the paths people and operators hit,
# in-process, before and after it (bench/company_probe.py); writes bench/results/*-company.*.
# COMPANY_ARGS="--divide 5" seeds a fifth. Duration: bench/README.md.
.PHONY: bench-company
bench-company: $(DEV_STAMP)
	$(PYTHON) bench/company_probe.py $(COMPANY_ARGS)

# Vending an upstream token vs a cached-token read (bench/connections.py).
.PHONY: bench-connections
bench-connections: $(DEV_STAMP) tests/upstream/node_modules/.package-lock.json
	$(TEST_ENV) $(PYTHON) tests/services.py -- $(PYTHON) bench/connections.py $(BENCH_ARGS)

# Supply chain: ruff check (its "S" security rules included) and pip-audit on the
# locked dependencies (requirements.lock); a finding fails. pip-audit asks PyPI's JSON API per
# package and version; where that cannot be reached (no route, or a mirror without per-version
# pages: every package comes back "skipped"), nothing could be audited: .ci/audit_verdict.py
# then prints an UNAUDITED banner and exits 3, an outcome of its own (make reports "Error 3"),
# never a silent pass; .ci/run reports it as such.
AUDIT_REPORT := var/ci/pip-audit.json
AUDIT_LOG := var/ci/pip-audit.log

.PHONY: audit
audit: $(DEV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	@mkdir -p $(dir $(AUDIT_REPORT)) && rm -f $(AUDIT_REPORT)
	@status=0; timeout 600 $(VENV)/bin/pip-audit -r requirements.lock --no-deps --disable-pip \
		--progress-spinner off --timeout 10 --format json --output $(AUDIT_REPORT) \
		>$(AUDIT_LOG) 2>&1 || status=$$?; \
	$(PYTHON) .ci/audit_verdict.py $(AUDIT_REPORT) $$status $(AUDIT_LOG)

# CycloneDX SBOMs (bin/sbom): var/ci/sbom-python.json of requirements.lock (cyclonedx-py, from
# the dev extra cyclonedx-bom), var/ci/sbom-npm-*.json of the test-only npm projects' lock
# files (npm sbom, npm >= 9). Offline; a missing tool fails, never an empty SBOM.
sbom: $(DEV_STAMP)
	$(PYTHON) bin/sbom var/ci
