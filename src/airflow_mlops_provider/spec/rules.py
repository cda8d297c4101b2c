"""Rules that span blocks: what one block says must fit what another says.

Each rule returns its problems placed at the key a person has to edit (a path like
`evaluation.metrics.rmse`, which the loader turns into file:line), so an error never points at
the whole document. `PipelineSpec` runs them all once every block is valid on its own, and
reports every problem at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from pydantic_core import InitErrorDetails, PydanticCustomError

from airflow_mlops_provider.core.vocabulary import (
    BINARY_CLASSIFICATION,
    CANARY_BUILTIN_METRICS,
    CATEGORICAL,
    NUMERIC,
    knows_direction,
    metrics_for_task,
    unfit_test_reason,
)
from airflow_mlops_provider.spec.base import Loc, problem, report
from airflow_mlops_provider.spec.compute import MODEL_STEPS

if TYPE_CHECKING:
    from airflow_mlops_provider.spec.canary import CanarySpec
    from airflow_mlops_provider.spec.pipeline import PipelineSpec

Problems = list[InitErrorDetails]


def check(spec: PipelineSpec) -> None:
    """Raise one ValidationError with every cross-block problem, or return."""
    report("PipelineSpec", [found for rule in RULES for found in rule(spec)])


def contract_covers_inputs(spec: PipelineSpec) -> Problems:
    """The contract describes every column the pipeline's code reads."""
    data = spec.data
    wanted = {*data.features.all, data.target, data.split.time_column}
    missing = sorted(wanted - set(spec.contract.columns))
    if not missing:
        return []
    return [
        problem(
            ("contract", "columns"),
            "describe every feature, the target and the split time column here; "
            f"add: {', '.join(missing)}",
        )
    ]


def pod_reaches_its_inputs(spec: PipelineSpec) -> Problems:
    """A training pod sees no worker-local file: data and the MLflow store must be remote."""
    if spec.training.compute != "kubernetes":
        return []
    return _remote_storage(spec, ("training", "compute"), "the pod reads the snapshot") + (
        _remote_mlflow(spec)
    )


def step_pods_reach_their_inputs(spec: PipelineSpec) -> Problems:
    """A step pod (`compute:`) has an image, and sees no worker-local file either: storage
    (requests, results, reports), the batch it validates, a golden holdout, the inference logs
    it scores and, for the steps
    that read the registry, the MLflow server must be remote. Storage and MLflow are reported
    once, by the training rule, when training runs in a pod too."""
    steps = spec.compute.on_pods()
    if not steps:
        return []
    trainer = "or training.image " if spec.training.compute == "kubernetes" else ""
    found = [
        problem(
            ("compute", step),
            f"kubernetes needs an image: set compute.{step}.image {trainer}(an image with "
            "airflow-mlops-provider installed)",
        )
        for step in steps
        if not (getattr(spec.compute, step).image or spec.training.image)
    ]
    if spec.training.compute != "kubernetes":
        found += _remote_storage(spec, ("compute", steps[0]), "the step pod reads and writes")
        if set(steps) & set(MODEL_STEPS):
            found += _remote_mlflow(spec)
    remote = {
        "validation": (("data", "source"), spec.data.source),
        "evaluation": (("evaluation", "holdout"), spec.evaluation.holdout),
        "scoring": (("monitoring", "source"), spec.monitoring and spec.monitoring.source),
        "replay": (("canary", "replay", "source"), spec.canary.replay.source),
    }
    found += [
        problem(loc, f"compute.{step}: kubernetes reads this in a pod: put it on s3://")
        for step, (loc, where) in remote.items()
        if step in steps and where is not None and not where.startswith("s3://")
    ]
    return found


def replay_pod_has_a_replay(spec: PipelineSpec) -> Problems:
    """`compute.replay` places the local router's replay: without it there is nothing to
    place, and a setting that does nothing must not pass as if it did."""
    canary = spec.canary
    if spec.compute.replay.mode != "kubernetes" or (canary.enabled and canary.router == "local"):
        return []
    why = (
        "canary.enabled is false"
        if not canary.enabled
        else "canary.router is kserve (the serving system scores the traffic)"
    )
    return [
        problem(
            ("compute", "replay"),
            f"compute.replay places the local router's canary replay, but {why}; remove "
            "compute.replay, or use canary: {enabled: true, router: local}",
        )
    ]


def _remote_storage(spec: PipelineSpec, default_loc: Loc, why: str) -> Problems:
    if spec.storage.root.startswith("s3://"):
        return []
    written = "root" in spec.storage.model_fields_set
    return [
        problem(
            ("storage", "root") if written else default_loc,
            f"compute: kubernetes needs storage.root on s3:// ({why} there); storage.root "
            f"is {spec.storage.root!r}",
        )
    ]


def _remote_mlflow(spec: PipelineSpec) -> Problems:
    uri = spec.mlflow.tracking_uri
    if uri is None or uri.startswith(("http://", "https://", "databricks")):
        return []
    return [
        problem(
            ("mlflow", "tracking_uri"),
            "compute: kubernetes needs an MLflow server the pod can reach: write "
            "http(s)://... here, or remove it to use the connection",
        )
    ]


def fairness_fits(spec: PipelineSpec) -> Problems:
    """Fairness needs thresholded predictions and group columns the holdout carries."""
    fairness = spec.evaluation.fairness
    if fairness is None:
        return []
    if spec.data.task != BINARY_CLASSIFICATION:
        return [
            problem(
                ("evaluation", "fairness"),
                "evaluation.fairness applies to binary_classification (thresholded "
                "predictions); remove it for a regression model",
            )
        ]
    unknown = [c for c in fairness.group_columns if c not in spec.contract.columns]
    if not unknown:
        return []
    return [
        problem(
            ("evaluation", "fairness", "group_columns"),
            f"{unknown} must be contract columns; use {', '.join(spec.contract.columns)}",
        )
    ]


def drift_fits_features(spec: PipelineSpec) -> Problems:
    """Override names are declared features, and every feature's test fits its kind."""
    drift, features = spec.drift, spec.data.features
    found = [
        problem(
            ("drift", "features", name),
            f"{name!r} is not a declared feature; use one of {', '.join(features.all)}",
        )
        for name in sorted(set(drift.features) - set(features.all))
    ]
    for kind, names in ((NUMERIC, features.numeric), (CATEGORICAL, features.categorical)):
        for name in names:
            rule = drift.features.get(name)
            own = rule is not None and rule.test is not None
            test = rule.test if own else drift.test  # type: ignore[union-attr]
            reason = unfit_test_reason(kind, test)
            if reason is None:
                continue
            loc: Loc = ("drift", "features", name, "test") if own else ("drift", "test")
            if loc not in {tuple(f["loc"]) for f in found}:  # one error at drift.test is enough
                found.append(
                    problem(loc, f"{test} {reason} (feature {name!r}; or a per-feature override)")
                )
    return found


def metrics_fit_task(spec: PipelineSpec) -> Problems:
    """The gate and live performance name metrics the task has."""
    task = spec.data.task
    metrics = metrics_for_task(task)
    use = f"does not apply to {task}; use {', '.join(metrics)}"
    found = [
        problem(("evaluation", "metrics", name), f"{name} {use}")
        for name in spec.evaluation.metrics
        if name not in metrics
    ]
    performance = spec.monitoring.performance if spec.monitoring else None
    if performance is not None and performance.metric not in metrics:
        loc = ("monitoring", "performance", "metric")
        found.append(problem(loc, f"{performance.metric!r} {use}"))
    return found


def canary_metrics_are_measured(spec: PipelineSpec) -> Problems:
    """Every analysis metric is one the configured metric source can measure, and a metric
    from a Prometheus query says which way is better unless the vocabulary knows it."""
    canary = spec.canary
    if not canary.enabled:
        return []
    prometheus = canary.prometheus if canary.metric_source == "prometheus" else None
    if prometheus is not None:
        known = set(prometheus.queries)
        hint = " (or add a query under canary.prometheus.queries)"
    else:
        known = {*metrics_for_task(spec.data.task), *CANARY_BUILTIN_METRICS}
        hint = ""
    found: dict[str, InitErrorDetails] = {}  # one error per metric, at its first step
    for i, step in enumerate(canary.steps):
        for name, rule in (step.judged.metrics if step.judged else {}).items():
            loc = _canary_metric_loc(canary, i, step.kind, name)
            if name in found:
                continue
            if name not in known:
                found[name] = problem(
                    loc,
                    f"{name!r} is not measured by metric_source {canary.metric_source}; "
                    f"use {', '.join(sorted(known))}{hint}",
                )
            elif prometheus and rule.direction is None and not knows_direction(name):
                found[name] = problem(
                    loc,
                    f"{name!r} comes from a Prometheus query; say which way is better with "
                    "direction: higher or direction: lower",
                )
    return list(found.values())


def _canary_metric_loc(canary: CanarySpec, step: int, kind: str, name: str) -> Loc:
    """Where a step's metric is written: the `canary.analysis` template a step took it from
    (`- analysis: {}`, `- shadow: {}`), else the step itself."""
    template = canary.analysis.metrics if canary.analysis else {}
    if name in template:
        return ("canary", "analysis", "metrics", name)
    return ("canary", "steps", step, kind, "metrics", name)


def paths_stay_inside(spec: PipelineSpec) -> Problems:
    """No `..` in any path the pipeline reads, writes or runs, no empty path, and the batch
    marker is a name inside the batch. Relative paths resolve under the project; at run time
    Storage also confines absolute paths and symlinks to the allowed roots
    (adapters/storage.py)."""
    monitoring, canary = spec.monitoring, spec.canary
    paths: dict[Loc, str | None] = {
        ("data", "source"): spec.data.source,
        ("storage", "root"): spec.storage.root,
        ("monitoring", "source"): monitoring.source if monitoring else None,
        ("monitoring", "labels"): monitoring.labels if monitoring else None,
        ("evaluation", "holdout"): spec.evaluation.holdout,
        ("canary", "replay", "source"): canary.replay.source,
        ("canary", "inference_logs", "source"): (
            canary.inference_logs.source if canary.inference_logs else None
        ),
        ("mlflow", "tracking_uri"): _local_store(spec.mlflow.tracking_uri),
    }
    paths |= {("training", "command", i): part for i, part in enumerate(spec.training.command)}
    if spec.data.wait is not None:
        paths[("data", "wait", "marker")] = spec.data.wait.marker
    found = [
        _path_error(loc, value, marker=loc[-1] == "marker", command=loc[1] == "command")
        for loc, value in paths.items()
        if value is not None
    ]
    return [e for e in found if e is not None]


def _local_store(uri: str | None) -> str | None:
    """The file path of a local MLflow store (sqlite:///x.db, file:///x, a plain path)."""
    if uri is None or uri.startswith(("http://", "https://", "databricks")):
        return None
    return re.sub(r"^(sqlite|file):/*", "", uri) or uri


def _path_error(
    loc: Loc, value: str, *, marker: bool = False, command: bool = False
) -> InitErrorDetails | None:
    """The error for a path that could leave its root or is empty, placed at its field."""
    path = value.split("://", 1)[-1]
    if not value.strip() and not command:
        message = "an empty path would read the project folder itself; write the path"
    elif not value.strip():
        message = "an empty command argument; remove it"
    elif ".." in re.split(r"[/\\]", path):
        message = "'..' is not allowed in paths; write the path from the project folder down"
    elif marker and (path.startswith(("/", "\\")) or "://" in value):
        message = "the marker is a file name inside data.source, not a path or URI"
    else:
        return None
    return InitErrorDetails(type=PydanticCustomError("path_escape", message), loc=loc, input=value)


def prometheus_placeholders(spec: PipelineSpec) -> Problems:
    """A query may name `{{ version }}`, `{{ arm }}` and `{{ window }}`; any other `{{ x }}`
    would reach Prometheus as written (the platform fills only these)."""
    from airflow_mlops_provider.spec.canary import PROMQL_PLACEHOLDERS, PrometheusCounts

    prometheus = spec.canary.prometheus
    if prometheus is None:
        return []
    base = ("canary", "prometheus")
    queries: list[tuple[Loc, str]] = []
    for name, query in prometheus.queries.items():
        if isinstance(query, PrometheusCounts):
            for part in ("events", "requests"):
                queries.append(((*base, "queries", name, part), getattr(query, part)))
        else:
            queries.append(((*base, "queries", name), query))
    if prometheus.samples is not None:
        queries.append(((*base, "samples"), prometheus.samples))
    filled = ", ".join(f"{{{{ {p} }}}}" for p in PROMQL_PLACEHOLDERS)
    found = []
    for loc, query in queries:
        unknown = sorted(set(re.findall(r"\{\{\s*(.*?)\s*\}\}", query)) - set(PROMQL_PLACEHOLDERS))
        if unknown or "{%" in query:
            found.append(
                problem(
                    loc,
                    f"only {filled} are filled in a query; "
                    f"{', '.join(unknown) or '{% %}'} would reach Prometheus as written",
                )
            )
    return found


RULES: tuple[Callable[[PipelineSpec], Problems], ...] = (
    contract_covers_inputs,
    pod_reaches_its_inputs,
    step_pods_reach_their_inputs,
    replay_pod_has_a_replay,
    fairness_fits,
    drift_fits_features,
    metrics_fit_task,
    canary_metrics_are_measured,
    paths_stay_inside,
    prometheus_placeholders,
)
