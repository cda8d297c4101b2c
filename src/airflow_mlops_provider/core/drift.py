"""Data drift detection: compare a reference sample with a current batch, feature by feature.

This is the first, deliberately small drift engine. It answers one question per feature —
"could these two samples come from the same distribution?" — with a two-sample hypothesis test,
then controls the family-wise error rate over all features before calling a feature drifted.

Why these choices:

* **Two-sample tests, not one-sample tests against reference proportions.** The reference is a
  sample too. Treating its category proportions (or its empirical CDF) as exact population
  values ignores the reference's own sampling noise and raises false alarms on most stable data
  (see DESIGN.md §7). Both tests used here account for noise on both sides:
  two-sample Kolmogorov-Smirnov for numeric features and the chi-square test of homogeneity on
  the 2 x K contingency table for categorical features.
* **Family-wise control (Bonferroni).** With 20 features at alpha = 0.01 each, an uncorrected
  check would flag at least one feature on roughly 18% of stable batches. Bonferroni
  (per-feature threshold = alpha / number of features tested) bounds the probability of *any*
  false feature alarm by alpha, needs no independence assumption between features, and is easy
  to explain in an alert. It is conservative; that is the right trade-off for a signal that can
  trigger retraining.
* **Dataset drift needs a share of features.** One drifted feature out of fifty is reported but
  is not "the dataset drifted"; ``drift_share`` (default 25%) sets how many must move.
* **Missing values are not drift evidence here.** Tests compare non-missing (and, for numeric
  features, finite) values. A change in the missing-value rate is a data-quality problem that
  the validation step owns; mixing it into the distribution test would blur both signals.
* **p-values measure evidence, not size.** On very large batches a practically negligible shift
  can be statistically significant. Effect-size measures (PSI, Jensen-Shannon) and fitted
  reference profiles are planned additions; the per-kind test table (``_TESTS``) and the plain,
  versioned report format leave room for them.

The module is pure logic: numpy, scipy and pandas only, no Airflow or MLflow import.
"""

from __future__ import annotations

import html
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["DriftReport", "FeatureDrift", "compare", "render_html"]

#: Version of the ``DriftReport.to_dict`` layout; bump on incompatible changes.
REPORT_FORMAT_VERSION = 1

#: Minimum expected count per contingency-table cell for the chi-square approximation to hold
#: (the classic Cochran rule of thumb).
MIN_EXPECTED_COUNT = 5.0

_CORRECTIONS = ("bonferroni", "none")


@dataclass(frozen=True)
class FeatureDrift:
    """Drift verdict for one feature.

    ``statistic`` is the KS distance D (numeric) or the chi-square statistic (categorical).
    ``threshold`` is the per-feature significance level after the multiple-testing correction;
    the feature is drifted when ``p_value < threshold``. Features that could not be tested (no
    values on one side, too few values for a valid chi-square table) carry ``statistic=0.0``,
    ``p_value=1.0``, ``drifted=False`` and a ``note`` saying why; they never carry NaN.
    """

    feature: str
    kind: str  # "numeric" | "categorical"
    test: str  # "ks" | "chi2"
    statistic: float
    p_value: float
    threshold: float
    drifted: bool
    reference_size: int
    current_size: int
    note: str | None = None


@dataclass(frozen=True)
class DriftReport:
    """The result of :func:`compare`: per-feature verdicts plus the dataset-level decision.

    ``features`` is sorted most severe first: drifted features first, then ascending p-value,
    then descending statistic, then feature name (so the order is deterministic).
    ``drifted_share`` is the number of drifted features divided by the number of features that
    were actually tested (0.0 when none could be tested).
    """

    features: tuple[FeatureDrift, ...]
    alpha: float
    correction: str  # "bonferroni" | "none"
    drift_share: float
    drifted_share: float
    dataset_drift: bool

    def drifted_features(self) -> list[str]:
        """Names of drifted features, most severe first."""
        return [f.feature for f in self.features if f.drifted]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (plain Python types; NaN or infinity become ``None``).

        Safe for XCom, MLflow tags/artifacts and ``json.dumps(..., allow_nan=False)``.
        ``drifted_features`` is included for consumers' convenience and ignored by
        :meth:`from_dict`, which recomputes it from ``features``.
        """
        return {
            "format_version": REPORT_FORMAT_VERSION,
            "alpha": _json_float(self.alpha),
            "correction": self.correction,
            "drift_share": _json_float(self.drift_share),
            "drifted_share": _json_float(self.drifted_share),
            "dataset_drift": bool(self.dataset_drift),
            "drifted_features": self.drifted_features(),
            "features": [
                {
                    "feature": str(f.feature),
                    "kind": str(f.kind),
                    "test": str(f.test),
                    "statistic": _json_float(f.statistic),
                    "p_value": _json_float(f.p_value),
                    "threshold": _json_float(f.threshold),
                    "drifted": bool(f.drifted),
                    "reference_size": int(f.reference_size),
                    "current_size": int(f.current_size),
                    "note": None if f.note is None else str(f.note),
                }
                for f in self.features
            ],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DriftReport:
        """Rebuild a report written by :meth:`to_dict`.

        Raises ``ValueError`` naming the missing key or the unsupported format version, so a
        corrupted or foreign XCom value fails loudly instead of producing a wrong verdict.
        """
        if not isinstance(d, Mapping):
            raise ValueError(f"drift report must be a mapping, got {type(d).__name__}")
        version = d.get("format_version", REPORT_FORMAT_VERSION)
        if version != REPORT_FORMAT_VERSION:
            raise ValueError(
                f"unsupported drift report format_version {version!r} "
                f"(this version reads {REPORT_FORMAT_VERSION})"
            )
        try:
            features = tuple(
                FeatureDrift(
                    feature=str(f["feature"]),
                    kind=str(f["kind"]),
                    test=str(f["test"]),
                    statistic=_from_json_float(f["statistic"]),
                    p_value=_from_json_float(f["p_value"]),
                    threshold=_from_json_float(f["threshold"]),
                    drifted=bool(f["drifted"]),
                    reference_size=int(f["reference_size"]),
                    current_size=int(f["current_size"]),
                    note=None if f.get("note") is None else str(f["note"]),
                )
                for f in d["features"]
            )
            return cls(
                features=features,
                alpha=_from_json_float(d["alpha"]),
                correction=str(d["correction"]),
                drift_share=_from_json_float(d["drift_share"]),
                drifted_share=_from_json_float(d["drifted_share"]),
                dataset_drift=bool(d["dataset_drift"]),
            )
        except KeyError as exc:
            raise ValueError(f"drift report is missing key {exc.args[0]!r}") from None


# --------------------------------------------------------------------------------------------
# Per-kind tests
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Outcome:
    """What a per-kind test returns before the multiple-testing correction is applied."""

    test: str
    statistic: float
    p_value: float
    reference_size: int
    current_size: int
    tested: bool
    notes: tuple[str, ...] = field(default_factory=tuple)


def _numeric_values(series: pd.Series, feature: str, frame: str) -> tuple[np.ndarray, int]:
    """Finite float values of ``series`` and the number of non-finite (±inf) values dropped."""
    try:
        numeric = pd.to_numeric(series, errors="raise")
    except (ValueError, TypeError) as exc:
        raise ValueError(
            f"numeric feature {feature!r} in the {frame} frame has non-numeric values ({exc}); "
            f"declare it as categorical or clean it before drift detection"
        ) from None
    values = numeric.to_numpy(dtype="float64", na_value=np.nan)
    not_missing = values[~np.isnan(values)]
    finite = not_missing[np.isfinite(not_missing)]
    return finite, int(not_missing.size - finite.size)


def _ks_test(reference: pd.Series, current: pd.Series, feature: str) -> _Outcome:
    """Two-sample Kolmogorov-Smirnov on the finite values of both sides.

    KS is distribution-free and needs no binning choice, so it is a sound default for
    continuous features. ``method="auto"`` uses the exact distribution for small samples and
    the asymptotic one for large samples. Ties (discrete numeric data) make KS conservative:
    it raises fewer alarms, not more. Low-cardinality codes are better declared categorical.
    Infinities are dropped (and reported in the note): they have no place on a CDF comparison
    and usually signal a data-quality problem rather than drift.
    """
    ref, ref_inf = _numeric_values(reference, feature, "reference")
    cur, cur_inf = _numeric_values(current, feature, "current")
    notes: list[str] = []
    if ref_inf:
        notes.append(f"ignored {ref_inf} non-finite value(s) in reference")
    if cur_inf:
        notes.append(f"ignored {cur_inf} non-finite value(s) in current batch")
    empty = _empty_side_note(ref.size, cur.size, what="finite values")
    if empty:
        return _untested("ks", ref.size, cur.size, (empty, *notes))
    ref_constant = bool(np.all(ref == ref[0]))
    cur_constant = bool(np.all(cur == cur[0]))
    if ref_constant and cur_constant:
        notes.insert(
            0, "constant in both" if ref[0] == cur[0] else "constant in both, different values"
        )
    with warnings.catch_warnings():
        # When the exact p-value cannot be computed scipy falls back to the asymptotic one and
        # warns; that fallback is what we want, and the warning would only alarm task logs.
        warnings.filterwarnings("ignore", message=".*[Ee]xact calculation unsuccessful.*")
        result = stats.ks_2samp(ref, cur, method="auto")
    return _Outcome(
        test="ks",
        statistic=_clean(float(result.statistic), default=0.0),
        p_value=_clean(float(result.pvalue), default=1.0),
        reference_size=int(ref.size),
        current_size=int(cur.size),
        tested=True,
        notes=tuple(notes),
    )


def _category_counts(series: pd.Series) -> dict[Any, int]:
    """Counts of non-missing values; unused categories of a pandas Categorical are dropped."""
    counts = series.value_counts(dropna=True, sort=False)
    counts = counts[counts > 0]
    return {key: int(n) for key, n in zip(counts.index, counts.to_numpy(), strict=True)}


def _chi2_test(reference: pd.Series, current: pd.Series, feature: str) -> _Outcome:
    """Chi-square test of homogeneity on the 2 x K table of category counts.

    Both rows are samples, so this is a genuine two-sample test. Table construction:

    * categories seen in the reference are columns of their own;
    * all categories that appear only in the current batch are pooled into one "unseen"
      column whose reference count is 0, so new values count as drift evidence instead of
      being dropped (pooling keeps many rare new values from being lost among sparse columns);
    * columns whose smallest expected cell count would be below 5 are merged, smallest first,
      into one "other" column until every column meets the rule, so the chi-square
      approximation stays valid even for long-tailed features.

    If fewer than two columns remain the test cannot be run and the feature is reported as
    not tested - except when both sides hold the same single category, which is an exact
    match (statistic 0, p-value 1). For a 2 x 2 table scipy applies Yates' continuity
    correction, which is conservative.
    """
    ref_counts = _category_counts(reference)
    cur_counts = _category_counts(current)
    ref_n = sum(ref_counts.values())
    cur_n = sum(cur_counts.values())
    empty = _empty_side_note(ref_n, cur_n, what="values")
    if empty:
        return _untested("chi2", ref_n, cur_n, (empty,))

    notes: list[str] = []
    unseen = {key: n for key, n in cur_counts.items() if key not in ref_counts}
    if unseen:
        notes.append(
            f"{len(unseen)} categor{'y' if len(unseen) == 1 else 'ies'} not in reference "
            f"({sum(unseen.values())} row(s))"
        )
    if len(ref_counts) == 1 and len(cur_counts) == 1 and not unseen:
        notes.insert(0, "single category in both")
        return _Outcome("chi2", 0.0, 1.0, ref_n, cur_n, tested=True, notes=tuple(notes))

    columns = [(ref_counts[key], cur_counts.get(key, 0)) for key in ref_counts]
    if unseen:
        columns.append((0, sum(unseen.values())))
    table, merged = _merge_sparse_columns(columns, ref_n, cur_n)
    if merged > 1:
        notes.append(f"merged {merged} sparse categories into 'other'")
    if table.shape[1] < 2:
        notes.insert(0, "too few values per category for a valid chi-square test")
        return _untested("chi2", ref_n, cur_n, tuple(notes))

    result = stats.chi2_contingency(table, correction=True)
    return _Outcome(
        test="chi2",
        statistic=_clean(float(result.statistic), default=0.0),
        p_value=_clean(float(result.pvalue), default=1.0),
        reference_size=ref_n,
        current_size=cur_n,
        tested=True,
        notes=tuple(notes),
    )


def _merge_sparse_columns(
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


def _empty_side_note(ref_n: int, cur_n: int, *, what: str) -> str | None:
    if ref_n == 0 and cur_n == 0:
        return f"no {what} in reference or current batch"
    if ref_n == 0:
        return f"no {what} in reference"
    if cur_n == 0:
        return f"no {what} in current batch"
    return None


def _untested(test: str, ref_n: int, cur_n: int, notes: tuple[str, ...]) -> _Outcome:
    return _Outcome(test, 0.0, 1.0, int(ref_n), int(cur_n), tested=False, notes=notes)


#: Test per feature kind. New kinds or alternative tests (e.g. a reference-profile comparison)
#: plug in here without changing :func:`compare`'s decision logic.
_TESTS: dict[str, Callable[[pd.Series, pd.Series, str], _Outcome]] = {
    "numeric": _ks_test,
    "categorical": _chi2_test,
}


# --------------------------------------------------------------------------------------------
# compare
# --------------------------------------------------------------------------------------------


def compare(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    numeric: Sequence[str],
    categorical: Sequence[str],
    alpha: float = 0.01,
    correction: str = "bonferroni",
    drift_share: float = 0.25,
) -> DriftReport:
    """Compare ``current`` with ``reference`` feature by feature.

    Args:
        reference: the data the model was trained on (or a sample of it).
        current: the new batch.
        numeric: columns tested with two-sample KS.
        categorical: columns tested with the chi-square test of homogeneity.
        alpha: family-wise significance level: with ``correction="bonferroni"`` the chance
            that a stable batch flags *any* feature is at most ``alpha``.
        correction: ``"bonferroni"`` (threshold ``alpha / m``) or ``"none"`` (``alpha`` each).
        drift_share: share of tested features that must drift for ``dataset_drift``.

    The Bonferroni family size ``m`` counts only features that were actually tested. A feature
    with no usable values on one side (or too few for a valid chi-square table) produces no
    p-value, so it cannot cause a false alarm and does not tighten the threshold for the
    others; it is reported as not drifted with a note, and it is left out of the
    ``drifted_share`` denominator too. An all-missing column is a data-quality failure for the
    validation step, not a drift verdict. Constant identical columns are tested (p-value 1.0)
    and do count in ``m``, which only makes the correction slightly more conservative.

    Raises:
        ValueError: a column is missing from either frame (the message names the column and
            the frame), a column is listed twice or under both kinds, no features are given,
            either frame has no rows, a numeric column holds non-numeric values, or a
            parameter is out of range.
    """
    numeric = _column_list(numeric, "numeric")
    categorical = _column_list(categorical, "categorical")
    _check_parameters(alpha, correction, drift_share)
    _check_frame(reference, "reference")
    _check_frame(current, "current")
    duplicated = sorted(set(numeric) & set(categorical))
    if duplicated:
        raise ValueError(f"columns listed as both numeric and categorical: {duplicated}")
    for kind, names in (("numeric", numeric), ("categorical", categorical)):
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"columns listed more than once under {kind}: {repeated}")
    if not numeric and not categorical:
        raise ValueError("no features to compare: give at least one numeric or categorical column")
    _check_columns(reference, "reference", [*numeric, *categorical])
    _check_columns(current, "current", [*numeric, *categorical])
    if len(reference) == 0:
        raise ValueError("reference has no rows")
    if len(current) == 0:
        raise ValueError("current batch has no rows")

    kinds = [("numeric", name) for name in numeric] + [("categorical", n) for n in categorical]
    outcomes = [
        (kind, name, _TESTS[kind](reference[name], current[name], name)) for kind, name in kinds
    ]

    tested = sum(1 for _, _, o in outcomes if o.tested)
    threshold = alpha / max(tested, 1) if correction == "bonferroni" else alpha
    features = [
        FeatureDrift(
            feature=name,
            kind=kind,
            test=o.test,
            statistic=o.statistic,
            p_value=o.p_value,
            threshold=threshold,
            drifted=bool(o.tested and o.p_value < threshold),
            reference_size=o.reference_size,
            current_size=o.current_size,
            note="; ".join(o.notes) if o.notes else None,
        )
        for kind, name, o in outcomes
    ]
    features.sort(key=_severity_key)
    n_drifted = sum(f.drifted for f in features)
    drifted_share = n_drifted / tested if tested else 0.0
    return DriftReport(
        features=tuple(features),
        alpha=float(alpha),
        correction=correction,
        drift_share=float(drift_share),
        drifted_share=float(drifted_share),
        dataset_drift=bool(n_drifted > 0 and drifted_share >= drift_share),
    )


def _severity_key(f: FeatureDrift) -> tuple[bool, float, float, str]:
    return (not f.drifted, f.p_value, -f.statistic, f.feature)


def _column_list(names: Sequence[str], kind: str) -> list[str]:
    if isinstance(names, str):
        # A bare string would silently be read as a list of one-letter column names.
        raise ValueError(f"{kind} must be a list of column names, got the string {names!r}")
    return list(names)


def _check_parameters(alpha: float, correction: str, drift_share: float) -> None:
    if not (isinstance(alpha, int | float) and 0.0 < float(alpha) < 1.0):
        raise ValueError(f"alpha must be between 0 and 1 (exclusive), got {alpha!r}")
    if correction not in _CORRECTIONS:
        raise ValueError(f"correction must be one of {list(_CORRECTIONS)}, got {correction!r}")
    if not (isinstance(drift_share, int | float) and 0.0 < float(drift_share) <= 1.0):
        raise ValueError(f"drift_share must be in (0, 1], got {drift_share!r}")


def _check_frame(frame: object, which: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"{which} must be a pandas DataFrame, got {type(frame).__name__}")


def _check_columns(frame: pd.DataFrame, which: str, names: Sequence[str]) -> None:
    missing = [n for n in names if n not in frame.columns]
    if missing:
        listed = ", ".join(repr(n) for n in missing)
        raise ValueError(
            f"column{'s' if len(missing) > 1 else ''} {listed} missing from the {which} frame"
        )
    duplicated = sorted({n for n in names if int((frame.columns == n).sum()) > 1})
    if duplicated:
        raise ValueError(f"column(s) {duplicated} appear more than once in the {which} frame")


# --------------------------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1f2328}
h1{font-size:1.4rem;margin:0 0 .5rem}
.verdict{display:inline-block;padding:.3rem .7rem;border-radius:.3rem;font-weight:600}
.verdict.drift{background:#ffebe9;color:#a40e26}.verdict.ok{background:#dafbe1;color:#116329}
dl{display:grid;grid-template-columns:max-content auto;gap:.2rem 1rem;margin:1rem 0}
dt{color:#59636e}dd{margin:0}
table{border-collapse:collapse;font-size:.9rem}
th,td{border:1px solid #d1d9e0;padding:.3rem .6rem;text-align:left}
th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.drifted td{background:#fff5f5}tr.drifted td.flag{color:#a40e26;font-weight:600}
""".strip()


def render_html(report: DriftReport, *, title: str) -> str:
    """A self-contained HTML page (inline CSS, no scripts or external resources).

    Every piece of text from the report or the caller is HTML-escaped: feature names come
    from user data and the page may be served by the Airflow UI or attached to an alert.
    Rows are sorted most severe first.
    """
    esc = html.escape
    rows = sorted(report.features, key=_severity_key)
    n_drifted = sum(f.drifted for f in rows)
    verdict = (
        '<span class="verdict drift">Dataset drift detected</span>'
        if report.dataset_drift
        else '<span class="verdict ok">No dataset drift</span>'
    )
    summary = [
        ("Drifted features", f"{n_drifted} of {len(rows)}"),
        (
            "Drifted share",
            f"{report.drifted_share:.1%} (dataset drift at {report.drift_share:.1%})",
        ),
        ("Family-wise alpha", _fmt(report.alpha)),
        ("Correction", report.correction),
    ]
    body_rows = []
    for f in rows:
        body_rows.append(
            f'<tr class="{"drifted" if f.drifted else "stable"}">'
            f"<td>{esc(f.feature)}</td><td>{esc(f.kind)}</td><td>{esc(f.test)}</td>"
            f'<td class="num">{esc(_fmt(f.statistic))}</td>'
            f'<td class="num">{esc(_fmt(f.p_value))}</td>'
            f'<td class="num">{esc(_fmt(f.threshold))}</td>'
            f'<td class="flag">{"yes" if f.drifted else "no"}</td>'
            f'<td class="num">{f.reference_size}</td><td class="num">{f.current_size}</td>'
            f"<td>{esc(f.note or '')}</td></tr>"
        )
    header = "".join(
        f"<th>{h}</th>"
        for h in (
            "Feature",
            "Kind",
            "Test",
            "Statistic",
            "p-value",
            "Threshold",
            "Drifted",
            "Reference n",
            "Current n",
            "Note",
        )
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<h1>{esc(title)}</h1>\n{verdict}\n<dl>"
        + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in summary)
        + "</dl>\n<table>\n<thead><tr>"
        + header
        + "</tr></thead>\n<tbody>\n"
        + "\n".join(body_rows)
        + "\n</tbody>\n</table>\n</body>\n</html>\n"
    )


# --------------------------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------------------------


def _clean(value: float, *, default: float) -> float:
    """Replace NaN from a degenerate test with a neutral value so reports never hold NaN."""
    return default if math.isnan(value) else value


def _json_float(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _from_json_float(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _fmt(value: float) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    if value == 0:
        return "0"
    return f"{value:.3g}"
