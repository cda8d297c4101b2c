"""`airflow-mlops check-data`: the data gate outside Airflow, as CI and people use it."""

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
