"""Model metrics computed the same way for challenger and champion, on the same holdout.

Written on numpy/scipy (already dependencies) rather than scikit-learn, which the provider does
not otherwise need; each formula is the textbook one and is tested against known values.

Every metric except ROC AUC is a smooth function of the means of a few per-row *components*
(accuracy: the mean of "correct"; precision: mean(tp) / mean(predicted positive); rmse:
sqrt(mean(squared error)); ...). `components()` gives those rows and `from_means()` the metric
from their means, vectorised over many means at once — which is what a paired bootstrap
(core/estimates.py) and the delta method of the canary judge need. `compute()` uses the same
two functions, so a metric has exactly one definition. ROC AUC is rank-based (core/auc.py).
"""

from __future__ import annotations

import math

import numpy as np

RANK_METRICS = frozenset({"roc_auc"})


def to_scores(predictions: object) -> np.ndarray:
    """Model output → one score per row (positive-class probability for a 2-column output)."""
    values = np.asarray(predictions, dtype=float)
    if values.ndim == 2:
        values = values[:, -1]
    return values.reshape(-1)


def compute(
    names: list[str], y_true: object, scores: object, *, threshold: float = 0.5
) -> dict[str, float]:
    """Compute the named metrics; a metric that cannot be computed is NaN (the gate fails it)."""
    y = np.asarray(y_true, dtype=float)
    s = to_scores(scores)
    if y.shape != s.shape:
        raise ValueError(f"{len(y)} labels but {len(s)} predictions")
    return {name: _one(name, y, s, threshold) for name in names}


def _one(name: str, y: np.ndarray, s: np.ndarray, threshold: float) -> float:
    if name == "roc_auc":
        from airflow_mlops_provider.core.auc import roc_auc

        return roc_auc(y, s)
    if not len(y):
        return math.nan
    means = components(name, y, s, threshold).mean(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(from_means(name, means[:, None])[0])


def components(name: str, y: np.ndarray, s: np.ndarray, threshold: float) -> np.ndarray:
    """(k, rows) per-row components whose means determine the metric (not for roc_auc)."""
    if name in ("accuracy", "precision", "recall", "f1"):
        predicted = s >= threshold
        actual = y == 1
        tp = (predicted & actual).astype(float)
        if name == "accuracy":
            return (predicted == actual).astype(float)[None, :]
        if name == "precision":
            return np.vstack([tp, predicted])
        if name == "recall":
            return np.vstack([tp, actual])
        return np.vstack([tp, predicted, actual])
    if name == "log_loss":
        p = np.clip(s, 1e-15, 1 - 1e-15)
        return (-(y * np.log(p) + (1 - y) * np.log(1 - p)))[None, :]
    if name == "mae":
        return np.abs(y - s)[None, :]
    if name == "rmse":
        return ((y - s) ** 2)[None, :]
    if name == "r2":
        return np.vstack([(y - s) ** 2, y, y * y])
    raise ValueError(f"unknown metric {name!r}; known: {', '.join(METRICS)}")


def from_means(name: str, means: np.ndarray) -> np.ndarray:
    """The metric from component means of shape (k, B): one value per column (NaN where it
    is undefined, e.g. precision without a predicted positive)."""
    m = np.asarray(means, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        if name in ("accuracy", "log_loss", "mae"):
            return m[0]
        if name in ("precision", "recall"):
            return np.where(m[1] > 0, m[0] / m[1], np.nan)
        if name == "f1":
            denominator = m[1] + m[2]
            return np.where(denominator > 0, 2 * m[0] / denominator, np.nan)
        if name == "rmse":
            return np.sqrt(m[0])
        if name == "r2":
            total = m[2] - m[1] ** 2
            return np.where(total > 1e-300, 1 - m[0] / total, np.nan)
    raise ValueError(f"unknown metric {name!r}; known: {', '.join(METRICS)}")


def gradient(name: str, means: np.ndarray) -> np.ndarray:
    """d metric / d component means at `means` (k,), for the delta method."""
    m = np.asarray(means, dtype=float)
    if name in ("accuracy", "log_loss", "mae"):
        return np.array([1.0])
    if name in ("precision", "recall"):
        return np.array([1 / m[1], -m[0] / m[1] ** 2])
    if name == "f1":
        d = m[1] + m[2]
        return np.array([2 / d, -2 * m[0] / d**2, -2 * m[0] / d**2])
    if name == "rmse":
        return np.array([0.5 / math.sqrt(m[0])]) if m[0] > 0 else np.array([math.inf])
    if name == "r2":
        total = m[2] - m[1] ** 2
        return np.array([-1 / total, -2 * m[0] * m[1] / total**2, m[0] / total**2])
    raise ValueError(f"unknown metric {name!r}; known: {', '.join(METRICS)}")


METRICS = ("roc_auc", "accuracy", "precision", "recall", "f1", "log_loss", "rmse", "mae", "r2")
