"""Where the pipeline talks to the outside: `notifications:`, `mlflow:`, `storage:` and the
Airflow `connections:` it uses. Credentials never appear here: they live in the connections."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field

from airflow_mlops_provider.spec.base import StrictModel


class SlackSpec(StrictModel):
    """Slack messages for decisions (gate, approval requests, alerts)."""

    connection_id: str = Field("slack_default", description="Airflow connection with the token")
    channel: str = Field(pattern=r"^[#@]?[\w.-]+$", description="#channel or @user")


class NotificationsSpec(StrictModel):
    """Who hears about decisions; without Slack they are logged with a note saying so."""

    slack: SlackSpec | None = Field(None, description="null: decisions are only logged")


class MlflowSpec(StrictModel):
    """Tracking and registry."""

    tracking_uri: str | None = Field(
        None,
        description="null: connection mlflow_default if it "
        "exists, else a local SQLite store under storage.root",
    )
    experiment: str | None = Field(None, description="default: the pipeline name")
    model_name: str | None = Field(None, description="registered model; default: the pipeline")
    ui_url: str | None = Field(
        None,
        description="MLflow UI base for the Airflow 'MLflow run' link; null: an http(s) "
        "tracking_uri, else the MLflow connection's host, else no link",
    )


class MlflowNames:
    """The MLflow names of a pipeline: its experiment and registered model are the `mlflow`
    block's when set, else the pipeline's name. Mixed into each model with a `pipeline` and
    an `mlflow` (the spec, and the services' PipelineConfig), so the default is written once."""

    if TYPE_CHECKING:  # the models mixed with this declare the fields
        pipeline: str
        mlflow: MlflowSpec

    @property
    def model_name(self) -> str:
        return self.mlflow.model_name or self.pipeline

    @property
    def experiment_name(self) -> str:
        return self.mlflow.experiment or self.pipeline


class StorageSpec(StrictModel):
    """Where the platform keeps what it produces."""

    root: str = Field(
        ".mlops",
        description="where snapshots, reports and the audit log go; "
        "relative paths are under the project (the dags folder's parent)",
    )


class ConnectionsSpec(StrictModel):
    """Airflow connection ids; credentials are read from them at run time."""

    aws: str = Field("aws_default", description="S3 (storage.root, data on s3://)")
    mlflow: str = Field("mlflow_default", description="MLflow server URL and credentials")
    kubernetes: str = Field("kubernetes_default", description="cluster for compute: kubernetes")
