"""Extra links shown on task instances in the Airflow UI; targets are read from XCom.

Links are computed when the task finishes, so the services publish the target (Runtime.publish,
an XCom push in a task) as soon as it exists — before a long-running part that may fail
(DESIGN.md §7).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperatorLink
from airflow.sdk.execution_time.xcom import XCom

from airflow_mlops_provider.services.runtime import (
    DRIFT_REPORT_LINK,
    GATE_REPORT_LINK,
    MLFLOW_RUN_LINK,
    VALIDATION_REPORT_LINK,
)


class MlflowRunLink(BaseOperatorLink):
    name = "MLflow run"
    xcom_key = MLFLOW_RUN_LINK

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        return XCom.get_value(key=self.xcom_key, ti_key=ti_key) or ""


class _ReportLink(BaseOperatorLink):
    """A report file the task wrote: a local path becomes a file:// link, s3:// stays."""

    xcom_key = ""

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        target = XCom.get_value(key=self.xcom_key, ti_key=ti_key) or ""
        return f"file://{target}" if target.startswith("/") else target


class ValidationReportLink(_ReportLink):
    """The data contract's HTML report."""

    name = "Validation report"
    xcom_key = VALIDATION_REPORT_LINK


class DriftReportLink(_ReportLink):
    """The drift check's HTML report (per feature: test, value, threshold, histogram)."""

    name = "Drift report"
    xcom_key = DRIFT_REPORT_LINK


class GateReportLink(_ReportLink):
    """The evaluation gate's HTML report (decision, checks, risk factors, fairness by group)."""

    name = "Gate report"
    xcom_key = GATE_REPORT_LINK
