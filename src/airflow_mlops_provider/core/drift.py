"""Data drift detection: compare a current batch with a reference profile, feature by feature.

The reference is a :class:`~airflow_mlops_provider.core.drift_profile.DriftProfile` fitted once
on the champion's training data (see that module); :func:`compare_profile` scans only the
current batch. :func:`compare` fits a profile on a reference frame and compares in one call.

**A feature drifts only with evidence and a material effect, at every sample size**
(core/drift_features.py measures both):

* *evidence*: its two-sample test — Kolmogorov-Smirnov (numeric) or chi-square of homogeneity
  (categorical) — is significant under the check's multiple-testing control (``bonferroni``:
  threshold alpha / m, bounds the chance of *any* false feature alarm by alpha;
  ``benjamini_hochberg``: bounds the expected share of false alarms among flagged features;
  ``none``: alpha). m counts the features whose test ran;
* *effect*: the feature's ``test`` names an effect size that must reach its minimum
  (``min_effect``, defaults in ``DEFAULT_MIN_EFFECT``, a feature's ``threshold`` overrides):

==================  ===========  ==========================================  ===========
test                kinds        effect size                                 min_effect
==================  ===========  ==========================================  ===========
``ks`` (auto)       numeric      KS distance D = sup |F_ref - F_cur|         0.025
``chi2`` (auto)     categorical  Cramér's V at equal sizes                   0.05
``psi``             both         population stability index                  0.1
``jensenshannon``   both         Jensen-Shannon distance (base 2)            0.1
``wasserstein``     numeric      W1 / robust scale, over the central range   0.1
``linf``            categorical  largest share difference                    0.1
==================  ===========  ==========================================  ===========

A p-value alone flags negligible differences in large batches; an effect size alone flags
noise in small ones. Together the verdict does not jump with the sample size: the same shift
is drift at 10k and at 16k rows, and a negligible one is drift at neither.

**Shares** (each feature; one family of their own, same correction): the missing share, the
non-finite (+-inf) share and, for categorical features, the share of values the reference
never had (against the Good-Turing rate it predicts), each drift when a two-proportion test is
significant *and* the change is at least ``missing_rate_change`` (missing) or its
``DEFAULT_MIN_EFFECT`` entry (``nonfinite_share``, ``unseen_share``). So a column that turns
into infinities, or a category re-keyed so every value is new, is drift, not "not tested".

**Not enough evidence**: a feature whose evidence test could not detect even a large shift
(KS D or V of ``LARGE_EFFECT`` = 0.3) at this size at the family's Bonferroni level is
``not_enough_evidence``, never "stable"; a feature without values to test is ``not_tested``.
The dataset verdict is ``drift`` when ``drift_share`` of the judged features drifted,
``not_enough_evidence`` when the features that could not be judged might change that, else
``no_drift``. ``min_rows`` says how large a batch the check needs.

**Prediction drift**: when the profile holds the model's prediction distribution and the
current batch has the prediction column, it is judged the same way (a family of one) and
reported apart; it does not count towards dataset drift.

The module is pure logic: numpy, scipy and pandas only, no Airflow or MLflow import.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from airflow_mlops_provider.core import drift_stats as st
from airflow_mlops_provider.core.drift_features import (
    EVIDENCE,
    Measured,
    Share,
    measure,
    resolve_test,
)
from airflow_mlops_provider.core.drift_profile import DriftProfile, fit_profile
from airflow_mlops_provider.core.vocabulary import (
    CORRECTIONS,
    DEFAULT_MIN_EFFECT,
    DRIFT_DEFAULTS,
    TESTS_BY_KIND,
)

__all__ = [
    "DriftReport",
    "FeatureDrift",
    "compare",
    "compare_profile",
    "resolve_test",
]

#: Version of the ``DriftReport.to_dict`` layout; bump on incompatible changes.
REPORT_FORMAT_VERSION = 3
#: A batch too small for its evidence test to detect a shift this large (KS D, Cramér's V) is
#: "not enough evidence" (see the module docstring).
LARGE_EFFECT = 0.3
DRIFT, STABLE, NOT_ENOUGH, NOT_TESTED = "drift", "stable", "not_enough_evidence", "not_tested"
VERDICTS = (DRIFT, "no_drift", NOT_ENOUGH)
SHARE_NAMES = {"missing": "missing", "nonfinite": "non-finite", "unseen": "unseen"}


@dataclass(frozen=True)
class FeatureDrift:
    """Drift verdict for one feature (or for the prediction).

    ``statistic`` is the effect size of ``test`` and ``min_effect`` the size it must reach;
    ``p_value`` is the evidence test's (``evidence``: ks or chi2; None when it could not run)
    and ``threshold`` the family's p-value threshold. ``status`` is drift, stable,
    not_enough_evidence or not_tested; ``drifted`` also covers share drift (missing,
    non-finite, unseen: ``details["shares"]``). ``details`` holds plain JSON values for the
    report page (histogram, shares, the smallest detectable effect).
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
    min_effect: float = math.nan
    status: str = STABLE
    evidence: str = ""
    details: dict[str, Any] = field(default_factory=dict, compare=True)

    @property
    def value(self) -> float:
        """The evidence (p-value) when it ran, else the effect size."""
        return self.p_value if self.p_value is not None else self.statistic

    @property
    def significant(self) -> bool:
        return self.p_value is not None and self.p_value < self.threshold

    @property
    def material(self) -> bool:
        return self.statistic >= self.min_effect

    @property
    def severity(self) -> float:
        """How far past its bars the feature is (> 1: drifted): for the distribution the
        smaller of threshold / p-value and effect / min_effect; for a drifted share its
        change / the allowed change. Not tested: -1."""
        if not self.tested and not self.drifted:
            return -1.0
        score = 0.0
        if self.p_value is not None:
            evidence = self.threshold / self.p_value if self.p_value > 0 else math.inf
            effect = self.statistic / self.min_effect if self.min_effect > 0 else math.inf
            score = min(evidence, effect)
        for share in (self.details.get("shares") or {}).values():
            if share.get("drifted"):
                change = abs(share["current"] - share["reference"])
                score = max(score, change / max(share["min_change"], 1e-9))
        return score

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature": str(self.feature),
            "kind": str(self.kind),
            "test": str(self.test),
            "statistic": _json_float(self.statistic),
            "p_value": None if self.p_value is None else _json_float(self.p_value),
            "threshold": _json_float(self.threshold),
            "min_effect": _json_float(self.min_effect),
            "evidence": self.evidence,
            "status": self.status,
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
            min_effect=_from_json_float(f["min_effect"]),
            evidence=str(f["evidence"]),
            status=str(f["status"]),
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

    ``drifted_share`` is the number of drifted features divided by the number of judged ones
    (drifted or stable; 0.0 when none could be). ``verdict`` is drift, no_drift or
    not_enough_evidence; ``min_rows`` the smallest batch in which every feature's evidence
    test could detect a large shift. ``prediction`` is the verdict on the model's output
    distribution, None when it was not available.
    """

    features: tuple[FeatureDrift, ...]
    alpha: float
    correction: str
    drift_share: float
    drifted_share: float
    dataset_drift: bool
    prediction: FeatureDrift | None = None
    missing_rate_change: float = 0.05
    verdict: str = "no_drift"
    min_rows: int = 0
    min_effect: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_MIN_EFFECT))

    def drifted_features(self) -> list[str]:
        """Names of drifted features, most severe first."""
        return [f.feature for f in self.features if f.drifted]

    def unjudged_features(self) -> list[str]:
        """Features that could not be judged (not enough evidence, or nothing to test)."""
        return [f.feature for f in self.features if f.status in (NOT_ENOUGH, NOT_TESTED)]

    @property
    def prediction_drift(self) -> bool | None:
        return None if self.prediction is None else self.prediction.drifted

    @property
    def p_value_tests_ran(self) -> bool:
        return any(f.p_value is not None for f in self.features)

    def top(self, limit: int = 10) -> list[dict[str, Any]]:
        """The ``limit`` most severe features as small dicts (for XCom and alerts)."""
        return [
            {
                "feature": f.feature,
                "test": f.test,
                "value": _json_float(f.statistic),
                "threshold": _json_float(f.min_effect),
                "p_value": None if f.p_value is None else _json_float(f.p_value),
                "status": f.status,
                "drifted": f.drifted,
            }
            for f in self.features[:limit]
        ]

    def summary(self) -> dict[str, Any]:
        """The machine summary: decision, shares, per-feature results without histograms."""
        return {
            "verdict": self.verdict,
            "dataset_drift": self.dataset_drift,
            "drifted_share": self.drifted_share,
            "drift_share": self.drift_share,
            "drifted_features": self.drifted_features(),
            "unjudged_features": self.unjudged_features(),
            "min_rows": self.min_rows,
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
            "verdict": self.verdict,
            "alpha": _json_float(self.alpha),
            "correction": self.correction,
            "drift_share": _json_float(self.drift_share),
            "drifted_share": _json_float(self.drifted_share),
            "dataset_drift": bool(self.dataset_drift),
            "missing_rate_change": _json_float(self.missing_rate_change),
            "min_effect": dict(self.min_effect),
            "min_rows": int(self.min_rows),
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
                missing_rate_change=_from_json_float(d["missing_rate_change"]),
                verdict=str(d["verdict"]),
                min_rows=int(d["min_rows"]),
                min_effect={str(k): float(v) for k, v in d["min_effect"].items()},
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
    current: Any,
    *,
    test: str = DRIFT_DEFAULTS.test,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    alpha: float = DRIFT_DEFAULTS.alpha,
    correction: str = DRIFT_DEFAULTS.correction,
    drift_share: float = DRIFT_DEFAULTS.drift_share,
    missing_rate_change: float = DRIFT_DEFAULTS.missing_rate_change,
    min_effect: Mapping[str, float] | None = None,
    prediction_column: str | None = "prediction",
) -> DriftReport:
    """Compare ``current`` (a frame, or a ``drift_stream.BatchScan`` of a batch scanned in
    chunks) with the reference ``profile``, feature by feature.

    Args:
        test: default effect test for every feature (``auto`` or one of the table above; a
            test that does not apply to a feature's kind is an error).
        overrides: per feature ``{"test": ..., "threshold": ...}`` (either key optional;
            ``threshold`` is that feature's minimum effect).
        alpha: significance level of the evidence tests' family (and the shares' family).
        correction: ``bonferroni``, ``benjamini_hochberg`` or ``none``.
        drift_share: share of judged features that must drift for ``dataset_drift``.
        missing_rate_change: smallest absolute change of a missing share that is drift.
        min_effect: overrides of ``DEFAULT_MIN_EFFECT`` entries.
        prediction_column: current column holding the model's outputs (None: skip).
    """
    overrides = dict(overrides or {})
    minimums = _min_effects(min_effect)
    _check_parameters(alpha, correction, drift_share, missing_rate_change)
    names = list(profile.columns)
    if not names:
        raise ValueError("the profile has no features to compare")
    unknown = sorted(set(overrides) - set(names))
    if unknown:
        raise ValueError(f"drift overrides name features the profile does not have: {unknown}")
    _check_frame(current, "current", names)  # a frame, or a BatchScan of one (drift_stream)
    measured = [
        measure(name, profile.columns[name], current[name], test, minimums, overrides.get(name, {}))
        for name in names
    ]
    changes = {**minimums, "missing_share": missing_rate_change}
    features = sorted(_judge(measured, alpha, correction, changes), key=_severity_key)
    verdict, drifted_share = _verdict(features, drift_share)
    return DriftReport(
        features=tuple(features),
        alpha=float(alpha),
        correction=correction,
        drift_share=float(drift_share),
        drifted_share=float(drifted_share),
        dataset_drift=verdict == DRIFT,
        prediction=_prediction(profile, current, prediction_column, test, alpha, changes),
        missing_rate_change=float(missing_rate_change),
        verdict=verdict,
        min_rows=max((f.details.get("min_rows") or 0 for f in features), default=0),
        min_effect=minimums,
    )


def _min_effects(given: Mapping[str, float] | None) -> dict[str, float]:
    unknown = sorted(set(given or {}) - set(DEFAULT_MIN_EFFECT))
    if unknown:
        raise ValueError(f"min_effect names {unknown}; known: {', '.join(DEFAULT_MIN_EFFECT)}")
    merged = {**DEFAULT_MIN_EFFECT, **(given or {})}
    bad = {k: v for k, v in merged.items() if not (isinstance(v, int | float) and v > 0)}
    if bad:
        raise ValueError(f"min_effect values must be positive numbers, got {bad}")
    return {k: float(v) for k, v in merged.items()}


def _prediction(
    profile: DriftProfile,
    current: pd.DataFrame,
    column: str | None,
    test: str,
    alpha: float,
    changes: Mapping[str, float],
) -> FeatureDrift | None:
    if profile.prediction is None or column is None or column not in current.columns:
        return None
    default = test if test in TESTS_BY_KIND[profile.prediction.kind] else "auto"
    measured = measure(column, profile.prediction, current[column], default, changes, {})
    (outcome,) = _judge([measured], alpha, "none", changes)
    return outcome


# --------------------------------------------------------------------------------------------
# judging: the families, then each feature's status, then the dataset
# --------------------------------------------------------------------------------------------


def _judge(
    measured: list[Measured], alpha: float, correction: str, changes: Mapping[str, float]
) -> list[FeatureDrift]:
    family = [m.p_value for m in measured if m.p_value is not None]
    threshold = st.family_threshold(family, alpha, correction)
    level = alpha / len(family) if correction != "none" and family else alpha
    share_p = {
        (i, name): _share_p_value(share)
        for i, m in enumerate(measured)
        for name, share in m.shares.items()
        if share.testable
    }
    share_threshold = st.family_threshold(list(share_p.values()), alpha, correction)
    return [
        _feature(
            m,
            threshold,
            level,
            {n: share_p.get((i, n)) for n in m.shares},
            share_threshold,
            changes,
        )  # fmt: skip
        for i, m in enumerate(measured)
    ]


def _share_p_value(share: Share) -> float:
    p = st.two_proportion_p_value(share.k_ref, share.n_ref, share.k_cur, share.n_cur)
    if share.one_sided:  # only a rise counts: halve the two-sided p when it rose
        return p / 2 if share.current > share.reference else 1.0
    return p


def _feature(
    m: Measured,
    threshold: float,
    level: float,
    share_p: Mapping[str, float | None],
    share_threshold: float,
    changes: Mapping[str, float],
) -> FeatureDrift:
    shares = {
        name: _share_verdict(name, share, share_p[name], share_threshold, changes)
        for name, share in m.shares.items()
    }
    notes = list(m.notes)
    for name, verdict in shares.items():
        if verdict["drifted"]:
            notes.append(
                f"{SHARE_NAMES[name]} share {verdict['reference']:.1%} -> {verdict['current']:.1%}"
            )
    tested = m.p_value is not None
    significant = tested and m.p_value < threshold  # type: ignore[operator]
    material = m.effect >= m.min_effect
    share_drift = any(v["drifted"] for v in shares.values())
    detectable, min_rows = _detectable(m, level)
    if (significant and material) or share_drift:
        status = DRIFT
    elif not tested:
        status = NOT_TESTED
    elif detectable > LARGE_EFFECT:
        status = NOT_ENOUGH
        needs = f"about {min_rows:,} rows" if min_rows else "a larger reference"
        seen = (
            "no shift could be seen"
            if detectable >= 1
            else f"only a shift of {EVIDENCE[m.kind]} {detectable:.2f} or more could be seen"
        )
        notes.append(f"not enough evidence: at {m.current_size} value(s) {seen} (needs {needs})")
    else:
        status = STABLE
        if significant:
            notes.append(f"significant but below the minimum effect {m.min_effect:g}")
    missing = shares["missing"]
    return FeatureDrift(
        feature=m.feature,
        kind=m.kind,
        test=m.test,
        statistic=float(m.effect),
        p_value=None if m.p_value is None else float(m.p_value),
        threshold=float(threshold),
        drifted=status == DRIFT,
        reference_size=int(m.reference_size),
        current_size=int(m.current_size),
        note="; ".join(notes) or None,
        missing_reference=missing["reference"],
        missing_current=missing["current"],
        missing_drifted=missing["drifted"],
        tested=tested,
        min_effect=float(m.min_effect),
        status=status,
        evidence=EVIDENCE[m.kind],
        details={
            **m.details,
            "shares": shares,
            "detectable_effect": _json_float(detectable),
            "min_rows": min_rows,
        },
    )


def _share_verdict(
    name: str,
    share: Share,
    p: float | None,
    threshold: float,
    changes: Mapping[str, float],
) -> dict[str, Any]:
    minimum = changes[f"{name}_share"]
    change = share.current - share.reference
    moved = change >= minimum if share.one_sided else abs(change) >= minimum
    return {
        "reference": share.reference,
        "current": share.current,
        "counts": [share.k_ref, share.n_ref, share.k_cur, share.n_cur],
        "p_value": None if p is None else _json_float(p),
        "threshold": _json_float(threshold),
        "min_change": minimum,
        "tested": p is not None,
        "drifted": bool(p is not None and p < threshold and moved),
    }


def _detectable(m: Measured, level: float) -> tuple[float, int | None]:
    """(the evidence test's detectable effect at this size, the current rows it needs to
    detect LARGE_EFFECT; None when even an endless batch would not, the reference being too
    small) — in KS D (numeric) or Cramér's V (categorical)."""
    numeric = m.kind == "numeric"
    unit = st.ks_n_eff(1.0, level) if numeric else st.chi2_n_eff(1.0, m.degrees, level)
    found = st.detectable(unit, m.reference_size, m.current_size)
    need = unit / LARGE_EFFECT**2
    if need >= m.reference_size:
        return found, None
    return found, math.ceil(1 / (1 / need - 1 / m.reference_size))


def _verdict(features: list[FeatureDrift], drift_share: float) -> tuple[str, float]:
    """(dataset verdict, drifted share of the judged features).

    "no_drift" is said only when it would hold even if every feature that could not be judged
    had drifted; otherwise the batch is "not enough evidence"."""
    drifted = sum(f.status == DRIFT for f in features)
    judged = drifted + sum(f.status == STABLE for f in features)
    unknown = len(features) - judged
    share = drifted / judged if judged else 0.0
    if drifted and share >= drift_share:
        return DRIFT, share
    if unknown and (drifted + unknown) / (judged + unknown) >= drift_share:
        return NOT_ENOUGH, share
    return "no_drift", share


_STATUS_ORDER = {DRIFT: 0, NOT_ENOUGH: 1, NOT_TESTED: 2, STABLE: 3}


def _severity_key(f: FeatureDrift) -> tuple[int, float, str]:
    return (_STATUS_ORDER[f.status], -f.severity, f.feature)


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


def _check_frame(frame: Any, which: str, names: Sequence[str]) -> None:
    from airflow_mlops_provider.core.drift_stream import BatchScan

    if not isinstance(frame, pd.DataFrame | BatchScan):
        raise ValueError(f"{which} must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [n for n in names if n not in frame.columns]
    if missing:
        listed = ", ".join(repr(n) for n in missing)
        raise ValueError(
            f"column{'s' if len(missing) > 1 else ''} {listed} missing from the {which} frame"
        )
    columns = list(frame.columns)
    duplicated = sorted({n for n in names if columns.count(n) > 1})
    if duplicated:
        raise ValueError(f"column(s) {duplicated} appear more than once in the {which} frame")
    if len(frame) == 0:
        raise ValueError(f"{'current batch' if which == 'current' else which} has no rows")


def _json_float(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _from_json_float(value: float | None) -> float:
    return math.nan if value is None else float(value)
