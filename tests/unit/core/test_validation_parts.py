"""Merging slices' partial results: order, heads, errors and decisions on totals."""

from __future__ import annotations

import json

import pytest

from airflow_mlops_provider.core.contract import Check
from airflow_mlops_provider.core.validation_parts import (
    CheckPart,
    ValidationPart,
    finish,
    merge,
)

CHECKS = [
    Check("row_count", None, {"min": 5, "max": 8}),
    Check("column_type", "n", {"type": "int"}),
    Check("null_fraction", "n", {"max_fraction": 0.25}),
    Check("in_set", "s", {"values": ["a"]}),
    Check("no_future", "t", {"tolerance_minutes": 0}),
]


def part(order: int, rows: int, dtype: str, nulls: int, bad: list[str], future: list[str]):
    latest = "2026-01-01T00:00:00+00:00"
    return ValidationPart(
        rows=rows,
        order=(order,),
        checks=(
            CheckPart(),
            CheckPart(extra={"dtype": dtype}),
            CheckPart(count=nulls),
            CheckPart(success=not bad, count=len(bad), head=tuple(bad)),
            CheckPart(
                count=len(future),
                head=tuple(future),
                extra={"max": "2027-01-01T00:00:00+00:00" if future else None, "latest": latest},
            ),
        ),
    )


def test_slices_merge_in_batch_order_whatever_order_they_arrive() -> None:
    slices = [
        part(2, 2, "int64", 0, ["'z'"], []),
        part(0, 3, "Int64", 1, ["'x'", "'y'"], ["2027-01-01 00:00:00"]),
        part(1, 2, "int64", 1, [], []),
    ]
    result = finish(CHECKS, merge(slices))
    rows, dtype, nulls, in_set, future = result.results
    assert rows.success and rows.observed == "7 rows"
    assert dtype.observed == "dtype Int64"  # missing values in one slice make the batch Int64
    assert not nulls.success and nulls.observed == "2 of 7 rows missing (28.6%)"
    assert in_set.unexpected_examples == ("'x'", "'y'", "'z'")
    assert not future.success and future.unexpected_count == 1


def test_parts_travel_as_json() -> None:
    original = merge([part(0, 5, "int64", 1, ["'q'"], [])])
    assert ValidationPart.from_dict(json.loads(json.dumps(original.to_dict()))) == original


def test_an_error_in_one_slice_is_the_batch_error() -> None:
    broken = part(1, 3, "int64", 0, [], [])
    checks = list(broken.checks)
    checks[3] = CheckPart(state="error", success=False, reason="engine failed")
    merged = merge([part(0, 3, "int64", 0, [], []), ValidationPart(3, tuple(checks), (1,))])
    assert finish(CHECKS, merged).results[3].observed == "could not be checked: engine failed"


def test_totals_decide_row_count_and_empty_batches() -> None:
    result = finish(CHECKS, merge([part(0, 0, "int64", 0, [], [])]))
    assert not result.results[0].success  # 0 rows < min 5
    assert result.results[2].success  # no rows: nothing missing (GX's vacuous truth)
    assert result.results[4].observed == "no values to check"


def test_parts_of_different_check_lists_and_dtypes_are_refused() -> None:
    one = part(0, 1, "int64", 0, [], [])
    with pytest.raises(ValueError, match="different check lists"):
        merge([one, ValidationPart(1, one.checks[:2], (1,))])
    with pytest.raises(ValueError, match="disagree"):
        merge([one, part(1, 1, "float64", 0, [], [])])
    with pytest.raises(ValueError, match="not a validation part"):
        ValidationPart.from_dict({"rows": 1})
