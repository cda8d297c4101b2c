"""Exact uniqueness across a whole batch in bounded memory: hash partitioning to disk.

A `unique` or `unique_key` check cannot be decided slice by slice: a key in the first row
group may come back in the last. Each slice's key columns (with their row numbers) are written
to `partitions` Arrow IPC files by a hash of the key, so equal keys always land in the same
file; `find_duplicates` then reads one partition at a time — from every slice's spill folder,
so mapped tasks can spill separately — and finds the duplicated keys by exact comparison
(Arrow's group-by and join on the values; the hash only routes rows). Memory is one partition,
about `PARTITION_ROWS` rows, whatever the batch size. Nothing is approximate.

The semantics are Great Expectations' pandas ones, so a batch gives the same count and
examples whether validated whole or in slices: every row whose key occurs more than once
counts (all occurrences); for one column, missing values are left out; for a compound key,
rows whose values are all missing are left out and a missing value equals another; NaN is
missing. Examples are the first duplicated rows in batch order (row numbers keep it: slice
``order`` in the high bits, the row within the slice in the low 40).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["KeySpill", "find_duplicates", "partitions_for", "row_base"]

PARTITION_ROWS = 500_000
MAX_PARTITIONS = 256
ROW = "__mlops_row"
_MANIFEST = "manifest.json"
_ROW_BITS = 40
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)


def partitions_for(expected_rows: int | None) -> int:
    """How many hash partitions keep one of them near PARTITION_ROWS (every slice of a batch
    must use the same number, so it is decided from the whole batch's size)."""
    if expected_rows is None:
        return 64
    return int(min(MAX_PARTITIONS, max(1, math.ceil(expected_rows / PARTITION_ROWS))))


def row_base(order: int) -> int:
    """The first row number of slice `order` (batch order survives merging)."""
    return order << _ROW_BITS


class KeySpill:
    """Writes one check's key columns, slice by slice, into hash-partitioned IPC files."""

    def __init__(self, columns: Sequence[str], folder: Path, *, partitions: int):
        self.columns, self.folder, self.partitions = list(columns), Path(folder), partitions
        self.compound = len(self.columns) > 1
        self.folder.mkdir(parents=True, exist_ok=True)
        self._writers: dict[int, Any] = {}
        self._schema: pa.Schema | None = None
        self.rows = 0

    def add(self, table: pa.Table, first_row: int) -> None:
        """Spill the key columns of `table`, whose rows are numbered from `first_row`."""
        keys = _prepare(table.select(self.columns), first_row, self.compound)
        self.rows += keys.num_rows
        if keys.num_rows == 0:
            return
        if self._schema is None:
            self._schema = keys.schema
        if self.partitions == 1:
            self._write(0, keys)
            return
        target = (_hash(keys.select(self.columns)) % np.uint64(self.partitions)).astype(np.int64)
        order = np.argsort(target, kind="stable")
        keys, target = keys.take(pa.array(order)), target[order]
        bounds = np.searchsorted(target, np.arange(self.partitions + 1))
        for p in range(self.partitions):
            if bounds[p + 1] > bounds[p]:
                self._write(p, keys.slice(bounds[p], bounds[p + 1] - bounds[p]))

    def close(self) -> Path:
        """Finish the files; returns the folder (what find_duplicates reads)."""
        for writer in self._writers.values():
            writer.close()
        manifest = {
            "columns": self.columns,
            "partitions": self.partitions,
            "rows": self.rows,
            "files": sorted(self._writers),
        }
        (self.folder / _MANIFEST).write_text(json.dumps(manifest))
        return self.folder

    def _write(self, partition: int, table: pa.Table) -> None:
        writer = self._writers.get(partition)
        if writer is None:
            path = self.folder / f"part-{partition:05d}.arrow"
            writer = self._writers[partition] = pa.ipc.new_file(str(path), self._schema)
        writer.write_table(table.cast(self._schema))


def find_duplicates(
    folders: Sequence[str],
    *,
    head: int = 20,
    read: Callable[[str], bytes] | None = None,
) -> tuple[int, pa.Table]:
    """(rows with a duplicated key, the first `head` of them in batch order) over the spill
    folders of every slice. `read` fetches a file's bytes (storage); default: local files."""
    read = read or (lambda path: Path(path).read_bytes())
    manifests = [json.loads(read(_join(f, _MANIFEST))) for f in folders]
    if not manifests:
        raise ValueError("no spill folders to search for duplicates")
    partitions = {m["partitions"] for m in manifests}
    columns = manifests[0]["columns"]
    if len(partitions) != 1 or any(m["columns"] != columns for m in manifests):
        raise ValueError("spill folders of one check disagree on columns or partitions")
    count, firsts = 0, []
    for p in range(partitions.pop()):
        tables = [
            pa.ipc.open_file(pa.BufferReader(read(_join(f, f"part-{p:05d}.arrow")))).read_all()
            for f, m in zip(folders, manifests, strict=True)
            if p in m["files"]
        ]
        if not tables:
            continue
        rows = _duplicated_rows(pa.concat_tables(tables, promote_options="permissive"), columns)
        count += rows.num_rows
        if rows.num_rows:
            firsts.append(_first(rows, head))
    if not firsts:
        return 0, pa.table({c: [] for c in columns})
    earliest = _first(pa.concat_tables(firsts, promote_options="permissive"), head)
    return count, earliest.select(columns)


def _prepare(keys: pa.Table, first_row: int, compound: bool) -> pa.Table:
    """Key columns with NaN as missing and -0.0 as 0.0, the rows GX leaves out dropped, and
    the row numbers appended."""
    arrays = []
    for column in keys.columns:
        if pa.types.is_floating(column.type):
            column = pc.add(pc.if_else(pc.is_nan(column), None, column), 0.0)
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        arrays.append(column)
    rows = pa.array(np.arange(first_row, first_row + keys.num_rows, dtype=np.int64))
    table = pa.Table.from_arrays([*arrays, rows], names=[*keys.column_names, ROW])
    present = [pc.is_valid(a) for a in arrays]
    keep = present[0]
    for mask in present[1:]:
        keep = pc.or_(keep, mask) if compound else pc.and_(keep, mask)
    return table.filter(keep)


def _duplicated_rows(table: pa.Table, columns: list[str]) -> pa.Table:
    """Rows whose key occurs more than once (exact: grouped and joined on the values, a
    missing value equal to another)."""
    groups, names = [], []
    for name in columns:
        column = table[name]
        groups += [pc.fill_null(column, _zero(column.type)), pc.is_null(column)]
        names += [f"{name}.value", f"{name}.missing"]
    grouped = pa.Table.from_arrays([*groups, table[ROW]], names=[*names, ROW])
    counts = grouped.group_by(names).aggregate([(ROW, "count")])
    repeated = counts.filter(pc.greater(counts[f"{ROW}_count"], 1)).select(names)
    if repeated.num_rows == 0:
        return table.slice(0, 0)
    marked = grouped.select([*names, ROW]).join(repeated, keys=names, join_type="inner")
    return table.filter(pc.is_in(table[ROW], value_set=marked[ROW]))


def _first(table: pa.Table, head: int) -> pa.Table:
    order = pc.sort_indices(table[ROW])[:head]
    return table.take(order)


def _zero(arrow_type: pa.DataType) -> pa.Scalar:
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return pa.scalar("", arrow_type)
    if pa.types.is_binary(arrow_type) or pa.types.is_large_binary(arrow_type):
        return pa.scalar(b"", arrow_type)
    if pa.types.is_null(arrow_type):
        return pa.scalar(None)
    return pc.cast(pa.scalar(0), arrow_type)


def _hash(keys: pa.Table) -> np.ndarray:
    """A 64-bit hash per row of the key columns (routing only: equal keys, equal hashes)."""
    combined = np.zeros(keys.num_rows, dtype=np.uint64)
    for column in keys.columns:
        combined = _mix(combined * _MULTIPLIER + _column_hash(column.combine_chunks()))
    return combined


def _column_hash(array: pa.Array) -> np.ndarray:
    """Per-row hash of one column, 64k rows at a time (bounded temporaries)."""
    step = 1 << 16
    return np.concatenate(
        [_slice_hash(array.slice(i, step)) for i in range(0, len(array), step)]
        or [np.zeros(0, np.uint64)]
    )


def _slice_hash(array: pa.Array) -> np.ndarray:
    with np.errstate(over="ignore"):
        if pa.types.is_null(array.type):
            return np.zeros(len(array), dtype=np.uint64)
        if _is_text(array.type):
            values = _bytes_hash(array)
        elif pa.types.is_floating(array.type):
            filled = pc.fill_null(array.cast(pa.float64()), 0.0)
            values = filled.to_numpy(zero_copy_only=False).view(np.uint64).copy()
        else:  # integers, booleans, timestamps, dates, decimals: their integer value
            values = pc.fill_null(_as_int64(array), 0).to_numpy(zero_copy_only=False)
            values = values.astype(np.int64).view(np.uint64)
        missing = np.asarray(pc.is_null(array).to_numpy(zero_copy_only=False), dtype=np.uint64)
        return values + missing * np.uint64(0x51ED270B27C6BB69)


def _is_text(arrow_type: pa.DataType) -> bool:
    return any(
        test(arrow_type)
        for test in (pa.types.is_string, pa.types.is_large_string, pa.types.is_binary,
                     pa.types.is_large_binary)
    )  # fmt: skip


def _as_int64(array: pa.Array) -> pa.Array:
    if pa.types.is_integer(array.type):
        return array.cast(pa.int64())
    if pa.types.is_boolean(array.type):
        return array.cast(pa.int64())
    if pa.types.is_decimal(array.type):
        return pc.cast(array, pa.float64()).cast(pa.int64(), safe=False)
    width = array.type.bit_width  # timestamps, dates, durations: their stored integer
    return array.view(pa.int64() if width == 64 else pa.int32()).cast(pa.int64())


def _bytes_hash(array: pa.Array) -> np.ndarray:
    """pandas' SipHash of each text value (faster here than any numpy formulation tried)."""
    from pandas.util import hash_array

    values = array.to_numpy(zero_copy_only=False)
    return hash_array(values, categorize=False)


def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: spreads similar keys over all partitions."""
    with np.errstate(over="ignore"):
        values = (values ^ (values >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        values = (values ^ (values >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return values ^ (values >> np.uint64(31))


def _join(folder: str, name: str) -> str:
    return f"{str(folder).rstrip('/')}/{name}"
