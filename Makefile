# The two commands: `make demo` and `make test`. Both create .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export AIRFLOW__CORE__LOAD_EXAMPLES := False

.PHONY: demo test ui lint install clean bench

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/airflow-mlops demo --project $(CURDIR)

test: $(STAMP)
	bash tests/run.sh

lint: $(STAMP)
	$(BIN)/ruff check src tests bench include dags
	$(BIN)/airflow-mlops validate dags

# Airflow UI on the demo's state (run `make demo` first to have runs to look at).
ui: $(STAMP)
	PATH=$(CURDIR)/$(BIN):$$PATH AIRFLOW_HOME=$(CURDIR)/.mlops/airflow \
	AIRFLOW__CORE__DAGS_FOLDER=$(CURDIR)/dags AIRFLOW__API__HOST=127.0.0.1 AIRFLOW__API__PORT=8080 \
	$(BIN)/airflow standalone

bench: $(STAMP)
	$(BIN)/python bench/parse.py
	$(BIN)/python bench/validate.py

clean:
	rm -rf .mlops test-output
