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

from airflow_mlops_provider.core.run_batch import BATCH_PATTERN, PARAM
from airflow_mlops_provider.factory.docs import dag_docs
from airflow_mlops_provider.factory.fanout import fanned_out_gate
from airflow_mlops_provider.log_noise import quiet_library_noise
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
from airflow_mlops_provider.operators.retrain_request import ReleaseRetrainRequestOperator
from airflow_mlops_provider.operators.validate import DataValidateOperator
from airflow_mlops_provider.sensors.batch import BatchSensor
from airflow_mlops_provider.services.config import PipelineConfig
from airflow_mlops_provider.services.drift import DriftRoutes
from airflow_mlops_provider.spec import PipelineSpec
from airflow_mlops_provider.spec.secrets import mask_text

START = datetime(2024, 1, 1, tzinfo=UTC)
# canary_promote resumes from its saved state, so a retry is always safe; a late executor
# event after its deferral can kill a try (issue 13), which must not cost the run. A rolled
# back canary or a refused release fails without retries.
CANARY_RETRIES = 3
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
    notes: list[str] | tuple[str, ...] = (),
) -> list[DAG]:
    """Build the pipeline's DAGs (or only the one named `only`, for a task run's parse);
    `notes` are the loader's warnings, shown in the DAG docs."""
    builders = {"training": build_training, "rollback": build_rollback}
    if spec.monitoring is not None:
        builders |= {"monitoring": build_monitoring, "health": build_health}
    wanted = {kind: build for kind, build in builders.items() if only in (None, spec.dag_id(kind))}
    if not wanted:
        return []
    pipeline = PipelineConfig.from_spec(spec, project_dir)
    docs = dag_docs(  # the YAML masked once: masking scans the whole text
        spec, wanted, yaml_text=mask_text(source_text), source_file=source_file, warnings=notes
    )
    return [build(spec, pipeline, docs[kind]) for kind, build in wanted.items()]


def build_training(spec: PipelineSpec, pipeline: PipelineConfig, doc: str) -> DAG:
    """The training DAG; every task gets the YAML blocks it needs and, by name, the upstream
    task ids it reads."""
    asks = spec.approval.mode != "never"  # the gate may ask a person: an `approve` task
    with DAG(
        spec.dag_id("training"),
        schedule=_training_schedule(spec),
        doc_md=doc,
        **_dag_args(spec, "training"),
    ) as dag:
        routes = DriftRoutes(drift="retrain", stable="skip_retrain", no_champion="retrain")
        if spec.data.fanout is None:
            validate = DataValidateOperator(
                task_id="validate_data",
                pipeline=pipeline,
                data=spec.data,
                contract=spec.contract,
                source=spec.data.source,
                outlets=[Asset(spec.validated_asset_uri)],
                pod=spec.step_pod("validation"),
            )
            drift = DriftBranchOperator(
                task_id="detect_drift",
                pipeline=pipeline,
                drift=spec.drift,
                features=spec.data.features,
                prediction_column=_prediction_column(spec),
                current_task_id="validate_data",
                pod=spec.step_pod("drift"),
                drift_branch=routes.drift,
                stable_branch=routes.stable,
                no_champion_branch=routes.no_champion,
            )
            validate >> drift
            entry, gate = validate, (validate, drift)
        else:  # the same gate as mapped tasks over slices of the batch (factory/fanout.py)
            fanned = fanned_out_gate(spec, pipeline, routes, _prediction_column(spec))
            entry, drift, gate = fanned.entry, fanned.drift, fanned.tasks
        retrain = RetrainOperator(
            task_id="retrain",
            pipeline=pipeline,
            training=spec.training,
            data=spec.data,
            snapshot_task_id="validate_data",
        )
        evaluate = EvaluateOperator(
            task_id="evaluate",
            pipeline=pipeline,
            data=spec.data,
            evaluation=spec.evaluation,
            approval=spec.approval,
            train_task_id="retrain",
            snapshot_task_id="validate_data",
            reject_branch="reject",
            promote_branch="canary_promote",
            approval_branch="approve" if asks else None,
            pod=spec.step_pod("evaluation"),
        )
        promote = CanaryPromoteOperator(
            task_id="canary_promote",
            pipeline=pipeline,
            canary=spec.canary,
            data=spec.data,
            evaluation=spec.evaluation,
            gate_task_id="evaluate",
            snapshot_task_id="validate_data",
            # reached from `evaluate` directly (auto-promote) or through `approve`
            trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS,
            retries=max(spec.retries, CANARY_RETRIES),
            replay_source=spec.canary.replay.source,
            logs_source=spec.canary.inference_logs and spec.canary.inference_logs.source,
            pod=spec.step_pod("replay"),
        )
        reject = RejectOperator(task_id="reject", pipeline=pipeline, gate_task_id="evaluate")
        skip = EmptyOperator(task_id="skip_retrain")
        notify = NotifyOperator(
            task_id="notify",
            pipeline=pipeline,
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
        )
        before_training: list[BaseOperator] = list(gate)
        if spec.data.wait is not None:
            wait = BatchSensor(
                task_id="wait_for_batch",
                pipeline=pipeline,
                wait=spec.data.wait,
                source=spec.data.source,
            )
            wait >> entry
            before_training.append(wait)
        drift >> [retrain, skip]
        if spec.retrain_on_request:
            release = ReleaseRetrainRequestOperator(
                task_id="release_retrain_request",
                pipeline=pipeline,
                outlets=[Asset(_released_asset_uri(spec))],
                trigger_rule=TriggerRule.ONE_FAILED,  # failed before training
                retries=0,
            )
            before_training >> release
        retrain >> evaluate >> [promote, reject]
        if asks:
            approve = GateApprovalOperator(
                task_id="approve",
                pipeline=pipeline,
                approval=spec.approval,
                gate_task_id="evaluate",
            )
            evaluate >> approve >> promote
        [promote, reject, skip] >> notify
    _declare_params(
        dag,
        {
            "force_retrain": Param(False, type="boolean", description="retrain even without drift"),
            PARAM: Param(
                None,
                type=["null", "string"],
                pattern=BATCH_PATTERN,
                description="the batch (day, YYYY-MM-DD) to train on, rendered as {{ ds }} "
                "in data.source; empty: the retrain request's batch, else the logical date",
            ),
        },
    )
    return dag


def build_monitoring(spec: PipelineSpec, pipeline: PipelineConfig, doc: str) -> DAG:
    """collect_window → validate_serving_data → detect_drift and live_performance → decide →
    request_retraining + alert / alert (cooldown) / healthy.

    detect_drift always hands over to `decide`, which weighs drift and live performance
    together, so decay and drift share one retrain-request path and one cooldown."""
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
            pipeline=pipeline,
            monitoring=monitoring,
            features=spec.data.features,
            source=monitoring.source,
            cron=_cron(monitoring.schedule),
            pod=spec.step_pod("scoring"),
        )
        validate = DataValidateOperator(
            task_id="validate_serving_data",
            pipeline=pipeline,
            data=spec.data,
            contract=spec.contract,
            purpose="serving",
            window_task_id="collect_window",
            monitoring=monitoring,
            pod=spec.step_pod("validation"),
        )
        drift = DriftBranchOperator(
            task_id="detect_drift",
            pipeline=pipeline,
            drift=spec.drift,
            features=spec.data.features,
            prediction_column=monitoring.prediction_column,
            current_task_id="validate_serving_data",
            pod=spec.step_pod("drift"),
            drift_branch="decide",
            stable_branch="decide",
            no_champion_branch="decide",
        )
        decide = MonitoringDecisionOperator(
            task_id="decide",
            pipeline=pipeline,
            monitoring=monitoring,
            drift_task_id="detect_drift",
            performance_task_id="live_performance" if monitoring.labels else None,
            retrain_branch=["request_retraining", "alert"],
            alert_branch="alert",
            healthy_branch="healthy",
            inlets=[Asset(spec.retrain_asset_uri), Asset(_released_asset_uri(spec))],
            trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS,
        )
        request = RequestRetrainingOperator(
            task_id="request_retraining",
            pipeline=pipeline,
            decision_task_id="decide",
            outlets=[Asset(spec.retrain_asset_uri)],
        )
        alert = MonitoringAlertOperator(
            task_id="alert", pipeline=pipeline, decision_task_id="decide"
        )
        healthy = EmptyOperator(task_id="healthy")
        collect >> validate >> drift >> decide >> [request, alert, healthy]
        if monitoring.labels:
            live = LivePerformanceOperator(
                task_id="live_performance",
                pipeline=pipeline,
                monitoring=monitoring,
                data=spec.data,
                evaluation=spec.evaluation,
                labels=monitoring.labels,
                window_task_id="collect_window",
            )
            validate >> live >> decide
    return dag


def build_health(spec: PipelineSpec, pipeline: PipelineConfig, doc: str) -> DAG:
    """The daily health report, apart from monitoring so an hourly monitor posts once a day."""
    assert spec.monitoring is not None
    with DAG(
        spec.dag_id("health"),
        schedule=spec.monitoring.health_schedule,
        doc_md=doc,
        **_dag_args(spec, "health"),
    ) as dag:
        HealthReportOperator(task_id="health_report", pipeline=pipeline)
    return dag


def build_rollback(spec: PipelineSpec, pipeline: PipelineConfig, doc: str) -> DAG:
    with DAG(
        spec.dag_id("rollback"),
        schedule=None,
        doc_md=doc,
        **_dag_args(spec, "rollback"),
    ) as dag:
        RollbackOperator(task_id="rollback", pipeline=pipeline, canary=spec.canary)
    _declare_params(
        dag,
        {
            "version": Param(
                None,
                type=["null", "string"],
                description="version to make champion; empty: previous",
            )
        },
    )
    return dag


def _declare_params(dag: DAG, params: dict[str, Param]) -> None:
    """Give the DAG its run params once its tasks exist (the trigger form, `{{ params.x }}`).

    Passed to `DAG(params=...)` instead, Airflow would deep-copy them into every task made
    inside the DAG, and JSON-schema-validate their defaults when a scheduled DAG is created:
    ≈ 1 ms per param of the training DAG on every parse, plus a copy per task (measured in
    bench/BENCHMARKS.md, issue 12). A task reads them from its run's context, which Airflow
    merges from the DAG's params and the run's conf, validated against the schemas when the
    run is triggered; the copies would only serve a per-task override, which the factory
    never makes. Their defaults are valid (tests/integration/test_factory.py checks it)."""
    for name, param in params.items():
        dag.params[name] = param


def _training_schedule(spec: PipelineSpec) -> Any:
    asset = Asset(spec.retrain_asset_uri) if spec.retrain_on_request else None
    if spec.schedule is None or spec.schedule == "@once":
        return [asset] if asset else spec.schedule
    timetable = CronTriggerTimetable(PRESET_CRON.get(spec.schedule, spec.schedule), timezone="UTC")
    return AssetOrTimeSchedule(timetable=timetable, assets=[asset]) if asset else timetable


def _released_asset_uri(spec: PipelineSpec) -> str:
    """Events of requested training runs that failed before training: their requests no
    longer count for monitoring's cooldown."""
    return f"{spec.retrain_asset_uri}-released"


def _prediction_column(spec: PipelineSpec) -> str | None:
    """The champion's output column of monitored data, also tested (when present) in batches."""
    return spec.monitoring.prediction_column if spec.monitoring else None


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
            # before every attempt and resume: library warnings and MLflow's stderr out of the
            # task log, so its decision is on the first screen (log_noise.py)
            "on_execute_callback": quiet_library_noise,
        },
    }


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
        from airflow_mlops_provider.operators.run_note import note_decision

        note_decision(context, f"Configuration error, no pipeline DAGs built: {self.error}")
        raise MlopsConfigError(self.error)
