"""PipelineConfig: what every step of one pipeline shares, apart from its YAML blocks.

The factory makes one from the pipeline's spec (`PipelineConfig.from_spec`); a hand-written
DAG makes one in Python — a `PipelineConfig` or a plain dict validated into one:

    PipelineConfig(pipeline="churn", project_dir="/opt/airflow/project")

Everything else has the YAML's defaults: storage under `<project>/.mlops`, MLflow from the
`mlflow_default` connection (or a local SQLite store), S3 through `aws_default`, messages to
the task log unless `notifications.slack` names a channel.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from airflow_mlops_provider.spec import (
    NAME_PATTERN,
    ConnectionsSpec,
    MlflowNames,
    MlflowSpec,
    NotificationsSpec,
    PipelineSpec,
    StorageSpec,
)


class PipelineConfig(BaseModel, MlflowNames):
    """The pipeline's name, project folder, storage root, MLflow (and its names,
    MlflowNames), connections and Slack."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pipeline: str = Field(pattern=NAME_PATTERN, description="names folders, the model, audit lines")
    project_dir: str = Field(description="relative paths resolve under this folder")
    storage: StorageSpec = Field(default_factory=StorageSpec)
    mlflow: MlflowSpec = Field(default_factory=MlflowSpec)
    connections: ConnectionsSpec = Field(default_factory=ConnectionsSpec)
    notifications: NotificationsSpec = Field(default_factory=NotificationsSpec)

    @classmethod
    def from_spec(cls, spec: PipelineSpec, project_dir: str) -> PipelineConfig:
        return cls(
            pipeline=spec.pipeline,
            project_dir=project_dir,
            storage=spec.storage,
            mlflow=spec.mlflow,
            connections=spec.connections,
            notifications=spec.notifications,
        )


def as_block(cls: type[BaseModel], value: Any) -> Any:
    """A spec block as given, or a plain dict validated into one (hand-written DAGs); None
    stays None. Validation errors name the block's fields, at DAG parse time."""
    if value is None or isinstance(value, cls):
        return value
    return cls.model_validate(value)
