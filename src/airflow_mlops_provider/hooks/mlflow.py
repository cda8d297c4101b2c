"""MlflowHook: the tracking server from an Airflow connection, or the local SQLite store."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from airflow.sdk import BaseHook

from airflow_mlops_provider.adapters.mlflow_registry import Tracking
from airflow_mlops_provider.hooks.base import (
    ConnectionMisconfigured,
    connection_url,
    optional_connection,
)

log = logging.getLogger(__name__)
LOCAL_DB = "mlflow.db"


def server_tracking(conn: Any) -> Tracking:
    """The server of an MLflow connection: host → URI; login + password → HTTP basic auth;
    a password without login → a bearer token. The plugin reads the registry with it too."""
    uri = connection_url(conn, "MLflow tracking server")
    if conn.login:
        return Tracking(uri, username=conn.login, password=conn.password or "")
    return Tracking(uri, token=conn.password or None)


class MlflowHook(BaseHook):
    """Tracking URI and credentials of an MLflow server.

    Where MLflow is, in order: an explicit `tracking_uri` (YAML `mlflow.tracking_uri`); the
    connection `mlflow_conn_id` (host, schema http/https, port; login + password: HTTP basic
    auth; a password without login: a bearer token); else, when no such connection exists, a
    local SQLite store `mlflow.db` with artifacts under `local_dir` (the embedded default,
    said in one INFO line). Credentials stay in the returned `Tracking`: `Registry` sends them
    only with its own requests, and a local trainer gets them in its subprocess environment —
    they are never written to this process's `os.environ` nor put into the URI.

    :param mlflow_conn_id: Airflow connection of the MLflow server.
    :param tracking_uri: use this URI instead of the connection (no credentials).
    :param local_dir: folder of the local store used when the connection does not exist.
    """

    conn_name_attr = "mlflow_conn_id"
    default_conn_name = "mlflow_default"
    conn_type = "mlops_mlflow"
    hook_name = "MLflow (MLOps provider)"

    def __init__(
        self,
        mlflow_conn_id: str = default_conn_name,
        *,
        tracking_uri: str | None = None,
        local_dir: str | Path | None = None,
    ) -> None:
        super().__init__()
        self.mlflow_conn_id = mlflow_conn_id
        self.tracking_uri = tracking_uri
        self.local_dir = local_dir
        self._tracking: Tracking | None = None

    def get_conn(self) -> Tracking:
        if self._tracking is None:
            self._tracking = self._resolve()
        return self._tracking

    def _resolve(self) -> Tracking:
        if self.tracking_uri:
            return Tracking(self.tracking_uri, artifact_location=self._artifacts(self.tracking_uri))
        conn = optional_connection(self.mlflow_conn_id, "MLflow tracking server")
        if conn is not None:
            return server_tracking(conn)
        folder = self._local_folder()
        folder.mkdir(parents=True, exist_ok=True)
        uri = f"sqlite:///{folder / LOCAL_DB}"
        log.info(
            "MLflow: no Airflow connection %r, so the local store %s is used",
            self.mlflow_conn_id,
            uri,
        )
        return Tracking(uri, artifact_location=self._artifacts(uri))

    def _local_folder(self) -> Path:
        """The local store's folder: only a local one (storage on S3 has none, and a worker's
        own disk would split the registry between workers)."""
        where = str(self.local_dir or "")
        if not where or "://" in where and not where.startswith("file://"):
            raise ConnectionMisconfigured(
                f"MLflow: no Airflow connection {self.mlflow_conn_id!r} and no local folder for "
                f"a local store (storage.root is {where or 'not set'}); create the connection "
                "with the tracking server's address, or set mlflow.tracking_uri"
            )
        return Path(where.removeprefix("file://"))

    def _artifacts(self, uri: str) -> str | None:
        """A local store keeps its artifacts beside it; a server decides for itself."""
        if not uri.startswith("sqlite:") or self.local_dir is None:
            return None
        return (self._local_folder() / "mlartifacts").as_uri()

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return {
            "hidden_fields": ["extra"],
            "relabeling": {
                "host": "Tracking server (https://mlflow.example.com)",
                "schema": "Scheme (http or https; when the host has none)",
                "login": "Username (HTTP basic auth)",
                "password": "Password, or token when no username",
            },
        }
