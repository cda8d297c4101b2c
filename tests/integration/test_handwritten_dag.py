"""The hand-written DAG of docs/operators.md (include/examples/handwritten_training.py): the
provider's operators without YAML, parsed by Airflow's DagBag and run with dag.test() on the
demo data, the reference trainer and a local MLflow store."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from .airflow_helpers import run

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path: Path, demo_data: Path) -> Path:
    """The example in a throwaway project laid out like the repository."""
    shutil.copytree(ROOT / "include" / "examples", tmp_path / "include" / "examples")
    shutil.copytree(ROOT / "include" / "trainer", tmp_path / "include" / "trainer")
    shutil.copytree(demo_data / "batches", tmp_path / "include" / "demo" / "data" / "batches")
    return tmp_path


def test_the_handwritten_dag_trains_and_promotes(
    project: Path, airflow_db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    from airflow_mlops_provider.adapters.mlflow_registry import Registry, Tracking

    examples = project / "include" / "examples"
    bundle = {  # dag.test() serializes the DAGs of the configured bundles: this folder's
        "name": "handwritten-examples",
        "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
        "kwargs": {"path": str(examples)},
    }
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps([bundle]))
    bag = DagBag(dag_folder=str(examples))
    assert not bag.import_errors, bag.import_errors
    dag = bag.dags["churn_by_hand__training"]

    states = run(dag, "2026-11-01")

    assert states == {
        "validate": "success",
        "drift": "success",
        "train": "success",
        "gate": "success",
        "promote": "success",
        "reject": "skipped",
        "no_drift": "skipped",
    }
    state = project / ".mlops"
    registry = Registry("churn_by_hand", Tracking(f"sqlite:///{state / 'mlflow.db'}"))
    assert registry.aliases() == {"champion": "1"}  # `challenger` dropped once promoted
    tags = registry.get_version("1").tags
    assert tags["mlops.decision"] == "promoted" and tags["mlops.gate"] == "promote"
    audit = state / "pipelines" / "churn_by_hand" / "audit.jsonl"
    events = [json.loads(line)["event"] for line in audit.read_text().splitlines()]
    assert events == ["validated", "drift_checked", "trained", "gated", "promoted"]
