"""Data drift detection: compare a current batch with a reference profile, feature by feature.

The reference is a :class:`~airflow_mlops_provider.core.drift_profile.DriftProfile` fitted once
on the champion's training data (see that module); :func:`compare_profile` scans only the
current batch. :func:`compare` fits a profile on a reference frame and compares in one call.

Tests (per feature; ``test`` in the pipeline's ``drift`` block, or per feature):

==================  ===========  ==================================  ================
test                kinds        drifted when                        default threshold
==================  ===========  ==================================  ================
``ks``              numeric      p-value < family threshold          ``alpha``
``chi2``            categorical  p-value < family threshold          ``alpha``
``psi``             both         PSI >= threshold                    0.1
``jensenshannon``   both         JS distance (base 2) >= threshold   0.1
``wasserstein``     numeric      W1 / reference std >= threshold     0.1
``linf``            categorical  max share difference >= threshold  0.1
==================  ===========  ==================================  ================

``auto`` (the default) picks by kind and size: when both samples have at most
``AUTO_SMALL_SAMPLE`` (10,000) values, ``ks`` for numeric and ``chi2`` for categorical features
- hypothesis tests, which at this size only fire on shifts worth a look; above it, the
effect-size tests ``wasserstein`` (numeric) and ``jensenshannon`` (categorical), because with
hundreds of thousands of rows a p-value test flags practically negligible differences.

Why these choices:

* **Two-sample tests.** The reference is a sample too; treating its proportions or CDF as exact
  population values raises false alarms on stable data (DESIGN.md section 7). KS and the 2 x K
  chi-square test account for noise on both sides.
* **Multiple-testing control** over the p-value tests of one check: ``bonferroni`` (threshold
  alpha / m, bounds the chance of *any* false feature alarm by alpha) or
  ``benjamini_hochberg`` (bounds the expected share of false alarms among flagged features by
  alpha; more power when several features really move). ``m`` counts only features whose
  p-value test ran. A per-feature ``threshold`` on a p-value test is that feature's own level
  and takes it out of the family.
* **Dataset drift** needs ``drift_share`` of the tested features to drift: one drifted feature
  out of fifty is reported but does not page anyone.
* **Missing-rate drift.** Distribution tests use non-missing finite values; the missing share
  is tested separately (two-proportion z-test, same correction as its own family) and counts as
  drift when the change is significant *and* at least ``missing_rate_change`` (absolute).
* **Unseen categories** form one bucket with reference count 0, so new values are evidence.
* **Prediction drift**: when the profile holds the model's prediction distribution and the
  current batch has the prediction column, it is tested with the same rules (a family of one)
  and reported apart; it does not count towards dataset drift.

The module is pure logic: numpy, scipy and pandas only, no Airflow or MLflow import.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from airflow_mlops_provider.core import drift_stats as st
from airflow_mlops_provider.core.drift_profile import (
    CategoricalProfile,
    DriftProfile,
    NumericProfile,
    fit_profile,
    scan_categorical,
    scan_numeric,
)
from airflow_mlops_provider.core.vocabulary import (
    CORRECTIONS,
    DEFAULT_THRESHOLDS,
    DRIFT_DEFAULTS,
    P_VALUE_TESTS,
    TESTS_BY_KIND,
    thresholds_without_test,
    unfit_test_reason,
)

__all__ = [
    "DriftReport",
    "FeatureDrift",
    "compare",
    "compare_profile",
    "resolve_test",
]

#: Version of the ``DriftReport.to_dict`` layout; bump on incompatible changes.
REPORT_FORMAT_VERSION = 2
AUTO_SMALL_SAMPLE = 10_000
HISTOGRAM_BINS = 20
TOP_CATEGORIES = 10


@dataclass(frozen=True)
class FeatureDrift:
    """Drift verdict for one feature (or for the prediction).

    ``statistic`` is the test's statistic (KS D, chi-square, PSI, JS distance, normalised
    Wasserstein, L-infinity). For p-value tests ``p_value`` is set and ``threshold`` is the
    p-value threshold after the multiple-testing correction (drifted when ``p_value <
    threshold``); for the others ``p_value`` is None and drifted means ``statistic >=
    threshold``. ``drifted`` also covers missing-rate drift (``missing_drifted``). A feature
    whose distribution could not be tested carries ``statistic=0``, ``p_value`` 1 or None, and a
    ``note``. ``details`` holds plain JSON values for the report page (histogram, bounds).
    """

    feature: str
    kind: str  # "numeric" | "categorical"
    test: str
    statistic: float
    p_value: float | None
    threshold: float
    drifted: bool
    reference_size: int
    current_size: int
    note: str | None = None
    missing_reference: float = 0.0
    missing_current: float = 0.0
    missing_drifted: bool = False
    tested: bool = True
    details: dict[str, Any] = field(default_factory=dict, compare=True)

    @property
    def value(self) -> float:
        """What is compared with ``threshold``: the p-value or the statistic."""
        return self.p_value if self.p_value is not None else self.statistic

    @property
    def severity(self) -> float:
        """How far past its threshold the feature is (> 1: drifted on distribution), so
        features on different tests sort together: threshold / p-value, or statistic /
        threshold. Missing-rate drift counts as its change / the allowed change."""
        if not self.tested:
            score = -1.0
        elif self.p_value is not None:
            score = self.threshold / self.p_value if self.p_value > 0 else math.inf
        else:
            score = self.statistic / self.threshold
        if self.missing_drifted:
            change = abs(self.missing_current - self.missing_reference)
            score = max(score, change / max(self.details.get("missing_rate_change", 1.0), 1e-9))
        return score

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature": str(self.feature),
            "kind": str(self.kind),
            "test": str(self.test),
            "statistic": _json_float(self.statistic),
            "p_value": None if self.p_value is None else _json_float(self.p_value),
            "threshold": _json_float(self.threshold),
            "drifted": bool(self.drifted),
            "reference_size": int(self.reference_size),
            "current_size": int(self.current_size),
            "note": None if self.note is None else str(self.note),
            "missing_reference": _json_float(self.missing_reference),
            "missing_current": _json_float(self.missing_current),
            "missing_drifted": bool(self.missing_drifted),
            "tested": bool(self.tested),
            "details": self.details,
        }

    @classmethod
    def from_dict(cls, f: Mapping[str, Any]) -> FeatureDrift:
        return cls(
            feature=str(f["feature"]),
            kind=str(f["kind"]),
            test=str(f["test"]),
            statistic=_from_json_float(f["statistic"]),
            p_value=None if f["p_value"] is None else float(f["p_value"]),
            threshold=_from_json_float(f["threshold"]),
            drifted=bool(f["drifted"]),
            reference_size=int(f["reference_size"]),
            current_size=int(f["current_size"]),
            note=None if f.get("note") is None else str(f["note"]),
            missing_reference=_from_json_float(f["missing_reference"]),
            missing_current=_from_json_float(f["missing_current"]),
            missing_drifted=bool(f["missing_drifted"]),
            tested=bool(f["tested"]),
            details=dict(f.get("details") or {}),
        )


@dataclass(frozen=True)
class DriftReport:
    """Per-feature verdicts (most severe first) plus the dataset-level decision.

    ``drifted_share`` is the number of drifted features divided by the number of features that
    were tested (distribution or missing rate; 0.0 when none could be). ``prediction`` is the
    verdict on the model's output distribution, None when it was not available.
    """

    features: tuple[FeatureDrift, ...]
    alpha: float
    correction: str
    drift_share: float
    drifted_share: float
    dataset_drift: bool
    prediction: FeatureDrift | None = None
    missing_rate_change: float = 0.05

    def drifted_features(self) -> list[str]:
        """Names of drifted features, most severe first."""
        return [f.feature for f in self.features if f.drifted]

    @property
    def prediction_drift(self) -> bool | None:
        return None if self.prediction is None else self.prediction.drifted

    def top(self, limit: int = 10) -> list[dict[str, Any]]:
        """The ``limit`` most severe features as small dicts (for XCom and alerts)."""
        return [
            {
                "feature": f.feature,
                "test": f.test,
                "value": _json_float(f.value),
                "threshold": _json_float(f.threshold),
                "drifted": f.drifted,
            }
            for f in self.features[:limit]
        ]

    def summary(self) -> dict[str, Any]:
        """The machine summary: decision, shares, per-feature results without histograms."""
        return {
            "dataset_drift": self.dataset_drift,
            "drifted_share": self.drifted_share,
            "drift_share": self.drift_share,
            "drifted_features": self.drifted_features(),
            "prediction_drift": self.prediction_drift,
            "features": [
                {k: v for k, v in f.to_dict().items() if k != "details"} for f in self.features
            ],
        }

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (NaN and infinity become ``None``); ``drifted_features``
        and ``prediction_drift`` are conveniences that :meth:`from_dict` recomputes."""
        return {
            "format_version": REPORT_FORMAT_VERSION,
            "alpha": _json_float(self.alpha),
            "correction": self.correction,
            "drift_share": _json_float(self.drift_share),
            "drifted_share": _json_float(self.drifted_share),
            "dataset_drift": bool(self.dataset_drift),
            "missing_rate_change": _json_float(self.missing_rate_change),
            "drifted_features": self.drifted_features(),
            "prediction_drift": self.prediction_drift,
            "features": [f.to_dict() for f in self.features],
            "prediction": None if self.prediction is None else self.prediction.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DriftReport:
        """Rebuild a report written by :meth:`to_dict`; raises ``ValueError`` naming the
        missing key or the unsupported version, so a foreign value fails loudly."""
        if not isinstance(d, Mapping):
            raise ValueError(f"drift report must be a mapping, got {type(d).__name__}")
        version = d.get("format_version", REPORT_FORMAT_VERSION)
        if version != REPORT_FORMAT_VERSION:
            raise ValueError(
                f"unsupported drift report format_version {version!r} "
                f"(this version reads {REPORT_FORMAT_VERSION})"
            )
        try:
            prediction = d.get("prediction")
            return cls(
                features=tuple(FeatureDrift.from_dict(f) for f in d["features"]),
                alpha=_from_json_float(d["alpha"]),
                correction=str(d["correction"]),
                drift_share=_from_json_float(d["drift_share"]),
                drifted_share=_from_json_float(d["drifted_share"]),
                dataset_drift=bool(d["dataset_drift"]),
                prediction=None if prediction is None else FeatureDrift.from_dict(prediction),
                missing_rate_change=_from_json_float(d.get("missing_rate_change", 0.05)),
            )
        except KeyError as exc:
            raise ValueError(f"drift report is missing key {exc.args[0]!r}") from None


# --------------------------------------------------------------------------------------------
# compare
# --------------------------------------------------------------------------------------------


def compare(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    numeric: Sequence[str],
    categorical: Sequence[str],
    **settings: Any,
) -> DriftReport:
    """Fit a profile on ``reference`` and compare ``current`` with it (see
    :func:`compare_profile` for ``settings``). Raises ``ValueError`` on bad input: a column
    missing from a frame, listed twice or under both kinds, no features, an empty frame, or
    non-numeric values in a numeric column."""
    numeric = _column_list(numeric, "numeric")
    categorical = _column_list(categorical, "categorical")
    _check_features(numeric, categorical)
    _check_frame(reference, "reference", [*numeric, *categorical])
    profile = fit_profile(reference, numeric=numeric, categorical=categorical)
    return compare_profile(profile, current, **settings)


def compare_profile(
    profile: DriftProfile,
    current: pd.DataFrame,
    *,
    test: str = DRIFT_DEFAULTS.test,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    alpha: float = DRIFT_DEFAULTS.alpha,
    correction: str = DRIFT_DEFAULTS.correction,
    drift_share: float = DRIFT_DEFAULTS.drift_share,
    missing_rate_change: float = DRIFT_DEFAULTS.missing_rate_change,
    prediction_column: str | None = "prediction",
) -> DriftReport:
    """Compare ``current`` with the reference ``profile``, feature by feature.

    Args:
        test: default test for every feature (``auto`` or one of the tests in the table above;
            a test that does not apply to a feature's kind is an error).
        overrides: per feature ``{"test": ..., "threshold": ...}`` (either key optional).
        alpha: significance level of the p-value tests' family.
        correction: ``bonferroni``, ``benjamini_hochberg`` or ``none``.
        drift_share: share of tested features that must drift for ``dataset_drift``.
        missing_rate_change: smallest absolute change of a missing share that is drift.
        prediction_column: current column holding the model's outputs (None: skip).
    """
    overrides = dict(overrides or {})
    _check_parameters(alpha, correction, drift_share, missing_rate_change)
    names = list(profile.columns)
    if not names:
        raise ValueError("the profile has no features to compare")
    unknown = sorted(set(overrides) - set(names))
    if unknown:
        raise ValueError(f"drift overrides name features the profile does not have: {unknown}")
    bare = thresholds_without_test(overrides, test)
    if bare:
        raise ValueError(
            f"overrides {bare} give a threshold for test auto, whose test depends on the "
            "sample size; name the test too"
        )
    _check_frame(current, "current", names)

    outcomes = [
        _evaluate(name, profile.columns[name], current[name], test, overrides.get(name, {}))
        for name in names
    ]
    outcomes = _apply_family(outcomes, alpha, correction)
    outcomes = _apply_missing(outcomes, alpha, correction, missing_rate_change)
    features = sorted(outcomes, key=_severity_key)
    tested = [f for f in features if f.tested or f.details.get("missing_tested")]
    n_drifted = sum(f.drifted for f in features)
    drifted_share = n_drifted / len(tested) if tested else 0.0
    return DriftReport(
        features=tuple(features),
        alpha=float(alpha),
        correction=correction,
        drift_share=float(drift_share),
        drifted_share=float(drifted_share),
        dataset_drift=bool(n_drifted > 0 and drifted_share >= drift_share),
        prediction=_prediction(profile, current, prediction_column, test, alpha),
        missing_rate_change=float(missing_rate_change),
    )


def _prediction(
    profile: DriftProfile, current: pd.DataFrame, column: str | None, test: str, alpha: float
) -> FeatureDrift | None:
    if profile.prediction is None or column is None or column not in current.columns:
        return None
    default = test if test in TESTS_BY_KIND[profile.prediction.kind] else "auto"
    (outcome,) = _apply_family(
        [_evaluate(column, profile.prediction, current[column], default, {})], alpha, "none"
    )
    return outcome


def resolve_test(kind: str, test: str, n_ref: int, n_cur: int) -> str:
    """The concrete test for ``test`` (``auto`` resolved by kind and sample size)."""
    if test == "auto":
        small = min(n_ref, n_cur) <= AUTO_SMALL_SAMPLE
        if kind == "numeric":
            return "ks" if small else "wasserstein"
        return "chi2" if small else "jensenshannon"
    reason = unfit_test_reason(kind, test)
    if reason:
        raise ValueError(f"test {test!r} {reason}")
    return test


def _evaluate(
    name: str,
    profile: NumericProfile | CategoricalProfile,
    series: pd.Series,
    default_test: str,
    override: Mapping[str, Any],
) -> FeatureDrift:
    if isinstance(profile, NumericProfile):
        return _evaluate_numeric(name, profile, series, default_test, override)
    return _evaluate_categorical(name, profile, series, default_test, override)


def _evaluate_numeric(
    name: str,
    profile: NumericProfile,
    series: pd.Series,
    default_test: str,
    override: Mapping[str, Any],
) -> FeatureDrift:
    scan = scan_numeric(profile, series, name)
    test = resolve_test("numeric", override.get("test") or default_test, profile.n, scan.n)
    notes = []
    if profile.nonfinite:
        notes.append(f"ignored {profile.nonfinite} non-finite value(s) in reference")
    if scan.nonfinite:
        notes.append(f"ignored {scan.nonfinite} non-finite value(s) in current batch")
    base = _base(name, "numeric", test, override, profile, scan)
    empty = _empty_side_note(profile.n, scan.n, what="finite values")
    if empty:
        return replace(base, tested=False, note="; ".join([empty, *notes]))
    grid = profile.grid
    if profile.grid.size == 1 and scan.le[0] == scan.n and scan.lt[0] == 0:
        notes.insert(0, "constant in both")
    elif profile.grid.size == 1 and scan.std == 0:
        notes.insert(0, "constant in both, different values")
    details: dict[str, Any] = {
        "reference_mean": _json_float(profile.mean),
        "current_mean": _json_float(scan.mean),
        "reference_std": _json_float(profile.std),
        "current_std": _json_float(scan.std),
        "histogram": _numeric_histogram(profile, scan),
    }
    if test == "ks":
        d, bound = st.ks_from_counts(profile.le, profile.lt, profile.n, scan.le, scan.lt, scan.n)
        ref_sample = profile.sample() if profile.exact and profile.n <= st.EXACT_KS_MAX else None
        p = st.ks_p_value(d, profile.n, scan.n, ref_sample, scan.values)
        details["ks_upper_bound"] = _json_float(bound)
        return replace(
            base, statistic=d, p_value=p, note=_join(notes), details={**base.details, **details}
        )
    if test == "wasserstein":
        w1 = st.wasserstein_from_counts(
            grid, profile.le, profile.lt, profile.n, scan.le, scan.lt, scan.n,
            scan.below, scan.above,
        )  # fmt: skip
        value = w1 / max(profile.std, st.WASSERSTEIN_STD_FLOOR)
    else:
        ref_bins, cur_bins = _numeric_bins(profile, scan)
        value = st.psi(ref_bins, cur_bins) if test == "psi" else st.js_distance(ref_bins, cur_bins)
    return _effect(base, value, notes, details)


def _evaluate_categorical(
    name: str,
    profile: CategoricalProfile,
    series: pd.Series,
    default_test: str,
    override: Mapping[str, Any],
) -> FeatureDrift:
    scan = scan_categorical(series)
    test = resolve_test("categorical", override.get("test") or default_test, profile.n, scan.n)
    base = _base(name, "categorical", test, override, profile, scan)
    empty = _empty_side_note(profile.n, scan.n, what="values")
    if empty:
        return replace(base, tested=False, note=empty)
    unseen = {k: n for k, n in scan.counts.items() if k not in profile.counts}
    notes = []
    if unseen:
        notes.append(
            f"{len(unseen)} categor{'y' if len(unseen) == 1 else 'ies'} not in reference "
            f"({sum(unseen.values())} row(s))"
        )
    keys = list(profile.counts)
    columns = [(profile.counts[k], scan.counts.get(k, 0)) for k in keys]
    pooled = profile.other + sum(unseen.values())
    if pooled:  # unseen values, pooled with the reference's truncated tail when it has one
        columns.append((profile.other, sum(unseen.values())))
    details = {
        "unseen_share": _json_float(sum(unseen.values()) / scan.n),
        "histogram": _categorical_histogram(keys, columns),
    }
    ref_counts = np.array([c[0] for c in columns], dtype="float64")
    cur_counts = np.array([c[1] for c in columns], dtype="float64")
    if test == "chi2":
        if len(profile.counts) == 1 and len(scan.counts) == 1 and not unseen:
            notes.insert(0, "single category in both")
            return replace(
                base,
                statistic=0.0,
                p_value=1.0,
                note=_join(notes),
                details={**base.details, **details},
            )
        statistic, p, merged = st.chi2_homogeneity(columns)
        if merged > 1:
            notes.append(f"merged {merged} sparse categories into 'other'")
        if math.isnan(p):
            notes.insert(0, "too few values per category for a valid chi-square test")
            return replace(
                base, tested=False, note=_join(notes), details={**base.details, **details}
            )
        return replace(
            base,
            statistic=statistic,
            p_value=p,
            note=_join(notes),
            details={**base.details, **details},
        )
    value = {"psi": st.psi, "jensenshannon": st.js_distance, "linf": st.linf}[test](
        ref_counts, cur_counts
    )
    return _effect(base, value, notes, details)


def _base(
    name: str,
    kind: str,
    test: str,
    override: Mapping[str, Any],
    profile: NumericProfile | CategoricalProfile,
    scan: Any,
) -> FeatureDrift:
    """The verdict before the statistic: sizes, missing shares, the threshold if fixed."""
    own = override.get("threshold")
    threshold = own if own is not None else DEFAULT_THRESHOLDS.get(test, math.nan)
    details = {"own_threshold": own is not None}
    return FeatureDrift(
        feature=name,
        kind=kind,
        test=test,
        statistic=0.0,
        p_value=1.0 if test in P_VALUE_TESTS else None,
        threshold=float(threshold),
        drifted=False,
        reference_size=int(profile.n),
        current_size=int(scan.n),
        missing_reference=profile.missing / profile.rows if profile.rows else 0.0,
        missing_current=scan.missing / scan.rows if scan.rows else 0.0,
        details={
            **details,
            "missing_counts": [int(profile.missing), int(profile.rows), int(scan.missing),
                               int(scan.rows)],
        },
    )  # fmt: skip


def _effect(
    base: FeatureDrift, value: float, notes: list[str], details: dict[str, Any]
) -> FeatureDrift:
    value = 0.0 if math.isnan(value) else float(value)
    return replace(
        base,
        statistic=value,
        drifted=value >= base.threshold,
        note=_join(notes),
        details={**base.details, **details},
    )


def _apply_family(
    outcomes: list[FeatureDrift], alpha: float, correction: str
) -> list[FeatureDrift]:
    """Set p-value thresholds: the corrected family threshold, or the feature's own."""
    family = [
        f for f in outcomes
        if f.tested and f.p_value is not None and not f.details.get("own_threshold")
    ]  # fmt: skip
    threshold = st.family_threshold([f.p_value for f in family], alpha, correction)
    result = []
    for f in outcomes:
        if f.p_value is None:
            result.append(f)
            continue
        t = f.threshold if f.details.get("own_threshold") else threshold
        drifted = bool(f.tested and f.p_value < t)
        result.append(replace(f, threshold=float(t), drifted=drifted))
    return result


def _apply_missing(
    outcomes: list[FeatureDrift], alpha: float, correction: str, change: float
) -> list[FeatureDrift]:
    """Missing-rate drift: significant (own corrected family) and at least ``change``."""
    p_values = []
    for f in outcomes:
        k_ref, n_ref, k_cur, n_cur = f.details["missing_counts"]
        p_values.append(st.two_proportion_p_value(k_ref, n_ref, k_cur, n_cur))
    testable = [p for f, p in zip(outcomes, p_values, strict=True) if _missing_testable(f)]
    threshold = st.family_threshold(testable, alpha, correction)
    result = []
    for f, p in zip(outcomes, p_values, strict=True):
        moved = abs(f.missing_current - f.missing_reference) >= change
        missing_drifted = bool(_missing_testable(f) and moved and p < threshold)
        details = {
            **f.details,
            "missing_p_value": _json_float(p),
            "missing_threshold": _json_float(threshold),
            "missing_tested": _missing_testable(f),
            "missing_rate_change": change,
        }
        note = f.note
        if missing_drifted:
            extra = f"missing share {f.missing_reference:.1%} -> {f.missing_current:.1%}"
            note = extra if not note else f"{note}; {extra}"
        result.append(
            replace(
                f,
                missing_drifted=missing_drifted,
                drifted=f.drifted or missing_drifted,
                note=note,
                details=details,
            )
        )
    return result


def _missing_testable(f: FeatureDrift) -> bool:
    _, n_ref, _, n_cur = f.details["missing_counts"]
    return n_ref > 0 and n_cur > 0


def _numeric_bins(profile: NumericProfile, scan: Any) -> tuple[np.ndarray, np.ndarray]:
    """Counts of both sides in the profile's decile bins (right-closed, open-ended)."""
    edges = profile.bin_edges
    ref_cum = np.r_[0, profile.le[edges], profile.n]
    cur_cum = np.r_[0, scan.le[edges], scan.n]
    return np.diff(ref_cum), np.diff(cur_cum)


def _numeric_histogram(profile: NumericProfile, scan: Any) -> dict[str, Any]:
    """About 20 equal-width bins over the reference range (edges snapped to grid points),
    plus the current shares below and above that range, for the report page."""
    grid = profile.grid
    targets = np.linspace(grid[0], grid[-1], HISTOGRAM_BINS + 1)
    idx = np.unique(np.searchsorted(grid, targets, side="left").clip(0, grid.size - 1))
    ref = np.diff(np.r_[profile.lt[idx[0]], profile.le[idx[1:]]]) if idx.size > 1 else None
    cur = np.diff(np.r_[scan.lt[idx[0]], scan.le[idx[1:]]]) if idx.size > 1 else None
    if ref is None or cur is None:  # one distinct reference value
        ref = np.array([profile.n])
        cur = np.array([scan.le[0] - scan.lt[0]])
        edges = [float(grid[0]), float(grid[0])]
    else:
        edges = [float(grid[i]) for i in idx]
    return {
        "edges": [_json_float(e) for e in edges],
        "reference": [round(float(x), 6) for x in ref / max(profile.n, 1)],
        "current": [round(float(x), 6) for x in cur / max(scan.n, 1)],
        "current_below": round(float(scan.lt[0]) / max(scan.n, 1), 6),
        "current_above": round(float(scan.n - scan.le[-1]) / max(scan.n, 1), 6),
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


def _severity_key(f: FeatureDrift) -> tuple[bool, float, str]:
    return (not f.drifted, -f.severity, f.feature)


def _column_list(names: Sequence[str], kind: str) -> list[str]:
    if isinstance(names, str):
        # A bare string would silently be read as a list of one-letter column names.
        raise ValueError(f"{kind} must be a list of column names, got the string {names!r}")
    return list(names)


def _check_features(numeric: list[str], categorical: list[str]) -> None:
    duplicated = sorted(set(numeric) & set(categorical))
    if duplicated:
        raise ValueError(f"columns listed as both numeric and categorical: {duplicated}")
    for kind, names in (("numeric", numeric), ("categorical", categorical)):
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"columns listed more than once under {kind}: {repeated}")
    if not numeric and not categorical:
        raise ValueError("no features to compare: give at least one numeric or categorical column")


def _check_parameters(alpha: float, correction: str, drift_share: float, change: float) -> None:
    if not (isinstance(alpha, int | float) and 0.0 < float(alpha) < 1.0):
        raise ValueError(f"alpha must be between 0 and 1 (exclusive), got {alpha!r}")
    if correction not in CORRECTIONS:
        raise ValueError(f"correction must be one of {list(CORRECTIONS)}, got {correction!r}")
    if not (isinstance(drift_share, int | float) and 0.0 < float(drift_share) <= 1.0):
        raise ValueError(f"drift_share must be in (0, 1], got {drift_share!r}")
    if not (isinstance(change, int | float) and 0.0 < float(change) <= 1.0):
        raise ValueError(f"missing_rate_change must be in (0, 1], got {change!r}")


def _check_frame(frame: object, which: str, names: Sequence[str]) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"{which} must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [n for n in names if n not in frame.columns]
    if missing:
        listed = ", ".join(repr(n) for n in missing)
        raise ValueError(
            f"column{'s' if len(missing) > 1 else ''} {listed} missing from the {which} frame"
        )
    duplicated = sorted({n for n in names if int((frame.columns == n).sum()) > 1})
    if duplicated:
        raise ValueError(f"column(s) {duplicated} appear more than once in the {which} frame")
    if len(frame) == 0:
        raise ValueError(f"{'current batch' if which == 'current' else which} has no rows")


def _empty_side_note(ref_n: int, cur_n: int, *, what: str) -> str | None:
    if ref_n == 0 and cur_n == 0:
        return f"no {what} in reference or current batch"
    if ref_n == 0:
        return f"no {what} in reference"
    if cur_n == 0:
        return f"no {what} in current batch"
    return None


def _join(notes: list[str]) -> str | None:
    return "; ".join(notes) if notes else None


def _json_float(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _from_json_float(value: float | None) -> float:
    return math.nan if value is None else float(value)
