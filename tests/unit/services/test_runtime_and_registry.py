"""The Runtime's audit and folder layout; the FakeRegistry stays in step with the Registry."""

from __future__ import annotations

import inspect
from pathlib import Path

from airflow_mlops_provider.adapters import mlflow_auth
from airflow_mlops_provider.adapters.mlflow_registry import Registry, Tracking
from airflow_mlops_provider.core.layout import safe_run_id


def test_fake_registry_matches(registry) -> None:
    """Every public Registry method exists on the stand-in with the same signature."""
    for name, method in inspect.getmembers(Registry, inspect.isfunction):
        if name.startswith("_"):
            continue
        fake = getattr(type(registry), name)
        assert inspect.signature(fake) == inspect.signature(method), name


def test_layout_puts_each_thing_in_its_folder(rt, tmp_path: Path) -> None:
    root = tmp_path / ".mlops" / "pipelines" / "churn"
    assert rt.layout.root == str(root)
    assert rt.task_folder("x.json") == str(
        root / "runs" / "churn__training" / "manual__2026-11-01T00_00_00_00_00" / "step" / "x.json"
    )
    assert rt.layout.quarantine(rt.task).endswith(
        "quarantine/churn__training/" + safe_run_id(rt.task.run_id)
    )
    assert rt.layout.snapshot("ab") == str(root / "snapshots" / "ab")
    assert rt.layout.monitoring_status == str(root / "monitoring" / "latest.json")


def test_audit_line_is_mirrored_on_the_version_it_is_about(rt, registry, audit) -> None:
    registry.add_version("3")
    rt.audit("rejected", {"version": "3", "reasons": ["worse"]}, actor="bob")
    rt.audit("validated", {"source": "s3://b/k", "rows": 5})  # about data: no tag
    first, second = audit(rt)
    assert (first["event"], first["actor"], first["task_id"]) == ("rejected", "bob", "step")
    assert second["details"] == {"source": "s3://b/k", "rows": 5}
    assert "mlops.audit.rejected" in registry.get_version("3").tags


def test_a_tag_that_cannot_be_written_leaves_the_audit_line(rt, audit, caplog) -> None:
    rt.audit("trained", {"version": "9"})  # no such version in the registry
    assert [line["event"] for line in audit(rt)] == ["trained"]
    assert "Audit tag mlops.audit.trained on version 9 not written" in caplog.text


def test_tracking_keeps_credentials_out_of_its_repr_and_uri() -> None:
    tracking = Tracking("https://mlflow", username="bot", password="pw")
    assert "pw" not in repr(tracking) and tracking.uri == "https://mlflow"
    assert tracking.authorization() == "Basic Ym90OnB3"
    assert Tracking("https://mlflow").authorization() is None


def test_authorization_header_only_inside_the_scope() -> None:
    provider = mlflow_auth.ScopedAuthHeaderProvider()
    assert not provider.in_context()
    with mlflow_auth.authorization("Bearer t"):
        assert provider.in_context() and provider.request_headers() == {"Authorization": "Bearer t"}
        with mlflow_auth.authorization("Bearer t"):  # nested Registry calls
            assert provider.in_context()
        assert provider.in_context()
    assert not provider.in_context() and provider.request_headers() == {}
    with mlflow_auth.authorization(None):  # no credentials: nothing is added
        assert not provider.in_context()


def test_registry_resolves_its_tracking_lazily() -> None:
    calls = []

    def resolve() -> Tracking:
        calls.append(1)
        return Tracking("sqlite:///x.db")

    registry = Registry("churn", resolve)
    assert calls == []  # building a Registry looks nothing up
    assert registry.tracking.uri == "sqlite:///x.db" and registry.tracking is registry.tracking
    assert calls == [1]


def test_mlflow_names_default_to_the_pipeline_in_the_spec_and_the_config() -> None:
    from airflow_mlops_provider.services.config import PipelineConfig
    from airflow_mlops_provider.spec import load_spec

    spec = load_spec(Path(__file__).parents[3] / "dags" / "churn.yaml")
    config = PipelineConfig.from_spec(spec, ".")
    assert (config.model_name, config.experiment_name) == ("churn", "churn")
    assert (spec.model_name, spec.experiment_name) == ("churn", "churn")
    named = PipelineConfig(pipeline="churn", project_dir=".", mlflow={"model_name": "m"})
    assert (named.model_name, named.experiment_name) == ("m", "churn")
