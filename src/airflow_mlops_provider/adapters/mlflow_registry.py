"""MLflow tracking and registry, as the pipeline needs them — the one place MLflow is called.

Runs are keyed by task, versions by run id, and releases use aliases (`champion`,
`challenger`, `previous_champion`) — never stages. Every method is idempotent, because Airflow
retries and clears re-run them: a second call finds what the first did instead of doing it
again. Every call runs under the tracking server's credentials (adapters/mlflow_auth.py), and
mlflow is imported inside functions only.
"""

from __future__ import annotations

import base64
import logging
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_mlops_provider.adapters.mlflow_auth import authorization

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from airflow_mlops_provider.core.attempts import Attempt

CHAMPION, CHALLENGER, PREVIOUS = "champion", "challenger", "previous_champion"
TASK_KEY_TAG = "mlops.task_key"


@dataclass(frozen=True)
class Tracking:
    """Where MLflow is and how to log in: the tracking URI (never carrying credentials),
    HTTP basic credentials or a bearer token, and the artifact root of a local store."""

    uri: str
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    artifact_location: str | None = None

    def authorization(self) -> str | None:
        """The `Authorization` header value, or None without credentials."""
        if self.username:
            pair = f"{self.username}:{self.password or ''}".encode()
            return "Basic " + base64.standard_b64encode(pair).decode()
        return f"Bearer {self.token}" if self.token else None

    def client_env(self) -> dict[str, str]:
        """The tracking URI and credentials as MLflow's variables, for a trainer subprocess
        (its own environment only; a pod gets credentials from `secret_env`, never these)."""
        env = {"MLFLOW_TRACKING_URI": self.uri}
        if self.username:
            env["MLFLOW_TRACKING_USERNAME"] = self.username
            env["MLFLOW_TRACKING_PASSWORD"] = self.password or ""
        elif self.token:
            env["MLFLOW_TRACKING_TOKEN"] = self.token
        return env


@dataclass(frozen=True)
class Version:
    """The registry facts a step needs about one model version."""

    name: str
    version: str
    run_id: str
    tags: dict[str, str]
    created_ms: int = 0

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


def client(tracking_uri: str) -> Any:
    """An MlflowClient for the URI; also the process's default tracking and registry URI,
    which `mlflow.register_model` and `mlflow.pyfunc.load_model` use."""
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


class Registry:
    """One registered model and its runs on one tracking server.

    `tracking` may be a callable, resolved on first use: building a Registry costs nothing,
    so steps that never reach MLflow never look up its connection."""

    def __init__(self, model_name: str, tracking: Tracking | Callable[[], Tracking]) -> None:
        self.model_name = model_name
        self._tracking = tracking

    @cached_property
    def tracking(self) -> Tracking:
        return self._tracking if isinstance(self._tracking, Tracking) else self._tracking()

    @cached_property
    def client(self) -> Any:
        return client(self.tracking.uri)

    @contextmanager
    def _auth(self) -> Iterator[Any]:
        """The client, with this server's credentials on every request made in the block and
        its URI as the process default (`register_model` and `load_model` read that)."""
        import mlflow

        mlflow_client = self.client
        mlflow.set_tracking_uri(self.tracking.uri)
        mlflow.set_registry_uri(self.tracking.uri)
        with authorization(self.tracking.authorization()):
            yield mlflow_client

    # -- runs -----------------------------------------------------------------------------------
    def ensure_experiment(self, name: str) -> str:
        with self._auth() as mlflow_client:
            found = mlflow_client.get_experiment_by_name(name)
            if found is not None:
                return found.experiment_id
            try:
                location = self.tracking.artifact_location
                return mlflow_client.create_experiment(name, artifact_location=location)
            except Exception:  # created concurrently by another task: read it back
                found = mlflow_client.get_experiment_by_name(name)
                if found is None:
                    raise
                return found.experiment_id

    def run_for_attempt(
        self,
        experiment_id: str,
        *,
        task_key: str,
        run_name: str,
        tags: dict[str, str],
        attempt: Attempt | None = None,
    ) -> tuple[str, str]:
        """(run_id, action) for this attempt of a task; creates the run when action is "new"
        (the rule is core/attempts.py). The run remembers which attempt last worked on it, so
        the next one can tell a retry from a clear."""
        from airflow_mlops_provider.core.attempts import NEW, next_action

        mine = attempt.tags if attempt else {}
        last = self._latest_run_for_task(experiment_id, task_key)
        if last is not None:
            run_id = last.info.run_id
            registered = self.version_for_run(run_id) is not None
            action = next_action(
                last.info.status,
                has_model=not registered and self.has_model(run_id),
                registered=registered,
                retry=attempt is not None and attempt.retries(last.data.tags),
            )
            if action != NEW:
                self.set_run_tags(run_id, mine)
                return run_id, action
        return self.create_run(experiment_id, task_key, run_name, {**tags, **mine}), NEW

    def create_run(
        self, experiment_id: str, task_key: str, run_name: str, tags: dict[str, str]
    ) -> str:
        with self._auth() as mlflow_client:
            run = mlflow_client.create_run(
                experiment_id, run_name=run_name, tags={**tags, TASK_KEY_TAG: task_key}
            )
        return run.info.run_id

    def _latest_run_for_task(self, experiment_id: str, task_key: str) -> Any | None:
        with self._auth() as mlflow_client:
            runs = mlflow_client.search_runs(
                [experiment_id],
                filter_string=f"tags.`{TASK_KEY_TAG}` = '{task_key}'",
                order_by=["attributes.start_time DESC"],
                max_results=1,
            )
        return runs[0] if runs else None

    def get_run(self, run_id: str) -> Any:
        with self._auth() as mlflow_client:
            return mlflow_client.get_run(run_id)

    def has_model(self, run_id: str) -> bool:
        """True when the run logged a model at artifact path `model` (MLflow 3 logged models)."""
        import mlflow

        with self._auth():
            try:
                mlflow.models.get_model_info(f"runs:/{run_id}/model")
            except Exception:
                return False
        return True

    def set_run_tags(self, run_id: str, tags: dict[str, Any]) -> None:
        with self._auth() as mlflow_client:
            for key, value in tags.items():
                mlflow_client.set_tag(run_id, key, str(value))

    def log_metrics(self, run_id: str, metrics: dict[str, float]) -> None:
        with self._auth() as mlflow_client:
            for name, value in metrics.items():
                mlflow_client.log_metric(run_id, name, value)

    def log_texts(self, run_id: str, files: dict[str, str], *, artifact_path: str) -> None:
        """Text files as artifacts of a run (finished runs accept artifacts too)."""
        with self._auth() as mlflow_client, tempfile.TemporaryDirectory(prefix="mlops-") as tmp:
            for name, text in files.items():
                path = Path(tmp, name)
                path.write_text(text, encoding="utf-8")
                mlflow_client.log_artifact(run_id, str(path), artifact_path=artifact_path)

    # -- versions and aliases -------------------------------------------------------------------
    def version_for_run(self, run_id: str) -> Version | None:
        with self._auth() as mlflow_client:
            try:
                found = mlflow_client.search_model_versions(
                    f"name='{self.model_name}' and run_id='{run_id}'"
                )
            except Exception as exc:
                if _not_found(exc):  # the registered model does not exist yet
                    return None
                raise
        return _version(min(found, key=lambda v: int(v.version))) if found else None

    def register(self, run_id: str, tags: dict[str, str]) -> Version:
        """Register the run's model once: a second call returns the version the first made.

        Two live tries of one task (a worker the scheduler gave up on keeps running beside
        the retry) can both find no version and both register. The registry numbers versions
        in creation order and each caller looks again after creating its own, so they settle
        on the run's lowest version; the caller whose version is not it deletes its own."""
        import mlflow

        existing = self.version_for_run(run_id)
        if existing is not None:
            return existing
        with self._auth(), _without_mlflow_prints():
            made = mlflow.register_model(f"runs:/{run_id}/model", self.model_name, tags=tags)
        first = self.version_for_run(run_id)
        if first is not None and first.version != str(made.version):
            with self._auth() as mlflow_client:
                mlflow_client.delete_model_version(self.model_name, str(made.version))
            log.warning(
                "MLflow run %s was registered by another try of this task as %s version %s at "
                "the same time: deleted the duplicate version %s, using version %s",
                run_id, self.model_name, first.version, made.version, first.version,
            )  # fmt: skip
            return first
        log.info("Registered %s version %s (MLflow run %s)", self.model_name, made.version, run_id)
        return self.get_version(made.version)

    def get_version(self, version: str) -> Version:
        with self._auth() as mlflow_client:
            return _version(mlflow_client.get_model_version(self.model_name, str(version)))

    def versions(self) -> list[Version]:
        """Every version of the model; none when it is not registered yet."""
        with self._auth() as mlflow_client:
            try:
                found = mlflow_client.search_model_versions(f"name='{self.model_name}'")
            except Exception as exc:
                if _not_found(exc):
                    return []
                raise
        return [_version(v) for v in found]

    def aliases(self) -> dict[str, str]:
        """{alias: version} of the registered model."""
        with self._auth() as mlflow_client:
            model = mlflow_client.get_registered_model(self.model_name)
        return {alias: str(version) for alias, version in model.aliases.items()}

    def by_alias(self, alias: str) -> Version | None:
        with self._auth() as mlflow_client:
            try:
                return _version(mlflow_client.get_model_version_by_alias(self.model_name, alias))
            except Exception as exc:
                if _not_found(exc):  # no such model, or the alias is not set
                    return None
                raise

    def set_alias(self, alias: str, version: str) -> None:
        with self._auth() as mlflow_client:
            mlflow_client.set_registered_model_alias(self.model_name, alias, str(version))

    def tag_version(self, version: str, tags: dict[str, Any]) -> None:
        with self._auth() as mlflow_client:
            for key, value in tags.items():
                mlflow_client.set_model_version_tag(self.model_name, str(version), key, str(value))

    def promote(self, version: str, *, replacing: str | None) -> dict[str, str | None]:
        """Move `champion` to version and remember the one it replaces as `previous_champion`;
        `challenger` is dropped from the version once it is the champion.

        `replacing` is the champion the release was judged against: the alias is read at the
        moment of the move and, when it points at another version, nothing moves
        (RegistryError). Idempotent: promoting the current champion again changes nothing."""
        current = self._alias_version(CHAMPION)
        if current == str(version):
            self.drop_challenger(version)
            return {
                "champion": str(version),
                "previous_champion": self._alias_version(PREVIOUS),
                "changed": None,
            }
        if current != (str(replacing) if replacing is not None else None):
            from airflow_mlops_provider.exceptions import RegistryError

            raise RegistryError(
                f"model {self.model_name!r}: version {version} was judged against champion "
                f"{replacing or '(none)'}, but the champion is now {current or '(none)'}; "
                "nothing moved — gate it again against the current champion"
            )
        if current is not None:
            self.set_alias(PREVIOUS, current)
        self.set_alias(CHAMPION, str(version))
        self.drop_challenger(version)
        return {"champion": str(version), "previous_champion": current, "changed": "yes"}

    def drop_challenger(self, version: str) -> None:
        """Remove the `challenger` alias when it names `version` (promoted or rejected);
        a challenger of another run stays."""
        if self._alias_version(CHALLENGER) != str(version):
            return
        with self._auth() as mlflow_client:
            mlflow_client.delete_registered_model_alias(self.model_name, CHALLENGER)

    def versions_of_run(self, dag_id: str, run_id: str) -> list[Version]:
        """The versions one DAG run registered (its lineage tags), oldest first."""
        found = [
            v
            for v in self.versions()
            if v.tags.get("mlops.dag_id") == dag_id and v.tags.get("mlops.run_id") == run_id
        ]
        return sorted(found, key=lambda v: int(v.version))

    def rollback(self, to_version: str | None) -> dict[str, str | None]:
        """Point `champion` at to_version (default: `previous_champion`); idempotent."""
        current = self.by_alias(CHAMPION)
        target = str(to_version) if to_version else self._alias_version(PREVIOUS)
        if target is None:
            from airflow_mlops_provider.exceptions import RegistryError

            raise RegistryError(
                f"model {self.model_name!r} has no previous_champion to roll back to; pass a "
                "version explicitly"
            )
        self.get_version(target)  # fails clearly if the version does not exist
        if current is not None and current.version == target:
            return {"champion": target, "from": None, "changed": None}
        self.set_alias(CHAMPION, target)
        if current is not None:
            self.set_alias(PREVIOUS, current.version)
        return {"champion": target, "from": current.version if current else None, "changed": "yes"}

    def storage_uri(self, version: str) -> str:
        """Where a serving system fetches the version's model from (an s3://... in production)."""
        with self._auth() as mlflow_client:
            found = mlflow_client.get_model_version(self.model_name, str(version))
        return getattr(found, "storage_location", None) or found.source

    # -- models ---------------------------------------------------------------------------------
    def load_model(self, uri: str) -> Any:
        """The MLflow pyfunc at `uri` (models:/name/version, runs:/...)."""
        import mlflow

        with self._auth():
            return mlflow.pyfunc.load_model(uri)

    def _alias_version(self, alias: str) -> str | None:
        found = self.by_alias(alias)
        return found.version if found else None


def _not_found(exc: Exception) -> bool:
    code = getattr(exc, "error_code", "")
    return code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE") or "not found" in str(exc)


def _version(model_version: Any) -> Version:
    return Version(
        model_version.name,
        str(model_version.version),
        model_version.run_id,
        dict(model_version.tags or {}),
        int(model_version.creation_timestamp or 0),
    )


@contextmanager
def _without_mlflow_prints() -> Iterator[None]:
    """MLflow prints its registration chatter ("Created version '3'", "Waiting up to 300
    seconds") to stderr, which a task supervisor records at ERROR; the adapter logs its own
    INFO line instead. MLflow's own switch for those prints, restored afterwards."""
    from mlflow.utils.logging_utils import MLFLOW_LOGGING_STREAM

    was = MLFLOW_LOGGING_STREAM.enabled
    MLFLOW_LOGGING_STREAM.enabled = False
    try:
        yield
    finally:
        MLFLOW_LOGGING_STREAM.enabled = was
