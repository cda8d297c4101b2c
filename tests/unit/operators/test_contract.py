"""What every operator promises: documented keyword-only parameters, nothing done at parse,
and a Runtime built from the hooks once per execute."""

from __future__ import annotations

import inspect
import json
import logging

import pytest

from airflow_mlops_provider.operators import (
    approval,
    drift,
    evaluate,
    monitoring,
    release,
    retrain,
    validate,
)
from airflow_mlops_provider.operators.runtime import build_runtime
from airflow_mlops_provider.sensors import batch

from .conftest import FakeTI, make_context

OPERATORS = [
    validate.DataValidateOperator,
    drift.DriftBranchOperator,
    retrain.RetrainOperator,
    evaluate.EvaluateOperator,
    approval.GateApprovalOperator,
    release.CanaryPromoteOperator,
    release.RejectOperator,
    release.RollbackOperator,
    monitoring.CollectWindowOperator,
    monitoring.LivePerformanceOperator,
    monitoring.MonitoringDecisionOperator,
    monitoring.RequestRetrainingOperator,
    monitoring.MonitoringAlertOperator,
    monitoring.HealthReportOperator,
    monitoring.NotifyOperator,
    batch.BatchSensor,
]


@pytest.mark.parametrize("operator", OPERATORS, ids=lambda o: o.__name__)
def test_every_parameter_is_keyword_only_and_documented(operator) -> None:
    parameters = inspect.signature(operator.__init__).parameters.values()
    own = [p for p in parameters if p.name not in ("self", "kwargs")]
    assert own and all(p.kind is p.KEYWORD_ONLY for p in own)
    doc = inspect.getdoc(operator) or ""
    missing = [p.name for p in own if f":param {p.name}:" not in doc]
    assert not missing, f"{operator.__name__} does not document {missing}"


def test_the_runtime_comes_from_the_hooks_and_the_task_instance(
    pipeline, tmp_path, monkeypatch, caplog
) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_MLFLOW_DEFAULT", raising=False)
    ti = FakeTI(task_id="evaluate")
    rt = build_runtime(pipeline, make_context(ti))
    assert (rt.pipeline, rt.task.key) == ("p", "p__training/manual__1/evaluate")
    assert rt.layout.root == str(tmp_path / ".mlops" / "pipelines" / "p")
    rt.publish("gate_report", "/r.html")
    assert ti.pushed == {"gate_report": "/r.html"}
    with caplog.at_level(logging.INFO):
        assert rt.notify("hello") == "logged"  # no notifications.slack: the task log
    assert "hello" in caplog.text
    assert rt.registry.model_name == "p"
    assert rt.registry.tracking.uri == f"sqlite:///{tmp_path / '.mlops' / 'mlflow.db'}"


def test_a_configured_slack_connection_that_cannot_be_read_fails_the_message(
    tmp_path, monkeypatch
) -> None:
    from airflow_mlops_provider.exceptions import ConnectionUnreadableError
    from airflow_mlops_provider.services.config import PipelineConfig

    monkeypatch.setenv("AIRFLOW_CONN_SLACK_DEFAULT", "{not json")
    pipeline = PipelineConfig.model_validate(
        {
            "pipeline": "p",
            "project_dir": str(tmp_path),
            "notifications": {"slack": {"channel": "#ml"}},
        }
    )
    rt = build_runtime(pipeline, make_context(FakeTI()))
    with pytest.raises(ConnectionUnreadableError, match="AIRFLOW_CONN_SLACK_DEFAULT is set"):
        rt.notify("hello")
    assert json.dumps(pipeline.model_dump())  # plain data: safe to log or pass around
