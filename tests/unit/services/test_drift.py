"""services/drift.py: the route a batch takes, from the champion's stored reference profile."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from airflow_mlops_provider.adapters.mlflow_registry import CHAMPION
from airflow_mlops_provider.core.drift_profile import fit_profile
from airflow_mlops_provider.services.drift import DriftRoutes, check_drift
from airflow_mlops_provider.services.references import PROFILE_TAG
from airflow_mlops_provider.services.runtime import DRIFT_REPORT_LINK
from airflow_mlops_provider.spec import DriftSpec, Features

FEATURES = Features(numeric=["x"], categorical=["c"])
ROUTES = DriftRoutes(drift="retrain", stable="skip_retrain", no_champion="cold_start")


def frame(shift: float, rows: int = 2000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {"x": rng.normal(shift, 1.0, rows), "c": rng.choice(["a", "b"], rows, p=[0.5, 0.5])}
    )


def current(rt, shift: float) -> str:
    return rt.storage.write_frame(frame(shift, seed=1), rt.task_folder("batch.parquet"))


def with_champion(rt, registry) -> None:
    profile = fit_profile(frame(0.0), numeric=["x"], categorical=["c"])
    uri = rt.storage.write_text(
        str(Path(rt.layout.root, "profile.json")), json.dumps(profile.to_dict())
    )
    registry.add_version("1", **{PROFILE_TAG: uri})
    registry.set_alias(CHAMPION, "1")


def test_without_a_champion_nothing_is_compared(rt, audit) -> None:
    decision = check_drift(
        rt, current_uri="unused", drift=DriftSpec(), features=FEATURES, routes=ROUTES
    )
    assert (decision.route, decision.reason, decision.summary) == (
        "cold_start",
        "no champion yet",
        None,
    )
    (line,) = audit(rt)
    assert line["details"] == {"branch": "cold_start", "reason": "no champion yet"}


def test_a_shifted_batch_takes_the_drift_route_with_its_report(
    rt, registry, published, audit
) -> None:
    with_champion(rt, registry)
    decision = check_drift(
        rt, current_uri=current(rt, 1.0), drift=DriftSpec(), features=FEATURES, routes=ROUTES
    )
    assert decision.route == "retrain" and decision.reason == "drift in x"
    summary = decision.to_xcom()
    assert summary["branch"] == "retrain" and summary["champion_version"] == "1"
    assert published[DRIFT_REPORT_LINK] == summary["report"] and Path(summary["report"]).exists()
    logged = registry.texts["run-1"]  # the report on the champion's MLflow run
    assert set(logged) == {
        f"drift/churn__training/manual__2026-11-01T00_00_00_00_00/{n}"
        for n in ("drift.json", "drift.html")
    }
    assert audit(rt)[0]["details"]["drifted_features"] == ["x"]
    assert "mlops.audit.drift_checked" in registry.get_version("1").tags


def test_a_stable_batch_is_stable_unless_forced(rt, registry) -> None:
    with_champion(rt, registry)
    uri = current(rt, 0.0)
    stable = check_drift(rt, current_uri=uri, drift=DriftSpec(), features=FEATURES, routes=ROUTES)
    assert (stable.route, stable.reason) == ("skip_retrain", "no dataset drift")
    forced = check_drift(
        rt,
        current_uri=uri,
        drift=DriftSpec(),
        features=FEATURES,
        routes=ROUTES,
        forced_reason="force_retrain param set",
    )
    assert (forced.route, forced.reason) == ("retrain", "force_retrain param set")


def test_drift_share_decides_how_many_features_must_drift(rt, registry) -> None:
    """`drift.drift_share` reaches compare_profile: one drifted feature of two is 50%."""
    with_champion(rt, registry)
    uri = current(rt, 1.0)
    lenient = DriftSpec(drift_share=0.75)
    decision = check_drift(rt, current_uri=uri, drift=lenient, features=FEATURES, routes=ROUTES)
    assert decision.route == "skip_retrain"
    assert decision.summary["drifted_features"] == ["x"]
    assert decision.summary["drifted_share"] == 0.5
