"""Reference profiles and drift reports in storage and MLflow.

A model version's drift profile is fitted once, right after training, on the training snapshot
(features) and on the model's predictions for the holdout (the prediction distribution). It is
stored as JSON in the training run's folder under ``storage.root``, logged to the version's
MLflow run as ``drift/drift_profile.json``, and its storage URI is the version tag
``mlops.drift_profile``. Drift checks load it instead of re-reading the training data; versions
trained before profiles existed fall back to fitting one from ``mlops.train_data``.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_mlops_provider.adapters.mlflow_registry import Version
    from airflow_mlops_provider.adapters.storage import Storage
    from airflow_mlops_provider.core.drift_profile import DriftProfile
    from airflow_mlops_provider.spec.models import PipelineSpec

PROFILE_TAG = "mlops.drift_profile"
PROFILE_FILE = "drift_profile.json"


def fit_for_model(
    storage: Storage, spec: PipelineSpec, *, train_uri: str, holdout_uri: str, model_uri: str
) -> DriftProfile:
    """Profile of the training snapshot's features and of the model's holdout predictions."""
    import mlflow

    from airflow_mlops_provider.core.drift_profile import fit_profile

    features = spec.data.features
    train = storage.read_frame(train_uri)
    holdout = storage.read_frame(holdout_uri)
    predictions = mlflow.pyfunc.load_model(model_uri).predict(holdout[features.all])
    return fit_profile(
        train,
        numeric=features.numeric,
        categorical=features.categorical,
        predictions=predictions,
        metadata={"train_data": train_uri, "holdout_data": holdout_uri, "model": model_uri},
    )


def store_profile(
    storage: Storage, mlflow_client: Any, profile: DriftProfile, *, folder: str, run_id: str
) -> str:
    """Write the profile to ``folder`` and log it to the MLflow run; returns its URI."""
    text = json.dumps(profile.to_dict(), allow_nan=False)
    uri = storage.write_text(storage.join(folder, PROFILE_FILE), text)
    log_texts(mlflow_client, run_id, {PROFILE_FILE: text}, artifact_path="drift")
    return uri


def profile_for(storage: Storage, spec: PipelineSpec, version: Version) -> tuple[Any, str]:
    """(profile, where it came from) for a model version: its stored profile, or one fitted
    now from its training data when the version has none (trained before profiles)."""
    from airflow_mlops_provider.core.drift_profile import DriftProfile, fit_profile

    uri = version.tags.get(PROFILE_TAG)
    if uri:
        try:
            return DriftProfile.from_dict(json.loads(storage.read_text(uri))), uri
        except ValueError as exc:
            raise ValueError(f"drift profile {uri} of version {version.version}: {exc}") from None
    train_uri = version.tags["mlops.train_data"]
    features = spec.data.features
    profile = fit_profile(
        storage.read_frame(train_uri),
        numeric=features.numeric,
        categorical=features.categorical,
        metadata={"train_data": train_uri},
    )
    return profile, train_uri


def save_report(
    storage: Storage,
    mlflow_client: Any,
    report: Any,
    *,
    title: str,
    folder: str,
    run_id: str,
    artifact_path: str,
    compared: dict[str, str] | None = None,
) -> dict[str, str]:
    """Write drift.json and drift.html to ``folder`` and log both to the MLflow run;
    returns {file name: URI}. ``compared`` names the data compared (both reports)."""
    from airflow_mlops_provider.core.drift_html import render_html

    document = {"compared": compared or {}, **report.to_dict()}
    texts = {
        "drift.json": json.dumps(document, indent=2, allow_nan=False),
        "drift.html": render_html(report, title=title, compared=compared),
    }
    uris = {n: storage.write_text(storage.join(folder, n), t) for n, t in texts.items()}
    log_texts(mlflow_client, run_id, texts, artifact_path=artifact_path)
    return uris


def log_texts(
    mlflow_client: Any, run_id: str, files: dict[str, str], *, artifact_path: str
) -> None:
    """Log text files as artifacts of an MLflow run (finished runs accept artifacts)."""
    with tempfile.TemporaryDirectory(prefix="mlops-drift-") as tmp:
        for name, text in files.items():
            path = Path(tmp, name)
            path.write_text(text, encoding="utf-8")
            mlflow_client.log_artifact(run_id, str(path), artifact_path=artifact_path)
