"""A person approves or rejects a challenger the gate could not decide: what to ask, and
what to record when the answer (or the timeout's default) arrives.

The waiting itself is Airflow's Human-in-the-loop (operators/approval.py); here are the
request's subject and body (the gate report's summary), the Slack notice linking to the
approval page, and the record of who decided: audit log, version tags (`mlops.approval`,
`mlops.approved_by` / `mlops.rejected_by`, `mlops.decision: rejected`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_mlops_provider.services.runtime import Runtime
    from airflow_mlops_provider.spec import ApprovalSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ApprovalRequest:
    subject: str
    body: str  # markdown


def request_approval(
    rt: Runtime,
    *,
    gate: dict[str, Any],
    approval: ApprovalSpec,
    url: str,
    report_link: str | None = None,
) -> ApprovalRequest:
    """Announce the request (Slack, or the log) and audit it; returns what to ask.
    `url`: where to answer; `report_link`: where people read the gate report (else its
    storage location is named)."""
    from airflow_mlops_provider.core.gate_report import summary_markdown

    model, version, score = rt.registry.model_name, gate["challenger"], gate["risk"]["score"]
    body = summary_markdown(gate, report_url=report_link or gate.get("report")) + (
        f"\n\nNo answer within {approval.timeout_hours:g} h: **{approval.on_timeout}**."
    )
    status = rt.notify(
        f":raising_hand: Approval needed: {model} v{version} (risk score {score:.2f}; "
        f"{'; '.join(gate['reasons'])}). Approve or reject: {url}"
    )
    rt.audit(
        "approval_requested",
        {"version": version, "risk_score": score, "url": url, "slack": status},
    )
    return ApprovalRequest(f"Promote {model} v{version}? (risk score {score:.2f})", body)


def record_answer(
    rt: Runtime,
    *,
    gate: dict[str, Any],
    approval: ApprovalSpec,
    approved: bool,
    choice: str,
    responder: str | None,
    responded_at: Any,
) -> dict[str, Any]:
    """Record the answer; `responder` None means nobody answered in time and the configured
    default (`approval.on_timeout`) applied. Returns decision, version and who decided."""
    version = gate["challenger"]
    actor = responder or f"timeout (approval.on_timeout={approval.on_timeout})"
    tags = {
        "mlops.approval": "approved" if approved else "rejected",
        ("mlops.approved_by" if approved else "mlops.rejected_by"): actor,
    }
    if not approved:
        tags["mlops.decision"] = "rejected"
    rt.registry.tag_version(version, tags)
    log.info("Version %s %s by %s", version, tags["mlops.approval"], actor)
    details = {
        "version": version,
        "choice": choice,
        "by": actor,
        "timed_out": responder is None,
        "responded_at": str(responded_at),
    }
    rt.audit("approved" if approved else "rejected", details, actor=actor)
    if not approved:
        rt.notify(f"{rt.registry.model_name} v{version} rejected by {actor}; nothing moved.")
    return {"decision": tags["mlops.approval"], "version": version, "reason": actor}
