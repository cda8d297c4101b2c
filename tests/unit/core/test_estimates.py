"""Uncertainty of gate and canary metrics: DeLong against its O(n^2) definition and the
bootstrap, the paired bootstrap against closed forms, the delta method against the bootstrap,
and seeded coverage trials of the intervals the gate uses."""

from __future__ import annotations

import math

import numpy as np
import pytest

from airflow_mlops_provider.core.auc import delong, roc_auc
from airflow_mlops_provider.core.estimates import (
    arm_estimate,
    paired_estimates,
    proportion_estimate,
    quantile_estimate,
)
from airflow_mlops_provider.core.intervals import holm, normal_p_values, wilson, z_of
from airflow_mlops_provider.core.metrics import compute
from airflow_mlops_provider.core.resample import bootstrap_means


def scores(rng: np.random.Generator, y: np.ndarray, signal: float) -> np.ndarray:
    return 1 / (1 + np.exp(-(signal * (2 * y - 1) + rng.normal(0, 1, y.size))))


def delong_by_definition(y: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """DeLong 1988 straight from its definition: psi over every positive-negative pair."""

    def placements(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pos, neg = s[y == 1], s[y == 0]
        psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
        return psi.mean(axis=1), psi.mean(axis=0)

    (a10, a01), (b10, b01) = placements(a), placements(b)
    m, n = a10.size, a01.size
    return np.cov(np.vstack([a10, b10])) / m + np.cov(np.vstack([a01, b01])) / n


def test_fast_delong_equals_the_quadratic_definition_with_ties() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 300)
    a = np.round(scores(rng, y, 0.8), 2)  # rounding makes ties
    b = np.round(0.7 * a + 0.3 * scores(rng, y, 0.5), 2)
    aucs, cov = delong(y, a, b)
    assert aucs[0] == pytest.approx(roc_auc(y, a)) and aucs[1] == pytest.approx(roc_auc(y, b))
    np.testing.assert_allclose(cov, delong_by_definition(y, a, b), rtol=1e-10)


def test_delong_variance_agrees_with_the_bootstrap() -> None:
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 2000)
    a, b = scores(rng, y, 0.9), scores(rng, y, 0.9)
    _, cov = delong(y, a, b)
    picks = np.random.default_rng(3).integers(0, y.size, (400, y.size))
    diffs = [roc_auc(y[p], a[p]) - roc_auc(y[p], b[p]) for p in picks]
    delong_var = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    assert np.var(diffs) == pytest.approx(delong_var, rel=0.2)


def test_delong_needs_both_classes() -> None:
    aucs, cov = delong(np.array([1, 1, 0]), np.array([0.2, 0.3, 0.1]))
    assert math.isnan(aucs[0]) and math.isnan(cov[0, 0])


def test_bootstrap_means_are_paired_and_seeded() -> None:
    data = np.vstack([np.arange(100.0), np.arange(100.0)])
    draws = bootstrap_means(data, resamples=50, seed=7)
    np.testing.assert_array_equal(draws[0], draws[1])  # same rows for both columns
    np.testing.assert_array_equal(draws, bootstrap_means(data, resamples=50, seed=7))
    assert draws[0].std() == pytest.approx(np.arange(100.0).std() / 10, rel=0.3)


def test_paired_accuracy_difference_matches_the_discordant_pairs_formula() -> None:
    """var(acc_a - acc_b) = (p10 + p01 - (p10 - p01)^2) / n (McNemar's variance)."""
    rng = np.random.default_rng(4)
    n = 5000
    y = rng.integers(0, 2, n)
    a, b = scores(rng, y, 0.8), scores(rng, y, 0.8)
    est = paired_estimates(["accuracy"], y, a, b, threshold=0.5)["accuracy"]
    right_a, right_b = (a >= 0.5) == (y == 1), (b >= 0.5) == (y == 1)
    p10, p01 = np.mean(right_a & ~right_b), np.mean(~right_a & right_b)
    expected = (p10 + p01 - (p10 - p01) ** 2) / n
    got = est.var_challenger + est.var_champion - 2 * est.covariance
    assert got == pytest.approx(expected, rel=0.15)
    assert est.challenger == pytest.approx(compute(["accuracy"], y, a)["accuracy"])


def test_identical_models_have_a_difference_known_exactly() -> None:
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 800)
    s = scores(rng, y, 0.7)
    found = paired_estimates(["roc_auc", "f1", "log_loss"], y, s, s.copy(), threshold=0.5)
    for est in found.values():
        diff_var = est.var_challenger + est.var_champion - 2 * est.covariance
        assert diff_var == pytest.approx(0.0, abs=1e-15) and est.challenger == est.champion


@pytest.mark.parametrize("name", ["f1", "precision", "rmse", "r2", "log_loss", "mae"])
def test_delta_method_agrees_with_the_bootstrap(name: str) -> None:
    rng = np.random.default_rng(6)
    n = 3000
    y = rng.integers(0, 2, n).astype(float)
    s = scores(rng, y, 0.6)
    arm = arm_estimate(name, y, s, 0.5)
    boot = paired_estimates([name], y, s, None, threshold=0.5)[name]
    assert arm.value == pytest.approx(boot.challenger)
    assert arm.variance == pytest.approx(boot.var_challenger, rel=0.2)


def test_small_or_one_class_arms_have_no_estimate() -> None:
    y = np.array([1.0] * 5 + [0.0] * 100)
    assert math.isnan(arm_estimate("roc_auc", y, np.linspace(0, 1, 105), 0.5).value)
    assert arm_estimate("f1", y[:10], np.ones(10), 0.5).variance is None


def test_proportions_are_never_known_exactly_from_zero_events() -> None:
    none = proportion_estimate(0, 1000)
    assert none.value == 0.0 and none.variance == pytest.approx((1 / 1002) * (1001 / 1002) / 1000)


def test_latency_percentile_counts_batches_not_requests() -> None:
    rng = np.random.default_rng(7)
    batches = rng.gamma(4.0, 5.0, 200)
    per_request = np.repeat(batches, 64)  # 64 requests timed together share one timing
    single = quantile_estimate(batches, 0.95)
    shared = quantile_estimate(per_request, 0.95)
    assert shared.variance == pytest.approx(single.variance)  # the extra rows add nothing
    assert shared.value == pytest.approx(np.percentile(per_request, 95))
    assert quantile_estimate(batches[:10], 0.95).variance is None


def test_gate_interval_of_an_auc_difference_covers_at_its_level() -> None:
    """200 seeded trials of two different but equally good models: the 90% interval of the
    AUC difference covers the true difference (0) in 90% of them, give or take the trials'
    own noise (binomial sd 2.1 points)."""
    rng = np.random.default_rng(8)
    covered = 0
    for _ in range(200):
        y = rng.integers(0, 2, 1500)
        latent = rng.normal(0, 1, y.size)
        a = scores(rng, y, 0.8) + 0.3 * latent
        b = scores(rng, y, 0.8) + 0.3 * latent
        est = paired_estimates(["roc_auc"], y, a, b, threshold=0.5)["roc_auc"]
        se = math.sqrt(est.var_challenger + est.var_champion - 2 * est.covariance)
        covered += abs(est.challenger - est.champion) <= z_of(0.05) * se
    assert 170 <= covered <= 192


def test_wilson_and_normal_tails() -> None:
    low, high = wilson(0, 50, 0.025)
    assert low == 0.0 and 0.05 < high < 0.09
    assert wilson(50, 50, 0.025)[1] == 1.0
    assert normal_p_values(0.0, 0.0) == (0.0, 1.0) and normal_p_values(-1e-9, 0.0) == (1.0, 0.0)
    within, outside = normal_p_values(1.645, 1.0)
    assert within == pytest.approx(0.05, abs=1e-3) and outside == pytest.approx(0.95, abs=1e-3)


def test_holm_steps_down() -> None:
    assert holm([0.01, 0.04, 0.03], 0.05) == [True, False, False]
    assert holm([0.01, 0.02, 0.03], 0.05) == [True, True, True]
    assert holm([], 0.05) == []
