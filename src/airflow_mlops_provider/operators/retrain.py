"""RetrainOperator: one training per cleared task, resumed on retry, registered once."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_mlops_provider.links import MlflowRunLink
from airflow_mlops_provider.operators.base import PipelineOperator

if TYPE_CHECKING:
    from airflow.sdk import Context


class RetrainOperator(PipelineOperator):
    """Create (or resume) the MLflow run, run the trainer under the contract, register it.

    The run is keyed by dag/run/task id (DESIGN.md §4). What happens on a re-run depends on
    what the last attempt left: an unfinished run is resumed (a retry); a finished run with
    a model but no version is only registered (the attempt died after training); a run that
    already has its version means the task was cleared, so a fresh training starts. Clearing
    `retrain` therefore makes exactly one new version, and nothing else makes any.
    """

    operator_extra_links = (MlflowRunLink(),)
    ui_color = "#fde2e4"

    def __init__(self, *, snapshot_task_id: str = "validate_data", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.snapshot_task_id = snapshot_task_id
        self._result: dict[str, Any] | None = None  # what execute() made, for OpenLineage

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_mlops_provider.adapters import mlflow_registry as registry

        snapshot = context["ti"].xcom_pull(task_ids=self.snapshot_task_id)
        lineage = self._lineage(context, snapshot)
        run_id, needs_training = self._run_for_attempt(context, lineage)
        self._publish_link(context, run_id)
        if needs_training:
            self._train(context, run_id, snapshot, lineage)
        run = self._check_run(run_id)
        # A pod reports the digest it really ran on the run; the version carries that.
        digest = run.data.tags.get("mlops.image_digest", lineage["mlops.image_digest"])
        tags = {**lineage, "mlops.image_digest": digest, "mlops.decision": "pending"}
        version = registry.register(self.mlflow, self.spec.model_name, run_id, tags=tags)
        result = {
            "run_id": run_id,
            "version": version.version,
            "model_uri": version.uri,
            "snapshot_id": snapshot["snapshot_id"],
            "trained": needs_training,
            "drift_profile": self._drift_profile(context, run_id, version, snapshot),
        }
        self.audit(context, "trained", result)
        self._result = {**result, **snapshot}
        return result

    def _drift_profile(
        self, context: Context, run_id: str, version: Any, snapshot: dict[str, Any]
    ) -> str:
        """The version's drift reference (training features + holdout predictions), fitted
        once: a re-run that only registers finds it on the version's tag."""
        from airflow_mlops_provider.adapters import drift_profiles
        from airflow_mlops_provider.adapters import mlflow_registry as registry

        existing = version.tags.get(drift_profiles.PROFILE_TAG)
        if existing:
            return existing
        profile = drift_profiles.fit_for_model(
            self.storage,
            self.spec,
            train_uri=snapshot["train_uri"],
            holdout_uri=snapshot["holdout_uri"],
            model_uri=version.uri,
        )
        folder = self.storage.join(self.run_folder(context), self.task_id, run_id)
        uri = drift_profiles.store_profile(
            self.storage, self.mlflow, profile, folder=folder, run_id=run_id
        )
        tag = {drift_profiles.PROFILE_TAG: uri}
        registry.tag_version(self.mlflow, self.spec.model_name, version.version, tag)
        self.log.info("Drift profile: %s", uri)
        return uri

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Called by the OpenLineage provider's listener (when installed) after success."""
        from airflow_mlops_provider.lineage import training_lineage

        if self._result is None:
            return None
        return training_lineage(
            self._result, model_name=self.spec.model_name, tracking_uri=self.tracking_uri
        )

    def _run_for_attempt(self, context: Context, lineage: dict[str, str]) -> tuple[str, bool]:
        from airflow_mlops_provider.adapters import mlflow_registry as registry
        from airflow_mlops_provider.core.attempts import REGISTER

        ti = context["ti"]
        experiment = registry.ensure_experiment(
            self.mlflow, self.spec.experiment_name, self.artifact_location
        )
        run_id, action = registry.run_for_attempt(
            self.mlflow,
            experiment,
            task_key=f"{ti.dag_id}/{ti.run_id}/{ti.task_id}",
            model_name=self.spec.model_name,
            run_name=f"{self.spec.pipeline}-{ti.run_id}",
            tags=lineage,
        )
        self.log.info("MLflow run %s: %s", run_id, _ACTIONS[action])
        return run_id, action != REGISTER

    def _train(
        self, context: Context, run_id: str, snapshot: dict[str, Any], lineage: dict[str, str]
    ) -> None:
        from airflow_mlops_provider.execution.contract import trainer_env

        env = trainer_env(
            self.spec,
            tracking_uri=self.tracking_uri,
            run_id=run_id,
            train_uri=snapshot["train_uri"],
            holdout_uri=snapshot["holdout_uri"],
            lineage=lineage,
        )
        if self.spec.training.compute == "kubernetes":
            self._train_in_pod(context, run_id, env)
            return
        from airflow_mlops_provider.execution.local import run_trainer

        run_trainer(
            self.spec.training.command,
            env,
            cwd=Path(self.project_dir),
            timeout_s=self.spec.training.timeout_minutes * 60,
            log=self.log.info,
        )

    def _train_in_pod(self, context: Context, run_id: str, env: dict[str, str]) -> None:
        from airflow_mlops_provider.execution import kubernetes

        env["MLFLOW_TRACKING_URI"] = kubernetes.without_credentials(env["MLFLOW_TRACKING_URI"])
        pod = kubernetes.pod_operator(
            self.spec,
            task_id=self.task_id,
            env=env,
            name=kubernetes.pod_name(self.spec.pipeline, f"train-{run_id[:8]}"),
        )
        pod.execute(context)
        digest = kubernetes.image_digest(pod)
        if digest:
            self.mlflow.set_tag(run_id, "mlops.image_digest", digest)

    def _check_run(self, run_id: str) -> Any:
        """The finished run, or a TrainingError saying what the trainer left undone."""
        from airflow_mlops_provider.adapters import mlflow_registry as registry
        from airflow_mlops_provider.exceptions import TrainingError

        run = self.mlflow.get_run(run_id)
        status = run.info.status
        if status != "FINISHED":
            raise TrainingError(
                f"trainer exited but MLflow run {run_id} is {status}, not "
                "FINISHED; the trainer must end its run (see include/trainer)"
            )
        if not registry.has_model(run_id):
            raise TrainingError(
                f"MLflow run {run_id} logged no model at artifact path 'model'; "
                "the trainer must call log_model(..., name='model')"
            )
        return run

    def _lineage(self, context: Context, snapshot: dict[str, Any]) -> dict[str, str]:
        ti = context["ti"]
        params = json.dumps(self.spec.training.params, sort_keys=True).encode()
        return {
            "mlops.pipeline": self.spec.pipeline,
            "mlops.dag_id": ti.dag_id,
            "mlops.run_id": ti.run_id,
            "mlops.task_id": ti.task_id,
            "mlops.snapshot_id": snapshot["snapshot_id"],
            "mlops.train_data": snapshot["train_uri"],
            "mlops.holdout_data": snapshot["holdout_uri"],
            "mlops.params_hash": hashlib.sha256(params).hexdigest()[:16],
            "mlops.code_commit": _code_commit(self.project_dir),
            "mlops.image_digest": self._image(),
            "mlops.compute": self.spec.training.compute,
        }

    def _image(self) -> str:
        """Local: the interpreter; pod: the image reference until the pod reports its digest."""
        if self.spec.training.compute == "kubernetes":
            return str(self.spec.training.image)
        return f"local:python{sys.version_info.major}.{sys.version_info.minor}"

    def _publish_link(self, context: Context, run_id: str) -> None:
        from airflow_mlops_provider.links import mlflow_run_url, mlflow_ui_base
        from airflow_mlops_provider.operators.base import _connection

        ui_base = mlflow_ui_base(self.spec, _connection)
        if ui_base is None:
            self.log.info("MLflow run %s (no link: set mlflow.ui_url to show one)", run_id)
            return
        url = mlflow_run_url(ui_base, self.mlflow.get_run(run_id).info.experiment_id, run_id)
        context["ti"].xcom_push(key=MlflowRunLink.xcom_key, value=url)
        self.log.info("MLflow run: %s", url)


_ACTIONS = {
    "new": "new run, training starts",
    "resume": "resuming the unfinished training of an earlier try",
    "register": "trained by an earlier try; registering its model without training again",
}


def _code_commit(project_dir: str) -> str:
    """The project's git commit (what the trainer code is), or 'unknown' outside git."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=project_dir,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except OSError:
        return "unknown"
    return done.stdout.strip() if done.returncode == 0 else "unknown"
