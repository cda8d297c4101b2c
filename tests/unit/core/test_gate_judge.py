"""judge(): bounds and hard limits reject, then the risk score and approval mode decide."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from airflow_mlops_provider.core import latency
from airflow_mlops_provider.core.estimates import MetricEstimate
from airflow_mlops_provider.core.gate import (
    PASS,
    UNCERTAIN,
    Policy,
    disagreement,
    judge,
    limit_check,
    metric_checks,
    proportion_interval,
)
from airflow_mlops_provider.spec import MetricRule

RULES = {"roc_auc": MetricRule(min=0.6, max_regression=0.02)}


def fair(value: float | None) -> list:
    return [limit_check("fairness.demographic_parity_difference", "fairness", value, 0.3)]


def gate(challenger: float, champion: float | None, limits: list, policy: Policy) -> object:
    est = {"roc_auc": MetricEstimate("roc_auc", challenger, champion)}
    checks = metric_checks(RULES, est, alpha=0.05) + limits
    return judge(checks, policy, has_champion=champion is not None)


def test_better_challenger_is_promoted() -> None:
    result = gate(0.80, 0.78, fair(0.05), Policy())
    assert result.decision == "promote" and result.risk.score == 0.0


def test_bound_failure_rejects_whatever_the_mode() -> None:
    for mode in ("risk", "always", "never"):
        result = gate(0.70, 0.78, [], Policy(mode=mode))
        assert result.decision == "reject"
        assert result.reasons[0].startswith("hard limit: roc_auc regression 0.0800")


def test_fairness_hard_limit_and_uncomputable_gap_reject() -> None:
    over = gate(0.8, 0.8, fair(0.31), Policy(mode="never"))
    assert over.decision == "reject"
    assert "fairness.demographic_parity_difference value 0.3100" in over.reasons[0]
    unknown = gate(0.8, 0.8, fair(math.nan), Policy())
    assert unknown.decision == "reject" and "could not be computed" in unknown.reasons[0]


def test_fairness_gap_past_the_soft_limit_asks_a_person() -> None:
    result = gate(0.8, 0.8, fair(0.2), Policy())
    assert result.decision == "approval"
    assert result.risk.factors["fairness"] == pytest.approx(0.5 + 0.5 * 0.05 / 0.15)


def test_regression_past_half_its_bound_asks_a_person() -> None:
    small = gate(0.795, 0.80, [], Policy())
    large = gate(0.785, 0.80, [], Policy())
    assert (small.decision, large.decision) == ("promote", "approval")
    assert large.risk.factors["regression"] == pytest.approx(0.75)


def test_the_regression_factor_reads_the_pessimistic_end_of_its_interval() -> None:
    """A 0.002 regression measured with a 0.006 standard error of the difference passes the
    0.02 bound, but its interval reaches 0.0119: past half the bound, so a person looks."""
    est = {"roc_auc": MetricEstimate("roc_auc", 0.798, 0.80, 1.8e-5, 1.8e-5, 0.0, "t", 1000)}
    result = judge(metric_checks(RULES, est, alpha=0.05), Policy(), has_champion=True)
    regression = result.checks[1]
    assert regression.verdict == PASS and regression.upper == pytest.approx(0.0119, abs=1e-4)
    expected = 0.5 + 0.5 * (regression.upper - 0.01) / 0.01
    assert result.risk.factors["regression"] == pytest.approx(expected)
    assert result.decision == "approval"


def test_relative_regression_factor_uses_the_relative_unit() -> None:
    rules = {"rmse": MetricRule(max_regression=0.10, relative=True)}
    est = {"rmse": MetricEstimate("rmse", 10.8, 10.0)}
    result = judge(metric_checks(rules, est, alpha=0.05), Policy(), has_champion=True)
    assert result.risk.factors["regression"] == pytest.approx(0.5 + 0.5 * 0.03 / 0.05)


def test_modes() -> None:
    risky = fair(0.2)
    never = gate(0.8, 0.8, risky, Policy(mode="never"))
    assert never.decision == "promote"
    assert "approval.mode never: promoted without asking a person" in never.reasons
    always = gate(0.8, 0.8, [], Policy(mode="always"))
    assert always.decision == "approval" and always.risk.score == 0.0


def test_score_above_reject_above_rejects_without_a_hard_failure() -> None:
    result = gate(0.785, 0.80, fair(0.2), Policy(reject_above=0.4))
    assert result.decision == "reject" and ">= reject_above 0.4" in result.reasons[0]


@pytest.mark.parametrize(
    ("policy", "decision"), [("promote", "promote"), ("approval", "approval"), ("reject", "reject")]
)
def test_cold_start_follows_on_missing_champion(policy: str, decision: str) -> None:
    result = gate(0.8, None, [], Policy(on_missing_champion=policy))
    assert result.decision == decision
    assert result.risk.factors["cold_start"] == 1.0


def test_cold_start_plus_a_soft_fairness_gap_asks_a_person() -> None:
    assert gate(0.8, None, fair(0.16), Policy()).decision == "approval"


def test_an_undecided_limit_asks_a_person_and_says_why() -> None:
    """Disagreement 0.48 of 100 rows against a 0.5 limit: its Wilson interval straddles it."""
    check = limit_check(
        "disagreement", "disagreement", 0.48, 0.5, interval=proportion_interval(48, 100)
    )
    result = gate(0.8, 0.8, [check], Policy())
    assert result.checks[-1].verdict == UNCERTAIN and result.decision == "approval"
    assert any("disagreement value 0.4800" in r and "undecided" in r for r in result.reasons)
    big = limit_check(
        "disagreement", "disagreement", 0.48, 0.5, interval=proportion_interval(48_000, 100_000)
    )
    assert gate(0.8, 0.8, [big], Policy()).checks[-1].verdict == PASS


def test_disagreement_counts_thresholded_labels_or_relative_differences() -> None:
    assert disagreement([0.2, 0.6, 0.7, 0.4], [0.3, 0.4, 0.8, 0.6], regression=False) == 0.5
    share = disagreement([10.0, 10.5, 13.0], [10.0, 10.0, 10.0], regression=True, tolerance=0.1)
    assert share == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="cannot compare 2 and 3"):
        disagreement([0.1, 0.2], [0.1, 0.2, 0.3], regression=False)


def test_latency_times_repeated_batches_after_a_warm_up() -> None:
    frame = pd.DataFrame({"x": np.arange(250)})
    sizes: list[int] = []
    result = latency.measure(
        lambda batch: sizes.append(len(batch)), frame, batch_size=100, repeats=5
    )
    assert sizes == [100] * 6  # one warm-up, five timed, all full batches
    assert result["p95_ms"] >= result["p50_ms"] >= 0 and result["batches"] == 5
    assert len(result["timings_ms"]) == 5
    with pytest.raises(ValueError, match="no rows"):
        latency.measure(print, frame.iloc[:0], batch_size=10, repeats=2)


def test_latency_pair_is_timed_interleaved_with_the_order_swapped() -> None:
    frame = pd.DataFrame({"x": np.arange(50)})
    calls: list[str] = []
    mine, theirs = latency.measure_pair(
        lambda b: calls.append("a"), lambda b: calls.append("b"), frame, batch_size=10, repeats=4
    )
    assert calls == ["a", "b", "a", "b", "b", "a", "a", "b", "b", "a"]  # 2 warm-ups first
    assert len(mine["timings_ms"]) == len(theirs["timings_ms"]) == 4


def test_latency_intervals_bracket_the_p95() -> None:
    timings = list(np.random.default_rng(0).gamma(4.0, 2.0, 40))
    low, high = latency.p95_interval(timings)(0.05)
    assert low <= float(np.percentile(timings, 95)) <= high
    same = latency.p95_difference(timings, timings, 0.05)
    assert same == {"difference_ms": 0.0, "lower_ms": 0.0, "upper_ms": 0.0}
