"""The worker's peak memory during a canary measurement with the local router: the replay in
the worker (`compute.replay: local`, the anchor) side by side with a replay pod
(`kubernetes`), in the same run.

    .venv/bin/python bench/replay_pod_memory.py                 # 200k logged requests
    .venv/bin/python bench/replay_pod_memory.py --rows 50000

`canary_promote` (CanaryPromoteOperator) releases churn v2 against v1 — both trained by the
reference trainer on the demo generator's batch, in a local MLflow store — through one shadow
step of one measurement: one window of all `--rows` requests, scored by both models, then
judged and promoted (the bounds are loose so that one look decides). Each side starts from
champion v1 in a fresh Python process and a project folder of its own. As in
bench/step_pod_memory.py (whose helpers this uses): no cluster, the tests' stand-in API runs
the pod's container (`airflow-mlops run-step replay`) as a child process; the worker's peak is
its own VmHWM, the pod's the child's `ru_maxrss` (an upper bound).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from step_pod_memory import POLL_SECONDS, REPO, RESULTS, _generate, _machine, _own_peak_mib

CANARY = {
    "enabled": True,
    "router": "local",
    "metric_source": "replay",
    "analysis": {
        "metrics": {"roc_auc": {"max_regression": 0.3}, "error_rate": {"max": 0.3}},
        "count": 1,
    },
    "steps": [{"shadow": {}}],
}


def release(project: Path, store: Path, requests: Path, on_pod: bool) -> dict[str, object]:
    """One side, in this (fresh) process: canary_promote until its one measurement is done."""
    import resource
    from types import SimpleNamespace

    from pytest import MonkeyPatch
    from tests.integration.kube_standin import StandInCluster, install, run_container
    from tests.integration.pod_task import TI, StateStore, trigger_event

    from airflow_mlops_provider.adapters import mlflow_registry
    from airflow_mlops_provider.operators.release import CanaryPromoteOperator
    from airflow_mlops_provider.spec import StepPod, load_spec

    uri = f"sqlite:///{store}/mlflow.db"
    mlflow_registry.client(uri).set_registered_model_alias("churn", "champion", "1")
    spec = load_spec(REPO / "dags" / "churn.yaml")
    ti = TI(dag_id="churn__training", run_id="r", task_id="canary_promote", map_index=-1,
            try_number=1, max_tries=1, xcoms={("evaluate", "gate"): {"challenger": "2"}},
            pushed={})  # fmt: skip
    ctx = {
        "ti": ti,
        "run_id": "r",
        "dag": SimpleNamespace(dag_id=ti.dag_id),
        "task": SimpleNamespace(retries=0),
        "task_state_store": StateStore(),
        "params": {},
    }

    def operator() -> CanaryPromoteOperator:
        return CanaryPromoteOperator(
            task_id="canary_promote",
            pipeline={
                "pipeline": "churn",
                "project_dir": str(project),
                "mlflow": {"tracking_uri": uri},
            },
            canary=CANARY,
            data=spec.data,
            evaluation=spec.evaluation,
            gate_task_id="evaluate",
            snapshot_task_id="validate_data",
            replay_source=str(requests),
            pod=StepPod(image="bench") if on_pod else None,
        )

    with MonkeyPatch.context() as patch:
        cluster = install(patch, StandInCluster(run_container()))
        if on_pod:
            from airflow.sdk.exceptions import TaskDeferred

            try:
                operator().execute(ctx)
            except TaskDeferred as deferred:
                cluster.wait_all(timeout=3600)  # the trigger's own wait is the tests' 2 minutes
                event = trigger_event(deferred, poll=POLL_SECONDS)
                result = operator().execute_complete(ctx, event=event)
        else:
            result = operator().execute(ctx)
    assert result["decision"] == "promoted", result
    pod = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"worker_peak_mib": _own_peak_mib(), "pod_peak_mib": pod if on_pod else None}


def side(project: Path, store: Path, requests: Path, on_pod: bool) -> dict[str, object]:
    code = (
        "import json, sys; sys.path[:0] = [sys.argv[1], sys.argv[1] + '/bench']; "
        "from replay_pod_memory import release; from pathlib import Path; "
        "print('RESULT', json.dumps(release(*map(Path, sys.argv[2:5]), sys.argv[5] == '1')))"
    )
    args = [str(REPO), str(project), str(store), str(requests), str(int(on_pod))]
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          check=False, cwd=REPO)  # fmt: skip
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode or not lines:
        raise SystemExit(f"side failed:\n{done.stderr[-3000:]}")
    return json.loads(lines[-1].removeprefix("RESULT "))


def train_two_versions(store: Path, batch: Path) -> None:
    """churn v1 (depth 6, champion) and v2 (depth 4), as tests/integration/canary_fixtures.py."""
    from airflow_mlops_provider.adapters import mlflow_registry

    uri = f"sqlite:///{store}/mlflow.db"
    client = mlflow_registry.client(uri)
    registry = mlflow_registry.Registry("churn", mlflow_registry.Tracking(uri))
    experiment = client.create_experiment("churn", artifact_location=(store / "art").as_uri())
    data = {"target": "churned", "task": "binary_classification",
            "numeric": ["tenure_months", "monthly_charges", "total_charges", "support_calls"],
            "categorical": ["contract", "payment_method", "internet_service"]}  # fmt: skip
    for depth in (6, 4):
        run = client.create_run(experiment)
        env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "MLFLOW_RUN_ID": run.info.run_id,
               "MLOPS_TRAIN_DATA": str(batch), "MLOPS_HOLDOUT_DATA": str(batch),
               "MLOPS_DATA_SPEC": json.dumps(data),
               "MLOPS_PARAMS": json.dumps({"max_depth": depth, "max_iter": 50})}  # fmt: skip
        trainer = REPO / "include" / "trainer" / "train.py"
        subprocess.run([sys.executable, str(trainer)], env=env, check=True, capture_output=True)
        version = registry.register(run.info.run_id, {})
        if version.version == "2":
            registry.tag_version("2", {"mlops.gate": "promote", "mlops.gate_champion": "1"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    report = {"machine": _machine(), "rows": args.rows, "results": []}
    with tempfile.TemporaryDirectory(prefix="replay-pod-bench-") as folder:
        root = Path(folder)
        os.environ["MLOPS_ALLOWED_ROOTS"] = str(root)  # the requests sit beside the projects
        _generate(root / "data", args.rows)
        batch = root / "data" / "batches" / "dt=2026-11-01"
        (root / "store").mkdir()
        train_two_versions(root / "store", batch)
        for on_pod in (False, True):
            measured = side(root / ("pod" if on_pod else "worker"), root / "store", batch, on_pod)
            report["results"].append({"side": "pod" if on_pod else "worker", **measured})
            print(json.dumps(report["results"][-1]), flush=True)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"replay-pod-memory-{datetime.now(UTC):%Y-%m-%d}.json"
    out.write_text(json.dumps(report, indent=2))
    print(f"written {out}")


if __name__ == "__main__":
    sys.path[:0] = [str(REPO)]
    main()
