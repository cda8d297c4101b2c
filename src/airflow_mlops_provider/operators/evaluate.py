"""EvaluateOperator: challenger vs champion on the same holdout, then the gate decides."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseBranchOperator

from airflow_mlops_provider.links import GateReportLink
from airflow_mlops_provider.operators.pods import RunsStepOnPod
from airflow_mlops_provider.services.config import PipelineConfig, as_block
from airflow_mlops_provider.spec import ApprovalSpec, DataSpec, EvaluationSpec, StepPod

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_mlops_provider.services.runtime import Runtime


class EvaluateOperator(RunsStepOnPod, BaseBranchOperator):
    """Score both models on the same holdout, apply the gate and risk score, branch on it.

    The holdout is `evaluation.holdout` or the snapshot's; the baseline the champion (or the
    previous champion when this task is re-run after promotion). Metrics and the report go to
    the challenger's MLflow run, the decision is tagged on its version, the result is XCom
    "gate" and the report is the task's "Gate report" link (services/evaluation.py). With
    `pod` both models are loaded and scored in a Kubernetes pod (`compute.evaluation:
    kubernetes`, by default in the trainer's image) while the task defers; it branches the same.

    :param pipeline: the pipeline's shared settings (`PipelineConfig` or a dict of it).
    :param data: YAML block `data` (`DataSpec` or dict): task, target and features.
    :param evaluation: YAML block `evaluation` (`EvaluationSpec` or dict): metrics and their
        bounds, threshold, fairness, latency, disagreement, golden holdout.
    :param approval: YAML block `approval` (`ApprovalSpec` or dict): when a person decides.
    :param train_task_id: task whose XCom holds the trained model (version, run_id, model_uri).
    :param snapshot_task_id: task whose XCom holds the snapshot (its `holdout_uri`).
    :param promote_branch: task id to follow when the gate promotes.
    :param reject_branch: task id to follow when it rejects.
    :param approval_branch: task id to follow when a person must decide (None: the DAG has
        no approval task, and a gate asking for one fails the task).
    :param pod: where to score: a `StepPod` (or dict of it) for a Kubernetes pod, None
        (default) for this worker.
    """

    operator_extra_links = (GateReportLink(),)
    ui_color = "#e4dcfb"
    step = "evaluation"

    def __init__(
        self,
        *,
        pipeline: PipelineConfig | dict[str, Any],
        data: DataSpec | dict[str, Any],
        evaluation: EvaluationSpec | dict[str, Any],
        approval: ApprovalSpec | dict[str, Any],
        train_task_id: str,
        snapshot_task_id: str,
        promote_branch: str,
        reject_branch: str,
        approval_branch: str | None = None,
        pod: StepPod | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.pipeline = as_block(PipelineConfig, pipeline)
        self.data = as_block(DataSpec, data)
        self.evaluation = as_block(EvaluationSpec, evaluation)
        self.approval = as_block(ApprovalSpec, approval)
        self.train_task_id = train_task_id
        self.snapshot_task_id = snapshot_task_id
        self.promote_branch = promote_branch
        self.reject_branch = reject_branch
        self.approval_branch = approval_branch
        self.pod = as_block(StepPod, pod)

    def choose_branch(self, context: Context) -> str:
        from airflow_mlops_provider.operators.runtime import build_runtime

        rt = build_runtime(self.pipeline, context)
        gate = self.run_step(context, rt, self._inputs(context, rt))
        return self._route(context, gate)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        """The evaluation pod ended: branch on its gate decision, as if taken here."""
        return self.do_branch(context, self._route(context, self.step_result(context, event)))

    def _inputs(self, context: Context, rt: Runtime) -> dict[str, Any]:
        """The gate's inputs, as JSON (services/steps.py), for this worker or a pod."""
        ti = context["ti"]
        holdout_uri = (
            self.evaluation.holdout or ti.xcom_pull(task_ids=self.snapshot_task_id)["holdout_uri"]
        )
        return {
            "challenger": ti.xcom_pull(task_ids=self.train_task_id),
            "holdout_uri": self.located(rt, holdout_uri),
            "data": self.data.model_dump(mode="json"),
            "evaluation": self.evaluation.model_dump(mode="json"),
            "approval": self.approval.model_dump(mode="json"),
        }

    def _route(self, context: Context, gate: dict[str, Any]) -> str:
        """The gate's result to XCom "gate", its decision to a branch."""
        context["ti"].xcom_push(key="gate", value=gate)
        if gate["decision"] == "promote":
            return self.promote_branch
        if gate["decision"] == "approval":
            if self.approval_branch is None:  # the factory adds `approve` unless mode: never
                raise ValueError("the gate asks for approval but this DAG has no approval task")
            return self.approval_branch
        return self.reject_branch
