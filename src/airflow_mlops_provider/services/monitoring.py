"""Monitoring steps: collect the inference-log window, live performance, decide, request
retraining, alert.

    collect_window → (validate, check drift) ─┐
                   └→ live_performance ───────┴→ decide → request_retraining + alert / healthy

`decide` is the one place that turns drift and performance decay into a retrain request, so
the cooldown applies to both. Wording lives in core/monitoring_report.py.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow_mlops_provider.core.text import human_list, human_value
from airflow_mlops_provider.services.health import write_status

if TYPE_CHECKING:
    import pandas as pd

    from airflow_mlops_provider.services.runtime import Runtime
    from airflow_mlops_provider.spec import DataSpec, EvaluationSpec, MonitoringSpec

log = logging.getLogger(__name__)
Route = str | list[str]


@dataclass(frozen=True)
class Window:
    """The run's frozen window of inference logs; `skipped` says why there is none."""

    window_uri: str | None
    rows: int
    files: list[str]
    missing: list[str]
    scored_with: str | None = None  # the champion version that scored it, if it was scored
    skipped: str | None = None

    def to_xcom(self) -> dict[str, Any]:
        return {
            "window_uri": self.window_uri,
            "rows": self.rows,
            "files": self.files,
            "missing": self.missing,
            "scored_with": self.scored_with,
        }


@dataclass(frozen=True)
class Performance:
    """The live metric on the labelled part of the window, or why it was not assessed."""

    summary: dict[str, Any]

    @property
    def assessed(self) -> bool:
        return self.summary["status"] != "not_assessed"

    def to_xcom(self) -> dict[str, Any]:
        return self.summary


@dataclass(frozen=True)
class DecisionRoutes:
    """Where each monitoring outcome leads (task ids in a DAG)."""

    retrain: Route
    cooldown: Route
    healthy: Route


@dataclass(frozen=True)
class MonitoringDecision:
    """Status (healthy / retrain / cooldown), route, causes, reason, reports, inputs."""

    decision: dict[str, Any]

    @property
    def route(self) -> Route:
        return self.decision["branch"]

    def to_xcom(self) -> dict[str, Any]:
        return self.decision


def collect_window(
    rt: Runtime,
    *,
    locations: list[str],
    monitoring: MonitoringSpec,
    features: list[str],
    window: str,
) -> Window:
    """Read every file of every partition in `locations` (the source rendered per day of
    the run's period) and freeze them into one parquet in the task folder, so every later
    step — and a cleared re-run — reads the same rows. Logs without a prediction column are
    scored with the champion (the model that served them). No rows at all: the outcome is
    recorded (audit, latest status) and the window is `skipped` — an outage is not a crash."""
    import pandas as pd

    frames, read, missing = [], [], []
    for location in locations:
        try:
            files = rt.storage.files(location, monitoring.format)
        except FileNotFoundError:
            missing.append(location)
            continue
        frame = rt.storage.read_frame(location, monitoring.format)
        frames.append(frame)
        read += files
        log.info("Read %d rows from %d file(s) in %s", len(frame), len(files), location)
        for item in files:
            log.info("  %s (%d bytes)", item["uri"], item["bytes"])
    for location in missing:
        log.warning("No inference logs at %s", location)
    rows = sum(len(f) for f in frames)
    if rows == 0:
        looked = [f["uri"] for f in read] + missing
        reason = f"no inference logs in this window (looked at {', '.join(looked)})"
        rt.audit("empty_window", {"reason": reason, "missing": missing})
        write_status(rt, {"status": "no_data", "reason": reason}, window=window)
        return Window(None, 0, [], missing, skipped=reason)
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    frame, scored_with = _with_predictions(rt, frame, monitoring.prediction_column, features)
    uri = rt.storage.write_frame(frame, rt.task_folder("window.parquet"))
    log.info("Window: %d rows from %d file(s) → %s", rows, len(read), uri)
    return Window(uri, rows, [f["uri"] for f in read], missing, scored_with)


def _with_predictions(
    rt: Runtime, frame: pd.DataFrame, column: str, features: list[str]
) -> tuple[pd.DataFrame, str | None]:
    """(frame with the prediction column, champion version that scored it or None)."""
    from airflow_mlops_provider.adapters.mlflow_registry import CHAMPION

    if column in frame.columns:
        log.info("The logs carry the served predictions (column %r)", column)
        return frame, None
    champion = rt.registry.by_alias(CHAMPION)
    absent = [f for f in features if f not in frame.columns]
    if champion is None or absent:
        why = f"features {human_list(absent)} are missing" if absent else "there is no champion yet"
        log.warning(
            "The logs carry no %r column and %s: no prediction drift or live performance "
            "for this window",
            column,
            why,
        )
        return frame, None
    from airflow_mlops_provider.core.metrics import to_scores

    model = rt.registry.load_model(champion.uri)
    frame = frame.assign(**{column: to_scores(model.predict(frame[features]))})
    log.info(
        "The logs carry no %r column: scored the %d rows with the champion %s v%s "
        "(the model serving them)",
        column,
        len(frame),
        rt.registry.model_name,
        champion.version,
    )
    return frame, champion.version


def live_performance(
    rt: Runtime,
    *,
    labels: str,
    window_uri: str,
    data: DataSpec,
    evaluation: EvaluationSpec,
    monitoring: MonitoringSpec,
) -> Performance:
    """The evaluation metrics on the window's requests whose labels (`labels`, the rendered
    `monitoring.labels`) have arrived, judged by `monitoring.performance`. No labels yet, or
    fewer than `min_labelled_rows`: not assessed, with the reason — nothing to judge is not
    a failure."""
    from airflow_mlops_provider.core.live_performance import TOO_FEW_LABELS, assess

    location = rt.storage.resolve(labels)
    try:
        label_rows = rt.storage.read_frame(location, monitoring.format)
    except FileNotFoundError:
        return _not_assessed(rt, f"no labels yet at {location}")
    window = rt.storage.read_frame(window_uri)
    column = monitoring.prediction_column
    if column not in window.columns:
        return _not_assessed(rt, f"the window has no {column!r} column (see collect_window)")
    joined, stats = _join(window, label_rows, data.target, monitoring)
    result = assess(
        joined,
        stats,
        target=data.target,
        prediction_column=column,
        metrics=list(evaluation.metrics),
        threshold=evaluation.threshold,
        rule=monitoring.performance,
    )
    summary = {**result.to_dict(), "labels": location}
    if result.status == TOO_FEW_LABELS:
        return _not_assessed(rt, result.reason, summary)
    summary["report"] = rt.storage.write_text(
        rt.task_folder("performance.json"), json.dumps(summary, indent=2)
    )
    log.info("Live %s (%s)", result.reason, result.status.upper())
    rt.audit("live_performance", summary)
    return Performance(summary)


def _join(
    window: pd.DataFrame, labels: pd.DataFrame, target: str, monitoring: MonitoringSpec
) -> tuple[pd.DataFrame, Any]:
    from airflow_mlops_provider.core.live_performance import join_labels

    joined, stats = join_labels(
        window,
        labels,
        id_column=monitoring.id_column,
        target=target,
        prediction_column=monitoring.prediction_column,
    )
    log.info(
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


def _not_assessed(rt: Runtime, reason: str, summary: dict | None = None) -> Performance:
    summary = {"status": "not_assessed", **(summary or {}), "reason": reason}
    rt.audit("live_performance", summary)
    log.info("Live performance not assessed: %s", reason)
    return Performance(summary)


def decide(
    rt: Runtime,
    *,
    drift: dict[str, Any] | None,
    performance: dict[str, Any] | None,
    monitoring: MonitoringSpec,
    routes: DecisionRoutes,
    window: str,
    requested_since: Callable[[datetime], datetime | None] | None = None,
) -> MonitoringDecision:
    """Drift or decay requests retraining — unless a retrain request was made within
    `monitoring.cooldown_hours` (`requested_since(t)`: the newest request at or after t, or
    None): then it only alerts, so one incident does not start a retraining every hour. The
    decision is written as the latest status (`window`: the period's end) for the health
    report, and audited."""
    from airflow_mlops_provider.core.monitoring_report import (
        causes,
        performance_line,
        reason_of,
        top_drifted,
    )

    found = causes(drift, performance)
    cooldown = _cooldown(monitoring.cooldown_hours, requested_since) if found else None
    route: Route = routes.healthy
    if found:
        route = routes.cooldown if cooldown else routes.retrain
    decision = {
        "status": "healthy" if not found else ("cooldown" if cooldown else "retrain"),
        "branch": route,
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
    log.info("Top drifted features: %s", "; ".join(top_drifted(drift)) or "none")
    log.info(performance_line(performance))
    log.info(
        "Decision: %s (%s)",
        human_value(route),
        "; ".join(filter(None, [decision["reason"], cooldown])),
    )
    write_status(rt, decision, window=window)
    audited = ("status", "branch", "causes", "reason", "cooldown", "report")
    rt.audit("monitoring_decided", {k: decision[k] for k in audited})
    return MonitoringDecision(decision)


def _cooldown(
    hours: float, requested_since: Callable[[datetime], datetime | None] | None
) -> str | None:
    """Why not to request retraining again: a retrain request within the cooldown."""
    if not hours or requested_since is None:
        return None
    last = requested_since(datetime.now(UTC) - timedelta(hours=hours))
    if last is None:
        return None
    return f"retraining already requested at {last} (cooldown {hours:g} h)"


def request_retraining(rt: Runtime, *, decision: dict[str, Any]) -> dict[str, Any]:
    """The retrain request's payload (the reason and the reports), audited; the operator
    attaches it to the retrain-request Asset event."""
    extra = {
        "reason": decision["reason"],
        "causes": decision["causes"],
        "report": decision.get("report"),
        "performance_report": decision.get("performance_report"),
        "source_run_id": rt.task.run_id,
    }
    log.info("Requested retraining: %s", decision["reason"])
    rt.audit("retrain_requested", extra)
    return extra


def alert(rt: Runtime, *, decision: dict[str, Any]) -> dict[str, Any]:
    """The drift/decay alert: reason, top drifted features, live metric, report links."""
    from airflow_mlops_provider.core.monitoring_report import alert_text

    text = alert_text(rt.pipeline, rt.task.run_id, decision)
    status = rt.notify(text)  # logs the text itself when Slack is not reached
    if status == "sent":
        log.info("Alert sent to Slack:\n%s", text)
    rt.audit("notified", {"kind": "alert", "status": status, "reason": decision["reason"]})
    return {"status": status, "text": text}
