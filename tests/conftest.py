"""Test-wide setup. Airflow reads its configuration at first import, so AIRFLOW_HOME points at
a fresh folder before any test module imports Airflow; examples are never loaded."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_HOME = Path(tempfile.mkdtemp(prefix="mlops-airflow-home-"))
os.environ.setdefault("AIRFLOW_HOME", str(_HOME))
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(ROOT / "dags"))
os.environ["GX_ANALYTICS_ENABLED"] = "false"
# Test data lives in temporary folders outside the projects that use it (adapters/storage.py).
os.environ.setdefault("MLOPS_ALLOWED_ROOTS", tempfile.gettempdir())
