"""services/validation.py: the data gate on real files and real Great Expectations."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from airflow_mlops_provider.services import validation
from airflow_mlops_provider.services.runtime import VALIDATION_REPORT_LINK
from airflow_mlops_provider.spec import ContractSpec, DataSpec, MonitoringSpec

DATA = DataSpec.model_validate(
    {
        "source": "lake/dt=1",
        "target": "y",
        "features": {"numeric": ["x"]},
        "split": {"time_column": "t", "holdout_fraction": 0.25},
    }
)
CONTRACT = ContractSpec.model_validate(
    {
        "min_rows": 4,
        "columns": {
            "id": {"type": "str", "unique": True},
            "t": {"type": "datetime"},
            "x": {"type": "float", "min": 0, "max": 10},
            "y": {"type": "int", "allowed": [0, 1]},
        },
    }
)


def batch(tmp_path: Path, x: list[float] | None = None) -> str:
    xs = x or [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
    frame = pd.DataFrame(
        {
            "id": [f"c{i}" for i in range(len(xs))],
            "t": pd.date_range("2026-11-01", periods=len(xs), freq="h"),
            "x": xs,
            "y": [i % 2 for i in range(len(xs))],
        }
    )
    folder = tmp_path / "lake" / "dt=1"
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(folder / "part-0.parquet", index=False)
    return "lake/dt=1"


def test_a_good_batch_becomes_a_snapshot_once(rt, tmp_path, published, audit) -> None:
    snapshot = validation.validate_batch(rt, source=batch(tmp_path), data=DATA, contract=CONTRACT)
    manifest = snapshot.manifest
    assert (manifest["train_rows"], manifest["holdout_rows"]) == (6, 2)
    assert Path(manifest["train_uri"]).exists() and Path(manifest["holdout_uri"]).exists()
    assert manifest["source_files"][0]["uri"].endswith("part-0.parquet")
    assert snapshot.to_xcom()["report"] == published[VALIDATION_REPORT_LINK]
    assert Path(snapshot.report).name == "validation.html"
    (line,) = audit(rt)
    assert line["event"] == "validated" and line["details"]["rows"] == 8

    again = validation.validate_batch(rt, source="lake/dt=1", data=DATA, contract=CONTRACT)
    assert again.manifest == manifest  # same rows: same id, the stored manifest


def test_a_batch_breaking_its_contract_is_quarantined(rt, tmp_path, sent, audit) -> None:
    source = batch(tmp_path, x=[1.0, 2.0, 3.0, 4.0, 50.0, 6.0, 7.0, 8.0])
    with pytest.raises(validation.DataRejected, match="failed its contract") as caught:
        validation.validate_batch(rt, source=source, data=DATA, contract=CONTRACT)
    assert "Report:" in str(caught.value)
    folder = Path(rt.layout.quarantine(rt.task))
    assert len(pd.read_parquet(folder / "batch.parquet")) == 8
    reason = json.loads((folder / "reason.json").read_text())
    assert reason["task_id"] == "step" and "x" in reason["why"]
    (line,) = audit(rt)
    assert line["event"] == "rejected_data" and any("x" in f for f in line["details"]["failed"])
    assert sent and "failed validation (1 checks)" in sent[0]
    assert not Path(rt.layout.root, "snapshots").exists()


def test_an_unreadable_batch_is_rejected_with_the_reason(rt, audit, sent) -> None:
    with pytest.raises(validation.DataRejected, match="cannot read the batch"):
        validation.validate_batch(rt, source="lake/missing", data=DATA, contract=CONTRACT)
    folder = Path(rt.layout.quarantine(rt.task))
    assert not (folder / "batch.parquet").exists()
    assert "no data at" in json.loads((folder / "reason.json").read_text())["why"]
    assert audit(rt)[0]["event"] == "rejected_data" and "rejected: cannot read" in sent[0]


def test_a_serving_window_needs_no_target_and_may_carry_log_columns(rt, tmp_path) -> None:
    frame = pd.read_parquet(Path(tmp_path, batch(tmp_path), "part-0.parquet"))
    window = frame.drop(columns=["y"]).assign(request_id="r", prediction=0.5)
    uri = rt.storage.write_frame(window, str(tmp_path / "window.parquet"))
    monitoring = MonitoringSpec.model_validate({"source": "logs/dt={{ ds }}"})
    checked = validation.validate_window(
        rt, window_uri=uri, contract=CONTRACT, target="y", monitoring=monitoring
    )
    assert checked.to_xcom() == {"window_uri": uri, "rows": 8, "report": checked.report}
