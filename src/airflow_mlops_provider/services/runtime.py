"""Runtime: the clients one step works with, built once per task run (or CLI command).

A service takes the configuration block(s) it needs plus a Runtime, and never looks
anything up itself: operators build the Runtime from the hooks (operators/runtime.py), the CLI
and the tests from plain values. Airflow-free.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from airflow_mlops_provider.adapters.mlflow_registry import Registry
from airflow_mlops_provider.adapters.storage import Storage
from airflow_mlops_provider.services.layout import Layout, TaskRef

log = logging.getLogger(__name__)

# Names under which services publish links while they work (the operators' extra links read
# them from XCom; a link pushed before a failure still shows where to look).
MLFLOW_RUN_LINK = "mlflow_run_url"
VALIDATION_REPORT_LINK = "validation_report"
DRIFT_REPORT_LINK = "drift_report"
GATE_REPORT_LINK = "gate_report"


def _log_only(text: str) -> str:
    log.info("Message (no notifier configured):\n%s", text)
    return "logged"


def _not_published(key: str, value: Any) -> None:
    log.debug("%s: %s", key, value)


@dataclass
class Runtime:
    """Storage, the folder layout, the model registry, the notifier and the audit log.

    `notify(text)` returns "sent", "logged" or "failed: why": a message that cannot be
    delivered must not undo a decision already recorded (only a Slack connection that exists
    but cannot be read raises — a configuration error). `publish(key, value)` makes an
    intermediate result visible at once (XCom in a task; a debug line elsewhere)."""

    pipeline: str
    storage_root: str
    storage: Storage
    registry: Registry
    task: TaskRef
    notify: Callable[[str], str] = _log_only
    publish: Callable[[str, Any], None] = _not_published
    project_dir: str = "."

    @cached_property
    def layout(self) -> Layout:
        return Layout(self.storage, self.storage_root, self.pipeline)

    def task_folder(self, *parts: str) -> str:
        """This task's report folder in this DAG run."""
        return self.layout.task_folder(self.task, *parts)

    def audit(self, event: str, details: dict[str, Any], actor: str = "airflow") -> None:
        """Append the decision to the audit log, then mirror it as the `mlops.audit.<event>`
        tag of the model version it is about (when it is about one). The log is the record:
        a tag that cannot be written is a warning, not a failure."""
        from airflow_mlops_provider.core import audit

        line = audit.record(
            event,
            pipeline=self.pipeline,
            dag_id=self.task.dag_id,
            run_id=self.task.run_id,
            task_id=self.task.task_id,
            details=details,
            actor=actor,
        )
        self.storage.append_line(self.layout.audit_log, line)
        found = audit.version_tag(line)
        if found is None:
            return
        version, key, value = found
        try:
            self.registry.tag_version(version, {key: value})
        except Exception as exc:  # the decision is in audit.jsonl already
            log.warning("Audit tag %s on version %s not written: %s", key, version, exc)
