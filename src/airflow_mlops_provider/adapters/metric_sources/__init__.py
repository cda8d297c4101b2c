"""Canary metric sources: the analysis metrics of the canary arm and of the champion arm.

Each source answers `measure(names, challenger=..., champion=..., step=..., window_seconds=...)`
with `(canary_estimates, champion_estimates)`: per metric an `ArmEstimate` — the value, the
variance of that value and the requests it rests on — which the sequential judge
(core/canary_judge.py) needs to tell evidence from noise. A metric it cannot compute yet has
a NaN value (the analysis calls that measurement inconclusive, not failed). `window_seconds`
is how long the current analysis step's traffic has been flowing.

- `replay`: the local router's scored replay of the current step (labelled rows → the YAML's
  model metrics; all rows → `latency_p95_ms`, `error_rate`), per request.
- `inference_logs`: logged predictions of the serving system, per `model_version`, per request.
- `prometheus`: PromQL per arm over the HTTP API — counters (events out of requests) give a
  share with its variance; a plain query gives a point value.

A shadow step asks `shadow(names, challenger=..., champion=..., step=...)` instead:
`(challenger_estimates, champion_estimates, covariance)` on the requests the champion served
and the challenger scored in shadow (`shadow_pair`); `replay` and `inference_logs` answer it,
`prometheus` cannot (no per-request pairs; the spec refuses the combination).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_mlops_provider.core.estimates import ArmEstimate

ARMS = ("canary", "champion")
#: The challenger's columns in a shadowed request's row (local replay; inference_logs default).
SHADOW_COLUMNS = {
    "prediction": "shadow_prediction",
    "latency": "shadow_latency_ms",
    "error": "shadow_error",
}


def by_version(
    frame: Any,
    names: list[str],
    versions: dict[str, str | None],
    *,
    version_column: str,
    **columns: Any,
) -> tuple[dict[str, ArmEstimate], dict[str, ArmEstimate]]:
    """Split logged predictions by model version and estimate each arm's metrics."""
    from airflow_mlops_provider.core.canary_judge import arm_metrics

    logged = frame[version_column].astype(str)
    canary, champion = (
        arm_metrics(frame[logged == str(versions[arm])], names, **columns) for arm in ARMS
    )
    return canary, champion


def shadow_pair(
    frame: Any,
    names: list[str],
    versions: dict[str, str | None],
    *,
    version_column: str,
    shadow_version_column: str | None,
    label: str | None,
    served: dict[str, str | None],
    shadow: dict[str, str | None],
    threshold: float,
) -> tuple[dict[str, ArmEstimate], dict[str, ArmEstimate], dict[str, float]]:
    """The requests the champion served and the challenger scored in shadow, both models'
    metrics with their covariance (core/canary_judge.shadow_metrics). Without a shadow
    version column, every row with a shadow prediction (or shadow error) is the challenger's."""
    from airflow_mlops_provider.core.canary_judge import shadow_metrics

    rows = frame[frame[version_column].astype(str) == str(versions["champion"])]
    if shadow_version_column:
        rows = rows[rows[shadow_version_column].astype(str) == str(versions["canary"])]
    else:
        scored = rows[shadow["prediction"]].notna()
        if shadow.get("error") and shadow["error"] in rows:
            scored |= rows[shadow["error"]].fillna(False).astype(bool)
        rows = rows[scored]
    return shadow_metrics(
        rows, names, label=label, challenger=shadow, champion=served, threshold=threshold
    )
