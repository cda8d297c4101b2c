"""Group fairness of thresholded predictions, computed the textbook way (as fairlearn does).

- demographic parity difference: max - min over groups of the selection rate P(ŷ=1 | group);
- equal opportunity difference: max - min over groups of the true positive rate
  P(ŷ=1 | y=1, group);
- groups are the distinct values of one column, or of several columns combined
  (intersectional groups, "contract=one-year|payment_method=mailed-check").

A group smaller than `min_group_size` rows is reported but left out of both differences (a
rate over 5 rows is noise, not evidence); a group without positive labels has no true positive
rate. Fewer than two groups left means a difference cannot be computed (NaN), and the gate
fails closed on it.

Uncertainty (`gap_interval`): each counted group's rate gets a Wilson interval, all of them
simultaneously (Bonferroni over the G groups: each side at alpha / (2 G)); with every rate
inside its interval, the gap max - min lies between max(lower) - min(upper) and
max(upper) - min(lower). So a small group widens the gap's interval instead of being trusted,
and the gate passes a gap only when even its upper end is within the limit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from airflow_mlops_provider.core.intervals import wilson

DPD = "demographic_parity_difference"
EOD = "equal_opportunity_difference"


@dataclass(frozen=True)
class GroupRates:
    group: str
    rows: int
    positives: int
    selection_rate: float
    true_positive_rate: float | None  # None: the group has no positive label
    included: bool  # False: smaller than min_group_size, left out of the differences
    selected: int = 0  # rows predicted positive
    true_positives: int = 0  # positive rows predicted positive


@dataclass(frozen=True)
class FairnessResult:
    groups: tuple[GroupRates, ...]
    demographic_parity_difference: float
    equal_opportunity_difference: float
    min_group_size: int

    def metrics(self) -> dict[str, float]:
        return {DPD: self.demographic_parity_difference, EOD: self.equal_opportunity_difference}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def group_labels(frame: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """One group name per row: "column=value", joined with "|" for several columns."""
    parts = [frame[c].astype("string").fillna("<missing>").radd(f"{c}=") for c in columns]
    labels = parts[0]
    for part in parts[1:]:
        labels = labels + "|" + part
    return labels.to_numpy(dtype=str)


def group_fairness(
    groups: Sequence[str] | np.ndarray,
    y_true: Sequence[float] | np.ndarray,
    y_pred: Sequence[bool] | np.ndarray,
    *,
    min_group_size: int,
) -> FairnessResult:
    """Per-group selection and true positive rates, and their max - min differences."""
    g = np.asarray(groups, dtype=str)
    y = np.asarray(y_true, dtype=float) == 1
    p = np.asarray(y_pred, dtype=bool)
    if not len(g) == len(y) == len(p):
        raise ValueError(f"{len(g)} group labels, {len(y)} labels, {len(p)} predictions")
    rates = []
    for name in sorted(set(g.tolist())):
        rows = g == name
        positives = int((rows & y).sum())
        rates.append(
            GroupRates(
                group=name,
                rows=int(rows.sum()),
                positives=positives,
                selection_rate=float(p[rows].mean()),
                true_positive_rate=float(p[rows & y].mean()) if positives else None,
                included=int(rows.sum()) >= min_group_size,
                selected=int(p[rows].sum()),
                true_positives=int(p[rows & y].sum()),
            )
        )
    included = [r for r in rates if r.included]
    tprs = [r.true_positive_rate for r in included if r.true_positive_rate is not None]
    return FairnessResult(
        groups=tuple(rates),
        demographic_parity_difference=_spread([r.selection_rate for r in included]),
        equal_opportunity_difference=_spread(tprs),
        min_group_size=min_group_size,
    )


def gap_interval(result: FairnessResult, key: str, alpha: float) -> tuple[float, float]:
    """Interval of a gap (DPD or EOD) whose two ends are one-sided bounds at level alpha."""
    if key == DPD:
        counts = [(g.selected, g.rows) for g in result.groups if g.included]
    elif key == EOD:
        counts = [
            (g.true_positives, g.positives) for g in result.groups if g.included and g.positives
        ]
    else:
        raise ValueError(f"unknown fairness gap {key!r}; one of {DPD}, {EOD}")
    if len(counts) < 2:
        return math.nan, math.nan
    bounds = [wilson(k, n, alpha / (2 * len(counts))) for k, n in counts]
    low = max(lo for lo, _ in bounds) - min(hi for _, hi in bounds)
    high = max(hi for _, hi in bounds) - min(lo for lo, _ in bounds)
    return max(0.0, low), min(1.0, high)


def _spread(values: list[float]) -> float:
    return max(values) - min(values) if len(values) >= 2 else math.nan
