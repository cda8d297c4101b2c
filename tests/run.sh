#!/usr/bin/env bash
# The whole suite. pytest exits 5 when it collected nothing: that is a failure here too.
set -uo pipefail
cd "$(dirname "$0")/.."
export AIRFLOW__CORE__LOAD_EXAMPLES=False
bash tests/system_packages.sh
.venv/bin/ruff check src tests include dags bench || exit 1
.venv/bin/python -m pytest tests -p no:cacheprovider "$@"
code=$?
if [ "$code" -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi
exit "$code"
