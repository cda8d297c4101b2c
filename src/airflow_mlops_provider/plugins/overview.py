"""The pipeline overview: one pipeline as a whole, gathered from storage and the registry.

Airflow-free (a service function: it takes the spec, storage, the pipeline's root and what
`read_registry` read, and returns a plain dict), so it can move into `services/` beside the other
steps; the plugin only adds who may see it and renders it (core/overview_html.py).

What it reads: the audit log (`audit.jsonl`: decisions over time, pending approvals), the
latest monitoring status (`monitoring/latest.json`), the canary state files
(`canary/rollout-v<N>.json`) and the MLflow registry (champion alias, recent versions with
their gate decision and the gate's metrics on the holdout).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from airflow_mlops_provider.core import audit_text
from airflow_mlops_provider.core.layout import AUDIT, CANARY, MONITORING_LATEST

AUDIT_READ = 2000  # newest audit lines read for the history plots and recent decisions
RECENT_DECISIONS = 12
RECENT_VERSIONS = 8
KEY_METRICS = 3


@dataclass(frozen=True)
class RegistryView:
    """What the registry says about a pipeline's model, or why it could not say it."""

    versions: list[dict[str, Any]] = field(default_factory=list)
    champion: dict[str, Any] | None = None
    error: str | None = None


def pipeline_overview(spec: Any, storage: Any, root: str, registry: RegistryView) -> dict[str, Any]:
    """Everything the pipelines view shows about one pipeline (JSON-serialisable)."""
    entries = [
        json.loads(line) for line in storage.read_lines(storage.join(root, AUDIT), AUDIT_READ)
    ]
    versions, champion = registry.versions, registry.champion
    return {
        "pipeline": spec.pipeline,
        "description": spec.description,
        "model": spec.model_name,
        "dag_ids": {kind: spec.dag_id(kind) for kind in ("training", "monitoring", "rollback")},
        "champion": _champion(champion, entries),
        "versions": versions,
        "drift": _series(entries, "drift_checked", "drifted_share", monitoring_only=True),
        "live": _live_series(entries),
        "drift_share": spec.drift.drift_share,
        "performance_bound": _bound(spec),
        "monitoring": _read_json(storage, storage.join(root, *MONITORING_LATEST)),
        "pending_approvals": _pending(entries),
        "canary": _canary(storage, storage.join(root, CANARY)),
        "decisions": [
            {**_where(e), "time": e["time"], "event": e["event"], "text": audit_text.describe(e)}
            for e in entries[-RECENT_DECISIONS:][::-1]
        ],
        "registry_error": registry.error,
    }


def read_registry(spec: Any, client: Any) -> RegistryView:
    """Recent versions (newest first) with gate decision and key metrics, and the champion;
    a registry that refuses or fails (a login missing, a server down) says so."""
    name = spec.model_name
    try:
        found = client.search_model_versions(f"name='{name}'")
        model = client.get_registered_model(name) if found else None
    except Exception as exc:
        return RegistryView(error=f"registry not readable: {_first_line(exc)}")
    aliases: dict[str, list[str]] = {}
    for alias, number in (model.aliases if model else {}).items():
        aliases.setdefault(str(number), []).append(alias)
    newest = sorted(found, key=lambda v: int(v.version), reverse=True)[:RECENT_VERSIONS]
    metrics = list(spec.evaluation.metrics)[:KEY_METRICS]
    versions = [_version(v, aliases.get(str(v.version), []), metrics, client) for v in newest]
    champion = next((v for v in versions if "champion" in v["aliases"]), None)
    return RegistryView(versions, champion)


def _first_line(exc: Exception) -> str:
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return text if len(text) <= 200 else text[:199].rsplit(" ", 1)[0] + "…"


def _version(version: Any, aliases: list[str], metrics: list[str], client: Any) -> dict[str, Any]:
    tags = version.tags or {}
    try:
        measured = client.get_run(version.run_id).data.metrics
    except Exception:  # a run deleted from the tracking store
        measured = {}
    return {
        "version": str(version.version),
        "created": _iso(version.creation_timestamp),
        "aliases": sorted(aliases),
        "gate": tags.get("mlops.gate"),
        "decision": tags.get("mlops.decision"),
        "risk_score": tags.get("mlops.risk_score"),
        "metrics": {m: measured.get(f"gate.{m}") for m in metrics},
        "run_id": version.run_id,
    }


def _champion(champion: dict[str, Any] | None, entries: list[dict]) -> dict[str, Any] | None:
    """The champion and since when: the newest promotion or rollback that made it champion,
    else its registration time."""
    if champion is None:
        return None
    moved = [
        e
        for e in entries
        if e["event"] in ("promoted", "rolled_back")
        and str(e["details"].get("champion")) == champion["version"]
    ]
    since = moved[-1]["time"] if moved else champion["created"]
    return {**champion, "since": since}


def _series(
    entries: list[dict], event: str, key: str, *, monitoring_only: bool = False
) -> list[dict[str, Any]]:
    points = []
    for e in entries:
        value = e["details"].get(key)
        if e["event"] != event or not isinstance(value, int | float):
            continue
        if monitoring_only and not e["dag_id"].endswith("__monitoring"):
            continue
        points.append({"time": e["time"], "run_id": e["run_id"], "value": float(value)})
    return points


def _live_series(entries: list[dict]) -> list[dict[str, Any]]:
    points = _series(entries, "live_performance", "value")
    metrics = {e["details"].get("metric") for e in entries if e["event"] == "live_performance"} - {
        None
    }
    return [{**p, "metric": next(iter(metrics), None)} for p in points]


def _bound(spec: Any) -> dict[str, Any] | None:
    monitoring = spec.monitoring
    rule = monitoring.performance if monitoring is not None else None
    if rule is None:
        return None
    return {"metric": rule.metric, "min": rule.min, "max": rule.max}


def _pending(entries: list[dict]) -> list[dict[str, Any]]:
    """Approvals asked and not answered yet: an `approval_requested` whose DAG run has no
    later approval, rejection or promotion."""
    answered = {
        (e["dag_id"], e["run_id"])
        for e in entries
        if e["event"] in ("approved", "rejected", "promoted", "canary_answered")
    }
    pending = {}
    for e in entries:
        key = (e["dag_id"], e["run_id"])
        if e["event"] == "approval_requested" and key not in answered:
            pending[key] = {**_where(e), "time": e["time"], "text": audit_text.describe(e)}
    return list(pending.values())


def _canary(storage: Any, folder: str) -> dict[str, Any] | None:
    """The newest rollout's state: phase, step, weight, last measurement."""
    from airflow_mlops_provider.core.canary import RolloutState

    states = []
    try:
        for uri in storage.files(folder, "json") if storage.exists(folder) else []:
            name = uri["uri"].rsplit("/", 1)[-1]
            if name.startswith("rollout-v"):
                states.append(RolloutState.from_dict(json.loads(storage.read_text(uri["uri"]))))
    except FileNotFoundError:
        return None
    if not states:
        return None
    state = max(states, key=lambda s: int(s.challenger) if s.challenger.isdigit() else 0)
    last = state.measurements[-1] if state.measurements else None
    return {
        "challenger": state.challenger,
        "champion": state.champion,
        "phase": state.phase,
        "step": state.step,
        "weight": state.weight,
        "reason": state.reason,
        "last_measurement": last,
    }


def _read_json(storage: Any, location: str) -> dict[str, Any] | None:
    return json.loads(storage.read_text(location)) if storage.exists(location) else None


def _where(entry: dict) -> dict[str, str]:
    return {k: entry[k] for k in ("dag_id", "run_id", "task_id")}


def _iso(millis: int | None) -> str | None:
    from datetime import UTC, datetime

    if millis is None:
        return None
    return datetime.fromtimestamp(millis / 1000, tz=UTC).isoformat(timespec="seconds")
