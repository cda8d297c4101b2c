"""What GateApprovalOperator records for each answer, on a real MLflow store and audit log.

The approve/promote path runs end to end through a real Airflow in test_approval_rest.py;
here the other outcomes — a rejection, and a timeout resolved by the scheduler with the
configured default (no user) — are fed to `execute_complete` directly with the event shape
Airflow 3.3 sends (`HITLDetail.as_resume_event_payload`). Mocked: only the task-instance
context (a small stand-in recording XCom pushes); waiting hours for a real timeout is not an
option in a test.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from airflow_mlops_provider.spec import load_spec

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


class StandInTI:
    dag_id, run_id, task_id, map_index = "churn__training", "manual__1", "approve", -1

    def __init__(self, gate: dict) -> None:
        self.gate, self.pushed = gate, {}

    def xcom_pull(self, task_ids: str, key: str = "return_value") -> dict:
        assert (task_ids, key) == ("evaluate", "gate")
        return self.gate

    def xcom_push(self, key: str, value: object) -> None:
        self.pushed[key] = value


@pytest.fixture
def setup(tmp_path: Path):
    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.sdk import DAG

    from airflow_mlops_provider.adapters.mlflow_registry import client as registry_client
    from airflow_mlops_provider.operators.approval import GateApprovalOperator
    from airflow_mlops_provider.services.config import PipelineConfig

    state = tmp_path / "state"
    state.mkdir()
    spec = load_spec(ROOT / "dags" / "churn.yaml")  # approval.on_timeout: reject
    spec = spec.model_copy(update={"storage": spec.storage.model_copy(update={"root": str(state)})})
    client = registry_client(f"sqlite:///{state / 'mlflow.db'}")  # where the operator looks
    client.create_registered_model("churn")
    client.create_model_version("churn", source=str(tmp_path))
    with DAG("churn__training", schedule=None):
        approve = GateApprovalOperator(
            task_id="approve",
            pipeline=PipelineConfig.from_spec(spec, str(tmp_path)),
            approval=spec.approval,
            gate_task_id="evaluate",
        )
        approve >> EmptyOperator(task_id="canary_promote")
    gate = {"challenger": "1", "reasons": ["risk score 0.5"], "risk": {"score": 0.5}}
    return approve, StandInTI(gate), client, state / "pipelines" / "churn"


def event(choice: str, user: dict | None) -> dict:
    return {
        "chosen_options": [choice],
        "params_input": {},
        "responded_at": datetime(2026, 11, 23, tzinfo=UTC),
        "responded_by_user": user,
        "timedout": user is None,
    }


def audit_entries(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "audit.jsonl").read_text().splitlines()]


def test_rejection_names_the_person_and_skips_promotion(setup, monkeypatch) -> None:
    approve, ti, client, folder = setup
    skipped: list[str] = []
    monkeypatch.setattr(approve, "_set_state_to_skipped", lambda ids, _: skipped.extend(ids))
    approve.execute_complete(
        {"ti": ti, "task": approve}, event("Reject", {"id": "bob", "name": "bob"})
    )
    assert skipped == ["canary_promote"]
    tags = client.get_model_version("churn", "1").tags
    assert tags["mlops.approval"] == "rejected" and tags["mlops.rejected_by"] == "bob"
    assert tags["mlops.decision"] == "rejected" and "mlops.approved_by" not in tags
    (entry,) = audit_entries(folder)
    assert (entry["event"], entry["actor"], entry["details"]["timed_out"]) == (
        "rejected",
        "bob",
        False,
    )


def test_timeout_default_is_recorded_as_the_timeout(setup, monkeypatch) -> None:
    approve, ti, client, folder = setup
    monkeypatch.setattr(approve, "_set_state_to_skipped", lambda ids, _: None)
    assert approve.defaults == ["Reject"]  # approval.on_timeout: reject in the example
    answer = approve.execute_complete({"ti": ti, "task": approve}, event("Reject", None))
    assert (answer["decision"], answer["version"]) == ("rejected", "1")
    tags = client.get_model_version("churn", "1").tags
    assert tags["mlops.rejected_by"] == "timeout (approval.on_timeout=reject)"
    (entry,) = audit_entries(folder)
    assert entry["details"]["timed_out"] is True and entry["actor"].startswith("timeout")
