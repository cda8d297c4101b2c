"""judge(): bounds and hard limits reject, then the risk score and approval mode decide."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from airflow_mlops_provider.core import latency
from airflow_mlops_provider.core.gate import Policy, disagreement, judge, limit_check
from airflow_mlops_provider.spec import MetricRule

RULES = {"roc_auc": MetricRule(min=0.6, max_regression=0.02)}


def fair(value: float | None) -> list:
    return [limit_check("fairness.demographic_parity_difference", "fairness", value, 0.3)]


def test_better_challenger_is_promoted() -> None:
    gate = judge(RULES, {"roc_auc": 0.80}, {"roc_auc": 0.78}, fair(0.05), Policy())
    assert gate.decision == "promote" and gate.risk.score == 0.0


def test_bound_failure_rejects_whatever_the_mode() -> None:
    for mode in ("risk", "always", "never"):
        gate = judge(RULES, {"roc_auc": 0.70}, {"roc_auc": 0.78}, [], Policy(mode=mode))
        assert gate.decision == "reject"
        assert gate.reasons[0].startswith("hard limit: roc_auc regressed by 0.0800")


def test_fairness_hard_limit_and_uncomputable_gap_reject() -> None:
    over = judge(RULES, {"roc_auc": 0.8}, {"roc_auc": 0.8}, fair(0.31), Policy(mode="never"))
    assert over.decision == "reject"
    assert "demographic_parity_difference 0.3100 is above the limit 0.3" in over.reasons[0]
    unknown = judge(RULES, {"roc_auc": 0.8}, {"roc_auc": 0.8}, fair(math.nan), Policy())
    assert unknown.decision == "reject" and "could not be computed" in unknown.reasons[0]


def test_fairness_gap_past_the_soft_limit_asks_a_person() -> None:
    gate = judge(RULES, {"roc_auc": 0.8}, {"roc_auc": 0.8}, fair(0.2), Policy())
    assert gate.decision == "approval"
    assert gate.risk.factors["fairness"] == pytest.approx(0.5 + 0.5 * 0.05 / 0.15)


def test_regression_past_half_its_bound_asks_a_person() -> None:
    small = judge(RULES, {"roc_auc": 0.795}, {"roc_auc": 0.80}, [], Policy())
    large = judge(RULES, {"roc_auc": 0.785}, {"roc_auc": 0.80}, [], Policy())
    assert (small.decision, large.decision) == ("promote", "approval")
    assert large.risk.factors["regression"] == pytest.approx(0.75)


def test_relative_regression_factor_uses_the_relative_unit() -> None:
    rules = {"rmse": MetricRule(max_regression=0.10, relative=True)}
    gate = judge(rules, {"rmse": 10.8}, {"rmse": 10.0}, [], Policy())  # 8 % worse of 10 %
    assert gate.risk.factors["regression"] == pytest.approx(0.5 + 0.5 * 0.03 / 0.05)


def test_modes() -> None:
    risky = fair(0.2)
    never = judge(RULES, {"roc_auc": 0.8}, {"roc_auc": 0.8}, risky, Policy(mode="never"))
    assert never.decision == "promote"
    assert "approval.mode never: promoted without asking a person" in never.reasons
    always = judge(RULES, {"roc_auc": 0.8}, {"roc_auc": 0.8}, [], Policy(mode="always"))
    assert always.decision == "approval" and always.risk.score == 0.0


def test_score_above_reject_above_rejects_without_a_hard_failure() -> None:
    policy = Policy(reject_above=0.4)
    gate = judge(RULES, {"roc_auc": 0.785}, {"roc_auc": 0.80}, fair(0.2), policy)
    assert gate.decision == "reject" and ">= reject_above 0.4" in gate.reasons[0]


@pytest.mark.parametrize(
    ("policy", "decision"), [("promote", "promote"), ("approval", "approval"), ("reject", "reject")]
)
def test_cold_start_follows_on_missing_champion(policy: str, decision: str) -> None:
    gate = judge(RULES, {"roc_auc": 0.8}, None, [], Policy(on_missing_champion=policy))
    assert gate.decision == decision
    assert gate.risk.factors["cold_start"] == 1.0


def test_cold_start_plus_a_soft_fairness_gap_asks_a_person() -> None:
    gate = judge(RULES, {"roc_auc": 0.8}, None, fair(0.16), Policy())
    assert gate.decision == "approval"


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
    with pytest.raises(ValueError, match="no rows"):
        latency.measure(print, frame.iloc[:0], batch_size=10, repeats=2)
