# ServeLab: the two commands are `make run` and `make test`.
SHELL := /bin/bash
PY := .venv/bin/python
SERVELAB := .venv/bin/servelab
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test lint system venv test-deps runtime demo clean editor

# The Docker tests that store submissions through the test's own database (the web app's
# embedded pool, several web processes, the worker pool); the other Docker tests grade a folder
# through the pipeline and open no database. The Celery and fault tests are on PostgreSQL anyway.
DOCKER_DB_TESTS := tests/web tests/grading/test_worker.py

.venv/.stamp-install: pyproject.toml
	test -x $(PY) || python3 -m venv .venv || { deploy/ensure-system.sh python && python3 -m venv .venv; }
	$(PY) -m pip install -q -U pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

venv: .venv/.stamp-install

system:
	deploy/ensure-system.sh docker $(if $(filter runsc,$(SERVELAB_SANDBOX_RUNTIME)),runsc)

runtime: venv system
	$(SERVELAB) runtime build

## Set up everything and start the app with demo accounts on http://127.0.0.1:8000
run: venv system
	$(SERVELAB) db upgrade
	$(SERVELAB) content check
	$(SERVELAB) runtime build
	$(SERVELAB) demo seed
	$(SERVELAB) serve

## Install test extras and services, lint, then run the whole suite (three passes: README)
test: venv lint
	deploy/ensure-system.sh docker runsc compose browser postgres redis node
	$(MAKE) --no-print-directory node_modules/.package-lock.json
	$(SERVELAB) runtime build
	@echo "== 1/3: tests without Docker, on SQLite"
	$(PY) -m pytest -m "not docker" -n 2 --durations=10
	@echo "== 2/3: tests without Docker or a browser, on PostgreSQL (the pages' storage is tested here; their look in 1/3)"
	$(PY) -m pytest -m "not docker and not browser" -n 2 --database=postgresql --durations=10
	@echo "== 3/3: Docker tests, two test files at a time"
	$(PY) -m pytest -m docker -n 2 --dist loadfile --durations=15
	@echo "== 3/3 again on PostgreSQL: the Docker tests that store through the pass's database"
	$(PY) -m pytest -m docker -n 2 --database=postgresql $(DOCKER_DB_TESTS)

# The npm packages of package-lock.json: axe-core for the browser tests' accessibility checks
# (tests/browser/accessibility.py), esbuild and CodeMirror for `make editor`. npm ci writes the
# stamp. A failed install fails under CI=true; elsewhere the browser page checks then skip.
node_modules/.package-lock.json: package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund || { \
	  [ "$$CI" != true ] && echo "npm ci failed: the browser tests' page checks will skip" >&2; }

## Rebuild the exercise page's code editor (web/static/editor/editor.js, committed) from
## package-lock.json; tests/web/test_editor_bundle.py checks the committed one is this build
editor:
	deploy/ensure-system.sh node
	npm ci --ignore-scripts --no-audit --no-fund
	node platform/servelab/web/static/editor/build.mjs

lint: venv
	.venv/bin/ruff check platform tests bench
	.venv/bin/ruff format --check platform tests bench
	.venv/bin/mypy platform/servelab

clean:
	rm -rf var .pytest_cache
