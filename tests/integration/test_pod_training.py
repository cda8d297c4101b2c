"""RetrainOperator with `compute: kubernetes`, up to the cluster boundary.

No Kubernetes cluster runs here, so the one call that needs it — KubernetesPodOperator.execute
— is replaced by a stand-in that runs the pod's own container command locally with the pod's
own environment and then reports an image digest, as the kubelet would. Everything else is
real: the pod built from the YAML, the reference trainer, the MLflow store.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_mlops_provider.adapters import mlflow_registry as registry
from airflow_mlops_provider.execution.contract import trainer_env
from airflow_mlops_provider.operators.retrain import RetrainOperator
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
    retrain = RetrainOperator(task_id="retrain", spec=spec, project_dir=str(ROOT))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    retrain.__dict__["tracking_uri"] = uri  # a local store stands in for the MLflow server
    client = registry.client(uri)
    experiment = registry.ensure_experiment(client, "fraud", (tmp_path / "art").as_uri())
    run_id = registry.create_run(client, experiment, "k", "pod", {}).info.run_id
    batch = str(demo_data / "batches" / "dt=2026-11-01")
    env = trainer_env(
        churn, tracking_uri=uri, run_id=run_id, train_uri=batch, holdout_uri=batch, lineage={}
    )
    env["MLOPS_PARAMS"] = json.dumps({"max_iter": 20})

    retrain._train_in_pod({}, run_id, env)

    (pod,) = pods_run_locally
    assert pod["image"] == "registry.example.com/ml/fraud-trainer:1.4.0"
    assert pod["name"].startswith("fraud-gpu-train-") and pod["env"]["MLFLOW_RUN_ID"] == run_id
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED" and registry.has_model(run_id)
    assert run.data.tags["mlops.image_digest"] == DIGEST
