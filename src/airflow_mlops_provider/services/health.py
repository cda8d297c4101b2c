"""The monitoring status and the daily health report.

Every monitoring run records its outcome (healthy, retrain, cooldown, no data) in its task
folder and as the pipeline's latest status (`monitoring/latest.json`); the health report
combines the latest status with the registry's facts (champion, newest version) into one JSON
document and one message. Wording lives in core/monitoring_report.py.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_mlops_provider.adapters.mlflow_registry import Version
    from airflow_mlops_provider.services.runtime import Runtime

log = logging.getLogger(__name__)


def write_status(rt: Runtime, status: dict[str, Any], *, window: str) -> None:
    """Record this run's monitoring outcome (`window`: the end of the period it covers) as
    the latest status. A backfill of an older window does not overwrite a newer one."""
    record = {**status, "run_id": rt.task.run_id, "window": window}
    text = json.dumps(record, indent=2, default=str)
    storage, latest = rt.storage, rt.layout.monitoring_status
    storage.write_text(rt.task_folder("status.json"), text)
    if storage.exists(latest) and json.loads(storage.read_text(latest))["window"] > window:
        log.info("An older window than the latest status: %s kept", latest)
        return
    storage.write_text(latest, text)


def health_report(rt: Runtime) -> dict[str, Any]:
    """Write health.json (latest monitoring decision, live metric, champion, last training)
    and send its text; returns {"report", "status", "text"}."""
    from airflow_mlops_provider.core.monitoring_report import health_report as document
    from airflow_mlops_provider.core.monitoring_report import health_text

    latest = rt.layout.monitoring_status
    storage = rt.storage
    status = json.loads(storage.read_text(latest)) if storage.exists(latest) else None
    champion, last = _registry_facts(rt)
    report = document(
        rt.pipeline,
        status=status,
        champion=champion,
        last_training=last,
        generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    uri = storage.write_text(
        rt.task_folder("health.json"), json.dumps(report, indent=2, default=str)
    )
    text = health_text(report)
    sent = rt.notify(text)  # logs the text itself when Slack is not reached
    log.info("Health report %s; JSON: %s", sent, uri)
    if sent == "sent":
        log.info("Health report:\n%s", text)
    rt.audit("notified", {"kind": "health", "status": sent, "report": uri})
    return {"report": uri, "status": sent, "text": text}


def _registry_facts(rt: Runtime) -> tuple[dict | None, dict | None]:
    """(champion, newest version) with their registration times, from the registry."""
    from airflow_mlops_provider.adapters.mlflow_registry import CHAMPION

    champion = rt.registry.by_alias(CHAMPION)
    versions = {v.version: v for v in rt.registry.versions()}
    if not versions:
        log.info("No model versions for %s yet", rt.registry.model_name)
    newest = max(versions.values(), key=lambda v: int(v.version), default=None)
    known = champion is not None and champion.version in versions
    return (
        _facts(versions[champion.version]) if known else None,
        _facts(newest) if newest is not None else None,
    )


def _facts(version: Version) -> dict[str, Any]:
    created = datetime.fromtimestamp(version.created_ms / 1000, tz=UTC)
    return {
        "version": version.version,
        "created": created.isoformat(timespec="seconds"),
        "gate": version.tags.get("mlops.gate"),
    }
