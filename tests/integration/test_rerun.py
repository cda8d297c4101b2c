"""Re-running tasks of a finished training run duplicates nothing (DESIGN.md §4).

`airflow tasks test DAG TASK DATE` re-executes one task instance of the existing DAG run —
the same code path a cleared task takes — against the real SQLite database and MLflow store.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .airflow_helpers import aliases, load_dags, registry, run

pytestmark = pytest.mark.integration
DAY = "2026-11-01"


def rerun(project: Path, task_id: str) -> str:
    airflow = Path(sys.executable).parent / "airflow"
    env = {**os.environ, "AIRFLOW__CORE__DAGS_FOLDER": str(project / "dags")}
    done = subprocess.run(
        [str(airflow), "tasks", "test", "churn__training", task_id, DAY],
        capture_output=True,
        text=True,
        env=env,
        cwd=project,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout + done.stderr


def counts(project: Path) -> dict[str, int]:
    client = registry(project)
    audit = (project / ".mlops" / "pipelines" / "churn" / "audit.jsonl").read_text()
    events = [json.loads(line)["event"] for line in audit.splitlines()]
    snapshots = list((project / ".mlops" / "pipelines" / "churn" / "snapshots").iterdir())
    return {
        "versions": len(client.search_model_versions("name='churn'")),
        "runs": len(client.search_runs([client.get_experiment_by_name("churn").experiment_id])),
        "promoted": events.count("promoted"),
        "snapshots": len(snapshots),
    }


def test_rerunning_each_task_duplicates_nothing(project: Path, airflow_db: None) -> None:
    run(load_dags(project)["churn__training"], DAY)
    client = registry(project)
    before = counts(project)
    assert before == {"versions": 1, "runs": 1, "promoted": 1, "snapshots": 1}

    for task_id in ("validate_data", "detect_drift", "evaluate", "canary_promote", "notify"):
        rerun(project, task_id)
        assert counts(project) == before, task_id
        assert aliases(client)["champion"] == "1"

    log = rerun(project, "retrain")  # a cleared retrain trains anew: exactly one new version
    assert "new run, training starts" in log
    assert counts(project) == {**before, "versions": 2, "runs": 2}
    assert aliases(client)["champion"] == "1"  # nothing promoted until the gate runs again
