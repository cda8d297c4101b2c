"""PipelineSpec → the three DAGs of DESIGN.md §1. Only Airflow and this package's light
modules are imported here: operators import their heavy clients inside execute()."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import (
    DAG,
    Asset,
    AssetOrTimeSchedule,
    BaseOperator,
    CronTriggerTimetable,
    Param,
    TriggerRule,
)

from airflow_mlops_provider.operators.approval import GateApprovalOperator
from airflow_mlops_provider.operators.drift import DriftBranchOperator
from airflow_mlops_provider.operators.evaluate import EvaluateOperator
from airflow_mlops_provider.operators.monitoring import (
    CollectWindowOperator,
    HealthReportOperator,
    LivePerformanceOperator,
    MonitoringAlertOperator,
    MonitoringDecisionOperator,
    NotifyOperator,
    RequestRetrainingOperator,
)
from airflow_mlops_provider.operators.release import (
    CanaryPromoteOperator,
    RejectOperator,
    RollbackOperator,
)
from airflow_mlops_provider.operators.retrain import RetrainOperator
from airflow_mlops_provider.operators.validate import DataValidateOperator
from airflow_mlops_provider.sensors.batch import BatchSensor
from airflow_mlops_provider.spec.models import PipelineSpec

START = datetime(2024, 1, 1, tzinfo=UTC)
PRESET_CRON = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@quarterly": "0 0 1 */3 *",
    "@yearly": "0 0 1 1 *",
}


def build_dags(
    spec: PipelineSpec,
    project_dir: str,
    source_text: str,
    source_file: str,
    only: str | None = None,
) -> list[DAG]:
    """Build the pipeline's DAGs (or only the one named `only`, for a task run's parse)."""
    builders = {spec.dag_id("training"): build_training, spec.dag_id("rollback"): build_rollback}
    if spec.monitoring is not None:
        builders[spec.dag_id("monitoring")] = build_monitoring
        builders[spec.dag_id("health")] = build_health
    return [
        build(spec, project_dir, _doc(spec, source_text, source_file, dag_id.rsplit("__", 1)[1]))
        for dag_id, build in builders.items()
        if only in (None, dag_id)
    ]


def build_training(spec: PipelineSpec, project_dir: str, doc: str) -> DAG:
    common = {"spec": spec, "project_dir": project_dir}
    asks = spec.approval.mode != "never"  # the gate may ask a person: an `approve` task
    with DAG(
        spec.dag_id("training"),
        schedule=_training_schedule(spec),
        doc_md=doc,
        params={
            "force_retrain": Param(False, type="boolean", description="retrain even without drift")
        },
        **_dag_args(spec, "training"),
    ) as dag:
        validate = DataValidateOperator(
            task_id="validate_data",
            source=spec.data.source,
            outlets=[Asset(spec.validated_asset_uri)],
            **common,
        )
        drift = DriftBranchOperator(
            task_id="detect_drift",
            current_task_id="validate_data",
            drift_branch="retrain",
            stable_branch="skip_retrain",
            no_champion_branch="retrain",
            **common,
        )
        retrain = RetrainOperator(task_id="retrain", **common)
        evaluate = EvaluateOperator(
            task_id="evaluate",
            reject_branch="reject",
            promote_branch="canary_promote",
            approval_branch="approve" if asks else None,
            **common,
        )
        promote = CanaryPromoteOperator(
            task_id="canary_promote",
            # reached from `evaluate` directly (auto-promote) or through `approve`
            trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS,
            replay_source=spec.canary.replay.source,
            logs_source=spec.canary.inference_logs and spec.canary.inference_logs.source,
            **common,
        )
        reject = RejectOperator(task_id="reject", **common)
        skip = EmptyOperator(task_id="skip_retrain")
        notify = NotifyOperator(
            task_id="notify",
            headline="Training",
            trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS,
            summary_from={
                "data": "validate_data",
                "drift": "detect_drift:drift",
                "trained": "retrain",
                "gate": "evaluate:gate",
                "approval": "approve",
                "promoted": "canary_promote",
                "rejected": "reject",
            },
            **common,
        )
        if spec.data.wait is not None:
            BatchSensor(task_id="wait_for_batch", source=spec.data.source, **common) >> validate
        validate >> drift >> [retrain, skip]
        retrain >> evaluate >> [promote, reject]
        if asks:
            evaluate >> GateApprovalOperator(task_id="approve", **common) >> promote
        [promote, reject, skip] >> notify
    return dag


def build_monitoring(spec: PipelineSpec, project_dir: str, doc: str) -> DAG:
    """collect_window → validate_serving_data → detect_drift and live_performance → decide →
    request_retraining + alert / alert (cooldown) / healthy.

    detect_drift always hands over to `decide`, which weighs drift and live performance
    together, so decay and drift share one retrain-request path and one cooldown."""
    common = {"spec": spec, "project_dir": project_dir}
    monitoring = spec.monitoring
    assert monitoring is not None
    with DAG(
        spec.dag_id("monitoring"),
        schedule=monitoring.schedule,
        doc_md=doc,
        **_dag_args(spec, "monitoring"),
    ) as dag:
        collect = CollectWindowOperator(
            task_id="collect_window",
            source=monitoring.source,
            cron=_cron(monitoring.schedule),
            **common,
        )
        validate = DataValidateOperator(
            task_id="validate_serving_data",
            purpose="serving",
            window_task_id="collect_window",
            **common,
        )
        drift = DriftBranchOperator(
            task_id="detect_drift",
            current_task_id="validate_serving_data",
            drift_branch="decide",
            stable_branch="decide",
            no_champion_branch="decide",
            **common,
        )
        decide = MonitoringDecisionOperator(
            task_id="decide",
            retrain_branch=["request_retraining", "alert"],
            alert_branch="alert",
            healthy_branch="healthy",
            performance_task_id="live_performance" if monitoring.labels else None,
            inlets=[Asset(spec.retrain_asset_uri)],
            trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS,
            **common,
        )
        request = RequestRetrainingOperator(
            task_id="request_retraining", outlets=[Asset(spec.retrain_asset_uri)], **common
        )
        alert = MonitoringAlertOperator(task_id="alert", **common)
        healthy = EmptyOperator(task_id="healthy")
        collect >> validate >> drift >> decide >> [request, alert, healthy]
        if monitoring.labels:
            live = LivePerformanceOperator(
                task_id="live_performance", labels=monitoring.labels, **common
            )
            validate >> live >> decide
    return dag


def build_health(spec: PipelineSpec, project_dir: str, doc: str) -> DAG:
    """The daily health report, apart from monitoring so an hourly monitor posts once a day."""
    assert spec.monitoring is not None
    with DAG(
        spec.dag_id("health"),
        schedule=spec.monitoring.health_schedule,
        doc_md=doc,
        **_dag_args(spec, "health"),
    ) as dag:
        HealthReportOperator(task_id="health_report", spec=spec, project_dir=project_dir)
    return dag


def build_rollback(spec: PipelineSpec, project_dir: str, doc: str) -> DAG:
    with DAG(
        spec.dag_id("rollback"),
        schedule=None,
        doc_md=doc,
        params={
            "version": Param(
                None,
                type=["null", "string"],
                description="version to make champion; empty: previous",
            )
        },
        **_dag_args(spec, "rollback"),
    ) as dag:
        RollbackOperator(task_id="rollback", spec=spec, project_dir=project_dir)
    return dag


def _training_schedule(spec: PipelineSpec) -> Any:
    asset = Asset(spec.retrain_asset_uri) if spec.retrain_on_request else None
    if spec.schedule is None or spec.schedule == "@once":
        return [asset] if asset else spec.schedule
    timetable = CronTriggerTimetable(PRESET_CRON.get(spec.schedule, spec.schedule), timezone="UTC")
    return AssetOrTimeSchedule(timetable=timetable, assets=[asset]) if asset else timetable


def _cron(schedule: str | None) -> str | None:
    """The schedule as a cron expression; None for manual and @once."""
    if schedule is None or schedule == "@once":
        return None
    return PRESET_CRON.get(schedule, schedule)


def _dag_args(spec: PipelineSpec, kind: str) -> dict[str, Any]:
    return {
        "start_date": START,
        "catchup": False,
        "max_active_runs": spec.max_active_runs,
        "description": spec.description or f"{spec.pipeline} {kind}",
        "tags": ["mlops", f"pipeline:{spec.pipeline}", kind, *spec.tags],
        "default_args": {
            "owner": spec.owner,
            "retries": spec.retries,
            "retry_delay": timedelta(seconds=30),
        },
    }


def _doc(spec: PipelineSpec, source_text: str, source_file: str, kind: str) -> str:
    """The DAG's docs (factory/docs.py); source_text is the YAML as shown there."""
    from airflow_mlops_provider.factory.docs import dag_doc

    return dag_doc(spec, kind, yaml_text=source_text, source_file=source_file)


def build_config_error(dag_id: str, source_file: str, error: str) -> DAG:
    """A visible stand-in for a broken YAML: its docs and its one task carry the error."""
    doc = (
        f"### Configuration error in `{source_file}`\n\nNo DAGs were built from this file. "
        f"Fix the problems below; `airflow-mlops validate` shows the same list.\n\n"
        f"```\n{error}\n```\n"
    )
    # Runs once, unpaused, and fails with the error: a red run in the DAG list, the error
    # in its task log and its note, so a broken YAML cannot pass for a quiet pipeline.
    with DAG(
        dag_id,
        schedule="@once",
        start_date=START,
        catchup=False,
        is_paused_upon_creation=False,
        doc_md=doc,
        description=f"INVALID {source_file}: {error.splitlines()[0]}"[:500],
        tags=["mlops", "config-error"],
    ) as dag:
        _ConfigErrorOperator(task_id="explain_config_error", error=error)
    return dag


class _ConfigErrorOperator(BaseOperator):
    """Fails with the configuration error, so a triggered run shows it in the task log."""

    ui_color = "#ff9999"

    def __init__(self, *, error: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.error = error

    def execute(self, context: Any) -> None:
        from airflow_mlops_provider.exceptions import MlopsConfigError
        from airflow_mlops_provider.run_note import note_decision

        note_decision(context, f"Configuration error, no pipeline DAGs built: {self.error}")
        raise MlopsConfigError(self.error)
