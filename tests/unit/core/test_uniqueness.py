"""Exact uniqueness across slices: the same rows as pandas' duplicated(keep=False), the
semantics Great Expectations uses, whatever the number of slices and hash partitions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from airflow_mlops_provider.core.uniqueness import (
    KeySpill,
    find_duplicates,
    partitions_for,
    row_base,
)


def spill_in_slices(table: pa.Table, columns, root: Path, slices: int, partitions: int):
    folders, bounds = [], np.linspace(0, table.num_rows, slices + 1).astype(int)
    for order, (a, b) in enumerate(zip(bounds, bounds[1:], strict=False)):
        spill = KeySpill(columns, root / f"s{order}", partitions=partitions)
        for start in range(a, b, 97):  # several chunks per slice
            stop = min(b, start + 97)
            spill.add(table.slice(start, stop - start), row_base(order) + start - a)
        folders.append(str(spill.close()))
    return folders


def expected(frame: pd.DataFrame, columns: list[str]) -> pd.Index:
    """Rows GX counts: every occurrence of a repeated key, after its row filter."""
    keys = frame[columns]
    present = keys.notna().all(axis=1) if len(columns) == 1 else keys.notna().any(axis=1)
    keys = keys[present]
    return keys.index[keys.duplicated(keep=False)]


@pytest.fixture
def table() -> pa.Table:
    rng = np.random.default_rng(5)
    n = 3_000
    ids = rng.integers(0, 2_600, n).astype(object)
    ids[rng.random(n) < 0.05] = None
    price = rng.choice([0.0, -0.0, 1.5, 2.25, np.nan], n)
    return pa.table(
        {
            "id": pa.array([None if v is None else f"K{v}" for v in ids], pa.string()),
            "n": pa.array(rng.integers(0, 50, n)),
            "price": pa.array(price, from_pandas=False),
            "day": pa.array(rng.integers(0, 3, n).astype("datetime64[D]").astype("datetime64[us]")),
            "flag": pa.array(np.where(rng.random(n) < 0.1, None, rng.random(n) < 0.5).tolist()),
        }
    )


@pytest.mark.parametrize(
    ("columns", "slices", "partitions"),
    [(["id"], 1, 1), (["id"], 4, 7), (["n", "day"], 3, 5), (["price", "flag", "id"], 5, 16)],
)
def test_same_rows_as_pandas(table, tmp_path: Path, columns, slices: int, partitions: int) -> None:
    folders = spill_in_slices(table, columns, tmp_path, slices, partitions)
    count, first = find_duplicates(folders, head=20)
    frame = table.to_pandas()
    frame["price"] = frame["price"] + 0.0  # pandas compares -0.0 == 0.0 as well
    rows = expected(frame, columns)
    assert count == len(rows)
    want = frame.loc[rows[:20], columns].reset_index(drop=True)
    pd.testing.assert_frame_equal(first.to_pandas(), want, check_dtype=False)


def test_nan_is_missing_and_negative_zero_is_zero(tmp_path: Path) -> None:
    table = pa.table({"x": pa.array([np.nan, np.nan, 0.0, -0.0, None], from_pandas=False)})
    folders = spill_in_slices(table, ["x"], tmp_path, 2, 2)
    count, first = find_duplicates(folders)
    assert count == 2 and first["x"].to_pylist() == [0.0, 0.0]


def test_no_duplicates_and_empty_slices(tmp_path: Path) -> None:
    table = pa.table({"x": pa.array(list(range(100)))})
    folders = spill_in_slices(table, ["x"], tmp_path, 3, 4)
    empty = KeySpill(["x"], tmp_path / "empty", partitions=4)
    empty.add(table.slice(0, 0), 0)
    count, first = find_duplicates([*folders, str(empty.close())])
    assert count == 0 and first.num_rows == 0


def test_slices_that_disagree_on_partitions_are_refused(tmp_path: Path) -> None:
    table = pa.table({"x": [1, 2]})
    a = spill_in_slices(table, ["x"], tmp_path / "a", 1, 2)
    b = spill_in_slices(table, ["x"], tmp_path / "b", 1, 3)
    with pytest.raises(ValueError, match="disagree"):
        find_duplicates([*a, *b])


def test_partitions_keep_near_half_a_million_rows() -> None:
    assert partitions_for(10) == 1
    assert partitions_for(50_000_000) == 100
    assert partitions_for(10**10) == 256
    assert partitions_for(None) == 64
