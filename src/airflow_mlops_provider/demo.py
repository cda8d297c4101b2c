"""`airflow-mlops demo`: the continuous-training loop on the embedded default.

Airflow on SQLite (`airflow dags test`), a local MLflow store and local files, all under
`<project>/.mlops/`. `airflow dags test` runs no scheduler, so the Asset event emitted by the
monitoring DAG does not start training by itself: the demo runs the training DAG next and
says so (with `make ui`, the scheduler does it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from airflow_mlops_provider.core.audit_text import describe
from airflow_mlops_provider.core.text import wrap

PIPELINE = "churn"
SEEDS = (0, 1)  # release trials: seeds of the deliberately worse challenger
FIRST, SECOND = "2026-11-01", "2026-11-08"
STEP_TIMEOUT_S = 1800  # a step waiting for a person would never end under `dags test`
# The demo runs the repository's own example project; the wheel ships none of it.
CHECKOUT_FILES = ("dags/churn.yaml", "include/demo/generate.py", "include/trainer/train.py")


def missing_checkout_files(project: Path) -> list[str]:
    return [name for name in CHECKOUT_FILES if not (project / name).is_file()]


def run_demo(project: Path) -> int:
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
    env = airflow_env(project)
    _step(
        "Generating the seeded demo data (include/demo/data)",
        [sys.executable, "include/demo/generate.py", "--out", "include/demo/data"],
        project,
        env,
    )
    _step(
        "Creating the Airflow metadata database (SQLite)",
        [_airflow(), "db", "migrate"],
        project,
        env,
    )
    steps = [
        (
            f"1. Training on the {FIRST} batch: no champion yet, so train v1 and promote it",
            f"{PIPELINE}__training",
            FIRST,
        ),
        (
            f"2. Monitoring the {FIRST} inference logs (scored by v1) and the labels that "
            "arrived: expect no drift and a live accuracy above the bound",
            f"{PIPELINE}__monitoring",
            FIRST,
        ),
        (
            f"3. Monitoring the {SECOND} inference logs: expect drift, live accuracy below the "
            "bound, and one retrain-request event",
            f"{PIPELINE}__monitoring",
            SECOND,
        ),
        (
            f"4. Training on the {SECOND} batch (in `make ui` the retrain-request Asset schedules "
            "this; `airflow dags test` has no scheduler, so the demo runs it)",
            f"{PIPELINE}__training",
            SECOND,
        ),
    ]
    health = (
        "6. The daily health report (churn__health): latest monitoring decision, live "
        "metric, champion, last training",
        f"{PIPELINE}__health",
        SECOND,
    )
    for title, dag_id, day in steps:
        if code := _run_dag(title, dag_id, day, project, env):
            return code
    print_release_trials(project, state)
    if code := _run_dag(*health, project, env):
        return code
    print_summary(project, state)
    return 0


def _run_dag(title: str, dag_id: str, day: str, project: Path, env: dict[str, str]) -> int:
    return _step(
        title, [_airflow(), "dags", "test", dag_id, day], project, env, log_name=f"{dag_id}-{day}"
    )


def print_release_trials(project: Path, state: Path) -> None:
    """Release acceptance on the champion's own holdout: a deliberately worse challenger is
    rejected for every seed, and an unfair one is sent to a person.

    In-process, through the same `core.evaluation.evaluate` the `evaluate` task calls (the
    challengers are trained with the reference trainer's own code and label knobs), because
    `airflow dags test` cannot answer an approval: a run whose gate asks a person would wait
    forever. `make ui` shows the real `approve` task."""
    import pandas as pd

    from airflow_mlops_provider.adapters.mlflow_registry import CHAMPION, Registry, Tracking
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
    registry = Registry(PIPELINE, Tracking(f"sqlite:///{state / 'mlflow.db'}"))
    champion = registry.by_alias(CHAMPION)
    assert champion is not None, "the demo's training steps promote a champion"
    train = pd.read_parquet(champion.tags["mlops.train_data"])
    holdout = pd.read_parquet(champion.tags["mlops.holdout_data"])
    model_spec = {**data.features.model_dump(), "target": data.target, "task": data.task}
    champion_model = registry.load_model(champion.uri)

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
            "as a DAG here: `airflow dags test` cannot answer an approval."
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


def _step(
    title: str, argv: list[str], project: Path, env: dict[str, str], log_name: str | None = None
) -> int:
    logs = project / ".mlops" / "demo-logs"
    logs.mkdir(parents=True, exist_ok=True)
    log_file = logs / f"{log_name or Path(argv[1]).stem}.log"
    print(f"\n== {title}")
    started = time.monotonic()
    with open(log_file, "w") as out:
        try:
            code = subprocess.run(
                argv,
                cwd=project,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                check=False,
                timeout=STEP_TIMEOUT_S,
            ).returncode
        except subprocess.TimeoutExpired:
            code = 1
            print(
                f"   no end after {STEP_TIMEOUT_S // 60} min: `airflow dags test` cannot answer "
                "a human approval (if the gate asked for one, `make ui` shows the `approve` task)"
            )
    text = log_file.read_text(errors="replace")
    print(
        f"   {'done' if code == 0 else 'FAILED'} in {time.monotonic() - started:.0f}s; "
        f"log: {log_file.relative_to(project)}"
    )
    for line in _highlights(text):
        print(f"   {line}")
    if code != 0:
        print("   last lines of the log:\n" + "\n".join(text.splitlines()[-30:]))
    return code


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
        "MLflow run ",
    )
    found = []
    for line in text.splitlines():
        if "Decision: decide " in line:  # detect_drift handing over to monitoring's decide
            continue
        for key in keys:
            if key in line:
                message = wrap(line[line.index(key) :].split(" [airflow")[0], 110, "     ")
                if message not in found:  # the alert repeats the decision's lines
                    found.append(message)
                break
    return found


def print_summary(project: Path, state: Path) -> None:
    from airflow_mlops_provider.adapters.mlflow_registry import Registry, Tracking

    uri = f"sqlite:///{state / 'mlflow.db'}"
    registry = Registry(PIPELINE, Tracking(uri))
    print("\n== Summary")
    by_version: dict[str, list[str]] = {}
    for alias, number in registry.aliases().items():
        by_version.setdefault(number, []).append(alias)
    for version in registry.versions():
        aliases = ", ".join(sorted(by_version.get(version.version, []))) or "-"
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
     Task logs:   .mlops/demo-logs/ and .mlops/airflow/logs/""")
