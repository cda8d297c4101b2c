"""ROC AUC and its variance by DeLong's method, for one model or several on the same rows.

DeLong, DeLong & Clarke-Pearson (1988) write the AUC as the mean of per-row *placement values*
and get the variance (and, for several models scored on the same rows, the covariance) of the
AUCs from the spread of those values. Sun & Xu (2014) compute the placement values from
midranks, so the whole method costs three sorts per model, O(n log n):

    V10_i = (R_i - Rpos_i) / n_neg          for every positive row i
    V01_j = 1 - (R_j - Rneg_j) / n_pos      for every negative row j
    AUC   = mean(V10) = mean(V01)
    Cov(AUC) = S10 / n_pos + S01 / n_neg

where R is the midrank among all rows, Rpos (Rneg) the midrank among the positive (negative)
rows only, and S10, S01 the sample covariance matrices (across models) of V10 and V01. The
AUC equals the Mann-Whitney U statistic / (n_pos n_neg), ties counted one half.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import rankdata

#: Fewer positive or negative rows than this: the variance is not estimated (NaN).
MIN_CLASS_ROWS = 2


def roc_auc(y: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC (NaN without both classes)."""
    positives = np.asarray(y) == 1
    m = int(positives.sum())
    n = positives.size - m
    if m == 0 or n == 0:
        return math.nan
    ranks = rankdata(scores)
    return float((ranks[positives].sum() - m * (m + 1) / 2) / (m * n))


def delong(y: np.ndarray, *scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(AUC per model, covariance matrix of the AUCs) for models scored on the same rows.

    NaN everywhere when a class has fewer than MIN_CLASS_ROWS rows."""
    positives = np.asarray(y) == 1
    m = int(positives.sum())
    n = positives.size - m
    k = len(scores)
    if m < MIN_CLASS_ROWS or n < MIN_CLASS_ROWS:
        return np.full(k, math.nan), np.full((k, k), math.nan)
    v10 = np.empty((k, m))
    v01 = np.empty((k, n))
    for r, s in enumerate(scores):
        s = np.asarray(s, dtype=float)
        pos, neg = s[positives], s[~positives]
        every = rankdata(s)
        v10[r] = (every[positives] - rankdata(pos)) / n
        v01[r] = 1.0 - (every[~positives] - rankdata(neg)) / m
    aucs = v10.mean(axis=1)
    cov = np.atleast_2d(np.cov(v10)) / m + np.atleast_2d(np.cov(v01)) / n
    return aucs, cov
