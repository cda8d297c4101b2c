"""OpenLineage facets for the data snapshot → model version edge (optional extra).

Used only when apache-airflow-providers-openlineage is installed: its listener calls the
operator's `get_openlineage_facets_on_complete`, which builds the datasets here. The snapshot
datasets carry the snapshot id as their version, the model version is the output dataset.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit


def training_lineage(result: dict[str, Any], *, model_name: str, tracking_uri: str) -> Any:
    """OperatorLineage(inputs=[train, holdout snapshot], outputs=[registered model version])."""
    from airflow.providers.openlineage.extractors import OperatorLineage
    from openlineage.client.event_v2 import InputDataset, OutputDataset
    from openlineage.client.facet_v2 import dataset_version_dataset

    def version(value: str) -> dict[str, Any]:
        return {"version": dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion=value)}

    inputs = [
        InputDataset(*_namespace_and_name(result[key]), facets=version(result["snapshot_id"]))
        for key in ("train_uri", "holdout_uri")
    ]
    output = OutputDataset(
        _mlflow_namespace(tracking_uri),
        f"models/{model_name}",
        facets=version(str(result["version"])),
    )
    return OperatorLineage(inputs=inputs, outputs=[output])


def _namespace_and_name(uri: str) -> tuple[str, str]:
    """OpenLineage naming: s3://bucket + key, or file + absolute path."""
    if uri.startswith("s3://"):
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        return f"s3://{bucket}", key
    return "file", uri.removeprefix("file://")


def _mlflow_namespace(tracking_uri: str) -> str:
    parts = urlsplit(tracking_uri)
    if parts.scheme in ("http", "https"):
        return f"mlflow://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return f"mlflow://{parts.scheme or 'local'}"
