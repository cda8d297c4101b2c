"""Retry or clear, on a real local MLflow store (issue 13): a retry of a `retrain` attempt that
died after registering reuses its version; a clear trains anew. The Airflow side — which try
of which clear cycle — is core/attempts.py `Attempt.of`, unit-tested; here the registry keeps
and reads it on the MLflow run."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_mlops_provider.adapters.mlflow_registry import Registry, Tracking
from airflow_mlops_provider.core.attempts import Attempt

pytestmark = pytest.mark.integration
TASK = "churn__training/manual__1/retrain"


def finish_with_a_model(registry: Registry, run_id: str) -> None:
    """What the trainer does: log a model at `model` and end the run (the registry made its
    store the process's tracking URI)."""
    import mlflow
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression().fit(np.array([[0.0], [1.0], [2.0], [3.0]]), [0, 0, 1, 1])
    assert mlflow.get_tracking_uri() == registry.tracking.uri
    with mlflow.start_run(run_id=run_id):
        mlflow.sklearn.log_model(model, name="model")


def test_a_retry_reuses_the_version_and_a_clear_trains_anew(tmp_path: Path) -> None:
    tracking = Tracking(f"sqlite:///{tmp_path}/mlflow.db", artifact_location=tmp_path.as_uri())
    registry = Registry("churn", tracking)
    experiment = registry.ensure_experiment("churn")

    def attempt(try_number: int, first_try: int) -> tuple[str, str]:
        return registry.run_for_attempt(
            experiment,
            task_key=TASK,
            run_name="churn-manual__1",
            tags={},
            attempt=Attempt(try_number, first_try),
        )

    run_id, action = attempt(1, 1)
    assert action == "new"
    finish_with_a_model(registry, run_id)
    version = registry.register(run_id, tags={}).version
    # the worker died here, before returning: Airflow retries (try 2 of the same cycle)
    assert attempt(2, 1) == (run_id, "reuse")
    assert attempt(3, 1) == (run_id, "reuse")  # and again
    # the task is cleared: try 4 opens a new cycle and trains anew
    cleared, action = attempt(4, 4)
    assert action == "new" and cleared != run_id
    assert [v.version for v in registry.versions()] == [version]
