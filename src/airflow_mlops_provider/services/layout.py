"""The folder layout of one pipeline under `storage.root`, defined once:

    <root>/pipelines/<pipeline>/
        snapshots/<snapshot_id>/          immutable train/holdout parquet + manifest.json
        runs/<dag_id>/<run_id>/<task_id>/ reports of one task of one DAG run
        quarantine/<dag_id>/<run_id>/     a rejected batch as read, and why
        canary/                           router state, rollout state, replayed traffic
        monitoring/latest.json            the newest monitoring outcome (health report)
        audit.jsonl                       append-only decisions (one object per line on S3)

Run ids are made path-safe: `manual__2026-11-01T00:00:00+00:00` becomes
`manual__2026-11-01T00_00_00_00_00`. The names themselves are core/layout.py's, which the
Airflow plugin reads the same folders with.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from airflow_mlops_provider.adapters.storage import Storage
from airflow_mlops_provider.core.layout import (
    AUDIT,
    CANARY,
    MONITORING_LATEST,
    PIPELINES,
    run_parts,
    safe_run_id,
)


@dataclass(frozen=True)
class TaskRef:
    """Which task of which DAG run a step runs for (the audit's and the folders' key)."""

    dag_id: str
    run_id: str
    task_id: str

    @property
    def key(self) -> str:
        return f"{self.dag_id}/{self.run_id}/{self.task_id}"


@dataclass(frozen=True)
class Layout:
    storage: Storage
    storage_root: str
    pipeline: str

    @cached_property
    def root(self) -> str:
        return self.storage.join(self.storage_root, PIPELINES, self.pipeline)

    def snapshot(self, snapshot_id: str) -> str:
        return self.storage.join(self.root, "snapshots", snapshot_id)

    def task_folder(self, task: TaskRef, *parts: str) -> str:
        return self.storage.join(
            self.root, *run_parts(task.dag_id, task.run_id), task.task_id, *parts
        )

    def quarantine(self, task: TaskRef) -> str:
        return self.storage.join(self.root, "quarantine", task.dag_id, safe_run_id(task.run_id))

    @property
    def canary(self) -> str:
        return self.storage.join(self.root, CANARY)

    @property
    def monitoring_status(self) -> str:
        return self.storage.join(self.root, *MONITORING_LATEST)

    @property
    def audit_log(self) -> str:
        return self.storage.join(self.root, AUDIT)
