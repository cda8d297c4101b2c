"""The continuous-training loop under a real scheduler, in a production-shaped deployment
(tests/system/stack.py): PostgreSQL, Airflow's scheduler, dag-processor, triggerer and
api-server as separate processes, an MLflow server on PostgreSQL with artifacts on S3, moto
as S3. Two pipelines and a broken one (tests/system/project.py) are driven by the scheduler
alone; the test only does what a person or a CI job does over the REST API — unpause,
trigger, approve, clear — and kills the scheduler once:

1. first training of every pipeline, triggered for the first batch (gamma's promotion is
   approved over REST; the scheduler's process group is SIGKILLed during alpha's `retrain`
   and started again);
2. monitoring of the drifted window → the retrain-request Asset event;
3. the asset-triggered training run the scheduler creates → gate → canary → promotion of v2;
4. alpha's `retrain` + `canary_promote` cleared together (one clear, as in the UI);
5. a pipeline whose MLflow connection cannot be read must fail loudly.

Then MLflow (versions, aliases, tags) and the audit log are checked against the release
invariants (tests/system/invariants.py), and the task logs for noise. Problems are recorded
as findings and reported together at the end; the timeline and the measurements go to
test-output/system/results.json (summarised in bench/BENCHMARKS.md, "System test").
"""

from __future__ import annotations

import json
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from . import invariants
from .driver import TERMINAL, UNFINISHED_TASK, Driver
from .processes import kill_strays, sigterm_exits, stop_everything
from .project import (
    ARTIFACT_BUCKET,
    BROKEN,
    DRIFTED_BATCH,
    FIRST_BATCH,
    PIPELINES,
    ROOT,
    STORAGE_BUCKET,
    UNREADABLE_CONNECTION,
    Pipeline,
)
from .project import build as build_project
from .record import Record
from .stack import S3, Airflow, Mlflow, Postgres, postgres_bindir

# A deadline against hangs, not a performance bound: 1,632 s seen at load 7, 1,727 s at 11-16.
pytestmark = [pytest.mark.system, pytest.mark.timeout(3000)]
OUTPUT = ROOT / "test-output" / "system"
RESULTS = OUTPUT / "results.json"
# Deadlines guard against hanging; they are not performance thresholds (measured: bench/).
# Each step gets its own, within one budget for the whole scenario.
FIRST_RUNS_S, MONITORING_S, RETRAIN_S, CLEAR_S, BROKEN_S = 900, 600, 900, 600, 300
SCENARIO_S = 2400
ASSET_RUN_APPEARS_S = 180
KILL_DOWN_S = 5  # how long the scheduler stays dead
LOG_FIRST_SCREEN = 50  # lines: where the decision must be found in a task log
KILLED = PIPELINES[0]  # alpha
CLEARED = PIPELINES[0]  # alpha
FIRST_RUN, DRIFTED_RUN = f"first__{FIRST_BATCH}", f"monitoring__{DRIFTED_BATCH}"


@dataclass
class Deployment:
    base: Path
    airflow: Airflow
    mlflow: Mlflow
    s3: S3
    record: Record
    driver: Driver
    # what the scenario did, for the invariants: DAG run -> versions it may register
    allowed_versions: dict[str, int] = field(default_factory=dict)
    asset_runs: dict[str, str] = field(default_factory=dict)  # pipeline -> its run id
    killed_at: float | None = None  # epoch seconds of the scheduler kill
    deadline: float = field(default_factory=lambda: time.monotonic() + SCENARIO_S)

    def left(self, step_s: float) -> float:
        """A step's deadline: its own, or what is left of the scenario's budget."""
        return max(0.0, min(step_s, self.deadline - time.monotonic()))


@pytest.fixture(scope="module")
def deployment() -> Iterator[Deployment]:
    if postgres_bindir() is None:
        pytest.skip("PostgreSQL is not installed (tests/system_packages.sh installs it as root)")
    # Not pytest's tmp_path: other sessions of the same user rotate those folders away.
    base = Path(tempfile.mkdtemp(prefix="mlops-system-"))
    previous_sigterm = sigterm_exits()
    record = Record(RESULTS)
    logs = base / "service-logs"
    postgres = Postgres(logs)
    try:
        postgres.start()
        s3 = S3(logs)
        s3.start()
        mlflow = Mlflow(logs, postgres, s3, ARTIFACT_BUCKET)
        mlflow.start()
        project = build_project(base, s3.client(), mlflow_ui=mlflow.url)
        connections = {
            "mlflow_default": mlflow.connection(),
            "aws_default": s3.connection(),
            UNREADABLE_CONNECTION: '{"conn_type": "http", "host": ',  # broken JSON on purpose
        }
        airflow = Airflow(base / "airflow-home", project, postgres, connections)
        airflow.migrate()
        airflow.start()
        dags = [p.dag(k) for p in PIPELINES for k in ("training", "monitoring")]
        airflow.wait_ready([*dags, BROKEN.dag("training")])
        record.event("deployment up", base=str(base))
        record.metrics["setup_s"] = record.now()
        yield Deployment(base, airflow, mlflow, s3, record, Driver(airflow, record))
    finally:
        survivors = stop_everything()
        record.metrics["stray_task_processes_killed"] = kill_strays(base)
        postgres.remove_data()
        record.write()
        keep_logs(base)
        shutil.rmtree(base, ignore_errors=True)
        signal.signal(signal.SIGTERM, previous_sigterm)
        assert not survivors, f"process groups survived SIGKILL: {survivors}"


def keep_logs(base: Path) -> None:
    """Every service's log and every task log, under test-output/system/logs for CI."""
    logs = OUTPUT / "logs"
    shutil.rmtree(logs, ignore_errors=True)
    for folder in ("service-logs", "airflow-home/component-logs", "airflow-home/logs"):
        if (base / folder).exists():
            shutil.copytree(base / folder, logs / folder.replace("airflow-home/", "airflow-"))


def test_the_loop_under_a_real_scheduler(deployment: Deployment) -> None:
    d = deployment
    try:
        unpause(d)
        first = first_training(d)
        monitored = drifted_monitoring(d, first)
        promoted = asset_triggered_retraining(d, monitored)
        if CLEARED.name in promoted:
            clear_retrain_and_promote(d)
        check_broken_connection(d)
        check_invariants(d)
        check_nothing_unfinished(d)
        check_task_logs(d)
    finally:
        d.record.write()
    assert not d.record.findings, d.record.summary()


# scenario steps
def unpause(d: Deployment) -> None:
    """What a platform team does after deploying: unpause the pipelines' DAGs."""
    for pipeline in PIPELINES:
        d.driver.unpause(pipeline.dag("training"))
        d.driver.unpause(pipeline.dag("monitoring"))
    d.driver.unpause(BROKEN.dag("training"))


def first_training(d: Deployment) -> list[Pipeline]:
    """Trigger the first batch's training everywhere, kill the scheduler during alpha's
    `retrain`; returns the pipelines whose first model became champion."""
    runs = {p: (p.dag("training"), FIRST_RUN) for p in PIPELINES}
    for dag_id, run_id in runs.values():
        d.driver.trigger(dag_id, run_id, f"{FIRST_BATCH}T00:00:00Z")
        d.allowed_versions[run_id] = 1
    d.driver.trigger(BROKEN.dag("training"), FIRST_RUN, f"{FIRST_BATCH}T00:00:00Z")
    kill_scheduler_during_retrain(d, *runs[KILLED])
    states = d.driver.drive(runs.values(), d.left(FIRST_RUNS_S))
    d.record.event("first training ended", **{p.name: states[r] for p, r in runs.items()})
    if d.killed_at and states[runs[KILLED]] == "success":
        end = _seconds(d.driver.run(*runs[KILLED])["end_date"])
        d.record.metrics["scheduler_kill_to_run_success_s"] = round(end - d.killed_at, 1)
        retry = _seconds(d.driver.tasks(*runs[KILLED])["retrain"]["start_date"])
        d.record.metrics["scheduler_kill_to_retrain_restart_s"] = round(retry - d.killed_at, 1)
    return [p for p, key in runs.items() if expect_success(d, key, states[key], "first_training")]


def kill_scheduler_during_retrain(d: Deployment, dag_id: str, run_id: str) -> None:
    """SIGKILL the scheduler's process group (and so its LocalExecutor workers) while
    `retrain` runs, then start the scheduler again, as a crash-looping pod would."""
    state = d.driver.wait_task(dag_id, run_id, "retrain", {"running"}, d.left(FIRST_RUNS_S))
    if not d.record.expect(
        state == "running",
        "kill_not_done",
        f"{dag_id} {run_id}: `retrain` never seen running, so the scheduler was not killed",
        d.driver.failure_excerpt(dag_id, run_id),
    ):
        return
    scheduler = d.airflow.components["scheduler"]
    scheduler.kill_group(signal.SIGKILL)
    d.killed_at = time.time()
    d.record.event("scheduler SIGKILLed (process group)", during=f"{dag_id} retrain")
    time.sleep(KILL_DOWN_S)
    scheduler.start()
    d.record.event("scheduler started again")


def drifted_monitoring(d: Deployment, pipelines: list[Pipeline]) -> dict[Pipeline, float]:
    """Monitor the drifted window; returns each pipeline whose monitoring run requested
    retraining, with the run's end (epoch seconds)."""
    runs = {p: (p.dag("monitoring"), DRIFTED_RUN) for p in pipelines}
    for dag_id, run_id in runs.values():
        d.driver.trigger(dag_id, run_id, f"{DRIFTED_BATCH}T00:00:00Z")
    states = d.driver.drive(runs.values(), d.left(MONITORING_S))
    requested = {}
    for pipeline, key in runs.items():
        if not expect_success(d, key, states[key], "monitoring"):
            continue
        task = d.driver.states(*key).get("request_retraining")
        if d.record.expect(
            task == "success",
            "no_retrain_request",
            f"{key[0]}: the drifted window did not request retraining (request_retraining: {task})",
        ):
            requested[pipeline] = _seconds(d.driver.run(*key)["end_date"])
    return requested


def asset_triggered_retraining(d: Deployment, requested: dict[Pipeline, float]) -> list[str]:
    """The training runs the scheduler creates from the retrain-request events, followed to
    the end; returns the pipelines whose new version was promoted."""
    runs = {}
    for pipeline in requested:
        run_id = _wait_asset_run(d, pipeline.dag("training"))
        if d.record.expect(
            run_id is not None,
            "no_asset_run",
            f"{pipeline.dag('training')}: no asset-triggered run within "
            f"{ASSET_RUN_APPEARS_S} s of the retrain request",
        ):
            runs[pipeline] = (pipeline.dag("training"), run_id)
            d.asset_runs[pipeline.name] = run_id
            d.allowed_versions[run_id] = 1
    states = d.driver.drive(runs.values(), d.left(RETRAIN_S))
    promoted = []
    for pipeline, key in runs.items():
        if not expect_success(d, key, states[key], "asset_triggered_run"):
            continue
        end = _seconds(d.driver.tasks(*key)["canary_promote"]["end_date"])
        d.record.metrics.setdefault("monitoring_end_to_promoted_v2_s", {})[pipeline.name] = round(
            end - requested[pipeline], 1
        )
        champion = _aliases(d, pipeline.name).get("champion")
        # its own version, by the audit: a duplicate deleted earlier leaves a gap in the numbers
        trained = [
            e["details"].get("version")
            for e in _audit(d, pipeline.name)
            if e["event"] == "trained" and e["run_id"] == key[1]
        ]
        if d.record.expect(
            champion is not None and trained[-1:] == [champion],
            "new_version_not_champion",
            f"{pipeline.name}: after the asset-triggered run, champion is v{champion}, not the "
            f"version that run trained ({', '.join(map(str, trained)) or 'none audited'})",
        ):
            promoted.append(pipeline.name)
    return promoted


def clear_retrain_and_promote(d: Deployment) -> None:
    """One clear of `retrain` + `canary_promote` on alpha's asset-triggered run: a new version
    is trained, but it never passed the gate, so it must not be canaried or promoted."""
    key = (CLEARED.dag("training"), d.asset_runs[CLEARED.name])
    before = _aliases(d, CLEARED.name)
    d.driver.clear(*key, ["retrain", "canary_promote"])
    d.allowed_versions[key[1]] += 1
    waited = time.monotonic()
    states = d.driver.drive([key], d.left(CLEAR_S))
    waited = round(time.monotonic() - waited)
    after = _aliases(d, CLEARED.name)
    d.record.event("cleared run ended", state=states[key], aliases=after, waited_s=waited)
    d.record.expect(
        states[key] in TERMINAL,
        "clear_hangs",
        f"{key}: still {states[key]} {waited} s after the clear (step deadline {CLEAR_S} s, "
        "or what was left of the scenario's)",
        json.dumps(d.driver.states(*key)),
    )
    d.record.expect(
        after.get("champion") == before.get("champion"),
        "cleared_run_promoted_ungated",
        f"{CLEARED.name}: clearing retrain + canary_promote moved champion from "
        f"v{before.get('champion')} to v{after.get('champion')} (never gated)",
        _canary_log_excerpt(d, *key),
    )


def check_broken_connection(d: Deployment) -> None:
    """delta's `mlflow` connection is configured but unreadable: its run must fail, naming
    the connection — not fall back to a worker-local MLflow store."""
    key = (BROKEN.dag("training"), FIRST_RUN)
    state = d.driver.drive([key], d.left(BROKEN_S))[key]
    excerpt = d.driver.failure_excerpt(*key)
    d.record.expect(
        state == "failed" and UNREADABLE_CONNECTION in excerpt,
        "connection_fallback",
        f"{BROKEN.name}: a configured but unreadable MLflow connection gave run state {state} "
        f"and {'no' if UNREADABLE_CONNECTION not in excerpt else 'an'} error naming it",
        excerpt or json.dumps(d.driver.states(*key)),
    )
    local_stores = sorted(str(p) for p in d.base.rglob("mlflow.db"))
    d.record.expect(
        not local_stores,
        "connection_fallback",
        f"a worker-local MLflow store was created: {local_stores}",
    )


def check_invariants(d: Deployment) -> None:
    client = d.mlflow.client()
    for pipeline in PIPELINES:
        registry = _registry(client, pipeline.name)
        audit = _audit(d, pipeline.name)
        promotions = sum(e["event"] == "promoted" for e in audit)
        d.record.metrics.setdefault("versions", {})[pipeline.name] = len(registry.versions)
        d.record.metrics.setdefault("promotions", {})[pipeline.name] = promotions
        d.record.metrics.setdefault("aliases", {})[pipeline.name] = registry.aliases
        for key, message in invariants.check_all(
            pipeline.name, registry, audit, d.allowed_versions
        ):
            d.record.finding(key, message, _audit_excerpt(audit))


def check_nothing_unfinished(d: Deployment) -> None:
    """Every run of every pipeline DAG ended; no task is left waiting or running."""
    for pipeline in (*PIPELINES, BROKEN):
        for kind in ("training", "monitoring"):
            for run in d.driver.runs(pipeline.dag(kind)):
                stuck = {
                    t: s
                    for t, s in d.driver.states(pipeline.dag(kind), run["dag_run_id"]).items()
                    if s in UNFINISHED_TASK
                }
                d.record.expect(
                    not stuck,
                    "unfinished",
                    f"{pipeline.dag(kind)} {run['dag_run_id']} ({run['run_type']}) still has "
                    f"{stuck} at the end",
                    _last_lines(d, pipeline.dag(kind), run["dag_run_id"], list(stuck)),
                )


def check_task_logs(d: Deployment) -> None:
    """The decision on the first screen of the task log, no warning floods, no ERROR lines
    for normal events — on every successful `retrain`, `evaluate` and `canary_promote`."""
    decision = {
        "retrain": ("MLflow run ",),
        "evaluate": ("Gate: ",),
        # promoted after its canary, directly (no canary / no champion yet), or a re-run
        "canary_promote": ("promoted version", "promoting version", "already is the champion"),
    }
    counts: dict[str, dict[str, int]] = {}
    for pipeline in PIPELINES:
        dag_id = pipeline.dag("training")
        for run in d.driver.runs(dag_id):
            tasks = d.driver.tasks(dag_id, run["dag_run_id"])
            for task_id, markers in decision.items():
                ti = tasks.get(task_id)
                if not ti or ti["state"] != "success":
                    continue
                lines = d.driver.log_lines(dag_id, run["dag_run_id"], task_id, ti["try_number"])
                counts[f"{dag_id}/{run['dag_run_id']}/{task_id}"] = _log_counts(lines, markers)
    d.record.metrics["task_logs"] = counts
    for where, c in counts.items():
        d.record.expect(
            c["warnings"] <= 5 and c["errors"] == 0,
            "log_noise",
            f"{where}: {c['lines']} lines, {c['warnings']} warnings "
            f"({c['deprecated_import']} DeprecatedImportWarning), {c['errors']} ERROR lines",
        )
        d.record.expect(
            0 <= c["decision_line"] < LOG_FIRST_SCREEN,
            "decision_buried",
            f"{where}: the decision is on line {c['decision_line']} of {c['lines']}",
        )


# helpers
def expect_success(d: Deployment, key: tuple[str, str], state: str, step: str) -> bool:
    return d.record.expect(
        state == "success",
        f"{step}_{state}",
        f"{key[0]} {key[1]}: {step.replace('_', ' ')} ended {state}",
        d.driver.failure_excerpt(*key) or _blocking_evidence(d, *key),
    )


def _blocking_evidence(d: Deployment, dag_id: str, run_id: str) -> str:
    """Why a run did not get its turn: the other runs of its DAG and their task states."""
    lines = []
    for run in d.driver.runs(dag_id):
        if run["dag_run_id"] != run_id and run["state"] not in TERMINAL:
            states = d.driver.states(dag_id, run["dag_run_id"])
            lines.append(f"{run['dag_run_id']} ({run['run_type']}, {run['state']}): {states}")
            lines.append(_last_lines(d, dag_id, run["dag_run_id"], list(states)))
    return "\n".join(lines)


def _last_lines(d: Deployment, dag_id: str, run_id: str, task_ids: list[str]) -> str:
    """The last lines each task logged itself (Airflow's own start/stop lines left out)."""
    out = []
    for task_id in task_ids:
        for attempt in d.driver.attempts(dag_id, run_id, task_id)[-1:]:
            lines = d.driver.log_lines(dag_id, run_id, task_id, attempt)
            own = [str(x.get("event")) for x in lines if not _boilerplate(str(x.get("event")))]
            out += [f"  {task_id}#{attempt}: {text[:200]}" for text in own[-3:]]
    return "\n".join(out)


def _boilerplate(event: str) -> bool:
    return event.startswith(("::", "DAG bundles loaded", "Filling up the DagBag")) or event in {
        "Worker startup parse complete",
        "Rescheduling task, marking task as UP_FOR_RESCHEDULE",
        "Pausing task as DEFERRED. ",
        "Pushing xcom",
    }


def _wait_asset_run(d: Deployment, dag_id: str) -> str | None:
    deadline = time.monotonic() + ASSET_RUN_APPEARS_S
    while time.monotonic() < deadline:
        runs = d.driver.runs(dag_id, run_type="asset_triggered")
        if runs:
            d.record.event("asset-triggered run created", dag=dag_id, run=runs[0]["dag_run_id"])
            return runs[0]["dag_run_id"]
        time.sleep(2)
    return None


def _aliases(d: Deployment, model: str) -> dict[str, str]:
    return _registry(d.mlflow.client(), model).aliases


def _registry(client: Any, model: str) -> invariants.Registry:
    """The model's versions and aliases; empty when nothing was ever registered."""
    from mlflow.exceptions import MlflowException

    try:
        aliases = {k: str(v) for k, v in client.get_registered_model(model).aliases.items()}
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        return invariants.Registry([], {})
    versions = [
        invariants.Version(str(v.version), v.run_id, dict(v.tags))
        for v in client.search_model_versions(f"name='{model}'")
    ]
    return invariants.Registry(sorted(versions, key=lambda v: int(v.version)), aliases)


def _audit(d: Deployment, pipeline: str) -> list[dict[str, Any]]:
    """The pipeline's audit log. On S3 it is a prefix with one object per line (concurrent
    writers never overwrite each other), read back in time order."""
    s3 = d.s3.client()
    prefix = f"mlops/pipelines/{pipeline}/audit.jsonl/"
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=STORAGE_BUCKET, Prefix=prefix)
    objects = [o for page in pages for o in page.get("Contents", [])]
    lines = []
    for obj in sorted(objects, key=lambda o: (o["LastModified"], o["Key"])):
        body = s3.get_object(Bucket=STORAGE_BUCKET, Key=obj["Key"])["Body"].read().decode()
        lines += [json.loads(line) for line in body.splitlines() if line.strip()]
    return sorted(lines, key=lambda e: e["time"])  # stable: same-second lines keep S3's order


def _audit_excerpt(audit: list[dict[str, Any]]) -> str:
    keep = ("trained", "gated", "approved", "promoted", "rejected", "canary_failed")
    return "\n".join(
        f"{e['time']} {e['run_id']} {e['event']}: "
        + json.dumps({k: v for k, v in e["details"].items() if k in _AUDIT_KEYS})
        for e in audit
        if e["event"] in keep
    )


_AUDIT_KEYS = ("version", "champion", "previous_champion", "decision", "run_id", "choice")


def _canary_log_excerpt(d: Deployment, dag_id: str, run_id: str) -> str:
    lines = []
    for attempt in d.driver.attempts(dag_id, run_id, "canary_promote")[-1:]:
        for line in d.driver.log_lines(dag_id, run_id, "canary_promote", attempt):
            text = str(line.get("event", ""))
            if any(w in text for w in ("version", "Canary", "champion", "promot")):
                lines.append(f"attempt {attempt}: {text[:200]}")
    return "\n".join(lines[:12])


def _log_counts(lines: list[dict[str, Any]], markers: tuple[str, ...]) -> dict[str, int]:
    events = [str(line.get("event", "")) for line in lines]
    return {
        "lines": len(lines),
        "warnings": sum(line.get("level") == "warning" for line in lines),
        "deprecated_import": sum("DeprecatedImportWarning" in e for e in events),
        "errors": sum(line.get("level") in ("error", "critical") for line in lines),
        "decision_line": next(
            (i for i, e in enumerate(events) if any(m in e for m in markers)), -1
        ),
    }


def _seconds(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
