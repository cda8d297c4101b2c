"""RetrainOperator: one training per cleared task, resumed on retry, registered once."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_mlops_provider.links import MlflowRunLink
from airflow_mlops_provider.services.config import PipelineConfig, as_block
from airflow_mlops_provider.spec import DataSpec, TrainingSpec

if TYPE_CHECKING:
    from airflow.sdk import Context


class RetrainOperator(BaseOperator):
    """Create (or resume) the MLflow run, run the trainer under the contract, register it.

    The run is keyed by dag/run/task id, so a retry resumes it (or reuses the version the
    attempt before it registered), a task cleared after registration trains anew, and a run
    that finished without a version is only registered (services/training.py).
    `training.compute` decides where the trainer runs: a subprocess of the worker, or a
    Kubernetes pod. The MLflow run is the task's "MLflow run" link;
    returns run id, version, model URI, snapshot id and the version's drift profile.

    :param pipeline: the pipeline's shared settings (`PipelineConfig` or a dict of it).
    :param training: YAML block `training` (`TrainingSpec` or dict): command, params, env,
        compute, image, resources, timeout.
    :param data: YAML block `data` (`DataSpec` or dict): target, task and features, passed to
        the trainer as `MLOPS_DATA_SPEC`.
    :param snapshot_task_id: task whose XCom holds the validated snapshot's manifest.
    """

    operator_extra_links = (MlflowRunLink(),)
    ui_color = "#fde2e4"

    def __init__(
        self,
        *,
        pipeline: PipelineConfig | dict[str, Any],
        training: TrainingSpec | dict[str, Any],
        data: DataSpec | dict[str, Any],
        snapshot_task_id: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.pipeline = as_block(PipelineConfig, pipeline)
        self.training = as_block(TrainingSpec, training)
        self.data = as_block(DataSpec, data)
        self.snapshot_task_id = snapshot_task_id
        self._lineage: tuple[dict[str, Any], str] | None = None  # for OpenLineage, after execute

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_mlops_provider.operators.runtime import attempt_of, build_runtime
        from airflow_mlops_provider.services.training import train_and_register

        snapshot = context["ti"].xcom_pull(task_ids=self.snapshot_task_id)
        rt = build_runtime(self.pipeline, context)
        trained = train_and_register(
            rt,
            snapshot=snapshot,
            training=self.training,
            data=self.data,
            experiment=self.pipeline.experiment_name,
            ui_url=self.pipeline.mlflow.ui_url,
            trainer=self._trainer(context),
            attempt=attempt_of(context),
        )
        self._lineage = ({**trained.to_xcom(), **snapshot}, rt.registry.tracking.uri)
        return trained.to_xcom()

    def _trainer(self, context: Context) -> Any:
        if self.training.compute == "kubernetes":
            from airflow_mlops_provider.execution.kubernetes import PodTrainer

            return PodTrainer(
                self.training,
                pipeline=self.pipeline.pipeline,
                kubernetes_conn_id=self.pipeline.connections.kubernetes,
                task_id=self.task_id,
                context=context,
            )
        from airflow_mlops_provider.execution.local import LocalTrainer
        from airflow_mlops_provider.hooks.storage import StorageHook

        return LocalTrainer(
            self.training.command,
            cwd=Path(self.pipeline.project_dir),
            timeout_s=self.training.timeout_minutes * 60,
            log=self.log.info,
            storage_env=StorageHook(self.pipeline.connections.aws).subprocess_env(),
        )

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Called by the OpenLineage provider's listener (when installed) after success:
        the snapshot's train/holdout datasets → the registered model version."""
        from airflow_mlops_provider.lineage import training_lineage

        if self._lineage is None:
            return None
        result, tracking_uri = self._lineage
        return training_lineage(
            result, model_name=self.pipeline.model_name, tracking_uri=tracking_uri
        )
