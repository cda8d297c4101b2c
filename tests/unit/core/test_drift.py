"""Tests for the two-sample drift engine (core/drift.py)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from airflow_mlops_provider.core.drift import DriftReport, FeatureDrift, compare
from airflow_mlops_provider.core.drift_html import render_html

CATS = np.array(["a", "b", "c", "d"])
CAT_P = np.array([0.4, 0.3, 0.2, 0.1])


def _frame(rng: np.random.Generator, rows: int, n_num: int, n_cat: int) -> pd.DataFrame:
    data: dict[str, object] = {f"x{i}": rng.normal(size=rows) for i in range(n_num)}
    for i in range(n_cat):
        data[f"c{i}"] = rng.choice(CATS, size=rows, p=CAT_P)
    return pd.DataFrame(data)


def _by_name(report: DriftReport) -> dict[str, FeatureDrift]:
    return {f.feature: f for f in report.features}


# -- numeric -----------------------------------------------------------------------------------


def test_ks_statistic_and_p_value_equal_scipy() -> None:
    rng = np.random.default_rng(1)
    ref = pd.DataFrame({"x": rng.normal(size=3000)})
    cur = pd.DataFrame({"x": rng.normal(0.05, 1.1, size=2500)})
    f = compare(ref, cur, numeric=["x"], categorical=[]).features[0]
    expected = stats.ks_2samp(ref["x"].to_numpy(), cur["x"].to_numpy(), method="auto")
    assert f.test == "ks" and f.kind == "numeric"
    assert f.statistic == pytest.approx(expected.statistic, abs=0, rel=1e-12)
    assert f.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert (f.reference_size, f.current_size) == (3000, 2500)


def test_mean_shift_of_quarter_std_is_detected() -> None:
    rng = np.random.default_rng(2)
    ref = _frame(rng, 10_000, 4, 0)
    cur = _frame(rng, 10_000, 4, 0)
    cur["x0"] = cur["x0"] + 0.25
    report = compare(ref, cur, numeric=list(ref.columns), categorical=[])
    assert report.drifted_features() == ["x0"]
    assert report.features[0].feature == "x0"  # most severe first
    assert report.drifted_share == pytest.approx(0.25)
    assert report.dataset_drift  # 1 of 4 reaches the default 25% share


def test_nan_and_inf_are_ignored_and_counted_out() -> None:
    rng = np.random.default_rng(3)
    ref = pd.DataFrame({"x": rng.normal(size=5000)})
    cur_values = rng.normal(size=5000)
    cur_values[:100] = np.nan  # 2% missing: below the 5-point missing-rate change
    cur_values[100:110] = np.inf
    cur_values[110:115] = -np.inf
    cur = pd.DataFrame({"x": cur_values})
    f = compare(ref, cur, numeric=["x"], categorical=[]).features[0]
    assert f.current_size == 5000 - 115
    assert f.missing_current == pytest.approx(0.02) and not f.missing_drifted
    assert f.reference_size == 5000
    assert not f.drifted
    assert f.note is not None and "15 non-finite value(s) in current batch" in f.note
    nonfinite = f.details["shares"]["nonfinite"]
    assert nonfinite["current"] == pytest.approx(0.003) and not nonfinite["drifted"]
    expected = stats.ks_2samp(ref["x"].to_numpy(), cur_values[115:], method="auto")
    assert f.statistic == pytest.approx(expected.statistic)
    assert np.isfinite(f.statistic) and np.isfinite(f.p_value)


def test_nullable_numeric_dtype_is_accepted() -> None:
    ref = pd.DataFrame({"n": pd.array([1, 2, 3, None] * 50, dtype="Int64")})
    cur = pd.DataFrame({"n": pd.array([1, 2, None, 3] * 50, dtype="Int64")})
    f = compare(ref, cur, numeric=["n"], categorical=[]).features[0]
    assert (f.reference_size, f.current_size) == (150, 150)
    assert f.statistic == 0.0 and f.p_value == 1.0 and not f.drifted


def test_non_numeric_values_in_numeric_feature_raise() -> None:
    ref = pd.DataFrame({"x": [1.0, 2.0]})
    cur = pd.DataFrame({"x": ["1.0", "oops"]})
    with pytest.raises(ValueError, match=r"'x'.*current.*categorical"):
        compare(ref, cur, numeric=["x"], categorical=[])


def test_constant_identical_columns_are_not_drift() -> None:
    ref = pd.DataFrame({"x": np.full(1000, 3.0), "c": ["k"] * 1000})
    cur = pd.DataFrame({"x": np.full(800, 3.0), "c": ["k"] * 800})
    report = compare(ref, cur, numeric=["x"], categorical=["c"])
    for f in report.features:
        assert f.p_value == 1.0
        assert f.statistic == 0.0
        assert not f.drifted
        assert f.note is not None and ("constant in both" in f.note or "single category" in f.note)
    assert not report.dataset_drift
    assert report.features[0].threshold == pytest.approx(0.01 / 2)  # both counted as tested


def test_constant_but_different_columns_drift() -> None:
    ref = pd.DataFrame({"x": np.full(500, 1.0)})
    cur = pd.DataFrame({"x": np.full(500, 2.0)})
    f = compare(ref, cur, numeric=["x"], categorical=[]).features[0]
    assert f.drifted and f.statistic == 1.0


def test_column_without_values_on_one_side_is_not_tested_but_its_shares_are() -> None:
    """No usable values: the distribution is not tested. An all-missing current column is
    missing-share drift (0% -> 100%); a reference column of infinities against a finite one
    is non-finite-share drift (100% -> 0%): never a silent pass."""
    rng = np.random.default_rng(4)
    ref = _frame(rng, 2000, 3, 1)
    cur = _frame(rng, 2000, 3, 1)
    cur["x0"] = np.nan
    cur["c0"] = None
    ref["x1"] = np.inf
    report = compare(ref, cur, numeric=["x0", "x1", "x2"], categorical=["c0"])
    by = _by_name(report)
    assert by["x0"].note == "no finite values in current batch; missing share 0.0% -> 100.0%"
    assert by["x0"].current_size == 0 and not by["x0"].tested
    assert by["x0"].missing_drifted and by["x0"].status == "drift"
    assert by["c0"].note is not None and by["c0"].note.startswith("no values in current batch")
    assert by["c0"].missing_drifted and by["c0"].drifted
    assert by["x1"].note is not None and by["x1"].note.startswith("no finite values in reference")
    assert by["x1"].drifted and not by["x1"].missing_drifted
    assert "non-finite share 100.0% -> 0.0%" in by["x1"].note
    for name in ("x0", "x1", "c0"):
        assert by[name].p_value is None and by[name].statistic == 0.0
    # Only x2 ran an evidence test: a Bonferroni family of one.
    assert by["x2"].threshold == pytest.approx(0.01) and by["x2"].status == "stable"
    assert report.drifted_share == pytest.approx(0.75) and report.verdict == "drift"
    assert json.dumps(report.to_dict(), allow_nan=False)


def test_a_column_of_infinities_on_both_sides_cannot_pass_silently() -> None:
    ref = pd.DataFrame({"x": np.full(500, np.inf), "y": np.random.default_rng(1).normal(size=500)})
    cur = pd.DataFrame({"x": np.full(500, -np.inf), "y": np.random.default_rng(2).normal(size=500)})
    report = compare(ref, cur, numeric=["x", "y"], categorical=[])
    x = _by_name(report)["x"]
    assert x.status == "not_tested" and "no finite values in reference or current" in x.note
    # one of two features cannot be judged: it could be the drifted one, so no "no drift"
    assert report.verdict == "not_enough_evidence" and not report.dataset_drift
    assert report.unjudged_features() == ["x"]


# -- categorical -------------------------------------------------------------------------------


def test_chi2_matches_scipy_on_a_plain_table() -> None:
    ref = pd.DataFrame({"c": ["a"] * 500 + ["b"] * 300 + ["c"] * 200})
    cur = pd.DataFrame({"c": ["a"] * 420 + ["b"] * 330 + ["c"] * 250})
    f = compare(ref, cur, numeric=[], categorical=["c"]).features[0]
    expected = stats.chi2_contingency(np.array([[500, 300, 200], [420, 330, 250]]))
    assert f.test == "chi2" and f.kind == "categorical" and f.evidence == "chi2"
    assert f.details["chi2_statistic"] == pytest.approx(expected.statistic)
    assert f.p_value == pytest.approx(expected.pvalue)
    # the effect: Cramér's V of the shares as if both samples had the same size
    r, c = np.array([0.5, 0.3, 0.2]), np.array([0.42, 0.33, 0.25])
    assert f.statistic == pytest.approx(np.sqrt(np.sum((r - c) ** 2 / (2 * (r + c)))))


def test_ten_point_category_mix_change_is_detected() -> None:
    rng = np.random.default_rng(5)
    ref = pd.DataFrame({"c": rng.choice(CATS, size=10_000, p=[0.4, 0.3, 0.2, 0.1])})
    cur = pd.DataFrame({"c": rng.choice(CATS, size=10_000, p=[0.3, 0.4, 0.2, 0.1])})
    report = compare(ref, cur, numeric=[], categorical=["c"])
    assert report.drifted_features() == ["c"]
    assert report.dataset_drift


def test_unseen_categories_are_drift_evidence() -> None:
    rng = np.random.default_rng(6)
    ref = pd.DataFrame({"c": rng.choice(CATS, size=5000, p=CAT_P)})
    cur_values = rng.choice(CATS, size=5000, p=CAT_P).astype(object)
    cur_values[:150] = "brand-new"  # 3% of rows carry a value the model never saw
    cur_values[150:160] = "other-new"
    cur = pd.DataFrame({"c": cur_values})
    f = compare(ref, cur, numeric=[], categorical=["c"]).features[0]
    assert f.drifted and f.status == "drift"
    assert f.note is not None and "2 categories not among the reference's categories" in f.note
    assert f.details["shares"]["unseen"]["current"] == pytest.approx(0.032)


def test_rare_categories_are_merged_and_do_not_raise_false_alarms() -> None:
    # A long tail of rare categories: an unmerged table would violate the expected-count rule.
    rng = np.random.default_rng(7)
    cats = np.array([f"k{i}" for i in range(60)])
    p = np.r_[[0.5, 0.3], np.full(58, 0.2 / 58)]
    alarms = 0
    for _ in range(10):
        ref = pd.DataFrame({"c": rng.choice(cats, size=3000, p=p)})
        cur = pd.DataFrame({"c": rng.choice(cats, size=500, p=p)})
        f = compare(ref, cur, numeric=[], categorical=["c"]).features[0]
        assert f.note is not None and "sparse categories into 'other'" in f.note
        alarms += f.drifted
    assert alarms <= 1


def test_too_few_values_for_chi2_is_reported_not_tested() -> None:
    ref = pd.DataFrame({"c": ["a"] * 1000 + ["b"] * 1000})
    cur = pd.DataFrame({"c": ["a", "b", "a"]})
    f = compare(ref, cur, numeric=[], categorical=["c"]).features[0]
    assert not f.drifted and f.p_value is None and f.status == "not_tested"
    assert f.note is not None and f.note.startswith("too few values per category")


def test_pandas_categorical_dtype_with_unused_categories() -> None:
    dtype = pd.CategoricalDtype(["a", "b", "c", "never"])
    ref = pd.DataFrame({"c": pd.Series(["a", "b", "c"] * 300, dtype=dtype)})
    cur = pd.DataFrame({"c": pd.Series(["a", "b", "c"] * 200 + [None] * 10, dtype=dtype)})
    f = compare(ref, cur, numeric=[], categorical=["c"]).features[0]
    assert (f.reference_size, f.current_size) == (900, 600)
    assert f.statistic == pytest.approx(0.0) and not f.drifted


# -- false alarms on stable data ---------------------------------------------------------------


def test_stable_data_rarely_alarms() -> None:
    """Same distribution, 20 features, 10k rows, 50 seeds: Bonferroni bounds the chance of any
    feature alarm per batch by alpha=0.01, so dataset drift (>= 5 of 20 features) should never
    happen and single-feature alarms should be rare (expected about 0.5 in 50 batches)."""
    dataset_alarms = 0
    feature_alarm_batches = 0
    for seed in range(50):
        rng = np.random.default_rng(1000 + seed)
        ref = _frame(rng, 10_000, 10, 10)
        cur = _frame(rng, 10_000, 10, 10)
        report = compare(
            ref,
            cur,
            numeric=[f"x{i}" for i in range(10)],
            categorical=[f"c{i}" for i in range(10)],
        )
        dataset_alarms += report.dataset_drift
        feature_alarm_batches += bool(report.drifted_features())
    assert dataset_alarms <= 1
    assert feature_alarm_batches <= 3


def test_without_correction_threshold_is_alpha() -> None:
    rng = np.random.default_rng(8)
    ref, cur = _frame(rng, 500, 3, 1), _frame(rng, 500, 3, 1)
    report = compare(
        ref, cur, numeric=["x0", "x1", "x2"], categorical=["c0"], alpha=0.05, correction="none"
    )
    assert all(f.threshold == 0.05 for f in report.features)
    bonf = compare(ref, cur, numeric=["x0", "x1", "x2"], categorical=["c0"], alpha=0.05)
    assert all(f.threshold == pytest.approx(0.0125) for f in bonf.features)


def test_dataset_drift_needs_the_configured_share() -> None:
    rng = np.random.default_rng(9)
    ref, cur = _frame(rng, 5000, 8, 0), _frame(rng, 5000, 8, 0)
    cur["x0"] += 1.0
    cur["x1"] += 1.0
    cols = [f"x{i}" for i in range(8)]
    report = compare(ref, cur, numeric=cols, categorical=[], drift_share=0.3)
    assert set(report.drifted_features()) == {"x0", "x1"}
    assert report.drifted_share == pytest.approx(0.25)
    assert not report.dataset_drift
    assert compare(ref, cur, numeric=cols, categorical=[], drift_share=0.25).dataset_drift


# -- errors ------------------------------------------------------------------------------------


def test_missing_column_names_column_and_frame() -> None:
    ref = pd.DataFrame({"x": [1.0, 2.0], "c": ["a", "b"]})
    cur = pd.DataFrame({"x": [1.0, 2.0]})
    with pytest.raises(ValueError, match=r"'c' missing from the current frame"):
        compare(ref, cur, numeric=["x"], categorical=["c"])
    with pytest.raises(ValueError, match=r"'c' missing from the reference frame"):
        compare(cur, ref, numeric=["x"], categorical=["c"])


def test_empty_current_batch_raises() -> None:
    ref = pd.DataFrame({"x": [1.0, 2.0]})
    cur = pd.DataFrame({"x": pd.Series([], dtype="float64")})
    with pytest.raises(ValueError, match="current batch has no rows"):
        compare(ref, cur, numeric=["x"], categorical=[])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"numeric": ["x"], "categorical": ["x"]}, "both numeric and categorical"),
        ({"numeric": [], "categorical": []}, "no features"),
        ({"numeric": "x", "categorical": []}, "list of column names"),
        ({"numeric": ["x"], "categorical": [], "alpha": 0.0}, "alpha"),
        ({"numeric": ["x"], "categorical": [], "correction": "holm"}, "correction"),
        ({"numeric": ["x"], "categorical": [], "drift_share": 1.5}, "drift_share"),
    ],
)
def test_bad_arguments_raise(kwargs: dict, message: str) -> None:
    df = pd.DataFrame({"x": [1.0, 2.0]})
    with pytest.raises(ValueError, match=message):
        compare(df, df, **kwargs)


# -- serialisation and rendering ---------------------------------------------------------------


def _mixed_report() -> DriftReport:
    rng = np.random.default_rng(10)
    ref, cur = _frame(rng, 2000, 3, 2), _frame(rng, 2000, 3, 2)
    cur["x0"] += 0.5
    cur["x2"] = np.nan
    return compare(ref, cur, numeric=["x0", "x1", "x2"], categorical=["c0", "c1"])


def test_to_dict_from_dict_round_trip_is_strict_json() -> None:
    report = _mixed_report()
    text = json.dumps(report.to_dict(), allow_nan=False)
    restored = DriftReport.from_dict(json.loads(text))
    assert restored == report
    # x2 went all-missing in the current batch (missing-rate drift), x0 shifted
    assert restored.drifted_features() == ["x2", "x0"]
    for key, value in report.to_dict()["features"][0].items():
        assert key == "details" or type(value) in (str, float, int, bool, type(None))


def test_from_dict_rejects_incomplete_input() -> None:
    d = _mixed_report().to_dict()
    del d["alpha"]
    with pytest.raises(ValueError, match="alpha"):
        DriftReport.from_dict(d)
    with pytest.raises(ValueError, match="format_version"):
        DriftReport.from_dict({**_mixed_report().to_dict(), "format_version": 99})


def test_features_sorted_most_severe_first() -> None:
    report = _mixed_report()
    flags = [f.drifted for f in report.features]
    assert flags == sorted(flags, reverse=True)
    stable = [f.severity for f in report.features if not f.drifted]
    assert stable == sorted(stable, reverse=True)


def test_render_html_escapes_and_orders_rows() -> None:
    rng = np.random.default_rng(11)
    evil = "<script>alert('x')</script>"
    ref = pd.DataFrame({evil: rng.normal(size=2000), "calm": rng.normal(size=2000)})
    cur = pd.DataFrame({evil: rng.normal(1.0, 1, size=2000), "calm": rng.normal(size=2000)})
    report = compare(ref, cur, numeric=[evil, "calm"], categorical=[])
    page = render_html(report, title="Drift & <b>churn</b>")
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "<title>Drift &amp; &lt;b&gt;churn&lt;/b&gt;</title>" in page
    assert page.startswith("<!DOCTYPE html>")
    assert "http://" not in page and "https://" not in page  # self-contained
    assert page.index("&lt;script&gt;") < page.index("<td>calm</td>")  # drifted row first
