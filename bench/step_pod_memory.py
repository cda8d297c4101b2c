"""The worker's peak memory while a batch is validated: in the worker (`compute.validation:
local`, the anchor) side by side with a validation pod (`kubernetes`), in the same run.

    .venv/bin/python bench/step_pod_memory.py                  # 200k and 1M rows
    .venv/bin/python bench/step_pod_memory.py --rows 200000 --runs 1

No cluster runs here: the Kubernetes API is the tests' stand-in (tests/integration/
kube_standin.py), whose "kubelet" runs the pod's container — `airflow-mlops run-step
validation` — as a child process. Each side runs in a fresh Python process (peak RSS only
grows): the worker's peak is that process's own (VmHWM), the pod's its child's `ru_maxrss` —
an upper bound: a child started by fork and exec starts its peak at the parent's size at that
moment (the worker's, about 200 MiB). The batch is generated in a process of its own, so the
parent of both sides stays small. Same batch (the demo generator's churn data), same contract, local
storage for both; the trigger (in the worker's process here, on the triggerer in production)
polls every 2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results"
# The trigger's poll interval here (production: 15 s). Polling a stand-in pod every 0.2 s, as
# the tests do, piles up pod objects in this process while a long validation runs.
POLL_SECONDS = 2.0
sys.path.insert(0, str(REPO))


def validate(project: Path, batch: Path, on_pod: bool) -> dict[str, float]:
    """One side, in this (fresh) process: validate `batch` as the validate_data task does."""
    from types import SimpleNamespace

    from pytest import MonkeyPatch
    from tests.integration.kube_standin import StandInCluster, install, run_container
    from tests.integration.pod_task import TI, StateStore, trigger_event

    from airflow_mlops_provider.operators.validate import DataValidateOperator
    from airflow_mlops_provider.spec import StepPod, load_spec

    spec = load_spec(REPO / "dags" / "churn.yaml")
    ti = TI(dag_id="b", run_id="r", task_id="validate_data", map_index=-1, try_number=1,
            max_tries=1, xcoms={}, pushed={})  # fmt: skip
    ctx = {
        "ti": ti,
        "run_id": "r",
        "dag": SimpleNamespace(dag_id="b"),
        "task": SimpleNamespace(retries=0),
        "task_state_store": StateStore(),
        "params": {},
    }

    def operator() -> DataValidateOperator:
        return DataValidateOperator(
            task_id="validate_data",
            pipeline={"pipeline": "bench", "project_dir": str(project)},
            data=spec.data,
            contract=spec.contract,
            source=str(batch),
            pod=StepPod(image="bench") if on_pod else None,
        )

    with MonkeyPatch.context() as patch:
        install(patch, StandInCluster(run_container()))
        if on_pod:
            from airflow.sdk.exceptions import TaskDeferred

            try:
                operator().execute(ctx)
            except TaskDeferred as deferred:
                event = trigger_event(deferred, poll=POLL_SECONDS)
                result = operator().execute_complete(ctx, event=event)
        else:
            result = operator().execute(ctx)
    assert result["rows"] > 0
    pod = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB on Linux
    return {"worker_peak_mib": _own_peak_mib(), "pod_peak_mib": pod if on_pod else None,
            "rows": result["rows"]}  # fmt: skip


def _own_peak_mib() -> float:
    """This process's peak RSS (VmHWM): unlike `ru_maxrss`, which a process started by fork
    and exec inherits from its parent, it counts only this program's own memory."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def side(project: Path, batch: Path, on_pod: bool) -> dict[str, float]:
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); from bench.step_pod_memory import "
        "validate; from pathlib import Path; "
        "print('RESULT', json.dumps(validate(Path(sys.argv[2]), Path(sys.argv[3]), "
        "sys.argv[4] == '1')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(REPO), str(project), str(batch), str(int(on_pod))],
        capture_output=True, text=True, check=False, cwd=REPO,
    )  # fmt: skip
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode or not lines:
        raise SystemExit(f"side failed:\n{done.stderr[-3000:]}")
    return json.loads(lines[-1].removeprefix("RESULT "))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[200_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    report = {"machine": _machine(), "results": []}
    for rows in args.rows:
        with tempfile.TemporaryDirectory(prefix="step-pod-bench-") as folder:
            project = Path(folder)
            _generate(project / "data", rows)
            batch = project / "data" / "batches" / "dt=2026-11-01"
            for run in range(args.runs):
                for on_pod in (False, True):
                    measured = side(project, batch, on_pod)
                    entry = {"rows": rows, "run": run, "side": "pod" if on_pod else "worker"}
                    report["results"].append({**entry, **measured})
                    print(json.dumps(report["results"][-1]), flush=True)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"step-pod-memory-{datetime.now(UTC):%Y-%m-%d}.json"
    out.write_text(json.dumps(report, indent=2))
    print(f"written {out}")


def _generate(folder: Path, rows: int) -> None:
    """The demo generator's churn data, in a process of its own (see the module's note)."""
    code = "import sys; from pathlib import Path; from generate import generate; "
    code += "generate(Path(sys.argv[1]), rows=int(sys.argv[2]), seed=7)"
    demo = REPO / "include" / "demo"
    subprocess.run([sys.executable, "-c", code, str(folder), str(rows)], cwd=demo, check=True)


def _machine() -> dict[str, object]:
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


if __name__ == "__main__":
    main()
