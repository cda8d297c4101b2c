"""Metrics against known values and scipy; snapshot ids and the time split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import mannwhitneyu

from airflow_mlops_provider.core.metrics import compute
from airflow_mlops_provider.core.snapshot import snapshot_id, time_split


def test_roc_auc_matches_mann_whitney() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 500)
    s = rng.random(500) + y * 0.3
    u = mannwhitneyu(s[y == 1], s[y == 0]).statistic
    expected = u / ((y == 1).sum() * (y == 0).sum())
    assert compute(["roc_auc"], y, s)["roc_auc"] == pytest.approx(expected)


def test_label_metrics_on_a_known_confusion_matrix() -> None:
    y = [1, 1, 1, 0, 0, 0, 0, 0]
    s = [0.9, 0.8, 0.2, 0.7, 0.1, 0.1, 0.3, 0.2]  # tp=2 fn=1 fp=1 tn=4
    got = compute(["accuracy", "precision", "recall", "f1"], y, s)
    assert got == pytest.approx(
        {"accuracy": 6 / 8, "precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3}
    )


def test_two_column_probabilities_use_positive_class() -> None:
    proba = np.array([[0.9, 0.1], [0.2, 0.8]])
    assert compute(["accuracy"], [0, 1], proba)["accuracy"] == 1.0


def test_regression_metrics() -> None:
    got = compute(["rmse", "mae", "r2"], [1.0, 2.0, 3.0], [1.0, 2.0, 4.0])
    assert got == pytest.approx({"rmse": np.sqrt(1 / 3), "mae": 1 / 3, "r2": 0.5})


def test_single_class_auc_is_nan() -> None:
    assert np.isnan(compute(["roc_auc"], [1, 1], [0.2, 0.9])["roc_auc"])


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "t": pd.to_datetime(
                ["2026-01-03", "2026-01-01", "2026-01-02", "2026-01-04", "2026-01-04"]
            ),
            "x": [3, 1, 2, 4, 5],
        }
    )


def test_snapshot_id_depends_on_values_only() -> None:
    a, b = frame(), frame().copy()
    assert snapshot_id(a) == snapshot_id(b)
    b.loc[0, "x"] = 99
    assert snapshot_id(a) != snapshot_id(b)


def test_time_split_puts_no_future_rows_in_training() -> None:
    train, holdout = time_split(frame(), "t", 0.2)
    assert train["t"].max() < holdout["t"].min()
    assert len(holdout) == 2  # both rows at the cut-off time go to the holdout
    assert len(train) + len(holdout) == 5


def test_time_split_refuses_a_single_timestamp() -> None:
    same = pd.DataFrame({"t": pd.to_datetime(["2026-01-01"] * 4), "x": range(4)})
    with pytest.raises(ValueError, match="share the time"):
        time_split(same, "t", 0.25)
