"""Validation, drift and evaluation with `compute: kubernetes`: the task defers while the
step runs in a pod, and goes on exactly as after the same step in the worker.

No Kubernetes cluster runs here, so the Kubernetes API is a stand-in (kube_standin.py: the
provider's sync client and its async hook's calls, answered from memory, with each pod's
container — `airflow-mlops run-step ...` — run as a local process with the pod's environment;
this process's environment stands in for the Secrets `secret_env` names). Everything else is
real: the operators, the pods built from `StepPod` (execution/kubernetes.py), the provider's
KubernetesPodOperator and its KubernetesPodTrigger (serialised and rebuilt as the triggerer
does), the run-step command, S3 through moto's server (validation), the MLflow store and the
reference trainer (drift and evaluation).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException, TaskDeferred

from airflow_mlops_provider.adapters.mlflow_registry import CHAMPION, Registry
from airflow_mlops_provider.adapters.storage import Storage, s3_client
from airflow_mlops_provider.exceptions import MlopsError
from airflow_mlops_provider.hooks.mlflow import MlflowHook
from airflow_mlops_provider.operators.drift import DriftBranchOperator
from airflow_mlops_provider.operators.evaluate import EvaluateOperator
from airflow_mlops_provider.operators.retrain import RetrainOperator
from airflow_mlops_provider.operators.validate import DataValidateOperator
from airflow_mlops_provider.services.config import PipelineConfig
from airflow_mlops_provider.spec import StepPod, load_spec

from .kube_standin import StandInCluster, install, run_container, sleep_for
from .pod_task import TI, StateStore, trigger_event

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
POD = StepPod(image="registry.example.com/ml/airflow-mlops:1.0")
DAY = datetime(2026, 11, 1, tzinfo=UTC)


def context(dag_run: str, task_id: str, xcoms: dict, try_number: int = 1, store=None) -> dict:
    """A task's context as far as these operators and the pod operator read it."""
    ti = TI(
        dag_id="churn__training",
        run_id=dag_run,
        task_id=task_id,
        map_index=-1,
        try_number=try_number,
        max_tries=2,
        xcoms=xcoms,
        pushed={},
    )
    return {
        "ti": ti,
        "run_id": dag_run,
        "dag": SimpleNamespace(dag_id=ti.dag_id),
        "task": SimpleNamespace(retries=2),
        "task_state_store": StateStore() if store is None else store,
        "params": {},
        "data_interval_start": DAY,
        "data_interval_end": DAY,
        "outlet_events": {},
    }


def start(op: Any, ctx: dict) -> TaskDeferred:
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(ctx)
    assert deferred.value.method_name == "execute_complete" and not deferred.value.kwargs
    return deferred.value


def resume(op: Any, ctx: dict, deferred: TaskDeferred) -> Any:
    """The task resumed on a worker: the event as stored (JSON), the operator's re-entry."""
    event = json.loads(json.dumps(trigger_event(deferred)))
    return op.execute_complete(ctx, event=event)


# -- validation on S3 --------------------------------------------------------------------------


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch, demo_data: Path):
    """A moto S3 server holding one batch; the worker reaches it through the aws_default
    connection, the pods through boto3's credential chain (AWS_* variables here, which a pod
    gets from `secret_env` or its service account)."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    extra = {"endpoint_url": endpoint, "region_name": "us-east-1"}
    conn = {"conn_type": "aws", "login": "test", "password": "test", "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(conn))
    for name, value in (
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_DEFAULT_REGION", "us-east-1"),
    ):
        monkeypatch.setenv(name, value)
    client = s3_client(aws_access_key_id="test", aws_secret_access_key="test", **extra)
    client.create_bucket(Bucket="lake")
    client.create_bucket(Bucket="mlops")
    batch = demo_data / "batches" / "dt=2026-11-01"
    for file in sorted(batch.rglob("*")):
        if file.is_file():
            key = f"churn/dt=2026-11-01/{file.relative_to(batch)}"
            client.put_object(Bucket="lake", Key=key, Body=file.read_bytes())
    yield client
    server.stop()


def validator(tmp_path: Path, pod: StepPod | None, source: str) -> DataValidateOperator:
    spec = load_spec(ROOT / "dags" / "churn.yaml")
    contract = spec.contract.model_copy(update={"min_rows": 100})
    return DataValidateOperator(
        task_id="validate_data",
        pipeline=PipelineConfig(
            pipeline="churn", project_dir=str(tmp_path), storage={"root": "s3://mlops/root"}
        ),
        data=spec.data,
        contract=contract,
        source=source,
        pod=pod,
    )


def test_validation_in_a_pod_gives_what_the_worker_gives(
    s3, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cluster = install(monkeypatch, StandInCluster(run_container()))
    source = "s3://lake/churn/dt=2026-11-01"
    local_ctx = context("manual__1", "validate_data", {})
    local = validator(tmp_path, None, source).execute(local_ctx)
    assert cluster.created == []  # local: in the worker

    ctx = context("manual__1", "validate_data", {})
    deferred = start(validator(tmp_path, POD, source), ctx)
    (pod_name,) = cluster.created
    assert pod_name.startswith("churn-validation-") and deferred.trigger.pod_name == pod_name
    on_pod = resume(validator(tmp_path, POD, source), ctx, deferred)

    assert on_pod == local  # the same snapshot manifest and report
    assert ctx["ti"].pushed["validation_report"] == local_ctx["ti"].pushed["validation_report"]
    assert cluster.deleted == [pod_name]  # succeeded: deleted
    body = cluster.bodies[pod_name]["spec"]["containers"][0]
    request = body["args"][-1]
    assert body["args"][:3] == ["run-step", "validation", "--request"]
    assert request.startswith("s3://mlops/root/pipelines/churn/runs/") and request.endswith(
        "/validate_data/pod/1/request.json"
    )
    assert "MLFLOW_TRACKING_URI" not in {e["name"] for e in body["env"]}  # no registry needed


def test_a_batch_rejected_in_a_pod_fails_the_task_as_in_the_worker(
    s3, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A missing batch is the step's answer, not a crash: the pod succeeds, the task fails at
    once (no retries), with the same message as in the worker."""
    cluster = install(monkeypatch, StandInCluster(run_container()))
    missing = "s3://lake/churn/dt=1999-01-01"
    with pytest.raises(AirflowFailException) as in_worker:
        validator(tmp_path, None, missing).execute(context("manual__2", "validate_data", {}))
    ctx = context("manual__2", "validate_data", {})
    deferred = start(validator(tmp_path, POD, missing), ctx)
    with pytest.raises(AirflowFailException) as in_pod:
        resume(validator(tmp_path, POD, missing), ctx, deferred)
    assert type(in_pod.value) is type(in_worker.value)
    assert str(in_pod.value) == str(in_worker.value)
    assert cluster.deleted == cluster.created  # the pod did its job: deleted


def test_a_retry_reuses_the_outcome_of_the_pod_its_try_left_and_deletes_the_pod(
    s3, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The pod validated the batch, then the worker died before the task resumed: the retry
    does not validate again (no second audit line) and removes the succeeded pod."""
    cluster = install(monkeypatch, StandInCluster(run_container()))
    source = "s3://lake/churn/dt=2026-11-01"
    store = StateStore()
    first = start(
        validator(tmp_path, POD, source), context("manual__3", "validate_data", {}, 1, store)
    )
    trigger_event(first)  # the pod ended; nothing resumed the task
    (pod_name,) = cluster.created
    retry = context("manual__3", "validate_data", {}, 2, store)
    result = validator(tmp_path, POD, source).execute(retry)
    assert result["snapshot_id"] and cluster.created == [pod_name]
    assert cluster.deleted == [pod_name]
    audit = Storage(tmp_path, s3_client=lambda: s3).read_lines(
        "s3://mlops/root/pipelines/churn/audit.jsonl"
    )
    lines = [json.loads(line) for line in audit]
    assert [line["event"] for line in lines if line["run_id"] == "manual__3"] == ["validated"]


def test_a_new_try_reattaches_to_the_pod_its_earlier_try_left_running(
    s3, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The worker died while the validation pod ran: the next try finds the pod Running (the
    stand-in holds its container until the gate file exists), watches it instead of starting
    a second one (the provider's durable reattach, through the task state store), and goes on
    with the outcome that pod stores."""
    gate = tmp_path / "gate"
    cluster = install(monkeypatch, StandInCluster(run_container(gate)))
    source = "s3://lake/churn/dt=2026-11-01"
    local = validator(tmp_path, None, source).execute(context("manual__r1", "validate_data", {}))
    store = StateStore()
    start(validator(tmp_path, POD, source), context("manual__r2", "validate_data", {}, 1, store))
    (pod_name,) = cluster.created
    assert cluster.running() == [pod_name]  # the try ended; its pod did not

    retry = context("manual__r2", "validate_data", {}, 2, store)
    deferred = start(validator(tmp_path, POD, source), retry)
    assert cluster.created == [pod_name] and deferred.trigger.pod_name == pod_name
    gate.touch()  # the pod's work goes on and ends
    result = resume(validator(tmp_path, POD, source), retry, deferred)

    assert result["snapshot_id"] == local["snapshot_id"]
    audit = Storage(tmp_path, s3_client=lambda: s3).read_lines(
        "s3://mlops/root/pipelines/churn/audit.jsonl"
    )
    events = [json.loads(line) for line in audit]
    assert [e["event"] for e in events if e["run_id"] == "manual__r2"] == ["validated"]  # once
    assert cluster.created == [pod_name] and cluster.deleted == [pod_name]


def test_a_failed_pod_fails_the_task_in_one_line_and_stays(
    s3, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cluster = install(monkeypatch, StandInCluster(sleep_for(0.2, exit_code=3)))
    ctx = context("manual__4", "validate_data", {})
    source = "s3://lake/churn/dt=2026-11-01"
    deferred = start(validator(tmp_path, POD, source), ctx)
    with pytest.raises(MlopsError) as failed:
        resume(validator(tmp_path, POD, source), ctx, deferred)
    (pod_name,) = cluster.created
    message = str(failed.value)
    assert "\n" not in message
    assert message.startswith(f"validation pod default/{pod_name} failed (exit code 3, Error)")
    assert message.endswith("a retry runs the step again")
    assert cluster.deleted == [] and cluster.pods_by_name[pod_name].labels["already_checked"]


def test_killing_the_task_deletes_the_step_pod(
    s3, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cluster = install(monkeypatch, StandInCluster(sleep_for(60)))
    op = validator(tmp_path, POD, "s3://lake/churn/dt=2026-11-01")
    start(op, context("manual__5", "validate_data", {}))
    assert len(cluster.running()) == 1
    op.on_kill()
    assert cluster.deleted == cluster.created and cluster.running() == []


# -- drift and evaluation: a trained model in the MLflow store ---------------------------------


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, demo_data: Path) -> SimpleNamespace:
    """A project with one trained, registered model (the reference trainer, in the worker)
    and the validated snapshot it was trained on; local storage and MLflow store, which the
    stand-in pods share with this machine."""
    import shutil

    project = tmp_path_factory.mktemp("project")
    shutil.copytree(ROOT / "include" / "trainer", project / "include" / "trainer")
    spec = load_spec(ROOT / "dags" / "churn.yaml")
    config = PipelineConfig(pipeline="churn", project_dir=str(project))
    contract = spec.contract.model_copy(update={"min_rows": 100})
    batch = str(demo_data / "batches" / "dt=2026-11-01")
    snapshot = DataValidateOperator(
        task_id="validate_data", pipeline=config, data=spec.data, contract=contract, source=batch
    ).execute(context("setup", "validate_data", {}))
    training = spec.training.model_copy(update={"params": {"max_iter": 30}})
    model = RetrainOperator(
        task_id="retrain",
        pipeline=config,
        training=training,
        data=spec.data,
        snapshot_task_id="validate_data",
    ).execute(context("setup", "retrain", {("validate_data", "return_value"): snapshot}))
    return SimpleNamespace(spec=spec, config=config, snapshot=snapshot, model=model)


def registry(trained: SimpleNamespace) -> Registry:
    local = Path(trained.config.project_dir) / trained.config.storage.root
    return Registry("churn", MlflowHook("mlflow_default", local_dir=local).get_conn)


def upstream(trained: SimpleNamespace) -> dict:
    return {
        ("validate_data", "return_value"): trained.snapshot,
        ("retrain", "return_value"): trained.model,
    }


def evaluator(trained: SimpleNamespace, pod: StepPod | None) -> EvaluateOperator:
    return EvaluateOperator(
        task_id="evaluate",
        pipeline=trained.config,
        data=trained.spec.data,
        evaluation=trained.spec.evaluation,
        approval=trained.spec.approval,
        train_task_id="retrain",
        snapshot_task_id="validate_data",
        promote_branch="canary_promote",
        reject_branch="reject",
        approval_branch="approve",
        pod=pod,
    )


def detector(trained: SimpleNamespace, pod: StepPod | None) -> DriftBranchOperator:
    return DriftBranchOperator(
        task_id="detect_drift",
        pipeline=trained.config,
        drift=trained.spec.drift,
        features=trained.spec.data.features,
        current_task_id="validate_data",
        drift_branch="retrain",
        stable_branch="skip_retrain",
        no_champion_branch="retrain",
        pod=pod,
    )


def branch_of(op: Any, ctx: dict, run: Any) -> str:
    """What the branch operator chose (do_branch skips the rest; its skip is not under test
    here: the real Airflow run below does that)."""
    chosen: list = []
    op.do_branch = lambda context, branches: chosen.append(branches) or branches
    run()
    (branch,) = chosen
    return branch


def test_evaluation_in_a_pod_judges_as_the_worker_does(
    trained: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster = install(monkeypatch, StandInCluster(run_container()))
    local_ctx = context("manual__e1", "evaluate", upstream(trained))
    local_op = evaluator(trained, None)
    local_branch = branch_of(local_op, local_ctx, lambda: local_op.execute(local_ctx))
    ctx = context("manual__e1", "evaluate", upstream(trained))
    deferred = start(evaluator(trained, POD), ctx)
    (pod_name,) = cluster.created
    assert pod_name.startswith("churn-evaluation-")
    env = {
        e["name"]: e.get("value") for e in cluster.bodies[pod_name]["spec"]["containers"][0]["env"]
    }
    assert env["MLFLOW_TRACKING_URI"].startswith("sqlite:///")  # the store the worker uses
    op = evaluator(trained, POD)
    branch = branch_of(op, ctx, lambda: resume(op, ctx, deferred))

    assert branch == local_branch
    local, on_pod = local_ctx["ti"].pushed["gate"], ctx["ti"].pushed["gate"]
    timing = {"latency", "risk", "reasons", "checks"}  # measured latency differs run to run
    assert {k: v for k, v in on_pod.items() if k not in timing} == {
        k: v for k, v in local.items() if k not in timing
    }
    assert [c["name"] for c in on_pod["checks"]] == [c["name"] for c in local["checks"]]
    assert on_pod["report"] == ctx["ti"].pushed["gate_report"]
    assert cluster.deleted == [pod_name]
    version = registry(trained).get_version(trained.model["version"])
    assert version.tags["mlops.gate"] == on_pod["decision"]


def test_a_crash_in_the_evaluation_pod_fails_the_task_with_its_reason(
    trained: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster = install(monkeypatch, StandInCluster(run_container()))
    broken = {**trained.model, "model_uri": "models:/churn/999"}
    xcoms = {**upstream(trained), ("retrain", "return_value"): broken}
    ctx = context("manual__e2", "evaluate", xcoms)
    deferred = start(evaluator(trained, POD), ctx)
    with pytest.raises(MlopsError) as failed:
        resume(evaluator(trained, POD), ctx, deferred)
    (pod_name,) = cluster.created
    message = str(failed.value)
    assert "\n" not in message
    assert message.startswith(f"evaluation pod default/{pod_name} failed (exit code 1, Error): ")
    assert "999" in message  # the step's own one line: which model could not be loaded


def test_drift_in_a_pod_branches_as_the_worker_does(
    trained: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry(trained).set_alias(CHAMPION, trained.model["version"])
    cluster = install(monkeypatch, StandInCluster(run_container()))
    local_ctx = context("manual__d1", "detect_drift", upstream(trained))
    local_op = detector(trained, None)
    local_branch = branch_of(local_op, local_ctx, lambda: local_op.execute(local_ctx))
    ctx = context("manual__d1", "detect_drift", upstream(trained))
    deferred = start(detector(trained, POD), ctx)
    op = detector(trained, POD)
    branch = branch_of(op, ctx, lambda: resume(op, ctx, deferred))

    assert branch == local_branch == "skip_retrain"  # its own training data: no drift
    assert ctx["ti"].pushed["drift"] == local_ctx["ti"].pushed["drift"]
    assert ctx["ti"].pushed["drift_report"] == local_ctx["ti"].pushed["drift_report"]
    assert len(cluster.created) == 1 and cluster.deleted == cluster.created


# -- a real Airflow run ----------------------------------------------------------------------

STEPS_DAG = '''
"""A hand-written airflow DAG: validation and drift in (stand-in) pods, then the branch."""
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG
from airflow_mlops_provider.operators.drift import DriftBranchOperator
from airflow_mlops_provider.operators.validate import DataValidateOperator

with DAG("steps__training", schedule=None):
    validate = DataValidateOperator(
        task_id="validate_data", pipeline=PIPELINE, data=DATA, contract=CONTRACT,
        source=SOURCE, pod=POD,
    )
    drift = DriftBranchOperator(
        task_id="detect_drift", pipeline=PIPELINE, drift=DRIFT, features=DATA["features"],
        current_task_id="validate_data", drift_branch="retrain", stable_branch="skip_retrain",
        no_champion_branch="retrain", pod=POD,
    )
    validate >> drift >> [EmptyOperator(task_id="retrain"), EmptyOperator(task_id="skip_retrain")]
'''


def test_a_real_airflow_run_defers_each_step_and_branches_after(
    monkeypatch: pytest.MonkeyPatch, airflow_db: None, tmp_path: Path, demo_data: Path
) -> None:
    """dag.test() runs the tasks with Airflow's own task runner: each TaskDeferred is
    recorded, the trigger runs (in-process here, on the triggerer in production), the task
    resumes in execute_complete, and the branch operator skips the branch not taken."""
    from airflow.dag_processing.dagbag import DagBag

    from airflow_mlops_provider.execution import kubernetes

    from .airflow_helpers import run

    cluster = install(monkeypatch, StandInCluster(run_container()))
    monkeypatch.setattr(kubernetes, "POLL_SECONDS", 1)
    spec = load_spec(ROOT / "dags" / "churn.yaml")
    folder = tmp_path / "dags"
    folder.mkdir()
    values = {
        "PIPELINE": {"pipeline": "steps", "project_dir": str(tmp_path)},
        "DATA": spec.data.model_dump(mode="json"),
        "CONTRACT": spec.contract.model_copy(update={"min_rows": 100}).model_dump(mode="json"),
        "DRIFT": spec.drift.model_dump(mode="json"),
        "SOURCE": str(demo_data / "batches" / "dt=2026-11-01"),
        "POD": POD.model_dump(mode="json"),
    }
    header = "".join(f"{name} = {json.dumps(value)!r}\n" for name, value in values.items())
    loads = "".join(f"{name} = json.loads({name})\n" for name in values)
    (folder / "steps_dag.py").write_text(f"import json\n{header}{loads}{STEPS_DAG}")
    bundle = {
        "name": "steps-dags",
        "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
        "kwargs": {"path": str(folder)},
    }
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps([bundle]))
    bag = DagBag(dag_folder=str(folder))
    assert not bag.import_errors, bag.import_errors

    states = run(bag.dags["steps__training"], "2026-11-01")

    assert states == {
        "validate_data": "success",
        "detect_drift": "success",
        "retrain": "success",  # no champion yet: the drift route
        "skip_retrain": "skipped",
    }
    assert [name.split("-")[1] for name in cluster.created] == ["validation", "drift"]
    assert cluster.deleted == cluster.created


def test_scoring_in_a_pod_collects_the_window_the_worker_collects(
    trained: SimpleNamespace, monkeypatch: pytest.MonkeyPatch, demo_data: Path
) -> None:
    """Monitoring logs without predictions are scored with the champion — in the pod."""
    import pandas as pd

    from airflow_mlops_provider.operators.monitoring import CollectWindowOperator

    registry(trained).set_alias(CHAMPION, trained.model["version"])
    logs = Path(trained.config.project_dir) / "logs"
    served = pd.read_parquet(demo_data / "inference_logs" / "dt=2026-11-01" / "part-0.parquet")
    (logs / "dt=2026-11-01").mkdir(parents=True)
    assert "prediction" not in served.columns  # the demo's logs carry no predictions
    served.to_parquet(logs / "dt=2026-11-01" / "part-0.parquet")
    cluster = install(monkeypatch, StandInCluster(run_container()))

    def collector(pod: StepPod | None) -> CollectWindowOperator:
        return CollectWindowOperator(
            task_id="collect_window",
            pipeline=trained.config,
            monitoring=trained.spec.monitoring,
            features=trained.spec.data.features,
            source=str(logs / "dt={{ ds }}"),
            pod=pod,
        )

    def monitoring_context() -> dict:
        ctx = context("scheduled__s1", "collect_window", {})
        run = SimpleNamespace(dag_id="churn__monitoring", run_id="scheduled__s1", run_after=DAY)
        return {**ctx, "logical_date": DAY, "dag_run": run}

    local = collector(None).execute(monitoring_context())
    ctx = monitoring_context()
    deferred = start(collector(POD), ctx)
    on_pod = resume(collector(POD), ctx, deferred)

    assert on_pod == local and on_pod["scored_with"] == trained.model["version"]
    assert on_pod["rows"] == len(served)
    scored = pd.read_parquet(on_pod["window_uri"])
    assert "prediction" in scored.columns and scored["prediction"].notna().all()
    (pod_name,) = cluster.created
    assert pod_name.startswith("churn-scoring-") and cluster.deleted == [pod_name]
