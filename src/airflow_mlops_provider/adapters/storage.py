"""Local paths, file:// and s3:// behind one small interface.

Relative locations resolve under the project folder (the dags folder's parent), so the same
YAML works on a laptop and in the Airflow image. S3 goes through boto3 with a client built by
the caller from an Airflow connection, under the I/O deadline policy (core/deadlines.py); boto3
and pandas are imported only when used. Which files of a folder are data, and with which
types, is the batch reader's business (adapters/reader.py).
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_mlops_provider.core.deadlines import io_deadline
from airflow_mlops_provider.exceptions import PathNotAllowedError

if TYPE_CHECKING:
    import pandas as pd

ALLOWED_ROOTS_ENV = "MLOPS_ALLOWED_ROOTS"


def allowed_roots(project_dir: Path) -> list[Path]:
    """Where a pipeline's local paths may point: the project, plus the folders the
    deployment lists in MLOPS_ALLOWED_ROOTS (os.pathsep-separated). The list is the worker's
    setting, never the YAML's, so a pipeline cannot grant itself access to more."""
    extra = os.environ.get(ALLOWED_ROOTS_ENV, "")
    return [project_dir, *(Path(p) for p in extra.split(os.pathsep) if p.strip())]


class Storage:
    """allowed_roots confines every local path (after resolving symlinks) to those folders;
    None (the CLI, which reads what its user names) leaves paths unconfined."""

    def __init__(
        self,
        base_dir: Path,
        s3_client: Callable[[], Any] | None = None,
        allowed_roots: Sequence[Path] | None = None,
    ):
        self.base_dir = base_dir
        self._s3_factory = s3_client
        self._s3: Any = None
        self._roots = (
            None if allowed_roots is None else [Path(os.path.realpath(r)) for r in allowed_roots]
        )

    def resolve(self, location: str) -> str:
        """A location as an absolute path or an s3:// URI."""
        if location.startswith("s3://"):
            return location
        path = Path(location.removeprefix("file://"))
        target = path if path.is_absolute() else self.base_dir / path
        if self._roots is not None:
            self._check_confined(location, target)
        return str(target)

    def _check_confined(self, location: str, target: Path) -> None:
        """Refuse a path whose real location (`..` and symlinks resolved) is outside the
        allowed roots; checked on every use, so a symlink swapped in later is caught too."""
        real = Path(os.path.realpath(target))
        if not any(real.is_relative_to(root) for root in self._roots or []):
            roots = ", ".join(str(r) for r in self._roots or [])
            raise PathNotAllowedError(
                f"{location!r} resolves to {real}, outside the allowed roots ({roots}); keep "
                f"pipeline data under the project or add its folder to {ALLOWED_ROOTS_ENV}"
            )

    def join(self, location: str, *parts: str) -> str:
        base = self.resolve(location)
        return (
            "/".join([base.rstrip("/"), *parts])
            if base.startswith("s3://")
            else str(Path(base, *parts))
        )

    # -- frames ---------------------------------------------------------------------------------
    def read_frame(
        self,
        location: str,
        fmt: str = "parquet",
        *,
        types: Mapping[str, str] | None = None,
        csv: Any = None,
    ) -> pd.DataFrame:
        """Read one file, or every data file of a folder, as one frame (adapters/reader.py:
        which files, which types; `types` are the contract's column types)."""
        from airflow_mlops_provider.adapters.reader import open_batch

        return open_batch(self, location, fmt, types=types, csv=csv).read_pandas()

    def write_frame(
        self, frame: pd.DataFrame, location: str, *, row_group_rows: int | None = None
    ) -> str:
        """Parquet; row groups of at most `row_group_rows` rows (None: pyarrow's default)."""
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False, row_group_size=row_group_rows)
        return self.write_bytes(location, buffer.getvalue())

    def files(self, location: str, fmt: str = "parquet") -> list[dict[str, Any]]:
        """The files a read of location covers, with their sizes (for snapshot manifests)."""
        from airflow_mlops_provider.adapters.batch_files import list_parts

        return [{"uri": p.uri, "bytes": p.bytes} for p in list_parts(self, location, fmt)]

    def open_input(self, uri: str, size: int) -> Any:
        """A seekable binary file (S3: ranged GETs under the I/O deadline policy)."""
        if uri.startswith("s3://"):
            from airflow_mlops_provider.adapters.s3_files import RangeFile

            bucket, key = _split_s3(uri)
            return RangeFile(self._client(), bucket, key, size)
        return open(self.resolve(uri), "rb")

    def open_stream(self, uri: str) -> Any:
        """A sequential binary file (S3: one streaming GET)."""
        if uri.startswith("s3://"):
            from airflow_mlops_provider.adapters.s3_files import BodyStream

            bucket, key = _split_s3(uri)
            return BodyStream(self._client().get_object(Bucket=bucket, Key=key)["Body"])
        return open(self.resolve(uri), "rb")

    def list_objects(self, uri: str) -> list[tuple[str, int]]:
        """(s3:// URI, size) of every object under an s3:// prefix, sorted by key; for an
        object that exists at exactly `uri` (no objects under it): that object alone."""
        bucket, key = _split_s3(uri)
        prefix = key.rstrip("/") + "/" if key else ""
        pages = (
            self._client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        )
        found = sorted(
            (o["Key"], int(o["Size"]))
            for page in pages
            for o in page.get("Contents", [])
            if not o["Key"].endswith("/")
        )
        if not found and key:
            try:
                head = self._client().head_object(Bucket=bucket, Key=key)
            except Exception as exc:  # botocore's ClientError; a 404 means nothing is there
                code = getattr(exc, "response", {}).get("Error", {}).get("Code")
                if code not in ("404", "NoSuchKey", "NotFound"):
                    raise
                return []
            return [(uri, int(head["ContentLength"]))]
        return [(f"s3://{bucket}/{k}", size) for k, size in found]

    # -- bytes and text -------------------------------------------------------------------------
    def read_bytes(self, location: str) -> bytes:
        target = self.resolve(location)
        if target.startswith("s3://"):
            bucket, key = _split_s3(target)
            return self._client().get_object(Bucket=bucket, Key=key)["Body"].read()
        return Path(target).read_bytes()

    def write_bytes(self, location: str, data: bytes) -> str:
        """Write atomically (temp file + rename locally; S3 puts are atomic per object)."""
        target = self.resolve(location)
        if target.startswith("s3://"):
            bucket, key = _split_s3(target)
            self._client().put_object(Bucket=bucket, Key=key, Body=data)
            return target
        path = Path(target)
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        temp.write_bytes(data)
        temp.replace(path)
        return target

    def read_text(self, location: str) -> str:
        return self.read_bytes(location).decode("utf-8")

    def write_text(self, location: str, text: str) -> str:
        return self.write_bytes(location, text.encode("utf-8"))

    def exists(self, location: str) -> bool:
        target = self.resolve(location)
        if target.startswith("s3://"):
            bucket, key = _split_s3(target)
            listing = self._client().list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
            return listing.get("KeyCount", 0) > 0
        return Path(target).exists()

    def remove_tree(self, location: str) -> None:
        """Delete a folder and everything in it (S3: every object under the prefix)."""
        target = self.resolve(location)
        if target.startswith("s3://"):
            bucket, _ = _split_s3(target)
            keys = [_split_s3(uri)[1] for uri, _ in self.list_objects(target.rstrip("/") + "/")]
            for start in range(0, len(keys), 1000):  # the API's limit per call
                batch = [{"Key": k} for k in keys[start : start + 1000]]
                self._client().delete_objects(Bucket=bucket, Delete={"Objects": batch})
            return
        shutil.rmtree(target, ignore_errors=True)

    def append_line(self, location: str, line: str) -> None:
        """Append one line. Local files use O_APPEND; on S3 each line is its own object,
        so concurrent writers never overwrite each other (the log is the prefix)."""
        target = self.resolve(location)
        if target.startswith("s3://"):
            import uuid

            self.write_text(f"{target}/{uuid.uuid4().hex}.json", line + "\n")
            return
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")

    def read_lines(self, location: str, limit: int | None = None) -> list[str]:
        """The lines `append_line` wrote, oldest first (at most the newest `limit`); none when
        nothing was appended yet. On S3 each line is an object under the prefix, ordered by
        the time it was written."""
        target = self.resolve(location)
        if not target.startswith("s3://"):
            path = Path(target)
            lines = path.read_text("utf-8").splitlines() if path.is_file() else []
            return [line for line in lines if line.strip()][-(limit or 0) :]
        bucket, key = _split_s3(target)
        pages = (
            self._client()
            .get_paginator("list_objects_v2")
            .paginate(Bucket=bucket, Prefix=key.rstrip("/") + "/")
        )
        found = sorted(
            (o["LastModified"], o["Key"]) for page in pages for o in page.get("Contents", [])
        )
        keys = [k for _, k in found][-(limit or 0) :]
        return [self.read_text(f"s3://{bucket}/{k}").strip() for k in keys]

    def _client(self) -> Any:
        if self._s3 is None:
            self._s3 = self._s3_factory() if self._s3_factory else s3_client()
        return self._s3


def s3_client(
    *, connect_timeout: float | None = None, read_timeout: float | None = None, **options: Any
) -> Any:
    """A boto3 S3 client under the I/O deadline policy (core/deadlines.py): connect and read
    timeouts, and throttling / 5xx answers retried with backoff (standard mode) a bounded
    number of times — transient object-store errors must not fail a run, and an endpoint that
    never answers must not hang it. A connection's own timeouts (seconds) override the
    policy's."""
    import boto3
    from botocore.config import Config

    deadline = io_deadline()
    config = Config(
        connect_timeout=connect_timeout or deadline.connect_seconds,
        read_timeout=read_timeout or deadline.read_seconds,
        retries={"total_max_attempts": deadline.attempts, "mode": "standard"},
    )
    return boto3.client("s3", config=config, **options)


def s3_client_from_connection(conn: Any | None) -> Any:
    """An S3 client from an Airflow AWS connection: login/password as the access key pair,
    extras `endpoint_url`, `region_name`, `connect_timeout` / `read_timeout` (seconds, default:
    core/deadlines.py's policy);
    None: boto3's own credential chain. The tasks (hooks/storage.py) and the plugin share it."""
    if conn is None:
        return s3_client()
    extra = conn.extra_dejson
    return s3_client(
        aws_access_key_id=conn.login or None,
        aws_secret_access_key=conn.password or None,
        endpoint_url=extra.get("endpoint_url"),
        region_name=extra.get("region_name"),
        connect_timeout=_seconds(extra.get("connect_timeout")),
        read_timeout=_seconds(extra.get("read_timeout")),
    )


def _seconds(value: Any) -> float | None:
    """A connection extra in seconds; None (unset): the I/O deadline policy's."""
    return None if value in (None, "") else float(value)


def _split_s3(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key
