"""Group fairness metrics against a direct pandas computation, and their edge cases."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from airflow_mlops_provider.core.fairness import (
    DPD,
    EOD,
    gap_interval,
    group_fairness,
    group_labels,
)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_a_direct_groupby_computation(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 2000
    frame = pd.DataFrame(
        {
            "group": rng.choice(["a", "b", "c", "d"], size=n, p=[0.4, 0.3, 0.2, 0.1]),
            "y": rng.integers(0, 2, size=n),
        }
    )
    frame["pred"] = rng.random(n) < np.where(frame.group == "a", 0.6, 0.3)
    result = group_fairness(frame.group, frame.y, frame.pred, min_group_size=1)
    selection = frame.groupby("group").pred.mean()
    tpr = frame[frame.y == 1].groupby("group").pred.mean()
    assert result.demographic_parity_difference == pytest.approx(selection.max() - selection.min())
    assert result.equal_opportunity_difference == pytest.approx(tpr.max() - tpr.min())
    assert [g.rows for g in result.groups] == frame.group.value_counts().sort_index().tolist()


def test_small_groups_are_reported_but_not_counted() -> None:
    groups = ["a"] * 50 + ["b"] * 50 + ["tiny"] * 3
    y = [1, 0] * 25 + [1, 0] * 25 + [1, 1, 1]
    pred = [True] * 25 + [False] * 25 + [False] * 50 + [True] * 3
    result = group_fairness(groups, y, pred, min_group_size=10)
    tiny = next(g for g in result.groups if g.group == "tiny")
    assert tiny.rows == 3 and tiny.selection_rate == 1.0 and not tiny.included
    # a: 25/50 selected, b: 0/50; the 3-row group (rate 1.0) would have made it 1.0
    assert result.demographic_parity_difference == pytest.approx(0.5)


def test_fewer_than_two_groups_cannot_be_judged() -> None:
    result = group_fairness(["a"] * 40 + ["b"] * 5, [1] * 45, [True] * 45, min_group_size=10)
    assert math.isnan(result.demographic_parity_difference)
    assert math.isnan(result.equal_opportunity_difference)


def test_group_without_positives_has_no_true_positive_rate() -> None:
    result = group_fairness(
        ["a"] * 4 + ["b"] * 4, [1, 1, 0, 0, 0, 0, 0, 0], [True] * 8, min_group_size=1
    )
    b = next(g for g in result.groups if g.group == "b")
    assert b.true_positive_rate is None and b.positives == 0
    assert math.isnan(result.equal_opportunity_difference)  # only group a has positives
    assert result.demographic_parity_difference == 0.0


def test_intersectional_labels_and_missing_values() -> None:
    frame = pd.DataFrame({"sex": ["f", "m", None], "age": ["<30", ">=30", "<30"]})
    assert group_labels(frame, ["sex", "age"]).tolist() == [
        "sex=f|age=<30",
        "sex=m|age=>=30",
        "sex=<missing>|age=<30",
    ]


def test_length_mismatch_is_an_error() -> None:
    with pytest.raises(ValueError, match="2 group labels, 3 labels"):
        group_fairness(["a", "b"], [0, 1, 1], [True, False, True], min_group_size=1)


def test_gap_interval_contains_the_gap_and_small_groups_widen_it() -> None:
    rng = np.random.default_rng(9)
    big = group_fairness(
        np.repeat(["a", "b"], 2000), rng.integers(0, 2, 4000), rng.random(4000) < 0.4,
        min_group_size=30,
    )  # fmt: skip
    low, high = gap_interval(big, DPD, 0.05)
    assert low <= big.demographic_parity_difference <= high and high < 0.08
    small = group_fairness(
        ["a"] * 2000 + ["b"] * 40, rng.integers(0, 2, 2040), rng.random(2040) < 0.4,
        min_group_size=30,
    )  # fmt: skip
    s_low, s_high = gap_interval(small, DPD, 0.05)
    assert s_high - s_low > 3 * (high - low)


def test_gap_interval_covers_a_true_zero_gap_at_its_level() -> None:
    """Three groups with the same selection rate (true gap 0): the upper end at level 0.05 is
    below 0 — i.e. fails to cover — in at most 5% of seeded trials (it is conservative)."""
    rng = np.random.default_rng(10)
    groups = np.repeat(["a", "b", "c"], [600, 300, 100])
    misses = 0
    for _ in range(200):
        result = group_fairness(groups, rng.integers(0, 2, 1000), rng.random(1000) < 0.3,
                                min_group_size=30)  # fmt: skip
        misses += gap_interval(result, DPD, 0.05)[0] > 0.0
    assert misses <= 10


def test_gap_interval_needs_two_groups() -> None:
    result = group_fairness(["a"] * 40, [1] * 40, [True] * 40, min_group_size=10)
    assert all(math.isnan(v) for v in gap_interval(result, EOD, 0.05))
