"""The batch reader on real files written by pyarrow and pandas (no mocks): which files are data,
which types the contract gets, and errors that name the file, the column and the row."""

from __future__ import annotations

import datetime as dt
import decimal
import gzip
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_mlops_provider.adapters.batch_files import list_parts
from airflow_mlops_provider.adapters.reader import open_batch
from airflow_mlops_provider.adapters.storage import Storage
from airflow_mlops_provider.exceptions import DataReadError


@pytest.fixture
def storage(tmp_path: Path) -> Storage:
    return Storage(tmp_path)


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def parquet(path: Path, table: pa.Table | dict, **options) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table if isinstance(table, pa.Table) else pa.table(table), path, **options)
    return path


# -- CSV -----------------------------------------------------------------------------------------


def test_csv_columns_take_the_contract_types(storage: Storage, tmp_path: Path) -> None:
    write(
        tmp_path / "b.csv",
        "plan,seats,price,active,signed_at\n"
        "N/A,3,9.5,yes,2026-03-01T08:15:00Z\n"
        "null,NA,,False,2026-03-02 09:00:00.1234567+02:00\n"
        ",7,1e2,1,\n",
    )
    types = {"plan": "str", "seats": "int", "price": "float", "active": "bool"}
    frame = storage.read_frame("b.csv", "csv", types={**types, "signed_at": "datetime"})
    assert frame["plan"].tolist()[:2] == ["N/A", "null"]  # tokens are values in a str column
    assert pd.isna(frame["plan"][2])  # ... the empty field is missing
    assert str(frame["seats"].dtype) == "Int64" and frame["seats"].isna().tolist() == [
        False,
        True,
        False,
    ]
    assert frame["price"].tolist()[0] == 9.5 and pd.isna(frame["price"][1])
    assert frame["active"].tolist() == [True, False, True]
    assert str(frame["signed_at"].dtype) == "datetime64[us, UTC]"
    assert frame["signed_at"][1] == pd.Timestamp("2026-03-02 07:00:00.123456", tz="UTC")


def test_csv_unparseable_datetime_names_file_column_and_row(
    storage: Storage, tmp_path: Path
) -> None:
    write(tmp_path / "d" / "part-1.csv", "ts,n\n2026-01-05,1\n05/01/2026,2\n")
    with pytest.raises(DataReadError) as caught:
        storage.read_frame("d", "csv", types={"ts": "datetime", "n": "int"})
    message = str(caught.value)
    assert "part-1.csv" in message and "column 'ts'" in message and "data row 2" in message
    assert "'05/01/2026'" in message and "ISO 8601" in message


def test_csv_mixing_naive_and_offset_datetimes_is_refused(storage: Storage, tmp_path: Path) -> None:
    rows = "".join(f"2026-01-{d:02d}T00:00:00Z\n" for d in range(1, 20))
    write(tmp_path / "t.csv", "ts\n" + rows + "2026-02-01 00:00:00\n")
    with pytest.raises(DataReadError, match=r"column 'ts', data row 20: .* has no time zone"):
        storage.read_frame("t.csv", "csv", types={"ts": "datetime"})


def test_csv_bad_integer_is_reported_with_its_row(storage: Storage, tmp_path: Path) -> None:
    write(tmp_path / "n.csv", "id,qty\na,1\nb,2\nc,3 units\n")
    with pytest.raises(DataReadError, match=r"n.csv: column 'qty', data row 3: '3 units' is not"):
        storage.read_frame("n.csv", "csv", types={"qty": "int"})


def test_csv_delimiter_bom_and_quoting(storage: Storage, tmp_path: Path) -> None:
    text = '\ufeffname;note;amount\n"Dupont; SA";"line one\nline two";12\nLee;"said ""hi""";3\n'
    write(tmp_path / "semi.csv", text.encode("utf-8"))
    frame = storage.read_frame("semi.csv", "csv", types={"amount": "int", "name": "str"})
    assert frame.columns.tolist() == ["name", "note", "amount"]
    assert frame["name"].tolist() == ["Dupont; SA", "Lee"]
    assert frame["note"].tolist() == ["line one\nline two", 'said "hi"']
    assert frame["amount"].tolist() == [12, 3]


def test_csv_configured_delimiter_quote_and_encoding(storage: Storage, tmp_path: Path) -> None:
    write(tmp_path / "pipe.csv", "città|note\n'Zürich|Genève'|ok\n".encode("latin-1"))
    options = SimpleNamespace(delimiter="|", quote="'", encoding="latin-1")
    frame = storage.read_frame("pipe.csv", "csv", csv=options)
    assert frame.columns.tolist() == ["città", "note"]
    assert frame["città"].tolist() == ["Zürich|Genève"]


def test_csv_parts_with_different_headers_name_both_files(storage: Storage, tmp_path: Path) -> None:
    write(tmp_path / "h" / "a.csv", "x,y\n1,2\n")
    write(tmp_path / "h" / "b.csv", "x,z\n1,2\n")
    with pytest.raises(DataReadError) as caught:
        storage.read_frame("h", "csv")
    assert "b.csv" in str(caught.value) and "a.csv" in str(caught.value)


def test_gzipped_csv_parts_are_read(storage: Storage, tmp_path: Path) -> None:
    write(tmp_path / "z" / "part-0.csv.gz", gzip.compress(b"k,v\na,1\nb,2\n"))
    assert storage.read_frame("z", "csv", types={"v": "int"})["v"].tolist() == [1, 2]


def test_columns_the_contract_does_not_name_are_inferred(storage: Storage, tmp_path: Path) -> None:
    write(tmp_path / "i.csv", "a,b,c,d\n1,1.5,x,2026-01-01\n2,,y,2026-01-02\n")
    frame = storage.read_frame("i.csv", "csv")
    assert [str(t) for t in frame.dtypes] == ["int64", "float64", "str", "datetime64[us]"]


# -- parquet logical types -----------------------------------------------------------------------


def test_int96_far_future_timestamps_do_not_wrap(storage: Storage, tmp_path: Path) -> None:
    stamps = [
        dt.datetime(9999, 12, 31, 23, 59, 59),
        dt.datetime(2262, 4, 12),
        dt.datetime(1700, 1, 1),
    ]
    table = pa.table({"t": pa.array(stamps, pa.timestamp("us"))})
    parquet(tmp_path / "spark.parquet", table, use_deprecated_int96_timestamps=True)
    frame = storage.read_frame("spark.parquet", types={"t": "datetime"})
    assert [ts.to_pydatetime() for ts in frame["t"]] == stamps


def test_date_decimal_and_dictionary_columns_fit_the_contract(
    storage: Storage, tmp_path: Path
) -> None:
    table = pa.table(
        {
            "day": pa.array([dt.date(2026, 5, 1), None], pa.date32()),
            "amount": pa.array(
                [decimal.Decimal("12.34"), decimal.Decimal("-0.50")], pa.decimal128(12, 2)
            ),
            "units": pa.array([decimal.Decimal("7"), decimal.Decimal("9")], pa.decimal128(10, 0)),
            "tier": pa.array(["gold", "silver"]).dictionary_encode(),
        }
    )
    parquet(tmp_path / "p.parquet", table)
    types = {"day": "datetime", "amount": "float", "units": "int", "tier": "str"}
    frame = storage.read_frame("p.parquet", types=types)
    assert [str(t) for t in frame.dtypes] == ["datetime64[us]", "float64", "int64", "str"]
    assert frame["amount"].tolist() == [12.34, -0.5] and frame["units"].tolist() == [7, 9]


def test_a_pandas_category_column_reads_as_its_values(storage: Storage, tmp_path: Path) -> None:
    pd.DataFrame({"c": pd.Categorical(["a", "b", "a"])}).to_parquet(tmp_path / "cat.parquet")
    frame = storage.read_frame("cat.parquet", types={"c": "str"})
    assert str(frame["c"].dtype) == "str" and frame["c"].tolist() == ["a", "b", "a"]


def test_an_int_column_with_missing_values_stays_an_int_column(
    storage: Storage, tmp_path: Path
) -> None:
    parquet(tmp_path / "n.parquet", {"k": pa.array([1, None, 3], pa.int32())})
    assert str(storage.read_frame("n.parquet")["k"].dtype) == "Int64"


# -- folders -------------------------------------------------------------------------------------


def test_hidden_and_in_progress_files_are_not_data(storage: Storage, tmp_path: Path) -> None:
    good = {"x": [1, 2]}
    parquet(tmp_path / "f" / "part-0.parquet", good)
    parquet(tmp_path / "f" / ".part-1.parquet", {"x": [99]})  # still being written
    parquet(tmp_path / "f" / "_temporary" / "0" / "part-2.parquet", {"x": [98]})
    write(tmp_path / "f" / ".part-0.parquet.crc", b"\x00crc")
    write(tmp_path / "f" / "_SUCCESS", "")
    write(tmp_path / "f" / "_committed_123", "{}")
    assert [Path(p.uri).name for p in list_parts(storage, "f", "parquet")] == ["part-0.parquet"]
    assert storage.read_frame("f")["x"].tolist() == [1, 2]


def test_a_folder_of_hidden_files_only_has_no_data(storage: Storage, tmp_path: Path) -> None:
    parquet(tmp_path / "w" / ".part-0.parquet", {"x": [1]})
    with pytest.raises(FileNotFoundError, match=r"no parquet files .* \(1 hidden file"):
        storage.read_frame("w")


def test_mixed_formats_in_one_folder_are_refused(storage: Storage, tmp_path: Path) -> None:
    parquet(tmp_path / "m" / "dt=1" / "part-0.parquet", {"x": [1]})
    write(tmp_path / "m" / "dt=2" / "part-0.csv", "x\n2\n")
    for fmt in ("parquet", "csv"):
        with pytest.raises(DataReadError, match="mixes") as caught:
            storage.read_frame("m", fmt)
        assert "dt=1/part-0.parquet" in str(caught.value) and "dt=2/part-0.csv" in str(caught.value)


def test_other_visible_files_are_refused(storage: Storage, tmp_path: Path) -> None:
    parquet(tmp_path / "o" / "part-0.parquet", {"x": [1]})
    write(tmp_path / "o" / "README.md", "about this batch")
    with pytest.raises(DataReadError, match=r"not parquet parts \(README.md\)"):
        storage.read_frame("o")


def test_a_corrupt_part_is_named_by_its_path(storage: Storage, tmp_path: Path) -> None:
    parquet(tmp_path / "c" / "part-0.parquet", {"x": [1]})
    write(tmp_path / "c" / "part-1.parquet", b"PAR1 this is not a parquet file")
    with pytest.raises(DataReadError) as caught:
        storage.read_frame("c")
    assert str(tmp_path / "c" / "part-1.parquet") in str(caught.value)
    assert "<Buffer>" not in str(caught.value)


def test_naive_and_aware_parts_are_refused_naming_both(storage: Storage, tmp_path: Path) -> None:
    naive = pa.array([dt.datetime(2026, 1, 1)], pa.timestamp("us"))
    parquet(tmp_path / "z" / "a.parquet", {"t": naive})
    parquet(tmp_path / "z" / "b.parquet", {"t": naive.cast(pa.timestamp("us", "Europe/Paris"))})
    with pytest.raises(DataReadError) as caught:
        storage.read_frame("z", types={"t": "datetime"})
    message = str(caught.value)
    assert "a.parquet" in message and "b.parquet" in message and "naive" in message


def test_parts_in_two_time_zones_meet_in_utc(storage: Storage, tmp_path: Path) -> None:
    instant = pa.array([dt.datetime(2026, 1, 1, 12)], pa.timestamp("ms", "UTC"))
    parquet(tmp_path / "tz" / "a.parquet", {"t": instant.cast(pa.timestamp("ms", "Asia/Tokyo"))})
    parquet(tmp_path / "tz" / "b.parquet", {"t": instant.cast(pa.timestamp("ns", "America/Lima"))})
    frame = storage.read_frame("tz", types={"t": "datetime"})
    assert str(frame["t"].dtype) == "datetime64[us, UTC]"
    assert frame["t"].nunique() == 1


def test_a_column_typed_differently_in_two_parts_names_both(
    storage: Storage, tmp_path: Path
) -> None:
    parquet(tmp_path / "s" / "dt=1" / "part.parquet", {"code": [1, 2]})
    parquet(tmp_path / "s" / "dt=2" / "part.parquet", {"code": ["1", "2"]})
    with pytest.raises(DataReadError) as caught:
        storage.read_frame("s")
    message = str(caught.value)
    assert "'code'" in message and "dt=1/part.parquet" in message and "dt=2/part.parquet" in message


def test_int_and_float_parts_meet_as_float(storage: Storage, tmp_path: Path) -> None:
    parquet(tmp_path / "f" / "a.parquet", {"v": pa.array([1, 2], pa.int16())})
    parquet(tmp_path / "f" / "b.parquet", {"v": [0.5]})
    assert storage.read_frame("f")["v"].tolist() == [1.0, 2.0, 0.5]


def test_a_column_missing_from_one_part_names_both(storage: Storage, tmp_path: Path) -> None:
    parquet(tmp_path / "g" / "a.parquet", {"v": [1], "w": [2]})
    parquet(tmp_path / "g" / "b.parquet", {"v": [1]})
    with pytest.raises(DataReadError, match=r"b.parquet has no column w, unlike .*a.parquet"):
        storage.read_frame("g")


def test_partition_folders_are_columns_only_when_the_contract_says(
    storage: Storage, tmp_path: Path
) -> None:
    parquet(tmp_path / "h" / "region=eu" / "day=2026-01-02" / "p.parquet", {"v": [1]})
    parquet(tmp_path / "h" / "region=us" / "day=2026-01-03" / "p.parquet", {"v": [2]})
    frame = storage.read_frame("h", types={"v": "int", "day": "datetime"})
    assert frame.columns.tolist() == ["v", "day"]
    assert frame["day"].tolist() == [pd.Timestamp("2026-01-02"), pd.Timestamp("2026-01-03")]


# -- streaming -----------------------------------------------------------------------------------


def test_chunks_are_bounded_and_add_up_to_the_batch(storage: Storage, tmp_path: Path) -> None:
    for i in range(3):
        values = list(range(i * 1000, i * 1000 + 700))
        parquet(tmp_path / "big" / f"part-{i}.parquet", {"v": values}, row_group_size=200)
    batch = open_batch(storage, "big")
    chunks = list(batch.tables(chunk_rows=450))
    assert max(c.num_rows for c in chunks) <= 450 and batch.rows == 2100
    assert sum(c.num_rows for c in chunks) == 2100
    streamed = pa.concat_tables(chunks)
    assert streamed.equals(batch.read_table())
    units = batch.units(target_rows=500)
    assert sum(u.rows for u in units) == 2100
    assert (
        pa.concat_tables(batch.tables(units=units[3:5])).num_rows == units[3].rows + units[4].rows
    )


def test_an_empty_batch_still_has_its_schema(storage: Storage, tmp_path: Path) -> None:
    parquet(tmp_path / "e.parquet", pa.table({"v": pa.array([], pa.int64())}))
    (chunk,) = open_batch(storage, "e.parquet").tables()
    assert chunk.num_rows == 0 and chunk.schema.names == ["v"]
