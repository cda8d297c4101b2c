"""`airflow-mlops demo`: the continuous-training loop on the embedded default, through a
real scheduler.

`airflow standalone` (scheduler, dag-processor, triggerer, API server; SQLite) runs in the
background with the state under `<project>/.mlops/` (local MLflow store, local files). The
demo triggers runs the way a person does in the UI (REST API, the batch's date as logical
date) and waits for them; the retraining that monitoring requests is started by the scheduler
from the Asset event. Afterwards `make ui` opens the same Airflow, with every run and task log.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from airflow_mlops_provider.core.audit_text import describe
from airflow_mlops_provider.core.text import wrap

if TYPE_CHECKING:
    from airflow_mlops_provider.local_airflow import LocalAirflow

PIPELINE = "churn"
TRAINING, MONITORING, HEALTH = (
    f"{PIPELINE}__{kind}" for kind in ("training", "monitoring", "health")
)
SEEDS = (0, 1)  # release trials: seeds of the deliberately worse challenger
FIRST, SECOND = "2026-11-01", "2026-11-08"
RUN_TIMEOUT_S = 1200  # a run that waits for a person would never end: the demo's gate does not
ASSET_RUN_TIMEOUT_S = 180  # monitoring end -> the scheduler's asset-triggered training run
STEP_TIMEOUT_S = 600

# The demo runs the repository's own example project; the wheel ships none of it.
CHECKOUT_FILES = ("dags/churn.yaml", "include/demo/generate.py", "include/trainer/train.py")


def missing_checkout_files(project: Path) -> list[str]:
    return [name for name in CHECKOUT_FILES if not (project / name).is_file()]


def run_demo(project: Path) -> int:
    from airflow_mlops_provider.local_airflow import AirflowUnavailable, LocalAirflow
    from airflow_mlops_provider.ui_server import choose_port, ui_env

    missing = missing_checkout_files(project)
    if missing:
        print(
            f"airflow-mlops demo runs the example project of a repository checkout, and "
            f"{project} lacks {', '.join(missing)} (the installed package does not ship the "
            "demo data generator, the reference trainer or the example pipeline). Clone "
            "airflow-mlops-provider and run `make demo` there, or pass --project <checkout>.",
            file=sys.stderr,
        )
        return 2
    state = project / ".mlops"
    if state.exists():
        print(f"Previous demo state found in {state}: starting clean (it is removed first).")
        shutil.rmtree(state)
    else:
        print(f"No previous demo state: starting fresh in {state}.")
    generate = [sys.executable, "include/demo/generate.py", "--out", "include/demo/data"]
    if code := _step("Generating the seeded demo data (include/demo/data)", generate, project):
        return code
    port, _ = choose_port(None)
    env = ui_env(project, port)
    log = state / "demo-logs" / "airflow-standalone.log"
    print(
        "\n== Starting Airflow (scheduler, dag-processor, triggerer, API server) on "
        + env["AIRFLOW__API__BASE_URL"]
    )
    started = time.monotonic()
    try:
        with LocalAirflow(env, _airflow(), log) as airflow:
            airflow.wait_ready([TRAINING, MONITORING, HEALTH])
            print(
                f"   ready in {time.monotonic() - started:.0f}s; "
                f"its log: {log.relative_to(project)}"
            )
            if not _loop(airflow, project):
                return 1
    except AirflowUnavailable as exc:
        print(f"   Airflow did not do what the demo waited for: {exc}")
        return 1
    print_summary(project, state)
    return 0


def _loop(airflow: LocalAirflow, project: Path) -> bool:
    """The loop's steps; False (after saying why) as soon as one fails."""
    steps = [
        (
            f"1. Training on the {FIRST} batch: no champion yet, so train v1 and promote it",
            TRAINING,
            FIRST,
        ),
        (
            f"2. Monitoring the {FIRST} inference logs (scored by v1) and the labels that "
            "arrived: expect no drift and a live accuracy above the bound",
            MONITORING,
            FIRST,
        ),
        (
            f"3. Monitoring the {SECOND} inference logs: expect drift, live accuracy below the "
            "bound, and one retrain-request event",
            MONITORING,
            SECOND,
        ),
    ]
    known: set[str] = set()
    for title, dag_id, day in steps:
        run_id = airflow.trigger(dag_id, day)
        # Unpaused once the run is queued: the schedule's latest tick, whose batch the demo
        # data lacks, then gives way to it (docs/runs.md) instead of holding the slot.
        airflow.unpause(dag_id)
        if dag_id == TRAINING:
            known = {r["dag_run_id"] for r in airflow.runs(TRAINING)}
        if not _run(airflow, project, title, dag_id, run_id):
            return False
    print(
        "\n== 4. Retraining, started by the scheduler from monitoring's retrain-request Asset event"
    )
    run_id = airflow.wait_new_run(TRAINING, "asset_triggered", known, ASSET_RUN_TIMEOUT_S)
    if not _run(airflow, project, None, TRAINING, run_id):
        return False
    print_release_trials(project, project / ".mlops")
    title = (
        "6. The daily health report (churn__health): latest monitoring decision, live "
        "metric, champion, last training"
    )
    run_id = airflow.trigger(HEALTH, SECOND)
    airflow.unpause(HEALTH)
    return _run(airflow, project, title, HEALTH, run_id)


def _run(airflow: LocalAirflow, project: Path, title: str | None, dag_id: str, run_id: str) -> bool:
    if title:
        print(f"\n== {title}")
    started = time.monotonic()
    state = airflow.wait_run(dag_id, run_id, RUN_TIMEOUT_S)
    tasks = airflow.task_states(dag_id, run_id)
    print(f"   {dag_id} run {run_id}: {state} in {time.monotonic() - started:.0f}s")
    logs = airflow.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}"
    for line in _highlights(_task_messages(logs)):
        print(f"   {line}")
    if state != "success":
        failed = sorted(t for t, s in tasks.items() if s in ("failed", "upstream_failed"))
        print(f"   failed tasks: {', '.join(failed) or 'none'}; task logs: {logs}")
    return state == "success"


def _task_messages(folder: Path) -> str:
    """The messages of a run's task logs (Airflow 3 writes JSON lines), oldest task first."""
    files = sorted(folder.glob("task_id=*/attempt=*.log"), key=lambda p: p.stat().st_mtime)
    lines = []
    for path in files:
        for raw in path.read_text(errors="replace").splitlines():
            try:
                lines.append(str(json.loads(raw).get("event", "")))
            except (ValueError, AttributeError):
                lines.append(raw)
    return "\n".join(lines)


def print_release_trials(project: Path, state: Path) -> None:
    """Release acceptance on the champion's own holdout: a deliberately worse challenger is
    rejected for every seed, and an unfair one is sent to a person.

    In-process, through the same `core.evaluation.evaluate` the `evaluate` task calls (the
    challengers are trained with the reference trainer's own code and label knobs): three
    more training runs would add minutes, and a run whose gate asks a person waits for one.
    `make ui` shows the real `approve` task."""
    import mlflow
    import pandas as pd

    from airflow_mlops_provider.adapters import mlflow_registry as registry
    from airflow_mlops_provider.core.evaluation import evaluate
    from airflow_mlops_provider.spec import load_spec

    print(
        "\n== 5. Release gate trials on v2's holdout (in-process, the same gate code as the "
        "evaluate task; challengers trained by the reference trainer with its label knobs)"
    )
    started = time.monotonic()
    sys.path.insert(0, str(project / "include" / "trainer"))
    import train as trainer

    spec = load_spec(project / "dags" / f"{PIPELINE}.yaml")
    data = spec.data
    uri = f"sqlite:///{state / 'mlflow.db'}"
    registry.client(uri)  # the process's tracking URI, for loading the champion below
    champion = registry.Registry(PIPELINE, registry.Tracking(uri)).by_alias(registry.CHAMPION)
    assert champion is not None, "the demo's training steps promote a champion"
    train = pd.read_parquet(champion.tags["mlops.train_data"])
    holdout = pd.read_parquet(champion.tags["mlops.holdout_data"])
    model_spec = {**data.features.model_dump(), "target": data.target, "task": data.task}
    champion_model = mlflow.pyfunc.load_model(champion.uri)

    def trial(title: str, params: dict, against: object | None) -> str:
        params = {**trainer.DEFAULT_PARAMS, **params}
        labels = trainer.perturb_labels(train, data.target, params, data.task)
        model = trainer.build_model(model_spec, params).fit(train[data.features.all], labels)
        result = evaluate(
            holdout=holdout,
            challenger=model.predict_proba,
            champion=against,
            data=data,
            evaluation=spec.evaluation,
            approval=spec.approval,
        )
        print(f"   {title}: {result['decision'].upper()}")
        for reason in result["reasons"]:
            print("      " + wrap(reason, 104, "        "))
        return result["decision"]

    worse = [
        trial(
            f"worse challenger (label_noise 0.3, seed {seed}) vs champion v{champion.version}",
            {"label_noise": 0.3, "random_state": seed},
            champion_model.predict,
        )
        for seed in SEEDS
    ]
    # bias strength chosen so the gap lands between the soft and the hard fairness limit
    unfair = trial(
        "unfair first model (label bias on payment_method=mailed-check), no champion",
        {"bias_group": "payment_method=mailed-check", "bias_rate": 0.25},
        None,
    )
    print(f"   -> the worse challenger was rejected in {worse.count('reject')}/{len(SEEDS)} seeds")
    if unfair == "approval":
        print(
            "   -> the unfair model needs a person: in a DAG run it waits in the `approve` task "
            "(awaiting_input: no worker slot held) until someone answers or "
            f"{spec.approval.timeout_hours:g} h pass (then: {spec.approval.on_timeout}). Not run "
            "as a DAG here: the demo does not answer approvals for you."
        )
    else:
        print(f"   -> the unfair model's decision is {unfair} (expected: approval)")
    print(f"   done in {time.monotonic() - started:.0f}s")


def airflow_env(project: Path) -> dict[str, str]:
    state = project / ".mlops"
    return {
        **os.environ,
        "AIRFLOW_HOME": str(state / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(project / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }


def _airflow() -> str:
    return str(Path(sys.executable).parent / "airflow")


def _step(title: str, argv: list[str], project: Path) -> int:
    print(f"\n== {title}")
    started = time.monotonic()
    try:
        result = subprocess.run(
            argv, cwd=project, capture_output=True, text=True, check=False, timeout=STEP_TIMEOUT_S
        )
    except subprocess.TimeoutExpired:
        print(f"   no end after {STEP_TIMEOUT_S} s")
        return 1
    print(
        f"   {'done' if result.returncode == 0 else 'FAILED'} in {time.monotonic() - started:.0f}s"
    )
    if result.returncode:
        print("   last lines:\n" + "\n".join((result.stdout + result.stderr).splitlines()[-30:]))
    return result.returncode


def _highlights(text: str) -> list[str]:
    """The decision lines the operators log, so the console shows what happened."""
    keys = (
        "Top drifted features: ",  # the decision's log line, not the alert's header
        "live metric:",
        "monitoring: ",
        "scored the",
        "Decision:",
        "daily health report",
        "champion: v",
        "last training:",
        "Gate:",
        "Snapshot ",
        "promoting version",
        "Requested retraining",
        "rejected:",
        "already is the champion",
        "Canary ",
        "MLflow run ",
    )
    own_line = ("MLflow run ", "Canary ")  # only where the line starts with them
    found = []
    for line in text.splitlines():
        if "Decision: decide " in line:  # detect_drift handing over to monitoring's decide
            continue
        for key in keys:
            if (
                key in line
                and (key not in own_line or line.startswith(key))
                and "(no link" not in line
            ):
                message = wrap(line[line.index(key) :].split(" [airflow")[0], 110, "     ")
                if message not in found:  # the alert repeats the decision's lines
                    found.append(message)
                break
    return found


def print_summary(project: Path, state: Path) -> None:
    from airflow_mlops_provider.adapters import mlflow_registry as registry

    uri = f"sqlite:///{state / 'mlflow.db'}"
    client = registry.client(uri)
    print("\n== Summary")
    by_version: dict[str, list[str]] = {}
    for alias, number in client.get_registered_model(PIPELINE).aliases.items():
        by_version.setdefault(str(number), []).append(alias)
    for version in client.search_model_versions(f"name='{PIPELINE}'"):
        aliases = ", ".join(sorted(by_version.get(str(version.version), []))) or "-"
        tags = version.tags
        print(
            f"   {PIPELINE} v{version.version}: aliases [{aliases}] gate={tags.get('mlops.gate')} "
            f"decision={tags.get('mlops.decision')} snapshot={tags.get('mlops.snapshot_id')}"
        )
    audit = state / "pipelines" / PIPELINE / "audit.jsonl"
    print(f"\n   Audit log ({audit.relative_to(project)}):")
    for line in audit.read_text().splitlines():
        entry = json.loads(line)
        head = f"     {entry['time'][11:19]} {entry['dag_id']:<18} "
        print(head + wrap(describe(entry), 110 - len(head), " " * len(head)))
    reports = sorted(p.relative_to(project) for p in (state / "pipelines").rglob("*.html"))
    print("\n   Reports:\n" + "\n".join(f"     {r}" for r in reports))
    print(f"""
   Look around:
     Airflow UI:  make ui            (airflow standalone; it prints its URL — port 8080, or a
                                      free one when 8080 is taken — and where the admin
                                      password is kept; reports and the MLOps pipelines view
                                      are in the UI)
     MLflow UI:   .venv/bin/mlflow ui --backend-store-uri {uri} --port 5000
     Task logs:   .mlops/airflow/logs/ (Airflow itself: .mlops/demo-logs/airflow-standalone.log)""")
