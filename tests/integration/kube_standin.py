"""A stand-in Kubernetes API for the pod paths (no cluster runs here).

Only the API boundary is replaced — the sync `CoreV1Api` the provider's `KubernetesHook`
hands out and the four calls its `AsyncKubernetesHook` makes from the trigger — so the
provider's own code runs unchanged: KubernetesPodOperator creating, finding, re-reading,
labelling and deleting pods, the KubernetesPodTrigger polling one from an event loop, and the
operator's re-entry. Behind the boundary a "kubelet" runs each created pod's container as a
local process (the trainer itself, or a sleep of a chosen length) with the pod's own
environment, and reports Running → Succeeded/Failed with an image digest, as a kubelet would.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DIGEST = "registry.example.com/ml/fraud-trainer@sha256:" + "ab" * 32
Kubelet = Callable[[dict[str, Any]], subprocess.Popen]


# Waits for the gate file (when one is given), then runs the trainer script as __main__.
LAUNCH = """
import os, runpy, sys, time
gate, script = sys.argv[1], sys.argv[2]
while gate and not os.path.exists(gate):
    time.sleep(0.05)
sys.argv = [script]
runpy.run_path(script, run_name="__main__")
"""


def run_trainer(gate: Path | None = None) -> Kubelet:
    """The training image's command, run here: include/trainer/train.py is the image's
    /app/train.py, with the pod's environment minus HOME/TMPDIR (the pod's /scratch). With a
    `gate`, the container holds (a training still running) until that file exists."""

    def start(pod: dict[str, Any]) -> subprocess.Popen:
        (container,) = pod["spec"]["containers"]
        env = {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}
        env = {k: v for k, v in env.items() if k not in ("HOME", "TMPDIR")}
        script = ROOT / "include" / "trainer" / "train.py"
        return subprocess.Popen(
            [sys.executable, "-c", LAUNCH, str(gate or ""), str(script)],
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )

    return start


# Waits for the gate file (when one is given), then runs the container's command.
HOLD = """
import os, subprocess, sys, time
gate = sys.argv[1]
while gate and not os.path.exists(gate):
    time.sleep(0.05)
sys.exit(subprocess.call(sys.argv[2:]))
"""


def run_container(gate: Path | None = None) -> Kubelet:
    """The pod's own command, run here: `airflow-mlops ...` is this venv's console script (the
    image's), with the pod's plain environment over this process's — which stands in for the
    Secrets `secret_env` names (the MLflow and S3 credentials a test has set). With a `gate`,
    the container holds (the pod shows Running) until that file exists."""

    def start(pod: dict[str, Any]) -> subprocess.Popen:
        (container,) = pod["spec"]["containers"]
        env = {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}
        env = {k: v for k, v in env.items() if k not in ("HOME", "TMPDIR")}
        command = [*container["command"], *container.get("args", [])]
        command[0] = str(Path(sys.executable).parent / command[0])
        return subprocess.Popen(
            [sys.executable, "-c", HOLD, str(gate or ""), *command],
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )

    return start


def sleep_for(seconds: float, exit_code: int = 0) -> Kubelet:
    """A container that runs `seconds` and exits with `exit_code` (a simulated training)."""

    def start(pod: dict[str, Any]) -> subprocess.Popen:
        code = (
            f"import time; print('training', flush=True); time.sleep({seconds}); exit({exit_code})"
        )
        return subprocess.Popen(
            [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )

    return start


@dataclass
class StandInPod:
    body: dict[str, Any]
    process: subprocess.Popen
    output: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)

    @property
    def labels(self) -> dict[str, str]:
        return self.body["metadata"].setdefault("labels", {})


class StandInCluster:
    """CoreV1Api's pod calls over an in-memory store, plus the async hook's. `created` and
    `deleted` record what the provider asked for, for the tests to check."""

    def __init__(self, kubelet: Kubelet) -> None:
        from kubernetes.client import ApiClient

        self.kubelet = kubelet
        self.pods: dict[tuple[str, str], StandInPod] = {}
        self.created: list[str] = []
        self.deleted: list[str] = []
        self.bodies: dict[str, dict[str, Any]] = {}  # every pod created, by name
        self.api_client = ApiClient()  # the provider sanitizes pod bodies with it

    # -- the sync CoreV1Api (KubernetesHook.core_v1_client) ---------------------------------
    def create_namespaced_pod(self, body: dict[str, Any], namespace: str, **_: Any) -> Any:
        name = body["metadata"]["name"]
        if (namespace, name) in self.pods:
            raise _api_error(409, f"pods {name!r} already exists")
        self.pods[namespace, name] = StandInPod(body, self.kubelet(body))
        self.created.append(name)
        self.bodies[name] = body
        return self._v1pod(self.pods[namespace, name])

    def read_namespaced_pod(self, name: str, namespace: str, **_: Any) -> Any:
        return self._v1pod(self._get(namespace, name))

    def list_namespaced_pod(self, namespace: str, label_selector: str = "", **_: Any) -> Any:
        from kubernetes.client import models as k8s

        items = [
            self._v1pod(pod)
            for (ns, _name), pod in self.pods.items()
            if ns == namespace and _selects(label_selector, pod.labels)
        ]
        return k8s.V1PodList(items=items)

    def patch_namespaced_pod(self, name: str, namespace: str, body: dict, **_: Any) -> Any:
        pod = self._get(namespace, name)
        pod.labels.update(body.get("metadata", {}).get("labels", {}))
        return self._v1pod(pod)

    def delete_namespaced_pod(self, name: str, namespace: str, **_: Any) -> None:
        pod = self._get(namespace, name)
        if pod.process.poll() is None:
            pod.process.kill()  # the kubelet stops the container
        pod.process.wait()
        del self.pods[namespace, name]
        self.deleted.append(name)

    def read_namespaced_pod_log(self, name: str, namespace: str, **_: Any) -> Iterator[bytes]:
        return iter(list(self._get(namespace, name).output))

    def list_namespaced_event(self, namespace: str, **_: Any) -> Any:
        from kubernetes.client import models as k8s

        return k8s.CoreV1EventList(items=[], metadata=k8s.V1ListMeta())

    # -- the async hook's calls, from the trigger ---------------------------------------------
    async def get_pod(self, name: str, namespace: str) -> Any:
        return self.read_namespaced_pod(name, namespace)

    async def delete_pod(self, name: str, namespace: str, **_: Any) -> None:
        self.delete_namespaced_pod(name, namespace)

    async def watch_pod_events(self, *args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(0.05)  # no events; a real watch also waits before it ends
        return
        yield

    @property
    def pods_by_name(self) -> dict[str, StandInPod]:
        return {name: pod for (_, name), pod in self.pods.items()}

    def running(self) -> list[str]:
        return [name for (_, name), pod in self.pods.items() if pod.process.poll() is None]

    def wait_all(self, timeout: float = 120) -> None:
        for pod in self.pods.values():
            pod.process.wait(timeout=timeout)

    def _get(self, namespace: str, name: str) -> StandInPod:
        try:
            return self.pods[namespace, name]
        except KeyError:
            raise _api_error(404, f"pods {name!r} not found") from None

    def _v1pod(self, pod: StandInPod) -> Any:
        from kubernetes.client import models as k8s

        meta = pod.body["metadata"]
        (container,) = pod.body["spec"]["containers"]
        code = pod.process.poll()
        if code is None:
            phase, state = "Running", k8s.V1ContainerState(running=k8s.V1ContainerStateRunning())
        else:
            phase = "Succeeded" if code == 0 else "Failed"
            reason = "Completed" if code == 0 else "Error"
            done = k8s.V1ContainerStateTerminated(exit_code=code, reason=reason)
            state = k8s.V1ContainerState(terminated=done)
        status = k8s.V1ContainerStatus(
            name=container["name"],
            image=container["image"],
            image_id=DIGEST,
            ready=code is None,
            restart_count=0,
            state=state,
        )
        return k8s.V1Pod(
            metadata=k8s.V1ObjectMeta(
                name=meta["name"], namespace=meta["namespace"], labels=dict(pod.labels)
            ),
            spec=k8s.V1PodSpec(containers=[k8s.V1Container(name=container["name"])]),
            status=k8s.V1PodStatus(phase=phase, container_statuses=[status]),
        )


def install(monkeypatch: Any, cluster: StandInCluster) -> StandInCluster:
    """Point the provider's sync and async hooks at `cluster`."""
    from airflow.providers.cncf.kubernetes.hooks.kubernetes import (
        AsyncKubernetesHook,
        KubernetesHook,
    )

    def connect(hook: KubernetesHook) -> Any:  # instead of reading a kube config
        hook._is_in_cluster = False
        return cluster.api_client

    monkeypatch.setattr(KubernetesHook, "get_conn", connect)
    monkeypatch.setattr(KubernetesHook, "core_v1_client", property(lambda self: cluster))
    for name in ("get_pod", "delete_pod", "watch_pod_events"):
        method = getattr(cluster, name)
        monkeypatch.setattr(AsyncKubernetesHook, name, lambda self, *a, _m=method, **k: _m(*a, **k))
    monkeypatch.setenv("AIRFLOW_CONN_KUBERNETES_DEFAULT", '{"conn_type": "kubernetes"}')
    return cluster


def _selects(selector: str, labels: dict[str, str]) -> bool:
    """Kubernetes equality-based label selectors: `k=v`, `k!=v`, `!k`."""
    for term in filter(None, selector.split(",")):
        if term.startswith("!"):
            if term[1:] in labels:
                return False
        elif "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key) == value:
                return False
        else:
            key, value = term.split("=", 1)
            if labels.get(key) != value:
                return False
    return True


def _api_error(status: int, reason: str) -> Exception:
    from kubernetes.client.exceptions import ApiException

    return ApiException(status=status, reason=reason)
