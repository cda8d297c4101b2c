"""The trainer contract (DESIGN.md §4): the environment every trainer gets, local or pod."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow_mlops_provider.spec import PipelineSpec


def trainer_env(
    spec: PipelineSpec,
    *,
    tracking_uri: str,
    run_id: str,
    train_uri: str,
    holdout_uri: str,
    lineage: dict[str, str],
) -> dict[str, str]:
    data = spec.data
    return {
        **spec.training.env,
        "MLFLOW_TRACKING_URI": tracking_uri,
        "MLFLOW_RUN_ID": run_id,
        "MLOPS_TRAIN_DATA": train_uri,
        "MLOPS_HOLDOUT_DATA": holdout_uri,
        "MLOPS_PARAMS": json.dumps(spec.training.params, sort_keys=True),
        "MLOPS_DATA_SPEC": json.dumps(
            {
                "target": data.target,
                "task": data.task,
                "numeric": data.features.numeric,
                "categorical": data.features.categorical,
            }
        ),
        "MLOPS_LINEAGE": json.dumps(lineage, sort_keys=True),
    }
