"""Hostile batches through `airflow-mlops check-data`: what real writers leave behind (Spark's
INT96 and in-progress parts, CSV exports in other dialects, partition folders mid-write,
corrupt or drifting parts) and values built to hang a regex engine. Each case must end in the
outcome it names — refused at read with the file (and row) named, failed at the gate on the
named check, or passed because the data is good — with no traceback, no hang and no silent
pass. The counts go to RELIABILITY.md (tests/integration/reliability_record.py)."""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import gzip
import io
import json
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_mlops_provider.cli import main as cli

from .reliability_record import record

pytestmark = pytest.mark.integration
HANG_SECONDS = 300  # a liveness bound per case on a shared machine, not a timing claim
CONTRACT = """\
contract:
  min_rows: 3
  no_future_timestamps: {{tolerance_minutes: 60}}
  columns:
    order_id: {{type: str, unique: true, pattern: '^(O|[0-9]+)+$'}}
    region: {{type: str, allowed: [NA, EU, APAC]}}
    amount: {{type: float, min: 0}}
    qty: {{type: int, min: 1}}
    placed_at: {{type: datetime}}
{columns}"""
DAY = "    day: {type: datetime}\n"
PIPELINE = """\
pipeline: hostile
owner: qa
data:
  source: unused
  format: {fmt}
{csv}  target: qty
  features: {{numeric: [amount], categorical: [region]}}
  split: {{time_column: placed_at}}
{contract}training: {{command: [python, train.py]}}
evaluation: {{metrics: {{accuracy: {{min: 0.5}}}}, on_missing_champion: promote}}
"""


def rows(n: int = 6, start: int = 0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "order_id": [f"O{i:05d}" for i in range(start, start + n)],
            "region": (["NA", "EU", "APAC"] * n)[:n],
            "amount": [10.5 + i for i in range(n)],
            "qty": [1 + i % 3 for i in range(n)],
            "placed_at": pd.date_range("2026-01-05", periods=n, freq="h"),
        }
    )


def parquet(path: Path, data: pd.DataFrame | pa.Table, **options) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    table = data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
    pq.write_table(table, path, **options)


def text(path: Path, content: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)


def csv_of(frame: pd.DataFrame, **options) -> str:
    return frame.to_csv(index=False, **options)


@dataclass(frozen=True)
class Case:
    name: str
    fmt: str
    build: Callable[[Path], None]
    outcome: str  # "read" (refused, names...), "gate" (fails on rules...), "pass"
    expect: tuple[str, ...] = ()  # read: text in the error; gate: the failed rules
    csv: str = ""  # a data.csv block
    columns: str = ""  # more contract columns


def _int96(stamps: list[dt.datetime]) -> Callable[[Path], None]:
    def build(root: Path) -> None:
        table = pa.Table.from_pandas(rows(len(stamps)).drop(columns="placed_at"))
        table = table.append_column("placed_at", pa.array(stamps, pa.timestamp("us")))
        parquet(root / "part-0.parquet", table, use_deprecated_int96_timestamps=True)

    return build


def _typed(column: str, array: pa.Array) -> Callable[[Path], None]:
    def build(root: Path) -> None:
        table = pa.Table.from_pandas(rows(len(array)), preserve_index=False)
        parquet(
            root / "part-0.parquet",
            table.set_column(table.column_names.index(column), column, array),
        )

    return build


def _parts(*frames: pd.DataFrame | pa.Table, names: tuple[str, ...] = ()) -> Callable[[Path], None]:
    def build(root: Path) -> None:
        for i, frame in enumerate(frames):
            parquet(root / (names[i] if names else f"part-{i}.parquet"), frame)

    return build


def _zone(frame: pd.DataFrame, zone: str | None) -> pd.DataFrame:
    return frame.assign(placed_at=frame["placed_at"].dt.tz_localize(zone)) if zone else frame


def _hidden(root: Path) -> None:
    parquet(root / "dt=1" / "part-0.parquet", rows(4))
    parquet(root / "dt=1" / ".part-1.parquet", rows(4, start=100).assign(amount=-5.0))
    parquet(root / "_temporary" / "0" / "task" / "part-9.parquet", rows(2).assign(qty=0))
    text(root / "dt=1" / ".part-0.parquet.crc", b"\x01\x02")
    text(root / "_SUCCESS", "")


def _loop(root: Path) -> None:
    parquet(root / "a" / "part-0.parquet", rows(4))
    (root / "a" / "again").symlink_to(root / "a", target_is_directory=True)


def _truncated(root: Path) -> None:
    parquet(root / "part-0.parquet", rows(4))
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(rows(4, start=50)), buffer)
    text(root / "part-1.parquet", buffer.getvalue()[:-30])


def _uint_overflow(root: Path) -> None:
    parquet(root / "a.parquet", rows(3).assign(qty=pd.array([1, 2, 3], dtype="int32")))
    parquet(root / "b.parquet", pa.Table.from_pandas(rows(3, start=3)).set_column(
        3, "qty", pa.array([2**63 + 5, 1, 1], pa.uint64())))  # fmt: skip


def _partition_column(value: str) -> Callable[[Path], None]:
    def build(root: Path) -> None:
        parquet(root / f"day={value}" / "part-0.parquet", rows(4))
        parquet(root / "day=2026-01-06" / "part-0.parquet", rows(4, start=10))

    return build


CASES = [
    # CSV exports
    Case(
        "csv_iso_datetimes_with_offsets",
        "csv",
        lambda r: text(
            r / "a.csv",
            csv_of(
                rows().assign(
                    placed_at=lambda f: f["placed_at"].dt.strftime("%Y-%m-%dT%H:%M:%S+02:00")
                )
            ),
        ),
        "pass",
    ),  # fmt: skip
    Case(
        "csv_day_first_dates",
        "csv",
        lambda r: text(
            r / "a.csv",
            csv_of(rows().assign(placed_at=lambda f: f["placed_at"].dt.strftime("%d/%m/%Y %H:%M"))),
        ),
        "read",
        ("a.csv", "column 'placed_at', data row 1", "ISO 8601"),
    ),  # fmt: skip
    Case("csv_na_is_an_allowed_region", "csv", lambda r: text(r / "a.csv", csv_of(rows())), "pass"),
    Case(
        "csv_semicolons_bom_and_quotes",
        "csv",
        lambda r: text(
            r / "a.csv",
            "\ufeff" + csv_of(rows().assign(order_id=lambda f: f["order_id"]), sep=";", quoting=1),
        ),
        "pass",
    ),  # fmt: skip
    Case(
        "csv_headers_differ_between_parts",
        "csv",
        lambda r: (
            text(r / "p1.csv", csv_of(rows())),
            text(r / "p2.csv", csv_of(rows().rename(columns={"qty": "quantity"}))),
        ),
        "read",
        ("p1.csv", "p2.csv"),
    ),  # fmt: skip
    Case(
        "csv_units_in_an_int_column",
        "csv",
        lambda r: text(r / "a.csv", csv_of(rows().assign(qty=["1", "2", "3 pcs", "1", "1", "1"]))),
        "read",
        ("a.csv", "column 'qty', data row 3", "'3 pcs'"),
    ),  # fmt: skip
    Case(
        "csv_null_tokens_in_an_int_column",
        "csv",
        lambda r: text(r / "a.csv", csv_of(rows().assign(qty=["1", "N/A", "NULL", "2", "", "1"]))),
        "gate",
        ("not_null",),
    ),  # fmt: skip
    Case(
        "csv_naive_after_offset_values",
        "csv",
        lambda r: text(
            r / "a.csv",
            csv_of(rows().assign(placed_at=["2026-01-05T00:00:00Z"] * 5 + ["2026-01-05 01:00:00"])),
        ),
        "read",
        ("a.csv", "data row 6", "no time zone offset"),
    ),  # fmt: skip
    Case(
        "csv_gzip_parts",
        "csv",
        lambda r: text(r / "part-0.csv.gz", gzip.compress(csv_of(rows()).encode())),
        "pass",
    ),  # fmt: skip
    Case(
        "csv_latin1_read_as_utf8",
        "csv",
        lambda r: text(r / "a.csv", csv_of(rows().assign(order_id=["Oé1"] * 6)).encode("latin-1")),
        "read",
        ("a.csv",),
    ),  # fmt: skip
    Case(
        "csv_pipe_dialect_from_the_yaml",
        "csv",
        lambda r: text(r / "a.csv", csv_of(rows(), sep="|", quotechar="'")),
        "pass",
        csv="  csv: {delimiter: '|', quote: \"'\"}\n",
    ),  # fmt: skip
    Case(
        "csv_in_a_parquet_folder",
        "parquet",
        lambda r: (
            parquet(r / "dt=1" / "part-0.parquet", rows()),
            text(r / "dt=2" / "part-0.csv", csv_of(rows())),
        ),
        "read",
        ("mixes", "dt=2/part-0.csv"),
    ),  # fmt: skip
    # Parquet logical types and writers
    Case(
        "int96_year_9999_is_in_the_future",
        "parquet",
        _int96([dt.datetime(9999, 12, 31)] * 2 + [dt.datetime(2026, 1, 5)] * 2),
        "gate",
        ("no_future",),
    ),  # fmt: skip
    Case(
        "int96_ordinary_dates",
        "parquet",
        _int96([dt.datetime(2026, 1, 5, h) for h in range(4)]),
        "pass",
    ),
    Case(
        "date_column_for_a_datetime",
        "parquet",
        _typed("placed_at", pa.array([dt.date(2026, 1, d) for d in range(1, 7)], pa.date32())),
        "pass",
    ),  # fmt: skip
    Case(
        "decimal_amounts",
        "parquet",
        _typed(
            "amount", pa.array([decimal.Decimal(f"{i}.25") for i in range(6)], pa.decimal128(12, 2))
        ),
        "pass",
    ),  # fmt: skip
    Case(
        "dictionary_encoded_regions",
        "parquet",
        _typed("region", pa.array(["NA", "EU", "APAC"] * 2).dictionary_encode()),
        "pass",
    ),  # fmt: skip
    Case("uint64_past_int64_in_one_part", "parquet", _uint_overflow, "read", ("b.parquet",)),
    # folders mid-write and drifting parts
    Case("in_progress_and_hidden_files", "parquet", _hidden, "pass"),
    Case(
        "only_an_in_progress_part",
        "parquet",
        lambda r: parquet(r / ".part-0.parquet", rows()),
        "read",
        ("no parquet files", "hidden"),
    ),  # fmt: skip
    Case(
        "a_readme_among_the_parts",
        "parquet",
        lambda r: (parquet(r / "part-0.parquet", rows()), text(r / "README.txt", "batch notes")),
        "read",
        ("README.txt",),
    ),  # fmt: skip
    Case("truncated_part", "parquet", _truncated, "read", ("part-1.parquet",)),
    Case(
        "zero_byte_part",
        "parquet",
        lambda r: (parquet(r / "part-0.parquet", rows()), text(r / "part-1.parquet", b"")),
        "read",
        ("part-1.parquet",),
    ),  # fmt: skip
    Case(
        "naive_and_aware_parts",
        "parquet",
        _parts(rows(3), _zone(rows(3, start=3), "UTC")),
        "read",
        ("part-0.parquet", "part-1.parquet", "naive"),
    ),  # fmt: skip
    Case(
        "parts_in_two_time_zones",
        "parquet",
        _parts(_zone(rows(3), "Asia/Kolkata"), _zone(rows(3, start=3), "America/Bogota")),
        "pass",
    ),  # fmt: skip
    Case(
        "qty_int_then_text",
        "parquet",
        _parts(rows(3), rows(3, start=3).assign(qty="2")),
        "read",
        ("part-0.parquet", "part-1.parquet", "'qty'"),
    ),  # fmt: skip
    Case(
        "a_column_dropped_in_a_later_part",
        "parquet",
        _parts(rows(3), rows(3, start=3).drop(columns="amount")),
        "read",
        ("no column amount",),
    ),  # fmt: skip
    Case("symlink_loop_in_the_folder", "parquet", _loop, "pass"),
    Case(
        "partition_value_that_is_no_date",
        "parquet",
        _partition_column("yesterday"),
        "read",
        ("day=yesterday",),
        columns=DAY,
    ),  # fmt: skip
    Case(
        "partition_folders_as_a_date_column",
        "parquet",
        _partition_column("2026-01-05"),
        "pass",
        columns=DAY,
    ),  # fmt: skip
    # values
    Case(
        "value_crafted_against_backtracking",
        "parquet",
        lambda r: parquet(
            r / "p.parquet",
            rows().assign(order_id=["O" + "1" * 30_000 + "!"] + [f"O{i}" for i in range(5)]),
        ),
        "gate",
        ("pattern",),
    ),  # fmt: skip
    Case(
        "duplicate_ids_in_different_parts",
        "parquet",
        _parts(rows(4), rows(4, start=3)),
        "gate",
        ("unique",),
    ),  # fmt: skip
    Case(
        "empty_batch_with_its_schema",
        "parquet",
        lambda r: parquet(r / "p.parquet", rows().head(0)),
        "gate",
        ("row_count",),
    ),  # fmt: skip
    Case(
        "a_part_of_nulls_only",
        "parquet",
        _parts(
            rows(3),
            pa.table(
                {
                    "order_id": ["O9", "O8"],
                    "region": ["EU", "EU"],
                    "amount": pa.nulls(2),
                    "qty": [1, 1],
                    "placed_at": pa.array([dt.datetime(2026, 1, 5)] * 2),
                }
            ),
        ),
        "gate",
        ("not_null",),
    ),  # fmt: skip
]


class Hang(Exception):
    pass


def run_case(case: Case, root: Path) -> tuple[int | None, str, str]:
    """check-data in this process; exit code (None: an exception escaped), stdout, stderr."""
    batch = root / "batch"
    batch.mkdir(parents=True)
    case.build(batch)
    contract = CONTRACT.format(columns=case.columns)
    pipeline = root / "pipeline.yaml"
    pipeline.write_text(PIPELINE.format(fmt=case.fmt, csv=case.csv, contract=contract))
    out, err = io.StringIO(), io.StringIO()

    def alarm(*_: object) -> None:
        raise Hang(case.name)

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(HANG_SECONDS)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code: int | None = cli(["check-data", str(pipeline), str(batch)])
    except Hang:
        code, err = -1, io.StringIO(f"no answer within {HANG_SECONDS} s")
    except Exception as exc:  # a traceback: reported, never hidden
        code, err = None, io.StringIO(f"{type(exc).__name__}: {exc}")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    return code, out.getvalue(), err.getvalue()


def judge(case: Case, code: int | None, out: str) -> str:
    """The case's outcome in one word: read / gate / pass / traceback / hang / wrong."""
    if code is None:
        return "traceback"
    if code == -1:
        return "hang"
    summary = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
    if case.outcome == "read":
        error = summary.get("error", "")
        ok = code == 1 and error.startswith("cannot read") and all(e in error for e in case.expect)
        return "read" if ok else "wrong"
    if case.outcome == "gate":
        failed = {f["rule"] for f in summary.get("failures", [])}
        return "gate" if code == 1 and set(case.expect) <= failed else "wrong"
    return "pass" if code == 0 and summary.get("passed") else "wrong"


def test_hostile_batches_end_as_they_should(tmp_path: Path, monkeypatch) -> None:
    import great_expectations  # noqa: F401 - imported once, outside the per-case bound

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLOPS_ALLOWED_ROOTS", raising=False)
    outcomes, details = {}, {}
    for case in CASES:
        code, out, err = run_case(case, tmp_path / case.name)
        outcomes[case.name] = judge(case, code, out)
        details[case.name] = (out.strip().splitlines() or [""])[-1][:300] + err[-300:]
    wrong = {n: details[n] for n, o in outcomes.items() if o not in ("read", "gate", "pass")}
    assert not wrong, json.dumps(wrong, indent=1)
    counts = {o: sum(v == o for v in outcomes.values()) for o in ("read", "gate", "pass")}
    record(
        "bad-data",
        scenario=f"{len(CASES)} hostile batches through check-data (CSV exports, Spark parquet, "
        "folders mid-write, drifting parts, a regex-hang value)",
        test="tests/integration/test_faults_bad_data.py::test_hostile_batches_end_as_they_should",
        outcome={
            "cases": len(CASES),
            "refused at read, file named": counts["read"],
            "failed at the gate, check named": counts["gate"],
            "passed (good data)": counts["pass"],
            "tracebacks": 0,
            "hangs": 0,
            "silent passes": 0,
        },
    )
    assert sum(counts.values()) == len(CASES) and os.environ.get("MLOPS_ALLOWED_ROOTS") is None
