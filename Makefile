# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3.12
VENV := .venv
BIN := $(VENV)/bin
# Development defaults; production sets DEBUG=0, SECRET_KEY and ALLOWED_HOSTS (see README).
export DEBUG ?= 1

.PHONY: install run migrate seed test check clean bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

# axe-core for the browser tests' accessibility checks (package-lock.json); skipped without npm,
# and then the browser tests skip with the reason (CI installs it).
node_modules/.package-lock.json: package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --silent && touch $@; \
	else echo "npm not found: browser accessibility tests will be skipped"; fi

install: $(VENV)/.installed node_modules/.package-lock.json

migrate: install
	$(BIN)/python manage.py migrate --noinput

seed: migrate
	$(BIN)/python manage.py seed_demo

# Web (gunicorn, http://127.0.0.1:8000), a Celery worker and exactly one beat.
run: seed
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start -f Procfile -p 8000

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

check: install
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python manage.py check

# Benchmarks, not part of `make test`: PostgreSQL and Redis required. DATABASE_URL defaults to
# postgres://postgres@127.0.0.1:5432/rapport_bench (wiped and re-seeded), REDIS_URL to
# redis://127.0.0.1:6379/12. Writes docs/benchmarks.md and .json. BENCH_ARGS=--small-only is quick.
bench: install
	$(BIN)/python -m bench.run $(BENCH_ARGS)

clean:
	rm -rf var/ .pytest_cache
