"""The project the deployment serves: a dags folder with several copies of `dags/churn.yaml`
(each its own name, data and behaviour), the loader, and the reference trainer; each
pipeline's demo data (include/demo/generate.py, its own seed) uploaded to S3.

| pipeline | schedule            | what it exercises                                          |
|----------|---------------------|------------------------------------------------------------|
| alpha    | @weekly + Asset     | unpausing starts the latest weekly tick (no data for it);  |
|          |                     | the scheduler SIGKILLed during its first `retrain`;        |
|          |                     | `retrain` + `canary_promote` cleared together at the end   |
| gamma    | Asset               | `approval.mode: always`: every promotion answered over REST|
| delta    | Asset               | an `mlflow` connection that cannot be read: must fail loud |
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DATA_BUCKET = "mlops-system-data"
STORAGE_BUCKET = "mlops-system-storage"
ARTIFACT_BUCKET = "mlops-system-artifacts"
FIRST_BATCH, DRIFTED_BATCH = "2026-11-01", "2026-11-08"
ROWS = 4000  # per training batch: enough for the gate and drift tests, quick to train
UNREADABLE_CONNECTION = "mlflow_unreadable"


@dataclass(frozen=True)
class Pipeline:
    name: str
    seed: int
    weekly: bool = False  # `schedule: "@weekly"` (and the Asset), else the Asset only
    approval_always: bool = False
    mlflow_connection: str | None = None  # None: the default `mlflow_default`

    def dag(self, kind: str) -> str:
        return f"{self.name}__{kind}"


PIPELINES = (
    Pipeline("alpha", seed=7, weekly=True),
    Pipeline("gamma", seed=9, approval_always=True),
)
BROKEN = Pipeline("delta", seed=10, mlflow_connection=UNREADABLE_CONNECTION)


def build(base: Path, s3: Any, mlflow_ui: str) -> Path:
    """Write the project under `base` and upload every pipeline's data; returns the project."""
    project = base / "project"
    (project / "dags").mkdir(parents=True)
    shutil.copy(ROOT / "dags" / "pipelines.py", project / "dags")
    shutil.copytree(ROOT / "include" / "trainer", project / "include" / "trainer")
    for bucket in (DATA_BUCKET, STORAGE_BUCKET, ARTIFACT_BUCKET):
        s3.create_bucket(Bucket=bucket)
    template = (ROOT / "dags" / "churn.yaml").read_text()
    for pipeline in (*PIPELINES, BROKEN):
        (project / "dags" / f"{pipeline.name}.yaml").write_text(
            pipeline_yaml(template, pipeline, mlflow_ui)
        )
        upload_data(s3, base / "data" / pipeline.name, pipeline)
    return project


def pipeline_yaml(template: str, pipeline: Pipeline, mlflow_ui: str) -> str:
    """The example pipeline, renamed, on S3, sized for 4000-row batches."""
    data = f"s3://{DATA_BUCKET}/{pipeline.name}"
    edits = {
        "pipeline: churn\n": f"pipeline: {pipeline.name}\n",
        "tags: [demo]": "tags: [system-test]",
        "include/demo/data/": f"{data}/",
        "min_rows: 1000": "min_rows: 100",
        # a model trained on 4000 rows is weaker than the demo's 20000-row one
        "min: 0.74, min_labelled_rows": "min: 0.72, min_labelled_rows",
        # the sequential canary judge on 800-row replays: bounds it can decide (the demo's
        # 0.05 / 0.01 need its 4,000-row replay; tests/integration/canary_fixtures.py)
        "roc_auc: {max_regression: 0.05}": "roc_auc: {max_regression: 0.1}",
        "error_rate: {max: 0.01}": "error_rate: {max: 0.05}",
    }
    if not pipeline.weekly:
        edits['schedule: "@weekly"\n'] = ""
    if pipeline.approval_always:
        edits["approval: {mode: risk,"] = "approval: {mode: always,"
    text = template
    for old, new in edits.items():
        assert old in text, f"dags/churn.yaml changed: {old!r} not found"
        text = text.replace(old, new)
    text += f"\nstorage: {{root: s3://{STORAGE_BUCKET}/mlops}}\nmlflow: {{ui_url: {mlflow_ui}}}\n"
    if pipeline.mlflow_connection:
        text += f"connections: {{mlflow: {pipeline.mlflow_connection}}}\n"
    return text


def upload_data(s3: Any, local: Path, pipeline: Pipeline) -> None:
    """The demo generator's partitions (batches, inference logs, labels) under
    s3://<data bucket>/<pipeline>/, each with its _SUCCESS marker."""
    sys.path.insert(0, str(ROOT / "include" / "demo"))
    try:
        from generate import generate
    finally:
        sys.path.remove(str(ROOT / "include" / "demo"))
    generate(local, rows=ROWS, seed=pipeline.seed)
    for path in sorted(p for p in local.rglob("*") if p.is_file()):
        key = f"{pipeline.name}/{path.relative_to(local).as_posix()}"
        s3.upload_file(str(path), DATA_BUCKET, key)
