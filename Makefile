# Set-up is idempotent: the virtualenv is built once and rebuilt only when the dependencies change.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SANDBOX_PORT ?= 8765
DAGSTER_HOME ?= $(CURDIR)/.dagster_home
export DAGSTER_HOME

.PHONY: setup demo test lint dev sandbox bench clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev,lake]'
	touch $(STAMP)

setup: $(STAMP)

# The Dagster instance that demo and dev share (runs, schedules, check results); created once,
# never overwritten. It needs no concurrency settings: the warehouse serializes its writers.
$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp -n dagster.yaml $@ || true

## make demo: set up, then run the main job on the embedded defaults (sandbox + DuckDB)
demo: setup $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/intercom-pipeline demo

## make test: set up, then lint and run the whole test suite, in TEST_WORKERS processes (a file's
## tests stay in one process, so they share its fixtures; TEST_WORKERS=0 runs them in this one)
TEST_WORKERS ?= 2
test: setup lint
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## make dev: the Dagster UI on http://127.0.0.1:3000, wired to a sandbox unless a token is set
dev: setup $(DAGSTER_HOME)/dagster.yaml
	@if [ -z "$$INTERCOM_ACCESS_TOKEN" ]; then \
	  $(BIN)/intercom-pipeline sandbox --port $(SANDBOX_PORT) & trap "kill $$!" EXIT; \
	  sleep 2; \
	  INTERCOM_BASE_URL=http://127.0.0.1:$(SANDBOX_PORT) INTERCOM_ACCESS_TOKEN=sandbox-token \
	    $(BIN)/dagster dev -w workspace.yaml; \
	else \
	  $(BIN)/dagster dev -w workspace.yaml; \
	fi

## make sandbox: serve the Intercom sandbox in the foreground
sandbox: setup
	$(BIN)/intercom-pipeline sandbox --port $(SANDBOX_PORT)

## make bench: the sandbox's bench-scale start-up and memory figures
bench: setup
	$(BIN)/python bench/sandbox_startup.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
