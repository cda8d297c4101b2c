"""`prometheus` metric source against a REAL Prometheus (Debian's `prometheus` binary).

The test runs a small exporter (prometheus_client) on 127.0.0.1 that serves per-version
model metrics, starts Prometheus on a free port with a temporary config scraping it every
second, waits (bounded) for the first scrape, and then measures both canary arms through the
HTTP API exactly as a rollout does.
"""

from __future__ import annotations

import math
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from airflow_mlops_provider.adapters.metric_sources.prometheus import (
    PrometheusQueryError,
    PrometheusSource,
    query,
    render,
)
from airflow_mlops_provider.core import canary
from airflow_mlops_provider.spec import PrometheusSpec

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("prometheus") is None, reason="Debian package prometheus"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def prometheus_url(tmp_path_factory: pytest.TempPathFactory):
    from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

    registry = CollectorRegistry()
    auc = Gauge("model_auc", "live AUC per model version", ["version"], registry=registry)
    errors = Gauge("model_error_ratio", "failed requests share", ["version"], registry=registry)
    requests = Counter("model_requests", "requests served", ["version"], registry=registry)
    for version, value, err, served in (("1", 0.81, 0.001, 900), ("2", 0.74, 0.0, 100)):
        auc.labels(version).set(value)
        errors.labels(version).set(err)
        requests.labels(version).inc(served)
    exporter_port = free_port()
    server, thread = start_http_server(exporter_port, addr="127.0.0.1", registry=registry)

    folder = tmp_path_factory.mktemp("prometheus")
    config = folder / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        "  - job_name: model\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{exporter_port}']}}]\n"
    )
    port = free_port()
    process = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(folder / "prometheus.log").open("w"),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_scrape(url, process, folder / "prometheus.log")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        server.shutdown()


def wait_for_scrape(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()[-2000:]
        try:
            if query(url, 'model_auc{version="1"}', 2) == 0.81:
                return
        except OSError:
            pass  # not listening yet
        time.sleep(0.5)
    raise AssertionError("Prometheus did not scrape the exporter within 90 s")


def settings(**extra) -> PrometheusSpec:
    return PrometheusSpec.model_validate(
        {
            "url": "http://placeholder:9090",
            "queries": {
                "roc_auc": 'max(model_auc{version="{{ version }}"})',
                "error_rate": 'max(model_error_ratio{version="{{version}}"})',
            },
            "samples": 'sum(model_requests_total{version="{{ version }}"})',
            **extra,
        },
        strict=False,
    )


def test_measures_both_arms_from_real_prometheus(prometheus_url: str) -> None:
    source = PrometheusSource(prometheus_url, settings())
    canary_arm, champion_arm, samples = source.measure(
        ["roc_auc", "error_rate"], challenger="2", champion="1", step=1
    )
    assert canary_arm == {"roc_auc": 0.74, "error_rate": 0.0}
    assert champion_arm == {"roc_auc": 0.81, "error_rate": 0.001}
    assert samples == {"canary": 100, "champion": 900}

    rules = {
        "roc_auc": canary_rule(max_regression=0.02),
        "error_rate": canary_rule(max=0.01),
    }
    verdict = canary.judge(rules, canary_arm, champion_arm, samples, min_samples=50)
    assert verdict.status == canary.FAIL
    assert verdict.reasons == (
        "roc_auc 0.7400 is 0.0700 worse than the champion arm 0.8100; max_regression 0.02",
    )
    thin = canary.judge(rules, canary_arm, champion_arm, samples, min_samples=500)
    assert thin.status == canary.INCONCLUSIVE


def test_no_series_is_no_data_and_a_bad_query_is_an_error(prometheus_url: str) -> None:
    assert math.isnan(query(prometheus_url, 'model_auc{version="9"}', 5))
    with pytest.raises(PrometheusQueryError, match="aggregate it to one"):
        query(prometheus_url, "model_auc", 5)
    with pytest.raises(PrometheusQueryError, match="Prometheus rejected"):
        query(prometheus_url, "sum(", 5)
    assert render("x{arm='{{ arm }}',v='{{version}}'}", version="3", arm="canary") == (
        "x{arm='canary',v='3'}"
    )
    with urllib.request.urlopen(f"{prometheus_url}/-/ready", timeout=5) as ready:
        assert ready.status == 200


def canary_rule(**bounds):
    from airflow_mlops_provider.spec import CanaryMetricRule

    return CanaryMetricRule.model_validate(bounds, strict=False)
