# Switchyard: the commands users script against (keep them stable).
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CHART_JS := static/vendor/chart.umd.js
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/switchyard
TEST_REDIS_URL ?= $(or $(REDIS_URL),redis://127.0.0.1:6379/15)
PYTEST_ARGS ?=

.PHONY: install run test lint bench lock clean system-deps browser-deps reliability

install: system-deps $(STAMP) $(CHART_JS)

# Debian libraries WeasyPrint needs for PDF statements; installed only when missing.
SYSTEM_LIBS := libpangoft2-1.0.so.0 libharfbuzz-subset.so.0
system-deps:
	@missing=0; for lib in $(SYSTEM_LIBS); do ldconfig -p | grep -q $$lib || missing=1; done; \
	if [ $$missing = 1 ]; then \
		echo "installing PDF libraries (pango, harfbuzz, fonts)"; \
		(apt-get install -y -qq --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
		 || (apt-get update -qq && apt-get install -y -qq --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core)) >/dev/null; \
	fi

# Chart.js for the console dashboards, from npm (package.json) into static/vendor/ (gitignored).
# Optional: without npm this prints a note and the dashboards show their figures and tables
# with a note where the charts would be; install Node.js and run `make install` again to add them.
$(CHART_JS): package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --no-audit --no-fund --silent && mkdir -p $(@D) && cp node_modules/chart.js/dist/chart.umd.min.js $@; \
	else \
		echo "npm not found: skipping Chart.js (optional; the console dashboards show tables without charts)"; \
	fi

# Reinstall whenever the declared dependencies or the lock change.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

run: install
	$(PY) -m gateway.run

# Debian's Chromium for the browser tests (tests/browser); Playwright never downloads a browser.
browser-deps:
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "installing Chromium (Debian) for the browser tests"; \
		(apt-get install -y -qq --no-install-recommends chromium chromium-driver \
		 || (apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium chromium-driver)) >/dev/null; \
	fi

# Two pytest-xdist workers, one per core, a test file each at a time (module fixtures stay whole);
# each worker has its own test database, Redis database and var/ folder (tests/plugin_env.py).
TEST_WORKERS ?= -n 2 --dist loadfile

test: install browser-deps
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) SWITCHYARD_VAR_DIR=$(CURDIR)/var/test \
		$(PY) -m pytest $(TEST_WORKERS) $(PYTEST_ARGS)

# Fault matrix, PostgreSQL/Redis outages, soak, poisoned inputs at full size (README: Reliability);
# `make test` runs the same tests at RELIABILITY_SCALE=ci.
reliability: install
	DATABASE_URL=$(TEST_DATABASE_URL) REDIS_URL=$(TEST_REDIS_URL) SWITCHYARD_VAR_DIR=$(CURDIR)/var/test \
		RELIABILITY_SCALE=full $(PY) -m pytest -m reliability $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .

# One-core load test beside a direct upstream, an nginx hop, LiteLLM and Portkey (README: Benchmarks).
bench: install
	bash scripts/bench.sh

# Refresh the lock after changing pyproject.toml's dependencies.
lock:
	$(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -m pip freeze --exclude-editable | grep -v '^-e' > constraints.txt

clean:
	rm -rf $(VENV) var .pytest_cache
