"""StorageHook: the project's Storage, with S3 reached through an Airflow AWS connection."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from airflow.sdk import BaseHook

from airflow_mlops_provider.adapters.storage import (
    Storage,
    allowed_roots,
    s3_client_from_connection,
)
from airflow_mlops_provider.hooks.base import optional_connection

log = logging.getLogger(__name__)


class StorageHook(BaseHook):
    """Local paths, file:// and s3:// for one project folder.

    The S3 client is built on first S3 use from the connection `aws_conn_id`: login and
    password are the access key id and secret, extras `endpoint_url` and `region_name` (e.g.
    MinIO or moto), `connect_timeout` / `read_timeout` in seconds (default: the
    worker's I/O deadline policy, core/deadlines.py). Without
    such a connection boto3's own credential chain is used (environment, instance role), said
    in one INFO line. Connections of type `aws` (the Amazon provider's) work as they are.

    :param aws_conn_id: Airflow connection for S3.
    """

    conn_name_attr = "aws_conn_id"
    default_conn_name = "aws_default"
    conn_type = "mlops_s3"
    hook_name = "S3 storage (MLOps provider)"

    def __init__(self, aws_conn_id: str = default_conn_name) -> None:
        super().__init__()
        self.aws_conn_id = aws_conn_id
        self._client: Any = None

    def get_conn(self) -> Any:
        """The boto3 S3 client (retries with backoff, connect/read timeouts)."""
        if self._client is None:
            self._client = self._build()
        return self._client

    def storage(self, project_dir: str | Path) -> Storage:
        """Storage for the project: relative paths under it, local paths confined to the
        allowed roots, S3 through this hook's client."""
        project = Path(project_dir)
        return Storage(project, s3_client=self.get_conn, allowed_roots=allowed_roots(project))

    def _build(self) -> Any:
        conn = optional_connection(self.aws_conn_id, "S3 storage")
        if conn is None:
            log.info(
                "S3: no Airflow connection %r, so boto3's default credentials are used",
                self.aws_conn_id,
            )
        return s3_client_from_connection(conn)
