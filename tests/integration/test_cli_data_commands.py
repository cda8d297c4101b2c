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


def test_drift_cli_with_a_saved_profile_and_a_bad_override(demo_data: Path, tmp_path: Path) -> None:
    from airflow_mlops_provider.core.drift_profile import fit_profile
    from airflow_mlops_provider.spec import load_pipeline_file

    features = load_pipeline_file(PIPELINE).data.features
    reference = pd.read_parquet(demo_data / "batches" / "dt=2026-11-01")
    profile = fit_profile(reference, numeric=features.numeric, categorical=features.categorical)
    (tmp_path / "profile.json").write_text(json.dumps(profile.to_dict()))
    drifted = str(demo_data / "inference_logs" / "dt=2026-11-08")
    code, out = drift("--reference", "profile.json", "--current", drifted, cwd=tmp_path)
    assert code == 1 and "monthly_charges" in out["drifted_features"]
    assert out["prediction_drift"] is None  # the logs carry no prediction column
    assert {f["feature"] for f in out["features"]} == set(features.all)
    code, out = drift(
        "--reference", "profile.json", "--current", drifted, "--pipeline", str(PIPELINE),
        cwd=tmp_path,
    )  # fmt: skip
    assert code == 1
    bad = PIPELINE.read_text().replace(
        "drift_share: 0.25", "drift_share: 0.25\n  features: {monthly_charge: {test: psi}}"
    )
    (tmp_path / "bad.yaml").write_text(bad)
    code, error = drift("--reference", "profile.json", "--current", drifted, "--pipeline",
                        "bad.yaml", cwd=tmp_path)  # fmt: skip
    assert code == 2 and "bad.yaml:" in error and "SpecError" not in error
    assert "drift.features.monthly_charge: 'monthly_charge' is not a declared feature" in error
    (tmp_path / "broken.json").write_text("{}")
    code, error = drift("--reference", "broken.json", "--current", drifted, cwd=tmp_path)
    assert code == 2 and "not a drift profile" in error


def test_drift_cli_csv_folders_tiny_batches_and_damaged_profiles(
    demo_data: Path, tmp_path: Path
) -> None:
    """Issue 14: CSV folders are read; a 3-row batch is "not enough evidence" (exit 3), not a
    confident "no drift"; a damaged profile is a clear usage error, never an IndexError."""
    from airflow_mlops_provider.core.drift_profile import fit_profile

    reference = pd.read_parquet(batch(demo_data))
    for name, rows in (("ref", reference), ("tiny", reference.head(3))):
        (tmp_path / name).mkdir()
        for i, part in enumerate((rows.iloc[::2], rows.iloc[1::2])):
            part.to_csv(tmp_path / name / f"part-{i}.csv", index=False)
    code, out = drift("--reference", "ref", "--current", "ref", cwd=tmp_path)
    assert code == 0 and out["verdict"] == "no_drift"
    code, out = drift("--reference", "ref", "--current", "tiny", cwd=tmp_path)
    assert code == 3 and out["verdict"] == "not_enough_evidence" and out["min_rows"] > 3
    profile = fit_profile(reference, numeric=["monthly_charges"], categorical=[]).to_dict()
    column = profile["columns"]["monthly_charges"]
    for damage, message in (
        ({"grid": column["grid"][::-1]}, "not strictly increasing"),
        ({"grid": [], "le": [], "eq": []}, "an empty grid"),
        ({"le": column["le"][:-1]}, "lengths"),
        ({"eq": [float("nan"), *column["eq"][1:]]}, "not a whole non-negative count"),
    ):
        broken = {**profile, "columns": {"monthly_charges": {**column, **damage}}}
        (tmp_path / "damaged.json").write_text(json.dumps(broken))
        code, error = drift("--reference", "damaged.json", "--current", "ref", cwd=tmp_path)
        assert code == 2 and "damaged drift profile: column 'monthly_charges'" in error, error
        assert message in error and "refit it by retraining" in error
        assert "Traceback" not in error and "IndexError" not in error


def test_drift_cli_reads_s3(demo_data: Path, tmp_path: Path) -> None:
    """REF and CUR on S3 (moto's server mode over real HTTP), credentials from the environment
    as boto3 reads them."""
    import os

    from moto.server import ThreadedMotoServer

    from airflow_mlops_provider.adapters.storage import s3_client

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        env = {
            **os.environ,
            "AWS_ENDPOINT_URL": f"http://{host}:{port}",
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        client = s3_client(
            endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1",
            aws_access_key_id="test", aws_secret_access_key="test",
        )  # fmt: skip
        client.create_bucket(Bucket="lake")
        for key, folder in (
            ("ref", "batches/dt=2026-11-01"),
            ("cur", "inference_logs/dt=2026-11-01"),
        ):
            for part in sorted((demo_data / folder).glob("*.parquet")):
                client.put_object(Bucket="lake", Key=f"{key}/{part.name}", Body=part.read_bytes())
        command = [
            str(Path(sys.executable).parent / "airflow-mlops"), "drift", "--reference",
            "s3://lake/ref/", "--current", "s3://lake/cur", "--pipeline", str(PIPELINE),
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, env=env)
    finally:
        server.stop()
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["dataset_drift"] is False


def test_check_data_on_a_csv_export_with_its_dialect(demo_data: Path, tmp_path: Path) -> None:
    """A `;`-separated latin-1 export with a BOM-less header, dates as ISO text: the datetime
    column is parsed (the contract's type), so the gate judges the data, not the text."""
    frame = pd.read_parquet(batch(demo_data)).head(1200)
    folder = tmp_path / "export"
    folder.mkdir()
    for i, part in enumerate((frame.iloc[:600], frame.iloc[600:])):
        part.to_csv(folder / f"part-{i}.csv", sep=";", index=False, encoding="latin-1")
    text = PIPELINE.read_text().replace(
        "  format: parquet\n", "  format: csv\n  csv: {delimiter: ';', encoding: latin-1}\n"
    )
    (tmp_path / "p.yaml").write_text(text)
    code, out = check("p.yaml", "export", cwd=tmp_path)
    summary = json.loads(out.strip().splitlines()[-1])
    assert code == 0 and summary["passed"] and summary["rows"] == 1200, out
    (folder / "part-1.csv").write_text(
        (folder / "part-1.csv").read_text(encoding="latin-1").replace("2026-", "26-", 1),
        encoding="latin-1",
    )
    code, out = check("p.yaml", "export", cwd=tmp_path)
    error = json.loads(out.strip().splitlines()[-1])["error"]
    assert code == 1 and "part-1.csv: column 'event_time', data row 1" in error


def test_chunk_size_changes_memory_not_results(demo_data: Path, tmp_path: Path) -> None:
    frame = pd.read_parquet(batch(demo_data)).head(3000)
    frame.loc[[5, 2900], "customer_id"] = "C-dup"  # a duplicate across chunks
    frame.loc[1500, "tenure_months"] = 99
    frame.to_parquet(tmp_path / "b.parquet")
    runs = [check(str(PIPELINE), "b.parquet", *extra, cwd=tmp_path) for extra in
            ((), ("--chunk-rows", "250"))]  # fmt: skip
    (code_a, out_a), (code_b, out_b) = runs
    assert code_a == code_b == 1 and out_a.splitlines()[-1] == out_b.splitlines()[-1]
    failures = {
        f["rule"]: f["unexpected_count"] for f in json.loads(out_a.splitlines()[-1])["failures"]
    }
    assert failures == {"unique": 2, "between": 1}


def test_drift_cli_guesses_csv_folders(demo_data: Path, tmp_path: Path) -> None:
    for name, folder in (("ref", "batches/dt=2026-11-01"), ("cur", "inference_logs/dt=2026-11-08")):
        (tmp_path / name).mkdir()
        pd.read_parquet(demo_data / folder).to_csv(tmp_path / name / "part-0.csv", index=False)
    code, out = drift("--reference", "ref", "--current", "cur", cwd=tmp_path)
    assert code == 1 and "monthly_charges" in out["drifted_features"], out
