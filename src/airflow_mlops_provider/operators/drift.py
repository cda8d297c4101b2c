"""DriftBranchOperator: compare a batch with the champion's drift profile and branch."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseBranchOperator

from airflow_mlops_provider.links import DriftReportLink
from airflow_mlops_provider.operators.pods import RunsStepOnPod
from airflow_mlops_provider.services.config import PipelineConfig, as_block
from airflow_mlops_provider.spec import DriftSpec, Features, StepPod

if TYPE_CHECKING:
    from airflow.sdk import Context


class DriftBranchOperator(RunsStepOnPod, BaseBranchOperator):
    """Branch to `drift_branch` when the batch drifted from the champion's reference profile.

    The batch is the `train_uri` (a snapshot) or `window_uri` (a monitoring window) in
    `current_task_id`'s XCom; the reference is the champion's drift profile (tag
    `mlops.drift_profile`, fitted at training). Without a champion the task takes
    `no_champion_branch`. A `force_retrain` param or a triggering retrain-request Asset event
    takes `drift_branch` with that reason. The summary is XCom "drift"; the HTML report is
    the task's "Drift report" link (services/drift.py). With `pod` the comparison runs in a
    Kubernetes pod (`compute.drift: kubernetes`) while the task defers; it branches the same.

    :param pipeline: the pipeline's shared settings (`PipelineConfig` or a dict of it).
    :param drift: YAML block `drift` (`DriftSpec` or dict): tests, alpha, correction,
        drift_share, per-feature overrides.
    :param features: YAML `data.features` (`Features` or dict): numeric and categorical.
    :param current_task_id: task whose XCom holds the batch (`train_uri` or `window_uri`).
    :param drift_branch: task id(s) to follow when the batch drifted (or was forced).
    :param stable_branch: task id(s) to follow when it did not.
    :param no_champion_branch: task id(s) to follow when there is no champion yet.
    :param prediction_column: column of the batch with the champion's predictions, tested
        against the reference's prediction distribution (monitoring); None: "prediction".
    :param pod: where to compare: a `StepPod` (or dict of it) for a Kubernetes pod, None
        (default) for this worker.
    """

    operator_extra_links = (DriftReportLink(),)
    ui_color = "#fff4d6"
    step = "drift"

    def __init__(
        self,
        *,
        pipeline: PipelineConfig | dict[str, Any],
        drift: DriftSpec | dict[str, Any],
        features: Features | dict[str, Any],
        current_task_id: str,
        drift_branch: str | list[str],
        stable_branch: str | list[str],
        no_champion_branch: str | list[str],
        prediction_column: str | None = None,
        pod: StepPod | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.pipeline = as_block(PipelineConfig, pipeline)
        self.drift = as_block(DriftSpec, drift)
        self.features = as_block(Features, features)
        self.current_task_id = current_task_id
        self.drift_branch = drift_branch
        self.stable_branch = stable_branch
        self.no_champion_branch = no_champion_branch
        self.prediction_column = prediction_column
        self.pod = as_block(StepPod, pod)

    def choose_branch(self, context: Context) -> str | list[str]:
        from airflow_mlops_provider.operators.runtime import build_runtime

        decision = self.run_step(
            context, build_runtime(self.pipeline, context), self._inputs(context)
        )
        return _route(context, decision)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        """The drift pod ended: branch on its decision, as if it had been taken here."""
        return self.do_branch(context, _route(context, self.step_result(context, event)))

    def _inputs(self, context: Context) -> dict[str, Any]:
        """The comparison's inputs, as JSON (services/steps.py), for this worker or a pod."""
        from airflow_mlops_provider.services.steps import when_text

        upstream = context["ti"].xcom_pull(task_ids=self.current_task_id)
        interval = (context.get("data_interval_start"), context.get("data_interval_end"))
        return {
            "current_uri": upstream.get("train_uri") or upstream["window_uri"],
            "drift": self.drift.model_dump(mode="json"),
            "features": self.features.model_dump(mode="json"),
            "routes": {
                "drift": self.drift_branch,
                "stable": self.stable_branch,
                "no_champion": self.no_champion_branch,
            },
            "prediction_column": self.prediction_column,
            "forced_reason": forced_reason(context),
            "data_interval": [when_text(when) for when in interval],
        }


def _route(context: Context, decision: dict[str, Any]) -> str | list[str]:
    """The decision's summary to XCom "drift", its route to the branch."""
    context["ti"].xcom_push(key="drift", value=decision)
    return decision["branch"]


def forced_reason(context: Context) -> str | None:
    """Why to retrain even without drift: the `force_retrain` param, or the retrain-request
    Asset event that triggered this run (its `reason` extra)."""
    if context["params"].get("force_retrain"):
        return "force_retrain param set"
    events = context.get("triggering_asset_events") or {}
    for asset_events in events.values():
        for event in asset_events:
            reason = (event.extra or {}).get("reason", "retrain requested")
            return f"retrain-request from monitoring: {reason}"
    return None
