"""Canary metric sources: the analysis metrics of the canary arm and of the champion arm.

Each source answers `measure(names, challenger=..., champion=..., step=...)` with
`(canary_metrics, champion_metrics, samples_per_arm)`; a metric it cannot compute yet is NaN
(the analysis calls that measurement inconclusive, not failed).

- `replay`: the local router's scored replay of the current step (labelled rows → the YAML's
  model metrics; all rows → `latency_p95_ms`, `error_rate`).
- `inference_logs`: logged predictions of the serving system, per `model_version`.
- `prometheus`: PromQL templates evaluated per arm over the HTTP API.
"""

from __future__ import annotations

from typing import Any

ARMS = ("canary", "champion")


def by_version(
    frame: Any,
    names: list[str],
    versions: dict[str, str | None],
    *,
    version_column: str,
    **columns: Any,
) -> tuple[dict[str, float], dict[str, float], dict[str, int]]:
    """Split logged predictions by model version and compute each arm's metrics."""
    from airflow_mlops_provider.core.canary import arm_metrics

    metrics: dict[str, dict[str, float]] = {}
    samples: dict[str, int] = {}
    logged = frame[version_column].astype(str)
    for arm in ARMS:
        rows = frame[logged == str(versions[arm])]
        metrics[arm], samples[arm] = arm_metrics(rows, names, **columns)
    return metrics["canary"], metrics["champion"], samples
