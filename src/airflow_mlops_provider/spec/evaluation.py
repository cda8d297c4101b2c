"""`evaluation:` — the release gate: metric bounds against the champion, fairness, latency and
disagreement (TFX-style; docs/release.md)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from airflow_mlops_provider.core.vocabulary import METRIC_NAMES
from airflow_mlops_provider.spec.base import StrictModel, fail

MetricName = Literal[METRIC_NAMES]  # type: ignore[valid-type]


class MetricRule(StrictModel):
    """Value bounds and a signed change bound against the champion (TFX-style)."""

    min: float | None = Field(None, description="the challenger's value must be at least this")
    max: float | None = Field(None, description="the challenger's value must be at most this")
    max_regression: float | None = Field(
        None, ge=0, description="how much worse than the champion the challenger may be"
    )
    min_improvement: float | None = Field(None, description="how much better it must be")
    relative: bool = Field(False, description="change bounds are fractions of the champion value")

    @model_validator(mode="after")
    def _has_a_bound(self) -> MetricRule:
        if all(v is None for v in (self.min, self.max, self.max_regression, self.min_improvement)):
            fail("MetricRule", (), "give at least one of min, max, max_regression, min_improvement")
        return self


class FairnessSpec(StrictModel):
    """Per-group gaps of the challenger's thresholded predictions; the limits are hard (reject),
    and a gap past `approval.soft_limit` x its limit raises the risk score."""

    group_columns: list[str] = Field(
        min_length=1,
        description="sensitive column(s); several: intersectional groups "
        "(group_column: x is shorthand for one)",
    )
    max_demographic_parity_difference: float | None = Field(
        None, gt=0, le=1, description="max - min over groups of the positive prediction rate"
    )
    max_equal_opportunity_difference: float | None = Field(
        None, gt=0, le=1, description="max - min over groups of the true positive rate"
    )
    min_group_size: int = Field(
        30, ge=1, description="smaller groups are reported but left out of the gaps"
    )

    @model_validator(mode="before")
    @classmethod
    def _one_column(cls, data: Any) -> Any:
        """`group_column: x` is shorthand for `group_columns: [x]`."""
        if isinstance(data, dict) and "group_column" in data:
            if "group_columns" in data:
                fail(
                    "FairnessSpec",
                    ("group_column",),
                    "give group_column or group_columns, not both",
                )
            data = {**data, "group_columns": [data["group_column"]]}
            del data["group_column"]
        return data

    @model_validator(mode="after")
    def _has_a_limit(self) -> FairnessSpec:
        if (
            self.max_demographic_parity_difference is None
            and self.max_equal_opportunity_difference is None
        ):
            fail(
                "FairnessSpec",
                (),
                "give max_demographic_parity_difference and/or max_equal_opportunity_difference",
            )
        return self


class LatencySpec(StrictModel):
    """p95 of the time to score one batch of holdout rows, over `repeats` batches."""

    max_p95_ms: float | None = Field(
        None, gt=0, description="hard limit on the challenger's p95 batch latency; null: report"
    )
    batch_size: int = Field(100, ge=1, description="holdout rows scored per call")
    repeats: int = Field(30, ge=2, description="calls timed")


class DisagreementSpec(StrictModel):
    """Share of holdout rows whose thresholded prediction differs from the champion's."""

    max: float = Field(0.5, gt=0, le=1, description="hard limit on the disagreement share")
    tolerance: float = Field(
        0.1, gt=0, description="regression: relative difference that counts as disagreeing"
    )


class EvaluationSpec(StrictModel):
    """The gate every challenger passes before a person or a canary sees it."""

    metrics: dict[MetricName, MetricRule] = Field(
        min_length=1, description="the gate: at least one metric with a bound"
    )
    holdout: str | None = Field(
        None,
        description="fixed golden set (path, file:// or s3://, parquet or csv) scored instead "
        "of the validated snapshot's holdout",
    )
    fairness: FairnessSpec | None = Field(None, description="per-group limits; null: not judged")
    latency: LatencySpec = Field(default_factory=LatencySpec, description="latency measurement")
    disagreement: DisagreementSpec = Field(
        default_factory=DisagreementSpec, description="disagreement with the champion"
    )
    on_missing_champion: Literal["promote", "approval", "reject"] = Field(
        "promote", description="the first model: promote (risk permitting), ask, or reject"
    )
    threshold: float = Field(0.5, gt=0, lt=1, description="decision threshold for label metrics")
    alpha: float = Field(
        0.01,
        gt=0,
        lt=0.5,
        description="error rate of the gate's tests: each bound passes when its one-sided "
        "confidence bound at alpha is inside; failures are Holm-corrected at alpha",
    )
