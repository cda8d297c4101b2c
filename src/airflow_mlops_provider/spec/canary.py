"""`canary:` — progressive delivery after the gate, in Argo Rollouts / Flagger vocabulary:
steps of shadow, set_weight, pause and analysis; a router moves traffic, a metric source
measures it. A `shadow` step judges the challenger on requests it scores without serving
them (the champion answers), before any `set_weight` lets a user see it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from airflow_mlops_provider.core.vocabulary import DIRECTIONS
from airflow_mlops_provider.spec.base import (
    Duration,
    FileFormat,
    StrictModel,
    check_duration,
    duration_seconds,
    fail,
    problem,
    report,
)

STEP_KINDS = ("shadow", "set_weight", "pause", "analysis")
#: The steps the sequential judge measures (core/canary.py).
JUDGED_KINDS = ("shadow", "analysis")
#: What the platform fills in a PromQL template, per arm and measurement.
PROMQL_PLACEHOLDERS = ("version", "arm", "window")


class CanaryMetricRule(StrictModel):
    """Bounds on the canary arm's value and a signed change bound against the champion arm."""

    min: float | None = Field(None, description="the canary arm's value must be at least this")
    max: float | None = Field(None, description="the canary arm's value must be at most this")
    max_regression: float | None = Field(
        None, ge=0, description="how much worse than the champion arm the canary arm may be"
    )
    relative: bool = Field(False, description="max_regression is a fraction of the champion's")
    direction: Literal[DIRECTIONS] | None = Field(  # type: ignore[valid-type]
        None,
        description="which way is better; known metrics (roc_auc, rmse, latency_p95_ms, "
        "error_rate, ...) know it, Prometheus queries must say it",
    )

    @model_validator(mode="after")
    def _has_a_bound(self) -> CanaryMetricRule:
        if all(v is None for v in (self.min, self.max, self.max_regression)):
            fail("CanaryMetricRule", (), "give at least one of min, max, max_regression")
        return self


class AnalysisSpec(StrictModel):
    """One analysis run (Argo's AnalysisRun): up to `count` measurements, `interval` apart,
    each judged on a confidence sequence (docs/decisions.md): it finishes as soon as the
    evidence decides, and pauses for a person when `count` measurements could not."""

    metrics: dict[str, CanaryMetricRule] = Field(
        min_length=1, description="metric name → bounds for the canary arm"
    )
    alpha: float = Field(
        0.01,
        gt=0,
        lt=0.5,
        description="error rate of the judge: the chance of rolling back a canary within its "
        "bounds, or of passing one outside them, however many measurements are taken",
    )
    interval: Duration = Field("1m", description="time between measurements (30s, 5m, 1h)")
    count: int = Field(
        3, ge=1, description="measurements at most; without a decision by then, a person decides"
    )
    failure_limit: int = Field(
        0, ge=0, description="failed measurements tolerated; one more rolls back"
    )

    _interval = field_validator("interval")(check_duration)

    @model_validator(mode="before")
    @classmethod
    def _no_min_samples(cls, data: Any) -> Any:
        if isinstance(data, dict) and "min_samples" in data:
            fail(
                "AnalysisSpec",
                ("min_samples",),
                "min_samples is gone: the sequential judge needs no fixed sample size (each "
                "measurement says how many requests would likely decide it); remove the key",
            )
        return data

    @property
    def interval_seconds(self) -> float:
        return duration_seconds(self.interval)


class PauseSpec(StrictModel):
    """Wait a while, or for a person."""

    duration: Duration | None = Field(
        None, description="how long to wait; absent: wait for a person (Airflow HITL)"
    )

    _duration = field_validator("duration")(check_duration)

    @property
    def seconds(self) -> float | None:
        return None if self.duration is None else duration_seconds(self.duration)


class CanaryStep(StrictModel):
    """Exactly one of `shadow`, `set_weight`, `pause`, `analysis` (Argo Rollouts canary steps,
    plus a shadow stage before any user sees the challenger)."""

    shadow: AnalysisSpec | None = Field(
        None,
        description="the challenger scores the same requests as the champion without serving "
        "them, judged like an analysis on the paired difference (docs/release.md); keys not "
        "given come from canary.analysis",
    )
    set_weight: int | None = Field(None, ge=1, le=100, description="percent of traffic")
    pause: PauseSpec | None = Field(None, description="{duration: 10m}, or {} for a person")
    analysis: AnalysisSpec | None = Field(
        None, description="measure both arms; keys not given come from canary.analysis"
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> CanaryStep:
        given = [k for k in STEP_KINDS if getattr(self, k) is not None]
        if len(given) != 1:
            fail(
                "CanaryStep",
                (),
                "a step is exactly one of {shadow: {...}}, {set_weight: N}, "
                f"{{pause: {{duration: 10m}}}} or {{analysis: {{...}}}}; found {given or 'none'}",
            )
        return self

    @property
    def kind(self) -> str:
        return next(k for k in STEP_KINDS if getattr(self, k) is not None)

    @property
    def judged(self) -> AnalysisSpec | None:
        """The measurements of a shadow or analysis step (None for the others)."""
        return self.shadow or self.analysis


class KServeTarget(StrictModel):
    """The InferenceService whose canaryTrafficPercent the kserve router sets."""

    namespace: str = Field("default", description="namespace of the InferenceService")
    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", description="InferenceService")


class ReplaySpec(StrictModel):
    """The `local` router's traffic: logged requests replayed through both models."""

    source: str | None = Field(
        None,
        description="logged requests (templated like data.source); null: the run's snapshot "
        "holdout. Label metrics need the target column in it",
    )
    format: FileFormat = Field("parquet", description="parquet or csv")
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
    """Logged predictions of the serving system, read per model version; for a shadow step,
    the shadow model's prediction of each served request in the same row."""

    source: str = Field(description="folder or file of logged predictions (templated)")
    format: FileFormat = Field("parquet", description="parquet or csv")
    version_column: str = Field("model_version", description="which model served the request")
    prediction_column: str = Field("prediction", description="the model's output")
    label_column: str | None = Field(None, description="default data.target when present")
    latency_column: str | None = Field(
        "latency_ms", description="request latency in ms; null: no latency_p95_ms"
    )
    error_column: str | None = Field(
        "error", description="true when the request failed; null: no error_rate"
    )
    shadow_version_column: str | None = Field(
        "shadow_version",
        description="shadow steps: which model scored the request in shadow; null: every row "
        "with a shadow prediction is the challenger's",
    )
    shadow_prediction_column: str = Field(
        "shadow_prediction", description="shadow steps: the shadow model's output"
    )
    shadow_latency_column: str | None = Field(
        "shadow_latency_ms", description="shadow steps: the shadow model's latency in ms"
    )
    shadow_error_column: str | None = Field(
        "shadow_error", description="shadow steps: true when the shadow prediction failed"
    )


class PrometheusCounts(StrictModel):
    """A metric counted by Prometheus: `events` out of `requests` during the analysis step
    (failed requests, requests slower than a histogram bucket, wrong answers...). A count
    gives the judge the share's binomial variance, so the decision rests on evidence."""

    events: str = Field(
        description="PromQL: the arm's events during the step, e.g. "
        'sum(increase(requests_failed_total{version="{{ version }}"}[{{ window }}]))'
    )
    requests: str = Field(
        description="PromQL: the arm's requests during the step, e.g. "
        'sum(increase(requests_total{version="{{ version }}"}[{{ window }}]))'
    )


class PrometheusSpec(StrictModel):
    """Canary metrics from PromQL, evaluated once per arm: counters (events out of requests)
    for metrics judged on evidence, plain queries for point values."""

    url: str | None = Field(None, pattern=r"^https?://", description="Prometheus base URL")
    url_connection: str | None = Field(None, description="Airflow connection with the URL")
    queries: dict[str, str | PrometheusCounts] = Field(
        min_length=1,
        description="metric name → {events, requests} counters (a share, judged with its "
        "variance) or one PromQL value (a point value, no variance); placeholders "
        "{{ version }}, {{ arm }} and {{ window }} (the analysis step's age, e.g. 300s)",
    )
    samples: str | None = Field(
        None,
        description="PromQL: an arm's requests during the step; needed by plain (point-value) "
        "queries, which are judged only from 30 requests per arm",
    )
    timeout_seconds: float = Field(10, gt=0, description="deadline of one query")

    @model_validator(mode="after")
    def _one_url(self) -> PrometheusSpec:
        if (self.url is None) == (self.url_connection is None):
            fail(
                "PrometheusSpec", (), "give exactly one of url (http://host:9090) or url_connection"
            )
        points = [name for name, q in self.queries.items() if isinstance(q, str)]
        if points and self.samples is None:
            fail(
                "PrometheusSpec",
                ("samples",),
                f"queries {points} give point values, which need the arm's request count: set "
                "samples (PromQL), or give them as {events: ..., requests: ...} counters",
            )
        return self


class CanarySpec(StrictModel):
    """Progressive delivery after the gate: Argo Rollouts / Flagger vocabulary."""

    enabled: bool = Field(False, description="false: the gate's promotion is direct")
    router: Literal["local", "kserve"] = Field(
        "local", description="local: replay logged requests; kserve: canaryTrafficPercent"
    )
    kserve: KServeTarget | None = Field(None, description="the InferenceService (router: kserve)")
    metric_source: Literal["replay", "inference_logs", "prometheus"] = Field(
        "replay", description="where the analysis metrics come from"
    )
    replay: ReplaySpec = Field(default_factory=ReplaySpec, description="the local router's log")
    inference_logs: InferenceLogsMetrics | None = Field(
        None, description="metric_source: inference_logs settings"
    )
    prometheus: PrometheusSpec | None = Field(
        None, description="metric_source: prometheus settings"
    )
    analysis: AnalysisSpec | None = Field(
        None, description="defaults for every `analysis` step (a step's keys override them)"
    )
    steps: list[CanaryStep] = Field(
        default_factory=list,
        description="the rollout: shadow, set_weight, pause and analysis steps",
    )

    @model_validator(mode="before")
    @classmethod
    def _apply_analysis_template(cls, data: Any) -> Any:
        """`- analysis: {}` and `- shadow: {}` take `canary.analysis`; keys given in the step
        override it."""
        if not isinstance(data, dict) or not isinstance(data.get("analysis"), dict):
            return data
        template = data["analysis"]
        return {**data, "steps": [_with_template(s, template) for s in data.get("steps") or []]}

    @model_validator(mode="after")
    def _rollout_makes_sense(self) -> CanarySpec:
        if not self.enabled:
            return self
        if not self.steps:
            fail(
                "CanarySpec",
                ("enabled",),
                "canary.enabled needs steps, e.g. [{set_weight: 20}, {analysis: {...}}, "
                "{set_weight: 50}, {analysis: {...}}]",
            )
        report("CanarySpec", [*self._step_order(), *self._sources()])
        return self

    def _step_order(self) -> list:
        found = []
        weights = [(i, s.set_weight) for i, s in enumerate(self.steps) if s.set_weight]
        for (_, before), (i, weight) in zip(weights, weights[1:], strict=False):
            if weight <= before:
                found.append(
                    problem(
                        ("steps", i, "set_weight"),
                        f"set_weight values must increase step by step; {weight} follows {before}",
                    )
                )
        first_weight = weights[0][0] if weights else None
        found += [
            problem(
                ("steps", i, "shadow"),
                "a shadow step judges the challenger before any user sees it; put it before "
                f"the first set_weight (steps[{first_weight}])",
            )
            for i, s in enumerate(self.steps)
            if s.shadow and first_weight is not None and i > first_weight
        ]
        first_analysis = next((i for i, s in enumerate(self.steps) if s.analysis), None)
        if first_analysis is not None and (first_weight is None or first_analysis < first_weight):
            found.append(
                problem(
                    ("steps", first_analysis, "analysis"),
                    "this analysis runs before any traffic reaches the canary; "
                    "put a {set_weight: N} step before it",
                )
            )
        return found

    def _sources(self) -> list:
        found = []
        if self.router == "kserve" and self.kserve is None:
            found.append(
                problem(
                    ("router",),
                    "router: kserve needs kserve: {namespace: ..., name: <InferenceService>}",
                )
            )
        needs = {
            "prometheus": (self.prometheus, "prometheus: {url, queries}"),
            "inference_logs": (self.inference_logs, "inference_logs: {source: ...}"),
        }
        shadow = next((i for i, s in enumerate(self.steps) if s.shadow), None)
        if shadow is not None and self.metric_source == "prometheus":
            found.append(
                problem(
                    ("steps", shadow, "shadow"),
                    "a shadow step compares both models on the same requests, which needs "
                    "per-request predictions: metric_source replay (router: local) or "
                    "inference_logs with shadow predictions (docs/release.md)",
                )
            )
        if self.metric_source == "replay" and self.router != "local":
            found.append(
                problem(
                    ("metric_source",),
                    "metric_source: replay measures the local router's replayed traffic; with "
                    "router: kserve use inference_logs or prometheus",
                )
            )
        elif self.metric_source in needs and needs[self.metric_source][0] is None:
            found.append(
                problem(
                    ("metric_source",),
                    f"metric_source: {self.metric_source} needs {needs[self.metric_source][1]}",
                )
            )
        return found

    def analysis_metrics(self) -> set[str]:
        return {m for s in self.steps if s.judged for m in s.judged.metrics}


def _with_template(step: Any, template: dict[str, Any]) -> Any:
    """A shadow or analysis step with the `canary.analysis` keys it does not give."""
    if not isinstance(step, dict):
        return step
    for kind in JUDGED_KINDS:
        if kind in step and isinstance(step[kind], dict | None):
            return {**step, kind: {**template, **(step[kind] or {})}}
    return step
