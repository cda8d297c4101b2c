"""`data.fanout`: the training DAG's data gate and drift check as Airflow mapped tasks.

    validate_data_plan >> validate_data_slices[i] >> validate_data
        >> detect_drift_plan >> detect_drift_slices[i] >> detect_drift

The slice tasks are expanded over their plan's return value (dynamic task mapping: as many
task instances as slices, spread by the executor); the reduce tasks keep the single tasks'
ids, so `retrain`, `evaluate`, `notify` and the run notes read them unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

from airflow.sdk import Asset, BaseOperator, TriggerRule

from airflow_mlops_provider.operators.fanout import (
    DriftPlanOperator,
    DriftReduceOperator,
    DriftSliceOperator,
    ValidationPlanOperator,
    ValidationReduceOperator,
    ValidationSliceOperator,
)
from airflow_mlops_provider.services.config import PipelineConfig
from airflow_mlops_provider.services.drift import DriftRoutes
from airflow_mlops_provider.spec import PipelineSpec

VALIDATE, DRIFT = "validate_data", "detect_drift"


@dataclass(frozen=True)
class FannedOutGate:
    """The gate's tasks: `entry` (what waits for the batch), the drift reduce (what branches
    to training) and every task (what fails the run before training)."""

    entry: BaseOperator
    drift: BaseOperator
    tasks: tuple[BaseOperator, ...]


def fanned_out_gate(
    spec: PipelineSpec,
    pipeline: PipelineConfig,
    routes: DriftRoutes,
    prediction_column: str | None,
) -> FannedOutGate:
    """Plan, mapped slices and reduce for validation, then for drift (inside a DAG context)."""
    fanout = spec.data.fanout
    assert fanout is not None
    blocks = {"pipeline": pipeline, "data": spec.data, "contract": spec.contract}
    validate_plan = ValidationPlanOperator(
        task_id=f"{VALIDATE}_plan", source=spec.data.source, fanout=fanout, **blocks
    )
    validate_slices = ValidationSliceOperator.partial(
        task_id=f"{VALIDATE}_slices", plan_task_id=validate_plan.task_id, **blocks
    ).expand(batch_slice=validate_plan.output)
    validate = ValidationReduceOperator(
        task_id=VALIDATE,
        plan_task_id=validate_plan.task_id,
        slice_task_id=f"{VALIDATE}_slices",
        outlets=[Asset(spec.validated_asset_uri)],
        **blocks,
    )
    judging = {
        "pipeline": pipeline,
        "drift": spec.drift,
        "features": spec.data.features,
        "prediction_column": prediction_column,
    }
    drift_plan = DriftPlanOperator(
        task_id=f"{DRIFT}_plan", pipeline=pipeline, current_task_id=VALIDATE, fanout=fanout
    )
    drift_slices = DriftSliceOperator.partial(
        task_id=f"{DRIFT}_slices", plan_task_id=drift_plan.task_id, **judging
    ).expand(batch_slice=drift_plan.output)
    drift = DriftReduceOperator(
        task_id=DRIFT,
        plan_task_id=drift_plan.task_id,
        slice_task_id=f"{DRIFT}_slices",
        current_task_id=VALIDATE,
        drift_branch=routes.drift,
        stable_branch=routes.stable,
        no_champion_branch=routes.no_champion,
        # no champion: the plan has no slices, Airflow skips the empty mapped task
        trigger_rule=TriggerRule.NONE_FAILED,
        **judging,
    )
    validate_slices >> validate >> drift_plan
    drift_slices >> drift
    tasks = (validate_plan, validate_slices, validate, drift_plan, drift_slices, drift)
    return FannedOutGate(validate_plan, drift, tasks)  # type: ignore[arg-type]
