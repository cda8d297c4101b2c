"""The profile-based drift engine: every statistic against scipy or a direct computation on the
same inputs, the one-pass scan against brute force, BH, overrides, auto, missing-rate and
prediction drift, profile round trip, and the HTML report."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from airflow_mlops_provider.core import drift_stats as st
from airflow_mlops_provider.core.drift import compare, compare_profile
from airflow_mlops_provider.core.drift_html import render_html
from airflow_mlops_provider.core.drift_profile import (
    DriftProfile,
    fit_profile,
    scan_numeric,
)


def _one(ref: np.ndarray, cur: np.ndarray, test: str, **kw):
    report = compare(pd.DataFrame({"x": ref}), pd.DataFrame({"x": cur}), numeric=["x"],
                     categorical=[], test=test, **kw)  # fmt: skip
    return report.features[0]


def _deciles(ref: np.ndarray, cur: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Direct computation of our PSI/JS bins: inverted-CDF deciles of the reference,
    right-closed bins, open-ended, repeated edges merged."""
    edges = np.unique(np.quantile(ref, np.arange(1, 10) / 10, method="inverted_cdf"))
    ref_bins = np.bincount(np.searchsorted(edges, ref, side="left"), minlength=edges.size + 1)
    cur_bins = np.bincount(np.searchsorted(edges, cur, side="left"), minlength=edges.size + 1)
    return ref_bins, cur_bins


# -- the scan is exact ------------------------------------------------------------------------


@pytest.mark.parametrize("n_ref", [500, 50_000])
def test_scan_counts_equal_brute_force(n_ref: int) -> None:
    rng = np.random.default_rng(1)
    ref = np.round(rng.normal(size=n_ref), 2)  # ties, and grid points hit exactly
    cur = np.r_[np.round(rng.normal(0.3, 2.0, size=20_000), 2), [-50.0, 50.0, ref[0]]]
    profile = fit_profile(pd.DataFrame({"x": ref}), numeric=["x"], categorical=[]).columns["x"]
    scan = scan_numeric(profile, pd.Series(cur), "x")
    grid = profile.grid
    assert np.array_equal(scan.le, (cur[:, None] <= grid[None, :]).sum(axis=0))
    assert np.array_equal(scan.lt, (cur[:, None] < grid[None, :]).sum(axis=0))
    assert np.array_equal(profile.le, (ref[:, None] <= grid[None, :]).sum(axis=0))
    assert scan.below == pytest.approx((grid[0] - cur[cur < grid[0]]).sum())
    assert scan.above == pytest.approx((cur[cur > grid[-1]] - grid[-1]).sum())
    assert scan.mean == pytest.approx(cur.mean()) and scan.std == pytest.approx(cur.std())


# -- KS ---------------------------------------------------------------------------------------


def test_ks_exact_profile_equals_scipy_with_ties() -> None:
    rng = np.random.default_rng(2)
    ref = rng.poisson(4.0, size=4000).astype(float)
    cur = rng.poisson(4.3, size=3000).astype(float)
    f = _one(ref, cur, "ks")
    expected = stats.ks_2samp(ref, cur, method="auto")
    assert f.statistic == pytest.approx(expected.statistic, abs=1e-12)
    assert f.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    assert f.details["ks_upper_bound"] == pytest.approx(f.statistic)  # exact grid: no gap


def test_ks_on_the_quantile_grid_is_within_1e3_of_scipy() -> None:
    rng = np.random.default_rng(3)
    ref = rng.normal(size=60_000)  # > 10,000 distinct values: a 2001-point quantile grid
    for cur in (rng.normal(size=40_000), rng.normal(0.05, 1.1, size=40_000)):
        f = _one(ref, cur, "ks")
        expected = stats.ks_2samp(ref, cur, method="asymp")
        assert abs(f.statistic - expected.statistic) <= 1e-3
        assert f.statistic <= expected.statistic + 1e-12 <= f.details["ks_upper_bound"] + 2e-12
        en = round(60_000 * 40_000 / 100_000)
        assert f.p_value == pytest.approx(stats.kstwo.sf(f.statistic, en), rel=1e-12)


# -- PSI, JS, Wasserstein, L-infinity, chi-square ----------------------------------------------


def test_psi_and_js_equal_a_direct_computation_on_the_same_bins() -> None:
    rng = np.random.default_rng(4)
    ref = rng.normal(size=30_000)
    cur = rng.normal(0.2, 1.2, size=20_000)
    ref_bins, cur_bins = _deciles(ref, cur)
    r, c = ref_bins / ref_bins.sum(), cur_bins / cur_bins.sum()
    expected_psi = np.sum((c - r) * np.log(c / r))
    assert _one(ref, cur, "psi").statistic == pytest.approx(expected_psi, rel=1e-12)
    expected_js = jensenshannon(r, c, base=2)
    assert _one(ref, cur, "jensenshannon").statistic == pytest.approx(expected_js, rel=1e-9)


def test_psi_epsilon_replaces_empty_bins() -> None:
    ref = np.repeat([1.0, 2.0, 3.0], 100)
    cur = np.repeat([1.0, 2.0, 9.0], 100)  # 9 falls in the open top bin, empty in reference
    ref_bins, cur_bins = _deciles(ref, cur)
    r = np.where(ref_bins == 0, 1e-4, ref_bins / ref_bins.sum())
    c = np.where(cur_bins == 0, 1e-4, cur_bins / cur_bins.sum())
    assert _one(ref, cur, "psi").statistic == pytest.approx(np.sum((c - r) * np.log(c / r)))


def test_normalised_wasserstein_agrees_with_scipy() -> None:
    rng = np.random.default_rng(5)
    ref = rng.normal(size=50_000)
    cur = np.r_[rng.normal(0.3, 1.0, size=30_000), [12.0, -9.0]]  # beyond the reference range
    expected = stats.wasserstein_distance(ref, cur) / ref.std()
    assert _one(ref, cur, "wasserstein").statistic == pytest.approx(expected, rel=0.01)
    small_ref, small_cur = rng.integers(0, 5, 3000), rng.integers(1, 6, 2000)  # exact grid
    expected = stats.wasserstein_distance(small_ref, small_cur) / small_ref.std()
    assert _one(small_ref, small_cur, "wasserstein").statistic == pytest.approx(expected)


def test_categorical_statistics_equal_direct_computation() -> None:
    ref = pd.DataFrame({"c": ["a"] * 500 + ["b"] * 300 + ["c"] * 200})
    cur = pd.DataFrame({"c": ["a"] * 400 + ["b"] * 300 + ["c"] * 250 + ["new"] * 50})
    r = np.array([500, 300, 200, 0]) / 1000
    c = np.array([400, 300, 250, 50]) / 1000

    def run(test: str):
        return compare(ref, cur, numeric=[], categorical=["c"], test=test).features[0]

    assert run("linf").statistic == pytest.approx(0.1)
    assert run("jensenshannon").statistic == pytest.approx(jensenshannon(r, c, base=2))
    r_eps, c_eps = np.where(r == 0, 1e-4, r), np.where(c == 0, 1e-4, c)
    assert run("psi").statistic == pytest.approx(np.sum((c_eps - r_eps) * np.log(c_eps / r_eps)))
    chi2 = stats.chi2_contingency(np.array([[500, 300, 200, 0], [400, 300, 250, 50]]))
    got = run("chi2")
    assert got.statistic == pytest.approx(chi2.statistic) and got.p_value == pytest.approx(
        chi2.pvalue
    )
    assert got.details["unseen_share"] == pytest.approx(0.05)


def test_category_keys_match_across_int_and_float_columns() -> None:
    ref = pd.DataFrame({"c": [1, 2, 3] * 300})
    cur = pd.DataFrame({"c": [1.0, 2.0, 3.0] * 200 + [None]})  # float: it has a missing value
    f = compare(ref, cur, numeric=[], categorical=["c"]).features[0]
    assert f.note is None and f.statistic == pytest.approx(0.0)


# -- multiple testing, overrides, auto --------------------------------------------------------


def test_benjamini_hochberg_threshold_matches_scipy_and_beats_bonferroni() -> None:
    p = [0.0001, 0.002, 0.004, 0.012, 0.3, 0.5, 0.7, 0.9]
    alpha = 0.05
    threshold = st.family_threshold(p, alpha, "benjamini_hochberg")
    adjusted = stats.false_discovery_control(p, method="bh")
    assert [x < threshold for x in p] == [a <= alpha for a in adjusted]
    assert threshold == pytest.approx(4 * alpha / 8)
    assert sum(x < st.family_threshold(p, alpha, "bonferroni") for x in p) == 3
    assert st.family_threshold([0.5, 0.9], alpha, "benjamini_hochberg") == alpha / 2


def test_bh_flags_more_of_several_weak_shifts_than_bonferroni() -> None:
    rng = np.random.default_rng(6)
    ref = pd.DataFrame({f"x{i}": rng.normal(size=3000) for i in range(10)})
    cur = pd.DataFrame({f"x{i}": rng.normal(size=3000) for i in range(10)})
    for i in range(4):
        cur[f"x{i}"] += 0.07  # weak: seed 6 gives Bonferroni 1 of 4, BH 3 of 4
    cols = list(ref.columns)
    bonf = compare(ref, cur, numeric=cols, categorical=[], alpha=0.05)
    bh = compare(ref, cur, numeric=cols, categorical=[], alpha=0.05,
                 correction="benjamini_hochberg")  # fmt: skip
    assert set(bonf.drifted_features()) < set(bh.drifted_features()) <= {"x0", "x1", "x2", "x3"}


def test_per_feature_overrides_of_test_and_threshold() -> None:
    rng = np.random.default_rng(7)
    ref = pd.DataFrame({"a": rng.normal(size=5000), "b": rng.normal(size=5000)})
    cur = pd.DataFrame({"a": rng.normal(0.15, 1, size=5000), "b": rng.normal(size=5000)})
    profile = fit_profile(ref, numeric=["a", "b"], categorical=[])
    report = compare_profile(
        profile,
        cur,
        overrides={"a": {"test": "psi", "threshold": 0.5}, "b": {"test": "ks", "threshold": 0.9}},
    )
    by = {f.feature: f for f in report.features}
    assert by["a"].test == "psi" and by["a"].threshold == 0.5 and not by["a"].drifted
    # b: KS at its own p-value level, outside the Bonferroni family
    assert by["b"].test == "ks" and by["b"].threshold == 0.9
    with pytest.raises(ValueError, match="name the test too"):
        compare_profile(profile, cur, overrides={"b": {"threshold": 0.9}})
    with pytest.raises(ValueError, match=r"does not have: \['zzz'\]"):
        compare_profile(profile, cur, overrides={"zzz": {"test": "ks"}})
    with pytest.raises(ValueError, match="test 'chi2' does not apply to numeric"):
        compare_profile(profile, cur, overrides={"a": {"test": "chi2"}})


def test_auto_uses_hypothesis_tests_up_to_10k_and_effect_sizes_above() -> None:
    rng = np.random.default_rng(8)

    def frame(n: int) -> pd.DataFrame:
        return pd.DataFrame({"x": rng.normal(size=n), "c": rng.choice(["a", "b"], size=n)})

    small = compare(frame(10_000), frame(10_000), numeric=["x"], categorical=["c"])
    large = compare(frame(20_000), frame(10_001), numeric=["x"], categorical=["c"])
    assert {f.feature: f.test for f in small.features} == {"x": "ks", "c": "chi2"}
    assert {f.feature: f.test for f in large.features} == {"x": "wasserstein", "c": "jensenshannon"}
    assert all(f.p_value is None and f.threshold == 0.1 for f in large.features)


# -- missing rate, prediction, edge cases ------------------------------------------------------


def test_rising_missing_rate_is_drift_and_a_small_change_is_not() -> None:
    rng = np.random.default_rng(9)
    ref = rng.normal(size=5000)
    ref[:100] = np.nan  # 2%
    cur = rng.normal(size=5000)
    cur[:600] = np.nan  # 12%
    f = _one(ref, cur, "auto")
    assert f.missing_drifted and f.drifted and "missing share 2.0% -> 12.0%" in f.note
    cur[150:600] = rng.normal(size=450)  # 3%: significant maybe, but below the 5-point change
    assert not _one(ref, cur, "auto").missing_drifted


def test_prediction_drift_is_reported_apart() -> None:
    rng = np.random.default_rng(10)
    ref = pd.DataFrame({"x": rng.normal(size=4000)})
    profile = fit_profile(ref, numeric=["x"], categorical=[], predictions=rng.beta(2, 5, 800))
    stable = pd.DataFrame({"x": rng.normal(size=3000), "prediction": rng.beta(2, 5, 3000)})
    moved = stable.assign(prediction=rng.beta(5, 2, 3000))
    assert compare_profile(profile, stable).prediction_drift is False
    report = compare_profile(profile, moved)
    assert report.prediction_drift is True and not report.dataset_drift
    assert report.summary()["prediction_drift"] is True
    assert compare_profile(profile, stable.drop(columns="prediction")).prediction_drift is None
    labels = fit_profile(ref, numeric=["x"], categorical=[], predictions=np.array(["y", "n"] * 50))
    assert labels.prediction is not None and labels.prediction.kind == "categorical"


def test_constant_columns_inf_and_empty_batches() -> None:
    ref = pd.DataFrame({"k": np.full(3000, 7.0), "x": np.r_[np.arange(2998.0), np.inf, -np.inf]})
    same = pd.DataFrame({"k": np.full(100, 7.0), "x": np.arange(100.0) * 30})
    report = compare(ref, same, numeric=["k", "x"], categorical=[], test="wasserstein")
    by = {f.feature: f for f in report.features}
    assert by["k"].statistic == 0.0 and not by["k"].drifted and by["k"].note == "constant in both"
    assert by["x"].note == "ignored 2 non-finite value(s) in reference"
    other = pd.DataFrame({"k": np.full(100, 8.0), "x": np.arange(100.0)})
    k = compare(ref, other, numeric=["k", "x"], categorical=[], test="wasserstein").features[0]
    assert k.feature == "k" and k.drifted and k.statistic == pytest.approx(1 / 1e-3)
    with pytest.raises(ValueError, match="current batch has no rows"):
        compare(ref, same.iloc[:0], numeric=["k"], categorical=[])


# -- profile and report formats ----------------------------------------------------------------


def test_profile_round_trip_gives_the_same_report() -> None:
    rng = np.random.default_rng(11)
    ref = pd.DataFrame(
        {
            "x": rng.normal(size=30_000),
            "n": rng.poisson(3, 30_000),
            "c": rng.choice(list("abc"), 30_000),
        }
    )
    cur = ref.sample(frac=0.3, random_state=1).assign(x=lambda d: d["x"] + 0.1)
    profile = fit_profile(ref, numeric=["x", "n"], categorical=["c"], predictions=rng.random(100))
    text = json.dumps(profile.to_dict(), allow_nan=False)
    restored = DriftProfile.from_dict(json.loads(text))
    assert compare_profile(restored, cur) == compare_profile(profile, cur)
    with pytest.raises(ValueError, match="not a drift profile"):
        DriftProfile.from_dict({"columns": {}})
    with pytest.raises(ValueError, match="format_version"):
        DriftProfile.from_dict({**profile.to_dict(), "format_version": 7})


def test_html_has_a_histogram_per_feature_and_no_script() -> None:
    rng = np.random.default_rng(12)
    ref = pd.DataFrame({"x": rng.normal(size=2000), "c": rng.choice(list("ab"), 2000)})
    cur = pd.DataFrame({"x": rng.normal(1.0, 1, size=2000), "c": rng.choice(list("ab"), 2000)})
    page = render_html(compare(ref, cur, numeric=["x"], categorical=["c"]), title="t")
    assert page.count("<svg") == 2 and "<script" not in page
    assert page.index("<td>x</td>") < page.index("<td>c</td>")  # drifted first
    assert "above reference range: current" in page
