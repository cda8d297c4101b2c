"""A training DAG written by hand with the provider's operators — no YAML (docs/operators.md).

What the YAML factory passes to each operator is passed here explicitly:

- `pipeline`: the settings every step of the pipeline shares (`PipelineConfig`: its name, the
  project folder relative paths resolve under, storage root, MLflow, connections, Slack);
- the configuration blocks each step needs, as plain dicts with the YAML's keys — validated
  into the spec's block classes when this file is parsed, so a typo fails the parse with the
  field's name;
- the upstream task ids each step reads from XCom (`snapshot_task_id`, `train_task_id`, ...).

The YAML's cross-block rules (every feature described by the contract, metrics that fit the
task, ...) are not checked for hand-written blocks: `airflow-mlops validate` checks YAMLs.

Data: the demo's batches (`make demo`, or `python include/demo/generate.py --out
include/demo/data`); models: the reference trainer; MLflow: the `mlflow_default` connection,
or a local SQLite store under `.mlops/`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG

from airflow_mlops_provider.operators.drift import DriftBranchOperator
from airflow_mlops_provider.operators.evaluate import EvaluateOperator
from airflow_mlops_provider.operators.release import CanaryPromoteOperator, RejectOperator
from airflow_mlops_provider.operators.retrain import RetrainOperator
from airflow_mlops_provider.operators.validate import DataValidateOperator
from airflow_mlops_provider.services.config import PipelineConfig

PROJECT = Path(__file__).resolve().parents[2]  # include/examples/ → the project folder

pipeline = PipelineConfig(pipeline="churn_by_hand", project_dir=str(PROJECT))
data = {
    "source": "include/demo/data/batches/dt={{ ds }}",
    "target": "churned",
    "id_column": "customer_id",
    "features": {
        "numeric": ["tenure_months", "monthly_charges", "total_charges", "support_calls"],
        "categorical": ["contract", "payment_method", "internet_service"],
    },
    "split": {"time_column": "event_time", "holdout_fraction": 0.2},
}
contract = {
    "min_rows": 100,
    "columns": {
        "customer_id": {"type": "str", "unique": True},
        "event_time": {"type": "datetime"},
        "tenure_months": {"type": "int", "min": 0, "max": 72},
        "monthly_charges": {"type": "float", "min": 0, "max": 500},
        "total_charges": {"type": "float", "min": 0},
        "support_calls": {"type": "int", "min": 0, "max": 50},
        "contract": {"type": "str", "allowed": ["month-to-month", "one-year", "two-year"]},
        "payment_method": {"type": "str"},
        "internet_service": {"type": "str", "allowed": ["dsl", "fiber", "none"]},
        "churned": {"type": "int", "allowed": [0, 1]},
    },
}
evaluation = {
    "metrics": {"roc_auc": {"min": 0.6, "max_regression": 0.02}},
    "on_missing_champion": "promote",
}

with DAG(
    "churn_by_hand__training",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    tags=["mlops", "example"],
) as dag:
    validate = DataValidateOperator(
        task_id="validate",
        pipeline=pipeline,
        data=data,
        contract=contract,
        source=data["source"],
    )
    drift = DriftBranchOperator(
        task_id="drift",
        pipeline=pipeline,
        drift={"alpha": 0.01, "drift_share": 0.25},
        features=data["features"],
        current_task_id="validate",
        drift_branch="train",
        stable_branch="no_drift",
        no_champion_branch="train",
    )
    train = RetrainOperator(
        task_id="train",
        pipeline=pipeline,
        training={"command": ["python", "include/trainer/train.py"], "params": {"max_iter": 60}},
        data=data,
        snapshot_task_id="validate",
    )
    gate = EvaluateOperator(
        task_id="gate",
        pipeline=pipeline,
        data=data,
        evaluation=evaluation,
        approval={"mode": "never"},
        train_task_id="train",
        snapshot_task_id="validate",
        promote_branch="promote",
        reject_branch="reject",
    )
    promote = CanaryPromoteOperator(
        task_id="promote",
        pipeline=pipeline,
        canary={"enabled": False},  # straight to champion; see docs/operators.md for steps
        data=data,
        evaluation=evaluation,
        gate_task_id="gate",
        snapshot_task_id="validate",
    )
    reject = RejectOperator(task_id="reject", pipeline=pipeline, gate_task_id="gate")
    no_drift = EmptyOperator(task_id="no_drift")

    validate >> drift >> [train, no_drift]
    train >> gate >> [promote, reject]
