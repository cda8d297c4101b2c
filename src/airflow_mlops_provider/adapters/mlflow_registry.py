"""MLflow tracking and registry, as the pipeline needs them: runs keyed by task, versions keyed
by run id, and aliases (`champion`, `challenger`, `previous_champion`) — never stages.

Every function is idempotent, because Airflow retries and clears re-run them: a second call
finds what the first did instead of doing it again. mlflow is imported inside functions only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CHAMPION, CHALLENGER, PREVIOUS = "champion", "challenger", "previous_champion"
TASK_KEY_TAG = "mlops.task_key"
UNFINISHED = ("RUNNING", "SCHEDULED", "FAILED", "KILLED")


@dataclass(frozen=True)
class Version:
    """The registry facts a step needs about one model version."""

    name: str
    version: str
    run_id: str
    tags: dict[str, str]

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


def client(tracking_uri: str) -> Any:
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def ensure_experiment(mlflow_client: Any, name: str, artifact_location: str | None) -> str:
    found = mlflow_client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    try:
        return mlflow_client.create_experiment(name, artifact_location=artifact_location)
    except Exception:  # created concurrently by another task: read it back
        found = mlflow_client.get_experiment_by_name(name)
        if found is None:
            raise
        return found.experiment_id


def latest_run_for_task(mlflow_client: Any, experiment_id: str, task_key: str) -> Any | None:
    runs = mlflow_client.search_runs(
        [experiment_id],
        filter_string=f"tags.`{TASK_KEY_TAG}` = '{task_key}'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return runs[0] if runs else None


def run_for_attempt(
    mlflow_client: Any,
    experiment_id: str,
    *,
    task_key: str,
    model_name: str,
    run_name: str,
    tags: dict[str, str],
) -> tuple[str, str]:
    """(run_id, action) for this attempt of a task; creates the run when action is "new"."""
    from airflow_mlops_provider.core.attempts import NEW, next_action

    last = latest_run_for_task(mlflow_client, experiment_id, task_key)
    if last is not None:
        run_id = last.info.run_id
        registered = version_for_run(mlflow_client, model_name, run_id) is not None
        action = next_action(
            last.info.status, has_model=not registered and has_model(run_id), registered=registered
        )
        if action != NEW:
            return run_id, action
    run = create_run(mlflow_client, experiment_id, task_key, run_name, tags)
    return run.info.run_id, NEW


def create_run(
    mlflow_client: Any, experiment_id: str, task_key: str, run_name: str, tags: dict[str, str]
) -> Any:
    return mlflow_client.create_run(
        experiment_id, run_name=run_name, tags={**tags, TASK_KEY_TAG: task_key}
    )


def has_model(run_id: str) -> bool:
    """True when the run logged a model at artifact path `model` (MLflow 3 logged models)."""
    import mlflow

    try:
        mlflow.models.get_model_info(f"runs:/{run_id}/model")
    except Exception:
        return False
    return True


def version_for_run(mlflow_client: Any, name: str, run_id: str) -> Version | None:
    try:
        found = mlflow_client.search_model_versions(f"name='{name}' and run_id='{run_id}'")
    except Exception as exc:
        if _not_found(exc):  # the registered model does not exist yet
            return None
        raise
    return _version(min(found, key=lambda v: int(v.version))) if found else None


def register(mlflow_client: Any, name: str, run_id: str, tags: dict[str, str]) -> Version:
    """Register the run's model once: a second call returns the version the first made."""
    import mlflow

    existing = version_for_run(mlflow_client, name, run_id)
    if existing is not None:
        return existing
    made = mlflow.register_model(f"runs:/{run_id}/model", name, tags=tags)
    return get_version(mlflow_client, name, made.version)


def get_version(mlflow_client: Any, name: str, version: str) -> Version:
    return _version(mlflow_client.get_model_version(name, str(version)))


def by_alias(mlflow_client: Any, name: str, alias: str) -> Version | None:
    try:
        return _version(mlflow_client.get_model_version_by_alias(name, alias))
    except Exception as exc:
        if _not_found(exc):  # no such model, or the alias is not set
            return None
        raise


def promote(mlflow_client: Any, name: str, version: str) -> dict[str, str | None]:
    """Move `champion` to version and remember the one it replaces as `previous_champion`.

    Idempotent: promoting the current champion again changes nothing."""
    current = by_alias(mlflow_client, name, CHAMPION)
    if current is not None and current.version == str(version):
        return {
            "champion": str(version),
            "previous_champion": _alias_version(mlflow_client, name, PREVIOUS),
            "changed": None,
        }
    if current is not None:
        mlflow_client.set_registered_model_alias(name, PREVIOUS, current.version)
    mlflow_client.set_registered_model_alias(name, CHAMPION, str(version))
    return {
        "champion": str(version),
        "previous_champion": current.version if current else None,
        "changed": "yes",
    }


def rollback(mlflow_client: Any, name: str, to_version: str | None) -> dict[str, str | None]:
    """Point `champion` at to_version (default: `previous_champion`); idempotent."""
    current = by_alias(mlflow_client, name, CHAMPION)
    target = str(to_version) if to_version else _alias_version(mlflow_client, name, PREVIOUS)
    if target is None:
        from airflow_mlops_provider.exceptions import RegistryError

        raise RegistryError(
            f"model {name!r} has no previous_champion to roll back to; pass a version explicitly"
        )
    get_version(mlflow_client, name, target)  # fails clearly if the version does not exist
    if current is not None and current.version == target:
        return {"champion": target, "from": None, "changed": None}
    mlflow_client.set_registered_model_alias(name, CHAMPION, target)
    if current is not None:
        mlflow_client.set_registered_model_alias(name, PREVIOUS, current.version)
    return {"champion": target, "from": current.version if current else None, "changed": "yes"}


def tag_version(mlflow_client: Any, name: str, version: str, tags: dict[str, str]) -> None:
    for key, value in tags.items():
        mlflow_client.set_model_version_tag(name, str(version), key, str(value))


def _not_found(exc: Exception) -> bool:
    code = getattr(exc, "error_code", "")
    return code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE") or "not found" in str(exc)


def _alias_version(mlflow_client: Any, name: str, alias: str) -> str | None:
    found = by_alias(mlflow_client, name, alias)
    return found.version if found else None


def _version(model_version: Any) -> Version:
    return Version(
        model_version.name,
        str(model_version.version),
        model_version.run_id,
        dict(model_version.tags or {}),
    )
