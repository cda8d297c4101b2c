"""Training pods rendered by the pod operator's own build path and validated against the
Kubernetes schemas. No cluster runs here, so nothing pretends to run one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from airflow_mlops_provider.execution.contract import trainer_env
from airflow_mlops_provider.execution.kubernetes import render_pod, without_credentials
from airflow_mlops_provider.spec import SpecError, load_spec

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "dags" / "fraud_gpu.yaml"


def rendered(spec_path: Path = EXAMPLE) -> dict:
    spec = load_spec(spec_path)
    env = trainer_env(
        spec.training,
        spec.data,
        tracking_uri="https://mlflow.example.com",
        run_id="abc123",
        train_uri="s3://b/train.parquet",
        holdout_uri="s3://b/holdout.parquet",
        lineage={"mlops.pipeline": spec.pipeline},
    )
    return render_pod(
        spec.training,
        pipeline=spec.pipeline,
        kubernetes_conn_id=spec.connections.kubernetes,
        env=env,
    )


@pytest.mark.parametrize("k8s_version", ["1.30", "1.34"])
def test_pod_is_valid_kubernetes(k8s_version: str) -> None:
    kubernetes_validate.validate(rendered(), k8s_version, strict=True)


def test_pod_is_locked_down() -> None:
    spec = rendered()["spec"]
    (container,) = spec["containers"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["runAsUser"] == 1000
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"]["drop"] == ["ALL"]
    assert not any("hostPath" in volume for volume in spec["volumes"])
    assert container["volumeMounts"] == [{"mountPath": "/scratch", "name": "scratch"}]


def test_gpu_resources_selector_and_toleration() -> None:
    spec = rendered()["spec"]
    (container,) = spec["containers"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert spec["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-A10G"}
    terms = spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert terms["nodeSelectorTerms"][0]["matchExpressions"][0]["values"] == ["gpu-training"]
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec[
        "tolerations"
    ]


def test_contract_env_and_secrets_by_reference_only() -> None:
    (container,) = rendered()["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["MLFLOW_RUN_ID"]["value"] == "abc123"
    assert env["MLOPS_TRAIN_DATA"]["value"] == "s3://b/train.parquet"
    assert env["OMP_NUM_THREADS"]["value"] == "8"  # training.env, as in local mode
    password = env["MLFLOW_TRACKING_PASSWORD"]
    assert "value" not in password
    assert password["valueFrom"]["secretKeyRef"] == {
        "name": "mlflow-credentials",
        "key": "password",
    }


def test_credentials_never_reach_the_pod_spec() -> None:
    assert without_credentials("https://bob:s3cret@mlflow:5000/x") == "https://mlflow:5000/x"
    assert without_credentials("https://mlflow") == "https://mlflow"


def test_pod_mode_needs_remote_storage(tmp_path: Path) -> None:
    local = EXAMPLE.read_text().replace("root: s3://ml-platform/mlops", "root: .mlops")
    (tmp_path / "p.yaml").write_text(local)
    with pytest.raises(SpecError, match="needs storage.root on s3://"):
        load_spec(tmp_path / "p.yaml")


def test_render_pod_command_prints_yaml() -> None:
    airflow_mlops = Path(sys.executable).parent / "airflow-mlops"
    done = subprocess.run(
        [str(airflow_mlops), "render-pod", str(EXAMPLE)], capture_output=True, text=True, check=True
    )
    pod = yaml.safe_load(done.stdout)
    assert pod["kind"] == "Pod" and pod["metadata"]["name"].startswith("fraud-gpu-retrain")
    kubernetes_validate.validate(pod, "1.30", strict=True)


def test_image_digest_is_read_from_the_pod_status() -> None:
    from kubernetes.client import models as k8s

    from airflow_mlops_provider.execution.kubernetes import image_digest

    status = k8s.V1ContainerStatus(
        name="base",
        image="trainer:1.4.0",
        image_id="registry/trainer@sha256:ab12",
        ready=False,
        restart_count=0,
    )
    finished = type(
        "Op", (), {"remote_pod": k8s.V1Pod(status=k8s.V1PodStatus(container_statuses=[status]))}
    )()
    assert image_digest(finished) == "registry/trainer@sha256:ab12"
    assert image_digest(type("Op", (), {})()) is None


def test_a_failed_pod_is_explained_in_one_line() -> None:
    from types import SimpleNamespace

    from kubernetes.client import models as k8s

    from airflow_mlops_provider.execution.kubernetes import pod_failure

    killed = k8s.V1ContainerStateTerminated(exit_code=137, reason="Error")
    status = k8s.V1ContainerStatus(
        name="base",
        image="t",
        image_id="",
        ready=False,
        restart_count=0,
        state=k8s.V1ContainerState(terminated=killed),
    )
    pod = k8s.V1Pod(
        metadata=k8s.V1ObjectMeta(name="fraud-gpu-train-ab12", namespace="ml"),
        status=k8s.V1PodStatus(
            phase="Failed", reason="DeadlineExceeded", container_statuses=[status]
        ),
    )
    operator = SimpleNamespace(pod=pod, name="fraud-gpu-train", namespace="ml")
    assert pod_failure(operator, RuntimeError("x")) == (
        "training pod ml/fraud-gpu-train-ab12 failed (exit code 137, Error, pod DeadlineExceeded)"
    )
    never_created = SimpleNamespace(pod=None, name="fraud-gpu-train", namespace="ml")
    assert pod_failure(never_created, RuntimeError("403 Forbidden\ndetails")) == (
        "training pod ml/fraud-gpu-train failed (403 Forbidden)"
    )
