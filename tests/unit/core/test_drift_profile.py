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
    DamagedProfileError,
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


def robust_wasserstein_direct(ref: np.ndarray, cur: np.ndarray) -> float:
    """Our robust Wasserstein straight from its definition on raw samples: the integral of
    |F_ref - F_cur| over the reference's [q01, q99] (a fine numeric integral), divided by
    IQR / 1.349 (inverted-CDF quantiles)."""
    q = lambda p: np.quantile(ref, p, method="inverted_cdf")  # noqa: E731
    xs = np.linspace(q(0.01), q(0.99), 200_001)
    f_ref = np.searchsorted(np.sort(ref), xs, side="right") / ref.size
    f_cur = np.searchsorted(np.sort(cur), xs, side="right") / cur.size
    return float(np.trapezoid(np.abs(f_ref - f_cur), xs) / ((q(0.75) - q(0.25)) / 1.349))


def test_robust_wasserstein_equals_its_definition() -> None:
    rng = np.random.default_rng(5)
    ref = rng.normal(size=50_000)
    cur = np.r_[rng.normal(0.3, 1.0, size=30_000), [12.0, -9.0]]
    got = _one(ref, cur, "wasserstein").statistic
    assert got == pytest.approx(robust_wasserstein_direct(ref, cur), rel=0.01)
    # for a normal reference and a mean shift inside the range it is close to W1 / std
    assert got == pytest.approx(0.3, rel=0.1)


def test_one_extreme_reference_value_cannot_blind_the_check() -> None:
    """Issue 14: a single 1e308 made the std infinite and Wasserstein 0 for ever after; the
    robust scale and the central range ignore it, and a 3x spread is drift."""
    rng = np.random.default_rng(6)
    ref = np.r_[rng.normal(size=20_000), 1e308]
    profile = fit_profile(pd.DataFrame({"x": ref}), numeric=["x"], categorical=[])
    stable = pd.DataFrame({"x": rng.normal(size=20_000)})
    wider = pd.DataFrame({"x": 3 * rng.normal(size=20_000)})
    for test in ("wasserstein", "ks"):
        assert not compare_profile(profile, stable, test=test).dataset_drift
        moved = compare_profile(profile, wider, test=test).features[0]
        assert moved.status == "drift" and np.isfinite(moved.statistic), test
    assert compare_profile(profile, wider, test="wasserstein").features[0].statistic > 0.5


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
    assert got.details["chi2_statistic"] == pytest.approx(chi2.statistic)
    assert got.p_value == pytest.approx(chi2.pvalue)
    assert got.statistic == pytest.approx(np.sqrt(np.sum((r - c) ** 2 / (2 * (r + c)))))
    assert got.details["shares"]["unseen"]["current"] == pytest.approx(0.05)


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
        overrides={"a": {"test": "psi", "threshold": 0.5}, "b": {"threshold": 0.9}},
    )
    by = {f.feature: f for f in report.features}
    # a: significant (KS evidence) but its PSI is below its own minimum 0.5
    assert by["a"].test == "psi" and by["a"].min_effect == 0.5 and not by["a"].drifted
    assert by["a"].significant and not by["a"].material
    # b: auto = ks with its own minimum effect; both stay in the evidence family
    assert by["b"].test == "ks" and by["b"].min_effect == 0.9
    assert by["a"].threshold == by["b"].threshold == pytest.approx(0.01 / 2)
    assert compare_profile(profile, cur, min_effect={"ks": 0.01}).drifted_features() == ["a"]
    with pytest.raises(ValueError, match=r"does not have: \['zzz'\]"):
        compare_profile(profile, cur, overrides={"zzz": {"test": "ks"}})
    with pytest.raises(ValueError, match="test 'chi2' does not apply to numeric"):
        compare_profile(profile, cur, overrides={"a": {"test": "chi2"}})
    with pytest.raises(ValueError, match="min_effect names"):
        compare_profile(profile, cur, min_effect={"kolmogorov": 0.1})


def test_auto_is_the_same_test_at_every_size() -> None:
    rng = np.random.default_rng(8)

    def frame(n: int) -> pd.DataFrame:
        return pd.DataFrame({"x": rng.normal(size=n), "c": rng.choice(["a", "b"], size=n)})

    for n in (500, 10_000, 200_000):
        report = compare(frame(20_000), frame(n), numeric=["x"], categorical=["c"])
        assert {f.feature: (f.test, f.evidence) for f in report.features} == {
            "x": ("ks", "ks"),
            "c": ("chi2", "chi2"),
        }
        assert all(f.p_value is not None for f in report.features)


@pytest.mark.parametrize(
    "overrides", [{}, {"x": {"test": "wasserstein"}, "c": {"test": "psi"}}], ids=["auto", "effects"]
)
def test_the_same_shift_gets_the_same_verdict_at_10k_and_16k_rows(overrides: dict) -> None:
    """Issue 17: one week was "drift" at 10k rows and "no drift" at 16k because auto switched
    tests at 10,000 values. Seeded trials: a material shift (0.5 std, 15 category points) and
    a negligible one (0.01 std, 0.2 points) are judged the same at both sizes every time."""
    rng = np.random.default_rng(9)
    shares = np.array([0.4, 0.3, 0.2, 0.1])

    def frame(n: int, shift: float, points: float) -> pd.DataFrame:
        p = shares + np.array([-points, 0, 0, points])
        return pd.DataFrame({"x": rng.normal(shift, 1, n), "c": rng.choice(list("abcd"), n, p=p)})

    profile = fit_profile(frame(50_000, 0, 0), numeric=["x"], categorical=["c"])
    for shift, points, expected in ((0.5, 0.15, {"x", "c"}), (0.01, 0.002, set())):
        for _ in range(10):
            verdicts = [
                set(
                    compare_profile(
                        profile, frame(n, shift, points), overrides=overrides
                    ).drifted_features()
                )
                for n in (10_000, 16_000)
            ]
            assert verdicts == [expected, expected], shift


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
    assert by["x"].note.startswith("2 non-finite value(s) in reference, tested as a share")
    other = pd.DataFrame({"k": np.full(100, 8.0), "x": np.arange(100.0)})
    moved = compare(ref, other, numeric=["k", "x"], categorical=[], test="wasserstein")
    k = next(f for f in moved.features if f.feature == "k")
    # all the mass moved one unit; the constant reference's scale is the 0.001 floor, so
    # the gap is counted over one floor-wide cell: 1 (no longer 1 / 0.001)
    assert k.drifted and k.statistic == pytest.approx(1.0)
    with pytest.raises(ValueError, match="current batch has no rows"):
        compare(ref, same.iloc[:0], numeric=["k"], categorical=[])


def test_infinities_are_a_tested_share_not_a_silent_pass() -> None:
    rng = np.random.default_rng(13)
    profile = fit_profile(
        pd.DataFrame({"x": rng.normal(size=5000), "y": rng.normal(size=5000)}),
        numeric=["x", "y"],
        categorical=[],
    )
    all_inf = pd.DataFrame({"x": np.r_[np.full(500, np.inf), np.full(500, -np.inf)],
                            "y": rng.normal(size=1000)})  # fmt: skip
    half = pd.DataFrame({"x": np.r_[np.full(500, -np.inf), rng.normal(size=500)],
                         "y": rng.normal(size=1000)})  # fmt: skip
    for frame in (all_inf, half):
        report = compare_profile(profile, frame)
        x = next(f for f in report.features if f.feature == "x")
        assert x.status == "drift" and x.details["shares"]["nonfinite"]["drifted"]
        assert report.verdict == "drift"


def test_a_tiny_batch_is_not_enough_evidence_never_no_drift() -> None:
    rng = np.random.default_rng(14)
    ref = pd.DataFrame({"x": rng.normal(size=20_000), "c": rng.choice(list("abc"), 20_000)})
    profile = fit_profile(ref, numeric=["x"], categorical=["c"])
    for rows in (1, 5, 20):
        report = compare_profile(profile, ref.sample(rows, random_state=rows))
        assert report.verdict == "not_enough_evidence" and not report.dataset_drift, rows
        assert {f.status for f in report.features} <= {"not_enough_evidence", "not_tested"}
    assert 20 < report.min_rows < 100  # the minimum is derived: a large shift becomes visible
    enough = compare_profile(profile, ref.sample(report.min_rows * 2, random_state=1))
    assert enough.verdict == "no_drift"
    # overwhelming evidence still counts in a small batch: 20 values ten deviations away
    far = compare_profile(profile, pd.DataFrame({"x": rng.normal(10, 1, 20), "c": ["a"] * 20}))
    assert far.features[0].feature == "x" and far.features[0].status == "drift"


def test_a_rekeyed_high_cardinality_feature_is_drift() -> None:
    """Issue 14: all categories new (beyond the 1,000 the profile keeps) read "no drift".
    The unseen share against the reference's Good-Turing rate, measured exactly on the
    hash-sampled keys, catches it; a fresh sample with the same keys does not."""
    rng = np.random.default_rng(15)
    keys = rng.integers(0, 50_000, 400_000)
    profile = fit_profile(pd.DataFrame({"k": keys.astype(str)}), numeric=[], categorical=["k"])
    column = profile.columns["k"]
    assert column.hash_cut is not None and len(column.key_hashes) == 2048
    same = pd.DataFrame({"k": rng.integers(0, 50_000, 40_000).astype(str)})
    rekeyed = pd.DataFrame({"k": (rng.integers(0, 50_000, 40_000) + 10**6).astype(str)})
    assert compare_profile(profile, same).verdict == "no_drift"
    moved = compare_profile(profile, rekeyed).features[0]
    assert moved.status == "drift" and moved.details["shares"]["unseen"]["current"] == 1.0
    assert DriftProfile.from_dict(json.loads(json.dumps(profile.to_dict()))) == profile


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
    assert "above the binned range: current" in page and "Minimum effects" in page
    assert "Correction" in page  # evidence tests ran: their error control is shown


def test_html_shows_only_what_ran() -> None:
    ref = pd.DataFrame({"x": np.full(100, np.nan)})
    cur = pd.DataFrame({"x": np.full(100, np.nan)})
    report = compare(ref, cur, numeric=["x"], categorical=[])
    page = render_html(report, title="t")
    assert not report.p_value_tests_ran and "Correction" not in page and "Alpha" not in page
    assert "Not enough evidence" in page and "not run" in page


@pytest.mark.parametrize(
    ("column", "damage", "message"),
    [
        ("x", lambda c: {"grid": c["grid"][::-1]}, "not strictly increasing"),
        ("x", lambda c: {"grid": [], "le": [], "eq": []}, "an empty grid for"),
        ("x", lambda c: {"le": c["le"][:-1]}, "lengths"),
        ("x", lambda c: {"eq": [None, *c["eq"][1:]]}, "eq[0] is None, not a count"),
        ("x", lambda c: {"le": [v + 1 for v in c["le"]]}, "the grid counts 501 values"),
        ("x", lambda c: {"eq": [c["eq"][0] + 9, *c["eq"][1:]]}, "do not add up"),
        ("x", lambda c: {"bin_edges": [10**6]}, "bin edges point outside"),
        ("x", lambda c: {"grid": [float("nan"), *c["grid"][1:]]}, "NaN or infinite"),
        ("c", lambda c: {"counts": {"a": 1.5}}, "counts['a'] is 1.5"),
        ("c", lambda c: {"other": c["other"] + 7}, "category counts add up to"),
        ("c", lambda c: {"rows": None}, "rows is None"),
    ],
)
def test_a_damaged_profile_is_refused_with_what_is_wrong(column, damage, message) -> None:
    rng = np.random.default_rng(16)
    ref = pd.DataFrame({"x": rng.normal(size=500), "c": rng.choice(list("ab"), 500)})
    good = fit_profile(ref, numeric=["x"], categorical=["c"]).to_dict()
    broken = json.loads(json.dumps(good))
    broken["columns"][column].update(damage(broken["columns"][column]))
    with pytest.raises(DamagedProfileError) as info:
        DriftProfile.from_dict(broken)
    text = str(info.value)
    assert text.startswith(f"damaged drift profile: column '{column}': ") and message in text
    assert text.endswith("refit it by retraining the model, or pass the reference data "
                         "instead of the profile")  # fmt: skip
