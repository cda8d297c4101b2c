"""Where a pipeline keeps its files under `storage.root`, defined once for the tasks that
write them and the Airflow plugin that serves them:

    <root>/pipelines/<pipeline>/runs/<dag_id>/<safe run id>/<task_id>/   one task's reports
    <root>/pipelines/<pipeline>/audit.jsonl                                append-only decisions
    <root>/pipelines/<pipeline>/monitoring/latest.json                     latest monitoring
    <root>/pipelines/<pipeline>/canary/rollout-v<version>.json             canary state
"""

from __future__ import annotations

import re

PIPELINES = "pipelines"
RUNS = "runs"
AUDIT = "audit.jsonl"
MONITORING_LATEST = ("monitoring", "latest.json")
CANARY = "canary"

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def safe_run_id(run_id: str) -> str:
    """A run id as a folder name: `manual__2026-11-01T00:00:00+00:00` keeps its letters,
    digits, `_`, `.`, `-`; every other character becomes `_`."""
    return _UNSAFE.sub("_", run_id)


def run_parts(dag_id: str, run_id: str) -> tuple[str, str, str]:
    """Path parts of one DAG run's folder, relative to the pipeline's root."""
    return RUNS, dag_id, safe_run_id(run_id)


def relative_to_pipeline(uri: str, pipeline: str) -> str | None:
    """The part of a stored file's location (local path or s3:// URI) below its pipeline's
    root — what the plugin's report URLs carry — or None when it is not under one."""
    marker = f"/{PIPELINES}/{pipeline}/"
    at = uri.replace("\\", "/").rfind(marker)
    return uri.replace("\\", "/")[at + len(marker) :] if at >= 0 else None
