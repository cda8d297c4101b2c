"""`prometheus`: PromQL templates per arm, evaluated with the HTTP API `/api/v1/query`.

A template names the arm's series with `{{ version }}` (the model version serving the arm) and
`{{ arm }}` (`canary` or `champion`), e.g.
`histogram_quantile(0.95, sum by (le) (rate(request_seconds_bucket{version="{{ version }}"}[5m])))`.
Each query must return one sample (an instant vector of one series, or a scalar); none means
"no data yet" (NaN: the measurement is inconclusive), several is an error in the query.
Only the standard library talks HTTP here, so no client library is needed.
"""

from __future__ import annotations

import json
import math
import urllib.parse
import urllib.request
from typing import Any

from airflow_mlops_provider.adapters.metric_sources import ARMS
from airflow_mlops_provider.exceptions import MlopsError


class PrometheusQueryError(MlopsError):
    """Prometheus answered with an error, or the query's result is ambiguous."""


def render(template: str, *, version: str, arm: str) -> str:
    """Fill `{{ version }}` / `{{ arm }}` (spaces optional); label values, so no escaping games:
    versions and arms are the platform's own strings, not user input."""
    text = template
    for key, value in (("version", version), ("arm", arm)):
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
        self, names: list[str], *, challenger: str, champion: str, step: int
    ) -> tuple[dict[str, float], dict[str, float], dict[str, int]]:
        versions = {"canary": challenger, "champion": champion}
        metrics: dict[str, dict[str, float]] = {arm: {} for arm in ARMS}
        samples: dict[str, int] = {}
        s = self.settings
        for arm in ARMS:
            for name in names:
                promql = render(s.queries[name], version=versions[arm], arm=arm)
                metrics[arm][name] = query(self.base_url, promql, s.timeout_seconds)
            if s.samples:
                count = query(
                    self.base_url,
                    render(s.samples, version=versions[arm], arm=arm),
                    s.timeout_seconds,
                )
                samples[arm] = 0 if math.isnan(count) else int(count)
            else:
                samples[arm] = 2**31 - 1  # no sample query: only the metrics' presence counts
        return metrics["canary"], metrics["champion"], samples
