"""KServe router: the merge-patch bodies, and the calls through a stand-in CustomObjectsApi.

No cluster runs here, so `FakeCustomObjectsApi` stands in for kubernetes'
`CustomObjectsApi` (mocked because a Kubernetes API server cannot run on this machine): it
keeps one InferenceService and applies each patch with JSON merge-patch rules (RFC 7386), as
the API server does for `application/merge-patch+json`.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from airflow_mlops_provider.adapters.metric_sources.inference_logs import InferenceLogsSource
from airflow_mlops_provider.adapters.routers.kserve import (
    CANARY_KEY,
    STABLE_KEY,
    KServeRouter,
    abort_patch,
    promote_patch,
    set_weight_patch,
)
from airflow_mlops_provider.adapters.storage import Storage
from airflow_mlops_provider.services.rollout import Rollout
from airflow_mlops_provider.spec import CanarySpec, InferenceLogsMetrics

from .canary_fixtures import reset_aliases, store_fixture  # noqa: F401 - provides `store`

URIS = {"1": "s3://models/churn/1", "2": "s3://models/churn/2"}


def merge_patch(target: dict, patch: dict) -> dict:
    out = copy.deepcopy(target)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict):
            out[key] = merge_patch(out.get(key) if isinstance(out.get(key), dict) else {}, value)
        else:
            out[key] = value
    return out


class FakeCustomObjectsApi:
    def __init__(self, service: dict):
        self.service = service
        self.calls: list[tuple] = []

    def get_namespaced_custom_object(self, group, version, namespace, plural, name):
        assert (group, version, plural) == ("serving.kserve.io", "v1beta1", "inferenceservices")
        assert (namespace, name) == ("ml", "churn")
        return copy.deepcopy(self.service)

    def patch_namespaced_custom_object(self, group, version, namespace, plural, name, body):
        json.dumps(body)  # what the client sends must be plain JSON
        self.calls.append((group, version, namespace, plural, name, body))
        self.service = merge_patch(self.service, body)
        return copy.deepcopy(self.service)


def service() -> dict:
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "churn", "namespace": "ml", "annotations": {STABLE_KEY: "1"}},
        "spec": {
            "predictor": {"model": {"modelFormat": {"name": "mlflow"}, "storageUri": URIS["1"]}}
        },
    }


def router(api: FakeCustomObjectsApi) -> KServeRouter:
    return KServeRouter(api, namespace="ml", name="churn", storage_uri=URIS.__getitem__)


def test_patch_bodies() -> None:
    assert set_weight_patch("2", "1", 20, URIS["2"]) == {
        "metadata": {"annotations": {CANARY_KEY: "2", STABLE_KEY: "1"}},
        "spec": {"predictor": {"canaryTrafficPercent": 20, "model": {"storageUri": URIS["2"]}}},
    }
    assert promote_patch("2", URIS["2"])["spec"] == {
        "predictor": {"canaryTrafficPercent": 100, "model": {"storageUri": URIS["2"]}}
    }
    assert promote_patch("2", URIS["2"])["metadata"]["annotations"][CANARY_KEY] is None
    assert abort_patch("1") == {
        "metadata": {"annotations": {CANARY_KEY: None, STABLE_KEY: "1"}},
        "spec": {"predictor": {"canaryTrafficPercent": 0}},
    }


def test_canary_then_promote() -> None:
    api = FakeCustomObjectsApi(service())
    kserve = router(api)
    assert kserve.current() == {
        "stable": "1",
        "canary": None,
        "weight": 0,
        "storage_uri": URIS["1"],
    }
    kserve.set_weight("2", "1", 20)
    assert kserve.current() == {
        "stable": "1",
        "canary": "2",
        "weight": 20,
        "storage_uri": URIS["2"],
    }
    kserve.set_weight("2", "1", 50)
    kserve.promote("2")
    predictor = api.service["spec"]["predictor"]
    assert (
        predictor["canaryTrafficPercent"] == 100 and predictor["model"]["storageUri"] == URIS["2"]
    )
    assert predictor["model"]["modelFormat"] == {"name": "mlflow"}  # merge patch keeps the rest
    assert kserve.current()["stable"] == "2" and kserve.current()["canary"] is None
    assert [c[-1]["spec"]["predictor"]["canaryTrafficPercent"] for c in api.calls] == [20, 50, 100]


def test_rollback_during_canary_sends_traffic_back_at_once() -> None:
    api = FakeCustomObjectsApi(service())
    kserve = router(api)
    kserve.set_weight("2", "1", 20)
    kserve.rollback("1")
    assert api.calls[-1][-1] == abort_patch("1")
    assert api.service["spec"]["predictor"]["canaryTrafficPercent"] == 0
    assert kserve.current() == {
        "stable": "1",
        "canary": None,
        "weight": 0,
        "storage_uri": URIS["2"],
    }


def test_rollback_without_canary_moves_the_model_back() -> None:
    """The `__rollback` DAG after a promotion: the older version's model at 100%."""
    api = FakeCustomObjectsApi(service())
    kserve = router(api)
    kserve.set_weight("2", "1", 50)
    kserve.promote("2")
    kserve.rollback("1")
    assert api.calls[-1][-1] == promote_patch("1", URIS["1"])
    assert kserve.current() == {
        "stable": "1",
        "canary": None,
        "weight": 0,
        "storage_uri": URIS["1"],
    }


@pytest.mark.integration
@pytest.mark.parametrize("canary_errors", [0.0, 0.2])
def test_kserve_rollout_driven_by_inference_logs(
    tmp_path: Path, store: dict, canary_errors: float
) -> None:
    """The rollout driver with the KServe router (through the stand-in API) and the
    `inference_logs` source, against the real MLflow registry of two trained versions."""
    client = store["client"]
    reset_aliases(client)
    storage = Storage(tmp_path)
    n = 800
    log = pd.DataFrame(
        {
            "model_version": np.where(np.arange(n) % 5 == 0, "2", "1"),
            "prediction": np.linspace(0, 1, n),
            "error": (np.arange(n) % 5 == 0) & (np.arange(n) % 25 < 25 * canary_errors),
        }
    )
    storage.write_frame(log, str(tmp_path / "logs" / "part-0.parquet"))
    steps = list(
        CanarySpec.model_validate(
            {
                "enabled": True,
                "router": "kserve",
                "kserve": {"namespace": "ml", "name": "churn"},
                "metric_source": "inference_logs",
                "inference_logs": {"source": "logs"},
                # 160 canary requests: 0 errors are evidence of error_rate <= 0.05, and
                # 20% errors evidence of harm (the sequential judge; docs/decisions.md)
                "analysis": {"metrics": {"error_rate": {"max": 0.05}}},
                "steps": [{"set_weight": 20}, {"analysis": {"count": 1}}, {"set_weight": 60}],
            },
            strict=False,
        ).steps
    )
    settings = InferenceLogsMetrics.model_validate({"source": "logs"})
    api = FakeCustomObjectsApi(service())
    events: list[str] = []
    driver = Rollout(
        steps=steps,
        storage=storage,
        folder=str(tmp_path / "canary"),
        router=KServeRouter(
            api,
            namespace="ml",
            name="churn",
            storage_uri=store["registry"].storage_uri,
        ),
        source=InferenceLogsSource(storage, settings, source="logs", label=None, threshold=0.5),
        registry=store["registry"],
        challenger="2",
        champion="1",
        audit=lambda event, details, actor: events.append(event),
        notify=lambda text: None,
    )
    action, state = driver.advance()
    weights = [call[-1]["spec"]["predictor"]["canaryTrafficPercent"] for call in api.calls]
    uri = {v: store["registry"].storage_uri(v) for v in ("1", "2")}
    assert uri["1"] != uri["2"]
    champion = {a: str(v) for a, v in client.get_registered_model("churn").aliases.items()}
    if canary_errors:
        assert state.phase == "rolled_back" and weights == [20, 0]
        assert api.calls[-1][-1] == abort_patch("1") and champion == {"champion": "1"}
        assert events == ["canary_step", "canary_step", "canary_failed"]
    else:
        assert state.phase == "promoted" and weights == [20, 60, 100]
        assert api.service["spec"]["predictor"]["model"]["storageUri"] == uri["2"]
        assert champion == {"champion": "2", "previous_champion": "1"}
        assert events == ["canary_step"] * 3 + ["promoted"]
    assert action.kind == "done"
