"""GateApprovalOperator: a person approves or rejects a challenger the gate could not decide.

Airflow's HITL `ApprovalOperator` does the waiting: on Airflow 3.3 the task parks in the
`awaiting_input` state (no worker slot, no triggerer) until someone answers on the task's
"Required actions" page or over the REST API (`PATCH .../hitlDetails`), or the timeout passes
and the scheduler applies the default answer (`approval.on_timeout`). This subclass adds what
a release needs around it: the gate report in the request body, a Slack notice linking to the
approval page, and — when the answer arrives — who answered, in the audit log and on the
model version (`mlops.approved_by` / `mlops.rejected_by`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.standard.operators.hitl import ApprovalOperator

from airflow_mlops_provider.operators.base import PipelineOperatorMixin
from airflow_mlops_provider.spec.models import PipelineSpec

if TYPE_CHECKING:
    from airflow.sdk import Context

FALLBACK_UI = "http://localhost:8080"  # only when [api] base_url is not configured


class GateApprovalOperator(PipelineOperatorMixin, ApprovalOperator):
    """Ask a person to approve the gate's challenger; record who decided, and what."""

    ui_color = "#fff3cd"

    def __init__(
        self,
        *,
        spec: PipelineSpec,
        project_dir: str,
        gate_task_id: str = "evaluate",
        **kwargs: Any,
    ) -> None:
        on_timeout = spec.approval.on_timeout
        super().__init__(
            subject=f"Promote a new {spec.pipeline} model?",
            defaults=ApprovalOperator.APPROVE
            if on_timeout == "promote"
            else ApprovalOperator.REJECT,
            response_timeout=timedelta(hours=spec.approval.timeout_hours),
            **kwargs,
        )
        self.spec = spec
        self.project_dir = project_dir
        self.gate_task_id = gate_task_id

    def execute(self, context: Context) -> Any:
        from airflow_mlops_provider.core.gate_report import summary_markdown
        from airflow_mlops_provider.links import report_url

        gate = self._gate(context)
        url = self._approval_url(context)
        score = gate["risk"]["score"]
        self.subject = (
            f"Promote {self.spec.model_name} v{gate['challenger']}? (risk score {score:.2f})"
        )
        link = report_url(self.spec.pipeline, gate["report"]) if gate.get("report") else None
        self.body = summary_markdown(gate, report_url=link or gate.get("report")) + (
            f"\n\nNo answer within {self.spec.approval.timeout_hours:g} h: "
            f"**{self.spec.approval.on_timeout}**."
        )
        status = self.notify(
            f":raising_hand: Approval needed: {self.spec.model_name} v{gate['challenger']} "
            f"(risk score {score:.2f}; {'; '.join(gate['reasons'])}). Approve or reject: {url}"
        )
        self.audit(
            context,
            "approval_requested",
            {"version": gate["challenger"], "risk_score": score, "url": url, "slack": status},
        )
        return super().execute(context)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        """Record the answer (or the timeout default) before Airflow acts on it."""
        from airflow_mlops_provider.adapters import mlflow_registry as registry

        gate = self._gate(context)
        version = gate["challenger"]
        chosen = (event.get("chosen_options") or ["?"])[0]
        user = event.get("responded_by_user")
        who = (user.get("name") or user.get("id")) if user else None
        approved = chosen == self.APPROVE
        actor = who or f"timeout (approval.on_timeout={self.spec.approval.on_timeout})"
        tags = {
            "mlops.approval": "approved" if approved else "rejected",
            ("mlops.approved_by" if approved else "mlops.rejected_by"): actor,
        }
        if not approved:
            tags["mlops.decision"] = "rejected"
        registry.tag_version(self.mlflow, self.spec.model_name, version, tags)
        self.log.info("Version %s %s by %s", version, tags["mlops.approval"], actor)
        details = {
            "version": version,
            "choice": chosen,
            "by": actor,
            "timed_out": who is None,
            "responded_at": str(event.get("responded_at")),
        }
        self.audit(context, "approved" if approved else "rejected", details, actor=actor)
        if not approved:
            self.notify(f"{self.spec.model_name} v{version} rejected by {actor}; nothing moved.")
        answer = super().execute_complete(context, event)
        # what the run's `notify` summary shows: the decision, the version and who made it
        return {**answer, "decision": tags["mlops.approval"], "version": version, "reason": actor}

    def _gate(self, context: Context) -> dict[str, Any]:
        return context["ti"].xcom_pull(task_ids=self.gate_task_id, key="gate")

    def _approval_url(self, context: Context) -> str:
        """The task instance's "Required actions" page in the Airflow UI."""
        from airflow.providers.common.compat.sdk import conf

        base = conf.get("api", "base_url", fallback=None) or FALLBACK_UI
        return self.generate_link_to_ui(task_instance=context["ti"], base_url=base)
