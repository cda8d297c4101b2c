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


def test_two_live_tries_registering_at_once_settle_on_one_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A try the scheduler gave up on still runs beside its retry (seen in the system test
    under load): both looked for the run's version before either registered. The one that
    registered second deletes its version and both return the first."""
    import mlflow

    tracking = Tracking(f"sqlite:///{tmp_path}/mlflow.db", artifact_location=tmp_path.as_uri())
    registry = Registry("churn", tracking)
    run_id, _ = registry.run_for_attempt(
        registry.ensure_experiment("churn"),
        task_key=TASK,
        run_name="churn-manual__1",
        tags={},
        attempt=Attempt(1, 1),
    )
    finish_with_a_model(registry, run_id)
    looked = registry.version_for_run
    calls = []

    def the_other_try_registers_after_this_one_looked(run: str):
        calls.append(run)
        if len(calls) == 1:  # this try looked and found nothing; the other registers now
            with registry._auth():
                other = mlflow.register_model(f"runs:/{run}/model", registry.model_name)
            assert str(other.version) == "1"
            return None
        return looked(run)

    monkeypatch.setattr(registry, "version_for_run", the_other_try_registers_after_this_one_looked)
    mine = registry.register(run_id, tags={})
    assert mine.version == "1"
    assert [v.version for v in registry.versions()] == ["1"]
    assert registry.register(run_id, tags={}).version == "1"  # and a later try finds it
