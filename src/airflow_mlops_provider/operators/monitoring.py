"""Monitoring steps: collect an inference-log window, request retraining, notify."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_mlops_provider.operators.base import PipelineOperator

if TYPE_CHECKING:
    from airflow.sdk import Context


class CollectWindowOperator(PipelineOperator):
    """Copy this run's inference-log batch into the run folder, so every later step (and a
    cleared re-run) reads the same immutable window even if the log source keeps growing."""

    template_fields = ("source",)
    ui_color = "#eef7e8"

    def __init__(self, *, source: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source = source

    def execute(self, context: Context) -> dict[str, Any]:
        frame = self.storage.read_frame(self.source, self.spec.monitoring.format)
        target = self.storage.join(self.run_folder(context), self.task_id, "window.parquet")
        uri = self.storage.write_frame(frame, target)
        self.log.info("Collected %d rows from %s", len(frame), self.storage.resolve(self.source))
        return {"window_uri": uri, "rows": len(frame), "source": self.storage.resolve(self.source)}


class RequestRetrainingOperator(PipelineOperator):
    """Emit the pipeline's retrain-request Asset event, carrying the reason and report path.

    The Asset is this task's outlet; Airflow records the event only when the task succeeds,
    and the training DAG is scheduled on it (DESIGN.md §1)."""

    ui_color = "#ffd6d6"

    def __init__(self, *, drift_task_id: str = "detect_drift", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.drift_task_id = drift_task_id

    def execute(self, context: Context) -> dict[str, Any]:
        drift = context["ti"].xcom_pull(task_ids=self.drift_task_id, key="drift")
        extra = {
            "reason": drift["reason"],
            "report": drift.get("report"),
            "source_run_id": context["ti"].run_id,
        }
        for outlet in self.outlets:
            context["outlet_events"][outlet].extra = extra
        self.log.info("Requested retraining: %s", drift["reason"])
        self.audit(context, "retrain_requested", extra)
        return extra


class NotifyOperator(PipelineOperator):
    """Send one message summing up this DAG run's decisions (Slack, or the log)."""

    ui_color = "#f0f0f0"

    def __init__(self, *, summary_from: dict[str, str], headline: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.summary_from = summary_from  # {label: "task_id" or "task_id:xcom_key"}
        self.headline = headline

    def execute(self, context: Context) -> dict[str, Any]:
        lines = [f"{self.headline} — {self.spec.pipeline} ({context['dag_run'].run_id})"]
        for label, source in self.summary_from.items():
            task_id, _, key = source.partition(":")
            value = context["ti"].xcom_pull(task_ids=task_id, key=key or "return_value")
            if value is not None:
                lines.append(f"• {label}: {_brief(value)}")
        text = "\n".join(lines)
        status = self.notify(text)
        self.audit(context, "notified", {"status": status, "text": text})
        return {"status": status, "text": text}


def _brief(value: Any) -> str:
    if isinstance(value, dict):
        keys = (
            "decision",
            "branch",
            "reason",
            "version",
            "champion",
            "rejected",
            "reasons",
            "snapshot_id",
            "rows",
        )
        return ", ".join(f"{k}={value[k]}" for k in keys if value.get(k) not in (None, [], ""))
    return str(value)
