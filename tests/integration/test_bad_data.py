"""Bad batches stop the training DAG at the data gate: the exact reason is reported, the
batch is kept in quarantine with it, the decision is audited, and no model step runs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from .airflow_helpers import load_dags, task_test
from .conftest import LogRecords

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
DAY = "2026-11-01"
MODEL_STEPS = ("detect_drift", "retrain", "evaluate", "canary_promote")


def good_batch(demo_data: Path) -> pd.DataFrame:
    return pd.read_parquet(demo_data / "batches" / f"dt={DAY}").head(2000)


def land(folder: Path, case: str, demo_data: Path) -> str:
    """Write the batch for `case` into folder; return the reason the gate must give."""
    if case == "missing path":
        return "no data at"
    folder.mkdir(parents=True)
    part = folder / "part-0.parquet"
    if case == "empty file":
        part.write_bytes(b"")
        return "cannot read the batch"
    good_batch(demo_data).to_parquet(part)
    if case == "truncated parquet":
        part.write_bytes(part.read_bytes()[: part.stat().st_size // 2])
        return "cannot read the batch"
    frame, reason = spoil(good_batch(demo_data), case)
    frame.to_parquet(part)
    return reason


def spoil(frame: pd.DataFrame, case: str) -> tuple[pd.DataFrame, str]:
    """One contract violation and the summary line the gate must print for it."""
    if case == "out of range":
        frame.loc[7, "tenure_months"] = 500
        return frame, "tenure_months between 0"
    if case == "missing column":
        return frame.drop(columns=["support_calls"]), "column support_calls exists"
    if case == "extra column":
        return frame.assign(surprise=1), "extra columns: surprise"
    if case == "type change":
        return frame.assign(tenure_months=frame["tenure_months"].astype(str)), (
            "tenure_months is int: dtype str"
        )
    if case == "all-null column":
        return frame.assign(monthly_charges=float("nan")), "2000 of 2000 rows missing"
    if case == "inf in numerics":
        frame.loc[5, "total_charges"] = float("inf")
        return frame, "total_charges has no infinite values: 1 of 2000"
    if case == "unseen category":
        frame.loc[5, "contract"] = "lifetime"
        return frame, "rows not in the allowed set (e.g. 'lifetime')"
    if case == "duplicate keys":
        frame.loc[5, "customer_id"] = frame.loc[6, "customer_id"]
        return frame, "customer_id values are unique: 2 of 2000 rows duplicated"
    raise AssertionError(case)


CONTRACT_CASES = [
    "out of range",
    "missing column",
    "extra column",
    "type change",
    "all-null column",
    "inf in numerics",
    "unseen category",
    "duplicate keys",
]


@pytest.mark.parametrize(
    "case", ["missing path", "empty file", "truncated parquet", *CONTRACT_CASES]
)
def test_bad_batch_stops_before_any_model_step(
    case: str,
    project: Path,
    demo_data: Path,
    airflow_db: None,
    capsys: pytest.CaptureFixture[str],
    logged: LogRecords,
) -> None:
    spec = project / "dags" / "churn.yaml"
    text = spec.read_text().replace(str(demo_data / "batches"), str(project / "landing"))
    spec.write_text("\n".join(line for line in text.splitlines() if "wait:" not in line))
    reason = land(project / "landing" / f"dt={DAY}", case, demo_data)

    dag_run = load_dags(project)["churn__training"].test(
        logical_date=datetime.fromisoformat(DAY).replace(tzinfo=UTC)
    )

    states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
    assert states["validate_data"] == "failed"
    assert all(states[t] == "upstream_failed" for t in MODEL_STEPS), states
    assert reason in capsys.readouterr().out + logged.text()
    pipeline = project / ".mlops" / "pipelines" / "churn"
    (kept,) = (pipeline / "quarantine").glob("churn__training/*/reason.json")
    assert reason in json.loads(kept.read_text())["why"]
    assert (kept.parent / "batch.parquet").exists() == (case in CONTRACT_CASES)  # as read
    events = [json.loads(line)["event"] for line in (pipeline / "audit.jsonl").open()]
    assert events == ["rejected_data"]
    assert not (pipeline / "snapshots").exists()
    if case != "missing path":  # nothing is deleted: the source is left as it was
        assert (project / "landing" / f"dt={DAY}" / "part-0.parquet").exists()


def test_unreadable_batch_is_rejected(demo_data: Path) -> None:
    """No read permission. Root reads any file, so as root the gate runs as `nobody`."""
    folder = Path(tempfile.mkdtemp(prefix="mlops-perm-"))
    folder.chmod(0o755)
    shutil.copytree(demo_data / "batches" / f"dt={DAY}", folder / "batch")
    (folder / "batch" / "part-0.parquet").chmod(0)
    command = [
        str(Path(sys.executable).parent / "airflow-mlops"),
        "check-data",
        str(ROOT / "dags" / "churn.yaml"),
        str(folder / "batch"),
    ]
    if os.geteuid() == 0:
        command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command]
    try:
        done = subprocess.run(command, capture_output=True, text=True, cwd="/tmp", check=False)
    finally:
        shutil.rmtree(folder)
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert done.returncode == 1 and not summary["passed"]
    # the reader names the file it could not open
    assert "part-0.parquet" in summary["error"] and "Permission denied" in summary["error"]


def test_fixed_batch_passes_when_the_task_is_cleared(
    project: Path, demo_data: Path, airflow_db: None
) -> None:
    spec = project / "dags" / "churn.yaml"
    text = spec.read_text().replace(str(demo_data / "batches"), str(project / "landing"))
    spec.write_text("\n".join(line for line in text.splitlines() if "wait:" not in line))
    land(project / "landing" / f"dt={DAY}", "out of range", demo_data)
    dag = load_dags(project)["churn__training"]
    dag_run = dag.test(logical_date=datetime.fromisoformat(DAY).replace(tzinfo=UTC))
    assert str(dag_run.state) == "failed"

    good_batch(demo_data).to_parquet(project / "landing" / f"dt={DAY}" / "part-0.parquet")
    # `airflow tasks test` (in this process): the task re-run in the same DAG run
    assert task_test(dag, "validate_data", DAY) == "success"
    pipeline = project / ".mlops" / "pipelines" / "churn"
    assert len(list((pipeline / "snapshots").iterdir())) == 1
    events = [json.loads(line)["event"] for line in (pipeline / "audit.jsonl").open()]
    assert events == ["rejected_data", "validated"]
