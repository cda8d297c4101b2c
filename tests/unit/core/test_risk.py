"""The risk score: the soft/hard band, the noisy-OR combination and the decision table."""

from __future__ import annotations

import pytest

from airflow_mlops_provider.core.risk import DEFAULT_WEIGHTS, assess, band, combine


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.0, 0.0), (0.1, 0.0), (0.15, 0.0), (0.225, 0.75), (0.3, 1.0), (0.9, 1.0)],
)
def test_band_is_zero_to_the_soft_limit_then_half_to_one(value: float, expected: float) -> None:
    assert band(value, 0.3, 0.5) == pytest.approx(expected)


def test_band_just_past_the_soft_limit_starts_at_one_half() -> None:
    assert band(0.1501, 0.3, 0.5) == pytest.approx(0.5, abs=1e-3)


# (factors, expected score, expected decision) with the default weights, 0.3 / 0.7 thresholds.
TABLE = [
    ({}, 0.0, "promote"),
    ({"cold_start": 1.0}, 0.2, "promote"),
    ({"disagreement": 1.0}, 0.25, "promote"),
    ({"fairness": 0.5}, 0.3, "approval"),
    ({"regression": 0.5}, 0.3, "approval"),
    ({"regression": 0.5, "cold_start": 1.0}, 1 - 0.7 * 0.8, "approval"),
    ({"latency": 1.0, "disagreement": 1.0}, 1 - 0.6 * 0.75, "approval"),
    ({"regression": 1.0, "fairness": 0.5}, 1 - 0.4 * 0.7, "reject"),
    ({"regression": 1.0, "fairness": 1.0}, 1 - 0.4 * 0.4, "reject"),
    ({"latency": 0.0, "cold_start": 0.0}, 0.0, "promote"),
]


@pytest.mark.parametrize(("factors", "score", "decision"), TABLE)
def test_risk_table(factors: dict, score: float, decision: str) -> None:
    assessed = assess(factors, weights=DEFAULT_WEIGHTS, approve_above=0.3, reject_above=0.7)
    assert assessed.score == pytest.approx(score, abs=1e-4)
    assert assessed.decision == decision
    assert f"risk score {score:.2f}" in assessed.reason


def test_reason_names_the_drivers_strongest_first() -> None:
    assessed = assess(
        {"fairness": 0.6, "disagreement": 0.9, "cold_start": 0.0},
        weights=DEFAULT_WEIGHTS,
        approve_above=0.3,
        reject_above=0.7,
    )
    assert assessed.reason.endswith("(factors: fairness 0.60, disagreement 0.90)")


def test_factors_are_clipped_and_unknown_names_refused() -> None:
    assert combine({"fairness": 7.0}, {"fairness": 0.5}) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="unknown risk factors"):
        combine({"vibes": 1.0}, DEFAULT_WEIGHTS)
