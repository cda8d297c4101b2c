"""Drift references of model versions: fitted at training, stored, loaded for every check.

A version's reference profile is fitted once, right after registration, on the training
snapshot (features) and on the model's predictions for the holdout (the prediction
distribution). It is stored as JSON in the training task's folder, logged to the version's
MLflow run as `drift/drift_profile.json`, and its storage URI is the version tag
`mlops.drift_profile`. Drift checks load it instead of re-reading the training data; versions
trained before profiles existed get one fitted from their `mlops.train_data`. The statistics
themselves are core/drift_profile.py.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow_mlops_provider.adapters.mlflow_registry import Version
    from airflow_mlops_provider.core.drift import DriftReport
    from airflow_mlops_provider.core.drift_profile import DriftProfile
    from airflow_mlops_provider.services.runtime import Runtime
    from airflow_mlops_provider.spec import Features

log = logging.getLogger(__name__)
PROFILE_TAG = "mlops.drift_profile"
PROFILE_FILE = "drift_profile.json"


def ensure_reference(
    rt: Runtime, features: Features, version: Version, *, train_uri: str, holdout_uri: str
) -> str:
    """The version's reference profile URI, fitted and stored on first call: a re-run that
    only registers finds it on the version's tag."""
    existing = version.tags.get(PROFILE_TAG)
    if existing:
        return existing
    from airflow_mlops_provider.core.drift_profile import fit_profile

    train = rt.storage.read_frame(train_uri)
    holdout = rt.storage.read_frame(holdout_uri)
    predictions = rt.registry.load_model(version.uri).predict(holdout[features.all])
    profile = fit_profile(
        train,
        numeric=features.numeric,
        categorical=features.categorical,
        predictions=predictions,
        metadata={"train_data": train_uri, "holdout_data": holdout_uri, "model": version.uri},
    )
    text = json.dumps(profile.to_dict(), allow_nan=False)
    uri = rt.storage.write_text(rt.task_folder(version.run_id, PROFILE_FILE), text)
    rt.registry.log_texts(version.run_id, {PROFILE_FILE: text}, artifact_path="drift")
    rt.registry.tag_version(version.version, {PROFILE_TAG: uri})
    log.info("Drift profile: %s", uri)
    return uri


def reference_of(rt: Runtime, features: Features, version: Version) -> tuple[DriftProfile, str]:
    """(profile, where it came from) for a model version: its stored profile, or one fitted
    now from its training data when the version has none (trained before profiles)."""
    from airflow_mlops_provider.core.drift_profile import DriftProfile, fit_profile

    uri = version.tags.get(PROFILE_TAG)
    if uri:
        try:
            return DriftProfile.from_dict(json.loads(rt.storage.read_text(uri))), uri
        except ValueError as exc:
            raise ValueError(f"drift profile {uri} of version {version.version}: {exc}") from None
    train_uri = version.tags["mlops.train_data"]
    profile = fit_profile(
        rt.storage.read_frame(train_uri),
        numeric=features.numeric,
        categorical=features.categorical,
        metadata={"train_data": train_uri},
    )
    return profile, train_uri


def save_report(
    rt: Runtime,
    report: DriftReport,
    *,
    title: str,
    run_id: str,
    artifact_path: str,
    compared: dict[str, str] | None = None,
) -> dict[str, str]:
    """drift.json and drift.html in this task's folder and on the MLflow run; returns
    {file name: URI}. `compared` names the data compared (label → text, both reports)."""
    from airflow_mlops_provider.core.drift_html import render_html

    document = {"compared": compared or {}, **report.to_dict()}
    texts = {
        "drift.json": json.dumps(document, indent=2, allow_nan=False),
        "drift.html": render_html(report, title=title, compared=compared),
    }
    uris = {name: rt.storage.write_text(rt.task_folder(name), text) for name, text in texts.items()}
    rt.registry.log_texts(run_id, texts, artifact_path=artifact_path)
    return uris
