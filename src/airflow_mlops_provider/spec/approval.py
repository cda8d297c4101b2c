"""`approval:` — when a person decides: the risk score, its weights, and unanswered requests."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from airflow_mlops_provider.spec.base import StrictModel, fail


class RiskWeights(StrictModel):
    """How much each risk factor (0..1) can add to the score (docs/release.md)."""

    regression: float = Field(0.6, ge=0, le=1, description="metric changes near their bound")
    fairness: float = Field(0.6, ge=0, le=1, description="group gaps near their limit")
    latency: float = Field(0.4, ge=0, le=1, description="p95 latency near its limit")
    disagreement: float = Field(0.25, ge=0, le=1, description="disagreement near its limit")
    cold_start: float = Field(0.2, ge=0, le=1, description="no champion to compare with")
    uncertain: float = Field(
        0.5, ge=0, le=1, description="a bound the holdout cannot decide (its interval straddles it)"
    )


class ApprovalSpec(StrictModel):
    """Who promotes a model that passed the gate: the risk score, a person, or nobody."""

    mode: Literal["risk", "always", "never"] = Field(
        "risk",
        description="risk: the risk score decides; always: a person approves every passing "
        "model; never: no person (the score can still reject)",
    )
    approve_above: float = Field(0.3, ge=0, le=1, description="risk score that asks a person")
    reject_above: float = Field(0.7, ge=0, le=1, description="risk score that rejects")
    soft_limit: float = Field(
        0.5, gt=0, le=1, description="share of each hard limit from which a factor counts"
    )
    weights: RiskWeights = Field(default_factory=RiskWeights, description="risk factor weights")
    timeout_hours: float = Field(24, gt=0, description="how long a request waits for an answer")
    on_timeout: Literal["reject", "promote"] = Field(
        "reject", description="what an unanswered approval request becomes"
    )

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> ApprovalSpec:
        if self.approve_above > self.reject_above:
            fail(
                "ApprovalSpec",
                ("approve_above",),
                f"approve_above ({self.approve_above}) must not exceed "
                f"reject_above ({self.reject_above})",
            )
        return self
