"""The platform's words, defined once: metrics and their direction, the tasks they apply to,
drift tests and multiple-testing corrections, and the drift defaults.

The spec's Literal types derive from these tuples (so a YAML may only say what the core can
do) and the core judges with them (so "lower is better" cannot mean two things). Checks that
both the YAML validation and the core need live here too, once. No import beyond the standard
library: the spec reads this module at DAG parse time.
"""

from __future__ import annotations

from dataclasses import dataclass

# -- tasks and metrics -----------------------------------------------------------------------

BINARY_CLASSIFICATION, REGRESSION = "binary_classification", "regression"
TASKS = (BINARY_CLASSIFICATION, REGRESSION)
HIGHER, LOWER = "higher", "lower"
DIRECTIONS = (HIGHER, LOWER)


@dataclass(frozen=True)
class Metric:
    """A metric the platform computes itself: which way is better, and for which tasks."""

    name: str
    better: str  # HIGHER or LOWER
    tasks: tuple[str, ...]


MODEL_METRICS = {
    m.name: m
    for m in (
        Metric("roc_auc", HIGHER, (BINARY_CLASSIFICATION,)),
        Metric("accuracy", HIGHER, (BINARY_CLASSIFICATION,)),
        Metric("precision", HIGHER, (BINARY_CLASSIFICATION,)),
        Metric("recall", HIGHER, (BINARY_CLASSIFICATION,)),
        Metric("f1", HIGHER, (BINARY_CLASSIFICATION,)),
        Metric("log_loss", LOWER, (BINARY_CLASSIFICATION,)),
        Metric("rmse", LOWER, (REGRESSION,)),
        Metric("mae", LOWER, (REGRESSION,)),
        Metric("r2", HIGHER, (REGRESSION,)),
    )
}
# Measured on live or replayed traffic by every replay / inference-log source, any task.
TRAFFIC_METRICS = {
    m.name: m
    for m in (
        Metric("latency_p95_ms", LOWER, TASKS),
        Metric("error_rate", LOWER, TASKS),
    )
}
METRIC_NAMES = tuple(MODEL_METRICS)
CANARY_BUILTIN_METRICS = tuple(TRAFFIC_METRICS)
LOWER_IS_BETTER = frozenset(
    name for name, m in {**MODEL_METRICS, **TRAFFIC_METRICS}.items() if m.better == LOWER
)


METRICS_BY_TASK = {
    task: tuple(name for name, m in MODEL_METRICS.items() if task in m.tasks) for task in TASKS
}


def metrics_for_task(task: str) -> tuple[str, ...]:
    """The model metrics that apply to `task`, in the vocabulary's order."""
    return METRICS_BY_TASK[task]


def better_direction(name: str, declared: str | None = None) -> str:
    """`declared` when given (a Prometheus query says it), else the known metric's own;
    unknown metrics default to higher is better."""
    return declared or (LOWER if name in LOWER_IS_BETTER else HIGHER)


def knows_direction(name: str) -> bool:
    return name in MODEL_METRICS or name in TRAFFIC_METRICS


# -- drift ---------------------------------------------------------------------------------

NUMERIC, CATEGORICAL = "numeric", "categorical"
AUTO = "auto"
TESTS_BY_KIND = {
    NUMERIC: ("ks", "psi", "jensenshannon", "wasserstein"),
    CATEGORICAL: ("chi2", "psi", "jensenshannon", "linf"),
}
DRIFT_TESTS = (AUTO, "ks", "chi2", "psi", "jensenshannon", "wasserstein", "linf")
CORRECTIONS = ("bonferroni", "benjamini_hochberg", "none")
# The minimum effect of each test, and the minimum change of the share signals (missing:
# `missing_rate_change`); the YAML's `drift.min_effect` overrides entries (core/drift.py).
DEFAULT_MIN_EFFECT = {
    "ks": 0.025,
    "chi2": 0.05,
    "psi": 0.1,
    "jensenshannon": 0.1,
    "wasserstein": 0.1,
    "linf": 0.1,
    "nonfinite_share": 0.05,
    "unseen_share": 0.1,
}
DRIFT_EFFECTS = tuple(DEFAULT_MIN_EFFECT)


@dataclass(frozen=True)
class DriftDefaults:
    """The drift block's defaults; the spec's fields and `compare_profile` both read these."""

    test: str = AUTO
    alpha: float = 0.01
    correction: str = "bonferroni"
    drift_share: float = 0.25
    missing_rate_change: float = 0.05


DRIFT_DEFAULTS = DriftDefaults()


_NAMEABLE_TESTS = {kind: (AUTO, *tests) for kind, tests in TESTS_BY_KIND.items()}


def drift_tests_for(kind: str) -> tuple[str, ...]:
    """The tests a feature of `kind` may name, `auto` first."""
    return _NAMEABLE_TESTS[kind]


def unfit_test_reason(kind: str, test: str) -> str | None:
    """Why `test` cannot judge a `kind` feature ("does not apply to ..."), or None."""
    if test in drift_tests_for(kind):
        return None
    return f"does not apply to {kind} features; use {', '.join(drift_tests_for(kind))}"
