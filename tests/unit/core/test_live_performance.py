"""Live performance: the label join and the metric on the labelled part (pure pandas)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from airflow_mlops_provider.core.live_performance import (
    DECAYED,
    OK,
    TOO_FEW_LABELS,
    assess,
    join_labels,
)
from airflow_mlops_provider.spec import PerformanceSpec

WINDOW = pd.DataFrame(
    {
        "request_id": ["r1", "r2", "r3", "r4", "r5", "r6"],
        "prediction": [0.9, 0.8, 0.3, 0.2, 0.7, None],
        "tenure": [1, 2, 3, 4, 5, 6],
    }
)


def join(labels: pd.DataFrame):
    return join_labels(
        WINDOW, labels, id_column="request_id", target="y", prediction_column="prediction"
    )


def test_join_keeps_labelled_requests_and_counts_the_rest() -> None:
    labels = pd.DataFrame(
        {
            "request_id": ["r1", "r2", "r2", "r3", "r4", "r6", "x9", "r5"],
            "y": [1, 0, 1, 0, 0, 1, 1, None],
        }
    )
    joined, stats = join(labels)
    # r2 labelled twice: the later label (a correction) wins; r5's label is missing; r6 was
    # served without a prediction; x9 is not a request of this window.
    assert joined.set_index("request_id")["y"].to_dict() == {"r1": 1, "r2": 1, "r3": 0, "r4": 0}
    assert (stats.window_rows, stats.label_rows, stats.duplicate_labels) == (6, 7, 1)
    assert (stats.unmatched_labels, stats.labelled_rows) == (2, 4)
    assert stats.labelled_share == pytest.approx(4 / 6)


def test_join_names_the_missing_column() -> None:
    with pytest.raises(ValueError, match=r"labels lacks column\(s\) \['y'\]"):
        join(pd.DataFrame({"request_id": ["r1"], "churned": [1]}))
    with pytest.raises(ValueError, match=r"inference-log window lacks .*'prediction'"):
        join_labels(
            WINDOW.drop(columns="prediction"),
            pd.DataFrame({"request_id": ["r1"], "y": [1]}),
            id_column="request_id",
            target="y",
            prediction_column="prediction",
        )


def judge(labels: pd.DataFrame, rule: PerformanceSpec | None):
    joined, stats = join(labels)
    return assess(
        joined,
        stats,
        target="y",
        prediction_column="prediction",
        metrics=["roc_auc", "accuracy"],
        threshold=0.5,
        rule=rule,
    )


GOOD = pd.DataFrame({"request_id": ["r1", "r2", "r3", "r4", "r5"], "y": [1, 1, 0, 0, 1]})
FLIPPED = GOOD.assign(y=1 - GOOD["y"])


def test_metrics_on_the_labelled_part_against_the_bound() -> None:
    rule = PerformanceSpec(metric="accuracy", min=0.8, min_labelled_rows=5)
    good = judge(GOOD, rule)
    assert good.status == OK and good.value == 1.0 and good.metrics["roc_auc"] == 1.0
    assert good.reason == "performance: accuracy 1.000 >= min 0.8 on 5 labelled"
    bad = judge(FLIPPED, rule)
    assert bad.status == DECAYED and bad.value == 0.0 and bad.bound == {"min": 0.8}
    assert bad.reason == "performance: accuracy 0.000 < min 0.8 on 5 labelled"
    assert bad.to_dict()["stats"]["labelled_rows"] == 5


def test_lower_is_better_metric_uses_max() -> None:
    rule = PerformanceSpec(metric="log_loss", max=0.5, min_labelled_rows=1)
    assert judge(GOOD, rule).status == OK
    decayed = judge(FLIPPED, rule)
    assert decayed.status == DECAYED and "> max 0.5" in decayed.reason


def test_too_few_labels_is_not_judged() -> None:
    rule = PerformanceSpec(metric="accuracy", min=0.8, min_labelled_rows=6)
    result = judge(FLIPPED, rule)
    assert result.status == TOO_FEW_LABELS and result.metrics == {}
    assert result.reason == "5 labelled requests of 6 (need 6); not judged yet"


def test_uncomputable_metric_counts_as_decay() -> None:
    one_class = pd.DataFrame({"request_id": ["r1", "r2"], "y": [1, 1]})
    result = judge(one_class, PerformanceSpec(metric="roc_auc", min=0.7, min_labelled_rows=1))
    assert result.status == DECAYED and math.isnan(result.value)
    assert "could not be computed" in result.reason
    assert result.to_dict()["metrics"]["roc_auc"] is None  # JSON-safe


def test_without_a_rule_metrics_are_reported_only() -> None:
    result = judge(FLIPPED, None)
    assert result.status == OK and result.metrics["accuracy"] == 0.0 and result.metric is None
