"""One feature measured against its reference profile: evidence, effect size, share signals.

For every feature the same two questions are asked, whatever its test:

* **evidence** — is the current batch a different distribution at all? The two-sample
  Kolmogorov-Smirnov test for numeric features, the 2 x K chi-square test of homogeneity for
  categorical ones (its p-value joins the check's multiple-testing family, core/drift.py);
* **effect** — is the difference material? The feature's `test` names the effect size: the KS
  distance D (`ks`), Cramér's V at equal sizes (`chi2`), PSI, Jensen-Shannon distance, the
  robust normalised Wasserstein distance, or the largest share difference (`linf`).

A feature drifts when both hold; the effect sizes estimate a property of the two populations,
not of the sample sizes, so the same shift gets the same verdict at 10k and at 16k rows.

Beside the finite values, three shares are tested (core/drift.py, their own family): the
missing share (NaN/None), the non-finite share (+-inf) and, for categorical features, the
unseen share (values the reference never had, against the Good-Turing rate of new values the
reference itself predicts). Each is a count out of a total on both sides (`Share`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from airflow_mlops_provider.core import drift_stats as st
from airflow_mlops_provider.core.drift_profile import (
    CategoricalProfile,
    CategoricalScan,
    NumericProfile,
    NumericScan,
    key_hash,
    scan_categorical,
    scan_numeric,
)
from airflow_mlops_provider.core.vocabulary import unfit_test_reason

EVIDENCE = {"numeric": "ks", "categorical": "chi2"}
HISTOGRAM_BINS = 20
TOP_CATEGORIES = 10


@dataclass(frozen=True)
class Share:
    """A share signal: k of n on each side (for the unseen share the reference side is the
    Good-Turing prediction: categories seen once, of all reference values)."""

    k_ref: int
    n_ref: int
    k_cur: int
    n_cur: int
    one_sided: bool = False  # only a rise matters (the unseen share)

    @property
    def reference(self) -> float:
        return self.k_ref / self.n_ref if self.n_ref else 0.0

    @property
    def current(self) -> float:
        return self.k_cur / self.n_cur if self.n_cur else 0.0

    @property
    def testable(self) -> bool:
        """Both sides have rows and some side has an event (else p = 1 whatever happens;
        leaving such tests out of the family is Tarone's (1990) rule for discrete tests)."""
        return self.n_ref > 0 and self.n_cur > 0 and (self.k_ref + self.k_cur) > 0


@dataclass(frozen=True)
class Measured:
    """A feature before the check's families decide: what was computed, nothing judged."""

    feature: str
    kind: str
    test: str
    min_effect: float
    reference_size: int
    current_size: int
    effect: float = 0.0
    p_value: float | None = None  # None: the evidence test could not run
    degrees: int = 1  # chi-square degrees of freedom (for the detectable effect)
    notes: list[str] = field(default_factory=list)
    shares: dict[str, Share] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)


def resolve_test(kind: str, test: str) -> str:
    """The concrete effect test: `auto` is `ks` for numeric, `chi2` for categorical features."""
    if test == "auto":
        return EVIDENCE[kind]
    reason = unfit_test_reason(kind, test)
    if reason:
        raise ValueError(f"test {test!r} {reason}")
    return test


def measure(
    name: str,
    profile: NumericProfile | CategoricalProfile,
    series: pd.Series,
    test: str,
    min_effects: Mapping[str, float],
    override: Mapping[str, Any],
) -> Measured:
    kind = "numeric" if isinstance(profile, NumericProfile) else "categorical"
    concrete = resolve_test(kind, override.get("test") or test)
    own = override.get("threshold")
    minimum = float(own if own is not None else min_effects[concrete])
    if isinstance(profile, NumericProfile):
        return _numeric(name, profile, series, concrete, minimum)
    return _categorical(name, profile, series, concrete, minimum)


def _numeric(
    name: str, profile: NumericProfile, series: pd.Series, test: str, minimum: float
) -> Measured:
    scan = series if isinstance(series, NumericScan) else scan_numeric(profile, series, name)
    shares = {
        "missing": Share(profile.missing, profile.rows, scan.missing, scan.rows),
        "nonfinite": Share(profile.nonfinite, profile.rows, scan.nonfinite, scan.rows),
    }
    base = Measured(name, "numeric", test, minimum, profile.n, scan.n, shares=shares)
    for count, where in ((profile.nonfinite, "reference"), (scan.nonfinite, "current batch")):
        if count:
            base.notes.append(f"{count} non-finite value(s) in {where}, tested as a share")
    empty = _empty_side_note(profile.n, scan.n, what="finite values")
    if empty:
        base.notes.insert(0, empty)
        return base
    if profile.grid.size == 1 and scan.le[0] == scan.n and scan.lt[0] == 0:
        base.notes.append("constant in both")
    elif profile.grid.size == 1 and scan.std == 0:
        base.notes.append("constant in both, different values")
    d, bound = st.ks_from_counts(profile.le, profile.lt, profile.n, scan.le, scan.lt, scan.n)
    ref_sample = profile.sample() if profile.exact and profile.n <= st.EXACT_KS_MAX else None
    scale = robust_scale(profile)
    base.details.update(
        {
            "reference_median": _json_float(profile.quantile(0.5)),
            "reference_scale": _json_float(scale),
            "current_mean": _json_float(scan.mean),
            "ks_distance": _json_float(d),
            "ks_upper_bound": _json_float(bound),
            "histogram": _numeric_histogram(profile, scan),
        }
    )
    if test == "ks":
        effect = d
    elif test == "wasserstein":
        effect = robust_wasserstein(profile, scan, scale) / scale
    else:
        ref_bins, cur_bins = _numeric_bins(profile, scan)
        effect = st.psi(ref_bins, cur_bins) if test == "psi" else st.js_distance(ref_bins, cur_bins)
    return _with(
        base,
        effect=effect,
        p_value=st.ks_p_value(d, profile.n, scan.n, ref_sample, scan.values),
    )


def robust_scale(profile: NumericProfile) -> float:
    """IQR / 1.349 (the standard deviation of a normal), else (q99 - q01) / 4.653, else the
    floor: quantiles, so a few extreme values cannot make it infinite or zero."""
    for low, high, factor in ((0.25, 0.75, 1.349), (st.TRIM, 1 - st.TRIM, 4.653)):
        with np.errstate(over="ignore"):
            spread = profile.quantile(high) - profile.quantile(low)
        if math.isfinite(spread) and spread > 0:
            return max(spread / factor, st.WASSERSTEIN_STD_FLOOR)
    return st.WASSERSTEIN_STD_FLOOR


def robust_wasserstein(profile: NumericProfile, scan: Any, scale: float) -> float:
    """W1 over the reference's [q01, q99] with cells capped at CELL_CAP scales (drift_stats)."""
    lo, hi = profile.quantile_index(st.TRIM), profile.quantile_index(1 - st.TRIM)
    if hi <= lo:  # (nearly) one value: the CDF gap at that value, one scale wide
        return abs(profile.le[lo] / profile.n - scan.le[lo] / scan.n) * scale
    window = slice(lo, hi + 1)
    return st.wasserstein_from_counts(
        profile.grid[window], profile.le[window], profile.lt[window], profile.n,
        scan.le[window], scan.lt[window], scan.n, 0.0, 0.0, cap=st.CELL_CAP * scale,
    )  # fmt: skip


def _categorical(
    name: str, profile: CategoricalProfile, series: pd.Series, test: str, minimum: float
) -> Measured:
    scan = series if isinstance(series, CategoricalScan) else scan_categorical(series)
    shares = {"missing": Share(profile.missing, profile.rows, scan.missing, scan.rows)}
    unseen = {k: n for k, n in scan.counts.items() if k not in profile.counts}
    unseen_share = _unseen_share(profile, scan.counts, scan.n)
    if unseen_share is not None:
        shares["unseen"] = unseen_share
    base = Measured(name, "categorical", test, minimum, profile.n, scan.n, shares=shares)
    empty = _empty_side_note(profile.n, scan.n, what="values")
    if empty:
        base.notes.append(empty)
        return base
    if unseen and not profile.other:  # truncated: the unseen share (hash sample) tells
        base.notes.append(
            f"{len(unseen)} categor{'y' if len(unseen) == 1 else 'ies'} not among the "
            f"reference's categories ({sum(unseen.values())} row(s))"
        )
    keys = _compared_keys(profile)
    columns = [(profile.counts[k], scan.counts.get(k, 0)) for k in keys]
    pooled_ref = profile.n - sum(c for c, _ in columns)
    pooled_cur = scan.n - sum(c for _, c in columns)
    if pooled_ref or pooled_cur:  # unseen values, the truncated tail, near-cut categories
        columns.append((pooled_ref, pooled_cur))
    if len(keys) < len(profile.counts):
        base.notes.append(
            f"{len(profile.counts) - len(keys)} of the reference's kept categories pooled: "
            "too close to its truncation cut to compare one by one"
        )
    ref_counts = np.array([c[0] for c in columns], dtype="float64")
    cur_counts = np.array([c[1] for c in columns], dtype="float64")
    base.details["histogram"] = _categorical_histogram(keys, columns)
    effect = {
        "chi2": st.cramers_v,
        "psi": st.psi,
        "jensenshannon": st.js_distance,
        "linf": st.linf,
    }[test](ref_counts, cur_counts)
    if len(columns) == 1:
        alone = "no category frequent enough to compare one by one"
        base.notes.insert(0, alone if profile.other else "single category in both")
        return _with(base, effect=effect, p_value=1.0)
    statistic, p, merged = st.chi2_homogeneity(columns)
    if merged > 1:
        base.notes.append(f"merged {merged} sparse categories into 'other'")
    if math.isnan(p):
        base.notes.insert(0, "too few values per category for a valid chi-square test")
        return _with(base, effect=effect)
    base.details["chi2_statistic"] = _json_float(statistic)
    kept = len(columns) - merged + (1 if merged else 0)
    return _with(base, effect=effect, p_value=p, degrees=max(kept, 2) - 1)


def _compared_keys(profile: CategoricalProfile) -> list[str]:
    """The categories compared one by one. A truncated profile kept its most frequent
    categories *because* of their reference counts, which are therefore biased upwards near
    the cut (winner's curse): a fresh sample of the same distribution would always look
    different. Only categories far above the cut (count >= c + 4 sqrt(c), c the smallest kept
    count) were selected whatever the noise; the rest are pooled with the tail, a bucket whose
    total is unbiased."""
    if not profile.other:
        return list(profile.counts)
    cut = min(profile.counts.values())
    safe = cut + 4 * math.sqrt(cut)
    return [k for k, n in profile.counts.items() if n >= safe]


def _unseen_share(
    profile: CategoricalProfile, counts: Mapping[str, int], rows: int
) -> Share | None:
    """Current rows whose category the reference never had, against the Good-Turing rate
    (singletons / values) of new categories the reference predicts for a fresh sample.

    A truncated profile cannot tell an unseen value from one in its pooled tail, except on the
    hash-sampled part of the keys (bottom-k sketch): there membership is exact."""
    if profile.singletons is None or profile.n == 0:
        return None  # a profile from before this signal existed
    if profile.hash_cut is None:
        new = sum(n for k, n in counts.items() if k not in profile.counts)
        return Share(profile.singletons, profile.n, new, rows, one_sided=True)
    sampled = new = 0
    for key, n in counts.items():
        h = key_hash(key)
        if h <= profile.hash_cut:
            sampled += n
            new += n if h not in profile.key_hashes else 0
    return Share(profile.singletons, profile.n, new, sampled, one_sided=True)


def _with(base: Measured, **changes: Any) -> Measured:
    effect = changes.get("effect")
    if effect is not None and not math.isfinite(effect):
        changes["effect"] = 0.0 if math.isnan(effect) else effect
    return replace(base, **changes)


def _empty_side_note(ref_n: int, cur_n: int, *, what: str) -> str | None:
    if ref_n == 0 and cur_n == 0:
        return f"no {what} in reference or current batch"
    if ref_n == 0:
        return f"no {what} in reference"
    if cur_n == 0:
        return f"no {what} in current batch"
    return None


def _numeric_bins(profile: NumericProfile, scan: Any) -> tuple[np.ndarray, np.ndarray]:
    """Counts of both sides in the profile's decile bins (right-closed, open-ended)."""
    edges = profile.bin_edges
    ref_cum = np.r_[0, profile.le[edges], profile.n]
    cur_cum = np.r_[0, scan.le[edges], scan.n]
    return np.diff(ref_cum), np.diff(cur_cum)


def _numeric_histogram(profile: NumericProfile, scan: Any) -> dict[str, Any]:
    """About 20 equal-width bins over the reference's central range [q01, q99] (edges
    snapped to grid points; equal-mass bins when that range is too wide for floats), plus
    the current shares below and above the bins, for the report page."""
    grid = profile.grid
    lo, hi = profile.quantile_index(st.TRIM), profile.quantile_index(1 - st.TRIM)
    with np.errstate(over="ignore", invalid="ignore"):
        targets = np.linspace(grid[lo], grid[hi], HISTOGRAM_BINS + 1)
    if not np.isfinite(targets).all():
        targets = grid[[profile.quantile_index(q) for q in np.linspace(0, 1, HISTOGRAM_BINS + 1)]]
    idx = np.unique(np.searchsorted(grid, targets, side="left").clip(0, grid.size - 1))
    if idx.size > 1:
        ref = np.diff(np.r_[profile.lt[idx[0]], profile.le[idx[1:]]])
        cur = np.diff(np.r_[scan.lt[idx[0]], scan.le[idx[1:]]])
        edges = [float(grid[i]) for i in idx]
        below_ref, below_cur = profile.lt[idx[0]], scan.lt[idx[0]]
        above_ref, above_cur = profile.n - profile.le[idx[-1]], scan.n - scan.le[idx[-1]]
    else:  # one distinct reference value
        ref, cur = np.array([profile.n]), np.array([scan.le[0] - scan.lt[0]])
        edges = [float(grid[0]), float(grid[0])]
        below_ref, below_cur = 0, scan.lt[0]
        above_ref, above_cur = 0, scan.n - scan.le[-1]
    return {
        "edges": [_json_float(e) for e in edges],
        "reference": [round(float(x), 6) for x in ref / max(profile.n, 1)],
        "current": [round(float(x), 6) for x in cur / max(scan.n, 1)],
        "reference_below": round(float(below_ref) / max(profile.n, 1), 6),
        "reference_above": round(float(above_ref) / max(profile.n, 1), 6),
        "current_below": round(float(below_cur) / max(scan.n, 1), 6),
        "current_above": round(float(above_cur) / max(scan.n, 1), 6),
    }


def _categorical_histogram(keys: list[str], columns: list[tuple[int, int]]) -> dict[str, Any]:
    ref_n = sum(c[0] for c in columns) or 1
    cur_n = sum(c[1] for c in columns) or 1
    labels = keys + (["(other / unseen)"] if len(columns) > len(keys) else [])
    order = sorted(range(len(columns)), key=lambda i: -(columns[i][0] + columns[i][1]))
    shown = order[:TOP_CATEGORIES]
    rest = order[TOP_CATEGORIES:]
    out_labels = [labels[i] for i in shown]
    ref = [columns[i][0] / ref_n for i in shown]
    cur = [columns[i][1] / cur_n for i in shown]
    if rest:
        out_labels.append(f"({len(rest)} more)")
        ref.append(sum(columns[i][0] for i in rest) / ref_n)
        cur.append(sum(columns[i][1] for i in rest) / cur_n)
    return {
        "labels": out_labels,
        "reference": [round(x, 6) for x in ref],
        "current": [round(x, 6) for x in cur],
    }


def _json_float(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None
