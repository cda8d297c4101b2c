"""Drift on a batch in chunks gives the whole-frame answer: the streamed fit is the same
profile (grid, counts, bins), and merged chunk scans give the same verdicts and statistics."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from airflow_mlops_provider.core.drift import compare_profile
from airflow_mlops_provider.core.drift_profile import DriftProfile, fit_profile
from airflow_mlops_provider.core.drift_stream import BatchScan, ProfileFitter, scan_frame

NUMERIC = ["amount", "visits", "ratio"]
CATEGORICAL = ["channel", "segment"]


def frame(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    amount = rng.lognormal(3 + shift, 1.0, n)
    amount[rng.random(n) < 0.01] = np.nan
    amount[:3] = [np.inf, -np.inf, 1e300]
    ratio = np.round(rng.normal(0.5, 0.1, n), 2)  # ~100 distinct: an exact profile
    return pd.DataFrame(
        {
            "amount": amount,
            "visits": rng.poisson(4 + shift, n),
            "ratio": ratio,
            "channel": rng.choice(["web", "app", "store", None], n, p=[0.5, 0.3, 0.15, 0.05]),
            "segment": rng.integers(0, 40 + int(shift * 20), n).astype(str),
        }
    )


def chunks(data: pd.DataFrame, size: int) -> list[pd.DataFrame]:
    return [data.iloc[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # 1e300 squared
@pytest.mark.parametrize(("chunk", "run_values"), [(700, 1_500), (5_000, 100_000)])
def test_streamed_fit_is_the_whole_frame_profile(tmp_path: Path, chunk: int, run_values: int):
    reference = frame(20_000, seed=1)
    predictions = np.random.default_rng(2).random(len(reference))
    whole = fit_profile(
        reference, numeric=NUMERIC, categorical=CATEGORICAL, predictions=predictions
    )
    fitter = ProfileFitter(
        numeric=NUMERIC, categorical=CATEGORICAL, spill_dir=tmp_path, run_values=run_values
    )
    for start, part in zip(range(0, len(reference), chunk), chunks(reference, chunk), strict=True):
        fitter.add(part, predictions[start : start + len(part)])
    streamed = fitter.finish()
    assert streamed.to_dict().keys() == whole.to_dict().keys()
    for name in [*NUMERIC, "prediction"]:
        a = streamed.prediction if name == "prediction" else streamed.columns[name]
        b = whole.prediction if name == "prediction" else whole.columns[name]
        for part in ("grid", "le", "eq", "bin_edges"):
            np.testing.assert_array_equal(getattr(a, part), getattr(b, part), err_msg=name)
        assert (a.rows, a.missing, a.nonfinite, a.exact) == (
            b.rows,
            b.missing,
            b.nonfinite,
            b.exact,
        )
        assert a.mean == pytest.approx(b.mean, rel=1e-12)
        assert a.std == pytest.approx(b.std, rel=1e-12)
    for name in CATEGORICAL:
        assert streamed.columns[name] == whole.columns[name]
    assert whole.columns["ratio"].exact and not whole.columns["amount"].exact
    if run_values < len(reference):
        assert len(list(tmp_path.glob("run-*.npy"))) >= 4  # it did spill


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.parametrize("shift", [0.0, 0.4])
def test_merged_chunk_scans_give_the_whole_frame_verdicts(shift: float) -> None:
    profile = fit_profile(frame(30_000, seed=3), numeric=NUMERIC, categorical=CATEGORICAL)
    current = frame(25_000, seed=4, shift=shift)
    scans = [scan_frame(profile, part, None) for part in chunks(current, 3_000)]
    merged = scans[0]
    for scan in scans[1:]:
        merged = merged.merge(BatchScan.from_dict(json.loads(json.dumps(scan.to_dict()))))
    assert_same_report(compare_profile(profile, current), compare_profile(profile, merged))


def test_small_batches_keep_their_values_for_the_exact_ks_test() -> None:
    profile = fit_profile(frame(2_000, seed=5), numeric=NUMERIC, categorical=CATEGORICAL)
    current = frame(900, seed=6, shift=0.2)
    merged = scan_frame(profile, current.iloc[:400], None).merge(
        scan_frame(profile, current.iloc[400:], None)
    )
    assert merged["amount"].values is not None  # 900 values: kept, as for a whole frame
    whole = compare_profile(profile, current)  # auto: ks and chi2 at this size
    assert {f.test for f in whole.features} == {"ks", "chi2"}
    assert_same_report(whole, compare_profile(profile, merged))


def test_the_prediction_column_streams_too() -> None:
    reference = frame(5_000, seed=7)
    profile = fit_profile(
        reference, numeric=NUMERIC, categorical=CATEGORICAL,
        predictions=np.where(np.arange(5_000) % 3 == 0, "yes", "no"),
    )  # fmt: skip
    current = frame(4_000, seed=8).assign(prediction=np.where(np.arange(4_000) % 2, "yes", "no"))
    merged = scan_frame(profile, current.iloc[:1_000], "prediction").merge(
        scan_frame(profile, current.iloc[1_000:], "prediction")
    )
    assert_same_report(compare_profile(profile, current), compare_profile(profile, merged))


def test_chunks_missing_a_feature_are_reported_like_a_frame() -> None:
    profile = fit_profile(frame(1_000, seed=9), numeric=NUMERIC, categorical=CATEGORICAL)
    scan = scan_frame(profile, frame(500, seed=10).drop(columns=["visits"]), None)
    with pytest.raises(ValueError, match="'visits' missing from the current frame"):
        compare_profile(profile, scan)
    with pytest.raises(ValueError, match="different columns"):
        scan.merge(scan_frame(profile, frame(500, seed=10), None))


def test_profiles_and_scans_survive_json(tmp_path: Path) -> None:
    fitter = ProfileFitter(numeric=NUMERIC, categorical=CATEGORICAL, spill_dir=tmp_path)
    fitter.add(frame(3_000, seed=11))
    profile = fitter.finish({"source": "test"})
    again = DriftProfile.from_dict(json.loads(json.dumps(profile.to_dict())))
    assert again.to_dict() == profile.to_dict()


def assert_same_report(whole, streamed) -> None:
    a, b = whole.to_dict(), streamed.to_dict()
    assert (a["dataset_drift"], a["drifted_features"]) == (
        b["dataset_drift"],
        b["drifted_features"],
    )
    for fa, fb in zip(a["features"], b["features"], strict=True):
        assert _rounded(fa) == _rounded(fb), fa["feature"]
    assert _rounded(a["prediction"]) == _rounded(b["prediction"])


def _rounded(value):
    """Floats to 10 significant digits: mean and std merge exactly up to float rounding."""
    if isinstance(value, float):
        return float(f"{value:.10g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value
