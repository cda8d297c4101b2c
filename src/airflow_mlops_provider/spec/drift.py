"""`drift:` — per-feature tests of a batch against the champion's reference profile.

The test names, corrections and defaults come from core/vocabulary.py, which core/drift.py
judges with, so the YAML can only ask for what the engine does.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from airflow_mlops_provider.core.vocabulary import (
    CORRECTIONS,
    DRIFT_DEFAULTS,
    DRIFT_TESTS,
    thresholds_without_test,
)
from airflow_mlops_provider.spec.base import StrictModel, fail, problem, report

DriftTest = Literal[DRIFT_TESTS]  # type: ignore[valid-type]
Correction = Literal[CORRECTIONS]  # type: ignore[valid-type]


class FeatureDriftRule(StrictModel):
    """Per-feature override of the drift test and/or its threshold."""

    test: DriftTest | None = Field(None, description="null: the drift block's test")
    threshold: float | None = Field(
        None,
        gt=0,
        description="p-value tests (ks, chi2): this feature's own p-value level, outside the "
        "multiple-testing family; other tests: the statistic at which it drifts",
    )

    @model_validator(mode="after")
    def _says_something(self) -> FeatureDriftRule:
        if self.test is None and self.threshold is None:
            fail("FeatureDriftRule", (), "give test, threshold or both")
        return self


class DriftSpec(StrictModel):
    """Per-feature drift tests against the champion's reference profile (docs/drift.md).

    auto: ks / chi2 up to 10,000 values per side, normalised Wasserstein / Jensen-Shannon
    above. Bonferroni or Benjamini-Hochberg keeps 50 stable features from paging daily."""

    test: DriftTest = Field(DRIFT_DEFAULTS.test, description="default test for every feature")
    alpha: float = Field(
        DRIFT_DEFAULTS.alpha, gt=0, lt=1, description="significance level of p-value tests"
    )
    correction: Correction = Field(
        DRIFT_DEFAULTS.correction,
        description="multiple-testing control across features' p-value tests",
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
    features: dict[str, FeatureDriftRule] = Field(
        default_factory=dict, description="per-feature overrides: {name: {test, threshold}}"
    )

    @model_validator(mode="after")
    def _threshold_has_a_test(self) -> DriftSpec:
        bare = thresholds_without_test(self.overrides(), self.test)
        report(
            "DriftSpec",
            [
                problem(
                    ("features", name, "threshold"),
                    "a threshold needs a test (with test: auto its meaning would change with "
                    "the batch size); add e.g. test: ks",
                )
                for name in bare
            ],
        )
        return self

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
            "prediction_column": prediction_column,
        }
