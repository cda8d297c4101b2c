"""`prometheus`: PromQL templates per arm, evaluated with the HTTP API `/api/v1/query`.

A template names the arm's series with `{{ version }}` (the model version serving the arm),
`{{ arm }}` (`canary` or `champion`) and `{{ window }}` (how long the analysis step's traffic
has been flowing, e.g. `300s`, for `increase(...[{{ window }}])`).

The sequential judge needs each metric's uncertainty, so a metric is best given as counters:
`{events: PromQL, requests: PromQL}` — e.g. failed requests (an error counter) or requests
slower than a histogram bucket (`_count` minus `_bucket{le="0.5"}`) out of all requests
(`_count`) — a share with its binomial variance. A plain query (a ratio of rates, a
`histogram_quantile`, a `_sum / _count` mean) is a point value without variance: the judge
compares it as a point once the `samples` query counts 30 requests per arm, and says so.

Each query must return one sample (an instant vector of one series, or a scalar); none means
"no data yet" (NaN: the measurement is inconclusive), several is an error in the query.
Only the standard library talks HTTP here, so no client library is needed.
"""

from __future__ import annotations

import json
import math
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING, Any

from airflow_mlops_provider.adapters.metric_sources import ARMS
from airflow_mlops_provider.exceptions import MlopsError
from airflow_mlops_provider.spec.canary import PROMQL_PLACEHOLDERS

if TYPE_CHECKING:
    from airflow_mlops_provider.core.estimates import ArmEstimate


class PrometheusQueryError(MlopsError):
    """Prometheus answered with an error, or the query's result is ambiguous."""


def render(template: str, **values: str) -> str:
    """Fill `{{ version }}`, `{{ arm }}`, `{{ window }}` (spaces optional); no escaping games:
    versions, arms and windows are the platform's own strings, not user input."""
    text = template
    for key in PROMQL_PLACEHOLDERS:
        value = values[key]
        for spelling in (f"{{{{ {key} }}}}", f"{{{{{key}}}}}"):
            text = text.replace(spelling, str(value))
    return text


def query(base_url: str, promql: str, timeout: float) -> float:
    """One instant query → its single value (NaN when there is no data yet)."""
    url = f"{base_url.rstrip('/')}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            body = json.load(response)
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")[:300]
        raise PrometheusQueryError(f"Prometheus rejected {promql!r}: {detail}") from None
    if body.get("status") != "success":
        raise PrometheusQueryError(f"Prometheus query {promql!r} failed: {body.get('error')}")
    data = body["data"]
    if data["resultType"] == "scalar":
        return float(data["result"][1])
    result = data["result"]
    if not result:
        return math.nan
    if len(result) > 1:
        raise PrometheusQueryError(
            f"{promql!r} returned {len(result)} series; aggregate it to one (sum, max, ...)"
        )
    return float(result[0]["value"][1])


class PrometheusSource:
    def __init__(self, base_url: str, settings: Any):
        self.base_url = base_url
        self.settings = settings

    def measure(
        self, names: list[str], *, challenger: str, champion: str, step: int, window_seconds: float
    ) -> tuple[dict[str, ArmEstimate], dict[str, ArmEstimate]]:
        versions = {"canary": challenger, "champion": champion}
        window = f"{max(1, math.ceil(window_seconds))}s"
        canary, champion_arm = (
            self._arm(names, version=versions[arm], arm=arm, window=window) for arm in ARMS
        )
        return canary, champion_arm

    def _arm(self, names: list[str], **placeholders: str) -> dict[str, ArmEstimate]:
        from airflow_mlops_provider.core.estimates import ArmEstimate

        s = self.settings

        def ask(template: str) -> float:
            return query(self.base_url, render(template, **placeholders), s.timeout_seconds)

        found: dict[str, ArmEstimate] = {}
        requests = _count(ask(s.samples)) if s.samples else 0
        for name in names:
            promql = s.queries[name]
            if isinstance(promql, str):
                found[name] = ArmEstimate(ask(promql), None, requests)
            else:
                found[name] = share(ask(promql.events), ask(promql.requests))
        return found


def share(events: float, requests: float) -> ArmEstimate:
    """`events` out of `requests` (counter increases may be fractional: Prometheus
    extrapolates `increase` to the window's edges) as a share with its variance."""
    from airflow_mlops_provider.core.estimates import ArmEstimate, proportion_estimate

    n = _count(requests)
    if n == 0 or math.isnan(events):
        return ArmEstimate(math.nan, None, n)
    return proportion_estimate(min(max(events, 0.0), n), n)


def _count(value: float) -> int:
    return 0 if math.isnan(value) else max(int(round(value)), 0)
