"""The drift statistics, computed from a profile's counts and a scan of the current batch.

Every function takes counts, never raw samples, so they cost O(grid) after the one-pass scan.
Conventions (libraries disagree on them; these are ours, fixed):

* **KS**: D = sup |F_ref - F_cur|, evaluated at every grid point from both sides (``<=`` and
  ``<``). With an exact profile (grid = every distinct reference value) this is the exact
  two-sample statistic. With a quantile grid it is a lower bound and ``ks_bound`` gives the
  upper bound (the largest possible difference inside a grid cell). p-value: scipy's
  ``ks_2samp`` rules - exact distribution when both samples have <= 10,000 values (computed by
  scipy on the rebuilt samples), else ``kstwo.sf(D, round(n*m/(n+m)))``.
* **PSI** on the profile's decile bins (numeric) or the category buckets (categorical):
  ``sum((c - r) * ln(c / r))`` over bucket shares, where a share of 0 on either side is replaced
  by ``EPSILON = 1e-4`` (no renormalisation) - the same rule as Evidently.
* **Jensen-Shannon distance**, base 2 (in [0, 1]) on the same buckets, no epsilon needed:
  equals ``scipy.spatial.distance.jensenshannon(r, c, base=2)``.
* **Robust normalised Wasserstein**: the integral of |F_ref - F_cur| with both CDFs linear
  inside each grid cell, over the reference's central range [q01, q99] with each cell's width
  capped at ``CELL_CAP`` robust scales, divided by the reference's robust scale (IQR / 1.349,
  else (q99 - q01) / 4.653, floored at 0.001). One extreme reference value (1e308) can
  neither make the scale infinite nor dominate the integral; shifts beyond the range still
  show as the CDF gap at its ends.
* **Cramér's V at equal sample sizes** (the chi2 test's effect size): sqrt(sum_k (r_k - c_k)^2
  / (2 (r_k + c_k))) over the bucket shares, in [0, 1]; the chi-square statistic of two samples
  of equal size n is 4 (n / 2) V^2, so it does not depend on the sample sizes.
* **Chi-square** of homogeneity on the 2 x K table of category counts (two-sample), sparse
  columns merged until every expected count is >= 5, Yates' correction on 2 x 2.
* **L-infinity**: the largest absolute difference of a category's share.
* **Shares** (missing, non-finite, unseen): pooled two-proportion z-test, Fisher's exact
  test when an expected count is below 5.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import stats

EPSILON = 1e-4
WASSERSTEIN_STD_FLOOR = 1e-3
TRIM = 0.01  # the robust Wasserstein integrates over the reference's [TRIM, 1 - TRIM] range
CELL_CAP = 10.0  # ... with each grid cell at most this many robust scales wide
MIN_EXPECTED_COUNT = 5.0
EXACT_KS_MAX = 10_000  # scipy's ks_2samp(method="auto") switch to the asymptotic p-value


def ks_from_counts(
    ref_le: np.ndarray,
    ref_lt: np.ndarray,
    n_ref: int,
    cur_le: np.ndarray,
    cur_lt: np.ndarray,
    n_cur: int,
) -> tuple[float, float]:
    """(D on the grid, upper bound of the exact D)."""
    fr_le, fr_lt = ref_le / n_ref, ref_lt / n_ref
    fc_le, fc_lt = cur_le / n_cur, cur_lt / n_cur
    d = max(float(np.abs(fr_le - fc_le).max()), float(np.abs(fr_lt - fc_lt).max()))
    # inside the open cell (g_i, g_i+1) each CDF lies between its values at the two ends
    inside = np.maximum(fr_lt[1:] - fc_le[:-1], fc_lt[1:] - fr_le[:-1])
    bound = max(d, float(inside.max())) if inside.size else d
    return d, bound


def ks_p_value(
    d: float, n_ref: int, n_cur: int, ref_sample: np.ndarray | None, cur: np.ndarray | None
) -> float:
    """scipy's two-sided ks_2samp p-value: exact for small samples (when both samples are
    available), else Smirnov's asymptotic distribution."""
    if ref_sample is not None and cur is not None and max(n_ref, n_cur) <= EXACT_KS_MAX:
        with warnings.catch_warnings():
            # scipy falls back to the asymptotic p-value (and warns) when exact fails
            warnings.filterwarnings("ignore", message=".*[Ee]xact calculation unsuccessful.*")
            return float(stats.ks_2samp(ref_sample, cur, method="auto").pvalue)
    m, n = sorted([float(n_ref), float(n_cur)], reverse=True)
    en = m * n / (m + n)
    return float(np.clip(stats.kstwo.sf(d, np.round(en)), 0.0, 1.0))


def shares(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    return counts / total if total > 0 else np.zeros(counts.shape)


def psi(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    r = shares(np.asarray(ref_counts, dtype="float64"))
    c = shares(np.asarray(cur_counts, dtype="float64"))
    r = np.where(r == 0, EPSILON, r)
    c = np.where(c == 0, EPSILON, c)
    return float(np.sum((c - r) * np.log(c / r)))


def js_distance(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    r = shares(np.asarray(ref_counts, dtype="float64"))
    c = shares(np.asarray(cur_counts, dtype="float64"))
    m = (r + c) / 2
    divergence = 0.5 * (_kl(r, m) + _kl(c, m)) / math.log(2)
    return float(math.sqrt(max(divergence, 0.0)))


def _kl(p: np.ndarray, q: np.ndarray) -> float:
    mask = p > 0
    return float(np.sum(p[mask] * np.log(p[mask] / q[mask])))


def cramers_v(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    r = shares(np.asarray(ref_counts, dtype="float64"))
    c = shares(np.asarray(cur_counts, dtype="float64"))
    both = r + c
    mask = both > 0
    return float(math.sqrt(np.sum((r[mask] - c[mask]) ** 2 / (2 * both[mask]))))


def ks_n_eff(effect: float, level: float) -> float:
    """The effective size n m / (n + m) at which a KS distance `effect` is significant at
    `level` about half the time (asymptotic tail P(D > d) ~ 2 exp(-2 n_eff d^2))."""
    return -math.log(level / 2) / (2 * effect * effect)


def chi2_n_eff(effect: float, df: int, level: float) -> float:
    """The same for Cramér's V (equal sizes) in the 2 x K chi-square test: chi2 ~ 4 n_eff V^2
    reaches the critical value."""
    return float(stats.chi2.isf(level, max(df, 1))) / (4 * effect * effect)


def detectable(n_eff_for_unit: float, n_ref: int, n_cur: int) -> float:
    """The effect detectable at sizes n_ref, n_cur, from the n_eff a unit effect needs
    (both n_eff functions scale as 1 / effect^2)."""
    if not (n_ref and n_cur):
        return math.inf
    return math.sqrt(n_eff_for_unit * (n_ref + n_cur) / (n_ref * n_cur))


def linf(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    r = shares(np.asarray(ref_counts, dtype="float64"))
    c = shares(np.asarray(cur_counts, dtype="float64"))
    return float(np.abs(r - c).max()) if r.size else 0.0


def wasserstein_from_counts(
    grid: np.ndarray,
    ref_le: np.ndarray,
    ref_lt: np.ndarray,
    n_ref: int,
    cur_le: np.ndarray,
    cur_lt: np.ndarray,
    n_cur: int,
    below: float,
    above: float,
    cap: float = math.inf,
) -> float:
    """W1 = integral of |F_ref - F_cur|; CDFs linear inside grid cells, tails exact.

    ``below``/``above`` are the sums of the current values' distances below the smallest and
    above the largest reference value (the reference has no mass there); ``cap`` limits each
    cell's width (the robust variant passes a slice of the grid, no tails and a cap)."""
    start = ref_le[:-1] / n_ref - cur_le[:-1] / n_cur
    end = ref_lt[1:] / n_ref - cur_lt[1:] / n_cur
    with np.errstate(over="ignore"):
        width = np.minimum(np.diff(grid), cap)
    a, b = np.abs(start), np.abs(end)
    same_sign = start * end >= 0
    total = np.where(a + b > 0, a + b, 1.0)
    cells = np.where(same_sign, width * (a + b) / 2, width * (a * a + b * b) / (2 * total))
    return float(cells.sum() + (below + above) / n_cur)


def chi2_homogeneity(columns: list[tuple[int, int]]) -> tuple[float, float, int]:
    """(statistic, p-value, merged column count) of the 2 x K test; NaN when < 2 columns."""
    ref_n = sum(r for r, _ in columns)
    cur_n = sum(c for _, c in columns)
    table, merged = merge_sparse_columns(columns, ref_n, cur_n)
    if table.shape[1] < 2:
        return math.nan, math.nan, merged
    result = stats.chi2_contingency(table, correction=True)
    return float(result.statistic), float(result.pvalue), merged


def merge_sparse_columns(
    columns: list[tuple[int, int]], ref_n: int, cur_n: int
) -> tuple[np.ndarray, int]:
    """Merge low-count columns of a 2 x K table until every expected cell is >= 5.

    Expected count of cell (row i, column k) is ``row_total_i * column_total_k / N``; the
    smallest is in the smaller row, so a column is valid when its total is at least
    ``5 * N / min(row totals)``. Columns below that are merged, smallest first, into one
    "other" column; if "other" is still too small it absorbs the next smallest column until it
    is valid (or nothing is left). Returns the table and how many columns were merged.
    """
    total = ref_n + cur_n
    min_column_total = MIN_EXPECTED_COUNT * total / min(ref_n, cur_n)
    ordered = sorted(columns, key=lambda c: c[0] + c[1])
    other_ref = other_cur = 0
    merged = 0
    while ordered and (
        ordered[0][0] + ordered[0][1] < min_column_total
        or (merged and other_ref + other_cur < min_column_total)
    ):
        ref_k, cur_k = ordered.pop(0)
        other_ref += ref_k
        other_cur += cur_k
        merged += 1
    kept = list(ordered)
    if merged:
        kept.append((other_ref, other_cur))
    table = np.array(kept, dtype="int64").T.reshape(2, len(kept))
    return table, merged


def two_proportion_p_value(k_ref: int, n_ref: int, k_cur: int, n_cur: int) -> float:
    """Two-sided test that two shares (missing, non-finite, unseen) are equal: the pooled
    z-test, or Fisher's exact test when an expected cell count is below 5 (a handful of rows
    or events, where the normal approximation overstates the evidence)."""
    if n_ref == 0 or n_cur == 0:
        return 1.0
    pooled = (k_ref + k_cur) / (n_ref + n_cur)
    if pooled in (0.0, 1.0):
        return 1.0
    smallest = min(pooled, 1 - pooled) * min(n_ref, n_cur)
    if smallest < MIN_EXPECTED_COUNT:
        table = [[k_ref, n_ref - k_ref], [k_cur, n_cur - k_cur]]
        return float(stats.fisher_exact(table).pvalue)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_ref + 1 / n_cur))
    z = (k_cur / n_cur - k_ref / n_ref) / se
    return float(2 * stats.norm.sf(abs(z)))


def family_threshold(p_values: list[float], alpha: float, correction: str) -> float:
    """The p-value threshold (drifted when p < threshold) for a family of tests.

    bonferroni: alpha / m (family-wise error <= alpha). benjamini_hochberg: k* alpha / m with
    k* the largest rank whose sorted p-value is < k alpha / m (false discovery rate <= alpha
    under independence or positive dependence; more power than Bonferroni when several
    features really drift); alpha / m when no rank qualifies, so nothing is below it.
    none: alpha.
    """
    m = len(p_values)
    if correction == "none" or m == 0:
        return alpha
    if correction == "bonferroni":
        return alpha / m
    ordered = np.sort(np.asarray(p_values, dtype="float64"))
    ranks = np.arange(1, m + 1)
    passing = np.flatnonzero(ordered < ranks * alpha / m)
    k = int(passing[-1]) + 1 if passing.size else 1
    return k * alpha / m
