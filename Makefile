# The two commands: `make demo` and `make test`. Both create .venv when it is missing and
# install through constraints/constraints-<python>.txt, so what CI installs is what was tested.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYVER := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
CONSTRAINTS := constraints/constraints-$(PYVER).txt
export AIRFLOW__CORE__LOAD_EXAMPLES := False

.PHONY: demo test test-latest ui lint install clean bench constraints

$(CONSTRAINTS):
	@echo "No $(CONSTRAINTS): python $(PYVER) is not a supported Python here." >&2
	@echo "Supported: $$(ls constraints/constraints-*.txt | sed 's/.*constraints-//; s/.txt//' | xargs)." >&2
	@echo "Use e.g. PYTHON=python3.11 make ..., or add it: PYTHONS=$(PYVER) bash constraints/generate.sh" >&2
	@exit 1

# Installers first (pinned), then the package without build isolation, so no build step can
# fetch an unpinned setuptools either.
$(STAMP): setup.cfg pyproject.toml $(CONSTRAINTS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -c $(CONSTRAINTS) pip setuptools wheel
	$(BIN)/pip install --quiet -c $(CONSTRAINTS) --no-build-isolation -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/airflow-mlops demo --project $(CURDIR)

test: $(STAMP)
	VENV=$(VENV) bash tests/run.sh

# Not in CI: the newest releases the ranges in setup.cfg allow, in their own venv, so a
# dependency's new release shows up here as a named failure, never as a red main.
test-latest:
	rm -rf .venv-latest
	$(PYTHON) -m venv .venv-latest
	PIP_CONSTRAINT= .venv-latest/bin/pip install --quiet --upgrade pip setuptools wheel
	PIP_CONSTRAINT= .venv-latest/bin/pip install --quiet -e '.[dev]'
	mkdir -p test-output
	.venv-latest/bin/pip freeze --all --exclude airflow-mlops-provider > test-output/latest-freeze.txt
	@echo "Versions differing from $(CONSTRAINTS):"
	@grep -vxFf $(CONSTRAINTS) test-output/latest-freeze.txt | grep -v '^-e' || echo "  (none)"
	MLOPS_UNCONSTRAINED=1 VENV=.venv-latest bash tests/run.sh

# Re-resolve the pins (on purpose: a dependency bump), then `make test` and commit them.
constraints:
	bash constraints/generate.sh

lint: $(STAMP)
	$(BIN)/ruff check src tests bench include dags
	$(BIN)/airflow-mlops validate dags

# Airflow UI on the demo's state (run `make demo` first to have runs to look at): port 8080,
# or a free one when 8080 is taken (it says so); `make ui PORT=8093` asks for a port.
ui: $(STAMP)
	$(BIN)/airflow-mlops ui --project $(CURDIR) $(if $(PORT),--port $(PORT))

bench: $(STAMP)
	$(BIN)/python bench/parse.py
	$(BIN)/python bench/validate.py

clean:
	rm -rf .mlops test-output
