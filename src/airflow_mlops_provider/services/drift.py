"""Check a batch for drift against the champion's reference profile, and decide the route.

Without a champion there is nothing to compare with (training: cold start, train; monitoring:
nothing to report). With one, the batch drifted when `drift.drift_share` of its tested
features drifted (core/drift.py); a forced reason (a `force_retrain` param, a retrain request
from monitoring) takes the drift route too, with that reason. The report goes to the task's
folder and to the champion's MLflow run under `drift/<dag_id>/<run_id>/`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_mlops_provider.core.layout import safe_run_id
from airflow_mlops_provider.core.text import human_value
from airflow_mlops_provider.services.runtime import DRIFT_REPORT_LINK

if TYPE_CHECKING:
    from datetime import datetime

    from airflow_mlops_provider.adapters.mlflow_registry import Version
    from airflow_mlops_provider.adapters.reader import Batch
    from airflow_mlops_provider.core.drift import DriftReport
    from airflow_mlops_provider.services.runtime import Runtime
    from airflow_mlops_provider.spec import DriftSpec, Features

log = logging.getLogger(__name__)
Route = str | list[str]
Interval = tuple["datetime | None", "datetime | None"]  # a run's data interval


@dataclass(frozen=True)
class DriftRoutes:
    """Where each outcome leads (task ids in a DAG; any labels elsewhere)."""

    drift: Route
    stable: Route
    no_champion: Route


@dataclass(frozen=True)
class DriftDecision:
    route: Route
    reason: str
    summary: dict[str, Any] | None  # None without a champion: nothing was compared

    def to_xcom(self) -> dict[str, Any]:
        return {"branch": self.route, "reason": self.reason, **(self.summary or {})}


def judge(
    profile: Any,
    current: Batch,
    drift: DriftSpec,
    prediction_column: str | None,
    *,
    chunk_rows: int | None = None,
) -> DriftReport:
    """The drift report of the batch `current` against `profile` with the YAML's drift
    settings, the batch scanned in chunks (adapters/drift_batch.py: memory does not grow with
    it); the pipeline's check and `airflow-mlops drift` judge with this same call."""
    from airflow_mlops_provider.adapters.drift_batch import compare_batch

    settings = judge_settings(drift, prediction_column)
    chunking = {} if chunk_rows is None else {"chunk_rows": chunk_rows}
    return compare_batch(profile, current, settings, **chunking)


def judge_settings(drift: DriftSpec, prediction_column: str | None) -> dict[str, Any]:
    """compare_profile's keywords from the YAML's drift block (None: the default column)."""
    return drift.compare_settings(*([prediction_column] if prediction_column else []))


def check_drift(
    rt: Runtime,
    *,
    current_uri: str,
    drift: DriftSpec,
    features: Features,
    routes: DriftRoutes,
    prediction_column: str | None = None,
    forced_reason: str | None = None,
    data_interval: Interval | None = None,
) -> DriftDecision:
    """Compare the batch at `current_uri` with the champion's reference and decide;
    `data_interval` (the run's) is named in the report, with what was compared."""
    from airflow_mlops_provider.adapters.mlflow_registry import CHAMPION
    from airflow_mlops_provider.adapters.reader import open_batch
    from airflow_mlops_provider.services.references import reference_of

    champion = rt.registry.by_alias(CHAMPION)
    if champion is None:
        return no_champion(rt, routes)
    profile, reference_uri = reference_of(rt, features, champion)
    report = judge(profile, open_batch(rt.storage, current_uri), drift, prediction_column)
    compared = Compared(current_uri, reference_uri, champion, data_interval)
    return decide(rt, report, compared, routes, forced_reason)


@dataclass(frozen=True)
class Compared:
    """What a drift report compared: the batch, the champion and its reference profile."""

    current_uri: str
    reference_uri: str
    champion: Version
    data_interval: Interval | None


def no_champion(rt: Runtime, routes: DriftRoutes) -> DriftDecision:
    return _decide(rt, DriftDecision(routes.no_champion, "no champion yet", None))


def decide(
    rt: Runtime,
    report: DriftReport,
    compared: Compared,
    routes: DriftRoutes,
    forced_reason: str | None,
) -> DriftDecision:
    """Publish the report and take the route (also the fan-out's reduce step)."""
    summary = _summarize(rt, report, compared)
    if summary["dataset_drift"]:
        reason = f"drift in {', '.join(summary['drifted_features'])}"
        return _decide(rt, DriftDecision(routes.drift, reason, summary))
    if forced_reason:
        return _decide(rt, DriftDecision(routes.drift, forced_reason, summary))
    return _decide(rt, DriftDecision(routes.stable, "no dataset drift", summary))


def _summarize(rt: Runtime, report: DriftReport, compared: Compared) -> dict[str, Any]:
    from airflow_mlops_provider.services.references import save_report

    champion = compared.champion
    uris = save_report(
        rt,
        report,
        title=f"{rt.pipeline}: drift vs champion v{champion.version}",
        run_id=champion.run_id,
        artifact_path=_artifact_path(rt),
        compared=_compared(rt, compared),
    )
    rt.publish(DRIFT_REPORT_LINK, uris["drift.html"])
    for feature in report.features:
        log.info(
            "%-20s %-13s stat=%.4g value=%.3g threshold=%.3g %s",
            feature.feature,
            feature.test,
            feature.statistic,
            feature.value,
            feature.threshold,
            "DRIFT" if feature.drifted else "ok",
        )
    return {
        "dataset_drift": report.dataset_drift,
        "drifted_share": report.drifted_share,
        "drifted_features": report.drifted_features(),
        "top": report.top(10),
        "prediction_drift": report.prediction_drift,
        "report": uris["drift.html"],
        "report_json": uris["drift.json"],
        "reference": compared.reference_uri,
        "current": compared.current_uri,
        "champion_version": champion.version,
    }


def _decide(rt: Runtime, decision: DriftDecision) -> DriftDecision:
    log.info("Decision: %s (%s)", human_value(decision.route), decision.reason)
    rt.audit("drift_checked", decision.to_xcom())
    return decision


def _compared(rt: Runtime, compared: Compared) -> dict[str, str]:
    """What the drift report compared, for the people reading it."""
    window = "n/a"
    if compared.data_interval and all(compared.data_interval):
        start, end = compared.data_interval
        window = f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC"
    return {
        "Run": f"{rt.task.dag_id} {rt.task.run_id}",
        "Data interval": window,
        "Current data": compared.current_uri,
        "Reference": f"champion v{compared.champion.version}'s training data "
        f"({compared.reference_uri})",
    }


def _artifact_path(rt: Runtime) -> str:
    """drift/<dag_id>/<run_id> with characters MLflow artifact paths dislike replaced."""
    return "/".join(["drift", safe_run_id(rt.task.dag_id), safe_run_id(rt.task.run_id)])
