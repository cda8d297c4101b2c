"""`training:` — how the trainer runs: a local subprocess or a Kubernetes (GPU) pod.

The trainer contract (MLOPS_* and MLFLOW_* variables, execution/contract.py) is set by the
platform; nothing in the YAML may override it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from airflow_mlops_provider.spec.base import Scalar, StrictModel, problem, report

CONTRACT_ENV_PREFIXES = ("MLOPS_", "MLFLOW_")


class Resources(StrictModel):
    """What the trainer pod requests (and is limited to)."""

    cpu: str | None = Field(None, description="Kubernetes CPU quantity (4, 500m); null: none")
    memory: str | None = Field(None, description="Kubernetes memory quantity (16Gi); null: none")
    gpu: int = Field(0, ge=0, description="nvidia.com/gpu count (compute: kubernetes)")
    gpu_product: str | None = Field(None, description="node label nvidia.com/gpu.product")


class Toleration(StrictModel):
    """A pod toleration, as in a pod spec."""

    key: str = Field(description="taint key")
    operator: Literal["Equal", "Exists"] = Field("Exists", description="Equal or Exists")
    value: str | None = Field(None, description="taint value (operator: Equal)")
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = Field(
        None, description="taint effect; null: every effect"
    )


class KubernetesSpec(StrictModel):
    """Pod settings for `compute: kubernetes`; security settings are fixed, not configurable."""

    namespace: str = Field("default", description="namespace the pod runs in")
    service_account: str | None = Field(None, description="pod service account; null: default")
    node_selector: dict[str, str] = Field(default_factory=dict, description="node labels")
    tolerations: list[Toleration] = Field(
        default_factory=list, description="added to the nvidia.com/gpu toleration when gpu > 0"
    )
    priority_class: str | None = Field(None, description="pod priority class name")
    affinity: dict[str, Any] = Field(
        default_factory=dict, description="Kubernetes affinity, as in a pod spec"
    )
    image_pull_secrets: list[str] = Field(
        default_factory=list, description="Secrets with registry credentials"
    )
    secret_env: dict[str, str] = Field(
        default_factory=dict,
        description="ENV_NAME: secret-name/key, read from Kubernetes Secrets in the pod",
    )
    scratch_size: str = Field("20Gi", description="size of the writable /scratch volume")
    run_as_user: int = Field(1000, ge=1, description="non-root uid the trainer runs as")
    startup_timeout_seconds: int = Field(
        600, ge=10, description="how long the pod may take to start (image pull, scheduling)"
    )

    @field_validator("secret_env")
    @classmethod
    def _secret_refs(cls, value: dict[str, str]) -> dict[str, str]:
        report(
            "KubernetesSpec",
            [
                problem((name,), "write secret references as secret-name/key", ref)
                for name, ref in value.items()
                if ref.count("/") != 1
            ],
        )
        return value


class TrainingSpec(StrictModel):
    """The trainer and where it runs."""

    compute: Literal["local", "kubernetes"] = Field(
        "local", description="local: a subprocess on the worker; kubernetes: a pod"
    )
    command: list[str] = Field(
        default_factory=lambda: ["python", "include/trainer/train.py"],
        min_length=1,
        description="the trainer's command line; relative paths are under the project",
    )
    image: str | None = Field(None, description="trainer image (required for kubernetes)")
    params: dict[str, Scalar] = Field(
        default_factory=dict, description="hyper-parameters, passed as MLOPS_PARAMS (JSON)"
    )
    env: dict[str, str] = Field(
        default_factory=dict,
        description="extra environment for the trainer (both modes); no secrets here: use "
        "kubernetes.secret_env or Airflow connections",
    )
    resources: Resources = Field(default_factory=Resources, description="cpu, memory, gpu")
    kubernetes: KubernetesSpec = Field(
        default_factory=KubernetesSpec, description="pod settings (compute: kubernetes)"
    )
    timeout_minutes: int = Field(60, ge=1, description="the trainer is stopped after this long")

    @field_validator("env")
    @classmethod
    def _env_does_not_override_the_contract(cls, value: dict[str, str]) -> dict[str, str]:
        report(
            "TrainingSpec",
            [
                problem((name,), "set by the platform (trainer contract); remove it")
                for name in sorted(value)
                if name.startswith(CONTRACT_ENV_PREFIXES)
            ],
        )
        return value

    @model_validator(mode="after")
    def _mode_fits(self) -> TrainingSpec:
        found = []
        if self.compute == "kubernetes" and not self.image:
            found.append(
                problem(("compute",), "kubernetes needs training.image (the trainer image)")
            )
        if self.compute == "local":
            found += [
                problem(
                    ("resources", key),
                    "applies to compute: kubernetes only; remove it or set compute: kubernetes",
                )
                for key in ("gpu", "gpu_product")
                if getattr(self.resources, key)
            ]
            found += [
                problem(
                    (key,),
                    "for compute: kubernetes only; remove it or set compute: kubernetes",
                )
                for key in sorted({"kubernetes", "image"} & self.model_fields_set)
            ]
        report("TrainingSpec", found)
        return self
