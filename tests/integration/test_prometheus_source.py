"""`prometheus` metric source against a REAL Prometheus (Debian's `prometheus` binary).

The test runs a small exporter (prometheus_client) on 127.0.0.1 that serves per-version
model metrics and request / failure counters, starts Prometheus on a free port with a
temporary config scraping it every second, waits (bounded) for the first scrape, and then
measures both canary arms through the HTTP API exactly as a rollout does, and judges them
with the sequential judge: counters give evidence, a plain query only a point value.
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
from airflow_mlops_provider.core import canary, canary_judge
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
    failed = Counter("model_failed", "requests failed", ["version"], registry=registry)
    for version, value, err, served, failures in (
        ("1", 0.81, 0.001, 9000, 9),  # the champion
        ("2", 0.74, 0.06, 1000, 60),  # a canary failing 6% of its requests
        ("3", 0.80, 0.001, 1000, 1),  # a healthy canary
    ):
        auc.labels(version).set(value)
        errors.labels(version).set(err)
        requests.labels(version).inc(served)
        failed.labels(version).inc(failures)
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


SERVED = 'sum(max_over_time(model_requests_total{version="{{version}}"}[{{ window }}]))'
COUNTED = {
    "events": 'sum(model_failed_total{version="{{ version }}"})',
    "requests": 'sum(model_requests_total{version="{{ version }}"})',
}


def settings(**extra) -> PrometheusSpec:
    return PrometheusSpec.model_validate(
        {
            "url": "http://placeholder:9090",
            "queries": {
                "roc_auc": 'max(model_auc{version="{{ version }}"})',
                "error_rate": COUNTED,
            },
            "samples": SERVED,
            **extra,
        },
        strict=False,
    )


def measure(url: str, challenger: str) -> tuple[dict, dict]:
    source = PrometheusSource(url, settings())
    return source.measure(
        ["roc_auc", "error_rate"], challenger=challenger, champion="1", step=1, window_seconds=60
    )


def test_counters_give_evidence_a_plain_query_only_a_point(prometheus_url: str) -> None:
    canary_arm, champion_arm = measure(prometheus_url, "2")
    # a plain query: the value, no variance, requests from `samples` over {{ window }}
    assert (canary_arm["roc_auc"].value, canary_arm["roc_auc"].variance) == (0.74, None)
    assert (canary_arm["roc_auc"].n, champion_arm["roc_auc"].n) == (1000, 9000)
    # counters: a share with its binomial variance
    assert canary_arm["error_rate"].value == pytest.approx(0.06)
    assert champion_arm["error_rate"].value == pytest.approx(0.001)
    assert 0 < canary_arm["error_rate"].variance < 1e-4

    rules = {
        "roc_auc": canary_rule(max_regression=0.02),
        "error_rate": canary_rule(max=0.01),
    }
    failing = canary_judge.judge(rules, canary_arm, champion_arm, alpha=0.01)
    assert failing.status == canary.FAIL and failing.decision == "evidence of harm"
    assert failing.reasons == (failing.reasons[0],) and failing.reasons[0].startswith(
        "error_rate value 0.0600 (sequence 0.0"
    )
    point = next(c for c in failing.checks if c["metric"] == "roc_auc")
    assert point["verdict"] == canary.INCONCLUSIVE  # 0.07 worse as a point: not evidence
    assert "no evidence of harm" in point["reason"]

    healthy = canary_judge.judge(
        {"error_rate": canary_rule(max=0.01)}, *measure(prometheus_url, "3"), alpha=0.01
    )
    assert healthy.status == canary.PASS, healthy.reasons
    assert healthy.samples == {"canary": 1000, "champion": 9000}


def test_no_requests_yet_is_no_data(prometheus_url: str) -> None:
    canary_arm, _ = measure(prometheus_url, "9")  # a version Prometheus has never seen
    assert math.isnan(canary_arm["error_rate"].value) and canary_arm["error_rate"].n == 0
    assert canary_arm["roc_auc"].n == 0


def test_no_series_is_no_data_and_a_bad_query_is_an_error(prometheus_url: str) -> None:
    assert math.isnan(query(prometheus_url, 'model_auc{version="9"}', 5))
    with pytest.raises(PrometheusQueryError, match="aggregate it to one"):
        query(prometheus_url, "model_auc", 5)
    with pytest.raises(PrometheusQueryError, match="Prometheus rejected"):
        query(prometheus_url, "sum(", 5)
    filled = render("x{arm='{{ arm }}',v='{{version}}'}[{{ window }}]", version="3",
                    arm="canary", window="61s")  # fmt: skip
    assert filled == "x{arm='canary',v='3'}[61s]"
    with urllib.request.urlopen(f"{prometheus_url}/-/ready", timeout=5) as ready:
        assert ready.status == 200


def canary_rule(**bounds):
    from airflow_mlops_provider.spec import CanaryMetricRule

    return CanaryMetricRule.model_validate(bounds, strict=False)
