"""services/replay.py and the `replay` step: a canary window asked of a pod (nothing measured,
no model loaded here), scored by the step as the worker scores it, then measured. Real local
storage, router and replay source; the registry is the services' in-memory stand-in, its
models two small scorers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from airflow_mlops_provider.adapters.mlflow_registry import CHAMPION
from airflow_mlops_provider.core.release_rules import GateRecord
from airflow_mlops_provider.services import release, steps
from airflow_mlops_provider.services.replay import ReplayWindow
from airflow_mlops_provider.services.rollout import RolloutSources
from airflow_mlops_provider.spec import CanarySpec, DataSpec

DATA = DataSpec.model_validate(
    {
        "source": "lake",
        "target": "y",
        "id_column": "id",
        "features": {"numeric": ["x"]},
        "split": {"time_column": "t"},
    }
)
CANARY = {
    "enabled": True,
    "router": "local",
    "metric_source": "replay",
    "analysis": {"metrics": {"error_rate": {"max": 0.2}}, "interval": "1m", "count": 2},
    "steps": [{"shadow": {}}, {"set_weight": 20}, {"analysis": {}}],
}
TIMING = ["latency_ms", "shadow_latency_ms"]


class Scorer:
    def __init__(self, slope: float) -> None:
        self.slope = slope

    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        return 1 / (1 + np.exp(-self.slope * rows["x"].to_numpy()))


@pytest.fixture
def requests(rt) -> str:
    rng = np.random.default_rng(3)
    x = rng.normal(size=2_000)
    frame = pd.DataFrame({"id": np.arange(2_000), "x": x, "y": (x > 0).astype(int)})
    return rt.storage.write_frame(frame, str(Path(rt.storage.base_dir) / "requests.parquet"))


@pytest.fixture
def gated(rt, registry) -> None:
    record = GateRecord("2", "promote", "1", holdout="h", run_id=rt.task.run_id)
    registry.add_version("1")
    registry.add_version("2", **record.tags())
    registry.set_alias(CHAMPION, "1")


def plan(requests: str, in_pod: bool) -> release.ReleasePlan:
    return release.ReleasePlan(
        canary=CanarySpec.model_validate(CANARY),
        data=DATA,
        threshold=0.5,
        sources=RolloutSources(replay_source=requests),
        replay_in_pod=in_pod,
    )


@pytest.mark.usefixtures("gated")
def test_a_window_for_a_pod_is_asked_for_scored_by_the_step_then_measured(
    rt, registry, requests: str, audit
) -> None:
    asked = release.release(rt, plan(requests, in_pod=True), gate={"challenger": "2"})
    assert asked.kind == release.REPLAY  # registry.models is empty: nothing was loaded
    window = ReplayWindow.from_json(asked.result)
    assert (window.shadow, window.versions, window.part) == (
        True,
        {"canary": "2", "champion": "1"},
        "step-00-m-00",
    )
    assert window.target.endswith("canary/v2/traffic/step-00/m-00.parquet")
    assert not Path(window.target).exists()
    again = release.release(rt, plan(requests, in_pod=True), gate={"challenger": "2"})
    assert again == asked  # nothing measured meanwhile: the same window

    registry.models = {"models:/churn/2": Scorer(2.0), "models:/churn/1": Scorer(1.0)}
    assert steps.run_step("replay", rt, asked.result) == {"target": window.target}
    registry.models = {}  # the worker measures the written window without a model
    measured = release.release(rt, plan(requests, in_pod=True), gate={"challenger": "2"})
    looks = [line["details"] for line in audit(rt) if "analysis" in line["details"]]
    assert [(look["shadow"], look["measurement"]) for look in looks] == [(True, 1)]
    assert looks[0]["samples"]["canary"] == 500  # every request of the window, shadowed
    if measured.kind == release.REPLAY:  # decided at once: on to the canary's first window
        assert measured.result["target"].endswith("step-02/m-00.parquet")
    else:
        assert measured.kind == release.WAIT


@pytest.mark.usefixtures("gated")
def test_the_step_scores_a_window_as_the_worker_does(rt, registry, requests: str) -> None:
    registry.models = {"models:/churn/2": Scorer(2.0), "models:/churn/1": Scorer(1.0)}
    asked = release.release(rt, plan(requests, in_pod=True), gate={"challenger": "2"})
    target = steps.run_step("replay", rt, asked.result)["target"]
    in_pod = pd.read_parquet(target).drop(columns=TIMING)
    Path(target).unlink()
    release.release(rt, plan(requests, in_pod=False), gate={"challenger": "2"})
    in_worker = pd.read_parquet(target).drop(columns=TIMING)
    pd.testing.assert_frame_equal(in_pod, in_worker)
    assert len(in_pod) == 2_000 // 4 and set(in_pod["shadow_version"]) == {"2"}
