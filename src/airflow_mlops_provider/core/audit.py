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
    "approval_requested",
    "approved",
    "promoted",
    "rejected",
    "rolled_back",
    "retrain_requested",
    "notified",
    # canary rollout (services/rollout.py)
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


# Which model version a decision is about, by the key its details name it with.
_VERSION_KEYS = {
    "trained": "version",
    "gated": "version",
    "approval_requested": "version",
    "approved": "version",
    "rejected": "version",
    "promoted": "champion",
    "rolled_back": "champion",
    "drift_checked": "champion_version",
}
TAG_PREFIX = "mlops.audit."
TAG_LIMIT = 5000  # MLflow's model-version tag value limit


def version_tag(line: str) -> tuple[str, str, str] | None:
    """(version, tag key, tag value) mirroring one audit line on its model version, or None
    for decisions about data rather than a model (validated, retrain requested, ...).

    The value is one sentence a person reads in MLflow's registry table — when, who, which
    run, what was decided; the details stay in the audit log and the run's artifacts."""
    from airflow_mlops_provider.core.audit_text import describe

    entry = json.loads(line)
    key = _VERSION_KEYS.get(entry["event"])
    version = entry["details"].get(key) if key else None
    if version in (None, ""):
        return None
    value = f"{entry['time']} {entry['dag_id']} {entry['run_id']}: {describe(entry)}"
    return str(version), TAG_PREFIX + entry["event"], value[:TAG_LIMIT]
