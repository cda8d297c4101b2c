"""The one place an operator turns Airflow connections and its task instance into a Runtime."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_mlops_provider.core.attempts import Attempt
    from airflow_mlops_provider.services.config import PipelineConfig
    from airflow_mlops_provider.services.runtime import Runtime


def build_runtime(pipeline: PipelineConfig, context: Context) -> Runtime:
    """Storage (S3 via `connections.aws`), the registry (MLflow via `mlflow.tracking_uri` or
    `connections.mlflow`, else the local store under `storage.root`), Slack (when
    `notifications.slack` is set) and this task's identity. Connections are read on first
    use only, so a step that never touches S3, MLflow or Slack never looks them up."""
    from airflow_mlops_provider.adapters.mlflow_registry import Registry
    from airflow_mlops_provider.hooks.mlflow import MlflowHook
    from airflow_mlops_provider.hooks.slack import SlackHook
    from airflow_mlops_provider.hooks.storage import StorageHook
    from airflow_mlops_provider.services.layout import TaskRef
    from airflow_mlops_provider.services.runtime import Runtime

    ti = context["ti"]
    storage = StorageHook(pipeline.connections.aws).storage(pipeline.project_dir)
    mlflow = MlflowHook(
        pipeline.connections.mlflow,
        tracking_uri=pipeline.mlflow.tracking_uri,
        local_dir=storage.resolve(pipeline.storage.root),
    )
    slack_settings = pipeline.notifications.slack
    slack = SlackHook(
        slack_settings.connection_id if slack_settings else SlackHook.default_conn_name,
        channel=slack_settings.channel if slack_settings else None,
    )
    return Runtime(
        pipeline=pipeline.pipeline,
        storage_root=pipeline.storage.root,
        storage=storage,
        registry=Registry(pipeline.model_name, mlflow.get_conn),
        task=TaskRef(ti.dag_id, ti.run_id, ti.task_id),
        notify=lambda text: slack.get_conn()(text),
        publish=lambda key, value: ti.xcom_push(key=key, value=value),
        project_dir=pipeline.project_dir,
    )


def attempt_of(context: Context) -> Attempt:
    """This try of the task and the first try of its clear cycle (a retry or a clear)."""
    from airflow_mlops_provider.core.attempts import Attempt

    ti = context["ti"]
    return Attempt.of(ti.try_number, ti.max_tries, context["task"].retries)
