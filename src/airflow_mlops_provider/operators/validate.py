"""DataValidateOperator: the data gate before any training or monitoring step reads data."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from airflow_mlops_provider.exceptions import DataValidationError
from airflow_mlops_provider.links import ValidationReportLink
from airflow_mlops_provider.operators.pods import RunsStepOnPod
from airflow_mlops_provider.operators.run_identity import BatchTemplated
from airflow_mlops_provider.services.config import PipelineConfig, as_block
from airflow_mlops_provider.spec import ContractSpec, DataSpec, MonitoringSpec, StepPod

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_mlops_provider.services.runtime import Runtime


class BatchRejected(DataValidationError, AirflowFailException):
    """Bad data does not get better on retry: fail the task at once, skipping its retries;
    clearing the task after a fix validates the batch again."""


class DataValidateOperator(RunsStepOnPod, BatchTemplated, BaseOperator):
    """Check a batch against the contract with Great Expectations; fail closed.

    `purpose="training"` validates `source` and writes the immutable snapshot (train/holdout
    split); returns its manifest and sets it as the `extra` of every outlet Asset.
    `purpose="serving"` validates the monitoring window pushed by `window_task_id` (no target
    column needed) and returns its location and row count. A failing or unreadable batch is
    quarantined and the task fails without retries (`BatchRejected`); the HTML report is the
    task's "Validation report" link either way. With `pod` the check runs in a Kubernetes pod
    (`compute.validation: kubernetes`) while the task defers, with the same outcome.

    :param pipeline: the pipeline's shared settings (`PipelineConfig` or a dict of it).
    :param data: YAML block `data` (`DataSpec` or dict): format, target and the split.
    :param contract: YAML block `contract` (`ContractSpec` or dict): the checks.
    :param source: training batch: path, file:// or s3:// URI, file or folder (templated from
        the run's batch: operators/run_identity.py).
    :param purpose: "training" or "serving".
    :param window_task_id: serving: task whose XCom holds `window_uri` (collect_window).
    :param monitoring: serving: YAML block `monitoring` (its log and prediction columns).
    :param pod: where to run the check: a `StepPod` (or dict of it) for a Kubernetes pod,
        None (default) for this worker.
    """

    template_fields = ("source",)
    operator_extra_links = (ValidationReportLink(),)
    ui_color = "#d7f5dd"
    step = "validation"

    def __init__(
        self,
        *,
        pipeline: PipelineConfig | dict[str, Any],
        data: DataSpec | dict[str, Any],
        contract: ContractSpec | dict[str, Any],
        source: str | None = None,
        purpose: str = "training",
        window_task_id: str | None = None,
        monitoring: MonitoringSpec | dict[str, Any] | None = None,
        pod: StepPod | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if purpose not in ("training", "serving"):
            raise ValueError(f"purpose must be 'training' or 'serving', not {purpose!r}")
        if purpose == "serving" and (window_task_id is None or monitoring is None):
            raise ValueError("purpose='serving' needs window_task_id and monitoring")
        if purpose == "training" and source is None:
            raise ValueError("purpose='training' needs source")
        self.pipeline = as_block(PipelineConfig, pipeline)
        self.data = as_block(DataSpec, data)
        self.contract = as_block(ContractSpec, contract)
        self.source = source
        self.purpose = purpose
        self.window_task_id = window_task_id
        self.monitoring = as_block(MonitoringSpec, monitoring)
        self.pod = as_block(StepPod, pod)

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_mlops_provider.operators.runtime import build_runtime

        rt = build_runtime(self.pipeline, context)
        return self._decide(context, lambda: self.run_step(context, rt, self._inputs(context, rt)))

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        """The validation pod ended: its outcome, as if the check had run here."""
        return self._decide(context, lambda: self.step_result(context, event))

    def _inputs(self, context: Context, rt: Runtime) -> dict[str, Any]:
        """The check's inputs, as JSON (services/steps.py), for this worker or a pod."""
        from airflow_mlops_provider.services.steps import when_text

        inputs = {
            "purpose": self.purpose,
            "data": self.data.model_dump(mode="json"),
            "contract": self.contract.model_dump(mode="json"),
            "now": when_text(context.get("data_interval_end")),
        }
        if self.purpose == "training":
            return {**inputs, "source": self.located(rt, str(self.source))}
        window = context["ti"].xcom_pull(task_ids=self.window_task_id)
        monitoring = self.monitoring.model_dump(mode="json")  # type: ignore[union-attr]
        return {**inputs, "window_uri": window["window_uri"], "monitoring": monitoring}

    def _decide(self, context: Context, check: Any) -> dict[str, Any]:
        """Run the check; a rejected batch fails the task without retries, a passed training
        batch's snapshot is announced on the outlet Assets."""
        from airflow_mlops_provider.exceptions import PathNotAllowedError
        from airflow_mlops_provider.operators.run_note import note_decision
        from airflow_mlops_provider.services.validation import DataRejected

        try:
            result = check()
        except DataRejected as exc:
            note_decision(context, exc.decision)
            raise BatchRejected(str(exc)) from None
        except PathNotAllowedError as exc:  # configuration, not data: a retry cannot help
            raise AirflowFailException(str(exc)) from None
        if self.purpose == "training":
            for outlet in self.outlets:  # the validated-batch Asset, for data-aware consumers
                context["outlet_events"][outlet].extra = {
                    k: result[k] for k in ("snapshot_id", "rows", "train_uri", "holdout_uri")
                }
        return result
