"""The typed pipeline spec: what one YAML file in `dags/` may say.

Every model forbids unknown keys, so a typo is an error with a suggestion rather than a silently
ignored setting. Defaults live here and only here; `airflow-mlops schema` exports them as JSON
Schema for editors. No Airflow import: the spec validates in CI and pre-commit without Airflow.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
Scalar = str | int | float | bool

CLASSIFICATION_METRICS = ("roc_auc", "accuracy", "precision", "recall", "f1", "log_loss")
REGRESSION_METRICS = ("rmse", "mae", "r2")
METRIC_NAMES = (*CLASSIFICATION_METRICS, *REGRESSION_METRICS)
MetricName = Literal[
    "roc_auc", "accuracy", "precision", "recall", "f1", "log_loss", "rmse", "mae", "r2"
]


class StrictModel(BaseModel):
    """Base for every block: unknown keys are errors, values are not coerced across types,
    and `.inf`/`.nan` are refused (an infinite timeout overflows when the DAG is built)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


SCHEDULE_PRESETS = ("@once", "@hourly", "@daily", "@weekly", "@monthly", "@quarterly", "@yearly")


def _check_schedule(value: str | None) -> str | None:
    """Accept Airflow presets and 5-field cron; reject anything else at validation time."""
    if value is None:
        return None
    if value.startswith("@"):
        if value not in SCHEDULE_PRESETS:
            raise ValueError(f"unknown preset {value!r}; use one of {', '.join(SCHEDULE_PRESETS)}")
        return value
    from croniter import CroniterError, croniter  # light, and already an Airflow dependency

    example = "(minute hour day-of-month month day-of-week, e.g. '0 3 * * *')"
    if len(value.split()) != 5 or not croniter.is_valid(value):
        raise ValueError(f"{value!r} is not a 5-field cron expression {example}")
    try:  # valid syntax that never fires ('0 0 31 2 *') would break the scheduler instead
        croniter(value).get_next()
    except CroniterError:
        raise ValueError(f"{value!r} never fires; check the day and month fields") from None
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
DriftEffect = Literal[
    "ks", "chi2", "psi", "jensenshannon", "wasserstein", "linf", "nonfinite_share", "unseen_share"
]
NUMERIC_DRIFT_TESTS = ("auto", "ks", "psi", "jensenshannon", "wasserstein")
CATEGORICAL_DRIFT_TESTS = ("auto", "chi2", "psi", "jensenshannon", "linf")


class FeatureDriftRule(StrictModel):
    """Per-feature override of the drift test and/or its threshold."""

    test: DriftTest | None = Field(None, description="null: the drift block's test")
    threshold: float | None = Field(
        None,
        gt=0,
        description="this feature's minimum effect size for its test (else drift.min_effect); "
        "it drifts when its evidence test is also significant",
    )

    @model_validator(mode="after")
    def _says_something(self) -> FeatureDriftRule:
        if self.test is None and self.threshold is None:
            raise ValueError("give test, threshold or both")
        return self


class DriftSpec(StrictModel):
    """Per-feature drift against the champion's reference profile (see docs/decisions.md):
    a feature drifts when its two-sample test (KS / chi-square) is significant under the
    family's correction AND its effect size reaches the test's minimum, at every batch size.
    Bonferroni or Benjamini-Hochberg keeps 50 stable features from paging daily."""

    test: DriftTest = Field(
        "auto", description="effect size for every feature; auto: ks (numeric), chi2 (categorical)"
    )
    alpha: float = Field(0.01, gt=0, lt=1, description="significance level of the evidence tests")
    correction: Literal["bonferroni", "benjamini_hochberg", "none"] = Field(
        "bonferroni", description="multiple-testing control across features' evidence tests"
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
    min_effect: dict[DriftEffect, float] = Field(
        default_factory=dict,
        description="minimum effect size per test, overriding the defaults listed in "
        "docs/decisions.md (a feature drifts only when its effect reaches it)",
    )
    features: dict[str, FeatureDriftRule] = Field(
        default_factory=dict, description="per-feature overrides: {name: {test, threshold}}"
    )

    @field_validator("min_effect")
    @classmethod
    def _positive(cls, value: dict[str, float]) -> dict[str, float]:
        bad = sorted(k for k, v in value.items() if v <= 0)
        if bad:
            raise ValueError(f"min_effect {bad} must be positive")
        return value

    def compare_settings(self, prediction_column: str = "prediction") -> dict[str, Any]:
        """Keyword arguments of core.drift.compare_profile, so the operator and the CLI judge
        a batch with the same settings."""
        return {
            "test": self.test,
            "overrides": {n: r.model_dump(exclude_none=True) for n, r in self.features.items()},
            "alpha": self.alpha,
            "correction": self.correction,
            "drift_share": self.drift_share,
            "missing_rate_change": self.missing_rate_change,
            "min_effect": dict(self.min_effect),
            "prediction_column": prediction_column,
        }

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


class FairnessSpec(StrictModel):
    """Per-group gaps of the challenger's thresholded predictions; the limits are hard (reject),
    and a gap past `approval.soft_limit` x its limit raises the risk score."""

    group_columns: list[str] = Field(
        min_length=1, description="sensitive column(s); several: intersectional groups"
    )
    max_demographic_parity_difference: float | None = Field(
        None, gt=0, le=1, description="max - min over groups of the positive prediction rate"
    )
    max_equal_opportunity_difference: float | None = Field(
        None, gt=0, le=1, description="max - min over groups of the true positive rate"
    )
    min_group_size: int = Field(
        30, ge=1, description="smaller groups are reported but left out of the gaps"
    )

    @model_validator(mode="before")
    @classmethod
    def _one_column(cls, data: Any) -> Any:
        """`group_column: x` is shorthand for `group_columns: [x]`."""
        if isinstance(data, dict) and "group_column" in data:
            if "group_columns" in data:
                raise ValueError("give group_column or group_columns, not both")
            data = {**data, "group_columns": [data["group_column"]]}
            del data["group_column"]
        return data

    @model_validator(mode="after")
    def _has_a_limit(self) -> FairnessSpec:
        if (
            self.max_demographic_parity_difference is None
            and self.max_equal_opportunity_difference is None
        ):
            raise ValueError(
                "give max_demographic_parity_difference and/or max_equal_opportunity_difference"
            )
        return self


class LatencySpec(StrictModel):
    """p95 of the time to score one batch of holdout rows, over `repeats` batches."""

    max_p95_ms: float | None = Field(
        None, gt=0, description="hard limit on the challenger's p95 batch latency; null: report"
    )
    batch_size: int = Field(100, ge=1)
    repeats: int = Field(30, ge=2)


class DisagreementSpec(StrictModel):
    """Share of holdout rows whose thresholded prediction differs from the champion's."""

    max: float = Field(0.5, gt=0, le=1, description="hard limit on the disagreement share")
    tolerance: float = Field(
        0.1, gt=0, description="regression: relative difference that counts as disagreeing"
    )


class EvaluationSpec(StrictModel):
    metrics: dict[MetricName, MetricRule] = Field(
        min_length=1, description="the gate: at least one metric with a bound"
    )
    holdout: str | None = Field(
        None,
        description="fixed golden set (path, file:// or s3://, parquet or csv) scored instead "
        "of the validated snapshot's holdout",
    )
    fairness: FairnessSpec | None = None
    latency: LatencySpec = Field(default_factory=LatencySpec)
    disagreement: DisagreementSpec = Field(default_factory=DisagreementSpec)
    on_missing_champion: Literal["promote", "approval", "reject"] = Field(
        "promote", description="the first model: promote (risk permitting), ask, or reject"
    )
    threshold: float = Field(0.5, gt=0, lt=1, description="decision threshold for label metrics")
    alpha: float = Field(
        0.01,
        gt=0,
        lt=0.5,
        description="error rate of the gate's tests: each bound passes when its one-sided "
        "confidence bound at alpha is inside; failures are Holm-corrected at alpha",
    )


class RiskWeights(StrictModel):
    """How much each risk factor (0..1) can add; see README "Evaluation gate and approval"."""

    regression: float = Field(0.6, ge=0, le=1)
    fairness: float = Field(0.6, ge=0, le=1)
    latency: float = Field(0.4, ge=0, le=1)
    disagreement: float = Field(0.25, ge=0, le=1)
    cold_start: float = Field(0.2, ge=0, le=1)
    uncertain: float = Field(
        0.5, ge=0, le=1, description="a bound the holdout cannot decide (its interval straddles it)"
    )


class ApprovalSpec(StrictModel):
    mode: Literal["risk", "always", "never"] = Field(
        "risk",
        description="risk: the risk score decides; always: a person approves every passing "
        "model; never: no person (the score can still reject)",
    )
    approve_above: float = Field(0.3, ge=0, le=1, description="risk score that asks a person")
    reject_above: float = Field(0.7, ge=0, le=1, description="risk score that rejects")
    soft_limit: float = Field(
        0.5, gt=0, le=1, description="share of each hard limit from which a factor counts"
    )
    weights: RiskWeights = Field(default_factory=RiskWeights)
    timeout_hours: float = Field(24, gt=0)
    on_timeout: Literal["reject", "promote"] = Field(
        "reject", description="what an unanswered approval request becomes"
    )

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> ApprovalSpec:
        if self.approve_above > self.reject_above:
            raise ValueError(
                f"approve_above ({self.approve_above}) must not exceed "
                f"reject_above ({self.reject_above})"
            )
        return self


DURATION_PATTERN = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)$")
DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
Duration = Annotated[
    str | int | float,
    Field(description="seconds, or a number with unit ms/s/m/h: 500ms, 10s, 5m, 1h"),
]


def duration_seconds(value: str | int | float) -> float:
    """'10s' / '5m' / 30 → seconds; the Argo Rollouts spelling of durations."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a string like 10s, 5m, 1h")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = DURATION_PATTERN.match(value.strip())
        if not match:
            raise ValueError(f"{value!r} is not a duration; write e.g. 30s, 5m, 1h or 500ms")
        seconds = float(match.group(1)) * DURATION_UNITS[match.group(2)]
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


def _check_duration(value: Any) -> Any:
    if value is not None:
        duration_seconds(value)
    return value


# Measured by every replay / inference-log source besides the task's model metrics.
CANARY_BUILTIN_METRICS = ("latency_p95_ms", "error_rate")
# Known "lower is better" metrics (core/canary.py judges with the same list).
LOWER_IS_BETTER_METRICS = ("log_loss", "rmse", "mae", *CANARY_BUILTIN_METRICS)


class CanaryMetricRule(StrictModel):
    """Bounds on the canary arm's value and a signed change bound against the champion arm."""

    min: float | None = None
    max: float | None = None
    max_regression: float | None = Field(
        None, ge=0, description="how much worse than the champion arm the canary arm may be"
    )
    relative: bool = Field(False, description="max_regression is a fraction of the champion's")
    direction: Literal["higher", "lower"] | None = Field(
        None,
        description="which way is better; known metrics (roc_auc, rmse, latency_p95_ms, "
        "error_rate, ...) know it, Prometheus queries must say it",
    )

    @model_validator(mode="after")
    def _has_a_bound(self) -> CanaryMetricRule:
        if all(v is None for v in (self.min, self.max, self.max_regression)):
            raise ValueError("give at least one of min, max, max_regression")
        return self


class AnalysisSpec(StrictModel):
    """One analysis run (Argo's AnalysisRun): `count` measurements, `interval` apart."""

    metrics: dict[str, CanaryMetricRule] = Field(min_length=1)
    min_samples: int = Field(
        100, ge=1, description="requests per arm a measurement needs to count (else inconclusive)"
    )
    interval: Duration = "1m"
    count: int = Field(3, ge=1, description="measurements to take")
    failure_limit: int = Field(
        0, ge=0, description="failed measurements tolerated; one more rolls back"
    )

    _interval = field_validator("interval")(_check_duration)

    @property
    def interval_seconds(self) -> float:
        return duration_seconds(self.interval)


class PauseSpec(StrictModel):
    duration: Duration | None = Field(
        None, description="how long to wait; absent: wait for a person (Airflow HITL)"
    )

    _duration = field_validator("duration")(_check_duration)

    @property
    def seconds(self) -> float | None:
        return None if self.duration is None else duration_seconds(self.duration)


class CanaryStep(StrictModel):
    """Exactly one of `set_weight`, `pause`, `analysis` (Argo Rollouts canary steps)."""

    set_weight: int | None = Field(None, ge=1, le=100, description="percent of traffic")
    pause: PauseSpec | None = None
    analysis: AnalysisSpec | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> CanaryStep:
        given = [k for k in ("set_weight", "pause", "analysis") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "a step is exactly one of {set_weight: N}, {pause: {duration: 10m}} or "
                f"{{analysis: {{...}}}}; found {given or 'none'}"
            )
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ("set_weight", "pause", "analysis") if getattr(self, k) is not None)


class KServeTarget(StrictModel):
    namespace: str = "default"
    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", description="InferenceService")


class ReplaySpec(StrictModel):
    """The `local` router's traffic: logged requests replayed through both models."""

    source: str | None = Field(
        None,
        description="logged requests (templated like data.source); null: the run's snapshot "
        "holdout. Label metrics need the target column in it",
    )
    format: Literal["parquet", "csv"] = "parquet"
    request_id_column: str | None = Field(
        None, description="stable id the split hashes; default data.id_column, else row number"
    )
    requests_per_interval: int | None = Field(
        None,
        ge=1,
        description="requests replayed per measurement; null: the log split evenly over "
        "every measurement of the rollout",
    )
    batch_size: int = Field(64, ge=1, description="requests scored per model call")


class InferenceLogsMetrics(StrictModel):
    """Logged predictions of the serving system, read per model version."""

    source: str = Field(description="folder or file of logged predictions (templated)")
    format: Literal["parquet", "csv"] = "parquet"
    version_column: str = "model_version"
    prediction_column: str = "prediction"
    label_column: str | None = Field(None, description="default data.target when present")
    latency_column: str | None = "latency_ms"
    error_column: str | None = "error"


class PrometheusSpec(StrictModel):
    url: str | None = Field(None, pattern=r"^https?://", description="Prometheus base URL")
    url_connection: str | None = Field(None, description="Airflow connection with the URL")
    queries: dict[str, str] = Field(
        min_length=1,
        description="metric name → PromQL with {{ version }} / {{ arm }} placeholders, "
        "evaluated once per arm",
    )
    samples: str | None = Field(
        None, description="PromQL counting an arm's requests (for min_samples); null: no check"
    )
    timeout_seconds: float = Field(10, gt=0)

    @model_validator(mode="after")
    def _one_url(self) -> PrometheusSpec:
        if (self.url is None) == (self.url_connection is None):
            raise ValueError("give exactly one of url (http://host:9090) or url_connection")
        return self


class CanarySpec(StrictModel):
    """Progressive delivery after the gate: Argo Rollouts / Flagger vocabulary."""

    enabled: bool = Field(False, description="false: the gate's promotion is direct")
    router: Literal["local", "kserve"] = Field(
        "local", description="local: replay logged requests; kserve: canaryTrafficPercent"
    )
    kserve: KServeTarget | None = None
    metric_source: Literal["replay", "inference_logs", "prometheus"] = "replay"
    replay: ReplaySpec = Field(default_factory=ReplaySpec)
    inference_logs: InferenceLogsMetrics | None = None
    prometheus: PrometheusSpec | None = None
    analysis: AnalysisSpec | None = Field(
        None, description="defaults for every `analysis` step (a step's keys override them)"
    )
    steps: list[CanaryStep] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _apply_analysis_template(cls, data: Any) -> Any:
        """`- analysis: {}` takes `canary.analysis`; keys given in the step override it."""
        if not isinstance(data, dict) or not isinstance(data.get("analysis"), dict):
            return data
        template = data["analysis"]
        steps = [
            {**s, "analysis": {**template, **(s["analysis"] or {})}}
            if isinstance(s, dict) and "analysis" in s and isinstance(s["analysis"], dict | None)
            else s
            for s in data.get("steps") or []
        ]
        return {**data, "steps": steps}

    @model_validator(mode="after")
    def _rollout_makes_sense(self) -> CanarySpec:
        if not self.enabled:
            return self
        if not self.steps:
            raise ValueError(
                "canary.enabled needs steps, e.g. [{set_weight: 20}, {analysis: {...}}, "
                "{set_weight: 50}, {analysis: {...}}]"
            )
        weights = [s.set_weight for s in self.steps if s.set_weight is not None]
        if any(b <= a for a, b in zip(weights, weights[1:], strict=False)):
            raise ValueError(f"set_weight values must increase step by step; found {weights}")
        first_weight = next((i for i, s in enumerate(self.steps) if s.set_weight), None)
        first_analysis = next((i for i, s in enumerate(self.steps) if s.analysis), None)
        if first_analysis is not None and (first_weight is None or first_analysis < first_weight):
            raise ValueError(
                f"steps[{first_analysis}] analyses before any traffic reaches the canary; "
                "put a {set_weight: N} step before it"
            )
        if self.router == "kserve" and self.kserve is None:
            raise ValueError(
                "router: kserve needs kserve: {namespace: ..., name: <InferenceService>}"
            )
        if self.metric_source == "replay" and self.router != "local":
            raise ValueError(
                "metric_source: replay measures the local router's replayed traffic; with "
                "router: kserve use inference_logs or prometheus"
            )
        if self.metric_source == "prometheus" and self.prometheus is None:
            raise ValueError("metric_source: prometheus needs prometheus: {url, queries}")
        if self.metric_source == "inference_logs" and self.inference_logs is None:
            raise ValueError("metric_source: inference_logs needs inference_logs: {source: ...}")
        return self

    def analysis_metrics(self) -> set[str]:
        return {m for s in self.steps if s.analysis for m in s.analysis.metrics}


class PerformanceSpec(StrictModel):
    """Live performance: the bound the metric on labelled serving traffic must keep.

    Below `min` (above `max` for lower-is-better metrics) is decay: the same retrain request
    and alert as drift. Fewer than `min_labelled_rows` joined labels are not judged at all:
    a metric on a handful of rows is noise, not an incident."""

    metric: MetricName = Field(description="one of evaluation's metric names for data.task")
    min: float | None = Field(None, description="decay when the live metric is below this")
    max: float | None = Field(None, description="decay when above this (log_loss, rmse, mae)")
    min_labelled_rows: int = Field(
        200, ge=1, description="labelled requests needed before the metric is judged"
    )

    @model_validator(mode="after")
    def _one_bound(self) -> PerformanceSpec:
        if (self.min is None) == (self.max is None):
            raise ValueError(
                f"give exactly one of min or max for {self.metric} (min for metrics where "
                "higher is better, max for log_loss, rmse, mae)"
            )
        return self


class MonitoringSpec(StrictModel):
    schedule: Schedule = "@daily"
    source: str = Field(
        description="inference-log partition for the run (templated like data.source; rendered "
        "for every day of the run's data interval)"
    )
    format: Literal["parquet", "csv"] = "parquet"
    cooldown_hours: float = Field(
        24,
        ge=0,
        description="after a retrain request, drift or decay only alerts for this long (0: off)",
    )
    log_columns: list[str] = Field(
        default_factory=lambda: ["request_id"],
        description="columns the logs carry besides the contract's",
    )
    id_column: str = Field(
        "request_id", description="request id in the logs and the labels (the join key)"
    )
    labels: str | None = Field(
        None,
        description="ground truth that arrives after serving (templated): id_column and "
        "data.target for some of the requests of the run's window; null: no live performance",
    )
    performance: PerformanceSpec | None = Field(
        None, description="alert and request retraining when the live metric decays"
    )
    health_schedule: Schedule = Field(
        "@daily", description="schedule of the <pipeline>__health report DAG (null: manual)"
    )
    prediction_column: str = Field(
        "prediction",
        description="column of the window holding the champion's outputs; tested for "
        "prediction drift against the training-time prediction distribution",
    )

    _schedule = field_validator("schedule", "health_schedule")(_check_schedule)

    @model_validator(mode="after")
    def _labels_join(self) -> MonitoringSpec:
        if self.performance is not None and self.labels is None:
            raise ValueError(
                "monitoring.performance needs monitoring.labels (where the ground truth "
                "arrives, e.g. include/data/labels/dt={{ ds }})"
            )
        if self.labels is not None and self.id_column not in self.log_columns:
            raise ValueError(
                f"monitoring.id_column {self.id_column!r} joins logs and labels, so the logs "
                f"must carry it: add it to monitoring.log_columns ({self.log_columns})"
            )
        return self


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
    ui_url: str | None = Field(
        None,
        description="MLflow UI base for the Airflow 'MLflow run' link; null: an http(s) "
        "tracking_uri, else the MLflow connection's host, else no link",
    )


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
        _check_fairness(self)
        self.drift.check_features(self.data.features.numeric, self.data.features.categorical)
        metrics = REGRESSION_METRICS if self.data.task == "regression" else CLASSIFICATION_METRICS
        wrong = sorted(set(self.evaluation.metrics) - set(metrics))
        if wrong:
            raise ValueError(
                f"evaluation.metrics {wrong} do not apply to {self.data.task}; "
                f"use {', '.join(metrics)}"
            )
        performance = self.monitoring.performance if self.monitoring else None
        if performance is not None and performance.metric not in metrics:
            raise ValueError(
                f"monitoring.performance.metric {performance.metric!r} does not apply to "
                f"{self.data.task}; use {', '.join(metrics)}"
            )
        return self

    @field_validator("canary")
    @classmethod
    def _canary_metrics_exist(cls, canary: CanarySpec, info: ValidationInfo) -> CanarySpec:
        data = info.data.get("data")
        if data is not None:  # else `data` has its own error already
            _check_canary_metrics(canary, data.task)
        return canary

    @field_validator("tags")
    @classmethod
    def _tags_fit_airflow(cls, value: list[str]) -> list[str]:
        """Airflow refuses DAG tags over 100 characters when the DAG is built, too late."""
        long = [t[:20] + "..." for t in value if len(t) > 100]
        if long:
            raise ValueError(f"tags may have at most 100 characters; shorten {long}")
        return value

    @model_validator(mode="after")
    def _paths_stay_inside(self) -> PipelineSpec:
        """No `..` in any path the pipeline reads or writes, and the batch marker is a name
        inside the batch. Relative paths resolve under the project; at run time Storage also
        confines absolute paths and symlinks to the allowed roots (adapters/storage.py)."""
        paths: dict[tuple[str, ...], str | None] = {
            ("data", "source"): self.data.source,
            ("storage", "root"): self.storage.root,
            ("monitoring", "source"): self.monitoring.source if self.monitoring else None,
            ("monitoring", "labels"): self.monitoring.labels if self.monitoring else None,
            ("evaluation", "holdout"): self.evaluation.holdout,
            ("canary", "replay", "source"): self.canary.replay.source,
            ("canary", "inference_logs", "source"): (
                self.canary.inference_logs.source if self.canary.inference_logs else None
            ),
        }
        if self.data.wait is not None:
            paths[("data", "wait", "marker")] = self.data.wait.marker
        errors = [
            _path_error(loc, value, marker=loc[-1] == "marker")
            for loc, value in paths.items()
            if value is not None
        ]
        errors = [e for e in errors if e is not None]
        if errors:
            raise ValidationError.from_exception_data("PipelineSpec", errors)
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


def _check_fairness(spec: PipelineSpec) -> None:
    """Fairness needs thresholded predictions and group columns the holdout carries."""
    fairness = spec.evaluation.fairness
    if fairness is None:
        return
    if spec.data.task != "binary_classification":
        raise ValueError(
            "evaluation.fairness applies to binary_classification (thresholded predictions); "
            "remove it for a regression model"
        )
    unknown = [c for c in fairness.group_columns if c not in spec.contract.columns]
    if unknown:
        raise ValueError(
            f"evaluation.fairness.group_columns {unknown} must be contract columns; "
            f"use {', '.join(spec.contract.columns)}"
        )


def _path_error(loc: tuple[str, ...], value: str, *, marker: bool) -> InitErrorDetails | None:
    """The pydantic error for a path that could leave its root, placed at its own field."""
    path = value.split("://", 1)[-1]
    if ".." in re.split(r"[/\\]", path):
        message = "'..' is not allowed in paths; write the path from the project folder down"
    elif marker and (path.startswith(("/", "\\")) or "://" in value):
        message = "the marker is a file name inside data.source, not a path or URI"
    else:
        return None
    return InitErrorDetails(type=PydanticCustomError("path_escape", message), loc=loc, input=value)


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


def _check_canary_metrics(canary: CanarySpec, task: str) -> None:
    """Every analysis metric must be one the configured metric source can measure."""
    if not canary.enabled:
        return
    wanted = canary.analysis_metrics()
    if canary.metric_source == "prometheus":
        assert canary.prometheus is not None
        known = set(canary.prometheus.queries)
        undirected = sorted(
            name
            for s in canary.steps
            if s.analysis
            for name, rule in s.analysis.metrics.items()
            if rule.direction is None and name not in (*LOWER_IS_BETTER_METRICS, *METRIC_NAMES)
        )
        if undirected:
            raise ValueError(
                f"canary analysis metrics {undirected} come from Prometheus queries; "
                "say which way is better with direction: higher or direction: lower"
            )
    else:
        task_metrics = REGRESSION_METRICS if task == "regression" else CLASSIFICATION_METRICS
        known = {*task_metrics, *CANARY_BUILTIN_METRICS}
    unknown = sorted(wanted - known)
    if unknown:
        raise ValueError(
            f"canary analysis metrics {unknown} are not measured by metric_source "
            f"{canary.metric_source}; use {', '.join(sorted(known))}"
            + (" (or add a query under canary.prometheus.queries)" if canary.prometheus else "")
        )


def pipeline_of_dag_id(dag_id: str) -> str | None:
    match = re.fullmatch(r"(.+)__(training|monitoring|health|rollback|config_error)", dag_id)
    return match.group(1) if match else None
