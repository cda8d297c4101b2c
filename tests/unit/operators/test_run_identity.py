"""Run identity in the operators: templates render from the run's batch in every run type,
wait_for_batch waits only in scheduled runs and yields to queued ones, and a requested run
that failed before training releases its request."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.sdk import Asset
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from airflow_mlops_provider.operators.retrain_request import ReleaseRetrainRequestOperator
from airflow_mlops_provider.operators.validate import DataValidateOperator
from airflow_mlops_provider.sensors.batch import BatchSensor
from airflow_mlops_provider.services import monitoring

from .conftest import FakeTI, make_context
from .test_operators import CONTRACT, DATA

CREATED = datetime(2026, 12, 1, 16, 30, tzinfo=UTC)


def run_context(run_type: str, *, logical: datetime | None, **extra: Any) -> dict[str, Any]:
    """A context as Airflow 3 gives it: asset-triggered runs have no logical date."""
    ti = FakeTI(task_id="validate_data")
    context = make_context(ti, logical_date=logical, **extra)
    context["dag_run"] = SimpleNamespace(
        dag_id=ti.dag_id, run_id=f"{run_type}__1", run_type=run_type, run_after=CREATED
    )
    return context


def request_events(*extras: dict[str, Any]) -> dict[Asset, list[SimpleNamespace]]:
    events = [
        SimpleNamespace(timestamp=datetime(2026, 11, 8, i, tzinfo=UTC), extra=extra)
        for i, extra in enumerate(extras)
    ]
    return {Asset("mlops://p/retrain-request"): events}


def rendered(pipeline, context: dict[str, Any], source: str = "b/dt={{ ds }}") -> str:
    op = DataValidateOperator(
        task_id="validate_data", pipeline=pipeline, data=DATA, contract=CONTRACT, source=source
    )
    op.render_template_fields(context)
    return op.source


def test_every_run_type_renders_its_batch(pipeline) -> None:
    logical = datetime(2026, 11, 1, tzinfo=UTC)
    assert rendered(pipeline, run_context("scheduled", logical=logical)) == "b/dt=2026-11-01"
    assert rendered(pipeline, run_context("backfill", logical=logical)) == "b/dt=2026-11-01"
    manual = run_context("manual", logical=CREATED, params={"batch": "2026-11-08"})
    assert rendered(pipeline, manual, "b/{{ batch }}/{{ ds_nodash }}") == "b/2026-11-08/20261108"
    requested = run_context(
        "asset_triggered",
        logical=None,
        triggering_asset_events=request_events({"batch": "2026-11-08", "source_run_id": "m"}),
    )
    assert rendered(pipeline, requested) == "b/dt=2026-11-08"
    no_date = run_context("manual", logical=None)  # a REST trigger without a logical date
    assert rendered(pipeline, no_date) == "b/dt=2026-12-01"


def test_a_template_or_batch_error_fails_without_retries(pipeline) -> None:
    context = run_context("scheduled", logical=CREATED)
    with pytest.raises(AirflowFailException, match=r"source cannot be rendered .*2026-12-01"):
        rendered(pipeline, context, "b/dt={{ no_such_value.day }}")
    bad = run_context("manual", logical=CREATED, params={"batch": "last week"})
    with pytest.raises(AirflowFailException, match="'last week' from the run's `batch` param"):
        rendered(pipeline, bad)


class Storage:
    def __init__(self, present: bool) -> None:
        self.present = present

    def join(self, *parts: str) -> str:
        return "/".join(parts)

    def exists(self, location: str) -> bool:
        return self.present


@pytest.fixture
def sensor(pipeline, monkeypatch: pytest.MonkeyPatch):
    from airflow_mlops_provider.hooks import storage

    def make(present: bool) -> BatchSensor:
        monkeypatch.setattr(storage.StorageHook, "storage", lambda self, p: Storage(present))
        return BatchSensor(
            task_id="wait_for_batch",
            pipeline=pipeline,
            wait={"marker": "_SUCCESS", "timeout_minutes": 360, "poke_minutes": 5},
            source="b/dt=2026-11-29",
        )

    return make


def queued_runs(context: dict[str, Any], count: int) -> list[dict[str, Any]]:
    asked: list[dict[str, Any]] = []

    def get_dr_count(**query: Any) -> int:
        asked.append(query)
        return count

    context["ti"].get_dr_count = get_dr_count
    return asked


def test_only_a_scheduled_run_waits_and_it_yields_to_queued_runs(sensor) -> None:
    scheduled = run_context("scheduled", logical=CREATED)
    asked = queued_runs(scheduled, 0)
    assert sensor(present=False).poke(scheduled) is False  # its batch may still be arriving
    assert asked == [{"dag_id": "p__training", "states": ["queued"]}]
    queued_runs(scheduled, 1)
    with pytest.raises(AirflowSkipException, match="1 queued run.*stops waiting"):
        sensor(present=False).poke(scheduled)
    assert sensor(present=True).poke(scheduled) is True


@pytest.mark.parametrize("run_type", ["manual", "asset_triggered", "backfill"])
def test_other_runs_fail_at_once_saying_how_to_name_a_batch(sensor, run_type) -> None:
    context = run_context(run_type, logical=None)
    with pytest.raises(
        AirflowFailException,
        match=rf"No batch at b/dt=2026-11-29/_SUCCESS: a {run_type} run does not wait"
        r'.*params \{"batch"',
    ):
        sensor(present=False).poke(context)


def test_a_requested_run_that_failed_before_training_releases_its_request(pipeline, calls) -> None:
    recorded = calls(monitoring, "release_requests", returns={"source_run_ids": ["m"]})
    released = Asset("mlops://p/retrain-request-released")
    op = ReleaseRetrainRequestOperator(
        task_id="release_retrain_request", pipeline=pipeline, outlets=[released]
    )
    context = run_context(
        "asset_triggered",
        logical=None,
        triggering_asset_events=request_events({"source_run_id": "m"}),
    )
    assert op.execute(context) == {"source_run_ids": ["m"]}
    assert recorded[0]["requests"] == [{"source_run_id": "m"}]
    assert context["outlet_events"][released].extra == {"source_run_ids": ["m"]}
    calls(monitoring, "release_requests", returns=None)
    with pytest.raises(AirflowSkipException, match="not started by a retrain request"):
        op.execute(run_context("manual", logical=CREATED))


def test_the_canary_renders_its_replay_and_log_sources_from_the_run_batch(pipeline) -> None:
    """canary_promote runs in asset-triggered training runs too: `dt={{ ds }}` names the batch
    of the retrain request, not a logical date those runs do not have."""
    from airflow_mlops_provider.operators.release import CanaryPromoteOperator

    op = CanaryPromoteOperator(
        task_id="canary_promote",
        pipeline=pipeline,
        canary={"enabled": True, "steps": [{"set_weight": 20}, {"pause": {}}]},
        data=DATA,
        evaluation={"metrics": {"roc_auc": {"min": 0.6}}},
        gate_task_id="evaluate",
        snapshot_task_id="validate_data",
        replay_source="replay/dt={{ ds }}",
        logs_source="logs/{{ batch }}",
    )
    requested = run_context(
        "asset_triggered",
        logical=None,
        triggering_asset_events=request_events({"batch": "2026-11-08", "source_run_id": "m"}),
    )
    op.render_template_fields(requested)
    assert (op.replay_source, op.logs_source) == ("replay/dt=2026-11-08", "logs/2026-11-08")
