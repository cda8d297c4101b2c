"""One reader for every batch: parquet or CSV, one file or a folder, local, file:// or s3://.

Validation, drift, snapshots, monitoring windows and the CLI all read through `open_batch`, so
they see the same rows with the same types (docs/data.md):

* **Which files.** adapters/batch_files.py: a file, or a folder read recursively in path
  order; names starting with ``.`` or ``_`` are skipped, any other file must be a part of the
  declared format. A ``key=value`` partition folder becomes a column only when the contract
  declares a column of that name (typed like CSV text).
* **Types.** Each part's schema is read first (parquet footers; CSV headers and first rows)
  and the parts must agree (core/arrow_types.py): a column missing from one part, or int in
  one and str in another, or naive in one and tz-aware in another, is an error naming both
  files. Spark's INT96 timestamps are read as microseconds, so 9999-12-31 stays 9999-12-31.
* **Errors** name the file, and for CSV the column and data row (row 1 = the first record
  after the header); a corrupt part is named by its path.
* **Streaming.** `Batch.tables` yields Arrow tables of at most `chunk_rows` rows, row group by
  row group (S3: ranged GETs under the I/O deadline policy), so memory does not grow with the
  batch; `read_pandas` is the whole batch at once, for the small paths.
"""

from __future__ import annotations

import contextlib
import csv as pycsv
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_mlops_provider.adapters.batch_files import Part, describe_error, list_parts, some
from airflow_mlops_provider.exceptions import DataReadError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from airflow_mlops_provider.adapters.storage import Storage

DEFAULT_CHUNK_ROWS = 500_000
_CSV_BLOCK = 1 << 20
_HEAD_BYTES = 1 << 16
_DELIMITERS = (",", ";", "\t", "|")
_INDEX_COLUMN = re.compile(r"__index_level_\d+__")
_ARROW_NAMES = {"int": "int64", "float": "double", "str": "string", "bool": "bool"}


@dataclass(frozen=True)
class Unit:
    """A slice of a batch for one mapped task: one part, or some row groups of a parquet part.
    `order` sorts units (and their results) in the batch's row order."""

    part: int
    row_groups: tuple[int, ...] | None = None
    rows: int | None = None

    @property
    def order(self) -> tuple[int, int]:
        return (self.part, self.row_groups[0] if self.row_groups else 0)

    def to_dict(self) -> dict[str, Any]:
        return {"part": self.part, "row_groups": self.row_groups, "rows": self.rows}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Unit:
        groups = d.get("row_groups")
        return cls(int(d["part"]), None if groups is None else tuple(groups), d.get("rows"))


@dataclass
class _Plan:
    """What one part holds: column names (file order) and their normalised types."""

    types: dict[str, Any]
    rows: int | None = None
    row_groups: list[int] = field(default_factory=list)
    delimiter: str = ","


def open_batch(
    storage: Storage,
    location: str,
    fmt: str = "parquet",
    *,
    types: Mapping[str, str] | None = None,
    csv: Any = None,
) -> Batch:
    """List the batch's parts and reconcile their schemas (errors name the files)."""
    return Batch(storage, location, fmt, types=types, csv=csv)


class Batch:
    """A batch whose parts agree on one schema (`schema`, Arrow, in the contract's types)."""

    def __init__(
        self,
        storage: Storage,
        location: str,
        fmt: str,
        *,
        types: Mapping[str, str] | None = None,
        csv: Any = None,
    ):
        self.storage, self.fmt = storage, fmt
        self.location = storage.resolve(location)
        self.types = dict(types or {})
        self.csv = csv
        self.parts = list_parts(storage, location, fmt)
        self._plans = [self._plan(part) for part in self.parts]
        self.schema = self._reconcile()

    # -- public ---------------------------------------------------------------------------------
    @property
    def rows(self) -> int | None:
        """Total rows when the format says so without reading (parquet), else None."""
        counts = [plan.rows for plan in self._plans]
        return None if any(c is None for c in counts) else sum(counts)  # type: ignore[misc]

    def units(self, target_rows: int = 5_000_000) -> list[Unit]:
        """The batch cut into slices of about `target_rows` (whole parquet row groups; a CSV
        part is one slice), in row order: the map side of a fan-out."""
        units = []
        for index, plan in enumerate(self._plans):
            if not plan.row_groups:
                units.append(Unit(index, None, plan.rows))
                continue
            group: list[int] = []
            rows = 0
            for number, count in enumerate(plan.row_groups):
                if group and rows + count > target_rows:
                    units.append(Unit(index, tuple(group), rows))
                    group, rows = [], 0
                group.append(number)
                rows += count
            units.append(Unit(index, tuple(group), rows))
        return units

    def tables(
        self,
        columns: Sequence[str] | None = None,
        *,
        chunk_rows: int = DEFAULT_CHUNK_ROWS,
        units: Sequence[Unit] | None = None,
    ) -> Iterator[pa.Table]:
        """Arrow tables of at most `chunk_rows` rows, in row order; at least one (possibly empty)
        table, so an empty batch still has a schema to check."""
        import pyarrow as pa

        schema = self._projection(columns)
        pending: list[pa.Table] = []
        held = 0
        emitted = False
        for unit in units if units is not None else [Unit(i) for i in range(len(self.parts))]:
            for table in self._read_unit(unit, schema, chunk_rows):
                pending.append(table)
                held += table.num_rows
                while held >= chunk_rows:
                    whole = pa.concat_tables(pending)
                    yield whole.slice(0, chunk_rows)
                    emitted = True
                    rest = whole.slice(chunk_rows)
                    pending, held = ([rest] if rest.num_rows else []), rest.num_rows
        if pending or not emitted:
            yield pa.concat_tables(pending) if pending else schema.empty_table()

    def read_table(self, columns: Sequence[str] | None = None) -> pa.Table:
        import pyarrow as pa

        return pa.concat_tables(list(self.tables(columns, chunk_rows=1 << 62)))

    def read_pandas(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        from airflow_mlops_provider.core.arrow_types import to_pandas

        return to_pandas(self.read_table(columns))

    # -- planning -------------------------------------------------------------------------------
    def _plan(self, part: Part) -> _Plan:
        with _named(part, self.fmt):
            return self._plan_parquet(part) if self.fmt == "parquet" else self._plan_csv(part)

    def _plan_parquet(self, part: Part) -> _Plan:
        from airflow_mlops_provider.core.arrow_types import normalise

        with self._random_access(part) as source:
            parquet = _parquet_file(source)
            schema = parquet.schema_arrow
            metadata = parquet.metadata
            groups = [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]
        names = [n for n in schema.names if not _INDEX_COLUMN.fullmatch(n)]
        _no_duplicates(names, part.uri)
        types = {n: normalise(schema.field(n).type, self.types.get(n)) for n in names}
        return _Plan(types, rows=metadata.num_rows, row_groups=groups)

    def _plan_csv(self, part: Part) -> _Plan:
        import pyarrow as pa

        from airflow_mlops_provider.core.arrow_types import infer_text_type

        names, delimiter = self._csv_header(part)
        _no_duplicates(names, part.uri)
        first = next(self._csv_blocks(part, names, delimiter), None)
        types: dict[str, Any] = {}
        aware: dict[str, bool | None] = {}
        for name in names:
            wanted = self.types.get(name)
            if wanted == "datetime":  # null type until a value says naive or aware
                aware[name] = _first_aware(first.column(name)) if first is not None else None
                types[name] = (
                    pa.null()
                    if aware[name] is None
                    else pa.timestamp("us", "UTC" if aware[name] else None)
                )
            elif wanted is not None:
                types[name] = pa.type_for_alias(_ARROW_NAMES[wanted])
            else:
                types[name] = infer_text_type(first.column(name)) if first else pa.string()
        return _Plan(types, delimiter=delimiter)

    def _csv_header(self, part: Part) -> tuple[list[str], str]:
        """The header's column names, and the delimiter: the configured one, else the one of
        , ; tab | that splits the header into the most fields (ties: the earlier one)."""
        with self._csv_source(part) as source:
            head = source.read(_HEAD_BYTES)
        text = head.decode(self._encoding(), errors="replace").lstrip("\ufeff")
        line = text.splitlines()[0] if text else ""
        if not line.strip():
            raise DataReadError(f"{part.uri}: the CSV file has no header line")
        delimiter = getattr(self.csv, "delimiter", None) or max(
            _DELIMITERS,
            key=lambda d: (len(next(pycsv.reader([line], delimiter=d))), -_DELIMITERS.index(d)),
        )
        names = next(pycsv.reader([line], delimiter=delimiter, quotechar=self._quote()))
        return [n.strip() for n in names], delimiter

    def _reconcile(self) -> pa.Schema:
        """One schema for the batch, or an error naming the two parts that disagree."""
        import pyarrow as pa

        from airflow_mlops_provider.core.arrow_types import kind, unify

        first, first_plan = self.parts[0], self._plans[0]
        merged = dict(first_plan.types)
        origin = dict.fromkeys(merged, first.uri)
        for part, plan in zip(self.parts[1:], self._plans[1:], strict=True):
            missing = [n for n in merged if n not in plan.types]
            extra = [n for n in plan.types if n not in merged]
            if missing or extra:
                what = f"has no column {some(missing)}" if missing else f"has column {some(extra)}"
                raise DataReadError(
                    f"{part.uri} {what}, unlike {first.uri}: the parts of a batch must have "
                    "the same columns"
                )
            for name, arrow_type in plan.types.items():
                meet = unify(merged[name], arrow_type)
                if meet is None:
                    raise DataReadError(
                        f"column {name!r} is {_type_text(arrow_type, kind)} in {part.uri} but "
                        f"{_type_text(merged[name], kind)} in {origin[name]}: the parts of a "
                        "batch must agree on each column's type"
                    )
                if meet != merged[name] or kind(merged[name]) == "null":
                    origin[name] = part.uri
                merged[name] = meet
        for name, arrow_type in merged.items():  # no part showed a value yet: naive
            if self.types.get(name) == "datetime" and kind(arrow_type) == "null":
                merged[name] = pa.timestamp("us")
        fields = [pa.field(n, t) for n, t in merged.items()]
        fields += [pa.field(k, self._partition_type(k)) for k in self._partition_columns(merged)]
        return pa.schema(fields)

    def _partition_columns(self, file_columns: Mapping[str, Any]) -> list[str]:
        """Partition keys that become columns: those the contract declares, not in the files.
        Every part must then carry the key."""
        keys = [k for k, _ in self.parts[0].partition]
        wanted = [k for k in keys if k in self.types and k not in file_columns]
        for part in self.parts:
            have = {k for k, _ in part.partition}
            lacking = [k for k in wanted if k not in have]
            if lacking:
                raise DataReadError(
                    f"{part.uri} is not under a {lacking[0]}=... folder, unlike "
                    f"{self.parts[0].uri}: the contract's column {lacking[0]!r} comes from "
                    "partition folders, which every part needs"
                )
        return wanted

    def _partition_type(self, key: str) -> Any:
        import pyarrow as pa

        wanted = self.types[key]
        return (
            pa.timestamp("us") if wanted == "datetime" else pa.type_for_alias(_ARROW_NAMES[wanted])
        )

    def _projection(self, columns: Sequence[str] | None) -> pa.Schema:
        import pyarrow as pa

        if columns is None:
            return self.schema
        return pa.schema([self.schema.field(c) for c in columns if c in self.schema.names])

    # -- reading --------------------------------------------------------------------------------
    def _read_unit(self, unit: Unit, schema: pa.Schema, chunk_rows: int) -> Iterator[pa.Table]:
        part, plan = self.parts[unit.part], self._plans[unit.part]
        with _named(part, self.fmt):
            if self.fmt == "parquet":
                tables = self._parquet_tables(part, plan, schema, chunk_rows, unit.row_groups)
            else:
                tables = self._csv_tables(part, plan, schema)
            for table in tables:
                yield self._with_partitions(table, part, schema)

    def _parquet_tables(
        self,
        part: Part,
        plan: _Plan,
        schema: pa.Schema,
        chunk_rows: int,
        row_groups: Sequence[int] | None,
    ) -> Iterator[pa.Table]:
        import pyarrow as pa

        from airflow_mlops_provider.core.arrow_types import conform

        wanted = [f for f in schema if f.name in plan.types]
        with self._random_access(part) as source:
            parquet = _parquet_file(source)
            batches = parquet.iter_batches(
                batch_size=min(chunk_rows, 1 << 20),
                row_groups=row_groups,
                columns=[f.name for f in wanted],
                use_threads=True,
            )
            for batch in batches:
                arrays = [conform(batch.column(f.name), f.type) for f in wanted]
                yield pa.Table.from_arrays(arrays, schema=pa.schema(wanted))

    def _csv_tables(self, part: Part, plan: _Plan, schema: pa.Schema) -> Iterator[pa.Table]:
        import pyarrow as pa

        from airflow_mlops_provider.core.arrow_types import TextError, conform, kind, parse_text

        wanted = [f for f in schema if f.name in plan.types]
        offset = 0
        for block in self._csv_blocks(part, list(plan.types), plan.delimiter):
            arrays = []
            for f in wanted:
                contract_type = self.types.get(f.name) or _contract_kind(f.type, kind)
                try:
                    aware = f.type.tz is not None if contract_type == "datetime" else None
                    parsed = parse_text(block.column(f.name), contract_type, aware=aware)
                except TextError as exc:
                    hint = "" if f.name in self.types else " (declare the column in the contract)"
                    raise DataReadError(
                        f"{part.uri}: column {f.name!r}, data row {offset + exc.row + 1}: "
                        f"{exc}{hint}"
                    ) from None
                arrays.append(conform(parsed, f.type))
            offset += block.num_rows
            yield pa.Table.from_arrays(arrays, schema=pa.schema(wanted))

    def _csv_blocks(self, part: Part, names: list[str], delimiter: str) -> Iterator[Any]:
        """The part's records as text columns, block by block."""
        import pyarrow as pa
        import pyarrow.csv as pcsv

        with self._csv_source(part) as source:
            reader = pcsv.open_csv(
                source,
                read_options=pcsv.ReadOptions(block_size=_CSV_BLOCK, encoding=self._encoding()),
                parse_options=pcsv.ParseOptions(
                    delimiter=delimiter, quote_char=self._quote(), newlines_in_values=True
                ),
                convert_options=pcsv.ConvertOptions(
                    column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=False
                ),
            )
            yield from reader

    def _csv_source(self, part: Part) -> Any:
        """A sequential stream (gzip-decompressed for .csv.gz); local files natively."""
        import pyarrow as pa

        if part.uri.startswith("s3://"):
            stream = pa.PythonFile(self.storage.open_stream(part.uri), mode="r")
        else:
            stream = pa.OSFile(part.uri, mode="r")
        if part.uri.lower().endswith(".gz"):
            return pa.CompressedInputStream(stream, "gzip")
        return stream

    @contextlib.contextmanager
    def _random_access(self, part: Part) -> Iterator[Any]:
        """A path for local files (pyarrow reads them natively), a ranged-GET file on S3."""
        if not part.uri.startswith("s3://"):
            yield part.uri
            return
        with self.storage.open_input(part.uri, part.bytes) as source:
            yield source

    def _with_partitions(self, table: pa.Table, part: Part, schema: pa.Schema) -> pa.Table:
        import pyarrow as pa

        from airflow_mlops_provider.core.arrow_types import TextError, parse_text

        values = dict(part.partition)
        for f in schema:
            if f.name in table.column_names or f.name not in values:
                continue
            text = pa.array([values[f.name]], pa.string())
            try:
                value = parse_text(text, self.types[f.name]).cast(f.type)[0]
            except TextError as exc:
                raise DataReadError(
                    f"{part.uri}: partition folder {f.name}={values[f.name]}: {exc}"
                ) from None
            column = pa.repeat(value, table.num_rows)
            table = table.append_column(f, column)
        return table.select([f.name for f in schema])

    def _encoding(self) -> str:
        return getattr(self.csv, "encoding", None) or "utf-8"

    def _quote(self) -> str:
        return getattr(self.csv, "quote", None) or '"'


def _parquet_file(source: Any) -> Any:
    import pyarrow.parquet as pq

    # INT96 (Spark, Impala) as microseconds: nanoseconds wrap past 2262 (9999-12-31 → 1816).
    return pq.ParquetFile(source, coerce_int96_timestamp_unit="us")


def _first_aware(column: Any) -> bool | None:
    """Whether a CSV datetime column's first value has an offset (None: no value, or the first
    value does not parse — the read then reports it with its row)."""
    import pyarrow as pa

    from airflow_mlops_provider.core.arrow_types import TextError, parse_text

    for value in column.slice(0, 10_000).to_pylist():
        if value is None or not value.strip():
            continue
        try:
            return parse_text(pa.array([value]), "datetime").type.tz is not None
        except TextError:
            return None
    return None


def _contract_kind(arrow_type: Any, kind: Any) -> str:
    found = kind(arrow_type)
    return found if found in ("int", "float", "bool", "datetime") else "str"


def _no_duplicates(names: Sequence[str], uri: str) -> None:
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise DataReadError(f"{uri}: column {some(repeated)} appears more than once")


def _type_text(arrow_type: Any, kind: Any) -> str:
    found = kind(arrow_type)
    zone = getattr(arrow_type, "tz", None)
    if found == "datetime":
        return f"{arrow_type} ({'naive' if zone is None else f'time zone {zone}'})"
    return f"{arrow_type} ({found})"


@contextlib.contextmanager
def _named(part: Part, fmt: str) -> Iterator[None]:
    """Any failure while reading a part becomes a DataReadError that names the part."""
    try:
        yield
    except DataReadError:
        raise
    except Exception as exc:
        raise DataReadError(
            f"{part.uri}: cannot read this {fmt} part: {describe_error(exc)}"
        ) from None


__all__ = ["Batch", "Unit", "open_batch"]
