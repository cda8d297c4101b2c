"""The contract's five types on Arrow data: what a column read from parquet or CSV becomes.

Pure functions on pyarrow types and arrays, used by the batch reader (adapters/reader.py). The
rules (docs/data.md, "Types"):

* **Kinds.** Every Arrow type has a kind: int, float, str, bool, datetime, date, null or other.
  Parts of one batch must agree on each column's kind; int and float mix to float; a column of
  nulls only (Arrow's null type) takes the other parts' type. Anything else is schema drift.
* **Canonical forms** (`normalise`): dictionary-encoded columns are decoded (a Spark or pandas
  category column is its values), large strings become strings, DECIMAL becomes float64 (int64
  for scale 0 when the contract says int), DATE becomes timestamp[us] when the contract says
  datetime. Timestamps keep their unit; parts with different units meet at microseconds.
* **Time zones.** Naive timestamps stay naive; aware ones keep their zone. Parts with two
  different zones meet in UTC (an instant is an instant); naive mixed with aware is an error,
  because a naive value's zone is unknown.
* **CSV text** (`parse_text`): contract columns are parsed by their contract type, never
  guessed. Missing values: in str columns only the empty field; in the other types also the
  usual tokens (`NULL_TOKENS`: NA, N/A, null, NaN, None, ...), so an allowed category "NA" stays
  "NA". Datetimes are ISO 8601 (`2026-11-01`, `2026-11-01 10:00`, `2026-11-01T10:00:00.5Z`,
  `+01:00` / `+0100` / `+01` offsets); a column is either all naive or all with an offset
  (converted to UTC); digits past microseconds are truncated. The first value that does not
  parse is reported with its row.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "NULL_TOKENS",
    "TextError",
    "kind",
    "normalise",
    "parse_text",
    "infer_text_type",
    "to_pandas",
    "unify",
]

#: Text that means "missing" in a CSV column of type int, float, bool or datetime (pandas'
#: default list). In a str column only the empty field is missing.
NULL_TOKENS = (
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
)  # fmt: skip
_TRUE, _FALSE = ("true", "1", "t", "yes", "y"), ("false", "0", "f", "no", "n")
_ISO = (
    r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?"
    r"(?:Z|[+-]\d{2}(?::?\d{2})?)?)?$"
)
_ZONED = r"[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)$"
_INT = r"^[+-]?\d+$"
DATETIME_UNIT = "us"
_EXPECTED = {
    "int": "an integer",
    "float": "a number",
    "bool": "true/false (or 1/0, yes/no)",
    "datetime": "an ISO 8601 date or date-time such as 2026-11-01 or 2026-11-01T10:00:00Z",
}


class TextError(ValueError):
    """A text value that does not parse as its column's type; `row` is its 0-based index."""

    def __init__(self, row: int, value: str, message: str):
        super().__init__(message)
        self.row, self.value = row, value


def kind(arrow_type: pa.DataType) -> str:
    """int, float, str, bool, datetime, date, null or other (dictionaries: their values')."""
    t = arrow_type.value_type if pa.types.is_dictionary(arrow_type) else arrow_type
    checks = (
        ("int", pa.types.is_integer),
        ("float", lambda x: pa.types.is_floating(x) or pa.types.is_decimal(x)),
        ("str", lambda x: pa.types.is_string(x) or pa.types.is_large_string(x)),
        ("bool", pa.types.is_boolean),
        ("datetime", pa.types.is_timestamp),
        ("date", pa.types.is_date),
        ("null", pa.types.is_null),
    )
    return next((name for name, test in checks if test(t)), "other")


def normalise(arrow_type: pa.DataType, contract_type: str | None) -> pa.DataType:
    """The canonical form of a column read as `arrow_type` (see the module docstring)."""
    t = arrow_type.value_type if pa.types.is_dictionary(arrow_type) else arrow_type
    if pa.types.is_large_string(t):
        return pa.string()
    if pa.types.is_large_binary(t):
        return pa.binary()
    if pa.types.is_decimal(t):
        return pa.int64() if contract_type == "int" and t.scale == 0 else pa.float64()
    if pa.types.is_date(t) and contract_type == "datetime":
        return pa.timestamp(DATETIME_UNIT)
    return t


def unify(a: pa.DataType, b: pa.DataType) -> pa.DataType | None:
    """The type two parts' (normalised) column types meet at; None when they cannot."""
    if a == b:
        return a
    ka, kb = kind(a), kind(b)
    if "null" in (ka, kb):
        return b if ka == "null" else a
    if ka == kb == "int":
        return pa.int64()
    if {ka, kb} <= {"int", "float"}:
        return pa.float64()
    if ka == kb == "datetime":
        if (a.tz is None) != (b.tz is None):
            return None
        zone = a.tz if a.tz == b.tz else ("UTC" if a.tz is not None else None)
        unit = a.unit if a.unit == b.unit else DATETIME_UNIT
        return pa.timestamp(unit, zone)
    return None


def conform(array: pa.ChunkedArray | pa.Array, target: pa.DataType) -> Any:
    """Cast a column to its batch-wide type. Timestamp units are truncated to the target unit
    (documented: nanoseconds become microseconds when parts disagree); other casts are safe
    and raise on overflow."""
    if array.type == target:
        return array
    if pa.types.is_dictionary(array.type):
        array = array.cast(array.type.value_type)
        if array.type == target:
            return array
    truncating = pa.types.is_timestamp(target) and pa.types.is_timestamp(array.type)
    return pc.cast(array, target, safe=not truncating)


def infer_text_type(array: pa.Array | pa.ChunkedArray) -> pa.DataType:
    """The type of a CSV column the contract does not name, from its first values: int, float,
    bool or datetime when every non-missing value parses so, else str."""
    for contract_type, arrow_type in (
        ("int", pa.int64()),
        ("float", pa.float64()),
        ("bool", pa.bool_()),
        ("datetime", None),
    ):
        try:
            parsed = parse_text(array, contract_type)
        except TextError:
            continue
        if parsed.null_count == len(parsed):
            return pa.string()
        return arrow_type or parsed.type
    return pa.string()


def parse_text(
    array: pa.Array | pa.ChunkedArray, contract_type: str, *, aware: bool | None = None
) -> pa.Array:
    """Text → the contract type, by the CSV rules of the module docstring. Raises TextError
    naming the first value (and its row) that does not parse. For datetimes, `aware` says
    whether the column's earlier values had offsets (None: this array's first value decides)."""
    text = array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
    if contract_type == "str":
        return pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
    text = pc.utf8_trim_whitespace(text)
    text = pc.if_else(
        pc.is_in(text, value_set=pa.array(NULL_TOKENS)), pa.scalar(None, pa.string()), text
    )
    if contract_type == "int":
        _require(text, _INT, "int")
        return _cast(text, pa.int64(), "int")
    if contract_type == "float":
        return _cast(text, pa.float64(), "float")
    if contract_type == "bool":
        lower = pc.utf8_lower(text)
        true = pc.is_in(lower, value_set=pa.array(_TRUE))
        known = pc.or_(true, pc.is_in(lower, value_set=pa.array(_FALSE)))
        _first_false(pc.or_kleene(known, pc.is_null(lower)), text, "bool")
        return pc.if_else(pc.is_null(lower), pa.scalar(None, pa.bool_()), true)
    if contract_type == "datetime":
        return _parse_datetime(text, aware)
    raise ValueError(f"unknown contract type {contract_type!r}")


def _parse_datetime(text: pa.Array, aware: bool | None) -> pa.Array:
    """ISO 8601 text → timestamp[us] (naive) or timestamp[us, UTC] (offsets given). `aware`
    is what earlier parts of the column were (None: the first value decides)."""
    _require(text, _ISO, "datetime")
    zoned = pc.match_substring_regex(text, _ZONED)
    present = pc.drop_null(zoned)
    if aware is None:
        aware = bool(len(present)) and bool(present[0].as_py())
    if len(present) and not pc.all(pc.equal(present, aware)).as_py():
        row = _first_index(pc.not_equal(zoned, pa.scalar(aware)))
        value = text[row].as_py()
        has = "has a time zone offset" if not aware else "has no time zone offset"
        raise TextError(
            row,
            value,
            f"{value!r} {has}, but earlier values of the column "
            f"{'have' if aware else 'do not'}; write every value of a datetime column with an "
            "offset (e.g. Z) or none",
        )
    text = pc.replace_substring_regex(text, r"(\.\d{6})\d+", r"\1")
    return _cast(text, pa.timestamp(DATETIME_UNIT, "UTC" if aware else None), "datetime")


def _require(text: pa.Array, pattern: str, contract_type: str) -> None:
    ok = pc.or_kleene(pc.match_substring_regex(text, pattern), pc.is_null(text))
    _first_false(ok, text, contract_type)


def _first_false(ok: pa.Array, text: pa.Array, contract_type: str) -> None:
    if pc.all(ok).as_py() is False:
        row = _first_index(pc.invert(ok))
        _raise(row, text[row].as_py(), contract_type)


def _cast(text: pa.Array, target: pa.DataType, contract_type: str) -> pa.Array:
    """Cast; when it fails, find the first value that does not cast (bisection, so only the
    failing path pays) and report it."""
    try:
        return pc.cast(text, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    low, high = 0, len(text)
    while high - low > 1:
        middle = (low + high) // 2
        try:
            pc.cast(text.slice(low, middle - low), target)
            low = middle
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            high = middle
    _raise(low, text[low].as_py(), contract_type)
    raise AssertionError("unreachable")  # pragma: no cover


def _raise(row: int, value: Any, contract_type: str) -> None:
    raise TextError(row, value, f"{value!r} is not {_EXPECTED[contract_type]}")


def _first_index(mask: pa.Array) -> int:
    return int(pc.index(mask, pa.scalar(True)).as_py())


def to_pandas(table: pa.Table) -> Any:
    """A pandas frame whose dtypes do not depend on which rows it holds: integer columns with
    missing values become pandas' nullable Int64 (not float64), so a chunk and the whole batch
    give the same dtype per column. Schema metadata (pandas' own) is dropped: the Arrow types
    decide."""
    import pandas as pd

    table = table.replace_schema_metadata(None)
    nullable = [
        f.name for f, col in zip(table.schema, table.columns, strict=True)
        if pa.types.is_integer(f.type) and col.null_count
    ]  # fmt: skip
    frame = table.drop_columns(nullable).to_pandas() if nullable else table.to_pandas()
    for name in nullable:
        frame[name] = table[name].to_pandas(types_mapper=lambda _: pd.Int64Dtype())
    return frame[table.column_names] if nullable else frame
