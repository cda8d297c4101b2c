"""Each operator: context and XCom in, one service call, results and Airflow's exceptions out."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import (
    AirflowFailException,
    AirflowSkipException,
    TaskAwaitingInput,
    TaskDeferred,
)

from airflow_mlops_provider.core.attempts import Attempt
from airflow_mlops_provider.operators.drift import DriftBranchOperator
from airflow_mlops_provider.operators.evaluate import EvaluateOperator
from airflow_mlops_provider.operators.monitoring import (
    CollectWindowOperator,
    LivePerformanceOperator,
    MonitoringDecisionOperator,
    NotifyOperator,
    RequestRetrainingOperator,
)
from airflow_mlops_provider.operators.release import CanaryPromoteOperator, RollbackOperator
from airflow_mlops_provider.operators.retrain import RetrainOperator
from airflow_mlops_provider.operators.run_note import NOTE_KEY
from airflow_mlops_provider.operators.validate import BatchRejected, DataValidateOperator
from airflow_mlops_provider.services import (
    drift,
    evaluation,
    monitoring,
    release,
    summary,
    training,
    validation,
)
from airflow_mlops_provider.spec import DataSpec

from .conftest import FakeTI, make_context

DATA = {
    "source": "lake/dt={{ ds }}",
    "target": "y",
    "features": {"numeric": ["x"]},
    "split": {"time_column": "t"},
}
CONTRACT = {"columns": {"x": {"type": "float"}, "y": {"type": "int"}, "t": {"type": "datetime"}}}
MONITORING = {"source": "logs/dt={{ ds }}", "labels": "labels/dt={{ ds }}"}
EVALUATION = {"metrics": {"roc_auc": {"min": 0.6}}}
SNAPSHOT = {"snapshot_id": "s1", "rows": 8, "train_uri": "/t", "holdout_uri": "/h"}


def validate_op(pipeline, **kwargs) -> DataValidateOperator:
    return DataValidateOperator(
        task_id="validate_data", pipeline=pipeline, data=DATA, contract=CONTRACT, **kwargs
    )


def test_dict_blocks_are_validated_when_the_dag_is_parsed(pipeline) -> None:
    op = validate_op(pipeline, source="lake")
    assert isinstance(op.data, DataSpec) and op.data.split.holdout_fraction == 0.2
    with pytest.raises(ValueError, match="target"):
        DataValidateOperator(
            task_id="v", pipeline=pipeline, data={"source": "x"}, contract=CONTRACT, source="x"
        )
    with pytest.raises(ValueError, match="needs window_task_id and monitoring"):
        validate_op(pipeline, purpose="serving")


def test_validation_returns_the_snapshot_and_tags_the_asset_event(pipeline, calls) -> None:
    from airflow.sdk import Asset

    recorded = calls(
        validation, "validate_batch", returns=validation.Snapshot(dict(SNAPSHOT), "r.html")
    )
    op = validate_op(pipeline, source="lake/dt=1", outlets=[Asset("mlops://p/validated-batch")])
    context = make_context(FakeTI(task_id="validate_data"))
    result = op.execute(context)
    assert result == {**SNAPSHOT, "report": "r.html"}
    assert recorded[0]["source"] == "lake/dt=1" and recorded[0]["now"] == context["logical_date"]
    assert recorded[0]["rt"].task.task_id == "validate_data"
    (event,) = context["outlet_events"].values()
    assert event.extra == SNAPSHOT


def test_a_rejected_batch_fails_without_retries(pipeline, calls) -> None:
    calls(
        validation,
        "validate_batch",
        raises=validation.DataRejected(
            "batch x failed", decision="Batch x rejected: 1 check failed"
        ),
    )
    ti = FakeTI()
    with pytest.raises(BatchRejected, match="batch x failed") as caught:
        validate_op(pipeline, source="lake").execute(make_context(ti))
    assert isinstance(caught.value, AirflowFailException)  # Airflow skips the retries
    assert ti.pushed[NOTE_KEY] == ["Batch x rejected: 1 check failed"]  # the DAG run's note


def test_serving_validation_reads_the_window_from_xcom(pipeline, calls) -> None:
    recorded = calls(
        validation, "validate_window", returns=validation.ValidatedWindow("/w", 3, "r")
    )
    op = validate_op(pipeline, purpose="serving", window_task_id="collect", monitoring=MONITORING)
    ti = FakeTI({("collect", "return_value"): {"window_uri": "/w"}})
    assert op.execute(make_context(ti)) == {"window_uri": "/w", "rows": 3, "report": "r"}
    assert recorded[0]["window_uri"] == "/w" and recorded[0]["target"] == "y"


def drift_op(pipeline) -> DriftBranchOperator:
    return DriftBranchOperator(
        task_id="detect_drift",
        pipeline=pipeline,
        drift={"drift_share": 0.5},
        features={"numeric": ["x"]},
        current_task_id="validate_data",
        drift_branch="retrain",
        stable_branch="skip",
        no_champion_branch="retrain",
    )


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"params": {"force_retrain": True}}, "force_retrain param set"),
        (
            {"triggering_asset_events": {"a": [SimpleNamespace(extra={"reason": "decay"})]}},
            "retrain-request from monitoring: decay",
        ),
        ({}, None),
    ],
)
def test_drift_branch_passes_the_batch_and_why_it_may_be_forced(
    pipeline, calls, extra, reason
) -> None:
    decision = drift.DriftDecision("retrain", "drift in x", {"dataset_drift": True})
    recorded = calls(drift, "check_drift", returns=decision)
    ti = FakeTI({("validate_data", "return_value"): {"train_uri": "/snap/train.parquet"}})
    assert drift_op(pipeline).choose_branch(make_context(ti, **extra)) == "retrain"
    call = recorded[0]
    assert call["current_uri"] == "/snap/train.parquet" and call["forced_reason"] == reason
    assert call["drift"].drift_share == 0.5  # the YAML key drift.drift_share, as a block
    assert call["routes"] == drift.DriftRoutes("retrain", "skip", "retrain")
    assert ti.pushed["drift"] == {
        "branch": "retrain",
        "reason": "drift in x",
        "dataset_drift": True,
    }


def test_retrain_picks_the_trainer_and_remembers_the_lineage(pipeline, calls) -> None:
    trained = training.TrainedModel("r1", "3", "models:/p/3", "s1", True, "/profile.json")
    recorded = calls(training, "train_and_register", returns=trained)
    op = RetrainOperator(
        task_id="retrain",
        pipeline=pipeline,
        training={"timeout_minutes": 2},
        data=DATA,
        snapshot_task_id="validate_data",
    )
    ti = FakeTI({("validate_data", "return_value"): SNAPSHOT})
    assert op.execute(make_context(ti)) == trained.to_xcom()
    call = recorded[0]
    assert call["snapshot"] == SNAPSHOT and call["experiment"] == "p"
    assert type(call["trainer"]).__name__ == "LocalTrainer" and call["trainer"].timeout_s == 120
    assert call["attempt"] == Attempt(try_number=2, first_try=1)  # a retry, not a clear
    assert op._lineage[0]["train_uri"] == "/t"  # for the OpenLineage facets


def pod_retrain_op(pipeline) -> RetrainOperator:
    return RetrainOperator(
        task_id="retrain",
        pipeline=pipeline,
        training={"compute": "kubernetes", "image": "trainer:1"},
        data=DATA,
        snapshot_task_id="validate_data",
    )


def test_retrain_in_a_pod_defers_to_execute_complete(pipeline, calls, monkeypatch) -> None:
    """The pod operator (replaced here: its own path runs in tests/integration/
    test_pod_training.py) defers; the retrain task defers instead, to its own re-entry."""
    from airflow_mlops_provider.execution import kubernetes

    start = training.TrainingStart("r1", "new", {"mlops.pipeline": "p"}, {"MLFLOW_RUN_ID": "r1"})
    calls(training, "start_training", returns=start)
    trigger = SimpleNamespace(name="the provider's pod trigger")

    class Pod:
        pod = None

        def execute_async(self, context) -> None:
            raise TaskDeferred(trigger=trigger, method_name="trigger_reentry")

    pod = Pod()
    built = calls(kubernetes, "training_pod", returns=pod)
    ti = FakeTI({("validate_data", "return_value"): SNAPSHOT})
    with pytest.raises(TaskDeferred) as deferred:
        pod_retrain_op(pipeline).execute(make_context(ti))
    assert deferred.value.trigger is trigger and deferred.value.method_name == "execute_complete"
    assert built[0]["run_id"] == "r1" and built[0]["env"] == {"MLFLOW_RUN_ID": "r1"}
    # what execute_complete needs comes back in the trigger's event (provider's trigger_kwargs)
    carried = {  # not the environment: the event is stored in Airflow's database
        "start": {"run_id": "r1", "action": "new", "lineage": {"mlops.pipeline": "p"}},
        "snapshot": SNAPSHOT,
    }
    assert pod.trigger_kwargs == {"mlops_training": carried}


def test_retrain_in_a_pod_with_nothing_to_train_registers_without_a_pod(
    pipeline, calls, monkeypatch
) -> None:
    """No pod is started: the pod operator is only built to find (and delete) a succeeded
    pod the earlier try left behind."""
    from types import SimpleNamespace

    from airflow_mlops_provider.execution import kubernetes
    from airflow_mlops_provider.operators import pods

    start = training.TrainingStart("r1", "reuse", {}, {})
    calls(training, "start_training", returns=start)
    trained = training.TrainedModel("r1", "3", "models:/p/3", "s1", False, "/profile.json")
    finished = calls(training, "finish_training", returns=trained)
    pod = SimpleNamespace(execute_async=lambda context: pytest.fail("a pod was started"))
    calls(kubernetes, "training_pod", returns=pod)
    looked: list = []
    monkeypatch.setattr(pods, "delete_leftover_pod", lambda op, context: looked.append(op))
    ti = FakeTI({("validate_data", "return_value"): SNAPSHOT})
    assert pod_retrain_op(pipeline).execute(make_context(ti)) == trained.to_xcom()
    assert looked == [pod]
    assert finished[0]["args"] == (start,) and finished[0]["digest"] is None


def evaluate_op(pipeline, approval_branch=None) -> EvaluateOperator:
    return EvaluateOperator(
        task_id="evaluate",
        pipeline=pipeline,
        data=DATA,
        evaluation=EVALUATION,
        approval={"mode": "risk"},
        train_task_id="retrain",
        snapshot_task_id="validate_data",
        promote_branch="canary_promote",
        reject_branch="reject",
        approval_branch=approval_branch,
    )


@pytest.mark.parametrize(
    ("decision", "branch"),
    [("promote", "canary_promote"), ("reject", "reject"), ("approval", "approve")],
)
def test_evaluate_branches_on_the_gate(pipeline, calls, decision, branch) -> None:
    recorded = calls(
        evaluation, "evaluate_challenger", returns=evaluation.GateResult({"decision": decision})
    )
    trained = {"version": "2", "run_id": "r", "model_uri": "m"}
    ti = FakeTI({("retrain", "return_value"): trained, ("validate_data", "return_value"): SNAPSHOT})
    assert evaluate_op(pipeline, "approve").choose_branch(make_context(ti)) == branch
    assert recorded[0]["challenger"] == trained and recorded[0]["holdout_uri"] == "/h"
    assert ti.pushed["gate"] == {"decision": decision}


def test_a_gate_asking_for_a_person_without_an_approval_task_fails(pipeline, calls) -> None:
    calls(
        evaluation, "evaluate_challenger", returns=evaluation.GateResult({"decision": "approval"})
    )
    ti = FakeTI({("retrain", "return_value"): {}, ("validate_data", "return_value"): SNAPSHOT})
    with pytest.raises(ValueError, match="no approval task"):
        evaluate_op(pipeline).choose_branch(make_context(ti))


def canary_op(pipeline) -> CanaryPromoteOperator:
    return CanaryPromoteOperator(
        task_id="canary_promote",
        pipeline=pipeline,
        canary={"enabled": True, "steps": [{"set_weight": 20}, {"pause": {}}]},
        data=DATA,
        evaluation=EVALUATION,
        gate_task_id="evaluate",
        snapshot_task_id="validate_data",
    )


GATE = {"challenger": "2", "champion": "1", "decision": "promote"}


def canary_ti() -> FakeTI:
    return FakeTI(
        {
            ("retrain", "return_value"): {"version": "3"},  # never read: the gate's is released
            ("evaluate", "gate"): GATE,
            ("validate_data", "return_value"): SNAPSHOT,
        }
    )


def test_canary_passes_the_gate_result_and_defers_its_waits(pipeline, calls) -> None:
    recorded = calls(release, "release", returns=release.ReleaseStep(release.WAIT, until=2e9))
    with pytest.raises(TaskDeferred) as deferred:
        canary_op(pipeline).execute(make_context(canary_ti()))
    assert deferred.value.method_name == "resume"
    assert recorded[0]["gate"] == GATE
    plan = recorded[0]["args"][0]
    assert plan.sources.holdout_uri == "/h" and plan.threshold == 0.5


def test_a_paused_canary_waits_for_a_person(pipeline, calls, monkeypatch) -> None:
    import airflow.sdk.execution_time.hitl as hitl

    asked: list[dict] = []
    monkeypatch.setattr(hitl, "upsert_hitl_detail", lambda **kwargs: asked.append(kwargs))
    step = release.ReleaseStep(release.PAUSE, subject="paused", body="why")
    calls(release, "release", returns=step)
    with pytest.raises(TaskAwaitingInput):
        canary_op(pipeline).execute(make_context(canary_ti()))
    assert asked[0]["subject"] == "paused" and asked[0]["options"] == release.PAUSE_OPTIONS

    answered = calls(release, "answer_pause", returns=release.ReleaseStep(release.DONE, {"ok": 1}))
    event = {"chosen_options": ["promote"], "responded_by_user": {"id": "u1", "name": "alice"}}
    assert canary_op(pipeline).answered(make_context(canary_ti()), event) == {"ok": 1}
    assert (answered[0]["choice"], answered[0]["actor"]) == ("promote", "alice")


def test_a_rolled_back_canary_fails_without_retries(pipeline, calls) -> None:
    calls(
        release,
        "release",
        raises=release.RolloutFailed(
            "rolled back: error_rate", decision="Canary of v2 rolled back: error_rate"
        ),
    )
    ti = canary_ti()
    with pytest.raises(AirflowFailException, match="rolled back: error_rate"):
        canary_op(pipeline).execute(make_context(ti))
    assert ti.pushed[NOTE_KEY] == ["Canary of v2 rolled back: error_rate"]


def test_a_refused_release_fails_without_retries(pipeline, calls) -> None:
    calls(release, "release", raises=release.ReleaseRefused("version 3 has not been gated"))
    with pytest.raises(AirflowFailException, match="version 3 has not been gated"):
        canary_op(pipeline).execute(make_context(canary_ti()))


def test_rollback_takes_the_version_param(pipeline, calls) -> None:
    recorded = calls(release, "rollback", returns={"champion": "1", "changed": True})
    op = RollbackOperator(task_id="rollback", pipeline=pipeline, canary={"enabled": False})
    ti = FakeTI()
    op.execute(make_context(ti, params={"version": 1}))
    assert (
        recorded[0]["version"] == "1" and recorded[0]["kubernetes_conn_id"] == "kubernetes_default"
    )
    assert ti.pushed[NOTE_KEY] == ["Champion is v1 (moved)"]  # the DAG run's note


def test_collect_window_renders_every_day_and_skips_an_empty_window(pipeline, calls) -> None:
    empty = monitoring.Window(None, 0, [], ["a"], skipped="no inference logs in this window")
    recorded = calls(monitoring, "collect_window", returns=empty)
    op = CollectWindowOperator(
        task_id="collect_window",
        pipeline=pipeline,
        monitoring=MONITORING,
        features={"numeric": ["x"]},
        source="logs/dt={{ ds }}",
        cron="0 0 */2 * *",  # every other day: two daily partitions per run
    )
    day = datetime(2026, 11, 3, tzinfo=UTC)  # the period (11-01, 11-03]
    with pytest.raises(AirflowSkipException, match="nothing to monitor"):
        op.execute(make_context(FakeTI(task_id="collect_window"), logical_date=day))
    locations = recorded[0]["locations"]
    assert [loc.rsplit("/", 1)[-1] for loc in locations] == ["dt=2026-11-02", "dt=2026-11-03"]
    assert recorded[0]["window"] == "2026-11-03 00:00:00+00:00"


def test_live_performance_pushes_its_summary_even_when_skipped(pipeline, calls) -> None:
    summary_ = {"status": "not_assessed", "reason": "no labels yet at /l"}
    calls(monitoring, "live_performance", returns=monitoring.Performance(summary_))
    op = LivePerformanceOperator(
        task_id="live_performance",
        pipeline=pipeline,
        monitoring=MONITORING,
        data=DATA,
        evaluation=EVALUATION,
        labels="labels/dt=1",
        window_task_id="collect_window",
    )
    ti = FakeTI({("collect_window", "return_value"): {"window_uri": "/w"}})
    with pytest.raises(AirflowSkipException, match="no labels yet"):
        op.execute(make_context(ti))
    assert ti.pushed["performance"] == summary_


def test_decide_reads_both_inputs_and_the_retrain_requests(pipeline, calls) -> None:
    from airflow.sdk import Asset

    decision = monitoring.MonitoringDecision(
        {"branch": "alert", "status": "cooldown", "reason": "drift in tenure"}
    )
    recorded = calls(monitoring, "decide", returns=decision)
    asset = Asset("mlops://p/retrain-request")
    op = MonitoringDecisionOperator(
        task_id="decide",
        pipeline=pipeline,
        monitoring=MONITORING,
        drift_task_id="detect_drift",
        performance_task_id="live_performance",
        retrain_branch=["request_retraining", "alert"],
        alert_branch="alert",
        healthy_branch="healthy",
        inlets=[asset],
    )
    released = Asset("mlops://p/retrain-request-released")
    op.inlets.append(released)
    seen: list[str] = []

    class Events:  # the inlet event accessor's query, as Airflow 3 offers it
        def __init__(self, *events: SimpleNamespace) -> None:
            self.events = events

        def after(self, since: str) -> tuple[SimpleNamespace, ...]:
            seen.append(since)
            return self.events

    requests = Events(
        SimpleNamespace(timestamp="2026-11-01T03:00:00+00:00", extra={"source_run_id": "m1"}),
        SimpleNamespace(timestamp="2026-11-01T05:00:00+00:00", extra={"source_run_id": "m2"}),
    )
    releases = Events(SimpleNamespace(timestamp="x", extra={"source_run_ids": ["m2"]}))

    ti = FakeTI(
        {
            ("detect_drift", "drift"): {"dataset_drift": True},
            ("live_performance", "performance"): {},
        }
    )
    context = make_context(ti, inlet_events={asset: requests, released: releases})
    assert op.choose_branch(context) == "alert"
    call = recorded[0]
    assert call["drift"] == {"dataset_drift": True} and call["performance"] == {}
    since = datetime(2026, 11, 1, tzinfo=UTC)
    assert call["requested_since"](since) == "2026-11-01T03:00:00+00:00"
    assert seen == [since.isoformat()] * 2 and ti.pushed["decision"] == decision.decision
    assert ti.pushed[NOTE_KEY] == ["Monitoring: cooldown — drift in tenure"]


def test_retrain_request_goes_on_the_asset_event(pipeline, calls) -> None:
    from airflow.sdk import Asset

    recorded = calls(monitoring, "request_retraining", returns={"reason": "drift in x"})
    op = RequestRetrainingOperator(
        task_id="request_retraining",
        pipeline=pipeline,
        decision_task_id="decide",
        outlets=[Asset("mlops://p/retrain-request")],
    )
    context = make_context(FakeTI({("decide", "decision"): {"reason": "drift in x"}}))
    op.execute(context)
    (event,) = context["outlet_events"].values()
    assert event.extra == {"reason": "drift in x"}
    assert recorded[0]["batch"] == "2026-11-01"  # the judged window's day


def test_notify_collects_each_result_named_in_summary_from(pipeline, calls) -> None:
    text = "Training — p (manual__1)\n• data: rows 4000"
    recorded = calls(summary, "send_summary", returns={"status": "logged", "text": text})
    op = NotifyOperator(
        task_id="notify",
        pipeline=pipeline,
        headline="Training",
        summary_from={"data": "validate_data", "gate": "evaluate:gate", "approval": "approve"},
    )
    ti = FakeTI({("validate_data", "return_value"): SNAPSHOT, ("evaluate", "gate"): {"d": 1}})
    pulled: list[str] = []
    pull = ti.xcom_pull
    ti.xcom_pull = lambda task_ids, key="return_value": (
        pulled.append(task_ids) or pull(task_ids, key)
    )
    states = {"validate_data": "success", "evaluate": "success", "approve": "skipped"}
    ti.get_task_states = lambda dag_id, run_ids, task_ids: {ti.run_id: states}
    op.execute(make_context(ti))
    assert recorded[0]["results"] == {"data": SNAPSHOT, "gate": {"d": 1}, "approval": None}
    assert ti.pushed[NOTE_KEY] == ["• data: rows 4000"]  # the run's note: below the headline
    assert pulled == ["validate_data", "evaluate"]  # a skipped task's XCom is not asked for
