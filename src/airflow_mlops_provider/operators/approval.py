"""GateApprovalOperator: a person approves or rejects a challenger the gate could not decide.

Airflow's HITL `ApprovalOperator` does the waiting: on Airflow 3.3 the task parks in the
`awaiting_input` state (no worker slot, no triggerer) until someone answers on the task's
"Required actions" page or over the REST API (`PATCH .../hitlDetails`), or the timeout passes
and the scheduler applies the default answer (`approval.on_timeout`). This subclass adds what
a release needs around it (services/approval.py): the gate report in the request body, a Slack
notice linking to the approval page, and — when the answer arrives — who answered, in the
audit log and on the model version (`mlops.approved_by` / `mlops.rejected_by`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.standard.operators.hitl import ApprovalOperator

from airflow_mlops_provider.services.config import PipelineConfig, as_block
from airflow_mlops_provider.spec import ApprovalSpec

if TYPE_CHECKING:
    from airflow.sdk import Context

FALLBACK_UI = "http://localhost:8080"  # only when [api] base_url is not configured


class GateApprovalOperator(ApprovalOperator):
    """Ask a person to approve the gate's challenger; record who decided, and what.

    :param pipeline: the pipeline's shared settings (`PipelineConfig` or a dict of it).
    :param approval: YAML block `approval` (`ApprovalSpec` or dict): `timeout_hours` (the
        request's timeout) and `on_timeout` (promote / reject: the default answer).
    :param gate_task_id: task whose XCom "gate" holds the gate's result (evaluate).
    """

    ui_color = "#fff3cd"

    def __init__(
        self,
        *,
        pipeline: PipelineConfig | dict[str, Any],
        approval: ApprovalSpec | dict[str, Any],
        gate_task_id: str,
        **kwargs: Any,
    ) -> None:
        pipeline = as_block(PipelineConfig, pipeline)
        approval = as_block(ApprovalSpec, approval)
        promote = approval.on_timeout == "promote"
        super().__init__(
            subject=f"Promote a new {pipeline.pipeline} model?",
            defaults=ApprovalOperator.APPROVE if promote else ApprovalOperator.REJECT,
            response_timeout=timedelta(hours=approval.timeout_hours),
            **kwargs,
        )
        self.pipeline = pipeline
        self.approval = approval
        self.gate_task_id = gate_task_id

    def execute(self, context: Context) -> Any:
        from airflow_mlops_provider.links import report_url
        from airflow_mlops_provider.operators.runtime import build_runtime
        from airflow_mlops_provider.services.approval import request_approval

        gate = self._gate(context)
        report = gate.get("report")
        request = request_approval(
            build_runtime(self.pipeline, context),
            gate=gate,
            approval=self.approval,
            url=self._approval_url(context),
            report_link=report_url(self.pipeline.pipeline, report) if report else None,
        )
        self.subject, self.body = request.subject, request.body
        return super().execute(context)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        """Record the answer (or the timeout default) before Airflow acts on it."""
        from airflow_mlops_provider.operators.runtime import build_runtime
        from airflow_mlops_provider.services.approval import record_answer

        chosen = (event.get("chosen_options") or ["?"])[0]
        user = event.get("responded_by_user")
        recorded = record_answer(
            build_runtime(self.pipeline, context),
            gate=self._gate(context),
            approval=self.approval,
            approved=chosen == self.APPROVE,
            choice=chosen,
            responder=(user.get("name") or user.get("id")) if user else None,
            responded_at=event.get("responded_at"),
        )
        answer = super().execute_complete(context, event)
        # what the run's `notify` summary shows: the decision, the version and who made it
        return {**answer, **recorded}

    def _gate(self, context: Context) -> dict[str, Any]:
        return context["ti"].xcom_pull(task_ids=self.gate_task_id, key="gate")

    def _approval_url(self, context: Context) -> str:
        """The task instance's "Required actions" page in the Airflow UI."""
        from airflow.providers.common.compat.sdk import conf

        base = conf.get("api", "base_url", fallback=None) or FALLBACK_UI
        return self.generate_link_to_ui(task_instance=context["ti"], base_url=base)
