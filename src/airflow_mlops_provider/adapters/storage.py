"""Local paths, file:// and s3:// behind one small interface.

Relative locations resolve under the project folder (the dags folder's parent), so the same
YAML works on a laptop and in the Airflow image. S3 goes through boto3 with a client built by
the caller from an Airflow connection; boto3 and pandas are imported only when used.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_mlops_provider.exceptions import PathNotAllowedError

if TYPE_CHECKING:
    import pandas as pd

FORMATS = {"parquet": ".parquet", "csv": ".csv"}
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
    def read_frame(self, location: str, fmt: str = "parquet") -> pd.DataFrame:
        """Read one file, or every file of the format in a folder (sorted by name)."""
        import pandas as pd

        files = self._files(self.resolve(location), FORMATS[fmt])
        reader = pd.read_parquet if fmt == "parquet" else pd.read_csv
        frames = [reader(io.BytesIO(self.read_bytes(f))) for f in files]
        return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)

    def write_frame(self, frame: pd.DataFrame, location: str) -> str:
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        return self.write_bytes(location, buffer.getvalue())

    def files(self, location: str, fmt: str = "parquet") -> list[dict[str, Any]]:
        """The files a read of location covers, with their sizes (for snapshot manifests)."""
        found = []
        for uri in self._files(self.resolve(location), FORMATS[fmt]):
            if uri.startswith("s3://"):
                bucket, key = _split_s3(uri)
                size = self._client().head_object(Bucket=bucket, Key=key)["ContentLength"]
            else:
                size = Path(uri).stat().st_size
            found.append({"uri": uri, "bytes": size})
        return found

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

    # -- helpers --------------------------------------------------------------------------------
    def _files(self, target: str, suffix: str) -> list[str]:
        if target.startswith("s3://"):
            return self._s3_files(target, suffix)
        path = Path(target)
        if path.is_file():
            return [str(path)]
        if not path.is_dir():
            raise FileNotFoundError(f"no data at {target}")
        files = sorted(str(p) for p in path.iterdir() if p.suffix == suffix and p.is_file())
        if not files:
            raise FileNotFoundError(f"no {suffix} files in folder {target}")
        return files

    def _s3_files(self, target: str, suffix: str) -> list[str]:
        bucket, key = _split_s3(target)
        if key.endswith(suffix):
            return [target]
        prefix = key.rstrip("/") + "/"
        pages = (
            self._client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        )
        keys = sorted(
            o["Key"]
            for page in pages
            for o in page.get("Contents", [])
            if o["Key"].endswith(suffix)
        )
        if not keys:
            raise FileNotFoundError(f"no {suffix} objects under {target}")
        return [f"s3://{bucket}/{k}" for k in keys]

    def _client(self) -> Any:
        if self._s3 is None:
            self._s3 = self._s3_factory() if self._s3_factory else s3_client()
        return self._s3


S3_RETRIES = {"max_attempts": 6, "mode": "standard"}
CONNECT_TIMEOUT_S, READ_TIMEOUT_S = 10.0, 60.0


def s3_client(
    *, connect_timeout: float = CONNECT_TIMEOUT_S, read_timeout: float = READ_TIMEOUT_S, **options
) -> Any:
    """A boto3 S3 client that retries throttling and 5xx answers with backoff (standard
    mode, 6 attempts) — transient object-store errors must not fail a pipeline run — and
    gives up on a silent endpoint after the timeouts (seconds) instead of hanging."""
    import boto3
    from botocore.config import Config

    config = Config(retries=S3_RETRIES, connect_timeout=connect_timeout, read_timeout=read_timeout)
    return boto3.client("s3", config=config, **options)


def s3_client_from_connection(conn: Any | None) -> Any:
    """An S3 client from an Airflow AWS connection: login/password as the access key pair,
    extras `endpoint_url`, `region_name`, `connect_timeout` / `read_timeout` (seconds);
    None: boto3's own credential chain. The tasks (hooks/storage.py) and the plugin share it."""
    if conn is None:
        return s3_client()
    extra = conn.extra_dejson
    return s3_client(
        aws_access_key_id=conn.login or None,
        aws_secret_access_key=conn.password or None,
        endpoint_url=extra.get("endpoint_url"),
        region_name=extra.get("region_name"),
        connect_timeout=float(extra.get("connect_timeout", CONNECT_TIMEOUT_S)),
        read_timeout=float(extra.get("read_timeout", READ_TIMEOUT_S)),
    )


def _split_s3(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key
