"""The data-gate corpus (test_bad_data.py) through the MONITORING DAG: serving validation
rejects each spoiled inference-log window with the same summary line the training gate
prints, quarantines it, and nothing downstream (drift, retrain request, alert) runs.

The cases that spoil different columns share one window (the summary must name every one of
them), so the corpus takes two monitoring runs, not eight."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from .airflow_helpers import load_dags
from .conftest import LogRecords
from .reliability_record import record
from .test_bad_data import CONTRACT_CASES, spoil

pytestmark = pytest.mark.integration
DOWNSTREAM = ("detect_drift", "request_retraining", "alert", "healthy")


def test_spoiled_serving_windows_stop_at_validation(
    project: Path,
    demo_data: Path,
    airflow_db: None,
    capfd: pytest.CaptureFixture[str],
    logged: LogRecords,
    request: pytest.FixtureRequest,
) -> None:
    spec = project / "dags" / "churn.yaml"
    text = spec.read_text().replace(str(demo_data / "inference_logs"), str(project / "logs"))
    spec.write_text(text)
    logs = pd.read_parquet(demo_data / "inference_logs" / "dt=2026-11-01").head(2000)
    windows = [[c for c in CONTRACT_CASES if c != "type change"], ["type change"]]
    assert sorted(sum(windows, [])) == sorted(CONTRACT_CASES)
    days = [datetime(2026, 12, 1, tzinfo=UTC) + timedelta(days=i) for i in range(len(windows))]
    reasons: dict[str, str] = {}
    for cases, day in zip(windows, days, strict=True):
        frame = logs.copy()
        for case in cases:  # each case spoils its own column
            frame, reasons[case] = spoil(frame, case)
        folder = project / "logs" / f"dt={day:%Y-%m-%d}"
        folder.mkdir(parents=True)
        frame.to_parquet(folder / "part-0.parquet")
    dag = load_dags(project)["churn__monitoring"]

    for cases, day in zip(windows, days, strict=True):
        dag_run = dag.test(logical_date=day)
        out = capfd.readouterr().out + logged.text()
        logged.lines.clear()
        states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
        assert states["collect_window"] == "success", (cases, states)
        assert states["validate_serving_data"] == "failed", (cases, states)
        assert all(states[t] == "upstream_failed" for t in DOWNSTREAM if t in states), states
        for case in cases:
            assert reasons[case] in out, case

    pipeline = project / ".mlops" / "pipelines" / "churn"
    kept = sorted(pipeline.glob("quarantine/churn__monitoring/*/reason.json"))
    assert len(kept) == len(windows)
    whys = "\n".join(json.loads(k.read_text())["why"] for k in kept)
    assert all(reasons[case] in whys for case in CONTRACT_CASES)
    events = [json.loads(line)["event"] for line in (pipeline / "audit.jsonl").open()]
    assert events == ["rejected_data"] * len(windows)
    assert not (pipeline / "snapshots").exists()
    record(
        "bad-serving-data",
        scenario=f"{len(CONTRACT_CASES)} data-gate cases as spoiled inference-log windows "
        "through the monitoring DAG",
        test=request.node.nodeid,
        outcome={
            "cases": len(CONTRACT_CASES),
            "monitoring runs": len(windows),
            "cases named in the gate's summary": len(CONTRACT_CASES),
            "windows quarantined with reason": len(kept),
            "downstream tasks run": 0,
            "audit events": f"{len(events)} x rejected_data",
        },
    )
