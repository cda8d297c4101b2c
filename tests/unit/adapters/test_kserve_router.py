"""KServe router: the merge-patch bodies, and the calls through a stand-in CustomObjectsApi.

No cluster runs here, so `FakeCustomObjectsApi` stands in for kubernetes'
`CustomObjectsApi` (mocked because a Kubernetes API server cannot run on this machine): it
keeps one InferenceService and applies each patch with JSON merge-patch rules (RFC 7386), as
the API server does for `application/merge-patch+json`.
"""

from __future__ import annotations

import copy
import json

from airflow_mlops_provider.adapters.routers.kserve import (
    CANARY_KEY,
    STABLE_KEY,
    KServeRouter,
    abort_patch,
    promote_patch,
    set_weight_patch,
)

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
