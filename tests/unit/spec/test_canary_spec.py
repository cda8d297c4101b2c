"""The `canary:` block: Argo-style steps, and errors that name the field and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_mlops_provider.spec import SpecError, load_spec

EXAMPLE = Path(__file__).resolve().parents[3] / "dags" / "churn.yaml"


def with_canary(tmp_path: Path, block: str) -> Path:
    text = EXAMPLE.read_text()
    start = text.index("canary:\n")
    end = text.index("\nmonitoring:")
    path = tmp_path / "p.yaml"
    path.write_text(text[:start] + block.strip("\n") + "\n" + text[end:])
    return path


def problems(path: Path) -> list[tuple[str, str]]:
    with pytest.raises(SpecError) as info:
        load_spec(path)
    return [(p.path, p.message) for p in info.value.problems]


def test_example_canary_expands_the_analysis_template() -> None:
    canary = load_spec(EXAMPLE).canary
    assert canary.enabled and canary.router == "local" and canary.metric_source == "replay"
    kinds = [s.kind for s in canary.steps]
    assert kinds == ["set_weight", "analysis", "set_weight", "pause", "analysis"]
    analysis = canary.steps[1].analysis
    assert set(analysis.metrics) == {"roc_auc", "error_rate"} and analysis.interval_seconds == 1


def test_step_keys_override_the_template_and_durations_parse(tmp_path: Path) -> None:
    spec = load_spec(
        with_canary(
            tmp_path,
            """
canary:
  enabled: true
  analysis: {metrics: {roc_auc: {min: 0.6}}, interval: 5m, count: 2}
  steps:
    - set_weight: 10
    - pause: {duration: 1h}
    - analysis: {count: 4, interval: 500ms}
    - pause: {}
""",
        )
    )
    steps = spec.canary.steps
    assert steps[1].pause.seconds == 3600 and steps[3].pause.seconds is None
    assert steps[2].analysis.count == 4 and steps[2].analysis.interval_seconds == 0.5


@pytest.mark.parametrize(
    ("block", "path", "fix"),
    [
        (
            "canary: {enabled: true, steps: [{set_weight: 50}, {set_weight: 20}]}",
            "canary.steps[1].set_weight",
            "set_weight values must increase step by step; 20 follows 50",
        ),
        (
            "canary: {enabled: true, steps: [{set_weight: 10}, "
            "{analysis: {metrics: {recall_at_k: {min: 0.1}}}}]}",
            "canary.steps[1].analysis.metrics.recall_at_k",
            "'recall_at_k' is not measured by metric_source replay",
        ),
        (
            "canary: {enabled: true, router: kserve, metric_source: inference_logs, "
            "inference_logs: {source: logs/}, steps: [{set_weight: 10}]}",
            "canary.router",
            "router: kserve needs kserve: {namespace: ..., name: <InferenceService>}",
        ),
        (
            "canary: {enabled: true, router: kserve, kserve: {name: churn}, "
            "steps: [{set_weight: 10}]}",
            "canary.metric_source",
            "with router: kserve use inference_logs or prometheus",
        ),
        (
            "canary: {enabled: true, steps: [{analysis: {metrics: {roc_auc: {min: 0.5}}}}]}",
            "canary.steps[0].analysis",
            "put a {set_weight: N} step before it",
        ),
        (
            "canary: {enabled: true, analysis: {metrics: {roc_auc: {min: 0.5}}}, "
            "steps: [{set_weight: 10}, {shadow: {}}]}",
            "canary.steps[1].shadow",
            "a shadow step judges the challenger before any user sees it; put it before the "
            "first set_weight (steps[0])",
        ),
        (
            "canary: {enabled: true, metric_source: prometheus, steps: [{shadow: "
            "{metrics: {error_rate: {max: 0.3}}}}, {set_weight: 10}], "
            "prometheus: {url: 'http://127.0.0.1:9090', queries: {error_rate: "
            "{events: 'e', requests: 'r'}}}}",
            "canary.steps[0].shadow",
            "a shadow step compares both models on the same requests, which needs "
            "per-request predictions",
        ),
        (
            "canary: {enabled: true, steps: [{shadow: {metrics: {recall_at_k: {min: 0.1}}}}]}",
            "canary.steps[0].shadow.metrics.recall_at_k",
            "'recall_at_k' is not measured by metric_source replay",
        ),
        (
            "canary: {enabled: true, steps: [{set_weight: 10, pause: {}}]}",
            "canary.steps[0]",
            "a step is exactly one of",
        ),
        (
            "canary: {enabled: true, steps: [{pause: {duration: soon}}]}",
            "canary.steps[0].pause.duration",
            "'soon' is not a duration; write e.g. 30s, 5m, 1h or 500ms",
        ),
        ("canary: {enabled: true}", "canary.enabled", "canary.enabled needs steps"),
        (
            "canary: {enabled: true, metric_source: prometheus, steps: [{set_weight: 10}, "
            "{analysis: {metrics: {p99: {max: 0.3}}}}], "
            "prometheus: {url: 'http://127.0.0.1:9090', queries: {p99: 'x'}, samples: 'n'}}",
            "canary.steps[1].analysis.metrics.p99",
            "say which way is better with direction: higher or direction: lower",
        ),
        (
            "canary: {enabled: true, metric_source: prometheus, steps: [{set_weight: 10}, "
            "{analysis: {metrics: {error_rate: {max: 0.3}}}}], "
            "prometheus: {url: 'http://127.0.0.1:9090', queries: {error_rate: 'x'}}}",
            "canary.prometheus.samples",
            "give point values, which need the arm's request count: set samples",
        ),
        (
            "canary: {enabled: true, metric_source: prometheus, steps: [{set_weight: 10}, "
            "{analysis: {metrics: {error_rate: {max: 0.3}}}}], "
            "prometheus: {url: 'http://127.0.0.1:9090', queries: {error_rate: "
            "{events: 'e{v=\"{{ version }}\"}[{{ span }}]', requests: 'r'}}}}",
            "canary.prometheus.queries.error_rate.events",
            "only {{ version }}, {{ arm }}, {{ window }} are filled in a query; span would reach",
        ),
        (
            "canary: {enabled: true, steps: [{set_weight: 10}, "
            "{analysis: {metrics: {error_rate: {max: 0.3}}, min_samples: 100}}]}",
            "canary.steps[1].analysis.min_samples",
            "min_samples is gone: the sequential judge needs no fixed sample size",
        ),
        (
            "canary: {enabled: true, metric_source: prometheus, steps: [{set_weight: 10}], "
            "prometheus: {queries: {p99: 'x'}}}",
            "canary.prometheus",
            "give exactly one of url (http://host:9090) or url_connection",
        ),
    ],
)
def test_invalid_canary_names_the_field_and_the_fix(
    tmp_path: Path, block: str, path: str, fix: str
) -> None:
    found = problems(with_canary(tmp_path, block))
    assert any(p == path and fix in message for p, message in found), found


def test_shadow_step_takes_the_analysis_template_and_runs_before_any_weight(
    tmp_path: Path,
) -> None:
    spec = load_spec(
        with_canary(
            tmp_path,
            """
canary:
  enabled: true
  analysis: {metrics: {roc_auc: {max_regression: 0.02}}, interval: 5m, count: 2}
  steps:
    - shadow: {count: 6}
    - set_weight: 20
    - analysis: {}
""",
        )
    )
    shadow, _, analysis = spec.canary.steps
    assert [s.kind for s in spec.canary.steps] == ["shadow", "set_weight", "analysis"]
    assert shadow.shadow.count == 6 and analysis.analysis.count == 2
    assert set(shadow.judged.metrics) == {"roc_auc"} and shadow.shadow.interval_seconds == 300
    assert spec.canary.analysis_metrics() == {"roc_auc"}


def test_disabled_canary_keeps_direct_promotion(tmp_path: Path) -> None:
    spec = load_spec(with_canary(tmp_path, "canary: {enabled: false}"))
    assert not spec.canary.enabled and spec.canary.steps == []
