"""`training:` — how the trainer runs: a local subprocess or a Kubernetes (GPU) pod.

The trainer contract (CONTRACT_ENV, set by execution/contract.py) is the platform's: no
environment source in the YAML may set it — a Secret would otherwise win over the value the
platform set, and the trainer would read data the gate never checked. Values the pod gets are
checked against Kubernetes' grammar (spec/k8s.py) here, not by the API server at run time.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from airflow_mlops_provider.spec import k8s
from airflow_mlops_provider.spec.base import Scalar, StrictModel, problem, report

# What the platform sets for every trainer (DESIGN.md §4); MLOPS_* is reserved as a whole.
CONTRACT_ENV = (
    "MLFLOW_TRACKING_URI",
    "MLFLOW_RUN_ID",
    "MLOPS_TRAIN_DATA",
    "MLOPS_HOLDOUT_DATA",
    "MLOPS_PARAMS",
    "MLOPS_DATA_SPEC",
    "MLOPS_LINEAGE",
)
RESERVED_ENV_PREFIXES = ("MLOPS_", "MLFLOW_")  # training.env: plain values, no MLflow settings


def _numbers_as_text(value: Any) -> Any:
    """`cpu: 4` and `cpu: 0.5` are what people write; Kubernetes quantities are strings."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    return format(value, "g") if isinstance(value, float) else value


def _env_problems(env: dict[str, str], reserved: Any) -> list:
    """Names that are not environment names, that the contract owns, or values that expect
    a template (training values are passed as written)."""
    found = []
    for name, value in env.items():
        message = k8s.env_name_problem(name)
        if message is None and reserved(name):
            message = "set by the platform (trainer contract); remove it"
        if message is None and isinstance(value, str) and "{{" in value:
            message = "training values are passed as written, not templated; remove the {{ }}"
        if message:
            found.append(problem((name,), message))
    return found


class Resources(StrictModel):
    """What the trainer pod requests (and is limited to)."""

    cpu: str | None = Field(None, description="Kubernetes CPU quantity (4, 500m); null: none")
    memory: str | None = Field(None, description="Kubernetes memory quantity (16Gi); null: none")
    gpu: int = Field(0, ge=0, description="nvidia.com/gpu count (compute: kubernetes)")
    gpu_product: str | None = Field(None, description="node label nvidia.com/gpu.product")

    _numbers = field_validator(
        "cpu", "memory", mode="before", json_schema_input_type=str | int | float | None
    )(_numbers_as_text)

    @model_validator(mode="after")
    def _kubernetes_grammar(self) -> Resources:
        found = [
            problem((key,), message)
            for key, example in (("cpu", "8 or 500m"), ("memory", "32Gi or 512Mi"))
            if (value := getattr(self, key)) is not None
            and (message := k8s.quantity_problem(value, example))
        ]
        if self.gpu_product is not None and (message := k8s.label_value_problem(self.gpu_product)):
            found.append(problem(("gpu_product",), message))
        report("Resources", found)
        return self


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

    _numbers = field_validator("scratch_size", mode="before", json_schema_input_type=str | int)(
        _numbers_as_text
    )
    run_as_user: int = Field(1000, ge=1, description="non-root uid the trainer runs as")
    startup_timeout_seconds: int = Field(
        600, ge=10, description="how long the pod may take to start (image pull, scheduling)"
    )

    @field_validator("secret_env")
    @classmethod
    def _secret_refs(cls, value: dict[str, str]) -> dict[str, str]:
        def contract(name: str) -> bool:
            return name in CONTRACT_ENV or name.startswith("MLOPS_")

        found = _env_problems(value, contract)
        named = {tuple(f["loc"]) for f in found}
        found += [
            problem((name,), message, ref)
            for name, ref in value.items()
            if (name,) not in named and (message := k8s.secret_ref_problem(ref))
        ]
        report("KubernetesSpec", found)
        return value

    @model_validator(mode="after")
    def _kubernetes_grammar(self) -> KubernetesSpec:
        checks = [
            (("namespace",), k8s.dns_label_problem(self.namespace, "namespace")),
            (("scratch_size",), k8s.quantity_problem(self.scratch_size, "20Gi")),
        ]
        for key in ("service_account", "priority_class"):
            if (value := getattr(self, key)) is not None:
                checks.append(((key,), k8s.dns_subdomain_problem(value, key.replace("_", " "))))
        checks += [
            (("image_pull_secrets", i), k8s.dns_subdomain_problem(name, "Secret name"))
            for i, name in enumerate(self.image_pull_secrets)
        ]
        for key, value in self.node_selector.items():
            checks.append((("node_selector", key), k8s.label_key_problem(key)))
            checks.append((("node_selector", key), k8s.label_value_problem(value)))
        report("KubernetesSpec", [problem(loc, message) for loc, message in checks if message])
        return self


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
        report("TrainingSpec", _env_problems(value, lambda n: n.startswith(RESERVED_ENV_PREFIXES)))
        return value

    @field_validator("command")
    @classmethod
    def _command_is_literal(cls, value: list[str]) -> list[str]:
        report(
            "TrainingSpec",
            [
                problem((i,), "the command is run as written, not templated; remove the {{ }}")
                for i, part in enumerate(value)
                if "{{" in part or "{%" in part
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
