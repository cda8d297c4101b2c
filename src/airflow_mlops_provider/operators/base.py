"""What every pipeline operator shares: the spec, the project folder, and per-run services.

`__init__` only stores values (no I/O, no heavy import); storage, MLflow and Slack clients are
built on first use inside `execute`, from Airflow connections where they exist. The folder
layout under `storage.root` is defined here once:

    <root>/pipelines/<pipeline>/snapshots/<snapshot_id>/   immutable train/holdout + manifest
    <root>/pipelines/<pipeline>/runs/<dag_id>/<run_id>/     reports of one DAG run
    <root>/pipelines/<pipeline>/audit.jsonl                 append-only decisions
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseBranchOperator, BaseOperator

from airflow_mlops_provider.spec.models import PipelineSpec

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_mlops_provider.adapters.storage import Storage

DEFAULT_DB = "mlflow.db"


class PipelineOperatorMixin:
    """Shared services. A mixin (not a base class) so branch operators can use it too."""

    spec: PipelineSpec
    project_dir: str
    log: Any

    @cached_property
    def storage(self) -> Storage:
        from airflow_mlops_provider.adapters.storage import Storage, allowed_roots

        project = Path(self.project_dir)
        return Storage(project, s3_client=self._s3_client, allowed_roots=allowed_roots(project))

    def _s3_client(self) -> Any:
        """boto3 S3 client from the `connections.aws` Airflow connection, if it exists."""
        from airflow_mlops_provider.adapters.storage import s3_client_from_connection

        return s3_client_from_connection(_connection(self.spec.connections.aws))

    @property
    def pipeline_root(self) -> str:
        return self.storage.join(self.spec.storage.root, "pipelines", self.spec.pipeline)

    def run_folder(self, context: Context) -> str:
        from airflow_mlops_provider.core.layout import run_parts

        dag_run = context["dag_run"]
        return self.storage.join(self.pipeline_root, *run_parts(dag_run.dag_id, dag_run.run_id))

    @cached_property
    def tracking_uri(self) -> str:
        """YAML `mlflow.tracking_uri`, else connection `connections.mlflow`, else local SQLite."""
        if self.spec.mlflow.tracking_uri:
            return self.spec.mlflow.tracking_uri
        conn = _connection(self.spec.connections.mlflow)
        if conn is not None:
            return mlflow_server_uri(conn)
        root = Path(self.storage.resolve(self.spec.storage.root))
        root.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{root / DEFAULT_DB}"

    @cached_property
    def mlflow(self) -> Any:
        from airflow_mlops_provider.adapters import mlflow_registry

        return mlflow_registry.client(self.tracking_uri)

    @property
    def artifact_location(self) -> str | None:
        """Local stores keep artifacts under storage.root; a server decides for itself."""
        if not self.tracking_uri.startswith("sqlite:"):
            return None
        return Path(self.storage.resolve(self.spec.storage.root), "mlartifacts").as_uri()

    def audit(
        self, context: Context, event: str, details: dict[str, Any], actor: str = "airflow"
    ) -> None:
        from airflow_mlops_provider.core import audit

        ti = context["ti"]
        line = audit.record(
            event,
            pipeline=self.spec.pipeline,
            dag_id=ti.dag_id,
            run_id=ti.run_id,
            task_id=ti.task_id,
            details=details,
            actor=actor,
        )
        self.storage.append_line(self.storage.join(self.pipeline_root, "audit.jsonl"), line)
        self._tag_audit(line)

    def _tag_audit(self, line: str) -> None:
        """Mirror a decision about a model version as its `mlops.audit.<event>` MLflow tag;
        the audit log stays the record: a tag that cannot be written is a warning."""
        from airflow_mlops_provider.adapters import mlflow_registry as registry
        from airflow_mlops_provider.core import audit

        found = audit.version_tag(line)
        if found is None:
            return
        version, key, value = found
        try:
            registry.tag_version(self.mlflow, self.spec.model_name, version, {key: value})
        except Exception as exc:  # the decision is in audit.jsonl already
            self.log.warning("Audit tag %s on version %s not written: %s", key, version, exc)

    def notify(self, text: str) -> str:
        from airflow_mlops_provider.adapters import slack

        settings = self.spec.notifications.slack
        if settings is None:
            return slack.send(text, channel=None, token=None)
        conn = _connection(settings.connection_id)
        if conn is None:
            return slack.send(text, channel=None, token=None)
        return slack.send(
            text, channel=settings.channel, token=conn.password, base_url=conn.host or None
        )


def mlflow_server_uri(conn: Any) -> str:
    """http(s)://host[:port] from the MLflow connection; its login/password go to the standard
    MLFLOW_TRACKING_USERNAME/PASSWORD variables of this process (and so of a local trainer),
    never into the URI, which is logged and passed around."""
    host = conn.host or "localhost"
    if "://" not in host:
        host = f"{conn.schema or 'http'}://{host}"
    if conn.login:
        os.environ["MLFLOW_TRACKING_USERNAME"] = conn.login
        os.environ["MLFLOW_TRACKING_PASSWORD"] = conn.password or ""
    return host.rstrip("/") + (f":{conn.port}" if conn.port else "")


class PipelineOperator(PipelineOperatorMixin, BaseOperator):
    """Base of the provider's plain operators: keyword-only, stores values, nothing else."""

    ui_color = "#e8f0fe"

    def __init__(self, *, spec: PipelineSpec, project_dir: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec
        self.project_dir = project_dir


class PipelineBranchOperator(PipelineOperatorMixin, BaseBranchOperator):
    """Base of the provider's branch operators; same shape as PipelineOperator."""

    def __init__(self, *, spec: PipelineSpec, project_dir: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec
        self.project_dir = project_dir


def _connection(conn_id: str) -> Any | None:
    """The Airflow connection, or None when it is not defined (the embedded default)."""
    from airflow.sdk import BaseHook

    try:
        return BaseHook.get_connection(conn_id)
    except Exception:  # AirflowNotFoundException and friends: treated as "not configured"
        return None
