"""Metric estimates with their uncertainty: paired (gate) and per arm (canary).

Gate — both models score the same holdout rows, so their errors are correlated and the
variance of the *difference* is much smaller than the sum of the two variances:

* ``roc_auc``: DeLong's covariance matrix (core/auc.py), O(n log n);
* every other metric: the paired bootstrap over rows (core/resample.py, RESAMPLES resamples,
  fixed seed): the covariance matrix of (challenger, champion) over the resamples.

Canary — the arms are disjoint sets of requests, so they are independent and each arm's
variance comes from its own requests (``arm_estimate``): DeLong for ``roc_auc``; the delta
method on the metric's per-row components for the others (var = g' S g / n with g the
metric's gradient at the component means and S their covariance); a smoothed binomial
variance for proportions; an order-statistic interval for a latency percentile.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from airflow_mlops_provider.core import metrics as m
from airflow_mlops_provider.core.auc import delong
from airflow_mlops_provider.core.resample import RESAMPLES, SEED, bootstrap_means

#: Fewer bootstrap resamples than this share giving a defined metric: no interval (NaN).
MIN_DEFINED_SHARE = 0.9


@dataclass(frozen=True)
class MetricEstimate:
    """One metric of the challenger and, measured on the same rows, of the champion.

    Variances and the covariance are those of the *estimates* (squared standard errors);
    NaN means the uncertainty could not be estimated (the gate then cannot decide the bound).
    """

    metric: str
    challenger: float
    champion: float | None = None
    var_challenger: float = 0.0
    var_champion: float = 0.0
    covariance: float = 0.0
    method: str = "exact"  # delong | bootstrap | exact (known without error, e.g. in tests)
    rows: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def paired_estimates(
    names: list[str],
    y_true: Any,
    challenger: Any,
    champion: Any | None,
    *,
    threshold: float,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> dict[str, MetricEstimate]:
    """Every named metric of both models on the same rows, with the covariance matrix."""
    y = np.asarray(y_true, dtype=float)
    models = [m.to_scores(challenger)] + ([m.to_scores(champion)] if champion is not None else [])
    if any(s.shape != y.shape for s in models):
        raise ValueError(f"{len(y)} labels but {[len(s) for s in models]} predictions")
    found: dict[str, MetricEstimate] = {}
    if "roc_auc" in names:
        found["roc_auc"] = _delong_estimate(y, models)
    others = [n for n in names if n not in m.RANK_METRICS]
    if others and len(y):
        found.update(_bootstrap_estimates(others, y, models, threshold, resamples, seed))
    elif others:
        found.update({n: MetricEstimate(n, math.nan, None, math.nan) for n in others})
    return {n: found[n] for n in names}


def _delong_estimate(y: np.ndarray, models: list[np.ndarray]) -> MetricEstimate:
    aucs, cov = delong(y, *models)
    if math.isnan(aucs[0]):  # too few rows of a class for a variance: the value alone
        values = [m.roc_auc(y, s) for s in models]
        return MetricEstimate(
            "roc_auc", values[0], values[1] if len(values) > 1 else None,
            math.nan, math.nan, math.nan, "delong", len(y),
        )  # fmt: skip
    paired = len(models) > 1
    return MetricEstimate(
        metric="roc_auc",
        challenger=float(aucs[0]),
        champion=float(aucs[1]) if paired else None,
        var_challenger=float(cov[0, 0]),
        var_champion=float(cov[1, 1]) if paired else 0.0,
        covariance=float(cov[0, 1]) if paired else 0.0,
        method="delong",
        rows=len(y),
    )


def _bootstrap_estimates(
    names: list[str],
    y: np.ndarray,
    models: list[np.ndarray],
    threshold: float,
    resamples: int,
    seed: int,
) -> dict[str, MetricEstimate]:
    """One bootstrap pass for every metric and both models (the same resampled rows)."""
    blocks = [(name, s, m.components(name, y, s, threshold)) for name in names for s in models]
    stacked = np.vstack([c for _, _, c in blocks])
    means = bootstrap_means(stacked, resamples=resamples, seed=seed)
    full = stacked.mean(axis=1)
    found: dict[str, MetricEstimate] = {}
    row = 0
    values: dict[str, list[tuple[float, np.ndarray]]] = {}
    for name, _, block in blocks:
        k = block.shape[0]
        point = float(m.from_means(name, full[row : row + k, None])[0])
        values.setdefault(name, []).append((point, m.from_means(name, means[row : row + k])))
        row += k
    for name, pairs in values.items():
        found[name] = _from_resamples(name, pairs, len(y))
    return found


def _from_resamples(name: str, pairs: list[tuple[float, np.ndarray]], rows: int) -> MetricEstimate:
    points = [p for p, _ in pairs]
    draws = np.vstack([d for _, d in pairs])
    defined = np.isfinite(draws).all(axis=0)
    if defined.mean() < MIN_DEFINED_SHARE:
        cov = np.full((len(pairs), len(pairs)), math.nan)
    else:
        cov = np.atleast_2d(np.cov(draws[:, defined]))
    paired = len(pairs) > 1
    return MetricEstimate(
        metric=name,
        challenger=points[0],
        champion=points[1] if paired else None,
        var_challenger=float(cov[0, 0]),
        var_champion=float(cov[1, 1]) if paired else 0.0,
        covariance=float(cov[0, 1]) if paired else 0.0,
        method="bootstrap",
        rows=rows,
    )


# --------------------------------------------------------------------------------------------
# canary arms: independent requests, one arm at a time
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArmEstimate:
    """One arm's metric over its requests: value, variance of that value (None: the source
    gives no per-request data, e.g. a Prometheus query), and the requests it rests on."""

    value: float
    variance: float | None
    n: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: Per-metric data an arm needs before its estimate is treated as approximately normal.
MIN_CLASS_ROWS = 10  # roc_auc: labelled positives and negatives, each
MIN_REQUESTS = 30  # means, ratios and proportions
MIN_TIMED_BATCHES = 20  # latency percentile: distinct timings


def arm_estimate(name: str, y: np.ndarray, s: np.ndarray, threshold: float) -> ArmEstimate:
    """A model metric of one arm with its variance (NaN value when there is too little)."""
    n = len(y)
    if name == "roc_auc":
        positives = int((y == 1).sum())
        if min(positives, n - positives) < MIN_CLASS_ROWS:
            return ArmEstimate(math.nan, None, n)
        aucs, cov = delong(y, s)
        return ArmEstimate(float(aucs[0]), float(cov[0, 0]), n)
    if n < MIN_REQUESTS:
        return ArmEstimate(math.nan, None, n)
    if name == "accuracy":
        correct = float(m.components(name, y, s, threshold).sum())
        return proportion_estimate(correct, n)
    comps = m.components(name, y, s, threshold)
    means = comps.mean(axis=1)
    value = float(m.from_means(name, means[:, None])[0])
    if not math.isfinite(value):
        return ArmEstimate(math.nan, None, n)
    grad = m.gradient(name, means)
    if not np.isfinite(grad).all():
        return ArmEstimate(value, None, n)
    cov = np.atleast_2d(np.cov(comps))
    variance = float(grad @ cov @ grad) / n
    return ArmEstimate(value, max(variance, 1.0 / (n * n)), n)  # floor: one request's worth


def proportion_estimate(events: float, n: int) -> ArmEstimate:
    """A share of requests; its variance uses (k+1)/(n+2) so that 0 events out of n is not
    known exactly (Agresti & Coull 1998: add pseudo-counts before the normal approximation)."""
    if n < MIN_REQUESTS:
        return ArmEstimate(events / n if n else math.nan, None, n)
    smoothed = (events + 1) / (n + 2)
    return ArmEstimate(events / n, smoothed * (1 - smoothed) / n, n)


def quantile_estimate(values: np.ndarray, q: float, confidence_z: float = 1.96) -> ArmEstimate:
    """A latency percentile with its variance from the order-statistic interval.

    Requests timed together (one micro-batch) share one timing, so the sample size is the
    number of distinct timings, not of requests. The ranks n q -/+ z sqrt(n q (1-q)) of the
    sorted distinct timings bound the percentile (binomial interval); their spread / (2 z) is
    its standard error."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if not values.size:
        return ArmEstimate(math.nan, None, 0)
    value = float(np.percentile(values, 100 * q))
    distinct = np.unique(values)
    k = distinct.size
    if k < MIN_TIMED_BATCHES:
        return ArmEstimate(value, None, int(values.size))
    spread = confidence_z * math.sqrt(k * q * (1 - q))
    low = int(np.clip(math.floor(k * q - spread), 0, k - 1))
    high = int(np.clip(math.ceil(k * q + spread), 0, k - 1))
    se = (distinct[high] - distinct[low]) / (2 * confidence_z)
    return ArmEstimate(value, float(se * se), int(values.size))
