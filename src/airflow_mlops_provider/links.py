"""Extra links shown on task instances in the Airflow UI; targets are read from XCom.

Links are computed when the task finishes, so the operator pushes the target before the
long-running part starts (DESIGN.md §7).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperatorLink
from airflow.sdk.execution_time.xcom import XCom


class MlflowRunLink(BaseOperatorLink):
    name = "MLflow run"
    xcom_key = "mlflow_run_url"

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
    xcom_key = "validation_report"


class DriftReportLink(_ReportLink):
    """The drift check's HTML report (per feature: test, value, threshold, histogram)."""

    name = "Drift report"
    xcom_key = "drift_report"


class GateReportLink(_ReportLink):
    """The evaluation gate's HTML report (decision, checks, risk factors, fairness by group)."""

    name = "Gate report"
    xcom_key = "gate_report"
