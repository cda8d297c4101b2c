"""Shared helpers for the integration tests: parse a dags folder, run a DAG, read MLflow."""

from __future__ import annotations

import logging
import os
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


def task_test(dag, task_id: str, day: str, map_index: int = -1) -> str:
    """`airflow tasks test DAG TASK DAY` in this process: one task instance of the existing
    DAG run of `day` executed again — the path a cleared task takes — without the ~20 s of a
    new `airflow` process per call. Returns the task instance's new state."""
    from airflow.cli.cli_parser import get_parser
    from airflow.cli.commands.task_command import task_test as airflow_tasks_test
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    argv = ["tasks", "test", dag.dag_id, task_id, day, "--map-index", str(map_index)]
    # The command sets both for its process; later tests in this one run as before.
    test_mode = os.environ.get("AIRFLOW_TEST_MODE")
    task_logger = logging.getLogger("airflow.task")
    propagate = task_logger.propagate
    try:
        airflow_tasks_test(get_parser().parse_args(argv), dag=dag)
    finally:
        task_logger.propagate = propagate
        if test_mode is None:
            os.environ.pop("AIRFLOW_TEST_MODE", None)
        else:
            os.environ["AIRFLOW_TEST_MODE"] = test_mode
    logical = datetime.fromisoformat(day).replace(tzinfo=UTC)
    query = (
        select(TaskInstance.state)
        .join(TaskInstance.dag_run)
        .where(
            TaskInstance.dag_id == dag.dag_id,
            TaskInstance.task_id == task_id,
            TaskInstance.map_index == map_index,
            DagRun.logical_date == logical,
        )
    )
    with create_session() as session:
        return str(session.scalars(query).one())
