"""Fan-out: a plan, one map per slice (what a mapped task calls; results travel as JSON, in
any order), one reduce — equal to the whole-batch validation and drift report. The spill goes
through storage: a local folder, or S3 (moto's server) as with tasks on different workers."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pandas as pd
import pytest

from airflow_mlops_provider.adapters import fanout
from airflow_mlops_provider.adapters.storage import Storage
from airflow_mlops_provider.core.drift import compare_profile
from airflow_mlops_provider.core.drift_profile import fit_profile

from .same_result import assert_same_validation
from .test_adapters import moto_client, s3_endpoint  # noqa: F401 - the moto server fixture
from .test_streaming_validation import CHECKS, NOW, orders, write_parts

pytestmark = pytest.mark.integration
FEATURES = {"numeric": ["line", "price"], "categorical": ["shop", "coupon"]}
SETTINGS = {"alpha": 0.01, "prediction_column": None}


def travel(value):
    """What XCom does to a value: JSON there and back."""
    return json.loads(json.dumps(value))


def run_maps(storage: Storage, location: str, spill_to: str, slices: int):
    plan = travel(fanout.plan_slices(storage, location, slices=slices, now=NOW))
    assert len(plan["slices"]) == slices
    parts = [
        travel(fanout.validate_map(storage, plan, s, CHECKS, spill_to=spill_to, chunk_rows=1_500))
        for s in plan["slices"]
    ]
    random.Random(7).shuffle(parts)
    return plan, parts


def test_local_fanout_equals_the_whole_batch(tmp_path: Path) -> None:
    from airflow_mlops_provider.adapters.great_expectations import validate_frame

    frame = orders()
    write_parts(frame, tmp_path / "batch", parts=3)
    storage = Storage(tmp_path)
    plan, parts = run_maps(storage, "batch", "spill", slices=4)
    whole = validate_frame(storage.read_frame("batch"), CHECKS, now=NOW)
    assert_same_validation(fanout.validate_reduce(storage, CHECKS, parts), whole)
    assert not (tmp_path / "spill").exists() or not any((tmp_path / "spill").rglob("*.arrow"))

    profile = fit_profile(orders(seed=11), **FEATURES)
    scans = [travel(fanout.drift_map(storage, plan, s, profile, prediction_column=None))
             for s in plan["slices"]]  # fmt: skip
    report = fanout.drift_reduce(profile, scans[::-1], SETTINGS)
    expected = compare_profile(profile, storage.read_frame("batch"), **SETTINGS)
    assert report.drifted_features() == expected.drifted_features()
    assert [round(f.statistic, 9) for f in report.features] == [
        round(f.statistic, 9) for f in expected.features
    ]


def test_s3_fanout_spills_through_storage(s3_endpoint: str, tmp_path: Path) -> None:  # noqa: F811
    from airflow_mlops_provider.adapters.great_expectations import validate_frame

    moto_client(s3_endpoint).create_bucket(Bucket="fan")
    storage = Storage(tmp_path, s3_client=lambda: moto_client(s3_endpoint))
    local = tmp_path / "staging"
    write_parts(orders().head(6_000), local, parts=2)
    for path in sorted(local.iterdir()):
        storage.write_bytes(f"s3://fan/batch/{path.name}", path.read_bytes())
    plan, parts = run_maps(storage, "s3://fan/batch", "s3://fan/runs/r1/spill", slices=3)
    assert all(
        uri.startswith("s3://fan/runs/r1/spill/")
        for p in parts
        for f in p["spills"].values()
        for uri in f
    )
    whole = validate_frame(storage.read_frame("s3://fan/batch"), CHECKS, now=NOW)
    assert_same_validation(fanout.validate_reduce(storage, CHECKS, parts), whole)
    assert storage.list_objects("s3://fan/runs/r1/spill") == []  # removed after the reduce


def test_a_batch_that_changed_since_the_plan_is_refused(tmp_path: Path) -> None:
    write_parts(orders().head(2_000), tmp_path / "b", parts=2)
    storage = Storage(tmp_path)
    plan = fanout.plan_slices(storage, "b", slices=2, now=NOW)
    pd.DataFrame(orders().head(10)).to_parquet(tmp_path / "b" / "part-late.parquet")
    with pytest.raises(ValueError, match="changed since it was planned"):
        fanout.validate_map(storage, plan, plan["slices"][0], CHECKS, spill_to="spill")
