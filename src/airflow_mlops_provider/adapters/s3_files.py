"""S3 objects as files for pyarrow, through the boto3 client (and so the I/O deadline policy).

A parquet reader needs random access: the footer first, then the column chunks of each row
group. `RangeFile` serves each read with one ranged GET, so a batch streams row group by row
group and never downloads a whole object into memory; every GET runs with the client's
connect/read timeouts and bounded retries (core/deadlines.py).
"""

from __future__ import annotations

import io
from typing import Any


class RangeFile(io.RawIOBase):
    """A read-only, seekable file over one S3 object (`size` from the listing)."""

    def __init__(self, client: Any, bucket: str, key: str, size: int):
        super().__init__()
        self._client, self._bucket, self._key, self._size = client, bucket, key, size
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def size(self) -> int:
        return self._size

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def read(self, size: int = -1) -> bytes:
        end = self._size if size is None or size < 0 else min(self._size, self._position + size)
        if end <= self._position:
            return b""
        answer = self._client.get_object(
            Bucket=self._bucket, Key=self._key, Range=f"bytes={self._position}-{end - 1}"
        )
        data = answer["Body"].read()
        self._position += len(data)
        return data

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class BodyStream(io.RawIOBase):
    """A sequential file over a GET's streaming body (CSV parts are read front to back)."""

    def __init__(self, body: Any):
        super().__init__()
        self._body = body

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        return self._body.read(None if size is None or size < 0 else size)

    def readinto(self, buffer: Any) -> int:
        data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._body.close()
        super().close()
