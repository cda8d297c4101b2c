"""Monitoring steps: collect the inference-log window, live performance, decide, request
retraining, alert, the daily health report, and the run summary message.

The monitoring DAG (factory/builders.py) is

    collect_window → validate_serving_data → detect_drift ─────────┐
                                           └→ live_performance ────┴→ decide → request_retraining
                                                                               + alert / healthy

The work is in services/monitoring.py, services/health.py and services/summary.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseBranchOperator, BaseOperator
from airflow.sdk.exceptions import AirflowSkipException

from airflow_mlops_provider.operators.pods import RunsStepOnPod
from airflow_mlops_provider.operators.run_identity import BatchTemplated, run_batch
from airflow_mlops_provider.operators.run_note import note_decision
from airflow_mlops_provider.services.config import PipelineConfig, as_block
from airflow_mlops_provider.spec import (
    DataSpec,
    EvaluationSpec,
    Features,
    MonitoringSpec,
    StepPod,
)

if TYPE_CHECKING:
    from airflow.sdk import Context


class CollectWindowOperator(RunsStepOnPod, BaseOperator):
    """Freeze this run's inference-log window into the run folder, with predictions.

    `source` is rendered once per day of the run's schedule period (core/windows.py;
    `{{ ds }}` is that day), so a weekly run over daily partitions reads all seven; every file
    of every partition is read and listed in the log. The copy means every later step — and a
    cleared re-run — reads the same rows even if the log source keeps growing. Logs without a
    prediction column are scored with the champion. No rows at all: the task is skipped with
    the reason, which is recorded (audit, status for the health report). With `pod` the
    window is read and scored in a Kubernetes pod (`compute.scoring: kubernetes`, by default
    in the trainer's image) while the task defers, with the same outcome.

    :param pipeline: the pipeline's shared settings (`PipelineConfig` or a dict of it).
    :param monitoring: YAML block `monitoring` (`MonitoringSpec` or dict): log format and
        prediction column.
    :param features: YAML `data.features` (`Features` or dict): what the champion scores.
    :param source: the inference-log partition, a template rendered per day.
    :param cron: the DAG's schedule as cron, which defines the period; None: the run's day.
    :param pod: where to read and score: a `StepPod` (or dict of it) for a Kubernetes pod,
        None (default) for this worker.
    """

    ui_color = "#eef7e8"
    step = "scoring"

    def __init__(
        self,
        *,
        pipeline: PipelineConfig | dict[str, Any],
        monitoring: MonitoringSpec | dict[str, Any],
        features: Features | dict[str, Any],
        source: str,
        cron: str | None = None,
        pod: StepPod | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.pipeline = as_block(PipelineConfig, pipeline)
        self.monitoring = as_block(MonitoringSpec, monitoring)
        self.features = as_block(Features, features)
        self.source = source  # a template, rendered per day in execute()
        self.cron = cron
        self.pod = as_block(StepPod, pod)

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_mlops_provider.operators.runtime import build_runtime

        rt = build_runtime(self.pipeline, context)
        locations = [rt.storage.resolve(p) for p in self._partitions(context)]
        inputs = {
            "locations": list(dict.fromkeys(locations)),
            "monitoring": self.monitoring.model_dump(mode="json"),
            "features": self.features.all,
            "window": window_end(context),
        }
        return _window(self.run_step(context, rt, inputs))

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        """The scoring pod ended: its window, as if collected here."""
        return _window(self.step_result(context, event))

    def _partitions(self, context: Context) -> list[str]:
        """The source rendered for each day of the period ending at the run's logical date."""
        from airflow_mlops_provider.core.windows import window_days

        anchor = context.get("logical_date") or context["dag_run"].run_after
        return [
            self.render_template(
                self.source, {**context, "ds": day.isoformat(), "ds_nodash": f"{day:%Y%m%d}"}
            )
            for day in window_days(anchor, self.cron)
        ]


class LivePerformanceOperator(BatchTemplated, BaseOperator):
    """The evaluation metrics on the window's requests whose labels have arrived.

    Labels are joined by `monitoring.id_column`; `monitoring.performance` judges its metric.
    The summary is XCom "performance". No labels yet, or fewer than `min_labelled_rows`: the
    task is skipped with the reason — nothing to judge is not a failure.

    :param pipeline: the pipeline's shared settings (`PipelineConfig` or a dict of it).
    :param monitoring: YAML block `monitoring` (`MonitoringSpec` or dict).
    :param data: YAML block `data` (`DataSpec` or dict): the target column.
    :param evaluation: YAML block `evaluation` (`EvaluationSpec` or dict): metrics, threshold.
    :param labels: where the ground truth arrives (templated, `monitoring.labels`).
    :param window_task_id: task whose XCom holds the window (`window_uri`).
    """

    template_fields = ("labels",)
    ui_color = "#e4f1fb"

    def __init__(
        self,
        *,
        pipeline: PipelineConfig | dict[str, Any],
        monitoring: MonitoringSpec | dict[str, Any],
        data: DataSpec | dict[str, Any],
        evaluation: EvaluationSpec | dict[str, Any],
        labels: str,
        window_task_id: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.pipeline = as_block(PipelineConfig, pipeline)
        self.monitoring = as_block(MonitoringSpec, monitoring)
        self.data = as_block(DataSpec, data)
        self.evaluation = as_block(EvaluationSpec, evaluation)
        self.labels = labels
        self.window_task_id = window_task_id

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_mlops_provider.operators.runtime import build_runtime
        from airflow_mlops_provider.services.monitoring import live_performance

        ti = context["ti"]
        performance = live_performance(
            build_runtime(self.pipeline, context),
            labels=self.labels,
            window_uri=ti.xcom_pull(task_ids=self.window_task_id)["window_uri"],
            data=self.data,
            evaluation=self.evaluation,
            monitoring=self.monitoring,
        )
        ti.xcom_push(key="performance", value=performance.to_xcom())
        if not performance.assessed:
            raise AirflowSkipException(
                f"live performance not assessed: {performance.summary['reason']}"
            )
        return performance.to_xcom()


class MonitoringDecisionOperator(BaseBranchOperator):
    """Turn drift and live performance into one decision: retrain + alert, alert, or healthy.

    Either drift or decay requests retraining — unless a retrain-request event (this task's
    first inlet) is younger than `monitoring.cooldown_hours` and was not released (the second
    inlet: its training run failed before training): then it only alerts. The
    decision is XCom "decision" and the latest monitoring status for the health report.

    :param pipeline: the pipeline's shared settings (`PipelineConfig` or a dict of it).
    :param monitoring: YAML block `monitoring` (`MonitoringSpec` or dict): cooldown_hours.
    :param drift_task_id: task whose XCom "drift" holds the drift summary.
    :param performance_task_id: task whose XCom "performance" holds the live performance
        (None: no labels configured).
    :param retrain_branch: task id(s) when retraining is requested.
    :param alert_branch: task id(s) when it is not, because of the cooldown (alert only).
    :param healthy_branch: task id(s) when nothing is wrong.
    """

    ui_color = "#fff4d6"

    def __init__(
        self,
        *,
        pipeline: PipelineConfig | dict[str, Any],
        monitoring: MonitoringSpec | dict[str, Any],
        drift_task_id: str,
        retrain_branch: str | list[str],
        alert_branch: str | list[str],
        healthy_branch: str | list[str],
        performance_task_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.pipeline = as_block(PipelineConfig, pipeline)
        self.monitoring = as_block(MonitoringSpec, monitoring)
        self.drift_task_id = drift_task_id
        self.performance_task_id = performance_task_id
        self.retrain_branch = retrain_branch
        self.alert_branch = alert_branch
        self.healthy_branch = healthy_branch

    def choose_branch(self, context: Context) -> str | list[str]:
        from airflow_mlops_provider.operators.runtime import build_runtime
        from airflow_mlops_provider.services.monitoring import DecisionRoutes, decide

        ti = context["ti"]
        performance = None
        if self.performance_task_id:
            performance = ti.xcom_pull(task_ids=self.performance_task_id, key="performance")
        decision = decide(
            build_runtime(self.pipeline, context),
            drift=ti.xcom_pull(task_ids=self.drift_task_id, key="drift"),
            performance=performance,
            monitoring=self.monitoring,
            routes=DecisionRoutes(self.retrain_branch, self.alert_branch, self.healthy_branch),
            window=window_end(context),
            requested_since=self._requests(context) if self.inlets else None,
        )
        outcome = decision.to_xcom()
        ti.xcom_push(key="decision", value=outcome)
        note_decision(context, f"Monitoring: {outcome['status']} — {outcome['reason']}")
        return decision.route

    def _requests(self, context: Context) -> Any:
        """The newest retrain request (first inlet) at or after a time that was not released
        (second inlet: its training failed before training), or None."""
        from airflow_mlops_provider.services.monitoring import newest_pending_request

        def newest_since(since: datetime) -> datetime | None:
            def after(inlet: Any) -> list[Any]:
                return list(context["inlet_events"][inlet].after(since.isoformat()))

            released = [dict(e.extra or {}) for i in self.inlets[1:] for e in after(i)]
            requests = [(e.timestamp, dict(e.extra or {})) for e in after(self.inlets[0])]
            return newest_pending_request(requests, released)

        return newest_since


class RequestRetrainingOperator(BaseOperator):
    """Emit the pipeline's retrain-request Asset event, carrying the reason and report paths.

    The Asset is this task's outlet; Airflow records the event only when the task succeeds,
    and the training DAG is scheduled on it (DESIGN.md §1).

    :param pipeline: the pipeline's shared settings (`PipelineConfig` or a dict of it).
    :param decision_task_id: task whose XCom "decision" holds the monitoring decision.
    """

    ui_color = "#ffd6d6"

    def __init__(
        self, *, pipeline: PipelineConfig | dict[str, Any], decision_task_id: str, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.pipeline = as_block(PipelineConfig, pipeline)
        self.decision_task_id = decision_task_id

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_mlops_provider.operators.runtime import build_runtime
        from airflow_mlops_provider.services.monitoring import request_retraining

        decision = context["ti"].xcom_pull(task_ids=self.decision_task_id, key="decision")
        extra = request_retraining(
            build_runtime(self.pipeline, context), decision=decision, batch=run_batch(context).batch
        )
        for outlet in self.outlets:
            context["outlet_events"][outlet].extra = extra
        return extra


class MonitoringAlertOperator(BaseOperator):
    """Slack alert for drift or decay: reason, top drifted features, live metric, reports.

    :param pipeline: the pipeline's shared settings (`PipelineConfig` or a dict of it).
    :param decision_task_id: task whose XCom "decision" holds the monitoring decision.
    """

    ui_color = "#ffe9c7"

    def __init__(
        self, *, pipeline: PipelineConfig | dict[str, Any], decision_task_id: str, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.pipeline = as_block(PipelineConfig, pipeline)
        self.decision_task_id = decision_task_id

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_mlops_provider.operators.runtime import build_runtime
        from airflow_mlops_provider.services.monitoring import alert

        decision = context["ti"].xcom_pull(task_ids=self.decision_task_id, key="decision")
        return alert(build_runtime(self.pipeline, context), decision=decision)


class HealthReportOperator(BaseOperator):
    """The daily health report: latest monitoring decision (drift, live metric), champion and
    last training — as JSON in storage and as one Slack message.

    :param pipeline: the pipeline's shared settings (`PipelineConfig` or a dict of it).
    """

    ui_color = "#e8f5e9"

    def __init__(self, *, pipeline: PipelineConfig | dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pipeline = as_block(PipelineConfig, pipeline)

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_mlops_provider.operators.runtime import build_runtime
        from airflow_mlops_provider.services.health import health_report

        report = health_report(build_runtime(self.pipeline, context))
        note_decision(context, *report["text"].splitlines()[1:])  # below the headline
        return report


class NotifyOperator(BaseOperator):
    """Send one message summing up this DAG run's decisions (Slack, or the log).

    :param pipeline: the pipeline's shared settings (`PipelineConfig` or a dict of it).
    :param headline: the message's first words, e.g. "Training".
    :param summary_from: {label: "task_id" or "task_id:xcom_key"}: one line per result
        found (tasks that did not succeed are left out, and not asked for their XCom).
    """

    ui_color = "#f0f0f0"

    def __init__(
        self,
        *,
        pipeline: PipelineConfig | dict[str, Any],
        headline: str,
        summary_from: dict[str, str],
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.pipeline = as_block(PipelineConfig, pipeline)
        self.headline = headline
        self.summary_from = summary_from

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_mlops_provider.operators.runtime import build_runtime
        from airflow_mlops_provider.services.summary import send_summary

        ti = context["ti"]
        wanted = {label: source.partition(":")[::2] for label, source in self.summary_from.items()}
        # Only tasks that succeeded are asked: a missing XCom is logged at ERROR by Airflow.
        ran = ti.get_task_states(
            dag_id=ti.dag_id, run_ids=[ti.run_id], task_ids=sorted({t for t, _ in wanted.values()})
        ).get(ti.run_id, {})
        results = {
            label: ti.xcom_pull(task_ids=task_id, key=key or "return_value")
            if ran.get(task_id) == "success"
            else None
            for label, (task_id, key) in wanted.items()
        }
        summary = send_summary(
            build_runtime(self.pipeline, context), headline=self.headline, results=results
        )
        note_decision(context, *summary["text"].splitlines()[1:])  # below the headline
        return summary


def _window(collected: dict[str, Any]) -> dict[str, Any]:
    """The window for XCom; none at all skips the task (and everything after it)."""
    if collected["skipped"]:
        raise AirflowSkipException(
            f"{collected['skipped']}: nothing to monitor; downstream tasks are skipped"
        )
    return collected["window"]


def window_end(context: Context) -> str:
    """The end of the period a monitoring run covers (its logical date, or when it ran)."""
    return str(context.get("logical_date") or context["dag_run"].run_after)
