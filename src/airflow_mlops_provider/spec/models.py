"""The typed pipeline spec: what one YAML file in `dags/` may say.

Every model forbids unknown keys, so a typo is an error with a suggestion rather than a silently
ignored setting. Defaults live here and only here; `airflow-mlops schema` exports them as JSON
Schema for editors. No Airflow import: the spec validates in CI and pre-commit without Airflow.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
Scalar = str | int | float | bool

CLASSIFICATION_METRICS = ("roc_auc", "accuracy", "precision", "recall", "f1", "log_loss")
REGRESSION_METRICS = ("rmse", "mae", "r2")
MetricName = Literal[
    "roc_auc", "accuracy", "precision", "recall", "f1", "log_loss", "rmse", "mae", "r2"
]


class StrictModel(BaseModel):
    """Base for every block: unknown keys are errors, values are not coerced across types."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


SCHEDULE_PRESETS = ("@once", "@hourly", "@daily", "@weekly", "@monthly", "@quarterly", "@yearly")


def _check_schedule(value: str | None) -> str | None:
    """Accept Airflow presets and 5-field cron; reject anything else at validation time."""
    if value is None:
        return None
    if value.startswith("@"):
        if value not in SCHEDULE_PRESETS:
            raise ValueError(f"unknown preset {value!r}; use one of {', '.join(SCHEDULE_PRESETS)}")
        return value
    from croniter import croniter  # light, and already an Airflow dependency

    if not croniter.is_valid(value):
        raise ValueError(f"{value!r} is not a valid cron expression (e.g. '0 3 * * *')")
    return value


Schedule = Annotated[str | None, Field(description="Airflow preset (@daily) or cron, or null")]


class Features(StrictModel):
    numeric: list[str] = Field(default_factory=list, description="numeric model inputs")
    categorical: list[str] = Field(default_factory=list, description="categorical model inputs")

    @model_validator(mode="after")
    def _not_empty_nor_shared(self) -> Features:
        if not self.numeric and not self.categorical:
            raise ValueError("list at least one feature under numeric or categorical")
        both = sorted(set(self.numeric) & set(self.categorical))
        if both:
            raise ValueError(f"columns listed as both numeric and categorical: {both}")
        return self

    @property
    def all(self) -> list[str]:
        return [*self.numeric, *self.categorical]


class Split(StrictModel):
    """Time-based split: the newest `holdout_fraction` of rows (by time) is the holdout."""

    time_column: str
    holdout_fraction: float = Field(0.2, gt=0, lt=1)


class WaitSpec(StrictModel):
    """The optional `wait_for_batch` sensor: reschedule mode, so waiting holds no worker slot."""

    marker: str | None = Field(
        "_SUCCESS",
        description="file inside data.source that marks the batch complete; "
        "null: wait for data.source itself",
    )
    timeout_minutes: int = Field(360, ge=1)
    poke_minutes: float = Field(5, gt=0)


class DataSpec(StrictModel):
    source: str = Field(
        description="path, file:// or s3:// URI of the batch (file or folder); "
        "Airflow templates such as {{ ds }} are rendered per run"
    )
    format: Literal["parquet", "csv"] = "parquet"
    task: Literal["binary_classification", "regression"] = "binary_classification"
    target: str
    id_column: str | None = None
    features: Features
    split: Split
    wait: WaitSpec | None = Field(None, description="wait for the batch before validating")


Severity = Literal["error", "warn"]
SEVERITY_HELP = "error: a failure fails the gate; warn: it is reported but the gate passes"


class ColumnRule(StrictModel):
    """One column of the contract (a strict subset of an ODCS v3 schema property).

    `severity` applies to the column's data-quality rules (nulls, range, allowed values,
    pattern, uniqueness); contract-level rules (keys, freshness, no future) carry their own.
    That the column exists with its type is always an error: the pipeline's code depends on
    it, a warning would only move the failure downstream.
    """

    type: Literal["int", "float", "str", "bool", "datetime"]
    required: bool = Field(True, description="no missing values allowed")
    min: float | None = None
    max: float | None = None
    allowed: list[Scalar] | None = Field(None, description="the only values allowed")
    unique: bool = Field(False, description="no value appears twice (missing values aside)")
    pattern: str | None = Field(
        None, description="regular expression every value must match (str columns; re.search)"
    )
    max_null_fraction: float | None = Field(
        None,
        ge=0,
        le=1,
        description="share of missing values tolerated (0.05: 5%); implies required: false",
    )
    severity: Severity = Field("error", description=SEVERITY_HELP)

    @model_validator(mode="before")
    @classmethod
    def _null_fraction_implies_optional(cls, data: Any) -> Any:
        """`max_null_fraction` tolerates missing values, so `required` defaults to false then."""
        if isinstance(data, dict) and data.get("max_null_fraction") is not None:
            if data.get("required") is True:
                raise ValueError(
                    "required: true allows no missing values, max_null_fraction allows some; "
                    "keep one of them"
                )
            data = {**data, "required": False}
        return data

    @model_validator(mode="after")
    def _bounds_make_sense(self) -> ColumnRule:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        if (self.min is not None or self.max is not None) and self.type not in ("int", "float"):
            raise ValueError(f"min/max apply to int and float columns, not {self.type}")
        if self.pattern is not None:
            if self.type != "str":
                raise ValueError(f"pattern applies to str columns, not {self.type}")
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"pattern is not a valid regular expression: {exc}") from None
        return self


class FreshnessRule(StrictModel):
    """The newest value of a datetime column is at most `max_age_hours` old (naive = UTC)."""

    column: str
    max_age_hours: float = Field(gt=0)
    severity: Severity = Field("error", description=SEVERITY_HELP)


class NoFutureTimestamps(StrictModel):
    """No value of the datetime columns lies after now + tolerance (clock skew, unit bugs)."""

    columns: list[str] | None = Field(
        None, description="datetime columns to check; null: every datetime column"
    )
    tolerance_minutes: float = Field(5, ge=0)
    severity: Severity = Field("error", description=SEVERITY_HELP)


class UniqueKey(StrictModel):
    """A (compound) key: no combination of these columns' values appears twice."""

    columns: list[str] = Field(min_length=2)
    severity: Severity = Field("error", description=SEVERITY_HELP)


class ContractSpec(StrictModel):
    """The data contract; `contract: {file: ...}` loads the same from an ODCS v3 file."""

    columns: dict[str, ColumnRule] = Field(min_length=1)
    min_rows: int = Field(1, ge=0)
    max_rows: int | None = Field(None, ge=1)
    allow_extra_columns: bool = False
    unique_keys: list[UniqueKey] = Field(
        default_factory=list, description="compound keys; one column: use unique: true on it"
    )
    freshness: FreshnessRule | None = None
    no_future_timestamps: NoFutureTimestamps | None = Field(
        None, description="true (defaults) or settings; off unless given"
    )

    @field_validator(
        "no_future_timestamps",
        mode="before",
        json_schema_input_type=NoFutureTimestamps | bool | None,
    )
    @classmethod
    def _true_means_defaults(cls, value: Any) -> Any:
        if value is True:
            return {}
        if value is False:
            return None
        return value

    @model_validator(mode="after")
    def _rules_name_contract_columns(self) -> ContractSpec:
        if self.max_rows is not None and self.min_rows > self.max_rows:
            raise ValueError(f"min_rows ({self.min_rows}) is greater than max_rows")
        times = sorted(n for n, c in self.columns.items() if c.type == "datetime")
        for key in self.unique_keys:
            self._known(key.columns, "unique_keys", list(self.columns))
        if self.freshness is not None:
            self._known([self.freshness.column], "freshness.column", times)
        if self.no_future_timestamps and self.no_future_timestamps.columns is not None:
            self._known(self.no_future_timestamps.columns, "no_future_timestamps.columns", times)
        return self

    @staticmethod
    def _known(names: list[str], where: str, allowed: list[str]) -> None:
        unknown = [n for n in names if n not in allowed]
        if unknown:
            raise ValueError(
                f"{where} {unknown} must name contract columns"
                + (" of type datetime" if where != "unique_keys" else "")
                + f"; use {', '.join(allowed) or '(none declared)'}"
            )


DriftTest = Literal["auto", "ks", "chi2", "psi", "jensenshannon", "wasserstein", "linf"]
NUMERIC_DRIFT_TESTS = ("auto", "ks", "psi", "jensenshannon", "wasserstein")
CATEGORICAL_DRIFT_TESTS = ("auto", "chi2", "psi", "jensenshannon", "linf")


class FeatureDriftRule(StrictModel):
    """Per-feature override of the drift test and/or its threshold."""

    test: DriftTest | None = Field(None, description="null: the drift block's test")
    threshold: float | None = Field(
        None,
        gt=0,
        description="p-value tests (ks, chi2): this feature's own p-value level, outside the "
        "multiple-testing family; other tests: the statistic at which it drifts",
    )

    @model_validator(mode="after")
    def _says_something(self) -> FeatureDriftRule:
        if self.test is None and self.threshold is None:
            raise ValueError("give test, threshold or both")
        return self


class DriftSpec(StrictModel):
    """Per-feature drift tests against the champion's reference profile (see README: Drift).

    auto: ks / chi2 up to 10,000 values per side, normalised Wasserstein / Jensen-Shannon
    above. Bonferroni or Benjamini-Hochberg keeps 50 stable features from paging daily."""

    test: DriftTest = Field("auto", description="default test for every feature")
    alpha: float = Field(0.01, gt=0, lt=1, description="significance level of p-value tests")
    correction: Literal["bonferroni", "benjamini_hochberg", "none"] = Field(
        "bonferroni", description="multiple-testing control across features' p-value tests"
    )
    drift_share: float = Field(
        0.25, gt=0, le=1, description="dataset drift when this share of features drifted"
    )
    missing_rate_change: float = Field(
        0.05,
        gt=0,
        le=1,
        description="absolute change of a feature's missing share that counts as drift "
        "(when also statistically significant)",
    )
    features: dict[str, FeatureDriftRule] = Field(
        default_factory=dict, description="per-feature overrides: {name: {test, threshold}}"
    )

    @model_validator(mode="after")
    def _threshold_has_a_test(self) -> DriftSpec:
        """auto picks a p-value test or an effect size by sample size, so a bare threshold
        would change meaning with the batch size."""
        if self.test == "auto":
            bare = sorted(n for n, r in self.features.items() if r.test in (None, "auto"))
            bare = [n for n in bare if self.features[n].threshold is not None]
            if bare:
                raise ValueError(
                    f"drift.features {bare}: a threshold needs a test (with test: auto its "
                    "meaning would change with the batch size); add e.g. test: ks"
                )
        return self

    def overrides(self) -> dict[str, dict[str, Any]]:
        """The overrides as plain dicts for core.drift.compare_profile."""
        return {n: r.model_dump(exclude_none=True) for n, r in self.features.items()}

    def check_features(self, numeric: list[str], categorical: list[str]) -> None:
        """Override names must be declared features, and every test must fit its kind."""
        unknown = sorted(set(self.features) - {*numeric, *categorical})
        if unknown:
            raise ValueError(
                f"drift.features {unknown} are not declared features; use one of "
                f"{', '.join([*numeric, *categorical])}"
            )
        for kind, names, allowed in (
            ("numeric", numeric, NUMERIC_DRIFT_TESTS),
            ("categorical", categorical, CATEGORICAL_DRIFT_TESTS),
        ):
            for name in names:
                rule = self.features.get(name)
                test = rule.test if rule and rule.test else self.test
                if test not in allowed:
                    where = f"drift.features.{name}.test" if rule and rule.test else "drift.test"
                    raise ValueError(
                        f"{where}: {test} does not apply to {kind} feature {name!r}; use "
                        f"{', '.join(allowed)} (or a per-feature override)"
                    )


class Resources(StrictModel):
    cpu: str | None = None
    memory: str | None = None
    gpu: int = Field(0, ge=0)
    gpu_product: str | None = Field(None, description="node label nvidia.com/gpu.product")


class Toleration(StrictModel):
    key: str
    operator: Literal["Equal", "Exists"] = "Exists"
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None


class KubernetesSpec(StrictModel):
    """Pod settings for `compute: kubernetes`; security settings are fixed, not configurable."""

    namespace: str = "default"
    service_account: str | None = None
    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[Toleration] = Field(
        default_factory=list, description="added to the nvidia.com/gpu toleration when gpu > 0"
    )
    priority_class: str | None = None
    affinity: dict[str, Any] = Field(
        default_factory=dict, description="Kubernetes affinity, as in a pod spec"
    )
    image_pull_secrets: list[str] = Field(default_factory=list)
    secret_env: dict[str, str] = Field(
        default_factory=dict,
        description="ENV_NAME: secret-name/key, read from Kubernetes Secrets in the pod",
    )
    scratch_size: str = Field("20Gi", description="size of the writable /scratch volume")
    run_as_user: int = Field(1000, ge=1, description="non-root uid the trainer runs as")
    startup_timeout_seconds: int = Field(600, ge=10)

    @field_validator("secret_env")
    @classmethod
    def _secret_refs(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [name for name, ref in value.items() if ref.count("/") != 1]
        if bad:
            raise ValueError(f"write secret references as secret-name/key; check {bad}")
        return value


class TrainingSpec(StrictModel):
    compute: Literal["local", "kubernetes"] = Field(
        "local", description="local: a subprocess on the worker; kubernetes: a pod"
    )
    command: list[str] = Field(
        default_factory=lambda: ["python", "include/trainer/train.py"], min_length=1
    )
    image: str | None = Field(None, description="trainer image (required for kubernetes)")
    params: dict[str, Scalar] = Field(default_factory=dict)
    env: dict[str, str] = Field(
        default_factory=dict,
        description="extra environment for the trainer (both modes); no secrets here: use "
        "kubernetes.secret_env or Airflow connections",
    )
    resources: Resources = Field(default_factory=Resources)
    kubernetes: KubernetesSpec = Field(default_factory=KubernetesSpec)
    timeout_minutes: int = Field(60, ge=1)

    @field_validator("env")
    @classmethod
    def _env_does_not_override_the_contract(cls, value: dict[str, str]) -> dict[str, str]:
        reserved = sorted(k for k in value if k.startswith(("MLOPS_", "MLFLOW_")))
        if reserved:
            raise ValueError(f"{reserved} are set by the platform (trainer contract); remove them")
        return value

    @model_validator(mode="after")
    def _mode_fits(self) -> TrainingSpec:
        if self.compute == "kubernetes" and not self.image:
            raise ValueError("compute: kubernetes needs training.image (the trainer image)")
        if self.compute == "local" and (self.resources.gpu or self.resources.gpu_product):
            raise ValueError(
                "resources.gpu applies to compute: kubernetes only; "
                "remove it or set compute: kubernetes"
            )
        pod_only = {"kubernetes", "image"} & self.model_fields_set
        if self.compute == "local" and pod_only:
            raise ValueError(
                f"training.{' and training.'.join(sorted(pod_only))}: for compute: kubernetes "
                "only; remove it or set compute: kubernetes"
            )
        return self


class MetricRule(StrictModel):
    """Value bounds and a signed change bound against the champion (TFX-style)."""

    min: float | None = None
    max: float | None = None
    max_regression: float | None = Field(
        None, ge=0, description="how much worse than the champion the challenger may be"
    )
    min_improvement: float | None = Field(None, description="how much better it must be")
    relative: bool = Field(False, description="change bounds are fractions of the champion value")

    @model_validator(mode="after")
    def _has_a_bound(self) -> MetricRule:
        if all(v is None for v in (self.min, self.max, self.max_regression, self.min_improvement)):
            raise ValueError("give at least one of min, max, max_regression, min_improvement")
        return self


class EvaluationSpec(StrictModel):
    metrics: dict[MetricName, MetricRule] = Field(min_length=1)
    on_missing_champion: Literal["promote", "reject"] = "promote"
    threshold: float = Field(0.5, gt=0, lt=1, description="decision threshold for label metrics")


class ApprovalSpec(StrictModel):
    mode: Literal["never", "always"] = "never"
    timeout_hours: float = Field(24, gt=0)


class CanarySpec(StrictModel):
    enabled: Literal[False] = Field(
        False, description="canary rollout is not in this release; promotion is direct"
    )


class MonitoringSpec(StrictModel):
    schedule: Schedule = "@daily"
    source: str = Field(description="inference-log batch for the run (templated like data.source)")
    format: Literal["parquet", "csv"] = "parquet"
    cooldown_hours: float = Field(
        24, ge=0, description="after a retrain request, drift only alerts for this long (0: off)"
    )
    log_columns: list[str] = Field(
        default_factory=lambda: ["request_id"],
        description="columns the logs carry besides the contract's",
    )
    prediction_column: str = Field(
        "prediction",
        description="column of the window holding the champion's outputs; tested for "
        "prediction drift against the training-time prediction distribution",
    )

    _schedule = field_validator("schedule")(_check_schedule)


class SlackSpec(StrictModel):
    connection_id: str = "slack_default"
    channel: str = Field(pattern=r"^[#@]?[\w.-]+$")


class NotificationsSpec(StrictModel):
    slack: SlackSpec | None = None


class MlflowSpec(StrictModel):
    tracking_uri: str | None = Field(
        None,
        description="null: connection mlflow_default if it "
        "exists, else a local SQLite store under storage.root",
    )
    experiment: str | None = Field(None, description="default: the pipeline name")
    model_name: str | None = Field(None, description="registered model; default: the pipeline")
    ui_url: str = Field("http://127.0.0.1:5000", description="MLflow UI base for Airflow links")


class StorageSpec(StrictModel):
    root: str = Field(
        ".mlops",
        description="where snapshots, reports and the audit log go; "
        "relative paths are under the project (the dags folder's parent)",
    )


class ConnectionsSpec(StrictModel):
    aws: str = "aws_default"
    mlflow: str = "mlflow_default"
    kubernetes: str = "kubernetes_default"


class PipelineSpec(StrictModel):
    pipeline: str = Field(
        pattern=NAME_PATTERN, description="lowercase name; DAG ids derive from it"
    )
    owner: str = "airflow"
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    schedule: Schedule = None
    retrain_on_request: bool = Field(
        True, description="run training when monitoring emits the retrain-request Asset event"
    )
    max_active_runs: int = Field(1, ge=1)
    retries: int = Field(1, ge=0)
    data: DataSpec
    contract: ContractSpec
    drift: DriftSpec = Field(default_factory=DriftSpec)
    training: TrainingSpec = Field(default_factory=TrainingSpec)
    evaluation: EvaluationSpec
    approval: ApprovalSpec = Field(default_factory=ApprovalSpec)
    canary: CanarySpec = Field(default_factory=CanarySpec)
    monitoring: MonitoringSpec | None = None
    notifications: NotificationsSpec = Field(default_factory=NotificationsSpec)
    mlflow: MlflowSpec = Field(default_factory=MlflowSpec)
    storage: StorageSpec = Field(default_factory=StorageSpec)
    connections: ConnectionsSpec = Field(default_factory=ConnectionsSpec)

    _schedule = field_validator("schedule")(_check_schedule)

    @field_validator("pipeline")
    @classmethod
    def _no_double_underscore(cls, value: str) -> str:
        if "__" in value:
            raise ValueError("'__' separates the pipeline from the DAG kind; use a single '_'")
        return value

    @model_validator(mode="after")
    def _columns_agree(self) -> PipelineSpec:
        wanted = {*self.data.features.all, self.data.target, self.data.split.time_column}
        missing = sorted(wanted - set(self.contract.columns))
        if missing:
            raise ValueError(
                f"contract.columns must describe every feature, the target and the "
                f"split time column; add: {', '.join(missing)}"
            )
        if self.training.compute == "kubernetes":
            _check_reachable_from_pod(self)
        self.drift.check_features(self.data.features.numeric, self.data.features.categorical)
        metrics = REGRESSION_METRICS if self.data.task == "regression" else CLASSIFICATION_METRICS
        wrong = sorted(set(self.evaluation.metrics) - set(metrics))
        if wrong:
            raise ValueError(
                f"evaluation.metrics {wrong} do not apply to {self.data.task}; "
                f"use {', '.join(metrics)}"
            )
        return self

    # Derived names, kept here so the factory, operators and CLI agree on them.
    @property
    def model_name(self) -> str:
        return self.mlflow.model_name or self.pipeline

    @property
    def experiment_name(self) -> str:
        return self.mlflow.experiment or self.pipeline

    def dag_id(self, kind: str) -> str:
        return f"{self.pipeline}__{kind}"

    @property
    def retrain_asset_uri(self) -> str:
        return f"mlops://{self.pipeline}/retrain-request"

    @property
    def validated_asset_uri(self) -> str:
        return f"mlops://{self.pipeline}/validated-batch"


def _check_reachable_from_pod(spec: PipelineSpec) -> None:
    """A training pod sees no worker-local file: data and the MLflow store must be remote."""
    if not spec.storage.root.startswith("s3://"):
        raise ValueError(
            "compute: kubernetes needs storage.root on s3:// (the pod reads the snapshot "
            f"from there); found {spec.storage.root!r}"
        )
    uri = spec.mlflow.tracking_uri
    if uri is not None and not uri.startswith(("http://", "https://", "databricks")):
        raise ValueError(
            "compute: kubernetes needs an MLflow server the pod can reach: set "
            f"mlflow.tracking_uri to http(s)://... or use the connection; found {uri!r}"
        )


def pipeline_of_dag_id(dag_id: str) -> str | None:
    match = re.fullmatch(r"(.+)__(training|monitoring|rollback|config_error)", dag_id)
    return match.group(1) if match else None
