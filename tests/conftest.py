"""Test-wide setup. Airflow reads its configuration at first import, so AIRFLOW_HOME points at
a fresh folder before any test module imports Airflow; examples are never loaded. Under
pytest-xdist (tests/run.sh) every worker process gets its own folder, so its own database."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_OURS = "MLOPS_TESTS_AIRFLOW_HOME"  # the home this file made (a user's own is kept)
if os.environ.get("AIRFLOW_HOME", os.environ.get(_OURS)) == os.environ.get(_OURS):
    # unset, or made by this file in the xdist controller the worker was started from
    os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="mlops-airflow-home-")
    os.environ[_OURS] = os.environ["AIRFLOW_HOME"]
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(ROOT / "dags"))
os.environ["GX_ANALYTICS_ENABLED"] = "false"
# Test data lives in temporary folders outside the projects that use it (adapters/storage.py).
os.environ.setdefault("MLOPS_ALLOWED_ROOTS", tempfile.gettempdir())

# The longest modules first, longest first (seconds per file on 2 workers, bench/BENCHMARKS.md
# "Test suite time"): xdist hands out whole files in this order (tests/run.sh), so the system
# and e2e tests overlap with the rest instead of running alone at the end, and the two workers
# finish on short files, close to each other, instead of one waiting for a long file.
_FIRST = (
    "tests/system/test_loop.py",
    "tests/e2e/test_airflow_ui.py",
    "tests/integration/test_approval_rest.py",
    "tests/integration/test_fanout_dag.py",
    "tests/integration/test_faults_services.py",
    "tests/integration/test_canary.py",
    "tests/integration/test_rerun.py",
    "tests/integration/test_streaming_validation.py",
    "tests/integration/test_loop.py",
    "tests/integration/test_canary_shadow.py",
    "tests/integration/test_gate_acceptance.py",
    "tests/integration/test_canary_pause.py",
)


def pytest_collection_modifyitems(items: list) -> None:
    def rank(item) -> int:
        path = item.nodeid.split("::", 1)[0]
        return _FIRST.index(path) if path in _FIRST else len(_FIRST)

    items.sort(key=rank)  # stable: the order within a file and among the rest is kept
