"""The sequential canary judge: bounds on confidence sequences, per-arm estimates, the step
and seeded rollouts of equal and worse canaries."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from airflow_mlops_provider.core import canary_judge as cj
from airflow_mlops_provider.core.canary import FAIL, INCONCLUSIVE, PASS
from airflow_mlops_provider.core.estimates import ArmEstimate
from airflow_mlops_provider.core.sequential import half_width
from airflow_mlops_provider.spec import CanaryMetricRule

RULES = {
    "roc_auc": CanaryMetricRule(max_regression=0.02),
    "error_rate": CanaryMetricRule(max=0.01),
}


def arm(values: dict, n: int = 5000, se: float = 0.002) -> dict[str, ArmEstimate]:
    """An arm measured on n requests with standard error `se` (error_rate: a share)."""
    return {
        k: ArmEstimate(v, se * se if k != "error_rate" else 1 / n**2, n) for k, v in values.items()
    }


def measure(values: dict, n: int = 5000, se: float = 0.002, rules: dict = RULES):
    champion = arm({"roc_auc": 0.80, "error_rate": 0.0}, n, se)
    return cj.judge(rules, arm(values, n, se), champion, alpha=0.01)


def test_clearly_within_passes_clearly_outside_fails() -> None:
    good = measure({"roc_auc": 0.80, "error_rate": 0.0})
    assert good.status == PASS and good.reasons[0].startswith("every bound holds")
    worse = measure({"roc_auc": 0.70, "error_rate": 0.0})
    assert worse.status == FAIL
    assert worse.reasons[0].startswith("roc_auc regression 0.1000 (sequence 0.08")
    assert worse.reasons[0].endswith(
        "vs roc_auc regression <= 0.02: outside the bound beyond doubt"
    )
    check = worse.checks[0]
    assert check["verdict"] == FAIL and check["lower"] < 0.1 < check["upper"]
    assert worse.samples == {"canary": 5000, "champion": 5000}


def test_a_regression_within_the_noise_stays_inconclusive_and_says_what_it_needs() -> None:
    """The incident of issue 17: an identical model's arm 0.086 below on ~200 requests —
    with standard errors of 0.03 that is noise: inconclusive, never a rollback."""
    thin = measure({"roc_auc": 0.7596, "error_rate": 0.0}, n=206, se=0.03)
    assert thin.status == INCONCLUSIVE
    assert "requests per arm would likely decide it" in thin.reasons[0]
    assert thin.checks[0]["needed"] > 206


def test_missing_metric_is_inconclusive_and_direction_is_respected() -> None:
    nan = measure({"roc_auc": math.nan, "error_rate": 0.0})
    assert nan.status == INCONCLUSIVE and "roc_auc could not be computed yet" in nan.reasons[0]
    errors = measure({"roc_auc": 0.81, "error_rate": 0.05})
    assert errors.status == FAIL and errors.reasons[0].startswith("error_rate value 0.0500")
    rules = {"latency_p95_ms": CanaryMetricRule(max_regression=0.5, relative=True)}

    def lat(v: float) -> dict:
        return {"latency_p95_ms": ArmEstimate(v, 0.25, 2000)}

    slow = cj.judge(rules, lat(20), lat(10), alpha=0.01)
    fast = cj.judge(rules, lat(4), lat(10), alpha=0.01)
    assert slow.status == FAIL and "(relative)" in slow.reasons[0]
    assert fast.status == PASS


def test_point_values_from_a_source_without_requests_are_compared_as_points() -> None:
    """A point outside its bound is no evidence of harm: a person decides, no rollback."""
    rules = {"error_rate": CanaryMetricRule(max=0.01)}
    over = cj.judge(rules, {"error_rate": ArmEstimate(0.02, None, 500)}, {}, alpha=0.01)
    assert over.status == INCONCLUSIVE and "no evidence of harm" in over.reasons[0]
    under = cj.judge(rules, {"error_rate": ArmEstimate(0.005, None, 500)}, {}, alpha=0.01)
    assert under.status == PASS and "a point value" in under.reasons[0]
    few = cj.judge(rules, {"error_rate": ArmEstimate(0.0, None, 10)}, {}, alpha=0.01)
    assert few.status == INCONCLUSIVE and "fewer than 30 requests" in few.reasons[0]


def test_failures_are_corrected_for_the_number_of_bounds() -> None:
    """A margin just outside the alpha sequence but inside the alpha / 2 one: not a failure
    with two bounds in the analysis, a failure with one."""
    rules = {"roc_auc": CanaryMetricRule(max_regression=0.02)}
    se = 0.01
    var = 2 * se * se
    between = (half_width(var, 0.01, 0.02) + half_width(var, 0.005, 0.02)) / 2
    values = {"roc_auc": 0.80 - 0.02 - between}
    alone = cj.judge(rules, arm(values, se=se), arm({"roc_auc": 0.8}, se=se), alpha=0.01)
    both = cj.judge(
        {**rules, "accuracy": CanaryMetricRule(min=0.5)},
        arm({**values, "accuracy": 0.9}, se=se),
        arm({"roc_auc": 0.8, "accuracy": 0.9}, se=se),
        alpha=0.01,
    )
    assert alone.status == FAIL and both.status == INCONCLUSIVE


def test_arm_metrics_from_scored_requests() -> None:
    frame = pd.DataFrame(
        {
            "prediction": [0.9, 0.8, 0.2, 0.1, float("nan")],
            "label": [1, 1, 0, 0, 1],
            "latency_ms": [1.0, 2.0, 3.0, 4.0, 5.0],
            "error": [False, False, False, False, True],
        }
    )
    values = cj.arm_metrics(frame, ["roc_auc", "error_rate", "latency_p95_ms"], label="label")
    # too few requests for variances (roc_auc needs 10 labelled positives and negatives)
    assert math.isnan(values["roc_auc"].value) and values["error_rate"].value == pytest.approx(0.2)
    assert values["latency_p95_ms"].value == pytest.approx(4.8)
    assert (values["roc_auc"].n, values["error_rate"].n) == (4, 5)  # labelled and scored; all
    assert values["error_rate"].variance is None  # fewer than 30 requests
    unlabelled = cj.arm_metrics(frame.drop(columns="label"), ["roc_auc"], label="label")
    assert math.isnan(unlabelled["roc_auc"].value) and unlabelled["roc_auc"].n == 0


def traffic(rng: np.random.Generator, n: int, separation: float) -> pd.DataFrame:
    """Scored requests of one arm: labels 30% positive, scores a logistic of a normal
    whose means differ by `separation` between the classes (AUC = Phi(separation / sqrt 2))."""
    y = (rng.random(n) < 0.3).astype(int)
    s = 1 / (1 + np.exp(-(rng.normal(0, 1, n) + separation * y)))
    return pd.DataFrame({"prediction": s, "label": y, "error": False, "latency_ms": 5.0})


def run_judge(rng: np.random.Generator, separation: float, looks: int = 4) -> list[str]:
    """Statuses of the judge at each look over cumulative traffic (20% canary, 80% champion)."""
    canary_rows, champion_rows, statuses = [], [], []
    for _ in range(looks):
        canary_rows.append(traffic(rng, 400, separation))
        champion_rows.append(traffic(rng, 1600, 1.2))
        mine = cj.arm_metrics(pd.concat(canary_rows), list(RULES), label="label")
        theirs = cj.arm_metrics(pd.concat(champion_rows), list(RULES), label="label")
        statuses.append(cj.judge(RULES, mine, theirs, alpha=0.01).status)
    return statuses


def test_seeded_trials_an_equal_canary_is_never_rolled_back_a_worse_one_is() -> None:
    """30 seeded rollouts of an equally good canary, looked at 4 times as traffic grows:
    no look fails (the sequence holds at every look). The same with a canary whose AUC is
    0.14 lower (margin 0.02): it fails by the last look in every trial, and never passes."""
    rng = np.random.default_rng(12)
    equal = [run_judge(rng, 1.2) for _ in range(30)]
    worse = [run_judge(rng, 0.6) for _ in range(30)]
    assert sum(FAIL in s for s in equal) == 0
    assert sum(FAIL in s for s in worse) >= 29
    assert sum(PASS in s for s in worse) == 0


def test_a_shadow_comparison_decides_what_disjoint_arms_cannot() -> None:
    """4,000 requests scored by two equally good, correlated models: paired (shadow) the
    difference is known to about 0.002 and passes the 0.02 margin; the same requests split
    20/80 between two arms leave it undecided."""
    rng = np.random.default_rng(21)
    n = 4000
    y = (rng.random(n) < 0.3).astype(float)
    shared = rng.normal(size=n)

    def model() -> np.ndarray:
        latent = 1.2 * y + np.sqrt(0.9) * shared + np.sqrt(0.1) * rng.normal(size=n)
        return 1 / (1 + np.exp(-latent))

    a, b = model(), model()
    rules = {"roc_auc": CanaryMetricRule(max_regression=0.02)}
    mine, theirs, cov = cj.shadow_estimates(["roc_auc"], y, a, b, threshold=0.5)
    paired = cj.judge(rules, mine, theirs, alpha=0.01, covariance=cov)
    assert paired.status == PASS and cov["roc_auc"] > 0
    canary = rng.random(n) < 0.2
    split = cj.judge(
        rules,
        {"roc_auc": cj.arm_estimate("roc_auc", y[canary], a[canary], 0.5)},
        {"roc_auc": cj.arm_estimate("roc_auc", y[~canary], b[~canary], 0.5)},
        alpha=0.01,
    )
    assert split.status == INCONCLUSIVE
