"""Re-running tasks of a finished training run duplicates nothing (DESIGN.md §4).

`airflow tasks test DAG TASK DATE` (in this process: airflow_helpers.task_test) re-executes
one task instance of the existing DAG run — the same code path a cleared task takes — against
the real SQLite database and MLflow store.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .airflow_helpers import aliases, load_dags, registry, run, task_test
from .conftest import LogRecords

pytestmark = pytest.mark.integration
DAY = "2026-11-01"


def rerunner(dag, logged: LogRecords, capfd: pytest.CaptureFixture[str]):
    """rerun(task_id, fails=...) -> what that re-run logged; its end state is checked."""

    def rerun(task_id: str, *, fails: bool = False) -> str:
        start = len(logged.lines)
        state = task_test(dag, task_id, DAY)
        out = "\n".join(logged.lines[start:]) + capfd.readouterr().out
        assert state == ("failed" if fails else "success"), (task_id, state, out[-3000:])
        return out

    return rerun


def audit_events(project: Path) -> list[dict]:
    audit = (project / ".mlops" / "pipelines" / "churn" / "audit.jsonl").read_text()
    return [json.loads(line) for line in audit.splitlines()]


def counts(project: Path) -> dict[str, int]:
    client = registry(project)
    events = [e["event"] for e in audit_events(project)]
    snapshots = list((project / ".mlops" / "pipelines" / "churn" / "snapshots").iterdir())
    return {
        "versions": len(client.search_model_versions("name='churn'")),
        "runs": len(client.search_runs([client.get_experiment_by_name("churn").experiment_id])),
        "promoted": events.count("promoted"),
        "snapshots": len(snapshots),
    }


def test_rerunning_each_task_duplicates_nothing(
    project: Path, airflow_db: None, logged: LogRecords, capfd: pytest.CaptureFixture[str]
) -> None:
    dag = load_dags(project)["churn__training"]
    run(dag, DAY)
    rerun = rerunner(dag, logged, capfd)
    client = registry(project)
    before = counts(project)
    assert before == {"versions": 1, "runs": 1, "promoted": 1, "snapshots": 1}

    for task_id in ("validate_data", "detect_drift", "evaluate", "canary_promote", "notify"):
        rerun(task_id)
        assert counts(project) == before, task_id
        assert aliases(client)["champion"] == "1"

    log = rerun("retrain")  # a cleared retrain trains anew: exactly one new version
    assert "new run, training starts" in log
    assert counts(project) == {**before, "versions": 2, "runs": 2}
    assert aliases(client)["champion"] == "1"  # nothing promoted until the gate runs again

    # Issue 13: `retrain` + `canary_promote` cleared together. The gate's record is still
    # v1's; v2 was never gated, so nothing may be canaried or promoted.
    log = rerun("canary_promote", fails=True)
    assert "registered version 2 after the gate judged version 1" in log, log[-3000:]
    assert "clear `evaluate` with its downstream tasks" in log
    assert counts(project) == {**before, "versions": 2, "runs": 2}
    assert aliases(client) == {"champion": "1"}
    v2 = client.get_model_version("churn", "2").tags
    assert "mlops.gate" not in v2 and "mlops.audit.release_refused" not in v2
    refused = [e for e in audit_events(project) if e["event"] == "release_refused"]
    assert [e["details"]["version"] for e in refused] == ["1"]

    rerun("evaluate")  # what the refusal says to do: v2 is gated against v1
    v2 = client.get_model_version("churn", "2").tags
    assert (v2["mlops.gate_champion"], v2["mlops.gate_run_id"]) == ("1", refused[0]["run_id"])
    assert aliases(client).get("challenger") in (None, "2")
    assert aliases(client)["champion"] == "1"
