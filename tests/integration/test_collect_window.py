"""collect_window on S3 (moto's server on 127.0.0.1): every file of every daily partition the
data interval covers is read, nothing outside it; an empty window is a clear skip."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from airflow.sdk.exceptions import AirflowSkipException

from airflow_mlops_provider.adapters.storage import s3_client
from airflow_mlops_provider.operators.monitoring import CollectWindowOperator
from airflow_mlops_provider.services.config import PipelineConfig
from airflow_mlops_provider.spec import load_spec

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def s3_logs():
    """A moto S3 server with daily log partitions; the aws_default connection points at it."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    extra = {"endpoint_url": endpoint, "region_name": "us-east-1"}
    conn = {"conn_type": "aws", "login": "test", "password": "test", "extra": extra}
    client = s3_client(aws_access_key_id="test", aws_secret_access_key="test", **extra)
    client.create_bucket(Bucket="logs")
    parts = {"2026-11-01": [3, 2], "2026-11-02": [4], "2026-11-03": [5]}  # rows per file
    for day, sizes in parts.items():
        for index, rows in enumerate(sizes):
            frame = pd.DataFrame(
                {"request_id": [f"{day}-{index}-{i}" for i in range(rows)], "prediction": 0.5}
            )
            key = f"inference/dt={day}/part-{index}.parquet"
            client.put_object(Bucket="logs", Key=key, Body=frame.to_parquet(index=False))
        client.put_object(Bucket="logs", Key=f"inference/dt={day}/_SUCCESS", Body=b"")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(conn))
        yield
    server.stop()


def operator(tmp_path: Path) -> CollectWindowOperator:
    """The operator as the factory builds it, on a schedule of every other day."""
    text = (ROOT / "dags" / "churn.yaml").read_text()
    old = "include/demo/data/inference_logs/dt={{ ds }}"
    assert old in text
    (tmp_path / "p.yaml").write_text(text.replace(old, "s3://logs/inference/dt={{ ds }}"))
    spec = load_spec(tmp_path / "p.yaml")
    return CollectWindowOperator(
        task_id="collect_window",
        pipeline=PipelineConfig.from_spec(spec, str(tmp_path)),
        monitoring=spec.monitoring,
        features=spec.data.features,
        source=spec.monitoring.source,
        cron="0 0 */2 * *",
    )


def context(day: str) -> dict:
    """A scheduled run's context as far as collect_window reads it (trigger timetable: the
    data interval is the logical date)."""
    logical = datetime.fromisoformat(day).replace(tzinfo=UTC)
    run = SimpleNamespace(dag_id="churn__monitoring", run_id=f"scheduled__{day}", run_after=logical)
    ti = SimpleNamespace(dag_id=run.dag_id, run_id=run.run_id, task_id="collect_window")
    return {
        "data_interval_start": logical,
        "data_interval_end": logical,
        "logical_date": logical,
        "dag_run": run,
        "ti": ti,
    }


def test_window_reads_every_partition_of_the_period(s3_logs: None, tmp_path: Path) -> None:
    result = operator(tmp_path).execute(context("2026-11-03"))  # period (11-01, 11-03]
    assert result["rows"] == 9 and result["missing"] == [] and result["scored_with"] is None
    assert result["files"] == [
        "s3://logs/inference/dt=2026-11-02/part-0.parquet",
        "s3://logs/inference/dt=2026-11-03/part-0.parquet",
    ]
    window = pd.read_parquet(result["window_uri"])
    assert sorted(window["request_id"].str[:10].unique()) == ["2026-11-02", "2026-11-03"]
    result = operator(tmp_path).execute(context("2026-11-01"))  # two files in one partition
    assert result["rows"] == 5 and [f[-14:] for f in result["files"]] == [
        "part-0.parquet",
        "part-1.parquet",
    ]


def test_empty_window_is_skipped_with_the_reason(s3_logs: None, tmp_path: Path) -> None:
    with pytest.raises(AirflowSkipException, match="no inference logs in this window"):
        operator(tmp_path).execute(context("2026-11-05"))
    root = tmp_path / ".mlops" / "pipelines" / "churn"
    status = json.loads((root / "monitoring" / "latest.json").read_text())
    assert status["status"] == "no_data" and "dt=2026-11-04" in status["reason"]
    (entry,) = [json.loads(line) for line in (root / "audit.jsonl").read_text().splitlines()]
    assert entry["event"] == "empty_window"

    # A backfill of an older window does not replace the newer latest status.
    with pytest.raises(AirflowSkipException):
        operator(tmp_path).execute(context("2026-10-01"))
    kept = json.loads((root / "monitoring" / "latest.json").read_text())
    assert kept["window"].startswith("2026-11-05") and "dt=2026-11-04" in kept["reason"]
