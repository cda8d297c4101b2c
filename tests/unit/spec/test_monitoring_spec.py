"""The monitoring block: labels, live-performance bound, health schedule — errors name the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_mlops_provider.spec import SpecError, load_spec

EXAMPLE = Path(__file__).resolve().parents[3] / "dags" / "churn.yaml"
PERFORMANCE = "performance: {metric: accuracy, min: 0.74, min_labelled_rows: 200}"


def load_with(tmp_path: Path, old: str, new: str):
    text = EXAMPLE.read_text()
    assert old in text, old
    path = tmp_path / "p.yaml"
    path.write_text(text.replace(old, new, 1))
    return load_spec(path)


def error_with(tmp_path: Path, old: str, new: str) -> str:
    with pytest.raises(SpecError) as info:
        load_with(tmp_path, old, new)
    return str(info.value)


def test_example_monitoring_block() -> None:
    monitoring = load_spec(EXAMPLE).monitoring
    assert monitoring.labels == "include/demo/data/labels/dt={{ ds }}"
    assert monitoring.performance.metric == "accuracy" and monitoring.performance.min == 0.74
    assert monitoring.id_column == "request_id" and monitoring.health_schedule == "@daily"


@pytest.mark.parametrize(
    ("new", "expected"),
    [
        (
            "performance: {metric: accuracy, min: 0.7, max: 0.9}",
            "give exactly one of min or max for accuracy",
        ),
        ("performance: {metric: rmse, max: 3}", "'rmse' does not apply to binary_classification"),
        ("performance: {metric: accuracy, min: 0.7, min_labelled_rows: 0}", "min_labelled_rows"),
        ("health_schedule: '@fortnightly'", "unknown preset '@fortnightly'"),
    ],
)
def test_bad_performance_settings(tmp_path: Path, new: str, expected: str) -> None:
    assert expected in error_with(tmp_path, PERFORMANCE, new)


def test_performance_needs_labels_and_labels_need_the_id_in_the_logs(tmp_path: Path) -> None:
    no_labels = error_with(tmp_path, "  labels: include/demo/data/labels/dt={{ ds }}", "")
    assert "monitoring.performance needs monitoring.labels" in no_labels
    no_id = error_with(tmp_path, PERFORMANCE, PERFORMANCE + "\n  id_column: req")
    assert "add it to monitoring.log_columns" in no_id
