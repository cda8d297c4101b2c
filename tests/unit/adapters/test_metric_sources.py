"""`inference_logs` and `replay` sources: per-version metrics from logged predictions."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from airflow_mlops_provider.adapters.metric_sources.inference_logs import InferenceLogsSource
from airflow_mlops_provider.adapters.metric_sources.replay import ReplaySource
from airflow_mlops_provider.adapters.routers.local import in_canary, window
from airflow_mlops_provider.adapters.storage import Storage
from airflow_mlops_provider.exceptions import MlopsConfigError
from airflow_mlops_provider.spec import InferenceLogsMetrics

NAMES = ["roc_auc", "error_rate", "latency_p95_ms"]
ARMS = {"challenger": "2", "champion": "1", "step": 1, "window_seconds": 60.0}


def logged(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 2, n)
    version = np.where(np.arange(n) % 4 == 0, "2", "1")  # 25% on the canary
    good = np.clip(label * 0.6 + rng.normal(0.2, 0.15, n), 0, 1)
    noisy = rng.random(n)
    return pd.DataFrame(
        {
            "model_version": version,
            "prediction": np.where(version == "1", good, noisy),
            "churned": label,
            "latency_ms": np.where(version == "1", 2.0, 6.0),
            "error": (version == "2") & (np.arange(n) % 40 == 0),
        }
    )


def test_inference_logs_split_by_version(tmp_path: Path) -> None:
    storage = Storage(tmp_path)
    storage.write_frame(logged(), str(tmp_path / "logs" / "part-0.parquet"))
    settings = InferenceLogsMetrics.model_validate({"source": "logs"})
    source = InferenceLogsSource(storage, settings, source="logs", label="churned", threshold=0.5)
    canary_arm, champion_arm = source.measure(NAMES, **ARMS)
    # roc_auc on the scored, labelled rows; error_rate on every request of the arm
    assert (canary_arm["roc_auc"].n, champion_arm["roc_auc"].n) == (100 - 10, 300)
    assert (canary_arm["error_rate"].n, champion_arm["error_rate"].n) == (100, 300)
    assert champion_arm["roc_auc"].value > 0.9 and 0.3 < canary_arm["roc_auc"].value < 0.7
    assert 0 < canary_arm["roc_auc"].variance < 0.01  # DeLong: the judge needs it
    assert canary_arm["error_rate"].value == pytest.approx(0.1)
    assert champion_arm["error_rate"].value == 0 and champion_arm["error_rate"].variance > 0
    latency = (canary_arm["latency_p95_ms"].value, champion_arm["latency_p95_ms"].value)
    assert latency == (6.0, 2.0)


def test_inference_logs_missing_columns_say_which_setting_to_fix(tmp_path: Path) -> None:
    storage = Storage(tmp_path)
    storage.write_frame(logged().drop(columns="model_version"), str(tmp_path / "l.parquet"))
    settings = InferenceLogsMetrics.model_validate({"source": "l.parquet"})
    source = InferenceLogsSource(storage, settings, source="l.parquet", label=None, threshold=0.5)
    with pytest.raises(MlopsConfigError, match="no column.*model_version.*version_column"):
        source.measure(NAMES, **ARMS)


def test_replay_source_reads_only_the_current_step(tmp_path: Path) -> None:
    storage = Storage(tmp_path)
    source = ReplaySource(storage, str(tmp_path / "traffic"), threshold=0.5)
    frame = logged().rename(columns={"churned": "label"})
    storage.write_frame(frame, storage.join(source.step_folder(1), "m-00.parquet"))
    storage.write_frame(frame.iloc[:40], storage.join(source.step_folder(4), "m-00.parquet"))
    canary_arm, champion_arm = source.measure(["roc_auc"], **{**ARMS, "step": 4})
    assert (canary_arm["roc_auc"].n, champion_arm["roc_auc"].n) == (9, 30)
    unlabelled = frame.drop(columns="label")
    storage.write_frame(unlabelled, storage.join(source.step_folder(6), "m-00.parquet"))
    canary_arm, _ = source.measure(["roc_auc"], **{**ARMS, "step": 6})
    assert math.isnan(canary_arm["roc_auc"].value) and canary_arm["roc_auc"].n == 0


def test_hash_split_is_stable_sticky_and_close_to_the_weight() -> None:
    ids = [f"C{i:08d}" for i in range(20000)]
    at20, at50 = in_canary(ids, 20, "churn"), in_canary(ids, 50, "churn")
    assert abs(at20.mean() - 0.2) < 0.01 and abs(at50.mean() - 0.5) < 0.01
    assert (at20 <= at50).all()  # a request in the canary at 20% stays there at 50%
    assert (in_canary(ids, 20, "churn") == at20).all()
    assert not in_canary(ids, 0, "churn").any() and in_canary(ids, 100, "churn").all()
    frame = pd.DataFrame({"x": range(10)})
    assert [len(window(frame, i, 4, None)) for i in range(4)] == [3, 3, 3, 1]
    assert list(window(frame, 1, 4, 4)["x"]) == [4, 5, 6, 7]


def mirrored(n: int = 400, seed: int = 1) -> pd.DataFrame:
    """A serving log with shadow predictions: v1 served every request, v2 scored it in shadow
    (a worse model), named as the YAML says."""
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 2, n)
    good = np.clip(label * 0.6 + rng.normal(0.2, 0.15, n), 0, 1)
    return pd.DataFrame(
        {
            "served_by": "1",
            "score": good,
            "churned": label,
            "mirror_model": np.where(np.arange(n) < n - 50, "2", None),  # 50 not mirrored
            "mirror_score": np.where(np.arange(n) < n - 50, rng.random(n), np.nan),
        }
    )


def test_inference_logs_shadow_predictions_pair_both_models_on_each_request(
    tmp_path: Path,
) -> None:
    storage = Storage(tmp_path)
    storage.write_frame(mirrored(), str(tmp_path / "logs" / "part-0.parquet"))
    settings = InferenceLogsMetrics.model_validate(
        {"source": "logs", "version_column": "served_by", "prediction_column": "score",
         "latency_column": None, "error_column": None, "shadow_version_column": "mirror_model",
         "shadow_prediction_column": "mirror_score", "shadow_latency_column": None,
         "shadow_error_column": None}
    )  # fmt: skip
    source = InferenceLogsSource(storage, settings, source="logs", label="churned", threshold=0.5)
    mine, theirs, cov = source.shadow(["roc_auc"], challenger="2", champion="1", step=0)
    assert mine["roc_auc"].n == theirs["roc_auc"].n == 350  # the mirrored requests only
    assert theirs["roc_auc"].value > 0.9 and 0.3 < mine["roc_auc"].value < 0.7
    assert "roc_auc" in cov
    storage.write_frame(mirrored().drop(columns="mirror_model"), str(tmp_path / "o.parquet"))
    unmirrored = InferenceLogsSource(
        storage, settings, source="o.parquet", label="churned", threshold=0.5
    )
    with pytest.raises(MlopsConfigError, match="mirror_model.*shadow_version_column"):
        unmirrored.shadow(["roc_auc"], challenger="2", champion="1", step=0)
