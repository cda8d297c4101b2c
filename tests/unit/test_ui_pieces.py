"""Small pieces of the UI work: report URLs, the run note, DAG docs, `make ui`'s port,
observed column statistics and the drift report's "what was compared"."""

from __future__ import annotations

import socket
from pathlib import Path

import pandas as pd

from airflow_mlops_provider.core.column_stats import describe_columns
from airflow_mlops_provider.core.contract import ValidationResult, render_validation_html
from airflow_mlops_provider.factory.docs import dag_docs
from airflow_mlops_provider.links import report_url
from airflow_mlops_provider.plugins.run_notes import MAX_NOTE, compose
from airflow_mlops_provider.services.training import mlflow_ui_base
from airflow_mlops_provider.spec import load_spec
from airflow_mlops_provider.ui_server import choose_port

ROOT = Path(__file__).resolve().parents[2]


def test_report_urls_point_to_the_plugin(monkeypatch) -> None:
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "http://airflow.example:8080/")
    uri = "s3://bucket/prod/pipelines/churn/runs/churn__training/manual__x/evaluate/gate.html"
    assert report_url("churn", uri) == (
        "http://airflow.example:8080/mlops/reports/churn/runs/churn__training/manual__x/"
        "evaluate/gate.html"
    )
    assert report_url("churn", "/elsewhere/gate.html") == ""  # the plugin would refuse it
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "")
    assert (
        report_url("churn", "/p/.mlops/pipelines/churn/a b.html")
        == "/mlops/reports/churn/a%20b.html"
    )


def test_mlflow_link_base_comes_from_configuration() -> None:
    assert mlflow_ui_base(None, "sqlite:////p/.mlops/mlflow.db") is None  # embedded: no link
    assert mlflow_ui_base(None, "https://mlflow.internal:443/") == "https://mlflow.internal:443"
    assert mlflow_ui_base("http://m/", "https://mlflow.internal:443") == "http://m"


def test_run_note_fits_and_keeps_lines_whole() -> None:
    note = compose(["data: rows 4000", "gate: decision promote, version 2"], "succeeded")
    assert note == (
        "**MLOps decision** (run succeeded)\n- data: rows 4000\n- gate: decision promote, version 2"
    )
    long = compose([f"line {i} " + "word " * 50 for i in range(20)], "failed")
    assert len(long) <= MAX_NOTE and long.endswith("more in the audit log")


def test_dag_docs_explain_the_tasks_and_end_with_the_yaml() -> None:
    spec = load_spec(ROOT / "dags" / "churn.yaml")
    docs = dag_docs(
        spec, ["training", "monitoring"], yaml_text="pipeline: churn\n", source_file="churn.yaml"
    )
    doc, monitoring = docs["training"], docs["monitoring"]
    assert doc.startswith("### churn: training")
    assert "- `evaluate`: scores challenger and champion" in doc
    assert "/plugin/mlops-pipelines#churn" in doc
    assert doc.rstrip().endswith("```yaml\npipeline: churn\n```")
    assert monitoring.startswith("### churn: monitoring")
    assert "- `decide`:" in monitoring and "`evaluate`" not in monitoring
    assert monitoring.rstrip().endswith("```yaml\npipeline: churn\n```")


def test_ui_port_is_8080_or_says_it_is_taken() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        chosen, message = choose_port(port)
        assert chosen is None and f"Port {port} is taken" in message
    chosen, message = choose_port(None)
    assert chosen is not None
    assert chosen == 8080 or "8080 is taken" in message


def test_validation_report_shows_observed_statistics() -> None:
    frame = pd.DataFrame({"tenure": [1.0, 5.0, None, 10.0], "plan": ["a", "b", "b", None]})
    stats = {c.column: c for c in describe_columns(frame, ["tenure", "plan", "absent"])}
    assert set(stats) == {"tenure", "plan"}
    assert (stats["tenure"].min, stats["tenure"].max, stats["tenure"].null_share) == (
        1.0,
        10.0,
        0.25,
    )
    assert stats["tenure"].mean == 16 / 3 and stats["plan"].distinct == 2
    result = ValidationResult(results=(), row_count=4, columns=tuple(stats.values()))
    html = render_validation_html(result, title="t", source="s")
    assert "Observed per column" in html and "25%" in html and "5.333" in html
    assert result.to_dict()["columns"][0]["column"] == "tenure"


def test_drift_report_names_what_it_compared() -> None:
    from airflow_mlops_provider.core.drift import compare_profile
    from airflow_mlops_provider.core.drift_html import render_html
    from airflow_mlops_provider.core.drift_profile import fit_profile

    reference = pd.DataFrame({"x": [float(i % 10) for i in range(200)]})
    profile = fit_profile(reference, numeric=["x"], categorical=[])
    report = compare_profile(profile, reference, test="psi")
    html = render_html(report, title="t", compared={"Current data": "s3://b/window.parquet"})
    assert "<dt>Current data</dt><dd>s3://b/window.parquet</dd>" in html
    assert ("<dt>Alpha</dt>" in html) == report.p_value_tests_ran  # only where tests ran


def test_provider_info_is_valid_and_declares_the_plugin_setting() -> None:
    """Airflow validates provider info against its schema; `[mlops] pipelines_folder` is
    declared, so `airflow config list` shows it with its default."""
    import json
    from importlib.resources import files

    import jsonschema

    from airflow_mlops_provider.get_provider_info import get_provider_info

    schema = json.loads(files("airflow").joinpath("provider_info.schema.json").read_text())
    info = get_provider_info()
    jsonschema.validate(info, schema)
    assert info["config"]["mlops"]["options"]["pipelines_folder"]["default"] == ""
