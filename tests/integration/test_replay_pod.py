"""The canary's replay in a pod (`compute.replay: kubernetes`): canary_promote defers while a
pod scores each measurement's window with both models, and reaches what the worker reaches.

No Kubernetes cluster runs here, so the Kubernetes API is a stand-in (kube_standin.py: the
provider's sync client and its async hook's calls, answered from memory, with each pod's
container — `airflow-mlops run-step replay --request ...` — run as a local process with the
pod's environment). Everything else is real: CanaryPromoteOperator and the rollout driver, the
pods built from `StepPod`, the provider's KubernetesPodOperator and KubernetesPodTrigger
(serialised and rebuilt as the triggerer does), the MLflow store with two versions trained by
the reference trainer, the local router and the replay metric source. Waits (DateTimeTrigger)
are waited out and the task resumed as the triggerer would; each re-entry is a new operator, as
on a new worker.
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from airflow.sdk.exceptions import TaskDeferred

from airflow_mlops_provider.adapters import mlflow_registry
from airflow_mlops_provider.exceptions import MlopsError
from airflow_mlops_provider.operators.release import CanaryPromoteOperator
from airflow_mlops_provider.services.config import PipelineConfig
from airflow_mlops_provider.spec import CanarySpec, StepPod, load_spec

from .canary_fixtures import reset_aliases, store_fixture  # noqa: F401 - provides `store`
from .kube_standin import StandInCluster, install, run_container, sleep_for
from .pod_task import TI, StateStore, trigger_event
from .test_step_pods import context as task_context

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
POD = StepPod(image="registry.example.com/ml/churn-trainer:1.0")
TIMING = ("latency_ms", "shadow_latency_ms")  # measured per run: the rest must be equal
# A shadow step, then 20% of the traffic: a window of the 4,000 logged requests per look. The
# bounds are loose enough for the judge to decide on each look of these nearly equal models.
CANARY = {
    "enabled": True,
    "router": "local",
    "metric_source": "replay",
    "analysis": {
        "metrics": {"roc_auc": {"max_regression": 0.3}, "error_rate": {"max": 0.3}},
        "interval": "1s",
        "count": 2,
    },
    "steps": [{"shadow": {}}, {"set_weight": 20}, {"analysis": {}}],
}


def context(run_id: str, try_number: int = 1, store: StateStore | None = None) -> dict:
    """canary_promote's context: the gate's XCom names version 2."""
    xcoms = {("evaluate", "gate"): {"challenger": "2"}}
    return task_context(run_id, "canary_promote", xcoms, try_number, store)


def promoter(project: Path, store: dict, pod: StepPod | None) -> CanaryPromoteOperator:
    spec = load_spec(ROOT / "dags" / "churn.yaml")
    return CanaryPromoteOperator(
        task_id="canary_promote",
        pipeline=PipelineConfig(
            pipeline="churn", project_dir=str(project), mlflow={"tracking_uri": store["uri"]}
        ),
        canary=CanarySpec.model_validate(CANARY),
        data=spec.data,
        evaluation=spec.evaluation,
        gate_task_id="evaluate",
        snapshot_task_id="validate_data",
        replay_source=store["requests"],
        pod=pod,
    )


def gated(store: dict) -> None:
    """Champion v1, challenger v2 gated against it (what `evaluate` leaves)."""
    reset_aliases(store["client"])
    for key in ("mlops.audit.promoted", "mlops.canary_phase"):
        with contextlib.suppress(Exception):  # not set
            store["client"].delete_model_version_tag("churn", "2", key)
    store["registry"].tag_version("2", {"mlops.gate": "promote", "mlops.gate_champion": "1"})


def drive(make: Any, ctx: dict, *, die_after_pod: int | None = None) -> tuple[Any, list[str]]:
    """Run the task to its end as Airflow would: each deferral's trigger run (a pod's by
    the provider's trigger, a wait by sleeping to its moment), then the re-entry on a new
    operator. `die_after_pod`: after that many pods ended, the worker dies before resuming
    (the task's next try then starts with `execute`). Returns the result and the re-entries."""
    entry, kwargs, entries, pods = "execute", {}, [], 0
    for _ in range(40):
        try:
            return getattr(make(), entry)(ctx, **kwargs), entries
        except TaskDeferred as deferred:
            entries.append(deferred.method_name)
            if deferred.method_name == "resume":
                time.sleep(max(0.0, deferred.trigger.moment.timestamp() - time.time()))
                entry, kwargs = "resume", {}
                continue
            event = json.loads(json.dumps(trigger_event(deferred)))
            pods += 1
            if pods == die_after_pod:  # the task's next try
                ctx = {**ctx, "ti": TI(**{**vars(ctx["ti"]), "try_number": 2})}
                entry, kwargs = "execute", {}
                continue
            entry, kwargs = "execute_complete", {"event": event}
    raise AssertionError("the canary did not finish")


def traffic(project: Path) -> dict[str, pd.DataFrame]:
    folder = project / ".mlops" / "pipelines" / "churn" / "canary" / "v2" / "traffic"
    return {
        str(p.relative_to(folder)): pd.read_parquet(p).drop(columns=list(TIMING), errors="ignore")
        for p in sorted(folder.rglob("*.parquet"))
    }


def rollout(project: Path) -> dict:
    path = project / ".mlops" / "pipelines" / "churn" / "canary" / "rollout-v2.json"
    return json.loads(path.read_text())


def measurements(project: Path) -> list[dict]:
    """Each measurement as audited: its decision, samples per arm and evidence per bound."""
    path = project / ".mlops" / "pipelines" / "churn" / "audit.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    return [line["details"] for line in lines if "analysis" in line["details"]]


def no_model_in_the_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: Any, uri: str) -> Any:
        raise AssertionError(f"the worker loaded {uri}")

    monkeypatch.setattr(mlflow_registry.Registry, "load_model", refuse)


@pytest.mark.timeout(600)
def test_a_canary_replayed_in_pods_decides_and_measures_as_in_the_worker(
    tmp_path: Path, store: dict, monkeypatch: pytest.MonkeyPatch, logged: Any
) -> None:
    gated(store)
    local_project = tmp_path / "local"
    local, _ = drive(lambda: promoter(local_project, store, None), context("manual__1"))
    local_traffic, local_state = traffic(local_project), rollout(local_project)
    local_looks = measurements(local_project)
    assert local["decision"] == "promoted", local

    gated(store)
    cluster = install(monkeypatch, StandInCluster(run_container()))
    no_model_in_the_worker(monkeypatch)
    project = tmp_path / "pods"
    ctx = context("manual__1")
    on_pods, entries = drive(lambda: promoter(project, store, POD), ctx)

    assert on_pods == local
    assert measurements(project) == local_looks and len(local_looks) >= 2
    assert [h["kind"] for h in rollout(project)["history"]] == [
        h["kind"] for h in local_state["history"]
    ]
    scored = traffic(project)
    assert scored.keys() == local_traffic.keys() and len(scored) >= 2
    for name, frame in scored.items():
        pd.testing.assert_frame_equal(frame, local_traffic[name], check_like=True)
    # one pod per window, each deleted once it succeeded; the shadow window in a pod too
    assert len(cluster.created) == len(scored) == entries.count("execute_complete")
    assert cluster.deleted == cluster.created
    assert all(name.startswith("churn-replay-") for name in cluster.created)
    shadow = scored["step-00/m-00.parquet"]
    assert set(shadow["shadow_version"]) == {"2"} and shadow["shadow_prediction"].notna().all()
    assert set(shadow["model_version"]) == {"1"}
    (container,) = cluster.bodies[cluster.created[0]]["spec"]["containers"]
    assert container["image"] == POD.image and container["args"][:2] == ["run-step", "replay"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["MLFLOW_TRACKING_URI"] == store["uri"]
    # each finished pod's identity is forgotten: the next window's pod is not looked up by it
    assert not ctx["task_state_store"]
    assert not [line for line in logged.lines if "no longer exists" in line]


@pytest.mark.timeout(600)
def test_a_retried_canary_reuses_the_written_window_and_deletes_the_pod_left_behind(
    tmp_path: Path, store: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first window's pod wrote it, then the worker died before the task resumed: the
    next try measures that window without a second pod, and deletes the one left behind."""
    gated(store)
    cluster = install(monkeypatch, StandInCluster(run_container()))
    no_model_in_the_worker(monkeypatch)
    project = tmp_path / "project"
    result, entries = drive(
        lambda: promoter(project, store, POD), context("manual__2"), die_after_pod=1
    )

    assert result["decision"] == "promoted"
    windows = traffic(project)
    assert len(cluster.created) == len(windows)  # no window scored twice
    assert entries.count("execute_complete") == len(windows)
    assert cluster.deleted == cluster.created and cluster.pods == {}
    assert len(measurements(project)) == len(windows)  # each window measured once


def test_a_failed_replay_pod_fails_the_task_in_one_line_and_moves_nothing(
    tmp_path: Path, store: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    gated(store)
    cluster = install(monkeypatch, StandInCluster(sleep_for(0.2, exit_code=3)))
    project = tmp_path / "project"
    ctx = context("manual__3")
    with pytest.raises(TaskDeferred) as deferred:
        promoter(project, store, POD).execute(ctx)
    event = json.loads(json.dumps(trigger_event(deferred.value)))
    with pytest.raises(MlopsError) as failed:
        promoter(project, store, POD).execute_complete(ctx, event=event)

    (pod_name,) = cluster.created
    message = str(failed.value)
    assert "\n" not in message
    assert message.startswith(f"replay pod default/{pod_name} failed (exit code 3, Error)")
    assert cluster.deleted == []  # kept for kubectl logs
    assert traffic(project) == {}  # nothing scored, nothing measured
    state = project / ".mlops" / "pipelines" / "churn" / "canary" / "rollout-v2.json"
    assert not state.exists() or json.loads(state.read_text())["measurements"] == []
    model = store["client"].get_registered_model("churn")
    assert {a: str(v) for a, v in model.aliases.items()} == {"champion": "1"}
