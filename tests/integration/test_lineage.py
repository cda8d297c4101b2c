"""OpenLineage facets for the snapshot → model version edge, built by the operator's own hook
(`get_openlineage_facets_on_complete`) with the OpenLineage provider installed."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_mlops_provider.operators.retrain import RetrainOperator
from airflow_mlops_provider.services.config import PipelineConfig
from airflow_mlops_provider.spec import load_spec

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def operator(example: str) -> RetrainOperator:
    spec = load_spec(ROOT / "dags" / example)
    return RetrainOperator(
        task_id="retrain",
        pipeline=PipelineConfig.from_spec(spec, str(ROOT)),
        training=spec.training,
        data=spec.data,
        snapshot_task_id="validate_data",
    )


def test_snapshot_to_model_version_edge() -> None:
    retrain = operator("fraud_gpu.yaml")
    retrain._lineage = (  # what execute() leaves: its result and snapshot, the tracking URI
        {
            "snapshot_id": "ab12",
            "version": "7",
            "train_uri": "s3://ml-platform/mlops/snap/ab12/train.parquet",
            "holdout_uri": "s3://ml-platform/mlops/snap/ab12/holdout.parquet",
        },
        "https://mlflow.example.com",
    )
    lineage = retrain.get_openlineage_facets_on_complete(task_instance=None)
    assert [(d.namespace, d.name) for d in lineage.inputs] == [
        ("s3://ml-platform", "mlops/snap/ab12/train.parquet"),
        ("s3://ml-platform", "mlops/snap/ab12/holdout.parquet"),
    ]
    assert {d.facets["version"].datasetVersion for d in lineage.inputs} == {"ab12"}
    (model,) = lineage.outputs
    assert (model.namespace, model.name) == ("mlflow://mlflow.example.com", "models/fraud_gpu")
    assert model.facets["version"].datasetVersion == "7"


def test_nothing_before_execute() -> None:
    assert operator("churn.yaml").get_openlineage_facets_on_complete(task_instance=None) is None
