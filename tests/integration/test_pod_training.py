"""Training with `compute: kubernetes`, up to the cluster boundary.

No Kubernetes cluster runs here, so the one call that needs it — KubernetesPodOperator.execute
— is replaced by a stand-in that runs the pod's own container command locally with the pod's
own environment and then reports an image digest, as the kubelet would. Everything else is
real: the pod built from the YAML (execution/kubernetes.py PodTrainer, what the retrain task
uses), the reference trainer, the MLflow store, the service that trains and tags the run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_mlops_provider.adapters.mlflow_registry import Registry, Tracking
from airflow_mlops_provider.adapters.storage import Storage
from airflow_mlops_provider.execution.kubernetes import PodTrainer
from airflow_mlops_provider.services.layout import TaskRef
from airflow_mlops_provider.services.runtime import Runtime
from airflow_mlops_provider.services.training import train_and_register
from airflow_mlops_provider.spec import load_spec

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
DIGEST = "registry.example.com/ml/fraud-trainer@sha256:" + "ab" * 32


@pytest.fixture
def pods_run_locally(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
    from kubernetes.client import models as k8s

    seen: list[dict] = []

    def execute(self: KubernetesPodOperator, context: object) -> None:
        env = {e.name: e.value for e in self.env_vars if e.value is not None}
        seen.append({"image": self.image, "env": env, "name": self.name})
        local = {k: v for k, v in env.items() if k not in ("HOME", "TMPDIR")}
        script = ROOT / "include" / "trainer" / "train.py"  # the image's /app/train.py
        subprocess.run([sys.executable, str(script)], env={**os.environ, **local}, check=True)
        status = k8s.V1ContainerStatus(
            name="base", image=self.image, image_id=DIGEST, ready=False, restart_count=0
        )
        self.remote_pod = k8s.V1Pod(status=k8s.V1PodStatus(container_statuses=[status]))

    monkeypatch.setattr(KubernetesPodOperator, "execute", execute)
    return seen


def test_training_in_a_pod_records_the_digest(
    tmp_path: Path, demo_data: Path, pods_run_locally: list[dict]
) -> None:
    spec = load_spec(ROOT / "dags" / "fraud_gpu.yaml")
    churn = load_spec(ROOT / "dags" / "churn.yaml")  # the demo data is churn-shaped
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"  # a local store stands in for the server
    registry = Registry("fraud", Tracking(uri, artifact_location=(tmp_path / "art").as_uri()))
    rt = Runtime(
        pipeline="fraud_gpu",
        storage_root=str(tmp_path / "state"),
        storage=Storage(tmp_path),
        registry=registry,
        task=TaskRef("fraud_gpu__training", "manual__1", "retrain"),
    )
    batch = str(demo_data / "batches" / "dt=2026-11-01")
    trainer = PodTrainer(
        spec.training.model_copy(update={"params": {"max_iter": 20}}),
        pipeline=spec.pipeline,
        kubernetes_conn_id=spec.connections.kubernetes,
        task_id="retrain",
        context={},
    )
    trained = train_and_register(
        rt,
        snapshot={"snapshot_id": "s1", "train_uri": batch, "holdout_uri": batch},
        training=trainer.training,
        data=churn.data,
        experiment="fraud",
        ui_url="http://mlflow",
        trainer=trainer,
    )

    (pod,) = pods_run_locally
    assert pod["image"] == "registry.example.com/ml/fraud-trainer:1.4.0"
    run_id = trained.run_id
    assert pod["name"].startswith("fraud-gpu-train-") and pod["env"]["MLFLOW_RUN_ID"] == run_id
    run = registry.get_run(run_id)
    assert run.info.status == "FINISHED" and registry.has_model(run_id)
    assert run.data.tags["mlops.image_digest"] == DIGEST
    version = registry.get_version(trained.version)
    assert version.tags["mlops.image_digest"] == DIGEST  # the version carries what ran
    assert version.tags["mlops.compute"] == "kubernetes"
