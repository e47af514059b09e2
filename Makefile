# Two commands for a newcomer: `make run` (portal + queue worker with demo data) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
# The address in e-mail links while `make run` runs: SITE_URL when set (environment or .env),
# otherwise where the web server listens, so `make run PORT=8001` links to port 8001.
RUN_SITE_URL = $(or $(SITE_URL),$(shell sed -n 's/^SITE_URL=//p' .env 2>/dev/null | tail -n 1),http://$(HOST):$(PORT))

.PHONY: install run test lint migrate seed worker bench clean

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Gatehouse needs Python 3.11 or newer")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $@

install: $(VENV)/.installed

migrate: install
	DJANGO_DEBUG=$${DJANGO_DEBUG:-true} $(PY) manage.py migrate --no-input

seed: migrate
	DJANGO_DEBUG=$${DJANGO_DEBUG:-true} $(PY) manage.py seed_demo

# The web server and a queue worker side by side; Ctrl-C stops both.
run: seed
	@echo "Gatehouse: portal http://$(HOST):$(PORT)/ (alice / gatehouse-demo), admin http://$(HOST):$(PORT)/admin/ (admin / gatehouse-admin)"
	@export DJANGO_DEBUG=$${DJANGO_DEBUG:-true}; \
	export SITE_URL=$(RUN_SITE_URL); \
	$(PY) manage.py qcluster & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	$(PY) manage.py runserver $(HOST):$(PORT)

worker: install
	DJANGO_DEBUG=$${DJANGO_DEBUG:-true} $(PY) manage.py qcluster

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	DJANGO_DEBUG=true $(PY) manage.py makemigrations --check --dry-run

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache *.egg-info
