"""The pipelines the plugin serves: every YAML of the pipelines folder, read with the loader
the DAG factory uses, kept until a file changes.

The API server does not parse DAG files, so the plugin reads the YAMLs itself: from
`[mlops] pipelines_folder`, else `[core] dags_folder` — the API server needs that folder
mounted (as `airflow standalone` and a shared DAG volume have it). A pipeline's storage is
built as the tasks build it: its `storage.root` under the project folder (the dags folder's
parent) or on S3 through the `connections.aws` Airflow connection.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from airflow_mlops_provider.adapters.mlflow_registry import Tracking
from airflow_mlops_provider.core.layout import PIPELINES
from airflow_mlops_provider.spec import PipelineSpec, SpecError, load_defaults, load_spec
from airflow_mlops_provider.spec.folder import DEFAULTS_FILE, pipeline_files

KINDS = ("training", "monitoring", "health", "rollback")


@dataclass
class Pipeline:
    """One pipeline as the plugin sees it: its spec, where it lives, how to reach storage."""

    spec: PipelineSpec
    source_file: Path
    connection: Callable[[str], Any] = field(repr=False)

    @property
    def name(self) -> str:
        return self.spec.pipeline

    @property
    def project_dir(self) -> Path:
        return self.source_file.parent.parent

    @property
    def dag_ids(self) -> list[str]:
        kinds = KINDS if self.spec.monitoring is not None else ("training", "rollback")
        return [self.spec.dag_id(kind) for kind in kinds]

    @cached_property
    def storage(self) -> Any:
        from airflow_mlops_provider.adapters.storage import (
            Storage,
            allowed_roots,
            s3_client_from_connection,
        )

        aws = self.spec.connections.aws
        return Storage(
            self.project_dir,
            s3_client=lambda: s3_client_from_connection(self.connection(aws)),
            allowed_roots=allowed_roots(self.project_dir),
        )

    @property
    def root(self) -> str:
        """The pipeline's root in storage: every file the plugin serves is below it."""
        return self.storage.join(self.spec.storage.root, PIPELINES, self.name)

    def tracking(self) -> Tracking | None:
        """Its MLflow registry as its tasks reach it: the YAML's URI, the MLflow connection's
        server with its credentials, or the local SQLite store under storage.root (None
        when that store does not exist yet)."""
        from airflow_mlops_provider.hooks.mlflow import LOCAL_DB, server_tracking

        if self.spec.mlflow.tracking_uri:
            return Tracking(self.spec.mlflow.tracking_uri)
        conn = self.connection(self.spec.connections.mlflow)
        if conn is not None and (conn.host or "").strip():
            return server_tracking(conn)
        db = Path(self.storage.resolve(self.spec.storage.root), LOCAL_DB)
        return Tracking(f"sqlite:///{db}") if db.is_file() else None


@dataclass(frozen=True)
class ConfigError:
    """A YAML that builds no pipeline, with the error its config-error DAG shows."""

    file: str
    message: str


class Catalog:
    """Pipelines and config errors of one folder, reloaded when a YAML changes."""

    def __init__(self, folder: Path, connection: Callable[[str], Any]) -> None:
        self.folder = folder
        self._connection = connection
        self._lock = threading.Lock()
        self._stamp: tuple | None = None
        self._pipelines: dict[str, Pipeline] = {}
        self._errors: list[ConfigError] = []

    def pipelines(self) -> dict[str, Pipeline]:
        self._refresh()
        return self._pipelines

    def errors(self) -> list[ConfigError]:
        self._refresh()
        return self._errors

    def get(self, name: str) -> Pipeline | None:
        return self.pipelines().get(name)

    def _refresh(self) -> None:
        files = pipeline_files(self.folder) if self.folder.is_dir() else []
        defaults = self.folder / DEFAULTS_FILE
        watched = [*files, defaults] if defaults.is_file() else files
        stamp = tuple((str(p), p.stat().st_mtime_ns) for p in watched)
        with self._lock:
            if stamp != self._stamp:
                self._pipelines, self._errors = self._load(files)
                self._stamp = stamp

    def _load(self, files: list[Path]) -> tuple[dict[str, Pipeline], list[ConfigError]]:
        pipelines: dict[str, Pipeline] = {}
        errors: list[ConfigError] = []
        try:
            defaults = load_defaults(self.folder)
        except SpecError as exc:
            return {}, [ConfigError(DEFAULTS_FILE, str(exc))]
        for path in files:
            try:
                spec = load_spec(path, defaults)
            except SpecError as exc:
                errors.append(ConfigError(path.name, str(exc)))
                continue
            if spec.pipeline in pipelines:  # the factory makes this a config error too
                errors.append(ConfigError(path.name, f"pipeline {spec.pipeline} is defined twice"))
                continue
            pipelines[spec.pipeline] = Pipeline(spec, path, self._connection)
        return pipelines, errors


def airflow_connection(conn_id: str) -> Any | None:
    """The Airflow connection (the API server reads the metadata DB and secrets backends),
    or None when it is not defined — the embedded default."""
    from airflow.sdk import BaseHook

    try:
        return BaseHook.get_connection(conn_id)
    except Exception:  # AirflowNotFoundException and friends: not configured
        return None
