"""Train and register: one training per cleared task, resumed on retry, registered once.

The MLflow run is created (or found) *before* the trainer starts and passed to it (the trainer
contract, DESIGN.md §4), keyed by dag/run/task id. What a re-run does depends on what the last
attempt left and on whether this try is a retry or a clear (core/attempts.py): an unfinished
run is resumed; a finished run with a model but no version is only registered (the attempt died
after training); a registered run is reused by a retry (the attempt died before returning) and
means, after a clear, that a fresh training starts. Clearing the task
therefore makes exactly one new version, and nothing else makes any. Lineage tags are set by
the platform, not trusted to the trainer.
"""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Protocol

from airflow_mlops_provider.services.runtime import MLFLOW_RUN_LINK

if TYPE_CHECKING:
    from airflow_mlops_provider.core.attempts import Attempt
    from airflow_mlops_provider.services.runtime import Runtime
    from airflow_mlops_provider.spec import DataSpec, TrainingSpec

log = logging.getLogger(__name__)
ACTIONS = {
    "new": "new run, training starts",
    "resume": "resuming the unfinished training of an earlier try",
    "register": "trained by an earlier try; registering its model without training again",
    "reuse": "already registered by the try this one retries: reusing its version",
}


class Trainer(Protocol):
    """A trainer that blocks until it is done (execution/local.py LocalTrainer). A pod is not
    one: the retrain operator defers while it runs, between `start_training` and
    `finish_training`."""

    @property
    def image(self) -> str: ...

    def run(self, env: dict[str, str], client_env: dict[str, str]) -> str | None:
        """Run to completion with the contract `env` (`client_env`: the tracking URI and
        credentials, for a trainer that may see them); the image digest it ran, if known."""


@dataclass(frozen=True)
class TrainedModel:
    run_id: str
    version: str
    model_uri: str
    snapshot_id: str
    trained: bool  # False: an earlier attempt's finished run was only registered
    drift_profile: str

    def to_xcom(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TrainingStart:
    """What the service settled before any trainer runs: the MLflow run, what this try does
    with it (core/attempts.py), the lineage it registers with and the contract environment
    (no credentials). Plain values, so it survives a deferral (execute → execute_complete)."""

    run_id: str
    action: str
    lineage: dict[str, str]
    env: dict[str, str]

    @property
    def must_train(self) -> bool:
        """False when an earlier try left a trained run (register it) or a version (reuse)."""
        from airflow_mlops_provider.core.attempts import NEW, RESUME

        return self.action in (NEW, RESUME)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def train_and_register(
    rt: Runtime,
    *,
    snapshot: Mapping[str, Any],
    training: TrainingSpec,
    data: DataSpec,
    experiment: str,
    ui_url: str | None,
    trainer: Trainer,
    attempt: Attempt | None = None,
) -> TrainedModel:
    """Train on the snapshot (`snapshot_id`, `train_uri`, `holdout_uri`: a validated
    snapshot's manifest) under the trainer contract, register the model with its lineage and
    fit its drift reference, in one call (a trainer that blocks until it is done). `attempt`
    (the task's try) tells a retry, which reuses what the attempt before it registered, from a
    clear, which trains anew."""
    start = start_training(
        rt,
        snapshot=snapshot,
        training=training,
        data=data,
        experiment=experiment,
        ui_url=ui_url,
        image=trainer.image,
        attempt=attempt,
    )
    digest = trainer.run(start.env, rt.registry.tracking.client_env()) if start.must_train else None
    return finish_training(rt, start, snapshot=snapshot, data=data, digest=digest)


def start_training(
    rt: Runtime,
    *,
    snapshot: Mapping[str, Any],
    training: TrainingSpec,
    data: DataSpec,
    experiment: str,
    ui_url: str | None,
    image: str,
    attempt: Attempt | None = None,
) -> TrainingStart:
    """Create or find this task's MLflow run and say whether a trainer must run on it. The
    first half of a training whose trainer outlives the call (a deferred pod);
    `finish_training` is the second."""
    registry = rt.registry
    lineage = _lineage(rt, snapshot, training, image)
    experiment_id = registry.ensure_experiment(experiment)
    run_id, action = registry.run_for_attempt(
        experiment_id,
        task_key=rt.task.key,
        run_name=f"{rt.pipeline}-{rt.task.run_id}",
        tags=lineage,
        attempt=attempt,
    )
    log.info("MLflow run %s: %s", run_id, ACTIONS[action])
    _publish_run_link(rt, mlflow_ui_base(ui_url, registry.tracking.uri), experiment_id, run_id)
    env = _contract_env(rt, run_id, snapshot, training, data, lineage)
    return TrainingStart(run_id=run_id, action=action, lineage=lineage, env=env)


def finish_training(
    rt: Runtime,
    start: TrainingStart,
    *,
    snapshot: Mapping[str, Any],
    data: DataSpec,
    digest: str | None = None,
) -> TrainedModel:
    """After the trainer ran (or was not needed): check the run finished with a model,
    register it once (keyed by the run) with the image `digest` that really ran, fit its
    drift reference and audit it."""
    from airflow_mlops_provider.core.audit import TAG_PREFIX
    from airflow_mlops_provider.services.references import ensure_reference

    registry = rt.registry
    if digest:
        registry.set_run_tags(start.run_id, {"mlops.image_digest": digest})
    run = _finished_run(rt, start.run_id)
    # A pod reports the digest it really ran on the run; the version carries that.
    lineage = start.lineage
    digest = run.data.tags.get("mlops.image_digest", lineage["mlops.image_digest"])
    tags = {**lineage, "mlops.image_digest": digest, "mlops.decision": "pending"}
    version = registry.register(start.run_id, tags=tags)
    trained = TrainedModel(
        run_id=start.run_id,
        version=version.version,
        model_uri=version.uri,
        snapshot_id=snapshot["snapshot_id"],
        trained=start.must_train,
        drift_profile=ensure_reference(
            rt,
            data.features,
            version,
            train_uri=snapshot["train_uri"],
            holdout_uri=snapshot["holdout_uri"],
        ),
    )
    if f"{TAG_PREFIX}trained" not in version.tags:  # a reused version is audited already
        rt.audit("trained", trained.to_xcom())
    return trained


def mlflow_ui_base(ui_url: str | None, tracking_uri: str) -> str | None:
    """Where people open MLflow: `mlflow.ui_url`, else the tracking server (an http(s)
    tracking URI: the YAML's or the `connections.mlflow` host); None for the embedded store,
    which has no server to open."""
    if ui_url:
        return ui_url.rstrip("/")
    return tracking_uri.rstrip("/") if tracking_uri.startswith(("http://", "https://")) else None


def _publish_run_link(rt: Runtime, ui_base: str | None, experiment_id: str, run_id: str) -> None:
    """The "MLflow run" link, published before training: a failed training links its run."""
    if ui_base is None:
        log.info("MLflow run %s (no link: set mlflow.ui_url to show one)", run_id)
        return
    url = f"{ui_base}/#/experiments/{experiment_id}/runs/{run_id}"
    rt.publish(MLFLOW_RUN_LINK, url)
    log.info("MLflow run: %s", url)


def _contract_env(
    rt: Runtime,
    run_id: str,
    snapshot: Mapping[str, Any],
    training: TrainingSpec,
    data: DataSpec,
    lineage: dict[str, str],
) -> dict[str, str]:
    from airflow_mlops_provider.execution.contract import trainer_env

    return trainer_env(
        training,
        data,
        tracking_uri=rt.registry.tracking.uri,
        run_id=run_id,
        train_uri=snapshot["train_uri"],
        holdout_uri=snapshot["holdout_uri"],
        lineage=lineage,
    )


def _finished_run(rt: Runtime, run_id: str) -> Any:
    """The finished run, or a TrainingError saying what the trainer left undone."""
    from airflow_mlops_provider.exceptions import TrainingError

    run = rt.registry.get_run(run_id)
    status = run.info.status
    if status != "FINISHED":
        raise TrainingError(
            f"trainer exited but MLflow run {run_id} is {status}, not "
            "FINISHED; the trainer must end its run (see include/trainer)"
        )
    if not rt.registry.has_model(run_id):
        raise TrainingError(
            f"MLflow run {run_id} logged no model at artifact path 'model'; "
            "the trainer must call log_model(..., name='model')"
        )
    return run


def _lineage(
    rt: Runtime, snapshot: Mapping[str, Any], training: TrainingSpec, image: str
) -> dict[str, str]:
    params = json.dumps(training.params, sort_keys=True).encode()
    return {
        "mlops.pipeline": rt.pipeline,
        "mlops.dag_id": rt.task.dag_id,
        "mlops.run_id": rt.task.run_id,
        "mlops.task_id": rt.task.task_id,
        "mlops.snapshot_id": snapshot["snapshot_id"],
        "mlops.train_data": snapshot["train_uri"],
        "mlops.holdout_data": snapshot["holdout_uri"],
        "mlops.params_hash": hashlib.sha256(params).hexdigest()[:16],
        "mlops.code_commit": code_commit(rt.project_dir),
        "mlops.image_digest": image,
        "mlops.compute": training.compute,
    }


def code_commit(project_dir: str) -> str:
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
