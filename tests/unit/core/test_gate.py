"""The evaluation gate: bounds, directions, missing metrics and the first model."""

from __future__ import annotations

import math

import pytest

from airflow_mlops_provider.core.gate import decide
from airflow_mlops_provider.spec import MetricRule


def rules(**kwargs: dict) -> dict[str, MetricRule]:
    return {name: MetricRule(**rule) for name, rule in kwargs.items()}


def test_promotes_when_every_bound_holds() -> None:
    gate = decide(
        rules(roc_auc={"min": 0.7, "max_regression": 0.01}),
        {"roc_auc": 0.80},
        {"roc_auc": 0.805},
        on_missing_champion="reject",
    )
    assert gate.decision == "promote"


def test_rejects_regression_beyond_bound() -> None:
    gate = decide(
        rules(roc_auc={"max_regression": 0.01}),
        {"roc_auc": 0.78},
        {"roc_auc": 0.80},
        on_missing_champion="promote",
    )
    assert gate.decision == "reject" and "regressed by 0.0200" in gate.reasons[0]


def test_lower_is_better_metrics_flip_direction() -> None:
    worse = decide(
        rules(rmse={"max_regression": 0.1}),
        {"rmse": 2.5},
        {"rmse": 2.0},
        on_missing_champion="promote",
    )
    better = decide(
        rules(rmse={"max_regression": 0.1}),
        {"rmse": 1.5},
        {"rmse": 2.0},
        on_missing_champion="promote",
    )
    assert (worse.decision, better.decision) == ("reject", "promote")


def test_relative_min_improvement() -> None:
    rule = rules(f1={"min_improvement": 0.05, "relative": True})
    assert (
        decide(rule, {"f1": 0.63}, {"f1": 0.60}, on_missing_champion="promote").decision
        == "promote"
    )
    assert (
        decide(rule, {"f1": 0.62}, {"f1": 0.60}, on_missing_champion="promote").decision == "reject"
    )


def test_missing_or_nan_metric_fails_closed() -> None:
    gate = decide(
        rules(roc_auc={"min": 0.5}), {"roc_auc": math.nan}, None, on_missing_champion="promote"
    )
    assert gate.decision == "reject" and "could not be computed" in gate.reasons[0]
    assert (
        decide(rules(roc_auc={"min": 0.5}), {}, None, on_missing_champion="promote").decision
        == "reject"
    )


@pytest.mark.parametrize("policy", ["promote", "reject"])
def test_first_model_follows_on_missing_champion(policy: str) -> None:
    gate = decide(
        rules(roc_auc={"min": 0.5, "max_regression": 0.0}),
        {"roc_auc": 0.8},
        None,
        on_missing_champion=policy,
    )
    assert gate.decision == policy


def test_value_bound_still_applies_to_first_model() -> None:
    gate = decide(
        rules(roc_auc={"min": 0.9}), {"roc_auc": 0.8}, None, on_missing_champion="promote"
    )
    assert gate.decision == "reject"


def test_empty_gate_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one metric"):
        decide({}, {}, None, on_missing_champion="promote")
