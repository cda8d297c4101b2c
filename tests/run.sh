#!/usr/bin/env bash
# The whole suite. pytest exits 5 when it collected nothing: that is a failure here too.
# VENV picks the environment (.venv: the constrained one; `make test-latest`: .venv-latest).
set -uo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
export AIRFLOW__CORE__LOAD_EXAMPLES=False
bash tests/system_packages.sh
"$VENV/bin/ruff" check src tests include dags bench || exit 1
# Two worker processes (CI has two cores; TEST_WORKERS=0 runs in one process), whole files
# per worker in the order tests/conftest.py gives (the longest first); --durations shows
# where the time goes.
"$VENV/bin/python" -m pytest tests -p no:cacheprovider -n "${TEST_WORKERS:-2}" \
  --dist loadfile --no-loadscope-reorder --durations=25 "$@"
code=$?
if [ "$code" -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi
exit "$code"
