"""Identical models on a small replay are NOT rolled back (issue 17's incident): the canary
has not enough evidence either way, pauses for a person (Airflow HITL) and resumes on the answer.

A real `dag.test()` run retrains the champion's exact model (the reference trainer is
deterministic) and replays the 800-row holdout: the sequential judge finds neither harm nor
enough evidence of non-inferiority, so `canary_promote` parks in Airflow 3.3's
`awaiting_input` state with nothing rolled back. A reviewer thread then answers
through the REST API's own handler, `update_hitl_detail` — called in-process with a
SimpleAuthManager user and a database session, because no API server runs in this test — and
the run resumes in `answered`, promotes, and records who decided.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from .airflow_helpers import aliases, load_dags, registry
from .test_canary import DAY, audit, make_project, rollout_state

pytestmark = pytest.mark.integration


def awaiting(dag_id: str, timeout: float = 600) -> object:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with create_session() as session:
            found = session.scalars(
                select(TaskInstance).where(
                    TaskInstance.dag_id == dag_id,
                    TaskInstance.task_id == "canary_promote",
                    TaskInstance.state == "awaiting_input",
                )
            ).first()
            if found is not None:
                return found.run_id
        time.sleep(1)
    raise AssertionError("canary_promote never waited for input")


def answer(dag_id: str, run_id: str, choice: str) -> dict:
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from airflow.api_fastapi.core_api.datamodels.hitl import UpdateHITLDetailPayload
    from airflow.api_fastapi.core_api.routes.public.hitl import update_hitl_detail
    from airflow.utils.session import create_session

    with create_session() as session:
        response = update_hitl_detail(
            dag_id=dag_id,
            dag_run_id=run_id,
            task_id="canary_promote",
            update_hitl_detail_payload=UpdateHITLDetailPayload(chosen_options=[choice]),
            user=SimpleAuthManagerUser(username="reviewer", role="admin"),
            session=session,
        )
        return response.model_dump()


@pytest.mark.timeout(900)
def test_identical_model_is_not_rolled_back_but_waits_for_a_person_then_promotes(
    tmp_path: Path, demo_data: Path, airflow_db: None
) -> None:
    project = make_project(tmp_path / "project", demo_data)
    dag = load_dags(project)["churn__training"]
    logical = datetime.fromisoformat(DAY).replace(tzinfo=UTC)
    assert str(dag.test(logical_date=logical).state) == "success"  # v1, cold start

    seen: dict = {}  # the same YAML, the same data: v2 is v1's exact model

    def person() -> None:
        """The reviewer, answering once the task waits (dag.test needs the main thread)."""
        try:
            run_id = awaiting("churn__training")
            state = rollout_state(project, "2")
            seen["paused"] = (state["phase"], state["reason"], state["measurements"])
            seen["champion_while_paused"] = aliases(registry(project))["champion"]
            seen["response"] = answer("churn__training", run_id, "promote")
        except BaseException as exc:  # reported by the main thread
            seen["error"] = exc

    reviewer = threading.Thread(target=person, daemon=True)
    reviewer.start()
    result = {"run": dag.test(logical_date=logical, run_conf={"force_retrain": True})}
    reviewer.join(timeout=60)
    assert "error" not in seen, seen.get("error")
    phase, reason, looks = seen["paused"]
    assert phase == "paused" and "has not enough evidence either way after 2" in reason, reason
    assert [m["decision"] for m in looks] == ["not enough evidence yet"] * 2
    assert all(c["verdict"] != "fail" for m in looks for c in m["checks"])
    assert seen["champion_while_paused"] == "1"
    events = [e["event"] for e in audit(project)]
    assert "canary_failed" not in events
    assert seen["response"]["chosen_options"] == ["promote"]
    assert str(result["run"].state) == "success"
    assert aliases(registry(project)) == {"champion": "2", "previous_champion": "1"}
    answered = [e for e in audit(project) if e["event"] == "canary_answered"]
    assert [(e["actor"], e["details"]["choice"]) for e in answered] == [("reviewer", "promote")]
    assert rollout_state(project, "2")["phase"] == "promoted"
