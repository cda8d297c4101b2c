"""Live performance: the model's metric on served requests whose ground truth has arrived.

Labels come later than predictions and only for some requests (a churn is known a month on,
a fraud after the chargeback), so the metric is computed on the labelled part of the window
only, and judged only once enough labels joined: a bound checked on a handful of rows would
page people about noise. Pure pandas/numpy; the operator does the I/O.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_mlops_provider.core.metrics import compute
from airflow_mlops_provider.core.vocabulary import LOWER_IS_BETTER

if TYPE_CHECKING:
    import pandas as pd

OK, DECAYED, TOO_FEW_LABELS = "ok", "decayed", "too_few_labels"


@dataclass(frozen=True)
class JoinStats:
    """What the join found, so a low labelled count can be explained (late or mismatched)."""

    window_rows: int
    label_rows: int
    duplicate_labels: int  # same request labelled twice: the last one wins (a correction)
    unmatched_labels: int  # labels for requests that are not in this window
    labelled_rows: int  # window requests with a label and a prediction

    @property
    def labelled_share(self) -> float:
        return self.labelled_rows / self.window_rows if self.window_rows else 0.0


@dataclass(frozen=True)
class LivePerformance:
    status: str  # ok | decayed | too_few_labels
    reason: str
    metrics: dict[str, float]
    stats: JoinStats
    metric: str | None = None
    value: float | None = None
    bound: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["stats"]["labelled_share"] = round(self.stats.labelled_share, 4)
        data["metrics"] = {k: (None if math.isnan(v) else v) for k, v in self.metrics.items()}
        return data


def join_labels(
    window: pd.DataFrame,
    labels: pd.DataFrame,
    *,
    id_column: str,
    target: str,
    prediction_column: str,
) -> tuple[pd.DataFrame, JoinStats]:
    """Inner-join the window's predictions with the labels on the request id.

    Returns the joined rows (`id_column`, `prediction_column`, `target`) and the counts.
    Raises ValueError naming the missing column when either side lacks what the join needs.
    """
    _require(window, [id_column, prediction_column], "inference-log window")
    _require(labels, [id_column, target], "labels")
    labels = labels[[id_column, target]].dropna(subset=[target])
    deduplicated = labels.drop_duplicates(subset=[id_column], keep="last")
    served = window[[id_column, prediction_column]].dropna(subset=[prediction_column])
    served = served.drop_duplicates(subset=[id_column], keep="last")
    joined = served.merge(deduplicated, on=id_column, how="inner", validate="one_to_one")
    stats = JoinStats(
        window_rows=len(window),
        label_rows=len(labels),
        duplicate_labels=len(labels) - len(deduplicated),
        unmatched_labels=len(deduplicated) - len(joined),
        labelled_rows=len(joined),
    )
    return joined, stats


def assess(
    joined: pd.DataFrame,
    stats: JoinStats,
    *,
    target: str,
    prediction_column: str,
    metrics: list[str],
    threshold: float,
    rule: Any | None,
) -> LivePerformance:
    """Compute `metrics` on the labelled rows and judge `rule` (a PerformanceSpec) if given.

    The metric names are the YAML's evaluation metrics plus the rule's, so the live numbers
    line up with the ones the gate promoted the model on."""
    names = list(dict.fromkeys([*metrics, *([rule.metric] if rule else [])]))
    minimum = rule.min_labelled_rows if rule else 1
    if stats.labelled_rows < minimum:
        reason = (
            f"{stats.labelled_rows} labelled requests of {stats.window_rows} "
            f"(need {minimum}); not judged yet"
        )
        return LivePerformance(TOO_FEW_LABELS, reason, {}, stats)
    values = compute(names, joined[target], joined[prediction_column], threshold=threshold)
    if rule is None:
        return LivePerformance(OK, _describe(values, stats), values, stats)
    value = values[rule.metric]
    bound = {k: v for k, v in (("min", rule.min), ("max", rule.max)) if v is not None}
    decayed, why = _judge(rule.metric, value, bound)
    reason = f"performance: {rule.metric} {_fmt(value)} {why} on {stats.labelled_rows} labelled"
    return LivePerformance(
        DECAYED if decayed else OK, reason, values, stats, rule.metric, value, bound
    )


def _judge(metric: str, value: float, bound: dict[str, float]) -> tuple[bool, str]:
    """(decayed, how it compares). NaN (e.g. AUC with one class labelled) counts as decay:
    a metric that cannot be computed is not evidence that the model is fine."""
    if math.isnan(value):
        return True, "could not be computed"
    if "min" in bound and value < bound["min"]:
        return True, f"< min {bound['min']:g}"
    if "max" in bound and value > bound["max"]:
        return True, f"> max {bound['max']:g}"
    limit = f"min {bound['min']:g}" if "min" in bound else f"max {bound['max']:g}"
    direction = "<=" if metric in LOWER_IS_BETTER or "max" in bound else ">="
    return False, f"{direction} {limit}"


def _describe(values: dict[str, float], stats: JoinStats) -> str:
    shown = ", ".join(f"{k} {_fmt(v)}" for k, v in values.items())
    return f"performance: {shown} on {stats.labelled_rows} labelled"


def _fmt(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.3f}"


def _require(frame: pd.DataFrame, columns: list[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{what} lacks column(s) {missing} needed to join labels; it has {list(frame.columns)}"
        )
