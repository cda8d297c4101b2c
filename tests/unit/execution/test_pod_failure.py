"""A pod that never ran its command, explained in one line that names the fix.

No cluster runs here: the pods are the kubernetes client's V1Pod objects, shaped as the API
server returns them for each runtime (containerd, Docker, CRI-O) and for the kubelet's image
pull failures, set on the real KubernetesPodOperator the platform builds (`step_pod`,
`training_pod`), where the provider leaves the last pod it read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kubernetes.client import models as k8s

from airflow_mlops_provider.execution.kubernetes import pod_failure, step_pod, training_pod
from airflow_mlops_provider.spec import StepPod, load_spec

ROOT = Path(__file__).resolve().parents[3]
IMAGE = "registry.example.com/ml/fraud-trainer:1.4.0"
NOT_FOUND = 'exec: "airflow-mlops": executable file not found in $PATH: unknown'
CONTAINERD = (
    "failed to create containerd task: failed to create shim task: OCI runtime create failed: "
    f"runc create failed: unable to start container process: {NOT_FOUND}"
)
DOCKER = f"OCI runtime create failed: container_linux.go:380: starting container process caused: {NOT_FOUND}"  # noqa: E501
PULL = (
    'rpc error: code = NotFound desc = failed to pull and unpack image "registry.example.com/ml/'
    'fraud-trainer:1.4.0": not found'
)


def pod(
    *, terminated=None, waiting=None, phase="Failed", name="fraud-gpu-evaluation", ns="ml-pipelines"
) -> Any:
    state = k8s.V1ContainerState(
        terminated=k8s.V1ContainerStateTerminated(**terminated) if terminated else None,
        waiting=k8s.V1ContainerStateWaiting(**waiting) if waiting else None,
    )
    status = k8s.V1ContainerStatus(
        name="base", image=IMAGE, image_id="", ready=False, restart_count=0, state=state
    )
    return k8s.V1Pod(
        metadata=k8s.V1ObjectMeta(name=name, namespace=ns),
        status=k8s.V1PodStatus(phase=phase, container_statuses=[status]),
    )


def evaluation_operator(remote_pod: Any) -> Any:
    """The evaluation step's pod operator as the platform builds it, after the provider read
    the pod back."""
    operator = step_pod(
        StepPod(image=IMAGE),
        step="evaluation",
        request_uri="s3://b/request.json",
        pipeline="fraud_gpu",
        kubernetes_conn_id="kubernetes_default",
        task_id="evaluate",
        env={},
    )
    operator.pod = remote_pod
    return operator


WHERE = "evaluation pod ml-pipelines/fraud-gpu-evaluation could not start"
NO_CLI = (
    f"{WHERE}: image {IMAGE} (training.image) has no `airflow-mlops` command; install "
    "airflow-mlops-provider in that image (include/trainer/Dockerfile builds one that trains "
    "and runs the steps), or set compute.evaluation.image to one that has it"
)


@pytest.mark.parametrize(
    "remote_pod",
    [
        pod(terminated={"exit_code": 128, "reason": "StartError", "message": CONTAINERD}),
        pod(terminated={"exit_code": 127, "reason": "ContainerCannotRun", "message": DOCKER}),
        pod(waiting={"reason": "CreateContainerError", "message": NOT_FOUND}, phase="Pending"),
        pod(terminated={"exit_code": 127, "reason": "Error"}),  # a shell's "command not found"
    ],
    ids=["containerd", "docker", "cri-o", "exit-127"],
)
def test_an_image_without_the_cli_names_the_image_the_field_and_the_fix(remote_pod) -> None:
    error = RuntimeError("Pod fraud-gpu-evaluation returned a failure.")
    line = pod_failure(evaluation_operator(remote_pod), error, "evaluation", "training.image")
    assert line == NO_CLI
    assert "\n" not in line


def test_the_field_is_the_steps_own_when_it_named_the_image() -> None:
    remote_pod = pod(terminated={"exit_code": 128, "reason": "StartError", "message": CONTAINERD})
    line = pod_failure(
        evaluation_operator(remote_pod), RuntimeError("x"), "evaluation", "compute.evaluation.image"
    )
    assert f"image {IMAGE} (compute.evaluation.image) has no `airflow-mlops` command" in line


@pytest.mark.parametrize("reason", ["ErrImagePull", "ImagePullBackOff", "InvalidImageName"])
def test_an_image_that_cannot_be_pulled_names_the_image_and_the_pull_secrets(reason) -> None:
    remote_pod = pod(waiting={"reason": reason, "message": PULL}, phase="Pending")
    error = RuntimeError(f"Image cannot be pulled, unable to start: {reason}\n{PULL}")
    line = pod_failure(evaluation_operator(remote_pod), error, "evaluation", "training.image")
    assert line == (
        f"{WHERE}: image {IMAGE} (training.image) cannot be pulled ({reason}); check its name "
        "and tag, and that compute.kubernetes.image_pull_secrets names a Secret with "
        "credentials for its registry (kubectl describe pod shows the registry's answer)"
    )


def test_a_pull_failure_is_named_from_the_providers_message_when_no_status_was_read() -> None:
    operator = evaluation_operator(None)  # the provider never read the pod back
    error = RuntimeError(f"Image cannot be pulled, unable to start: ErrImagePull\n{PULL}")
    line = pod_failure(operator, error, "evaluation", "compute.evaluation.image")
    assert line.startswith(
        "evaluation pod default/fraud-gpu-evaluation could not start: image "
        f"{IMAGE} (compute.evaluation.image) cannot be pulled (ErrImagePull)"
    )


def test_a_training_pod_names_training_settings() -> None:
    spec = load_spec(ROOT / "dags" / "fraud_gpu.yaml")
    operator = training_pod(
        spec.training,
        pipeline="fraud_gpu",
        kubernetes_conn_id="kubernetes_default",
        task_id="retrain",
        run_id="ab12cd34ef",
        env={},
    )
    missing = 'exec: "python": executable file not found in $PATH: unknown'
    operator.pod = pod(
        terminated={"exit_code": 128, "reason": "StartError", "message": missing},
        name="fraud-gpu-train-ab12cd34",
        ns="ml-training",
    )
    assert pod_failure(operator, RuntimeError("x")) == (
        "training pod ml-training/fraud-gpu-train-ab12cd34 could not start: image "
        f"{IMAGE} (training.image) has no `python` command; fix training.command, or build "
        "training.image with it (include/trainer/Dockerfile)"
    )
    operator.pod = pod(waiting={"reason": "ImagePullBackOff", "message": PULL}, phase="Pending")
    assert "training.kubernetes.image_pull_secrets" in pod_failure(operator, RuntimeError("x"))


@pytest.mark.parametrize(
    ("terminated", "why"),
    [
        # A mount's missing file: the runtime's words, but not about the command.
        (
            {
                "exit_code": 128,
                "reason": "StartError",
                "message": 'error mounting "/host/data" to rootfs: no such file or directory',
            },
            "exit code 128, StartError",
        ),
        ({"exit_code": 137, "reason": "OOMKilled"}, "exit code 137, OOMKilled"),
        ({"exit_code": 1, "reason": "Error"}, "exit code 1, Error"),
    ],
    ids=["mount", "oom", "crash"],
)
def test_other_failures_keep_the_exit_code_and_reason(terminated, why) -> None:
    line = pod_failure(evaluation_operator(pod(terminated=terminated)), RuntimeError("x"),
                       "evaluation", "training.image")  # fmt: skip
    assert line == f"evaluation pod ml-pipelines/fraud-gpu-evaluation failed ({why})"


@pytest.mark.parametrize(
    ("step", "field"),
    [("evaluation", "training.image"), ("validation", "compute.validation.image")],
)
def test_the_task_names_the_field_its_image_came_from(step: str, field: str) -> None:
    """fraud_gpu.yaml leaves compute.evaluation.image unset (the trainer's image) and names
    compute.validation.image: the task's one line says which field to change."""
    from airflow.providers.common.compat.sdk import AirflowException

    from airflow_mlops_provider.operators.pods import RunsStepOnPod

    spec = load_spec(ROOT / "dags" / "fraud_gpu.yaml")
    task = RunsStepOnPod()
    task.step, task.pod = step, spec.step_pod(step)
    operator = step_pod(task.pod, step=step, request_uri="s3://b/r.json", pipeline="fraud_gpu",
                        kubernetes_conn_id="k", task_id=step, env={})  # fmt: skip
    operator.pod = pod(terminated={"exit_code": 128, "reason": "StartError", "message": CONTAINERD})

    def fails() -> None:
        raise AirflowException("Pod returned a failure.")

    with pytest.raises(RuntimeError) as failed:
        task.watch_pod(operator, fails, RuntimeError)
    assert f"image {task.pod.image} ({field}) has no `airflow-mlops` command" in str(failed.value)
    assert f"or set compute.{step}.image to one that has it" in str(failed.value)
