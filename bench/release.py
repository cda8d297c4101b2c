"""Canary benchmark on the embedded default: the local router's analysis step, per size.

    .venv/bin/python bench/release.py                  # 10,000 and 100,000 replayed requests
    .venv/bin/python bench/release.py --rows 10000     # quick run

Setup (not timed): a seeded demo dataset (include/demo/generate.py, 20,000 training rows) and
two versions of the churn model trained by the reference trainer into a temporary local MLflow
store; the requests replayed are rows of the labelled batch (a copy repeated up to the size).

Timed per size N, median of `--runs` after one warm-up, both models already loaded (a rollout
loads them once per task process, which is timed separately as `load_models_s`):

- `step_ms`: ONE analysis step of the canary loop as the rollout runs it, at weight 50%:
  route (stable hash split) + score both arms in 64-request micro-batches through mlflow
  pyfunc + write the scored window + read it back + the analysis metrics per arm + `judge` +
  the state machine's `after`. This is the decision latency per analysis step.
- `replay_rps_per_arm`: requests scored per second in each arm during that step.
- anchors on the same N rows: `predict_one_call_ms` (one `model.predict` of all N rows, the
  floor: no routing, no micro-batches) and `predict_batched_ms` (the same micro-batches of 64,
  no routing, no writing, no metrics), both with the champion model. `overhead_vs_*` = step /
  anchor; in the step, too, each request is scored once, by its arm's model.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results"
DEFAULT_ROWS = (10_000, 100_000)
BATCH = 64


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="*", default=list(DEFAULT_ROWS))
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO / "src"))
    work = Path(tempfile.mkdtemp(prefix="airflow-mlops-release-bench-"))
    uptime_before = _uptime()
    setup_started = time.perf_counter()
    batch, store = _setup(work)
    setup_s = time.perf_counter() - setup_started
    results = []
    for n in args.rows:
        results.append(_measure(work, batch, store, n, args.runs))
        print(json.dumps(results[-1]), flush=True)
    report = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "uptime_before": uptime_before,
            "uptime_after": _uptime(),
        },
        "setup_s": round(setup_s, 1),
        "batch_size": BATCH,
        "weight": 50,
        "runs": args.runs,
        "results": results,
    }
    RESULTS.mkdir(exist_ok=True)
    suffix = "" if args.rows == list(DEFAULT_ROWS) else "-r" + "-".join(map(str, args.rows))
    out = RESULTS / f"release-{dt.date.today().isoformat()}{suffix}.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    _print(report)
    print(f"\nwritten: {out.relative_to(REPO)}")
    return 0


def _setup(work: Path) -> tuple[Path, dict]:
    """Seeded data and two trained, registered model versions (the trainer's subprocess)."""
    sys.path.insert(0, str(REPO / "include" / "demo"))
    from generate import generate

    from airflow_mlops_provider.adapters import mlflow_registry

    data = generate(work / "data", rows=20_000, seed=7)
    batch = data["batches/2026-11-01"]
    uri = f"sqlite:///{work}/mlflow.db"
    client = mlflow_registry.client(uri)
    experiment = client.create_experiment("churn", artifact_location=(work / "art").as_uri())
    spec = {
        "target": "churned",
        "numeric": ["tenure_months", "monthly_charges", "total_charges", "support_calls"],
        "categorical": ["contract", "payment_method", "internet_service"],
        "task": "binary_classification",
    }
    for depth in (6, 4):
        run = client.create_run(experiment)
        env = {
            **os.environ,
            "MLFLOW_TRACKING_URI": uri,
            "MLFLOW_RUN_ID": run.info.run_id,
            "MLOPS_TRAIN_DATA": str(batch),
            "MLOPS_HOLDOUT_DATA": str(batch),
            "MLOPS_DATA_SPEC": json.dumps(spec),
            "MLOPS_PARAMS": json.dumps({"max_depth": depth, "max_iter": 100}),
        }
        subprocess.run(
            [sys.executable, str(REPO / "include" / "trainer" / "train.py")],
            env=env,
            check=True,
            capture_output=True,
        )
        mlflow_registry.Registry("churn", mlflow_registry.Tracking(uri)).register(
            run.info.run_id, {}
        )
    return batch, {
        "uri": uri,
        "client": client,
        "features": [*spec["numeric"], *spec["categorical"]],
    }


def _measure(work: Path, batch: Path, store: dict, rows: int, runs: int) -> dict:
    import mlflow
    import pandas as pd

    from airflow_mlops_provider.adapters.metric_sources.replay import ReplaySource
    from airflow_mlops_provider.adapters.routers.local import replay, score
    from airflow_mlops_provider.adapters.storage import Storage
    from airflow_mlops_provider.core import canary
    from airflow_mlops_provider.spec import CanarySpec

    frame = pd.read_parquet(batch)
    requests = pd.concat([frame] * -(-rows // len(frame)), ignore_index=True).iloc[:rows]
    requests["customer_id"] = [f"R{i:09d}" for i in range(rows)]
    started = time.perf_counter()
    models = {
        "canary": mlflow.pyfunc.load_model("models:/churn/2"),
        "champion": mlflow.pyfunc.load_model("models:/churn/1"),
    }
    load_s = time.perf_counter() - started
    steps = list(
        CanarySpec.model_validate(
            {
                "enabled": True,
                "steps": [
                    {"set_weight": 50},
                    {
                        "analysis": {
                            "metrics": {
                                "roc_auc": {"max_regression": 0.05},
                                "error_rate": {"max": 0.01},
                                "latency_p95_ms": {"max_regression": 1.0, "relative": True},
                            },
                            "min_samples": 100,
                            "count": 1,
                        }
                    },
                ],
            },
            strict=False,
        ).steps
    )
    analysis = steps[1].analysis
    storage = Storage(work)
    features = store["features"]

    def step(run: int) -> tuple[float, dict]:
        state = canary.RolloutState("2", "1", step=1, weight=50)
        source = ReplaySource(storage, str(work / f"traffic-{rows}-{run}"), threshold=0.5)
        began = time.perf_counter()
        scored = replay(
            requests,
            models=models,
            versions={"canary": "2", "champion": "1"},
            weight=50,
            features=features,
            id_column="customer_id",
            label="churned",
            salt="churn",
            batch_size=BATCH,
        )
        storage.write_frame(scored, storage.join(source.step_folder(1), "m-00.parquet"))
        values = source.measure(list(analysis.metrics), challenger="2", champion="1", step=1)
        verdict = canary.judge(analysis.metrics, values[0], values[1], values[2], 100)
        canary.after(steps, state, canary.Action(canary.ANALYSE), time.time(), verdict)
        elapsed = time.perf_counter() - began
        # Each request carries its micro-batch's latency: per arm, summing latency / batch
        # length over requests gives the time spent scoring that arm.
        scored_ms = {arm: _arm_scoring_ms(scored[scored.arm == arm]) for arm in models}
        arm_rows = {arm: int((scored.arm == arm).sum()) for arm in models}
        return elapsed, {"verdict": verdict.status, "rows": arm_rows, "scored_ms": scored_ms}

    def one_call() -> float:
        began = time.perf_counter()
        models["champion"].predict(requests[features])
        return time.perf_counter() - began

    def batched() -> float:
        began = time.perf_counter()
        score(models["champion"], requests[features], BATCH)
        return time.perf_counter() - began

    step(-1), one_call(), batched()  # warm-up (also: models and code paths loaded)
    step_s, anchors_one, anchors_batched, details = [], [], [], []
    for run in range(runs):
        elapsed, detail = step(run)
        step_s.append(elapsed)
        details.append(detail)
        anchors_one.append(one_call())
        anchors_batched.append(batched())
    median_step = statistics.median(step_s)
    last = details[-1]
    rps = {arm: round(last["rows"][arm] / (last["scored_ms"][arm] / 1000)) for arm in last["rows"]}
    one, batch_ms = statistics.median(anchors_one), statistics.median(anchors_batched)
    return {
        "rows": rows,
        "load_models_s": round(load_s, 3),
        "step_ms": round(median_step * 1000, 1),
        "step_ms_all": [round(s * 1000, 1) for s in step_s],
        "replay_rps_per_arm": rps,
        "arm_rows": last["rows"],
        "verdict": last["verdict"],
        "predict_one_call_ms": round(one * 1000, 1),
        "predict_batched_ms": round(batch_ms * 1000, 1),
        "overhead_vs_one_call": round(median_step / one, 1),
        "overhead_vs_batched": round(median_step / batch_ms, 2),
    }


def _arm_scoring_ms(rows) -> float:
    sizes = [min(BATCH, len(rows) - start) for start in range(0, len(rows), BATCH)]
    per_row = [1 / size for size in sizes for _ in range(size)]
    return float((rows["latency_ms"].to_numpy() * per_row).sum())


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def _print(report: dict) -> None:
    print(f"{report['date']}  {report['machine']['uptime_after']}")
    print(
        f"{'rows':>8} {'step ms':>9} {'rps/arm (canary, champion)':>28} "
        f"{'1-call ms':>10} {'batched ms':>11} {'x 1-call':>9} {'x batched':>10}"
    )
    for r in report["results"]:
        rps = r["replay_rps_per_arm"]
        print(
            f"{r['rows']:>8} {r['step_ms']:>9} {rps['canary']:>13} {rps['champion']:>14} "
            f"{r['predict_one_call_ms']:>10} {r['predict_batched_ms']:>11} "
            f"{r['overhead_vs_one_call']:>9} {r['overhead_vs_batched']:>10}"
        )


if __name__ == "__main__":
    raise SystemExit(main())
