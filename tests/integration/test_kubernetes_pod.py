"""Training pods rendered by the pod operator's own build path and validated against the
Kubernetes schemas. No cluster runs here, so nothing pretends to run one."""

from __future__ import annotations

import functools
import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from airflow_mlops_provider.execution.contract import trainer_env
from airflow_mlops_provider.execution.kubernetes import (
    render_pod,
    training_pod,
    without_credentials,
)
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
    operator = training_pod(
        spec.training,
        pipeline=spec.pipeline,
        kubernetes_conn_id=spec.connections.kubernetes,
        task_id="retrain",
        run_id="run-abc123",
        env=env,
    )
    return render_pod(operator)


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


@functools.cache
def _render_pod_output(*args: str) -> str:
    """`airflow-mlops render-pod` on the example (once per arguments: it starts Airflow)."""
    airflow_mlops = Path(sys.executable).parent / "airflow-mlops"
    done = subprocess.run(
        [str(airflow_mlops), "render-pod", str(EXAMPLE), *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def render_pod_command(*args: str) -> list[dict]:
    return list(yaml.safe_load_all(_render_pod_output(*args)))


@pytest.mark.parametrize("k8s_version", ["1.30", "1.34"])
def test_render_pod_prints_every_steps_pod_and_each_is_valid(k8s_version: str) -> None:
    pods = render_pod_command()
    steps = [pod["metadata"]["labels"]["mlops/step"] for pod in pods]
    assert steps == ["training", "validation", "drift", "evaluation", "scoring", "replay"]
    assert pods[0]["metadata"]["name"].startswith("fraud-gpu-train-")
    for pod in pods:
        assert pod["kind"] == "Pod"
        kubernetes_validate.validate(pod, k8s_version, strict=True)


def test_render_pod_prints_one_step_when_asked() -> None:
    (pod,) = render_pod_command("--step", "drift")
    (container,) = pod["spec"]["containers"]
    assert pod["metadata"]["name"].startswith("fraud-gpu-drift-")
    assert container["command"] == ["airflow-mlops"]
    assert container["args"][:2] == ["run-step", "drift"]


def test_step_pods_are_locked_down_like_training_pods() -> None:
    training, *steps = render_pod_command()
    for pod in steps:
        spec = pod["spec"]
        (container,) = spec["containers"]
        assert spec["securityContext"] == training["spec"]["securityContext"]
        assert container["securityContext"] == training["spec"]["containers"][0]["securityContext"]
        assert container["volumeMounts"] == [{"mountPath": "/scratch", "name": "scratch"}]
        assert pod["metadata"]["namespace"] == "ml-pipelines"  # compute.kubernetes, not training's
        assert spec["serviceAccountName"] == "fraud-steps"


def test_step_pods_get_resources_images_and_credentials_by_reference() -> None:
    _, validation, drift, evaluation, scoring, replay = render_pod_command()
    pods = (validation, drift, evaluation, scoring, replay)
    images = [pod["spec"]["containers"][0]["image"] for pod in pods]
    # validation and drift name the provider's image; the scoring steps load models: the
    # trainer's image
    assert images == [
        "registry.example.com/ml/airflow-mlops:1.0",
        "registry.example.com/ml/airflow-mlops:1.0",
        "registry.example.com/ml/fraud-trainer:1.4.0",
        "registry.example.com/ml/fraud-trainer:1.4.0",
        "registry.example.com/ml/fraud-trainer:1.4.0",
    ]
    for gpu in (evaluation, replay):  # both models on a GPU node
        (scorer,) = gpu["spec"]["containers"]
        assert scorer["resources"]["limits"] == {
            "cpu": "4", "memory": "16Gi", "nvidia.com/gpu": "1"
        }  # fmt: skip
        assert gpu["spec"]["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-A10G"}
    assert evaluation["spec"]["activeDeadlineSeconds"] == 30 * 60
    assert replay["spec"]["containers"][0]["args"][:2] == ["run-step", "replay"]
    for pod in (drift, evaluation, scoring, replay):  # they read the registry: credentials by ref
        env = {e["name"]: e for e in pod["spec"]["containers"][0]["env"]}
        assert env["MLFLOW_TRACKING_URI"]["value"] == "https://mlflow.example.com"
        assert "value" not in env["MLFLOW_TRACKING_PASSWORD"]
    (checker,) = validation["spec"]["containers"]
    names = {e["name"] for e in checker["env"]}
    assert names == {"HOME", "TMPDIR", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"}
    assert "nvidia.com/gpu" not in str(validation["spec"])


def test_render_pod_says_when_a_step_does_not_run_on_kubernetes(tmp_path: Path) -> None:
    block = (
        "  drift:\n    mode: kubernetes\n    image: registry.example.com/ml/airflow-mlops:1.0\n"
        '    resources: {cpu: "2", memory: 4Gi}\n'
    )
    assert block in EXAMPLE.read_text()
    local = EXAMPLE.read_text().replace(block, "  drift: local\n")
    path = tmp_path / "p.yaml"
    path.write_text(local)
    airflow_mlops = Path(sys.executable).parent / "airflow-mlops"
    done = subprocess.run(
        [str(airflow_mlops), "render-pod", str(path), "--step", "drift"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().endswith("drift does not run on kubernetes (training.compute, "
                                        "compute.<step>: kubernetes)")  # fmt: skip


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
