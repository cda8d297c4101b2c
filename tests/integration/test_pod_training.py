"""Training with `compute: kubernetes`: the retrain task defers while its pod trains.

No Kubernetes cluster runs here, so the Kubernetes API is a stand-in (kube_standin.py: the
provider's sync client and its async hook's calls, answered from memory, with each pod's
container run as a local process). Everything else is real: the RetrainOperator, the pod built
from the YAML (execution/kubernetes.py), the cncf-kubernetes provider's KubernetesPodOperator
creating/reattaching/deleting pods, its KubernetesPodTrigger (serialised and rebuilt as the
triggerer does) polling the pod, the reference trainer, the MLflow store, the registration.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from airflow.sdk.exceptions import TaskDeferred

from airflow_mlops_provider.adapters.mlflow_registry import Registry
from airflow_mlops_provider.exceptions import TrainingError
from airflow_mlops_provider.hooks.mlflow import MlflowHook
from airflow_mlops_provider.operators.retrain import RetrainOperator
from airflow_mlops_provider.services.config import PipelineConfig
from airflow_mlops_provider.spec import load_spec

from .kube_standin import DIGEST, StandInCluster, install, run_trainer, sleep_for
from .pod_task import TI, StateStore, rebuilt, trigger_event

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
IMAGE = "registry.example.com/ml/fraud-trainer:1.4.0"


@pytest.fixture
def setup(tmp_path: Path, demo_data: Path) -> SimpleNamespace:
    fraud = load_spec(ROOT / "dags" / "fraud_gpu.yaml")
    churn = load_spec(ROOT / "dags" / "churn.yaml")  # the demo data is churn-shaped
    batch = str(demo_data / "batches" / "dt=2026-11-01")
    snapshot = {"snapshot_id": "s1", "train_uri": batch, "holdout_uri": batch}
    pipeline = PipelineConfig(pipeline="fraud_gpu", project_dir=str(tmp_path))
    return SimpleNamespace(
        training=fraud.training.model_copy(update={"params": {"max_iter": 20}}),
        data=churn.data,
        snapshot=snapshot,
        pipeline=pipeline,
        store=StateStore(),
    )


def operator(setup: SimpleNamespace) -> RetrainOperator:
    """A fresh operator object, as each try (or a resumed deferral) gets in a new process."""
    return RetrainOperator(
        task_id="retrain",
        pipeline=setup.pipeline,
        training=setup.training,
        data=setup.data,
        snapshot_task_id="validate_data",
        retries=2,
    )


def context(setup: SimpleNamespace, try_number: int, max_tries: int, durable: bool = True):
    ti = TI(
        dag_id="fraud_gpu__training",
        run_id="manual__1",
        task_id="retrain",
        map_index=-1,
        try_number=try_number,
        max_tries=max_tries,
        xcoms={("validate_data", "return_value"): setup.snapshot},
        pushed={},
    )
    ctx = {
        "ti": ti,
        "run_id": ti.run_id,
        "dag": SimpleNamespace(dag_id=ti.dag_id),
        "task": SimpleNamespace(retries=2),
    }
    return {**ctx, "task_state_store": setup.store} if durable else ctx


def start(op: RetrainOperator, ctx: dict) -> TaskDeferred:
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(ctx)
    assert deferred.value.method_name == "execute_complete"
    return deferred.value


def resume(setup: SimpleNamespace, ctx: dict, deferred: TaskDeferred) -> dict[str, Any]:
    """The task resumed on a worker: a new operator object, the event as stored (JSON)."""
    assert not deferred.kwargs  # everything execute_complete needs is in the event
    event = json.loads(json.dumps(trigger_event(deferred)))
    return operator(setup).execute_complete(ctx, event=event)


def registry(setup: SimpleNamespace) -> Registry:
    local = Path(setup.pipeline.project_dir) / setup.pipeline.storage.root
    return Registry("fraud_gpu", MlflowHook("mlflow_default", local_dir=local).get_conn)


def test_the_task_defers_while_the_pod_trains_and_registers_after(
    setup: SimpleNamespace, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    cluster = install(monkeypatch, StandInCluster(run_trainer(gate)))
    ctx = context(setup, 1, 2)
    deferred = start(operator(setup), ctx)
    # The worker slot is free now, the pod still training (held at the gate), nothing registered.
    (pod_name,) = cluster.created
    assert cluster.running() == [pod_name] and deferred.trigger.pod_name == pod_name
    assert pod_name.startswith("fraud-gpu-train-") and registry(setup).versions() == []
    gate.touch()
    trained = resume(setup, ctx, deferred)

    assert trained["trained"] is True and cluster.deleted == [pod_name]  # succeeded: deleted
    version = registry(setup).get_version(trained["version"])
    assert version.tags["mlops.image_digest"] == DIGEST  # what the kubelet ran
    assert version.tags["mlops.compute"] == "kubernetes"
    run = registry(setup).get_run(trained["run_id"])
    assert run.info.status == "FINISHED" and run.data.tags["mlops.image_digest"] == DIGEST
    pod_env = cluster.bodies[pod_name]["spec"]["containers"][0]["env"]
    assert {"name": "MLFLOW_RUN_ID", "value": trained["run_id"]} in pod_env
    assert Path(trained["drift_profile"]).exists()


@pytest.mark.parametrize("durable", [True, False], ids=["task state store", "label search"])
def test_a_new_try_reattaches_to_the_running_pod(
    setup: SimpleNamespace, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, durable: bool
) -> None:
    gate = tmp_path / "gate"
    cluster = install(monkeypatch, StandInCluster(run_trainer(gate)))
    first = start(operator(setup), context(setup, 1, 2, durable))
    # The try is lost while the pod trains (a worker died before the deferral was recorded,
    # or the task was retried): the next try must watch the same pod, not start another.
    ctx = context(setup, 2, 2, durable)
    second = start(operator(setup), ctx)
    assert len(cluster.created) == 1 and second.trigger.pod_name == first.trigger.pod_name
    gate.touch()
    trained = resume(setup, ctx, second)
    assert [v.version for v in registry(setup).versions()] == [trained["version"]]


def test_a_retry_after_registration_reuses_the_version_and_a_clear_trains_anew(
    setup: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster = install(monkeypatch, StandInCluster(run_trainer()))
    ctx = context(setup, 1, 2)
    trained = resume(setup, ctx, start(operator(setup), ctx))
    # The worker died after registering, before the task succeeded: Airflow retries.
    reused = operator(setup).execute(context(setup, 2, 2))
    assert reused["version"] == trained["version"] and reused["trained"] is False
    assert len(cluster.created) == 1  # no pod for a retry that has nothing to train
    # A person clears the task: a new cycle (try 3, max_tries 3 + 2) trains anew, in a new pod.
    ctx = context(setup, 3, 5)
    again = resume(setup, ctx, start(operator(setup), ctx))
    assert again["run_id"] != trained["run_id"] and len(cluster.created) == 2
    assert sorted(v.version for v in registry(setup).versions()) == ["1", "2"]


def test_a_retry_that_registers_from_mlflow_deletes_the_pod_left_behind(
    setup: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pod trained and succeeded, but the worker died before the task resumed (nothing
    re-entered, so nothing deleted the pod): the retry registers the run from MLflow and
    deletes the succeeded pod instead of leaving it behind."""
    cluster = install(monkeypatch, StandInCluster(run_trainer()))
    deferred = start(operator(setup), context(setup, 1, 2))
    trigger_event(deferred)  # the pod ended; the task never resumed
    (pod_name,) = cluster.created
    assert cluster.pods_by_name[pod_name].process.poll() == 0 and cluster.deleted == []
    registered = operator(setup).execute(context(setup, 2, 2))
    assert registered["trained"] is False  # registered what the pod trained, no new training
    assert cluster.created == [pod_name] and cluster.deleted == [pod_name]


def test_a_failed_pod_fails_the_task_registers_nothing_and_stays_for_inspection(
    setup: SimpleNamespace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cluster = install(monkeypatch, StandInCluster(sleep_for(0.2, exit_code=3)))
    ctx = context(setup, 1, 2)
    deferred = start(operator(setup), ctx)
    with pytest.raises(TrainingError) as failed:
        resume(setup, ctx, deferred)
    (pod_name,) = cluster.created
    message = str(failed.value)
    assert message.startswith(f"training pod ml-training/{pod_name} failed (exit code 3, Error)")
    assert "nothing was registered" in message and "a retry resumes MLflow run" in message
    assert "[base] logs: training" in capsys.readouterr().out  # the pod's log, in the task's
    assert registry(setup).versions() == []
    assert cluster.pods_by_name[pod_name].labels["already_checked"] == "True"  # kept, marked


def test_killing_the_task_deletes_the_pod(
    setup: SimpleNamespace, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cluster = install(monkeypatch, StandInCluster(run_trainer(tmp_path / "never")))
    # Killed while a worker holds the task (starting or finishing the pod): the operator's
    # on_kill deletes it.
    op = operator(setup)
    start(op, context(setup, 1, 2))
    op.on_kill()
    assert cluster.deleted == cluster.created and cluster.running() == []
    # Killed while deferred (no worker holds it): Airflow 3.3's triggerer calls the trigger's
    # on_kill, which deletes the pod (on_kill_action: delete_pod).
    deferred = start(operator(setup), context(setup, 2, 2))
    assert len(cluster.created) == 2 and len(cluster.running()) == 1
    trigger = rebuilt(deferred.trigger)

    async def watch() -> None:
        async for _ in trigger.run():
            return

    async def kill_while_watching() -> None:
        watching = asyncio.create_task(watch())
        await asyncio.sleep(0.5)
        watching.cancel()
        await trigger.on_kill()

    asyncio.run(kill_while_watching())
    assert cluster.deleted == cluster.created and cluster.running() == []


POD_DAG = '''
"""A hand-written airflow DAG: the snapshot, then training in a (stand-in) pod."""
from airflow.sdk import DAG, task
from airflow_mlops_provider.operators.retrain import RetrainOperator

with DAG("pods__training", schedule=None):
    @task(task_id="validate_data")
    def snapshot():
        return SNAPSHOT

    snapshot() >> RetrainOperator(
        task_id="retrain",
        pipeline={"pipeline": "fraud_gpu", "project_dir": PROJECT},
        training=TRAINING,
        data=DATA,
        snapshot_task_id="validate_data",
    )
'''


def test_a_real_airflow_run_defers_runs_the_trigger_and_resumes(
    setup: SimpleNamespace,
    monkeypatch: pytest.MonkeyPatch,
    airflow_db: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """dag.test() runs the task with Airflow's own task runner: the TaskDeferred is recorded,
    the trigger runs (in-process here, on the triggerer in production) and the task resumes
    in execute_complete with the kwargs Airflow stored."""
    from airflow.dag_processing.dagbag import DagBag

    from airflow_mlops_provider.execution import kubernetes

    from .airflow_helpers import run

    cluster = install(monkeypatch, StandInCluster(run_trainer()))
    monkeypatch.setattr(kubernetes, "POLL_SECONDS", 1)
    folder = tmp_path / "dags"
    folder.mkdir()
    values = {
        "SNAPSHOT": setup.snapshot,
        "PROJECT": setup.pipeline.project_dir,
        "TRAINING": setup.training.model_dump(mode="json"),
        "DATA": setup.data.model_dump(mode="json"),
    }
    header = "".join(f"{name} = {json.dumps(value)!r}\n" for name, value in values.items())
    loads = "".join(f"{name} = json.loads({name})\n" for name in values)
    (folder / "pods_dag.py").write_text(f"import json\n{header}{loads}{POD_DAG}")
    bundle = {
        "name": "pods-dags",
        "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
        "kwargs": {"path": str(folder)},
    }
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps([bundle]))
    bag = DagBag(dag_folder=str(folder))
    assert not bag.import_errors, bag.import_errors

    states = run(bag.dags["pods__training"], "2026-11-01")

    assert states == {"validate_data": "success", "retrain": "success"}
    (pod_name,) = cluster.created
    assert cluster.deleted == [pod_name]
    (version,) = registry(setup).versions()
    assert version.tags["mlops.image_digest"] == DIGEST
    out = capsys.readouterr().out
    assert "[base] logs: model logged as 'model'" in out  # the pod's log, in the task's
