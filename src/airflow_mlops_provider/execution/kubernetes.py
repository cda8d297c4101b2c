"""Run the trainer, or one pipeline step, in a Kubernetes pod (production compute).

The pod is a KubernetesPodOperator built inside the task at run time (composition, not
inheritance — DESIGN.md §6), so DAG parsing never imports the kubernetes client; the task
starts it, defers, and finishes when the provider's trigger fires (operators/pods.py). A
training pod runs the trainer (`training:`); a step pod runs `airflow-mlops run-step` for
validation, drift or evaluation (`compute:`). Security is the same for both and fixed here, not
configurable from YAML: non-root user, no privilege escalation, all capabilities dropped,
read-only root filesystem with a writable /scratch volume, RuntimeDefault seccomp, and no
service-account token unless a service account is named.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    from airflow_mlops_provider.spec import KubernetesSpec, Resources, StepPod, TrainingSpec

SCRATCH = "/scratch"
GPU_RESOURCE = "nvidia.com/gpu"
GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"
POLL_SECONDS = 15  # how often the triggerer reads a pod's status
STEP_LABEL = "mlops/step"


class PodShape(Protocol):
    """What a pod is made of: `training:` (TrainingSpec) and a step's `StepPod` both are."""

    image: str | None
    resources: Resources
    timeout_minutes: int
    kubernetes: KubernetesSpec


def training_pod(
    training: TrainingSpec,
    *,
    pipeline: str,
    kubernetes_conn_id: str,
    task_id: str,
    run_id: str,
    env: dict[str, str],
) -> Any:
    """The deferrable pod operator that trains MLflow run `run_id`, as the retrain task runs
    it (its name carries the run, so a retry that resumes the run looks for the same pod)."""
    return pod_operator(
        training,
        command=training.command,
        step="training",
        pipeline=pipeline,
        kubernetes_conn_id=kubernetes_conn_id,
        task_id=task_id,
        name=pod_name(pipeline, f"train-{run_id[:8]}"),
        env=env,
    )


def step_pod(
    pod: StepPod,
    *,
    step: str,
    request_uri: str,
    pipeline: str,
    kubernetes_conn_id: str,
    task_id: str,
    env: dict[str, str],
) -> Any:
    """The deferrable pod operator that runs one step (`airflow-mlops run-step`) on the
    request stored at `request_uri`; `env`: the tracking URI for steps that read MLflow."""
    return pod_operator(
        pod,
        command=["airflow-mlops", "run-step", step, "--request", request_uri],
        step=step,
        pipeline=pipeline,
        kubernetes_conn_id=kubernetes_conn_id,
        task_id=task_id,
        name=pod_name(pipeline, step),
        env=env,
    )


def step_env(tracking_uri: str) -> dict[str, str]:
    """The plain environment of a step pod that reads the registry: the tracking URI
    (credentials stripped in `_env`); the credentials come from `compute.kubernetes.secret_env`
    as Secret references, like a training pod's."""
    return {"MLFLOW_TRACKING_URI": tracking_uri}


def pod_operator(
    shape: PodShape,
    *,
    command: list[str],
    step: str,
    pipeline: str,
    kubernetes_conn_id: str,
    task_id: str,
    name: str,
    env: dict[str, str],
) -> Any:
    """The KubernetesPodOperator that runs `command` in the image of `shape`, with `env`.

    Deferrable: once the pod is created the worker slot is given back and the provider's
    KubernetesPodTrigger watches the pod from the triggerer; killing the deferred task deletes
    the pod (the trigger's on_kill), and `durable` makes a new try of the task reattach to a
    pod that still runs instead of starting a second one."""
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
    from kubernetes.client import models as k8s

    kube = shape.kubernetes
    uid = kube.run_as_user
    return KubernetesPodOperator(
        task_id=task_id,
        kubernetes_conn_id=kubernetes_conn_id,
        namespace=kube.namespace,
        name=name,
        image=shape.image,
        cmds=command[:1],
        arguments=command[1:],
        env_vars=_env(env, kube.secret_env),
        container_resources=_resources(shape.resources),
        node_selector=_node_selector(shape),
        tolerations=_tolerations(shape),
        affinity=kube.affinity or None,
        security_context=k8s.V1PodSecurityContext(
            run_as_non_root=True,
            run_as_user=uid,
            run_as_group=uid,
            fs_group=uid,
            seccomp_profile=k8s.V1SeccompProfile(type="RuntimeDefault"),
        ),
        container_security_context=k8s.V1SecurityContext(
            allow_privilege_escalation=False,
            read_only_root_filesystem=True,
            run_as_non_root=True,
            privileged=False,
            capabilities=k8s.V1Capabilities(drop=["ALL"]),
        ),
        volumes=[
            k8s.V1Volume(
                name="scratch", empty_dir=k8s.V1EmptyDirVolumeSource(size_limit=kube.scratch_size)
            )
        ],
        volume_mounts=[k8s.V1VolumeMount(name="scratch", mount_path=SCRATCH)],
        service_account_name=kube.service_account,
        automount_service_account_token=kube.service_account is not None,
        image_pull_secrets=[k8s.V1LocalObjectReference(name=n) for n in kube.image_pull_secrets],
        priority_class_name=kube.priority_class,
        labels={
            "app.kubernetes.io/part-of": "airflow-mlops",
            "mlops/pipeline": pipeline,
            STEP_LABEL: step,
        },
        startup_timeout_seconds=kube.startup_timeout_seconds,
        active_deadline_seconds=shape.timeout_minutes * 60,
        durable=True,  # a worker restart reattaches to the running pod instead of a second one
        deferrable=True,  # no worker slot held while the pod runs
        poll_interval=POLL_SECONDS,
        get_logs=True,
        do_xcom_push=False,
        log_pod_spec_on_failure=False,  # the spec carries the environment: keep it out of logs
        on_finish_action="delete_succeeded_pod",  # a failed pod stays for `kubectl logs`
        on_kill_action="delete_pod",
    )


def render_pod(operator: Any) -> dict[str, Any]:
    """The exact pod `operator` would create, as a plain dict (no cluster needed)."""
    from kubernetes.client import ApiClient

    pod = operator.build_pod_request_obj(dry_run=True)  # dry run: no kube config needed
    return ApiClient().sanitize_for_serialization(pod)


def pod_name(pipeline: str, suffix: str) -> str:
    """A DNS-1123 pod name: pipeline names may hold '_', which Kubernetes refuses."""
    return f"{pipeline}-{suffix}".replace("_", "-").lower()[:50]


def image_digest(operator: Any) -> str | None:
    """The image id the kubelet actually ran (repo@sha256:...), read from the pod status the
    operator last saw (after its trigger fired, or after it found the pod already finished)."""
    pod = getattr(operator, "remote_pod", None) or getattr(operator, "pod", None)
    statuses = getattr(getattr(pod, "status", None), "container_statuses", None) or []
    return statuses[0].image_id if statuses else None


def pod_failure(
    operator: Any, error: Exception, what: str = "training", image_field: str = "training.image"
) -> str:
    """Why a `what` pod failed, in one line. A pod whose image could not be pulled, or whose
    image has no such command, is named as that, with the image, the YAML field it came from
    (`image_field`) and the fix; otherwise its container's exit code and reason when the pod
    status has them (OOMKilled, DeadlineExceeded, Error), else the provider's message."""
    pod = getattr(operator, "pod", None)
    name = pod.metadata.name if pod is not None else operator.name
    namespace = pod.metadata.namespace if pod is not None else operator.namespace
    status = getattr(pod, "status", None)
    state = _container_state(status)
    unstarted = _not_started(operator, state, error, what, image_field)
    if unstarted:
        return f"{what} pod {namespace}/{name} could not start: {unstarted}"
    ended = state.terminated if state is not None else None
    reasons = [f"exit code {ended.exit_code}", ended.reason] if ended is not None else []
    if getattr(status, "reason", None):  # e.g. DeadlineExceeded: training.timeout_minutes
        reasons.append(f"pod {status.reason}")
    why = ", ".join(filter(None, reasons)) or str(error).split("\n")[0] or type(error).__name__
    return f"{what} pod {namespace}/{name} failed ({why})"


# How the runtimes say a container's command is not in its image: containerd's StartError
# (exit 128), Docker's ContainerCannotRun (exit 127) and CRI-O's CreateContainerError (waiting)
# carry the OCI runtime's message; exit 127 alone is a shell's "command not found".
NOT_STARTED = {"StartError", "ContainerCannotRun", "CreateContainerError", "RunContainerError"}
# The kubelet's reasons for an image it cannot pull (the provider fails the task on them).
PULL_FAILED = {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}


def _container_state(status: Any) -> Any:
    """The state of the pod's `base` container (the first one if none is called so)."""
    statuses = getattr(status, "container_statuses", None) or []
    base = next((s for s in statuses if s.name == "base"), statuses[0] if statuses else None)
    return base.state if base is not None else None


def _not_started(
    operator: Any, state: Any, error: Exception, what: str, image_field: str
) -> str | None:
    """The line for a pod that never ran its command (image not pulled, command not in the
    image), or None."""
    image = f"image {getattr(operator, 'image', None) or '?'} ({image_field})"
    waiting = getattr(state, "waiting", None)
    pulled = re.search(r"Image cannot be pulled, unable to start: (\w+)", str(error))
    reason = getattr(waiting, "reason", None) or (pulled.group(1) if pulled else None)
    if reason in PULL_FAILED:
        settings = "training" if what == "training" else "compute"
        return (
            f"{image} cannot be pulled ({reason}); check its name and tag, and that "
            f"{settings}.kubernetes.image_pull_secrets names a Secret with credentials for its "
            "registry (kubectl describe pod shows the registry's answer)"
        )
    command = (getattr(operator, "cmds", None) or ["?"])[0]
    if not _command_missing(getattr(state, "terminated", None) or waiting, command):
        return None
    return f"{image} has no `{command}` command; {_install_fix(what, image_field)}"


def _install_fix(what: str, image_field: str) -> str:
    if what == "training":
        return f"fix training.command, or build {image_field} with it (include/trainer/Dockerfile)"
    return (
        "install airflow-mlops-provider in that image (include/trainer/Dockerfile builds one "
        f"that trains and runs the steps), or set compute.{what}.image to one that has it"
    )


def _command_missing(state: Any, command: str) -> bool:
    """Whether a terminated or waiting container state says `command` was not found (not a
    mount's missing file, which the runtimes report with the same words)."""
    if state is None:
        return False
    message = (getattr(state, "message", None) or "").lower()
    named = f'"{command.lower()}"' in message
    said = "executable file not found" in message or (named and "no such file" in message)
    return (state.reason in NOT_STARTED and said) or getattr(state, "exit_code", None) == 127


def without_credentials(uri: str) -> str:
    """Strip user:password from a URI before it goes into a pod spec; credentials go in via
    `training.kubernetes.secret_env` (e.g. MLFLOW_TRACKING_PASSWORD: mlflow/password)."""
    parts = urlsplit(uri)
    if not parts.username and not parts.password:
        return uri
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _env(env: dict[str, str], secret_env: dict[str, str]) -> list[Any]:
    from kubernetes.client import models as k8s

    plain = {"HOME": SCRATCH, "TMPDIR": SCRATCH, **env}
    if "MLFLOW_TRACKING_URI" in plain:
        plain["MLFLOW_TRACKING_URI"] = without_credentials(plain["MLFLOW_TRACKING_URI"])
    variables = [k8s.V1EnvVar(name=k, value=v) for k, v in plain.items()]
    for name, ref in secret_env.items():
        secret, key = ref.split("/")
        selector = k8s.V1SecretKeySelector(name=secret, key=key)
        variables.append(
            k8s.V1EnvVar(name=name, value_from=k8s.V1EnvVarSource(secret_key_ref=selector))
        )
    return variables


def _resources(resources: Any) -> Any:
    from kubernetes.client import models as k8s

    amounts = {k: v for k, v in (("cpu", resources.cpu), ("memory", resources.memory)) if v}
    limits = dict(amounts)
    if resources.gpu:
        limits[GPU_RESOURCE] = str(resources.gpu)
    return k8s.V1ResourceRequirements(requests=amounts or None, limits=limits or None)


def _node_selector(shape: PodShape) -> dict[str, str]:
    selector = dict(shape.kubernetes.node_selector)
    if shape.resources.gpu_product:
        selector[GPU_PRODUCT_LABEL] = shape.resources.gpu_product
    return selector


def _tolerations(shape: PodShape) -> list[Any]:
    from kubernetes.client import models as k8s

    wanted = [t.model_dump(exclude_none=True) for t in shape.kubernetes.tolerations]
    if shape.resources.gpu and not any(t["key"] == GPU_RESOURCE for t in wanted):
        wanted.append({"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"})
    return [k8s.V1Toleration(**t) for t in wanted]
