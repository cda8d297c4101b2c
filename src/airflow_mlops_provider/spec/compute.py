"""`compute:` — where the heavy steps besides training run: in the worker or in a pod.

One top-level block, not a `compute:` key inside each step's block: validation has no block of
its own (the contract describes data and may be a shared ODCS file), the pod settings the step
pods share (namespace, service account, Secrets) are written once, and — DESIGN.md §3 — moving
a pipeline from a laptop to a cluster changes only the `connections` and `compute` blocks.
Training keeps its own `training.compute`: the trainer is the pipeline's own code, with its own
image, command and GPU.

    compute:
      validation: kubernetes              # the short form: mode only
      drift: local                        # the default
      evaluation:
        mode: kubernetes
        resources: {cpu: 4, memory: 16Gi, gpu: 1}
      replay: kubernetes                  # the local router's canary windows, scored in a pod
      kubernetes: {namespace: ml-steps, secret_env: {...}}
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from airflow_mlops_provider.spec.base import StrictModel, problem, report
from airflow_mlops_provider.spec.training import KubernetesSpec, Resources

Mode = Literal["local", "kubernetes"]
# The steps `compute:` places, with the DAG tasks each one covers (for errors and docs).
STEPS = {
    "validation": "validate_data (training) and validate_serving_data (monitoring)",
    "drift": "detect_drift (training and monitoring)",
    "evaluation": "evaluate: both models scored on the holdout",
    "scoring": "collect_window (monitoring): logs without predictions scored with the champion",
    "replay": "canary_promote with canary.router: local: each measurement's window of replayed "
    "requests scored by both models",
}
MODEL_STEPS = ("drift", "evaluation", "scoring", "replay")  # steps that read the registry (MLflow)
SHORT_DEFAULT: dict[str, Any] = {"default": "local"}  # the default, as people write it


class StepCompute(StrictModel):
    """Where one step runs; everything but `mode` applies to `mode: kubernetes` only."""

    mode: Mode = Field("local", description="local: in the Airflow worker; kubernetes: a pod")
    image: str | None = Field(
        None,
        description="the pod's image, with airflow-mlops-provider installed; null: "
        "training.image when training runs on kubernetes (the trainer's: a model's "
        "dependencies and GPU libraries are there)",
    )
    resources: Resources = Field(default_factory=Resources, description="cpu, memory, gpu")
    timeout_minutes: int = Field(60, ge=1, description="the pod is stopped after this long")

    @model_validator(mode="after")
    def _kubernetes_only(self) -> StepCompute:
        if self.mode == "local":
            report(
                "StepCompute",
                [
                    problem((key,), "for mode: kubernetes only; remove it or set mode: kubernetes")
                    for key in sorted(
                        {"image", "resources", "timeout_minutes"} & self.model_fields_set
                    )
                ],
            )
        return self


def _step_field(step: str) -> Any:
    return Field(
        default_factory=StepCompute,
        json_schema_extra=SHORT_DEFAULT,
        description=f"{STEPS[step]}: local, kubernetes, or {{mode: ..., resources: ...}}",
    )


class ComputeSpec(StrictModel):
    """Where validation, drift, evaluation, monitoring's scoring and the canary's replay run
    (training: `training.compute`)."""

    validation: StepCompute = _step_field("validation")
    drift: StepCompute = _step_field("drift")
    evaluation: StepCompute = _step_field("evaluation")
    scoring: StepCompute = _step_field("scoring")
    replay: StepCompute = _step_field("replay")
    kubernetes: KubernetesSpec = Field(
        default_factory=KubernetesSpec,
        description="pod settings every step pod shares (not training's: set them here too)",
    )

    @field_validator(*STEPS, mode="before",
                     json_schema_input_type=Mode | StepCompute)  # fmt: skip
    @classmethod
    def _short_form(cls, value: Any) -> Any:
        """`validation: kubernetes` means `validation: {mode: kubernetes}`."""
        return {"mode": value} if isinstance(value, str) else value

    def on_pods(self) -> list[str]:
        """The steps set to `kubernetes`, in the pipeline's order."""
        return [name for name in STEPS if getattr(self, name).mode == "kubernetes"]


class StepPod(StrictModel):
    """What an operator needs to run its step in a pod: the image (resolved), resources,
    deadline and the shared pod settings. Operators take it as `pod=` (None: in the worker)."""

    image: str = Field(description="image with airflow-mlops-provider installed")
    image_defaulted: bool = Field(
        False, description="the image is training.image, compute.<step>.image being unset"
    )
    resources: Resources = Field(default_factory=Resources, description="cpu, memory, gpu")
    timeout_minutes: int = Field(60, ge=1, description="the pod is stopped after this long")
    kubernetes: KubernetesSpec = Field(default_factory=KubernetesSpec, description="pod settings")
