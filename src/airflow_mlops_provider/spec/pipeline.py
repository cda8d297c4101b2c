"""The whole pipeline YAML: its top-level keys, one block per section, and the names derived
from it (DAG ids, Asset URIs, model name) so the factory, operators and CLI agree on them."""

from __future__ import annotations

import re

from pydantic import Field, field_validator, model_validator

from airflow_mlops_provider.spec import rules
from airflow_mlops_provider.spec.approval import ApprovalSpec
from airflow_mlops_provider.spec.base import NAME_PATTERN, Schedule, StrictModel, check_schedule
from airflow_mlops_provider.spec.canary import CanarySpec
from airflow_mlops_provider.spec.compute import ComputeSpec, StepPod
from airflow_mlops_provider.spec.contract import ContractSpec
from airflow_mlops_provider.spec.data import DataSpec
from airflow_mlops_provider.spec.drift import DriftSpec
from airflow_mlops_provider.spec.evaluation import EvaluationSpec
from airflow_mlops_provider.spec.monitoring import MonitoringSpec
from airflow_mlops_provider.spec.settings import (
    ConnectionsSpec,
    MlflowNames,
    MlflowSpec,
    NotificationsSpec,
    StorageSpec,
)
from airflow_mlops_provider.spec.training import TrainingSpec

DAG_KINDS = ("training", "monitoring", "health", "rollback", "config_error")
MAX_TAG_LENGTH = 100  # Airflow refuses longer DAG tags when the DAG is built


class PipelineSpec(StrictModel, MlflowNames):
    """One pipeline: a model, its data, its gate and its release (docs/pipelines.md)."""

    pipeline: str = Field(
        pattern=NAME_PATTERN, description="lowercase name; DAG ids derive from it"
    )
    owner: str = Field("airflow", description="DAG owner shown in the Airflow UI")
    description: str = Field("", description="shown on the DAGs' pages")
    tags: list[str] = Field(default_factory=list, description="extra DAG tags (besides mlops)")
    schedule: Schedule = Field(
        None, description="training schedule: Airflow preset (@daily) or cron, or null"
    )
    retrain_on_request: bool = Field(
        True, description="run training when monitoring emits the retrain-request Asset event"
    )
    max_active_runs: int = Field(1, ge=1, description="concurrent runs per DAG")
    retries: int = Field(1, ge=0, description="task retries")
    data: DataSpec = Field(description="the training batch")
    contract: ContractSpec = Field(description="the data contract, inline or {file: odcs.yaml}")
    drift: DriftSpec = Field(default_factory=DriftSpec, description="drift tests")
    training: TrainingSpec = Field(default_factory=TrainingSpec, description="the trainer")
    compute: ComputeSpec = Field(
        default_factory=ComputeSpec,
        description="where validation, drift and evaluation run: the worker or a pod",
    )
    evaluation: EvaluationSpec = Field(description="the release gate")
    approval: ApprovalSpec = Field(default_factory=ApprovalSpec, description="who decides")
    canary: CanarySpec = Field(default_factory=CanarySpec, description="progressive delivery")
    monitoring: MonitoringSpec | None = Field(
        None, description="serving-side monitoring; null: no monitoring or health DAG"
    )
    notifications: NotificationsSpec = Field(default_factory=NotificationsSpec, description="Slack")
    mlflow: MlflowSpec = Field(default_factory=MlflowSpec, description="tracking and registry")
    storage: StorageSpec = Field(default_factory=StorageSpec, description="where outputs go")
    connections: ConnectionsSpec = Field(
        default_factory=ConnectionsSpec, description="Airflow connection ids"
    )

    _schedule = field_validator("schedule")(check_schedule)

    @field_validator("pipeline")
    @classmethod
    def _no_double_underscore(cls, value: str) -> str:
        if "__" in value:
            raise ValueError("'__' separates the pipeline from the DAG kind; use a single '_'")
        return value

    @field_validator("tags")
    @classmethod
    def _tags_fit_airflow(cls, value: list[str]) -> list[str]:
        long = [t[:20] + "..." for t in value if len(t) > MAX_TAG_LENGTH]
        if long:
            raise ValueError(f"tags may have at most {MAX_TAG_LENGTH} characters; shorten {long}")
        return value

    @model_validator(mode="after")
    def _blocks_agree(self) -> PipelineSpec:
        rules.check(self)
        return self

    # Derived names, kept here so the factory, operators and CLI agree on them (the MLflow
    # names: MlflowNames).
    def dag_id(self, kind: str) -> str:
        return f"{self.pipeline}__{kind}"

    def step_pod(self, step: str) -> StepPod | None:
        """The pod `compute.<step>` runs in (its image defaulting to the trainer's), or None
        when the step runs in the worker."""
        chosen = getattr(self.compute, step)
        if chosen.mode != "kubernetes":
            return None
        return StepPod(
            image=chosen.image or self.training.image,
            image_defaulted=chosen.image is None,
            resources=chosen.resources,
            timeout_minutes=chosen.timeout_minutes,
            kubernetes=self.compute.kubernetes,
        )

    @property
    def retrain_asset_uri(self) -> str:
        return f"mlops://{self.pipeline}/retrain-request"

    @property
    def validated_asset_uri(self) -> str:
        return f"mlops://{self.pipeline}/validated-batch"


def pipeline_of_dag_id(dag_id: str) -> str | None:
    """`churn__training` → `churn`; None for a DAG this package did not build."""
    match = re.fullmatch(rf"(.+)__({'|'.join(DAG_KINDS)})", dag_id)
    return match.group(1) if match else None
