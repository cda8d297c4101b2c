"""DriftBranchOperator: compare a batch with the champion's drift profile and branch."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_mlops_provider.core.text import human_value
from airflow_mlops_provider.links import DriftReportLink
from airflow_mlops_provider.operators.base import PipelineBranchOperator

if TYPE_CHECKING:
    from airflow.sdk import Context


class DriftBranchOperator(PipelineBranchOperator):
    """Branch to `drift_branch` when the batch drifted from the champion's reference profile.

    The batch comes from `current_task_id`'s XCom (`train_uri` of a snapshot, or `window_uri`
    of a monitoring window); the reference is the champion's drift profile (tag
    `mlops.drift_profile`, fitted at training; versions without one get a profile fitted from
    their training data). Without a champion there is nothing to compare with: training goes
    to `drift_branch` (cold start), monitoring to `stable_branch`, as `no_champion_branch`
    says. A `force_retrain` param or a triggering retrain-request Asset event also takes the
    drift branch, with that reason. The report is saved as JSON and HTML in the run folder and
    logged to the champion's MLflow run under `drift/<dag_id>/<run_id>/`; the HTML is the
    task's "Drift report" extra link, the summary is XCom key "drift".
    """

    operator_extra_links = (DriftReportLink(),)
    ui_color = "#fff4d6"

    def __init__(
        self,
        *,
        current_task_id: str,
        drift_branch: str | list[str],
        stable_branch: str,
        no_champion_branch: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.current_task_id = current_task_id
        self.drift_branch = drift_branch
        self.stable_branch = stable_branch
        self.no_champion_branch = no_champion_branch

    def choose_branch(self, context: Context) -> str | list[str]:
        from airflow_mlops_provider.adapters import mlflow_registry as registry

        champion = registry.by_alias(self.mlflow, self.spec.model_name, registry.CHAMPION)
        if champion is None:
            return self._decide(context, self.no_champion_branch, "no champion yet", None)
        summary = self._compare(context, champion)
        forced = self._forced_reason(context)
        if summary["dataset_drift"]:
            reason = f"drift in {', '.join(summary['drifted_features'])}"
            return self._decide(context, self.drift_branch, reason, summary)
        if forced:
            return self._decide(context, self.drift_branch, forced, summary)
        return self._decide(context, self.stable_branch, "no dataset drift", summary)

    def _compare(self, context: Context, champion: Any) -> dict[str, Any]:
        from airflow_mlops_provider.adapters import drift_profiles
        from airflow_mlops_provider.core.drift import compare_profile

        upstream = context["ti"].xcom_pull(task_ids=self.current_task_id)
        current_uri = upstream.get("train_uri") or upstream["window_uri"]
        profile, reference_uri = drift_profiles.profile_for(self.storage, self.spec, champion)
        monitoring = self.spec.monitoring
        settings = self.spec.drift.compare_settings(
            *([monitoring.prediction_column] if monitoring else [])
        )
        report = compare_profile(profile, self.storage.read_frame(current_uri), **settings)
        ti = context["ti"]
        uris = drift_profiles.save_report(
            self.storage,
            self.mlflow,
            report,
            title=f"{self.spec.pipeline}: drift vs champion v{champion.version}",
            folder=self.storage.join(self.run_folder(context), self.task_id),
            run_id=champion.run_id,
            artifact_path=_artifact_path(ti),
            compared=_compared(context, current_uri, reference_uri, champion.version),
        )
        ti.xcom_push(key=DriftReportLink.xcom_key, value=uris["drift.html"])
        for feature in report.features:
            self.log.info(
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
            "reference": reference_uri,
            "current": current_uri,
            "champion_version": champion.version,
        }

    def _forced_reason(self, context: Context) -> str | None:
        if context["params"].get("force_retrain"):
            return "force_retrain param set"
        events = context.get("triggering_asset_events") or {}
        for asset_events in events.values():
            for event in asset_events:
                reason = (event.extra or {}).get("reason", "retrain requested")
                return f"retrain-request from monitoring: {reason}"
        return None

    def _decide(
        self,
        context: Context,
        branch: str | list[str],
        reason: str,
        summary: dict[str, Any] | None,
    ) -> str | list[str]:
        details = {"branch": branch, "reason": reason, **(summary or {})}
        self.log.info("Decision: %s (%s)", human_value(branch), reason)
        context["ti"].xcom_push(key="drift", value=details)
        self.audit(context, "drift_checked", details)
        return branch


def _compared(context: Context, current: str, reference: str, version: str) -> dict[str, str]:
    """What the drift report compared, for the people reading it."""
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    window = f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC" if start and end else "n/a"
    return {
        "Run": f"{context['dag_run'].dag_id} {context['dag_run'].run_id}",
        "Data interval": window,
        "Current data": current,
        "Reference": f"champion v{version}'s training data ({reference})",
    }


def _artifact_path(ti: Any) -> str:
    """drift/<dag_id>/<run_id> with characters MLflow artifact paths dislike replaced."""
    import re

    return "/".join(
        ["drift", *(re.sub(r"[^A-Za-z0-9_.-]", "_", p) for p in (ti.dag_id, ti.run_id))]
    )
