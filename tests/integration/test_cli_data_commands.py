"""`airflow-mlops check-data` and `drift`: the data gate and the drift engine outside Airflow."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
PIPELINE = ROOT / "dags" / "churn.yaml"


def check(*args: str, cwd: Path) -> tuple[int, str]:
    command = [str(Path(sys.executable).parent / "airflow-mlops"), "check-data", *args]
    done = subprocess.run(command, capture_output=True, text=True, cwd=cwd, check=False)
    return done.returncode, done.stdout + done.stderr


def batch(demo_data: Path) -> Path:
    return demo_data / "batches" / "dt=2026-11-01"


def test_good_batch_passes_and_writes_the_report(demo_data: Path, tmp_path: Path) -> None:
    (tmp_path / "batch").mkdir()
    pd.read_parquet(batch(demo_data)).head(1500).to_parquet(tmp_path / "batch" / "p.parquet")
    code, out = check(str(PIPELINE), "batch", "--report", "r.html", cwd=tmp_path)
    summary = json.loads(out.strip().splitlines()[-1])
    assert code == 0 and summary["passed"] and summary["rows"] == 1500
    assert "data validation" in (tmp_path / "r.html").read_text()


def test_bad_batch_fails_naming_the_check(demo_data: Path, tmp_path: Path) -> None:
    frame = pd.read_parquet(batch(demo_data)).head(1500)
    frame.loc[3, "contract"] = "lifetime"
    frame.to_parquet(tmp_path / "bad.parquet")
    code, out = check(str(PIPELINE), "bad.parquet", cwd=tmp_path)
    (failure,) = json.loads(out.strip().splitlines()[-1])["failures"]
    assert code == 1 and (failure["rule"], failure["column"]) == ("in_set", "contract")


def test_missing_batch_fails_closed(tmp_path: Path) -> None:
    code, out = check(str(PIPELINE), "nowhere/", cwd=tmp_path)
    summary = json.loads(out.strip().splitlines()[-1])
    assert code == 1 and not summary["passed"] and "no data at" in summary["error"]


def test_broken_pipeline_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text("pipeline: x\n")
    code, out = check(str(tmp_path / "p.yaml"), "x.parquet", cwd=tmp_path)
    assert code == 2 and "required setting is missing" in out


def drift(*args: str, cwd: Path) -> tuple[int, dict | str]:
    command = [str(Path(sys.executable).parent / "airflow-mlops"), "drift", *args]
    done = subprocess.run(command, capture_output=True, text=True, cwd=cwd, check=False)
    try:
        return done.returncode, json.loads(done.stdout)
    except json.JSONDecodeError:
        return done.returncode, done.stderr


def test_drift_cli_exit_codes(demo_data: Path, tmp_path: Path) -> None:
    logs = demo_data / "inference_logs"
    reference = str(demo_data / "batches" / "dt=2026-11-01")
    code, stable = drift(
        "--reference",
        reference,
        "--current",
        str(logs / "dt=2026-11-01"),
        "--pipeline",
        str(PIPELINE),
        cwd=tmp_path,
    )
    assert code == 0 and stable["dataset_drift"] is False
    code, shifted = drift(
        "--reference",
        reference,
        "--current",
        str(logs / "dt=2026-11-08"),
        "--report",
        "d.html",
        cwd=tmp_path,
    )  # no pipeline: columns inferred
    assert code == 1 and "monthly_charges" in shifted["drifted_features"]
    compared = {f["feature"] for f in shifted["features"]}
    assert "customer_id" not in compared and "event_time" not in compared
    assert "monthly_charges" in (tmp_path / "d.html").read_text()
    code, error = drift("--reference", "missing/", "--current", reference, cwd=tmp_path)
    assert code == 2 and "no data at" in error
