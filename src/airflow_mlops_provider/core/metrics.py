"""Model metrics computed the same way for challenger and champion, on the same holdout.

Written on numpy/scipy (already dependencies) rather than scikit-learn, which the provider does
not otherwise need; each formula is the textbook one and is tested against known values.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import rankdata


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
    return {name: float(_METRICS[name](y, s, threshold)) for name in names}


def _roc_auc(y: np.ndarray, s: np.ndarray, _: float) -> float:
    positives = int((y == 1).sum())
    negatives = len(y) - positives
    if positives == 0 or negatives == 0:
        return math.nan
    ranks = rankdata(s)
    return (ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives)


def _confusion(y: np.ndarray, s: np.ndarray, threshold: float) -> tuple[int, int, int, int]:
    predicted = s >= threshold
    actual = y == 1
    return (
        int((predicted & actual).sum()),
        int((predicted & ~actual).sum()),
        int((~predicted & actual).sum()),
        int((~predicted & ~actual).sum()),
    )


def _accuracy(y: np.ndarray, s: np.ndarray, t: float) -> float:
    tp, _, _, tn = _confusion(y, s, t)
    return (tp + tn) / len(y) if len(y) else math.nan


def _precision(y: np.ndarray, s: np.ndarray, t: float) -> float:
    tp, fp, _, _ = _confusion(y, s, t)
    return tp / (tp + fp) if tp + fp else math.nan


def _recall(y: np.ndarray, s: np.ndarray, t: float) -> float:
    tp, _, fn, _ = _confusion(y, s, t)
    return tp / (tp + fn) if tp + fn else math.nan


def _f1(y: np.ndarray, s: np.ndarray, t: float) -> float:
    p, r = _precision(y, s, t), _recall(y, s, t)
    return 2 * p * r / (p + r) if p + r else math.nan


def _log_loss(y: np.ndarray, s: np.ndarray, _: float) -> float:
    p = np.clip(s, 1e-15, 1 - 1e-15)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))) if len(y) else math.nan


def _rmse(y: np.ndarray, s: np.ndarray, _: float) -> float:
    return float(np.sqrt(np.mean((y - s) ** 2))) if len(y) else math.nan


def _mae(y: np.ndarray, s: np.ndarray, _: float) -> float:
    return float(np.mean(np.abs(y - s))) if len(y) else math.nan


def _r2(y: np.ndarray, s: np.ndarray, _: float) -> float:
    total = float(np.sum((y - y.mean()) ** 2)) if len(y) else 0.0
    return 1 - float(np.sum((y - s) ** 2)) / total if total else math.nan


_METRICS = {
    "roc_auc": _roc_auc,
    "accuracy": _accuracy,
    "precision": _precision,
    "recall": _recall,
    "f1": _f1,
    "log_loss": _log_loss,
    "rmse": _rmse,
    "mae": _mae,
    "r2": _r2,
}
