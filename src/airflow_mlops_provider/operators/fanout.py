"""The data gate and the drift check as plan → mapped slices → reduce (`data.fanout`).

Airflow's dynamic task mapping runs the slices, on whatever executor runs the DAG; each
operator turns its context into one call of services/fanout_validation.py or
services/fanout_drift.py. The plan returns its slices (the list the slice task is expanded
over) and pushes the whole plan as XCom "plan"; the reduce pulls the plan and every slice's
result. The reduce tasks keep the single tasks' ids, return values, links and outlets, so
everything downstream reads them unchanged.

Clearing: the reduce reduces the saved slice results again; a slice runs its slice of the
planned files again, and refuses (fails at once, naming the fix) if the batch's files changed
since the plan; clearing the plan with its downstream tasks validates the batch as it is now.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from airflow_mlops_provider.links import ValidationReportLink
from airflow_mlops_provider.operators.drift import DriftBranchOperator, forced_reason
from airflow_mlops_provider.operators.run_identity import BatchTemplated
from airflow_mlops_provider.operators.validate import BatchRejected
from airflow_mlops_provider.services.config import PipelineConfig, as_block
from airflow_mlops_provider.spec import ContractSpec, DataSpec, DriftSpec, FanoutSpec, Features

if TYPE_CHECKING:
    from airflow.sdk import Context

PLAN = "plan"  # the XCom key of a plan task's whole plan


class _Step(BaseOperator):
    """What every fan-out task holds: the pipeline's settings and the plan task's id."""

    def __init__(
        self,
        *,
        pipeline: PipelineConfig | dict[str, Any],
        plan_task_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.pipeline = as_block(PipelineConfig, pipeline)
        self.plan_task_id = plan_task_id

    def plan(self, context: Context) -> dict[str, Any]:
        return context["ti"].xcom_pull(task_ids=self.plan_task_id, key=PLAN)


class _ValidationStep(_Step):
    def __init__(
        self,
        *,
        data: DataSpec | dict[str, Any],
        contract: ContractSpec | dict[str, Any],
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.data = as_block(DataSpec, data)
        self.contract = as_block(ContractSpec, contract)


class ValidationPlanOperator(BatchTemplated, _ValidationStep):
    """Cut the training batch at `source` into slices (`fanout`: slices or rows per slice);
    returns the slices, pushes the plan as XCom "plan". An unreadable batch is rejected here
    as the single task rejects it."""

    template_fields = ("source",)
    ui_color = "#d7f5dd"

    def __init__(self, *, source: str, fanout: FanoutSpec | dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.fanout = as_block(FanoutSpec, fanout)

    def execute(self, context: Context) -> list[dict[str, Any]]:
        from airflow_mlops_provider.operators.runtime import build_runtime
        from airflow_mlops_provider.services.fanout_validation import plan_batch

        with failing_clearly(context, self.plan_task_id):
            plan = plan_batch(
                build_runtime(self.pipeline, context),
                source=self.source,
                data=self.data,
                contract=self.contract,
                fanout=self.fanout,
                now=context.get("data_interval_end"),
            )
        context["ti"].xcom_push(key=PLAN, value=plan)
        self.log.info("%s: %d slices", plan["location"], len(plan["slices"]))
        return plan["slices"]


class ValidationSliceOperator(_ValidationStep):
    """Validate one slice of the plan (mapped over the plan's slices); returns its part."""

    ui_color = "#d7f5dd"

    def __init__(self, *, batch_slice: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.batch_slice = batch_slice

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_mlops_provider.operators.runtime import build_runtime
        from airflow_mlops_provider.services.fanout_validation import validate_slice

        rt = build_runtime(self.pipeline, context)
        with failing_clearly(context, self.plan_task_id):
            return validate_slice(
                rt, self.plan(context), self.batch_slice, data=self.data, contract=self.contract
            )


class ValidationReduceOperator(_ValidationStep):
    """Merge the slices' parts and settle the batch as DataValidateOperator does: the same
    report link, snapshot, return value and outlet extras; a failing batch is quarantined
    and the task fails without retries."""

    operator_extra_links = (ValidationReportLink(),)
    ui_color = "#d7f5dd"

    def __init__(self, *, slice_task_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.slice_task_id = slice_task_id

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_mlops_provider.operators.runtime import build_runtime
        from airflow_mlops_provider.services.fanout_validation import reduce_batch

        rt = build_runtime(self.pipeline, context)
        plan = self.plan(context)
        parts = slice_results(context, self.slice_task_id, len(plan["slices"]))
        with failing_clearly(context, self.plan_task_id):
            snapshot = reduce_batch(rt, plan, parts, data=self.data, contract=self.contract)
        manifest = snapshot.manifest
        for outlet in self.outlets:  # the validated-batch Asset, as the single task sets it
            context["outlet_events"][outlet].extra = {
                k: manifest[k] for k in ("snapshot_id", "rows", "train_uri", "holdout_uri")
            }
        return snapshot.to_xcom()


class _DriftStep(_Step):
    def __init__(
        self,
        *,
        drift: DriftSpec | dict[str, Any],
        features: Features | dict[str, Any],
        prediction_column: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.drift = as_block(DriftSpec, drift)
        self.features = as_block(Features, features)
        self.prediction_column = prediction_column


class DriftPlanOperator(_Step):
    """Cut the batch in `current_task_id`'s XCom (`train_uri`) into slices and pin the
    champion; no slices without a champion. Returns the slices, pushes XCom "plan"."""

    ui_color = "#fff4d6"

    def __init__(
        self, *, current_task_id: str, fanout: FanoutSpec | dict[str, Any], **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.current_task_id = current_task_id
        self.fanout = as_block(FanoutSpec, fanout)

    def execute(self, context: Context) -> list[dict[str, Any]]:
        from airflow_mlops_provider.operators.runtime import build_runtime
        from airflow_mlops_provider.services.fanout_drift import plan_drift

        upstream = context["ti"].xcom_pull(task_ids=self.current_task_id)
        plan = plan_drift(
            build_runtime(self.pipeline, context),
            current_uri=upstream.get("train_uri") or upstream["window_uri"],
            fanout=self.fanout,
        )
        context["ti"].xcom_push(key=PLAN, value=plan)
        champion = f"champion v{plan['champion']}" if plan["champion"] else "no champion yet"
        self.log.info("%s: %d slices (%s)", plan["current"], len(plan["slices"]), champion)
        return plan["slices"]


class DriftSliceOperator(_DriftStep):
    """Scan one slice on the planned champion's reference profile (mapped); returns its
    bucket counts."""

    ui_color = "#fff4d6"

    def __init__(self, *, batch_slice: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.batch_slice = batch_slice

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_mlops_provider.operators.runtime import build_runtime
        from airflow_mlops_provider.services.fanout_drift import scan_slice

        rt = build_runtime(self.pipeline, context)
        with failing_clearly(context, self.plan_task_id):
            return scan_slice(
                rt,
                self.plan(context),
                self.batch_slice,
                drift=self.drift,
                features=self.features,
                prediction_column=self.prediction_column,
            )


class DriftReduceOperator(DriftBranchOperator):
    """Merge the slices' scans and branch as DriftBranchOperator does (same XCom "drift",
    report link, audit and routes)."""

    def __init__(self, *, plan_task_id: str, slice_task_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.plan_task_id = plan_task_id
        self.slice_task_id = slice_task_id

    def choose_branch(self, context: Context) -> str | list[str]:
        from airflow_mlops_provider.operators.runtime import build_runtime
        from airflow_mlops_provider.services.drift import DriftRoutes
        from airflow_mlops_provider.services.fanout_drift import reduce_drift

        plan = context["ti"].xcom_pull(task_ids=self.plan_task_id, key=PLAN)
        scans = slice_results(context, self.slice_task_id, len(plan["slices"]))
        interval = (context.get("data_interval_start"), context.get("data_interval_end"))
        with failing_clearly(context, self.plan_task_id):
            decision = reduce_drift(
                build_runtime(self.pipeline, context),
                plan,
                scans,
                drift=self.drift,
                features=self.features,
                routes=DriftRoutes(self.drift_branch, self.stable_branch, self.no_champion_branch),
                prediction_column=self.prediction_column,
                forced_reason=forced_reason(context),
                data_interval=interval,
            )
        context["ti"].xcom_push(key="drift", value=decision.to_xcom())
        return decision.route


def slice_results(context: Context, task_id: str, count: int) -> list[Any]:
    """The return values of the mapped `task_id`, in slice order (None where one is missing)."""
    if not count:
        return []
    return context["ti"].xcom_pull(task_ids=task_id, map_indexes=range(count))


@contextmanager
def failing_clearly(context: Context, plan_task_id: str | None) -> Iterator[None]:
    """A rejected batch fails without retries (as the single task does); so does a plan that
    no longer fits the batch, naming what to clear."""
    from airflow_mlops_provider.exceptions import PathNotAllowedError
    from airflow_mlops_provider.operators.run_note import note_decision
    from airflow_mlops_provider.services.fanout_validation import StalePlan
    from airflow_mlops_provider.services.validation import DataRejected

    try:
        yield
    except DataRejected as exc:
        note_decision(context, exc.decision)
        raise BatchRejected(str(exc)) from None
    except PathNotAllowedError as exc:  # configuration, not data: a retry cannot help
        raise AirflowFailException(str(exc)) from None
    except StalePlan as exc:
        raise AirflowFailException(
            f"{exc}. Clear {plan_task_id} with its downstream tasks to plan the batch as it is "
            "now (a slice cleared alone reads only the files its plan pinned)"
        ) from None
