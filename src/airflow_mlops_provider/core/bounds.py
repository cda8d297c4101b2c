"""A metric rule's bounds as *margins*: signed distances to the bound, positive inside.

The gate and the canary judge share the TFX-style bounds (`min`, `max`, `max_regression`,
`min_improvement`, absolute or `relative`) and differ only in how a margin with its standard
error becomes a verdict (a fixed-sample interval, or a confidence sequence). Each margin is a
*linear* function of the two estimates c (challenger / canary arm) and b (champion), so its
variance follows from their covariance matrix:

    var(a_c c + a_b b) = a_c^2 var(c) + a_b^2 var(b) + 2 a_c a_b cov(c, b)

With s = +1 when higher is better and -1 when lower is better, the *gain* is s (c - b) and

    min:              margin = c - min
    max:              margin = max - c
    max_regression d: margin = d - (-gain)           absolute
                      margin = (d |b| + gain) / |b|  relative (a fraction of the champion)
    min_improvement g: margin = gain - g             absolute
                      margin = (gain - g |b|) / |b|  relative

A relative margin is tested through its numerator (linear in c and b, no ratio estimator);
dividing by |b| only expresses it in the rule's unit for the report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

UPPER_BOUNDS = ("max", "max_regression", "limit")  # inside when measured <= limit


class Rule(Protocol):
    min: float | None
    max: float | None
    max_regression: float | None
    relative: bool


@dataclass(frozen=True)
class Margin:
    """One bound of one metric, measured: `measured` is what the bound is about (the value,
    the regression or the improvement, in the rule's unit) and `margin` its distance to
    `limit`, positive inside; `variance` is the margin's (NaN: unknown)."""

    metric: str
    bound: str  # min | max | max_regression | min_improvement | limit
    limit: float
    relative: bool
    measured: float
    margin: float
    variance: float

    @property
    def se(self) -> float:
        return math.sqrt(self.variance) if self.variance >= 0 else math.nan

    def measured_interval(self, margin_low: float, margin_high: float) -> tuple[float, float]:
        """The interval of `measured` that corresponds to an interval of the margin."""
        if self.bound in UPPER_BOUNDS:
            return self.limit - margin_high, self.limit - margin_low
        return self.limit + margin_low, self.limit + margin_high


def margins(
    name: str,
    rule: Any,
    challenger: float,
    champion: float | None,
    cov: tuple[float, float, float],
    *,
    higher_is_better: bool,
) -> list[Margin]:
    """Every bound the rule sets, as margins; `cov` is (var c, var b, cov(c, b)).

    Change bounds need the champion's value; without one (no champion yet) they are left out.
    """
    var_c, var_b, cov_cb = cov
    found = []
    if rule.min is not None:
        found.append(Margin(name, "min", rule.min, False, challenger, challenger - rule.min, var_c))
    if rule.max is not None:
        found.append(Margin(name, "max", rule.max, False, challenger, rule.max - challenger, var_c))
    if champion is None:
        return found
    s = 1.0 if higher_is_better else -1.0
    gain = s * (challenger - champion)
    improvement = getattr(rule, "min_improvement", None)
    for bound, limit, sign in (
        ("max_regression", rule.max_regression, 1.0),
        ("min_improvement", improvement, -1.0),
    ):
        if limit is None:
            continue
        if rule.relative:
            scale = abs(champion)
            if scale == 0:
                found.append(Margin(name, bound, limit, True, math.nan, math.nan, math.nan))
                continue
            numerator = gain + sign * limit * scale
            a_c, a_b = s, -s + sign * limit * math.copysign(1.0, champion)
            variance = (a_c**2 * var_c + a_b**2 * var_b + 2 * a_c * a_b * cov_cb) / scale**2
            measured = (-gain if bound == "max_regression" else gain) / scale
            found.append(Margin(name, bound, limit, True, measured, numerator / scale, variance))
        else:
            variance = var_c + var_b - 2 * cov_cb
            measured = -gain if bound == "max_regression" else gain
            margin = limit - measured if bound == "max_regression" else measured - limit
            found.append(Margin(name, bound, limit, False, measured, margin, variance))
    return found


def describe(margin: Margin) -> str:
    """The bound in words: 'roc_auc regression <= 0.01', 'f1 improvement >= 5% (relative)'."""
    what = {
        "min": ">=",
        "max": "<=",
        "limit": "<=",
        "max_regression": "regression <=",
        "min_improvement": "improvement >=",
    }[margin.bound]
    unit = " (relative)" if margin.relative else ""
    return f"{margin.metric} {what} {margin.limit:g}{unit}"
