"""The batch reader against moto's S3 server (real HTTP on 127.0.0.1): the same folder rules
and types as on disk, row groups fetched by ranged GETs, and an endpoint that accepts
connections but never answers fails within the I/O deadline instead of hanging."""

from __future__ import annotations

import io
import socket
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airflow_mlops_provider.adapters.reader import open_batch
from airflow_mlops_provider.adapters.storage import Storage
from airflow_mlops_provider.exceptions import DataReadError

from .test_adapters import moto_client, s3_endpoint  # noqa: F401 - the moto server fixture

pytestmark = pytest.mark.integration


@pytest.fixture
def lake(s3_endpoint: str, tmp_path: Path) -> Storage:  # noqa: F811 - the imported fixture
    bucket = f"lake-{time.monotonic_ns()}"
    moto_client(s3_endpoint).create_bucket(Bucket=bucket)
    storage = Storage(tmp_path, s3_client=lambda: moto_client(s3_endpoint))
    storage.bucket = bucket  # type: ignore[attr-defined]
    return storage


def put_parquet(storage: Storage, uri: str, table: pa.Table, **options) -> None:
    buffer = io.BytesIO()
    pq.write_table(table, buffer, **options)
    storage.write_bytes(uri, buffer.getvalue())


def test_s3_folder_follows_the_same_rules_as_disk(lake: Storage) -> None:
    root = f"s3://{lake.bucket}/events"  # type: ignore[attr-defined]
    stamps = pa.array([9_999_999_999_000_000], pa.timestamp("us"))  # year 2286
    put_parquet(lake, f"{root}/day=1/part-0.parquet", pa.table({"t": stamps, "v": [1]}),
                use_deprecated_int96_timestamps=True)  # fmt: skip
    put_parquet(lake, f"{root}/day=2/part-0.parquet", pa.table({"t": stamps, "v": [2]}),
                use_deprecated_int96_timestamps=True)  # fmt: skip
    lake.write_text(f"{root}/day=2/.part-1.parquet", "in progress")
    lake.write_text(f"{root}/_temporary/0/part-9.parquet", "attempt")
    lake.write_text(f"{root}/_SUCCESS", "")
    frame = lake.read_frame(root, types={"t": "datetime", "v": "int", "day": "int"})
    assert frame["v"].tolist() == [1, 2] and frame["day"].tolist() == [1, 2]
    assert frame["t"].dt.year.tolist() == [2286, 2286]  # INT96 did not wrap


def test_s3_parts_stream_by_row_group(lake: Storage) -> None:
    root = f"s3://{lake.bucket}/big"  # type: ignore[attr-defined]
    put_parquet(lake, f"{root}/p.parquet", pa.table({"v": list(range(5000))}), row_group_size=1000)
    batch = open_batch(lake, root)
    assert [u.rows for u in batch.units(target_rows=2000)] == [2000, 2000, 1000]
    chunks = list(batch.tables(chunk_rows=1500))
    assert [c.num_rows for c in chunks] == [1500, 1500, 1500, 500]


def test_s3_csv_and_a_corrupt_part_named_by_its_uri(lake: Storage) -> None:
    root = f"s3://{lake.bucket}/csv"  # type: ignore[attr-defined]
    lake.write_text(f"{root}/a.csv", "id;when\n1;2026-05-01T00:00:00+02:00\n")
    frame = lake.read_frame(root, "csv", types={"id": "int", "when": "datetime"})
    assert str(frame["when"][0]) == "2026-04-30 22:00:00+00:00"
    lake.write_bytes(f"{root}/b.csv", b"id;when\n2;tomorrow\n")
    with pytest.raises(DataReadError, match=rf"{root}/b.csv: column 'when', data row 1"):
        lake.read_frame(root, "csv", types={"id": "int", "when": "datetime"})
    put_parquet(lake, f"s3://{lake.bucket}/bad/a.parquet", pa.table({"v": [1]}))  # type: ignore[attr-defined]
    lake.write_bytes(f"s3://{lake.bucket}/bad/b.parquet", b"PAR1garbagePAR1")  # type: ignore[attr-defined]
    with pytest.raises(DataReadError, match=rf"s3://{lake.bucket}/bad/b.parquet: cannot read"):  # type: ignore[attr-defined]
        lake.read_frame(f"s3://{lake.bucket}/bad")  # type: ignore[attr-defined]


class SilentEndpoint:
    """Accepts TCP connections and never sends a byte: the hang the deadline must bound."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.connections: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}"

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            self.connections.append(connection)

    def close(self) -> None:
        self.listener.close()
        for connection in self.connections:
            connection.close()


@pytest.mark.timeout(120)
def test_an_endpoint_that_never_answers_fails_within_the_deadline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLOPS_IO_CONNECT_TIMEOUT", "1")
    monkeypatch.setenv("MLOPS_IO_READ_TIMEOUT", "1")
    monkeypatch.setenv("MLOPS_IO_ATTEMPTS", "2")
    silent = SilentEndpoint()
    try:
        storage = Storage(tmp_path, s3_client=lambda: moto_client(silent.url))
        started = time.monotonic()
        with pytest.raises(DataReadError) as caught:
            storage.read_frame("s3://lake/batch")
        elapsed = time.monotonic() - started
    finally:
        silent.close()
    message = str(caught.value)
    assert (
        "s3://lake/batch" in message
        and "I/O deadline (connect 1 s, read 1 s, 2 attempts)" in message
    )
    assert len(silent.connections) == 2  # one connection per attempt, then it gave up
    print(f"failed after {elapsed:.1f} s")  # bounded by the policy, not asserted: no timings
