"""Settings that come from Airflow connections (defined the way deployments do: AIRFLOW_CONN_*
environment variables), read through Airflow's own connection lookup."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from airflow_mlops_provider.operators.retrain import RetrainOperator
from airflow_mlops_provider.spec import load_spec

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def retrain() -> RetrainOperator:
    spec = load_spec(ROOT / "dags" / "churn.yaml")
    return RetrainOperator(task_id="retrain", spec=spec, project_dir=str(ROOT))


def test_mlflow_connection_gives_server_uri_and_keeps_credentials_out_of_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    conn = {
        "conn_type": "http",
        "host": "mlflow.internal",
        "port": 5000,
        "schema": "https",
        "login": "ml-bot",
        "password": "s3cret-pass",
    }
    monkeypatch.setenv("AIRFLOW_CONN_MLFLOW_DEFAULT", json.dumps(conn))
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD", raising=False)
    uri = retrain().tracking_uri
    assert uri == "https://mlflow.internal:5000"
    assert os.environ["MLFLOW_TRACKING_USERNAME"] == "ml-bot"
    assert os.environ["MLFLOW_TRACKING_PASSWORD"] == "s3cret-pass"


def test_without_connection_the_local_store_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_MLFLOW_DEFAULT", raising=False)
    uri = retrain().tracking_uri
    assert uri == f"sqlite:///{ROOT / '.mlops' / 'mlflow.db'}"
