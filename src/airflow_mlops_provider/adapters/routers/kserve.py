"""KServe router: the InferenceService's `canaryTrafficPercent` carries the canary weight.

KServe routes `canaryTrafficPercent` of the traffic to the latest revision of the predictor
(the one whose `storageUri` changed last) and the rest to the previous ready revision. So:

- set_weight: patch `storageUri` to the challenger's model and `canaryTrafficPercent` to N;
- promote: `canaryTrafficPercent: 100` with the challenger's `storageUri` (it takes all traffic);
- rollback during a canary: `canaryTrafficPercent: 0` — traffic is back on the champion's
  revision at once; without a canary in flight (the `__rollback` DAG): the champion's
  `storageUri` at 100%.

Bodies are JSON merge patches (RFC 7386; `null` deletes a key), sent with the Kubernetes
client's `CustomObjectsApi.patch_namespaced_custom_object`, imported lazily. The versions are
annotations on the InferenceService, so `current()` reads the live state back from the cluster.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

GROUP, API_VERSION, PLURAL = "serving.kserve.io", "v1beta1", "inferenceservices"
CANARY_KEY, STABLE_KEY = (
    "mlops.airflow.apache.org/canary-version",
    ("mlops.airflow.apache.org/stable-version"),
)


def set_weight_patch(challenger: str, champion: str | None, weight: int, uri: str) -> dict:
    return {
        "metadata": {"annotations": {CANARY_KEY: str(challenger), STABLE_KEY: champion}},
        "spec": {"predictor": {"canaryTrafficPercent": int(weight), "model": {"storageUri": uri}}},
    }


def promote_patch(version: str, uri: str) -> dict:
    return {
        "metadata": {"annotations": {CANARY_KEY: None, STABLE_KEY: str(version)}},
        "spec": {"predictor": {"canaryTrafficPercent": 100, "model": {"storageUri": uri}}},
    }


def abort_patch(champion: str) -> dict:
    """Canary in flight: all traffic back to the previous (champion's) revision."""
    return {
        "metadata": {"annotations": {CANARY_KEY: None, STABLE_KEY: str(champion)}},
        "spec": {"predictor": {"canaryTrafficPercent": 0}},
    }


class KServeRouter:
    def __init__(
        self,
        api: Any,
        *,
        namespace: str,
        name: str,
        storage_uri: Callable[[str], str],
    ):
        self.api = api
        self.namespace = namespace
        self.name = name
        self.storage_uri = storage_uri

    def current(self) -> dict[str, Any]:
        service = self.api.get_namespaced_custom_object(
            GROUP, API_VERSION, self.namespace, PLURAL, self.name
        )
        annotations = service.get("metadata", {}).get("annotations") or {}
        predictor = service.get("spec", {}).get("predictor", {})
        canary = annotations.get(CANARY_KEY)
        return {
            "stable": annotations.get(STABLE_KEY),
            "canary": canary,
            "weight": int(predictor.get("canaryTrafficPercent", 0)) if canary else 0,
            "storage_uri": predictor.get("model", {}).get("storageUri"),
        }

    def set_weight(self, challenger: str, champion: str | None, weight: int) -> dict[str, Any]:
        return self._patch(
            set_weight_patch(challenger, champion, weight, self.storage_uri(challenger))
        )

    def promote(self, version: str) -> dict[str, Any]:
        return self._patch(promote_patch(version, self.storage_uri(version)))

    def rollback(self, champion: str) -> dict[str, Any]:
        if self.current()["canary"] is not None:
            return self._patch(abort_patch(champion))
        return self.promote(champion)

    def _patch(self, body: dict) -> dict[str, Any]:
        self.api.patch_namespaced_custom_object(
            GROUP, API_VERSION, self.namespace, PLURAL, self.name, body
        )
        return {**self.current(), "patch": body}


def custom_objects_api(conn_id: str) -> Any:
    """CustomObjectsApi from the Airflow Kubernetes connection (cncf provider), else the
    in-cluster service account, else ~/.kube/config."""
    try:
        from airflow.providers.cncf.kubernetes.hooks.kubernetes import KubernetesHook
    except ImportError:
        KubernetesHook = None  # noqa: N806 - the provider is an optional extra
    if KubernetesHook is not None:
        return KubernetesHook(conn_id=conn_id).custom_object_client
    from kubernetes import client, config

    try:
        config.load_incluster_config()
    except config.ConfigException:
        config.load_kube_config()
    return client.CustomObjectsApi()
