"""Shared helpers for the integration tests: parse a dags folder, run a DAG, read MLflow."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path


def load_dags(project: Path) -> dict:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(project / "dags"))
    assert not bag.import_errors, bag.import_errors
    return bag.dags


def run(dag, day: str, conf: dict | None = None) -> dict[str, str]:
    """dag.test() one logical date; return {task_id: state}."""
    logical = datetime.fromisoformat(day).replace(tzinfo=UTC)
    dag_run = dag.test(logical_date=logical, run_conf=conf)
    states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
    assert str(dag_run.state) == "success", states
    return states


def registry(project: Path):
    from airflow_mlops_provider.adapters import mlflow_registry

    return mlflow_registry.client(f"sqlite:///{project / '.mlops' / 'mlflow.db'}")


def aliases(client) -> dict[str, str]:
    model = client.get_registered_model("churn")
    return {alias: str(version) for alias, version in model.aliases.items()}
