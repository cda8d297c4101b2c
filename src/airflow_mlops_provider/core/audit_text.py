"""One sentence per audit entry, for people: the demo's console, the pipelines view, alerts.

The audit log keeps every detail as JSON; this says what was decided, with the numbers that
matter — a canary step names its weight, its measurement and the result, not just the
version — and never a Python repr.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from airflow_mlops_provider.core.text import human_list, human_mapping, number, percent, shorten

MAX_TEXT = 240


def describe(entry: dict[str, Any]) -> str:
    """What the entry records, in words (at most MAX_TEXT characters, cut between words)."""
    details = entry.get("details") or {}
    write = _WRITERS.get(entry.get("event", ""))
    text = write(details) if write else _generic(entry.get("event", "?"), details)
    if entry.get("actor") not in (None, "airflow") and entry.get("event") != "approved":
        text += f" (by {entry['actor']})"
    return shorten(text, MAX_TEXT)


def _v(value: Any) -> str:
    return f"v{value}" if value not in (None, "") else "no version"


def _validated(d: dict) -> str:
    return f"batch validated: {d.get('rows', '?')} rows from {d.get('source', '?')}"


def _rejected_data(d: dict) -> str:
    failed = d.get("failed") or []
    return f"batch rejected ({len(failed)} failed checks): {human_list(failed, limit=3)}"


def _drift(d: dict) -> str:
    share = d.get("drifted_share")
    versus = f" vs champion {_v(d['champion_version'])}" if d.get("champion_version") else ""
    measured = f", {percent(share)} of features drifted" if share is not None else ""
    branches = human_list(_branches(d.get("branch")))
    return f"drift check → {branches}: {d.get('reason')}{versus}{measured}"


def _live(d: dict) -> str:
    if d.get("value") is None:
        return f"live metric not assessed: {d.get('reason')}"
    return f"live {d.get('metric')} {number(d.get('value'))} ({d.get('status')})"


def _monitoring(d: dict) -> str:
    text = f"monitoring decision: {d.get('status')} — {d.get('reason')}"
    return text + (f"; {d['cooldown']}" if d.get("cooldown") else "")


def _trained(d: dict) -> str:
    how = "trained" if d.get("trained", True) else "registered (trained by an earlier try)"
    return f"{_v(d.get('version'))} {how}, MLflow run {str(d.get('run_id', '?'))[:12]}"


def _gated(d: dict) -> str:
    versus = f" vs champion {_v(d['champion'])}" if d.get("champion") else " (no champion)"
    risk = f", risk score {number(d['risk_score'])}" if d.get("risk_score") is not None else ""
    reasons = "; ".join(d.get("reasons") or [])
    return f"gate: {d.get('decision')} {_v(d.get('version'))}{versus}{risk}. {reasons}".strip()


def _approval_requested(d: dict) -> str:
    return f"approval asked for {_v(d.get('version'))} (risk score {number(d.get('risk_score'))})"


def _approved(d: dict) -> str:
    return f"{_v(d.get('version'))} approved by {d.get('by', '?')}"


def _rejected(d: dict) -> str:
    who = f" by {d['by']}" if d.get("by") else ""
    why = f": {'; '.join(d['reasons'])}" if d.get("reasons") else ""
    return f"{_v(d.get('version'))} rejected{who}{why}"


def _promoted(d: dict) -> str:
    before = d.get("previous_champion") or d.get("from")
    return f"{_v(d.get('champion'))} is champion" + (f" (was {_v(before)})" if before else "")


def _rolled_back(d: dict) -> str:
    return f"rolled back: {_v(d.get('champion'))} is champion again (was {_v(d.get('from'))})"


def _retrain_requested(d: dict) -> str:
    return f"retraining requested: {d.get('reason')}"


def _notified(d: dict) -> str:
    kind = d.get("kind") or "summary"
    return f"{kind} message {d.get('status', '?')}"


def _empty_window(d: dict) -> str:
    return f"nothing monitored: {d.get('reason')}"


def _canary_step(d: dict) -> str:
    """set_weight / pause done / one analysis measurement — each a different line."""
    head = f"canary {_v(d.get('version'))} step {int(d.get('step', 0)) + 1}"
    if d.get("set_weight") is not None:
        return f"{head}: traffic set to {d['set_weight']}% (champion {_v(d.get('champion'))})"
    if d.get("pause"):
        return f"{head}: pause over"
    if d.get("analysis") and d.get("shadow"):
        measured = _arms(d.get("canary") or {}, d.get("champion_arm") or {})
        why = f" — {'; '.join(d['reasons'])}" if d.get("reasons") else ""
        return (
            f"SHADOW: {_v(d.get('version'))} step {int(d.get('step', 0)) + 1}, not served: "
            f"measurement {d.get('measurement')} {str(d['analysis']).upper()} ({measured}, "
            f"{(d.get('samples') or {}).get('canary', '?')} requests scored by both){why}"
        )
    if d.get("analysis"):
        measured = _arms(d.get("canary") or {}, d.get("champion_arm") or {})
        samples = d.get("samples") or {}
        count = f", {samples.get('canary', '?')}/{samples.get('champion', '?')} samples"
        why = f" — {'; '.join(d['reasons'])}" if d.get("reasons") else ""
        return (
            f"{head} at {d.get('weight')}%: measurement {d.get('measurement')} "
            f"{str(d['analysis']).upper()} ({measured}{count}){why}"
        )
    return f"{head}"


def _arms(canary: dict, champion: dict) -> str:
    return (
        ", ".join(
            f"{name} {number(value)} vs {number(champion.get(name))}"
            for name, value in canary.items()
        )
        or "no metrics"
    )


def _canary_failed(d: dict) -> str:
    step = int(d.get("step", 0)) + 1
    if d.get("shadow"):
        return (
            f"SHADOW: {_v(d.get('version'))} stopped at step {step} before serving any "
            f"request — {str(d.get('reason')).removeprefix('SHADOW: ')}"
        )
    return f"canary {_v(d.get('version'))} rolled back at step {step}: {d.get('reason')}"


def _canary_answered(d: dict) -> str:
    return f"canary {_v(d.get('version'))} pause answered: {d.get('choice')}"


def _generic(event: str, d: dict) -> str:
    shown = {k: v for k, v in d.items() if isinstance(v, str | int | float) and len(str(v)) < 80}
    return f"{event.replace('_', ' ')}: {human_mapping(shown)}"


def _branches(branch: Any) -> list[str]:
    return list(branch) if isinstance(branch, list | tuple) else [str(branch)]


_WRITERS: dict[str, Callable[[dict], str]] = {
    "validated": _validated,
    "rejected_data": _rejected_data,
    "drift_checked": _drift,
    "empty_window": _empty_window,
    "live_performance": _live,
    "monitoring_decided": _monitoring,
    "trained": _trained,
    "gated": _gated,
    "approval_requested": _approval_requested,
    "approved": _approved,
    "rejected": _rejected,
    "promoted": _promoted,
    "rolled_back": _rolled_back,
    "retrain_requested": _retrain_requested,
    "notified": _notified,
    "canary_step": _canary_step,
    "canary_failed": _canary_failed,
    "canary_answered": _canary_answered,
}
