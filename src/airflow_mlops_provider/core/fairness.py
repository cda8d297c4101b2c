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

Uncertainty (`gap_interval`): the gap max - min is the largest difference between two groups,
so "gap <= limit" holds when every pair's |rate_i - rate_j| does. The gate passes a gap when
every pair passes its own one-sided test at alpha (an intersection-union test: no correction;
upper end = max over pairs of |d| + z(1-alpha) se), and fails it when some pair's difference
is beyond the limit with Bonferroni over the P pairs and both signs of the difference
(lower end = max of |d| - z(1 - alpha / 2P) se).
Each rate's variance uses (k+1)/(n+2) (smoothed binomial), so a small group widens the
interval of every pair it is in instead of being trusted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

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
    """Bounds of a gap (DPD or EOD) for the gate's two tests at level alpha: (lower, upper)
    with "gap > limit" shown when lower > limit and "gap <= limit" when upper <= limit."""
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
    pairs = [(a, b) for i, a in enumerate(counts) for b in counts[i + 1 :]]
    z_pass, z_fail = norm.isf(alpha), norm.isf(alpha / (2 * len(pairs)))  # |d|: two tails
    upper = lower = 0.0
    for (k1, n1), (k2, n2) in pairs:
        gap = abs(k1 / n1 - k2 / n2)
        se = math.sqrt(_smoothed_var(k1, n1) + _smoothed_var(k2, n2))
        upper = max(upper, gap + z_pass * se)
        lower = max(lower, gap - z_fail * se)
    return max(0.0, lower), min(1.0, upper)


def _smoothed_var(k: int, n: int) -> float:
    """Binomial variance of a rate with (k+1)/(n+2), so 0 of 40 is not known exactly."""
    p = (k + 1) / (n + 2)
    return p * (1 - p) / n


def _spread(values: list[float]) -> float:
    return max(values) - min(values) if len(values) >= 2 else math.nan
