# The README's commands. `make run` serves the app; `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000
# Empty: app/serving.py's default (WEB_CONCURRENCY, else two per core plus one).
WORKERS ?=

.PHONY: run test fuzz lint format stop system-deps venv bench-import bench-pickup bench-coverage load-test bench-replica bench-reference bench-tiles bench-roads bench-peak bench-planning

system-deps:
	@bash scripts/system-deps.sh

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	# The app itself, editable: tools and bench/ import it without touching sys.path.
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

venv: $(VENV)/.installed

## Migrate, load the demo data into an empty database, and serve with gunicorn
## (app/serving.py). PGBOUNCER=1: through pgbouncer in transaction mode (instance/pgbouncer).
# The pages are English and Chinese: a CJK font makes the 中文 link and the Chinese pages
# legible on a fresh machine (Debian ships none by default).
run: export EXTRA_PACKAGES = fonts-wqy-microhei
run: system-deps venv
	$(FLASK) locator setup
	@echo "Serving the locator on http://$(HOST):$(PORT)/"
	$(if $(PGBOUNCER),DATABASE_POOLER=pgbouncer DATABASE_URL=$$($(FLASK) locator pgbouncer start)) \
		$(BIN)/gunicorn -c python:app.serving --bind $(HOST):$(PORT) $(if $(WORKERS),--workers $(WORKERS)) wsgi:app

## Lint, then the whole test suite against a throwaway PostGIS cluster.
# System packages first (the venv needs python3-venv), chromium for the browser tests,
# a CJK font so the Chinese page's screenshots show text, and Redis and pgbouncer for
# the operations tests (each test starts its own on loopback), and GDAL's ogrinfo and
# ogr2ogr, the OGC API - Features client of tests/integration/test_ogc.py.
test:
	@EXTRA_PACKAGES="chromium fonts-wqy-microhei redis-server pgbouncer gdal-bin" bash scripts/system-deps.sh
	@$(MAKE) --no-print-directory venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/pytest

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## A long, random run of the fuzzing suites (make test runs a short derandomized one).
fuzz: venv
	FUZZ_RANDOM=1 FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-2000} $(BIN)/pytest -q \
		tests/integration/test_fuzz_inputs.py tests/integration/test_schemathesis.py

## Stop the embedded PostGIS cluster (and pgbouncer) that `make run` started.
stop: venv
	$(FLASK) locator pgbouncer stop
	$(FLASK) locator postgres stop

## Import speed at 1,000,000 rows (bench/README.md).
bench-import: system-deps venv
	$(BIN)/python bench/import_speed.py

## Pickup-points throughput against SQL and /healthz (bench/README.md).
bench-pickup: venv
	@EXTRA_PACKAGES=wrk bash scripts/system-deps.sh
	$(BIN)/python bench/pickup_throughput.py

## Coverage throughput against SQL and /healthz with 100,000 service areas.
bench-coverage: venv
	@EXTRA_PACKAGES=wrk bash scripts/system-deps.sh
	$(BIN)/python bench/coverage_throughput.py

## Roads on Liechtenstein: drive-time areas and rank=travel_time (bench/README.md).
bench-roads: venv
	@EXTRA_PACKAGES=wrk bash scripts/system-deps.sh
	$(BIN)/python bench/roads_liechtenstein.py

## The app against ../shared/bench/lean_reference.py on 1,000,000 locations (bench/README.md).
bench-reference: venv
	@EXTRA_PACKAGES=wrk bash scripts/system-deps.sh
	$(BIN)/python bench/app_vs_reference.py

## Vector tiles against tipg on 1,000,000 locations and 100,000 areas (bench/README.md).
.venv-tipg/.installed: bench/requirements-tipg.txt
	$(PYTHON) -m venv .venv-tipg
	.venv-tipg/bin/pip install --quiet -r bench/requirements-tipg.txt
	touch $@

bench-tiles: system-deps venv .venv-tipg/.installed
	$(BIN)/python bench/tile_speed.py

## The peak: 200 checkouts racing for the last units, the database killed mid-run (bench/README.md).
bench-peak: venv
	$(BIN)/python bench/peak.py

## Planning: the summary with demand and the what-if, 100,000 areas, 1,000,000 points.
bench-planning: system-deps venv
	$(BIN)/python bench/planning_speed.py

## A bounded mixed load (good and bad requests) with rate limits on; fails on any 500.
load-test: venv
	@EXTRA_PACKAGES=wrk bash scripts/system-deps.sh
	$(BIN)/python bench/load_test.py

## The load test's mix against a standby that is killed and restarted mid-run.
bench-replica: venv
	@EXTRA_PACKAGES=wrk bash scripts/system-deps.sh
	$(BIN)/python bench/replica_load.py
