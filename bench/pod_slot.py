"""Worker-slot time of a training pod: the nested synchronous pod (before issue 16, the
anchor) side by side with the deferrable pod (the retrain task now), in the same run.

    .venv/bin/python bench/pod_slot.py                        # pods of 5 s and 20 s, 3 runs each
    .venv/bin/python bench/pod_slot.py --durations 5 60 --runs 1

No cluster runs here: the Kubernetes API is the tests' stand-in (tests/integration/
kube_standin.py), whose "kubelet" runs each pod's container as a local process that sleeps
for the pod's duration. The provider's own code runs on both sides, on the pod the retrain task
builds for `dags/fraud_gpu.yaml` (execution/kubernetes.py):

- **sync** (anchor): `KubernetesPodOperator.execute` with `deferrable=False`, what `retrain`
  did before: the worker waits until the pod ends (polling its status). `get_logs=False` on this
  side only, because the stand-in does not stream logs the sync way.
- **deferrable**: `execute_async` until the operator defers (the worker slot is free), the
  provider's KubernetesPodTrigger polling the pod (on the triggerer: no worker slot), then the
  re-entry `trigger_reentry` on a worker (logs, status, deletion). Slot time = the two worker
  parts; wall = all three. The trigger polls every `--poll` seconds (production: 15 s).

MLflow registration runs after the pod on both sides and is left out (it is the same work).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results"
sys.path.insert(0, str(REPO))


def pod_operator(poll: float, deferrable: bool) -> Any:
    from airflow_mlops_provider.execution.kubernetes import training_pod
    from airflow_mlops_provider.spec import load_spec

    spec = load_spec(REPO / "dags" / "fraud_gpu.yaml")
    env = {"MLFLOW_TRACKING_URI": "https://mlflow.example.com", "MLFLOW_RUN_ID": "bench"}
    pod = training_pod(
        spec.training,
        pipeline=spec.pipeline,
        kubernetes_conn_id=spec.connections.kubernetes,
        task_id="retrain",
        run_id=f"bench{time.monotonic_ns()}",
        env=env,
    )
    pod.poll_interval, pod.deferrable = poll, deferrable
    if not deferrable:
        pod.get_logs = False
    return pod


def context() -> dict[str, Any]:
    ti = SimpleNamespace(
        dag_id="fraud_gpu__training",
        run_id=f"manual__{time.monotonic_ns()}",
        task_id="retrain",
        map_index=-1,
        try_number=1,
        xcom_push=lambda **_: None,
    )
    return {"ti": ti, "run_id": ti.run_id, "dag": SimpleNamespace(dag_id=ti.dag_id)}


def run_sync(poll: float) -> dict[str, float]:
    pod, ctx = pod_operator(poll, deferrable=False), context()
    start = time.perf_counter()
    pod.execute_sync(ctx)
    wall = time.perf_counter() - start
    return {"slot_s": wall, "wall_s": wall}


def run_deferrable(poll: float) -> dict[str, float]:
    from airflow.sdk.exceptions import TaskDeferred

    pod, ctx = pod_operator(poll, deferrable=True), context()
    start = time.perf_counter()
    try:
        pod.execute_async(ctx)
        raise AssertionError("the pod operator did not defer")
    except TaskDeferred as deferred:
        trigger = deferred.trigger
    deferred_at = time.perf_counter()
    event = asyncio.run(first_event(trigger))
    resumed_at = time.perf_counter()
    pod.trigger_reentry(ctx, event)
    end = time.perf_counter()
    return {
        "slot_s": (deferred_at - start) + (end - resumed_at),
        "wall_s": end - start,
        "triggerer_s": resumed_at - deferred_at,
    }


async def first_event(trigger: Any) -> dict[str, Any]:
    async for event in trigger.run():
        return event.payload
    raise AssertionError("the trigger ended without an event")


def machine() -> dict[str, Any]:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit,
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_1m": os.getloadavg()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--durations", type=float, nargs="+", default=[5.0, 20.0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--poll", type=float, default=1.0, help="trigger/sync poll seconds")
    args = parser.parse_args()

    from pytest import MonkeyPatch
    from tests.integration.kube_standin import StandInCluster, install, sleep_for

    rows = []
    for duration in args.durations:
        with MonkeyPatch.context() as patch:
            install(patch, StandInCluster(sleep_for(duration)))
            sync = [run_sync(args.poll) for _ in range(args.runs)]
            deferrable = [run_deferrable(args.poll) for _ in range(args.runs)]
        row = {"pod_s": duration, "sync": sync, "deferrable": deferrable}
        for side in ("sync", "deferrable"):
            for key in ("slot_s", "wall_s"):
                row[f"{side}_{key}_median"] = statistics.median(r[key] for r in row[side])
        row["slot_ratio"] = row["deferrable_slot_s_median"] / row["sync_slot_s_median"]
        rows.append(row)
        print(
            f"pod {duration:>5.0f} s | slot held: sync {row['sync_slot_s_median']:6.2f} s, "
            f"deferrable {row['deferrable_slot_s_median']:5.2f} s "
            f"(x{row['slot_ratio']:.3f}) | wall: sync {row['sync_wall_s_median']:6.2f} s, "
            f"deferrable {row['deferrable_wall_s_median']:6.2f} s"
        )
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"pod-slot-{datetime.now(UTC):%Y-%m-%d}.json"
    meta = {**machine(), "runs": args.runs, "poll_s": args.poll}
    out.write_text(json.dumps({"machine": meta, "rows": rows}, indent=2))
    print(f"raw results: {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
