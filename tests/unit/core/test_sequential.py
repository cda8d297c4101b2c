"""Confidence sequences stay valid under repeated looks, where fixed intervals do not."""

from __future__ import annotations

import math

import numpy as np
import pytest

from airflow_mlops_provider.core.intervals import z_of
from airflow_mlops_provider.core.sequential import half_width, variance_to_decide


def crossings(width_at: object, trials: int = 300, looks: int = 100, step: int = 50) -> int:
    """Trials in which the interval around a running mean of N(0, 1) data excludes the true
    mean 0 at *some* look (every `step` observations)."""
    rng = np.random.default_rng(11)
    n = np.arange(1, looks + 1) * step
    widths = np.array([width_at(1.0 / k) for k in n])
    sums = np.cumsum(rng.normal(0, 1, (trials, looks * step)), axis=1)[:, step - 1 :: step]
    return int(np.any(np.abs(sums / n) > widths, axis=1).sum())


def test_the_sequence_keeps_its_level_over_a_hundred_looks() -> None:
    always_valid = crossings(lambda v: half_width(v, 0.05, tau=0.1))
    fixed = crossings(lambda v: z_of(0.025) * math.sqrt(v))
    assert always_valid <= 15  # <= 5% of 300 trials (the bound is conservative)
    assert fixed >= 60  # a fixed 95% interval, peeked at 100 times, misses in >= 20%


def test_width_grows_with_variance_and_shrinks_with_alpha() -> None:
    assert half_width(0.0, 0.05, 0.1) == 0.0 and math.isinf(half_width(math.inf, 0.05, 0.1))
    widths = [half_width(v, 0.05, 0.1) for v in (1e-6, 1e-5, 1e-4, 1e-3)]
    assert widths == sorted(widths)
    assert half_width(1e-4, 0.01, 0.1) > half_width(1e-4, 0.05, 0.1)
    # always wider than the fixed-sample interval at the same level: the price of peeking
    assert half_width(1e-4, 0.05, 0.1) > z_of(0.025) * 0.01


def test_variance_to_decide_inverts_the_width() -> None:
    target = variance_to_decide(0.02, 0.01, 0.02)
    assert half_width(target, 0.01, 0.02) == pytest.approx(0.02, rel=1e-6)
    assert variance_to_decide(0.0, 0.01, 0.02) == 0.0
