"""log_noise.quiet_library_noise(): skops' module scan is silenced, every other warning still
shows, MLflow logs through the host's logging without progress bars; every task of the
factory's DAGs runs it before `execute`."""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

import pytest

from airflow_mlops_provider import log_noise


def _emit(module: str, category: type[Warning] = FutureWarning) -> list[str]:
    """Warn as if from `module`; return what the filters let through."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        log_noise.quiet_library_noise()
        warnings.warn_explicit("attribute is deprecated", category, "x.py", 1, module=module)
    return [str(w.message) for w in caught]


def test_the_skops_module_scan_is_silenced() -> None:
    assert _emit("skops.io._utils") == []


@pytest.mark.parametrize(
    ("module", "category"),
    [
        ("skops.io._general", FutureWarning),
        ("mymodule", FutureWarning),
        ("skops.io._utils", UserWarning),
    ],
)
def test_other_warnings_still_show(module: str, category: type[Warning]) -> None:
    assert _emit(module, category) == ["attribute is deprecated"]


def test_mlflow_logs_through_the_host_without_progress_bars(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MLFLOW_CONFIGURE_LOGGING", raising=False)
    monkeypatch.delenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", raising=False)
    monkeypatch.setattr(logging.getLogger("alembic"), "level", logging.NOTSET)
    log_noise.quiet_library_noise()
    assert os.environ["MLFLOW_CONFIGURE_LOGGING"] == "false"
    assert os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] == "false"
    assert logging.getLogger("alembic").level == logging.WARNING


def test_a_deployment_choice_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_CONFIGURE_LOGGING", "true")
    monkeypatch.setattr(logging.getLogger("alembic"), "level", logging.NOTSET)
    log_noise.quiet_library_noise()
    assert os.environ["MLFLOW_CONFIGURE_LOGGING"] == "true"
    assert logging.getLogger("alembic").level == logging.NOTSET


def test_every_pipeline_task_quiets_library_noise_before_execute() -> None:
    from airflow_mlops_provider.factory.loader import load_pipelines

    dags = load_pipelines({}, folder=Path(__file__).resolve().parents[2] / "dags")
    tasks = [task for dag in dags for task in dag.tasks]
    assert tasks
    assert all(log_noise.quiet_library_noise in task.on_execute_callback for task in tasks)
