"""Monitoring steps: collect the inference-log window, live performance, decide, request
retraining, alert, and the daily health report.

The monitoring DAG (factory/builders.py) is

    collect_window → validate_serving_data → detect_drift ─────────┐
                                           └→ live_performance ────┴→ decide → request_retraining
                                                                               + alert / healthy

`decide` is the one place that turns drift and performance decay into a retrain request, so
the cooldown applies to both. Wording lives in core/monitoring_report.py.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, NoReturn

from airflow.sdk.exceptions import AirflowSkipException

from airflow_mlops_provider.core.text import human_list, human_value
from airflow_mlops_provider.operators.base import PipelineBranchOperator, PipelineOperator
from airflow_mlops_provider.run_note import note_decision
from airflow_mlops_provider.spec.models import PipelineSpec

if TYPE_CHECKING:
    from airflow.sdk import Context


def prediction_column(spec: PipelineSpec) -> str:
    """The logs' prediction column (`monitoring.prediction_column`)."""
    assert spec.monitoring is not None
    return spec.monitoring.prediction_column


class CollectWindowOperator(PipelineOperator):
    """Freeze this run's inference-log window into the run folder, with predictions.

    `source` is rendered once per day of the run's schedule period (core/windows.py;
    `{{ ds }}` is that day), so a weekly run over daily partitions reads all seven; every file
    of every partition is read and listed in the log. The copy means every later step — and a
    cleared re-run — reads the same rows even if the log source keeps growing. When the logs
    carry no prediction column, the window is scored with the champion (the model serving
    it), so prediction drift and live performance have something to check. No rows at all:
    the run is skipped with the reason, which is recorded (audit, status for the health
    report) — an outage is not a crash.
    """

    ui_color = "#eef7e8"

    def __init__(self, *, source: str, cron: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source = source  # a template, rendered per day in execute()
        self.cron = cron  # the monitoring schedule as cron; None: the run's own day only

    def execute(self, context: Context) -> dict[str, Any]:
        import pandas as pd

        fmt = self.spec.monitoring.format
        frames, read, missing = [], [], []
        for location in self._partitions(context):
            try:
                files = self.storage.files(location, fmt)
            except FileNotFoundError:
                missing.append(location)
                continue
            frame = self.storage.read_frame(location, fmt)
            frames.append(frame)
            read += files
            self.log.info("Read %d rows from %d file(s) in %s", len(frame), len(files), location)
            for item in files:
                self.log.info("  %s (%d bytes)", item["uri"], item["bytes"])
        for location in missing:
            self.log.warning("No inference logs at %s", location)
        rows = sum(len(f) for f in frames)
        if rows == 0:
            self._empty(context, read, missing)
        frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        frame, scored_with = self._with_predictions(frame)
        target = self.storage.join(self.run_folder(context), self.task_id, "window.parquet")
        uri = self.storage.write_frame(frame, target)
        self.log.info("Window: %d rows from %d file(s) → %s", rows, len(read), uri)
        return {
            "window_uri": uri,
            "rows": rows,
            "files": [f["uri"] for f in read],
            "missing": missing,
            "scored_with": scored_with,
        }

    def _partitions(self, context: Context) -> list[str]:
        """The source rendered for each day of the period ending at the run's logical date."""
        from airflow_mlops_provider.core.windows import window_days

        anchor = context.get("logical_date") or context["dag_run"].run_after
        locations = []
        for day in window_days(anchor, self.cron):
            rendered = self.render_template(
                self.source, {**context, "ds": day.isoformat(), "ds_nodash": f"{day:%Y%m%d}"}
            )
            locations.append(self.storage.resolve(rendered))
        return list(dict.fromkeys(locations))

    def _empty(self, context: Context, read: list[dict], missing: list[str]) -> NoReturn:
        looked = [f["uri"] for f in read] + missing
        reason = f"no inference logs in this window (looked at {', '.join(looked)})"
        self.audit(context, "empty_window", {"reason": reason, "missing": missing})
        write_status(self, context, {"status": "no_data", "reason": reason})
        raise AirflowSkipException(f"{reason}: nothing to monitor; downstream tasks are skipped")

    def _with_predictions(self, frame: Any) -> tuple[Any, str | None]:
        """(frame with the prediction column, champion version that scored it or None)."""
        from airflow_mlops_provider.adapters import mlflow_registry as registry

        column = prediction_column(self.spec)
        if column in frame.columns:
            self.log.info("The logs carry the served predictions (column %r)", column)
            return frame, None
        champion = registry.by_alias(self.mlflow, self.spec.model_name, registry.CHAMPION)
        features = self.spec.data.features.all
        absent = [f for f in features if f not in frame.columns]
        if champion is None or absent:
            why = (
                f"features {human_list(absent)} are missing"
                if absent
                else "there is no champion yet"
            )
            self.log.warning(
                "The logs carry no %r column and %s: no prediction drift or live performance "
                "for this window",
                column,
                why,
            )
            return frame, None
        import mlflow

        from airflow_mlops_provider.core.metrics import to_scores

        model = mlflow.pyfunc.load_model(champion.uri)
        frame = frame.assign(**{column: to_scores(model.predict(frame[features]))})
        self.log.info(
            "The logs carry no %r column: scored the %d rows with the champion %s v%s "
            "(the model serving them)",
            column,
            len(frame),
            self.spec.model_name,
            champion.version,
        )
        return frame, champion.version


class LivePerformanceOperator(PipelineOperator):
    """The evaluation metrics on the window's requests whose labels have arrived.

    Labels (`monitoring.labels`, templated) are joined by `monitoring.id_column`; the YAML's
    evaluation metrics are computed on the labelled part and `monitoring.performance` judges
    its metric. No labels yet, or fewer than `min_labelled_rows`: the task is skipped with the
    reason (pushed under "performance" too) — nothing to judge is not a failure."""

    template_fields = ("labels",)
    ui_color = "#e4f1fb"

    def __init__(self, *, labels: str, window_task_id: str = "collect_window", **kwargs: Any):
        super().__init__(**kwargs)
        self.labels = labels
        self.window_task_id = window_task_id

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_mlops_provider.core.live_performance import TOO_FEW_LABELS, assess

        monitoring = self.spec.monitoring
        location = self.storage.resolve(self.labels)
        try:
            labels = self.storage.read_frame(location, monitoring.format)
        except FileNotFoundError:
            self._skip(context, f"no labels yet at {location}")
        window = self.storage.read_frame(
            context["ti"].xcom_pull(task_ids=self.window_task_id)["window_uri"]
        )
        column = prediction_column(self.spec)
        if column not in window.columns:
            self._skip(context, f"the window has no {column!r} column (see collect_window)")
        joined, stats = self._join(window, labels, column)
        result = assess(
            joined,
            stats,
            target=self.spec.data.target,
            prediction_column=column,
            metrics=list(self.spec.evaluation.metrics),
            threshold=self.spec.evaluation.threshold,
            rule=monitoring.performance,
        )
        summary = {**result.to_dict(), "labels": location}
        if result.status == TOO_FEW_LABELS:
            self._skip(context, result.reason, summary)
        folder = self.storage.join(self.run_folder(context), self.task_id)
        summary["report"] = self.storage.write_text(
            self.storage.join(folder, "performance.json"), json.dumps(summary, indent=2)
        )
        self.log.info("Live %s (%s)", result.reason, result.status.upper())
        context["ti"].xcom_push(key="performance", value=summary)
        self.audit(context, "live_performance", summary)
        return summary

    def _join(self, window: Any, labels: Any, column: str) -> tuple[Any, Any]:
        from airflow_mlops_provider.core.live_performance import join_labels

        joined, stats = join_labels(
            window,
            labels,
            id_column=self.spec.monitoring.id_column,
            target=self.spec.data.target,
            prediction_column=column,
        )
        self.log.info(
            "Labels: %d rows (%d duplicates, %d for requests outside this window); "
            "%d of %d requests labelled (%.0f%%)",
            stats.label_rows,
            stats.duplicate_labels,
            stats.unmatched_labels,
            stats.labelled_rows,
            stats.window_rows,
            100 * stats.labelled_share,
        )
        return joined, stats

    def _skip(self, context: Context, reason: str, summary: dict | None = None) -> NoReturn:
        summary = {"status": "not_assessed", **(summary or {}), "reason": reason}
        context["ti"].xcom_push(key="performance", value=summary)
        self.audit(context, "live_performance", summary)
        self.log.info("Live performance not assessed: %s", reason)
        raise AirflowSkipException(f"live performance not assessed: {reason}")


class MonitoringDecisionOperator(PipelineBranchOperator):
    """Turn drift and live performance into one decision: retrain + alert, alert, or healthy.

    Either drift or decay requests retraining — unless a retrain-request event (this task's
    inlet) is younger than `monitoring.cooldown_hours`: then it only alerts, so one incident
    does not start a retraining every hour. The decision is pushed under "decision" and
    written as the latest monitoring status for the health report."""

    ui_color = "#fff4d6"

    def __init__(
        self,
        *,
        retrain_branch: list[str],
        alert_branch: str,
        healthy_branch: str,
        drift_task_id: str = "detect_drift",
        performance_task_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.retrain_branch = retrain_branch
        self.alert_branch = alert_branch
        self.healthy_branch = healthy_branch
        self.drift_task_id = drift_task_id
        self.performance_task_id = performance_task_id

    def choose_branch(self, context: Context) -> str | list[str]:
        from airflow_mlops_provider.core.monitoring_report import (
            causes,
            performance_line,
            reason_of,
            top_drifted,
        )

        ti = context["ti"]
        drift = ti.xcom_pull(task_ids=self.drift_task_id, key="drift")
        performance = None
        if self.performance_task_id:
            performance = ti.xcom_pull(task_ids=self.performance_task_id, key="performance")
        found = causes(drift, performance)
        cooldown = self._cooldown(context) if found else None
        branch: str | list[str] = self.healthy_branch
        if found:
            branch = self.alert_branch if cooldown else self.retrain_branch
        decision = {
            "status": "healthy" if not found else ("cooldown" if cooldown else "retrain"),
            "branch": branch,
            "causes": found,
            "reason": reason_of(drift, performance),
            "cooldown": cooldown,
            "retrain_requested": bool(found and not cooldown),
            "report": (drift or {}).get("report"),
            "report_json": (drift or {}).get("report_json"),  # from the drift engine, if any
            "performance_report": (performance or {}).get("report"),
            "drift": drift,
            "performance": performance,
        }
        self.log.info("Top drifted features: %s", "; ".join(top_drifted(drift)) or "none")
        self.log.info(performance_line(performance))
        self.log.info(
            "Decision: %s (%s)",
            human_value(branch),
            "; ".join(filter(None, [decision["reason"], cooldown])),
        )
        ti.xcom_push(key="decision", value=decision)
        note_decision(context, f"Monitoring: {decision['status']} — {decision['reason']}")
        write_status(self, context, decision)
        audited = ("status", "branch", "causes", "reason", "cooldown", "report")
        self.audit(context, "monitoring_decided", {k: decision[k] for k in audited})
        return branch

    def _cooldown(self, context: Context) -> str | None:
        """Why not to request retraining again: a retrain-request event within the cooldown."""
        hours = self.spec.monitoring.cooldown_hours
        if not hours or not self.inlets:
            return None
        since = (datetime.now(UTC) - timedelta(hours=hours)).isoformat()
        events = context["inlet_events"][self.inlets[0]]
        recent = list(events.after(since).ascending(False).limit(1))
        if not recent:
            return None
        return f"retraining already requested at {recent[0].timestamp} (cooldown {hours:g} h)"


class RequestRetrainingOperator(PipelineOperator):
    """Emit the pipeline's retrain-request Asset event, carrying the reason and report paths.

    The Asset is this task's outlet; Airflow records the event only when the task succeeds,
    and the training DAG is scheduled on it (DESIGN.md §1)."""

    ui_color = "#ffd6d6"

    def __init__(self, *, decision_task_id: str = "decide", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.decision_task_id = decision_task_id

    def execute(self, context: Context) -> dict[str, Any]:
        decision = context["ti"].xcom_pull(task_ids=self.decision_task_id, key="decision")
        extra = {
            "reason": decision["reason"],
            "causes": decision["causes"],
            "report": decision.get("report"),
            "performance_report": decision.get("performance_report"),
            "source_run_id": context["ti"].run_id,
        }
        for outlet in self.outlets:
            context["outlet_events"][outlet].extra = extra
        self.log.info("Requested retraining: %s", decision["reason"])
        self.audit(context, "retrain_requested", extra)
        return extra


class MonitoringAlertOperator(PipelineOperator):
    """Slack alert for drift or decay: reason, top drifted features, live metric, reports."""

    ui_color = "#ffe9c7"

    def __init__(self, *, decision_task_id: str = "decide", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.decision_task_id = decision_task_id

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_mlops_provider.core.monitoring_report import alert_text

        decision = context["ti"].xcom_pull(task_ids=self.decision_task_id, key="decision")
        text = alert_text(self.spec.pipeline, context["ti"].run_id, decision)
        status = self.notify(text)  # logs the text itself when Slack is not reached
        if status == "sent":
            self.log.info("Alert sent to Slack:\n%s", text)
        self.audit(
            context, "notified", {"kind": "alert", "status": status, "reason": decision["reason"]}
        )
        return {"status": status, "text": text}


class HealthReportOperator(PipelineOperator):
    """The daily health report: latest monitoring decision (drift, live metric), champion and
    last training — as JSON in storage and as one Slack message."""

    ui_color = "#e8f5e9"

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_mlops_provider.core.monitoring_report import health_report, health_text

        latest = status_uri(self)
        status = json.loads(self.storage.read_text(latest)) if self.storage.exists(latest) else None
        champion, last = self._registry_facts()
        report = health_report(
            self.spec.pipeline,
            status=status,
            champion=champion,
            last_training=last,
            generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        folder = self.storage.join(self.run_folder(context), self.task_id)
        uri = self.storage.write_text(
            self.storage.join(folder, "health.json"), json.dumps(report, indent=2, default=str)
        )
        text = health_text(report)
        sent = self.notify(text)  # logs the text itself when Slack is not reached
        self.log.info("Health report %s; JSON: %s", sent, uri)
        if sent == "sent":
            self.log.info("Health report:\n%s", text)
        note_decision(context, *text.splitlines()[1:])
        self.audit(context, "notified", {"kind": "health", "status": sent, "report": uri})
        return {"report": uri, "status": sent, "text": text}

    def _registry_facts(self) -> tuple[dict | None, dict | None]:
        """(champion, newest version) with their registration times, from the registry."""
        from airflow_mlops_provider.adapters import mlflow_registry as registry

        name = self.spec.model_name
        champion = registry.by_alias(self.mlflow, name, registry.CHAMPION)
        try:
            versions = self.mlflow.search_model_versions(f"name='{name}'")
        except Exception as exc:  # no such registered model yet
            self.log.info("No model versions for %s: %s", name, exc)
            versions = []
        by_number = {str(v.version): v for v in versions}

        def facts(version: Any) -> dict[str, Any]:
            created = datetime.fromtimestamp(version.creation_timestamp / 1000, tz=UTC)
            return {
                "version": str(version.version),
                "created": created.isoformat(timespec="seconds"),
                "gate": (version.tags or {}).get("mlops.gate"),
            }

        newest = max(versions, key=lambda v: int(v.version), default=None)
        return (
            facts(by_number[champion.version])
            if champion and champion.version in by_number
            else None,
            facts(newest) if newest is not None else None,
        )


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
        note_decision(context, *lines[1:])
        self.audit(context, "notified", {"status": status, "text": text})
        return {"status": status, "text": text}


def _brief(value: Any) -> str:
    from airflow_mlops_provider.core.text import human_mapping

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
        return human_mapping({k: value.get(k) for k in keys})
    return human_value(value)


def status_uri(operator: PipelineOperator | PipelineBranchOperator) -> str:
    return operator.storage.join(operator.pipeline_root, "monitoring", "latest.json")


def write_status(
    operator: PipelineOperator | PipelineBranchOperator, context: Context, status: dict[str, Any]
) -> None:
    """Record this run's monitoring outcome as the latest status, which the health report
    reads. A backfill of an older window does not overwrite a newer one."""
    dag_run = context["dag_run"]
    window = str(context.get("logical_date") or dag_run.run_after)
    record = {**status, "run_id": dag_run.run_id, "window": window}
    text = json.dumps(record, indent=2, default=str)
    storage, latest = operator.storage, status_uri(operator)
    storage.write_text(
        storage.join(operator.run_folder(context), operator.task_id, "status.json"), text
    )
    if storage.exists(latest) and json.loads(storage.read_text(latest))["window"] > window:
        operator.log.info("An older window than the latest status: %s kept", latest)
        return
    storage.write_text(latest, text)
