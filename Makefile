# Two commands matter: `make run` (the portal with demo data on the embedded default) and
# `make test` (the whole suite: SQLite, then PostgreSQL and Redis when they answer, and Chromium).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask
PYTHON ?= python3
PG_URL ?= postgresql://127.0.0.1:5432/test
export FLASK_APP := wsgi.py

.PHONY: run test install system-deps test-sqlite test-postgres bench vendor css clean

$(VENV)/.installed: setup.cfg constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade "pip>=24"
	$(PY) -m pip install -q -c constraints.txt -e '.[test]'
	touch $@

install: $(VENV)/.installed

run: install
	$(FLASK) db upgrade
	$(FLASK) seed-demo
	$(FLASK) dev

# Chromium comes from Debian (Playwright cannot download browsers here).
system-deps:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	  else echo "Chromium missing: run 'sudo apt-get install -y chromium fonts-noto-cjk'"; exit 1; fi; fi

test: install system-deps
	$(MAKE) --no-print-directory test-sqlite
	@if $(PY) -c "import psycopg,sys; psycopg.connect('$(PG_URL)', connect_timeout=3).close()" 2>/dev/null; then \
	  $(MAKE) --no-print-directory test-postgres; \
	else echo "PostgreSQL is not answering at $(PG_URL): the PostgreSQL run was not made"; exit 1; fi

test-sqlite:
	$(PY) -m pytest -p no:cacheprovider tests

# The same suite on PostgreSQL (a fresh database per run), browser and sandbox-only tests excluded.
test-postgres:
	TEST_DATABASE_URL=$(PG_URL) $(PY) -m pytest -p no:cacheprovider -m "not e2e" tests --ignore=tests/sandbox --ignore=tests/douyin/test_signing.py

bench: install
	$(PY) -m bench

vendor:
	cd static/vendor && npm pack htmx.org@2.0.11 bootstrap@5.3.8 >/dev/null && \
	  tar xzf htmx.org-2.0.11.tgz package/dist/htmx.min.js -O > htmx/htmx.min.js && \
	  tar xzf bootstrap-5.3.8.tgz package/dist/css/bootstrap.min.css -O > bootstrap/bootstrap.min.css && \
	  tar xzf bootstrap-5.3.8.tgz package/dist/js/bootstrap.bundle.min.js -O > bootstrap/bootstrap.bundle.min.js && \
	  rm -f *.tgz
	$(MAKE) --no-print-directory css

# Bootstrap's CSS cut to the classes the portal uses, one bundle for all pages and a smaller one for
# the counter and sign-in (assets/purge-bootstrap.mjs). The results are committed: run this after
# adding a Bootstrap class to a template (tests/test_assets.py says when).
css:
	cd assets && npm ci --silent --no-audit --no-fund && node purge-bootstrap.mjs

clean:
	rm -rf $(VENV) instance/*.db instance/sandbox

# Re-extract UI strings and merge them into the English catalog (fill in the new msgstr by hand).
messages: install
	$(VENV)/bin/pybabel extract -F babel.cfg -k _l -o instance/messages.pot --no-location .
	$(VENV)/bin/pybabel update -i instance/messages.pot -d portal/translations -l en --no-fuzzy-matching
