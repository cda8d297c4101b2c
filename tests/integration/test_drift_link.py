"""The drift check's report is a task extra link in both DAGs, registered with the provider."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_mlops_provider.get_provider_info import get_provider_info

from .airflow_helpers import load_dags

pytestmark = pytest.mark.integration


def test_detect_drift_carries_the_drift_report_link(project: Path) -> None:
    dags = load_dags(project)
    for dag_id in ("churn__training", "churn__monitoring"):
        task = dags[dag_id].get_task("detect_drift")
        assert [link.name for link in task.operator_extra_links] == ["Drift report"], dag_id
    assert "airflow_mlops_provider.links.DriftReportLink" in get_provider_info()["extra-links"]
