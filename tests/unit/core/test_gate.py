"""The evaluation gate's bounds: directions, relative bounds, missing metrics, and verdicts
from intervals (pass / fail / uncertain) with Holm across the family."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from airflow_mlops_provider.core.estimates import MetricEstimate
from airflow_mlops_provider.core.gate import (
    FAIL,
    PASS,
    UNCERTAIN,
    Policy,
    judge,
    metric_checks,
    settle,
)
from airflow_mlops_provider.spec import MetricRule


def rules(**kwargs: dict) -> dict[str, MetricRule]:
    return {name: MetricRule(**rule) for name, rule in kwargs.items()}


def exact(challenger: dict, champion: dict | None = None) -> dict[str, MetricEstimate]:
    """Values known without error (variance 0): the gate reduces to the bounds themselves."""
    return {
        n: MetricEstimate(n, v, None if champion is None else champion.get(n))
        for n, v in challenger.items()
    }


def noisy(name: str, c: float, b: float, se: float, corr: float = 0.0) -> dict:
    """An estimate pair with standard error `se` on each side and correlation `corr`."""
    var = se * se
    return {name: MetricEstimate(name, c, b, var, var, corr * var, "test", 1000)}


def gate(rule_set: dict, estimates: dict, *, cold: bool = False, alpha: float = 0.05) -> object:
    checks = metric_checks(rule_set, estimates, alpha=alpha)
    return judge(checks, Policy(), has_champion=not cold, alpha=alpha)


def test_promotes_when_every_bound_holds() -> None:
    result = gate(
        rules(roc_auc={"min": 0.7, "max_regression": 0.01}),
        exact({"roc_auc": 0.80}, {"roc_auc": 0.803}),
    )
    assert result.decision == "promote"
    assert [c.verdict for c in result.checks] == [PASS, PASS]


def test_rejects_regression_beyond_bound() -> None:
    result = gate(
        rules(roc_auc={"max_regression": 0.01}), exact({"roc_auc": 0.78}, {"roc_auc": 0.80})
    )
    assert result.decision == "reject"
    assert "roc_auc regression 0.0200 (exact) vs roc_auc regression <= 0.01" in result.reasons[0]


def test_lower_is_better_metrics_flip_direction() -> None:
    rule = rules(rmse={"max_regression": 0.1})
    worse = gate(rule, exact({"rmse": 2.5}, {"rmse": 2.0}))
    better = gate(rule, exact({"rmse": 1.5}, {"rmse": 2.0}))
    assert (worse.decision, better.decision) == ("reject", "promote")


def test_relative_min_improvement() -> None:
    rule = rules(f1={"min_improvement": 0.05, "relative": True})
    assert gate(rule, exact({"f1": 0.63}, {"f1": 0.60})).decision == "promote"
    assert gate(rule, exact({"f1": 0.62}, {"f1": 0.60})).decision == "reject"


def test_missing_or_nan_metric_fails_closed() -> None:
    result = gate(rules(roc_auc={"min": 0.5}), exact({"roc_auc": math.nan}), cold=True)
    assert result.decision == "reject" and "could not be computed" in result.reasons[0]
    assert gate(rules(roc_auc={"min": 0.5}), {}, cold=True).decision == "reject"
    base_nan = gate(
        rules(roc_auc={"max_regression": 0.01}), exact({"roc_auc": 0.8}, {"roc_auc": math.nan})
    )
    assert base_nan.decision == "reject" and "cannot compare" in base_nan.reasons[0]


def test_value_bound_still_applies_to_first_model_and_change_bounds_wait() -> None:
    rule = rules(roc_auc={"min": 0.9, "max_regression": 0.0})
    first = gate(rule, exact({"roc_auc": 0.8}), cold=True)
    assert first.decision == "reject" and [c.bound for c in first.checks] == ["min"]


def test_empty_gate_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one metric"):
        metric_checks({}, {}, alpha=0.05)


def test_a_regression_within_the_noise_is_uncertain_not_a_failure() -> None:
    """0.015 worse against a 0.01 bound, measured with a 0.01 standard error of the
    difference: it may be fine, it may not — a person decides, the gate does not reject."""
    est = noisy("roc_auc", 0.785, 0.80, se=0.01 / math.sqrt(2))  # se of the difference 0.01
    result = gate(rules(roc_auc={"max_regression": 0.01}), est)
    (check,) = result.checks
    assert check.verdict == UNCERTAIN and result.decision == "approval"
    assert result.risk.factors["uncertain"] == 1.0
    assert check.lower == pytest.approx(0.015 - 1.6449 * 0.01, abs=1e-4)
    assert check.upper == pytest.approx(0.015 + 1.6449 * 0.01, abs=1e-4)
    # the hint: the holdout size at which this margin is 1.645 standard errors
    assert check.rows_needed == math.ceil(1000 * (1.6449 * 0.01 / 0.005) ** 2)
    assert "a holdout of about" in check.reason


def test_correlated_models_shrink_the_interval_of_the_difference() -> None:
    """Paired estimates: the same 0.004 regression is decided when both models err together."""
    rule = rules(roc_auc={"max_regression": 0.01})
    independent = gate(rule, noisy("roc_auc", 0.796, 0.80, se=0.006))
    paired = gate(rule, noisy("roc_auc", 0.796, 0.80, se=0.006, corr=0.95))
    assert independent.checks[0].verdict == UNCERTAIN
    assert paired.checks[0].verdict == PASS


def test_relative_bound_tests_the_linear_margin() -> None:
    """rmse may be 10% worse: 2.1 vs 2.0 is 5% worse; the margin's variance includes the
    champion's own uncertainty scaled by (1 + 0.1)."""
    est = {"rmse": MetricEstimate("rmse", 2.1, 2.0, 0.0004, 0.0004, 0.0, "test", 500)}
    (check,) = metric_checks(rules(rmse={"max_regression": 0.1, "relative": True}), est, alpha=0.05)
    assert check.measured == pytest.approx(0.05)
    se = math.sqrt(0.0004 + 1.1**2 * 0.0004) / 2.0
    assert check.upper - check.measured == pytest.approx(1.6449 * se, rel=1e-3)


def test_holm_decides_failures_over_the_whole_family() -> None:
    """Three bounds each 2.2 standard errors past their limit: one alone fails at 0.05
    (p = 0.014), but Holm over the family needs p <= 0.05 / 3 for the first failure."""
    checks = []
    for name in ("roc_auc", "accuracy", "f1"):
        est = {name: MetricEstimate(name, 0.80 - 0.022, 0.80, 1e-4 / 2, 1e-4 / 2, 0.0, "t", 100)}
        checks += metric_checks(rules(**{name: {"max_regression": 0.0}}), est, alpha=0.05)
    alone = settle(checks[:1], 0.05)
    together = settle(checks, 0.05)
    assert alone[0].verdict == FAIL
    assert [c.verdict for c in together] == [FAIL] * 3  # Holm: 0.014 <= 0.05/3 for all
    weaker = [replace(c, p_outside=p) for c, p in zip(checks, (0.014, 0.03, 0.04), strict=True)]
    assert [c.verdict for c in settle(weaker, 0.05)] == [FAIL, UNCERTAIN, UNCERTAIN]


def test_exact_equality_with_a_zero_bound_passes() -> None:
    """Two identical models: difference 0 with variance 0 — inside max_regression 0."""
    est = {"roc_auc": MetricEstimate("roc_auc", 0.8, 0.8, 1e-4, 1e-4, 1e-4, "delong", 100)}
    assert gate(rules(roc_auc={"max_regression": 0.0}), est).decision == "promote"


def test_the_holdout_hint_uses_the_level_the_decision_needs() -> None:
    """Outside its bound a check fails only under Holm (worst case alpha / k); inside it
    passes at alpha: the 'rows that would decide it' hint follows the side it is on."""
    est = {
        **noisy("roc_auc", 0.785, 0.80, se=0.01 / math.sqrt(2)),
        "accuracy": MetricEstimate("accuracy", 0.9, 0.9),
    }
    rule = rules(roc_auc={"max_regression": 0.01}, accuracy={"min": 0.5})
    (regression, _) = settle(metric_checks(rule, est, alpha=0.05), 0.05)
    assert regression.verdict == UNCERTAIN
    z = 1.95996  # z(0.05 / 2): two checks in the family
    assert regression.rows_needed == math.ceil(1000 * (z * 0.01 / 0.005) ** 2)
