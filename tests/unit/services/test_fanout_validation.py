"""services/fanout_validation.py: plan, slices and reduce on real files and real Great
Expectations — the single gate's snapshot and rejections, and the failures that tell a person
to plan again."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from airflow_mlops_provider.services import fanout_validation as fan
from airflow_mlops_provider.services import validation
from airflow_mlops_provider.spec.data import FanoutSpec

from .test_validation import CONTRACT, DATA, batch

FANOUT = FanoutSpec(slices=3)


def parts(tmp_path: Path) -> str:
    """test_validation's batch with 12 rows, as 3 files of 4 rows (3 slices)."""
    source = batch(tmp_path, x=[float(i % 10) for i in range(12)])
    whole = tmp_path / source / "part-0.parquet"
    frame = pd.read_parquet(whole)
    whole.unlink()
    for index in range(3):
        frame.iloc[index * 4 : index * 4 + 4].to_parquet(
            tmp_path / source / f"part-{index}.parquet"
        )
    return source


def fanned(rt, source: str, *, drop: int | None = None):
    plan = fan.plan_batch(rt, source=source, data=DATA, contract=CONTRACT, fanout=FANOUT)
    results = [
        json.loads(json.dumps(fan.validate_slice(rt, plan, s, data=DATA, contract=CONTRACT)))
        for s in plan["slices"]
    ]
    if drop is not None:
        results[drop] = None
    return plan, results


def test_the_reduce_settles_as_the_single_gate(rt, tmp_path, audit) -> None:
    plan, results = fanned(rt, parts(tmp_path))
    assert len(plan["slices"]) == 3
    snapshot = fan.reduce_batch(rt, plan, results, data=DATA, contract=CONTRACT)
    single = validation.validate_batch(rt, source="lake/dt=1", data=DATA, contract=CONTRACT)
    assert snapshot.manifest == single.manifest  # the same snapshot, found by its id
    assert [line["event"] for line in audit(rt)] == ["validated", "validated"]
    again = fan.reduce_batch(rt, plan, results, data=DATA, contract=CONTRACT)  # a cleared reduce
    assert again.manifest == snapshot.manifest  # the spill was kept for it


def test_a_duplicate_across_slices_is_rejected_and_quarantined(rt, tmp_path, audit) -> None:
    source = parts(tmp_path)
    folder = tmp_path / "lake" / "dt=1"
    last = pd.read_parquet(folder / "part-2.parquet")
    last.loc[last.index[-1], "id"] = "c0"  # the first slice's first id
    last.to_parquet(folder / "part-2.parquet")
    plan, results = fanned(rt, source)
    with pytest.raises(validation.DataRejected, match="failed its contract") as caught:
        fan.reduce_batch(rt, plan, results, data=DATA, contract=CONTRACT)
    assert "2 of 12 rows duplicated" in str(caught.value)
    (line,) = audit(rt)
    assert line["event"] == "rejected_data"
    assert Path(rt.layout.quarantine(rt.task), "batch.parquet").exists()


def test_an_unreadable_slice_is_rejected_as_the_single_gate_rejects_it(rt, tmp_path, audit):
    source = parts(tmp_path)
    plan = fan.plan_batch(rt, source=source, data=DATA, contract=CONTRACT, fanout=FANOUT)
    broken = tmp_path / "lake" / "dt=1" / "part-1.parquet"
    broken.write_bytes(b"x" * broken.stat().st_size)  # same size: the plan still fits
    with pytest.raises(validation.DataRejected, match="cannot read the batch"):
        fan.validate_slice(rt, plan, plan["slices"][1], data=DATA, contract=CONTRACT)
    (line,) = audit(rt)
    assert line["event"] == "rejected_data" and "part-1.parquet" in line["details"]["failed"][0]


def test_a_changed_batch_or_a_missing_result_asks_for_a_new_plan(rt, tmp_path) -> None:
    source = parts(tmp_path)
    plan, results = fanned(rt, source, drop=1)
    with pytest.raises(fan.StalePlan, match="2 of 3 planned slices have a result"):
        fan.reduce_batch(rt, plan, results, data=DATA, contract=CONTRACT)

    plan, results = fanned(rt, source)
    shutil.rmtree(plan["spill_to"])
    with pytest.raises(fan.StalePlan, match="uniqueness keys under"):
        fan.reduce_batch(rt, plan, results, data=DATA, contract=CONTRACT)

    shutil.copy(tmp_path / "lake/dt=1/part-0.parquet", tmp_path / "lake/dt=1/part-3.parquet")
    with pytest.raises(fan.StalePlan, match="changed since it was planned"):
        fan.validate_slice(rt, plan, plan["slices"][0], data=DATA, contract=CONTRACT)


def test_a_missing_batch_is_rejected_by_the_plan(rt, tmp_path, audit) -> None:
    with pytest.raises(validation.DataRejected, match="cannot read the batch"):
        fan.plan_batch(rt, source="lake/none", data=DATA, contract=CONTRACT, fanout=FANOUT)
    (line,) = audit(rt)
    assert line["event"] == "rejected_data"
