"""Streaming validation gives the whole-batch result: the same verdicts, counts, observed texts
and examples, whatever the chunk size, and whether slices run in one process or as separate
map steps merged in any order (their parts travel as JSON)."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_mlops_provider.adapters.reader import open_batch
from airflow_mlops_provider.adapters.storage import Storage
from airflow_mlops_provider.core.contract import checks_from_contract
from airflow_mlops_provider.core.validation_parts import ValidationPart
from airflow_mlops_provider.spec import ContractSpec

from .same_result import assert_same_validation

pytestmark = pytest.mark.integration

NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
ROWS = 24_000
CONTRACT = ContractSpec.model_validate(
    {
        "columns": {
            "order_id": {"type": "str", "unique": True, "pattern": r"^O\d{6}$"},
            "shop": {"type": "str", "allowed": ["north", "south", "east"]},
            "line": {"type": "int", "min": 1, "max": 40},
            "qty": {"type": "int", "max_null_fraction": 0.02},
            "price": {"type": "float", "min": 0, "max": 1000},
            "placed_at": {"type": "datetime"},
            "gift": {"type": "bool", "required": False},
            "coupon": {"type": "str", "max_null_fraction": 0.5, "allowed": ["NA", "X10", "X20"]},
        },
        "min_rows": 1000,
        "max_rows": 30_000,
        "unique_keys": [{"columns": ["shop", "line", "coupon"]}],
        "freshness": {"column": "placed_at", "max_age_hours": 36},
        "no_future_timestamps": {"tolerance_minutes": 30},
    }
)
CHECKS = checks_from_contract(CONTRACT)


def orders(seed: int = 3) -> pd.DataFrame:
    """A batch that breaks most rules a little, with causes spread over every chunk."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"O{i:06d}" for i in range(ROWS)], dtype=object)
    ids[[17, 23_950]] = "O000017"  # a duplicate spanning the first and last chunk
    ids[[5000, 5001, 12_345]] = ["O005000", "O005000", "o012345"]  # one more, one bad pattern
    frame = pd.DataFrame(
        {
            "order_id": ids,
            "shop": rng.choice(["north", "south", "east"], ROWS),
            "line": rng.integers(1, 41, ROWS),
            "qty": pd.array(rng.integers(1, 9, ROWS), dtype="Int64"),
            "price": rng.gamma(2.0, 40.0, ROWS).round(2),
            "placed_at": pd.Timestamp("2026-05-31 10:00")
            + pd.to_timedelta(rng.integers(0, 86_400, ROWS), unit="s"),
            "gift": rng.random(ROWS) < 0.1,
            "coupon": rng.choice(np.array(["NA", "X10", "X20", None], dtype=object), ROWS),
        }
    )
    frame.loc[rng.choice(ROWS, 300, replace=False), "qty"] = pd.NA  # 1.25%: tolerated
    frame.loc[[40, 9000, 23_999], "price"] = [-1.0, 1e6, np.inf]
    frame.loc[[3, 11_000], "shop"] = ["west", "West"]
    frame.loc[rng.choice(ROWS, 70, replace=False), "placed_at"] = pd.Timestamp("2026-07-04")
    return frame


def pieces(frame: pd.DataFrame, count: int) -> list[pd.DataFrame]:
    bounds = np.linspace(0, len(frame), count + 1).astype(int)
    return [
        frame.iloc[a:b].reset_index(drop=True) for a, b in zip(bounds, bounds[1:], strict=False)
    ]


def write_parts(frame: pd.DataFrame, folder: Path, parts: int = 4) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i, piece in enumerate(pieces(frame, parts)):
        table = pa.Table.from_pandas(piece, preserve_index=False)
        pq.write_table(table, folder / f"part-{i:03d}.parquet", row_group_size=2_500)


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("orders")
    write_parts(orders(), root / "batch")
    return open_batch(Storage(root), "batch")


@pytest.fixture(scope="module")
def whole(batch):
    from airflow_mlops_provider.adapters.great_expectations import validate_frame

    return validate_frame(batch.read_pandas(), CHECKS, now=NOW)


def test_the_whole_batch_result_is_the_expected_one(whole) -> None:
    failed = {(r.check.rule, r.check.column) for r in whole.failures()}
    assert failed == {
        ("unique", "order_id"),
        ("pattern", "order_id"),
        ("in_set", "shop"),
        ("between", "price"),
        ("finite", "price"),
        ("no_future", "placed_at"),
        ("unique_key", None),
    }
    by_rule = {(r.check.rule, r.check.column): r for r in whole.results}
    assert by_rule[("unique", "order_id")].unexpected_count == 4
    assert by_rule[("no_future", "placed_at")].unexpected_count == 70
    assert by_rule[("null_fraction", "qty")].success  # 1.25% of 2% allowed
    assert by_rule[("column_type", "qty")].observed == "dtype Int64"


# Chunks inside a row group (2,500 rows), across row groups and files, the whole batch at once.
@pytest.mark.parametrize("chunk_rows", [2_000, 7_001, 100_000])
def test_streaming_gives_the_whole_batch_result(batch, whole, chunk_rows: int) -> None:
    from airflow_mlops_provider.adapters.validation import validate_batch

    streamed = validate_batch(batch, CHECKS, now=NOW, chunk_rows=chunk_rows)
    assert_same_validation(streamed, whole)


def test_slices_as_mapped_steps_merge_to_the_whole_result(batch, whole, tmp_path: Path) -> None:
    from airflow_mlops_provider.adapters.validation import reduce_validation, validate_slice

    units = batch.units(target_rows=5_000)
    assert len(units) >= 4
    parts = [
        validate_slice(
            batch, CHECKS, now=NOW, spill_root=str(tmp_path), units=[unit], order=i,
            partitions=3, chunk_rows=5_000,  # chunks inside a slice: test_fanout.py
        ).to_dict()
        for i, unit in enumerate(units)
    ]  # fmt: skip
    random.Random(1).shuffle(parts)  # mapped tasks finish in any order
    travelled = [ValidationPart.from_dict(json.loads(json.dumps(p))) for p in parts]
    assert_same_validation(reduce_validation(CHECKS, travelled), whole)


def test_a_passing_batch_passes_both_ways(tmp_path: Path) -> None:
    from airflow_mlops_provider.adapters.great_expectations import validate_frame
    from airflow_mlops_provider.adapters.validation import validate_batch

    clean = orders(seed=9).head(1_200).copy()
    clean["order_id"] = [f"O{i:06d}" for i in range(len(clean))]
    clean["shop"], clean["price"] = "north", 10.0
    clean["line"] = np.arange(len(clean)) % 40 + 1
    clean["coupon"] = np.array(["NA", "X10", "X20"] * 400, dtype=object)
    clean["placed_at"] = pd.Timestamp("2026-06-01 08:00")
    write_parts(clean, tmp_path / "ok", parts=3)
    ok = open_batch(Storage(tmp_path), "ok")
    checks = [c for c in CHECKS if c.rule != "unique_key"]  # 360 keys cannot cover 1,200 rows
    whole = validate_frame(ok.read_pandas(), checks, now=NOW)
    assert whole.passed, whole.summary()
    assert_same_validation(validate_batch(ok, checks, now=NOW, chunk_rows=250), whole)


def test_missing_and_mistyped_columns_skip_the_same_checks(tmp_path: Path) -> None:
    from airflow_mlops_provider.adapters.great_expectations import validate_frame
    from airflow_mlops_provider.adapters.validation import validate_batch

    broken = orders().head(3_000).drop(columns=["coupon"]).assign(line=lambda f: f["line"] * 0.5)
    write_parts(broken, tmp_path / "broken", parts=2)
    batch = open_batch(Storage(tmp_path), "broken")
    whole = validate_frame(batch.read_pandas(), CHECKS, now=NOW)
    assert_same_validation(validate_batch(batch, CHECKS, now=NOW, chunk_rows=700), whole)
    assert {r.check.rule for r in whole.skipped()} >= {"between", "unique_key", "in_set"}


def test_a_csv_batch_streams_to_the_same_result(tmp_path: Path) -> None:
    from airflow_mlops_provider.adapters.great_expectations import validate_frame
    from airflow_mlops_provider.adapters.validation import validate_batch

    frame = orders().head(4_000)
    folder = tmp_path / "csv"
    folder.mkdir()
    for i, piece in enumerate(pieces(frame, 2)):
        piece.to_csv(folder / f"part-{i}.csv", index=False)
    types = {name: rule.type for name, rule in CONTRACT.columns.items()}
    batch = open_batch(Storage(tmp_path), "csv", "csv", types=types)
    whole = validate_frame(batch.read_pandas(), CHECKS, now=NOW)
    assert [r.check.rule for r in whole.failures()].count("in_set") == 1
    assert_same_validation(validate_batch(batch, CHECKS, now=NOW, chunk_rows=700), whole)
