"""Audit records: one JSON line per decision, appended and never rewritten."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

EVENTS = (
    "validated",
    "rejected_data",
    "drift_checked",
    "empty_window",  # monitoring: no inference logs in the run's window
    "live_performance",  # monitoring: live metric on labelled requests (or why not assessed)
    "monitoring_decided",  # monitoring: healthy / retrain / cooldown, with the causes
    "trained",
    "gated",
    "approved",
    "promoted",
    "rejected",
    "rolled_back",
    "retrain_requested",
    "notified",
    # canary rollout (adapters/rollout.py)
    "canary_step",
    "canary_failed",
    "canary_answered",
)


def record(
    event: str,
    *,
    pipeline: str,
    dag_id: str,
    run_id: str,
    task_id: str,
    details: dict[str, Any],
    actor: str = "airflow",
) -> str:
    """Build one audit line; the event name is checked so the log stays queryable."""
    if event not in EVENTS:
        raise ValueError(f"unknown audit event {event!r}; known: {', '.join(EVENTS)}")
    entry = {
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "event": event,
        "pipeline": pipeline,
        "dag_id": dag_id,
        "run_id": run_id,
        "task_id": task_id,
        "actor": actor,
        "details": details,
    }
    return json.dumps(entry, sort_keys=True, default=str)
