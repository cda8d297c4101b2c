"""RetrainOperator: one training per cleared task, resumed on retry, registered once."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_mlops_provider.links import MlflowRunLink
from airflow_mlops_provider.operators.pods import DefersToPod
from airflow_mlops_provider.services.config import PipelineConfig, as_block
from airflow_mlops_provider.spec import DataSpec, TrainingSpec

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow.sdk import Context

    from airflow_mlops_provider.exceptions import TrainingError
    from airflow_mlops_provider.services.runtime import Runtime
    from airflow_mlops_provider.services.training import TrainedModel, TrainingStart


CARRIED = "mlops_training"  # the trigger event's key for what execute_complete needs


class RetrainOperator(DefersToPod, BaseOperator):
    """Create (or resume) the MLflow run, run the trainer under the contract, register it.

    The run is keyed by dag/run/task id, so a retry resumes it (or reuses the version the
    attempt before it registered), a task cleared after registration trains anew, and a run
    that finished without a version is only registered (services/training.py).
    `training.compute` decides where the trainer runs: a subprocess of the worker (the task
    waits for it), or a Kubernetes pod (the task defers while the pod trains, gives the worker
    slot back, and registers in `execute_complete`; a kill deletes the pod, a new try
    reattaches to a pod still running). The MLflow run is the task's "MLflow run" link;
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
        snapshot = context["ti"].xcom_pull(task_ids=self.snapshot_task_id)
        if self.training.compute == "kubernetes":
            return self._start_pod_training(context, snapshot)
        from airflow_mlops_provider.execution.local import LocalTrainer
        from airflow_mlops_provider.hooks.storage import StorageHook
        from airflow_mlops_provider.operators.runtime import build_runtime
        from airflow_mlops_provider.services.training import train_and_register

        rt = build_runtime(self.pipeline, context)
        trainer = LocalTrainer(
            self.training.command,
            cwd=Path(self.pipeline.project_dir),
            timeout_s=self.training.timeout_minutes * 60,
            log=self.log.info,
            storage_env=StorageHook(self.pipeline.connections.aws).subprocess_env(),
        )
        trained = train_and_register(rt, **self._service_args(context, snapshot), trainer=trainer)
        return self._result(trained, snapshot, rt)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        """The trigger saw the training pod finish: read its logs and status (the provider's
        re-entry, which also fails the task on a failed pod and deletes a succeeded one), then
        register what it trained. What finishing needs comes back inside the event."""
        from airflow_mlops_provider.operators.runtime import build_runtime
        from airflow_mlops_provider.services.training import TrainingStart

        carried = event[CARRIED]
        # No environment: re-entry only watches and cleans up the pod the environment created.
        started, snapshot = TrainingStart(**carried["start"], env={}), carried["snapshot"]
        pod = self._pod_operator(started, snapshot)
        self.watch_pod(pod, lambda: pod.trigger_reentry(context, event), _failed(started))
        return self._finish(build_runtime(self.pipeline, context), started, snapshot, pod)

    def _start_pod_training(self, context: Context, snapshot: dict[str, Any]) -> dict[str, Any]:
        """Open (or find) the MLflow run; if it still needs training, create the pod — or
        reattach to the one an earlier try left running — and defer until it finishes. A
        retry that finds the run trained deletes the succeeded pod its try left behind."""
        from airflow_mlops_provider.operators.pods import delete_leftover_pod
        from airflow_mlops_provider.operators.runtime import build_runtime
        from airflow_mlops_provider.services.training import start_training

        rt = build_runtime(self.pipeline, context)
        args = self._service_args(context, snapshot)
        started = start_training(rt, **args, image=str(self.training.image))
        pod = self._pod_operator(started, snapshot)
        if not started.must_train:
            delete_leftover_pod(pod, context)
            return self._finish(rt, started, snapshot, None)
        # execute_async, not execute: the pod operator runs inside this task, not on its own
        # (execute would warn that it is called outside the task runner); the name is valid.
        self.watch_pod(pod, lambda: pod.execute_async(context), _failed(started))
        # Not deferred: the pod had already finished when this try found it.
        return self._finish(rt, started, snapshot, pod)

    def _service_args(self, context: Context, snapshot: dict[str, Any]) -> dict[str, Any]:
        """What the training service needs from the YAML blocks and this try."""
        from airflow_mlops_provider.operators.runtime import attempt_of

        return {
            "snapshot": snapshot,
            "training": self.training,
            "data": self.data,
            "experiment": self.pipeline.experiment_name,
            "ui_url": self.pipeline.mlflow.ui_url,
            "attempt": attempt_of(context),
        }

    def _finish(
        self, rt: Runtime, started: TrainingStart, snapshot: dict[str, Any], pod: Any
    ) -> dict[str, Any]:
        """Register what the pod (or an earlier try) trained, with the digest the pod ran."""
        from airflow_mlops_provider.execution.kubernetes import image_digest
        from airflow_mlops_provider.services.training import finish_training

        trained = finish_training(
            rt,
            started,
            snapshot=snapshot,
            data=self.data,
            digest=image_digest(pod) if pod is not None else None,
        )
        return self._result(trained, snapshot, rt)

    def _pod_operator(self, started: TrainingStart, snapshot: dict[str, Any]) -> Any:
        """The training pod's operator. What `execute_complete` needs travels in the trigger's
        event (the provider's `trigger_kwargs`), not in the deferral's kwargs: `dag.test()`
        replaces those with the event alone; the event reaches the task either way."""
        from airflow_mlops_provider.execution.kubernetes import training_pod

        pod = training_pod(
            self.training,
            pipeline=self.pipeline.pipeline,
            kubernetes_conn_id=self.pipeline.connections.kubernetes,
            task_id=self.task_id,
            run_id=started.run_id,
            env=started.env,
        )
        start = {k: v for k, v in started.to_dict().items() if k != "env"}  # kept out of the DB
        pod.trigger_kwargs = {CARRIED: {"start": start, "snapshot": snapshot}}
        return pod

    def _result(
        self, trained: TrainedModel, snapshot: dict[str, Any], rt: Runtime
    ) -> dict[str, Any]:
        self._lineage = ({**trained.to_xcom(), **snapshot}, rt.registry.tracking.uri)
        return trained.to_xcom()

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


def _failed(started: TrainingStart) -> Callable[[str], TrainingError]:
    """A failed training pod's error: nothing was registered, and a retry resumes the run."""
    from airflow_mlops_provider.exceptions import TrainingError

    def failed(why: str) -> TrainingError:
        return TrainingError(
            f"{why}; nothing was registered. Its log is above (a failed pod is kept for "
            f"kubectl logs); a retry resumes MLflow run {started.run_id}"
        )

    return failed
