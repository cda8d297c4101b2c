"""`drift:` — per-feature tests of a batch against the champion's reference profile.

The test names, corrections and defaults come from core/vocabulary.py, which core/drift.py
judges with, so the YAML can only ask for what the engine does.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from airflow_mlops_provider.core.vocabulary import (
    CORRECTIONS,
    DRIFT_DEFAULTS,
    DRIFT_EFFECTS,
    DRIFT_TESTS,
)
from airflow_mlops_provider.spec.base import StrictModel, fail

DriftTest = Literal[DRIFT_TESTS]  # type: ignore[valid-type]
DriftEffect = Literal[DRIFT_EFFECTS]  # type: ignore[valid-type]
Correction = Literal[CORRECTIONS]  # type: ignore[valid-type]


class FeatureDriftRule(StrictModel):
    """Per-feature override of the drift test and/or its threshold."""

    test: DriftTest | None = Field(None, description="null: the drift block's test")
    threshold: float | None = Field(
        None,
        gt=0,
        description="this feature's minimum effect size for its test (else drift.min_effect); "
        "it drifts when its evidence test is also significant",
    )

    @model_validator(mode="after")
    def _says_something(self) -> FeatureDriftRule:
        if self.test is None and self.threshold is None:
            fail("FeatureDriftRule", (), "give test, threshold or both")
        return self


class DriftSpec(StrictModel):
    """Per-feature drift against the champion's reference profile (docs/drift.md): a feature
    drifts when its two-sample test (KS / chi-square) is significant under the family's
    correction AND its effect size reaches the test's minimum, at every batch size.
    Bonferroni or Benjamini-Hochberg keeps 50 stable features from paging daily."""

    test: DriftTest = Field(
        DRIFT_DEFAULTS.test,
        description="effect size for every feature; auto: ks (numeric), chi2 (categorical)",
    )
    alpha: float = Field(
        DRIFT_DEFAULTS.alpha, gt=0, lt=1, description="significance level of the evidence tests"
    )
    correction: Correction = Field(
        DRIFT_DEFAULTS.correction,
        description="multiple-testing control across features' evidence tests",
    )
    drift_share: float = Field(
        DRIFT_DEFAULTS.drift_share,
        gt=0,
        le=1,
        description="dataset drift when this share of features drifted",
    )
    missing_rate_change: float = Field(
        DRIFT_DEFAULTS.missing_rate_change,
        gt=0,
        le=1,
        description="absolute change of a feature's missing share that counts as drift "
        "(when also statistically significant)",
    )
    min_effect: dict[DriftEffect, float] = Field(
        default_factory=dict,
        description=f"minimum effect size per test or share ({', '.join(DRIFT_EFFECTS)}), "
        "overriding the defaults in docs/decisions.md (a feature drifts only when its effect "
        "reaches it)",
    )
    features: dict[str, FeatureDriftRule] = Field(
        default_factory=dict, description="per-feature overrides: {name: {test, threshold}}"
    )

    @field_validator("min_effect")
    @classmethod
    def _positive(cls, value: dict[str, float]) -> dict[str, float]:
        bad = sorted(k for k, v in value.items() if v <= 0)
        if bad:
            raise ValueError(f"min_effect {bad} must be positive")
        return value

    def overrides(self) -> dict[str, dict[str, Any]]:
        return {n: r.model_dump(exclude_none=True) for n, r in self.features.items()}

    def compare_settings(self, prediction_column: str = "prediction") -> dict[str, Any]:
        """Keyword arguments of core.drift.compare_profile, so the operator and the CLI judge
        a batch with the same settings."""
        return {
            "test": self.test,
            "overrides": self.overrides(),
            "alpha": self.alpha,
            "correction": self.correction,
            "drift_share": self.drift_share,
            "missing_rate_change": self.missing_rate_change,
            "min_effect": dict(self.min_effect),
            "prediction_column": prediction_column,
        }
