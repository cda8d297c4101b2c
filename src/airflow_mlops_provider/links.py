"""Extra links shown on task instances in the Airflow UI, and the URLs they point to.

Airflow 3's UI draws only http(s), mailto and same-site links (DESIGN.md §7), so a report is
never linked as a file path or an s3:// URI: it is linked to the provider's plugin
(`plugins/`), which serves it from storage over http behind Airflow's own login. The URL is
built from configuration: `[api] base_url` when set, else a same-site path (`/mlops/...`),
which the UI resolves against wherever it is served.

Links are computed when the task finishes, in the worker, from XCom: the services publish
the report's storage location or the MLflow run's URL (Runtime.publish, an XCom push in a
task) as soon as it exists, before a long-running part that may fail (DESIGN.md §7).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from airflow.sdk import BaseOperatorLink
from airflow.sdk.execution_time.xcom import XCom

from airflow_mlops_provider.core.layout import relative_to_pipeline
from airflow_mlops_provider.services.runtime import (
    DRIFT_REPORT_LINK,
    GATE_REPORT_LINK,
    MLFLOW_RUN_LINK,
    VALIDATION_REPORT_LINK,
)

URL_PREFIX = "/mlops"  # where the plugin's FastAPI app is mounted in the API server
VIEW_ROUTE = "mlops-pipelines"  # the pipelines view inside the Airflow UI: /plugin/<route>


def airflow_base_url() -> str:
    """`[api] base_url` without its trailing slash; "" when unset (links stay same-site)."""
    from airflow.configuration import conf

    return (conf.get("api", "base_url", fallback="") or "").rstrip("/")


def plugin_url(path: str) -> str:
    """A URL of the plugin's app: /mlops/<path>, under the configured base URL if any."""
    return f"{airflow_base_url()}{URL_PREFIX}/{path.lstrip('/')}"


def report_url(pipeline: str, location: str) -> str:
    """The plugin URL serving a file the pipeline stored (local path or s3:// URI), or ""
    when the file is not under the pipeline's root (the plugin would refuse it)."""
    relative = relative_to_pipeline(location, pipeline)
    if not relative:
        return ""
    return plugin_url(f"reports/{quote(pipeline)}/{quote(relative)}")


def pipeline_view_url(pipeline: str | None = None) -> str:
    """The pipelines view inside the Airflow UI (its nav entry), at one pipeline's section."""
    return f"{airflow_base_url()}/plugin/{VIEW_ROUTE}" + (f"#{pipeline}" if pipeline else "")


def connection_base_url(conn: Any | None) -> str | None:
    """http(s)://host[:port] of a connection, without credentials; None without a host."""
    from airflow_mlops_provider.hooks.base import connection_url

    if conn is None or not (conn.host or "").strip():
        return None
    return connection_url(conn, "MLflow UI link")


class MlflowRunLink(BaseOperatorLink):
    name = "MLflow run"
    xcom_key = MLFLOW_RUN_LINK

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        return XCom.get_value(key=self.xcom_key, ti_key=ti_key) or ""


class _ReportLink(BaseOperatorLink):
    """A report file the task stored, linked through the plugin (same XCom key: the task
    pushes the location, the finished task's link replaces it with the URL)."""

    xcom_key = ""

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        location = XCom.get_value(key=self.xcom_key, ti_key=ti_key) or ""
        if location.startswith(plugin_url("reports/")):
            return location  # already the link (pushed by an earlier finalisation)
        pipeline = getattr(operator, "pipeline", None)  # the operator's PipelineConfig
        if pipeline is None or not location:
            return ""
        return report_url(pipeline.pipeline, location)


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
