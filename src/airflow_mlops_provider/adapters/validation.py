"""Validate a batch of any size in bounded memory: Great Expectations per slice, merged.

The batch is read in chunks of `chunk_rows` rows (adapters/reader.py); each chunk is one GX
validation (adapters/great_expectations.frame_part) giving a mergeable part; `unique` and
`unique_key` spill their key columns to hash partitions and are decided exactly across the
whole batch (core/uniqueness.py). `merge` + `finish` (core/validation_parts.py) give the same
result as `validate_frame` on the whole batch: verdicts, counts, texts and examples.

`validate_slice` is the map step (one slice of the batch, e.g. one mapped task's units) and
`reduce_validation` the reduce step; `validate_batch` runs both in this process. Why GX per
chunk and not our own Arrow checks: bench/BENCHMARKS.md, "Scale: streaming validation and
drift" (GX meets the memory and linear-time goals; its semantics stay the reference).
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_mlops_provider.adapters.reader import DEFAULT_CHUNK_ROWS
from airflow_mlops_provider.core.contract import Check, ValidationResult
from airflow_mlops_provider.core.validation_parts import (
    ValidationPart,
    as_utc,
    finish,
    merge,
    render_value,
)

if TYPE_CHECKING:
    from airflow_mlops_provider.adapters.reader import Batch, Unit

UNIQUENESS = ("unique", "unique_key")

__all__ = ["UNIQUENESS", "reduce_validation", "validate_batch", "validate_slice"]


def validate_batch(
    batch: Batch,
    checks: Sequence[Check],
    *,
    now: dt.datetime | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    spill_dir: str | None = None,
) -> ValidationResult:
    """Every check on the whole batch, streamed (see the module docstring). Spill files live
    in a temporary folder (under `spill_dir` if given) removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="mlops-validate-", dir=spill_dir) as folder:
        part = validate_slice(batch, checks, now=now, chunk_rows=chunk_rows, spill_root=folder)
        return reduce_validation(checks, [part])


def validate_slice(
    batch: Batch,
    checks: Sequence[Check],
    *,
    now: dt.datetime | None,
    spill_root: str,
    units: Sequence[Unit] | None = None,
    order: int = 0,
    partitions: int | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> ValidationPart:
    """The part of `units` (default: the whole batch), slice number `order` of the batch.

    Every slice of one batch must get the same `now` and `partitions` (the reduce step pairs
    their spill files); `partitions` defaults to one sized for the whole batch."""
    from airflow_mlops_provider.adapters.great_expectations import frame_part
    from airflow_mlops_provider.core.arrow_types import to_pandas
    from airflow_mlops_provider.core.uniqueness import KeySpill, partitions_for, row_base

    checks = list(checks)
    clock = as_utc(now)
    partitions = partitions or partitions_for(expected_rows(batch))
    spills: dict[int, KeySpill] = {}
    parts = []
    row = row_base(order)
    for number, table in enumerate(batch.tables(chunk_rows=chunk_rows, units=units)):
        part = frame_part(
            to_pandas(table), checks, now=clock, deferred=UNIQUENESS, order=(order, number)
        )
        for index, check in enumerate(checks):
            if check.rule in UNIQUENESS and part.checks[index].state == "ran":
                if index not in spills:
                    folder = Path(spill_root, f"slice-{order:06d}", f"check-{index:04d}")
                    spills[index] = KeySpill(key_columns(check), folder, partitions=partitions)
                spills[index].add(table, row)
        row += table.num_rows
        parts.append(part)
    folders = {str(i): [str(spill.close())] for i, spill in spills.items()}
    return replace(merge(parts), order=(order,), spills=folders)


def reduce_validation(
    checks: Sequence[Check],
    parts: Sequence[ValidationPart],
    *,
    read: Callable[[str], bytes] | None = None,
) -> ValidationResult:
    """Merge the slices' parts and decide uniqueness across all of them; `read` fetches spill
    files (storage), default local files."""
    from airflow_mlops_provider.core.arrow_types import to_pandas
    from airflow_mlops_provider.core.uniqueness import find_duplicates

    checks = list(checks)
    merged = merge(parts)
    resolved = {}
    for key, folders in merged.spills.items():
        index = int(key)
        if merged.checks[index].state == "ran":
            count, first = find_duplicates(folders, read=read)
            resolved[index] = (count, _key_texts(to_pandas(first), checks[index]))
    unresolved = [
        i for i, c in enumerate(checks)
        if c.rule in UNIQUENESS and merged.checks[i].state == "ran" and i not in resolved
    ]  # fmt: skip
    if unresolved:  # a slice lost its spill: fail closed rather than pass unchecked
        raise ValueError(f"no uniqueness spill for checks {unresolved}; validate again")
    return finish(checks, merged, resolved)


def key_columns(check: Check) -> list[str]:
    return list(check.params["columns"]) if check.rule == "unique_key" else [str(check.column)]


def expected_rows(batch: Batch) -> int:
    """Rows of the batch: parquet says; for CSV, a generous estimate from the bytes."""
    return batch.rows if batch.rows is not None else sum(p.bytes for p in batch.parts) // 8


def _key_texts(frame: Any, check: Check) -> list[str]:
    """Duplicated keys as GX shows them: a value, or "(a, b)" for a compound key."""
    rows = frame.itertuples(index=False, name=None)
    if check.rule == "unique":
        return [render_value(row[0]) for row in rows]
    return ["(" + ", ".join(map(render_value, row)) + ")" for row in rows]
