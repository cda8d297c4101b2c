"""The message that sums up one DAG run's decisions (the training DAG's `notify` task)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_mlops_provider.services.runtime import Runtime

BRIEF_KEYS = (
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


def send_summary(rt: Runtime, *, headline: str, results: dict[str, Any]) -> dict[str, Any]:
    """One line per step that produced a result ({label: result}; None: the step did not
    run), sent (Slack, or the log) and audited."""
    lines = [f"{headline} — {rt.pipeline} ({rt.task.run_id})"]
    lines += [f"• {label}: {brief(value)}" for label, value in results.items() if value is not None]
    text = "\n".join(lines)
    status = rt.notify(text)
    rt.audit("notified", {"status": status, "text": text})
    return {"status": status, "text": text}


def brief(value: Any) -> str:
    """A result in one line: its decision-bearing keys, for people, not a Python repr."""
    from airflow_mlops_provider.core.text import human_mapping, human_value

    if isinstance(value, dict):
        return human_mapping({k: value.get(k) for k in BRIEF_KEYS})
    return human_value(value)
