"""The training and monitoring DAGs against real services that fail on purpose.

One stack for the module: `mlflow server` (SQLite + proxied artifacts) reached through the
`mlflow_default` connection (with a password; the server ignores basic auth), S3 on moto's
server behind a proxy that fails the first attempt of every request with 503 SlowDown / 500 /
503 (`aws_default` connection with a secret key), and a local stand-in for Slack's API
(`slack_default` connection holding the token). Connections are AIRFLOW_CONN_* variables, as
deployments define them. What breaks, in order:

1. training: every S3 read and write meets an error first; attempt 1 of `retrain` has its
   trainer SIGKILLed mid-run; during attempt 2 the MLflow server is killed and that
   attempt's trainer, whose client does not retry, fails (a long outage); attempt 3 starts
   while the server is still down and its client's retries ride out the restart (a short
   one), resuming the same MLflow run. Slack rate-limits (429 with Retry-After) the first
   message.
2. every task of that run at once again (a second `dag.test` of the logical date), with
   Slack down (connection refused).
3. monitoring of the stable week.
4. the known secret values are searched in every artefact all this left behind.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from .airflow_helpers import load_dags
from .conftest import LogRecords
from .fault_servers import FakeSlack, FlakyS3, MlflowServer, free_port
from .reliability_record import record

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
TRAIN_DAY = "2026-11-01"
BUCKET = "lake"
PIPELINE = "churn"
TRAINING = f"{PIPELINE}__training"
SECRETS = {
    "aws secret key": f"aws-secret-{uuid.uuid4().hex}",
    "mlflow password": f"mlflow-pass-{uuid.uuid4().hex}",
    "slack token": f"xoxb-{uuid.uuid4().hex}",
}

FAULTY_TRAINER = '''"""Test trainer. Attempt 1 touches the MLflow run and is SIGKILLed by the
test; attempt 2 runs the reference trainer, with a client that does not retry, while the
MLflow server is down; later attempts train normally."""
import os, subprocess, sys, time
from pathlib import Path

flags = Path(os.environ["FAULT_FLAGS"])
attempt = len(list(flags.glob("attempt-*"))) + 1
(flags / f"attempt-{attempt}").touch()
train = str(Path(__file__).with_name("train.py"))


def wait_for(name):
    deadline = time.time() + 600
    while not (flags / name).exists():
        if time.time() > deadline:
            sys.exit(f"faulty.py: gave up waiting for {name}")
        time.sleep(0.2)


if attempt == 1:
    import mlflow

    mlflow.start_run(run_id=os.environ["MLFLOW_RUN_ID"])
    mlflow.log_param("killed_attempt", "1")
    print("faulty.py: training started, waiting to be killed", flush=True)
    (flags / "pid").write_text(str(os.getpid()))
    time.sleep(600)
    sys.exit("faulty.py: was not killed")
if attempt == 2:  # this trainer's MLflow client gives up at once: the attempt fails
    (flags / "stop-server").touch()
    wait_for("server-down")
    impatient = {**os.environ, "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}
    sys.exit(subprocess.call([sys.executable, train], env=impatient))
os.execv(sys.executable, [sys.executable, train])
'''


class Stack:
    """The module's services, project and everything the tests measured."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.project = root / "project"
        self.flags = root / "flags"
        self.logs: list[str] = []
        self.measured: dict[str, Any] = {}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, demo_data: Path, airflow_db: None):
    from moto.server import ThreadedMotoServer

    root = tmp_path_factory.mktemp("faults")
    state = Stack(root)
    (root / "mlflow").mkdir()
    state.flags.mkdir()
    state.mlflow = MlflowServer(root / "mlflow", free_port())
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    state.mlflow.start()  # starting takes a while here: overlap it with the rest of the setup
    try:
        moto.start()
        host, port = moto.get_host_and_port()
        state.moto_url = f"http://{host}:{port}"
        state.s3 = FlakyS3(state.moto_url)
        state.slack = FakeSlack()
        _upload_demo_data(state, demo_data)
        _write_project(state)
        with pytest.MonkeyPatch.context() as env:
            _connections(env, state)
            state.mlflow.wait_up()
            yield state
        state.s3.stop()
    finally:
        moto.stop()
        if state.mlflow.process and state.mlflow.process.poll() is None:
            state.mlflow.kill()


def _direct_s3(state: Stack):
    """A client straight to moto (no faults): for setup and for reading what was written."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=state.moto_url,
        region_name="us-east-1",
        aws_access_key_id="setup",
        aws_secret_access_key="setup",
    )


def _upload_demo_data(state: Stack, demo_data: Path) -> None:
    client = _direct_s3(state)
    client.create_bucket(Bucket=BUCKET)
    for path in demo_data.rglob("*"):
        if path.is_file():
            client.put_object(
                Bucket=BUCKET, Key=str(path.relative_to(demo_data)), Body=path.read_bytes()
            )


def _write_project(state: Stack) -> None:
    project = state.project
    (project / "dags").mkdir(parents=True)
    shutil.copy(ROOT / "dags" / "pipelines.py", project / "dags")
    shutil.copytree(ROOT / "include" / "trainer", project / "include" / "trainer")
    (project / "include" / "trainer" / "faulty.py").write_text(FAULTY_TRAINER)
    text = (ROOT / "dags" / "churn.yaml").read_text()
    for old, new in [
        ("include/demo/data/batches", f"s3://{BUCKET}/batches"),
        ("include/demo/data/inference_logs", f"s3://{BUCKET}/inference_logs"),
        ("min_rows: 1000", "min_rows: 100"),
        (
            "include/trainer/train.py]",
            'include/trainer/faulty.py]\n  env: {FAULT_FLAGS: "@FLAGS@"}',
        ),
        ("max_iter: 200", "max_iter: 60"),
        ("# notifications:\n#   slack:", "notifications:\n  slack:"),
    ]:
        assert old in text, old
        text = text.replace(old, new)
    text = text.replace("@FLAGS@", str(state.flags))
    text += f"retries: 2\nstorage: {{root: 's3://{BUCKET}/mlops'}}\n"
    (project / "dags" / "churn.yaml").write_text(text)


def _connections(env: pytest.MonkeyPatch, state: Stack) -> None:
    """Connections as deployments define them; the trainer subprocess reads S3 with the
    standard AWS variables (it inherits those, not Airflow connections)."""
    aws = {
        "conn_type": "aws",
        "login": "AKIAFAULTTESTS",
        "password": SECRETS["aws secret key"],
        "extra": {"endpoint_url": state.s3.url, "region_name": "us-east-1"},
    }
    mlflow = {
        "conn_type": "http",
        "host": "127.0.0.1",
        "port": state.mlflow.port,
        "login": "mlops-bot",
        "password": SECRETS["mlflow password"],
    }
    slack = {"conn_type": "slack", "password": SECRETS["slack token"], "host": state.slack.url}
    env.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(aws))
    env.setenv("AIRFLOW_CONN_MLFLOW_DEFAULT", json.dumps(mlflow))
    env.setenv("AIRFLOW_CONN_SLACK_DEFAULT", json.dumps(slack))
    env.setenv("AWS_ACCESS_KEY_ID", "AKIAFAULTTESTS")
    env.setenv("AWS_SECRET_ACCESS_KEY", SECRETS["aws secret key"])
    env.setenv("AWS_ENDPOINT_URL", state.s3.url)
    env.setenv("AWS_DEFAULT_REGION", "us-east-1")
    env.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "7")  # MLflow's defaults, made explicit
    env.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "2")
    for name in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        env.setenv(name, "")  # the worker has none: they come from the connection, per call


def _day(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


def _run(
    state: Stack,
    dag: Any,
    day: str,
    capfd: pytest.CaptureFixture[str],
    logged: LogRecords,
    conf: dict | None = None,
) -> Any:
    """dag.test() one logical date; keep its whole log for the assertions and the secret
    search: the processes' output (capfd: trainers, Airflow) and the log records (`logged`:
    in the whole suite, Airflow's log handler may write to an earlier test's capture)."""
    try:
        return dag.test(logical_date=_day(day), run_conf=conf)
    finally:
        out = capfd.readouterr()
        state.logs.append(out.out + out.err + logged.text())
        logged.lines.clear()
        (state.root / f"run-{len(state.logs)}.log").write_text(state.logs[-1])  # to debug


def _client(state: Stack):
    from airflow_mlops_provider.adapters import mlflow_registry

    return mlflow_registry.client(state.mlflow.url)


def _counts(state: Stack) -> dict[str, Any]:
    client = _client(state)
    experiment = client.get_experiment_by_name(PIPELINE)
    model = client.get_registered_model(PIPELINE)
    listing = _direct_s3(state).list_objects_v2(
        Bucket=BUCKET, Prefix=f"mlops/pipelines/{PIPELINE}/"
    )
    keys = [o["Key"] for o in listing.get("Contents", [])]
    return {
        "mlflow runs": len(client.search_runs([experiment.experiment_id])),
        "model versions": len(client.search_model_versions(f"name='{PIPELINE}'")),
        "champion": str(model.aliases.get("champion")),
        "snapshots": len({k.split("/")[4] for k in keys if "/snapshots/" in k}),
    }


def _audit_events(state: Stack) -> list[str]:
    return [line["event"] for line in _audit(state)]


def _audit(state: Stack) -> list[dict[str, Any]]:
    """The audit log's lines (one S3 object each), oldest first."""
    client = _direct_s3(state)
    listing = client.list_objects_v2(
        Bucket=BUCKET, Prefix=f"mlops/pipelines/{PIPELINE}/audit.jsonl/"
    )
    lines = [
        json.loads(client.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read())
        for o in listing.get("Contents", [])
    ]
    return sorted(lines, key=lambda line: line["time"])


@pytest.fixture
def conductor(stack: Stack) -> Iterator[dict[str, Any]]:
    """The test's side of the faulty trainer: SIGKILL attempt 1, crash the MLflow server
    when attempt 2 asks, and start it again only once attempt 3 is running, so that attempt's
    first MLflow calls meet the outage and must ride it out with the client's retries."""
    timings: dict[str, Any] = {}
    stop = threading.Event()

    def wait_for(name: str) -> bool:
        while not (stack.flags / name).exists():
            if stop.wait(0.2):
                return False
        return True

    def conduct() -> None:
        if not wait_for("pid"):
            return
        os.kill(int((stack.flags / "pid").read_text()), signal.SIGKILL)
        if not wait_for("stop-server"):
            return
        stack.mlflow.kill()
        down = time.monotonic()
        (stack.flags / "server-down").touch()
        while not _attempt_running(3):
            if stop.wait(0.2):
                return
        stack.mlflow.start()
        timings["restart_s"] = stack.mlflow.wait_up()
        timings["server_up_at"] = datetime.now(UTC)
        timings["outage_s"] = time.monotonic() - down

    thread = threading.Thread(target=conduct, daemon=True)
    thread.start()
    yield timings
    stop.set()
    thread.join(timeout=30)


def _attempt_running(try_number: int) -> bool:
    """Whether retrain's attempt try_number is running (read from Airflow's database)."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select
    from sqlalchemy.exc import OperationalError

    query = select(TaskInstance.try_number, TaskInstance.state).where(
        TaskInstance.dag_id == TRAINING,
        TaskInstance.task_id == "retrain",
        TaskInstance.state == "running",
    )
    try:
        with create_session() as session:
            return any(row.try_number >= try_number for row in session.execute(query))
    except OperationalError:  # SQLite busy with the run's own writes: ask again
        return False


def test_training_recovers_from_s3_trainer_and_mlflow_faults(
    stack: Stack,
    conductor: dict[str, Any],
    capfd: pytest.CaptureFixture[str],
    logged: LogRecords,
    request: pytest.FixtureRequest,
) -> None:
    dag = load_dags(stack.project)[TRAINING]
    for task in dag.tasks:  # Airflow's retry delay (30 s in the DAG) would only add waiting
        task.retry_delay = timedelta(seconds=1)
    stack.s3.enabled = True
    stack.slack.script = [429]

    dag_run = _run(stack, dag, TRAIN_DAY, capfd, logged)

    log = stack.logs[-1]
    tis = {ti.task_id: ti for ti in dag_run.get_task_instances()}
    assert str(dag_run.state) == "success", {t: str(ti.state) for t, ti in tis.items()}
    assert tis["retrain"].try_number == 3
    assert "trainer was killed by SIGKILL" in log
    assert stack.mlflow.url in log and "Connection refused" in log  # attempt 2, while down
    # Attempt 3 started while the server was down (the conductor waited for it) and its
    # MLflow client's retries rode out the restart: it is the attempt that succeeded.
    assert tis["retrain"].start_date < conductor["server_up_at"]
    assert "MLflow run" in log and "resuming the unfinished training of an earlier try" in log
    counts = _counts(stack)
    assert counts == {"mlflow runs": 1, "model versions": 1, "champion": "1", "snapshots": 1}
    run = _client(stack).get_run(_client(stack).get_model_version(PIPELINE, "1").run_id)
    assert run.data.params["killed_attempt"] == "1"  # the killed attempt's run was resumed
    assert stack.s3.injected["read"] > 0 and stack.s3.injected["write"] > 0
    statuses = [r["status"] for r in stack.slack.received]
    assert statuses[:2] == [429, 200]  # the 429 was waited out (Retry-After: 1), then sent
    assert all(r["auth"] == f"Bearer {SECRETS['slack token']}" for r in stack.slack.received)
    events = _audit_events(stack)
    assert events.count("trained") == 1 and events.count("promoted") == 1
    stack.measured["training"] = {**counts, "events": events}
    record(
        "faults-training",
        scenario="training run: S3 fails every request once, trainer SIGKILLed (attempt 1), "
        "MLflow server killed during attempt 2 and restarted, Slack 429 Retry-After",
        test=request.node.nodeid,
        outcome={
            "DAG run": str(dag_run.state),
            "retrain attempts": tis["retrain"].try_number,
            "S3 faults injected (reads/writes)": (
                f"{stack.s3.injected['read']}/{stack.s3.injected['write']}"
            ),
            "S3 fault codes": dict(sorted(stack.s3.codes.items())),
            "S3 requests passed (reads/writes)": (
                f"{stack.s3.passed['read']}/{stack.s3.passed['write']}"
            ),
            **counts,
            "Slack answers": statuses,
        },
    )
    record(
        "faults-mlflow-outage",
        scenario="MLflow server killed (SIGKILL, whole process group) during retrain attempt 2, "
        "restarted on the same port once attempt 3 is running",
        test=request.node.nodeid,
        outcome={
            "attempt 2 (client without retries)": "failed: trainer error names the server URL "
            "and 'Connection refused'",
            "attempt 3 (MLflow's default 7 retries)": "started during the outage, succeeded",
            "attempt 3 started before the server was back (s)": round(
                (conductor["server_up_at"] - tis["retrain"].start_date).total_seconds(), 1
            ),
            "server down (s)": round(conductor["outage_s"], 1),
            "restart took (s)": round(conductor["restart_s"], 1),
            "MLflow runs / versions after": f"{counts['mlflow runs']} / {counts['model versions']}",
        },
    )


def test_clearing_every_task_at_once_with_slack_down(
    stack: Stack, capfd: pytest.CaptureFixture[str], logged: LogRecords, request
) -> None:
    """A second dag.test of the logical date replaces the run (same run id, all tasks anew):
    the drift step now sees the champion trained on this very snapshot, so nothing retrains.
    Slack is down this time (connection refused): the run still succeeds."""
    before = _counts(stack)
    notified_before = len(_notifications(stack))
    dag = load_dags(stack.project)[TRAINING]
    stack.s3.seen.clear()  # every request of this run meets an error first, too
    stack.slack.stop()  # connection refused from now on

    dag_run = _run(stack, dag, TRAIN_DAY, capfd, logged)

    states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
    assert str(dag_run.state) == "success", states
    assert states["retrain"] == "skipped" and states["skip_retrain"] == "success"
    after = _counts(stack)
    assert after == before
    events = _audit_events(stack)
    assert events.count("trained") == 1 and events.count("promoted") == 1
    (status,) = _notifications(stack)[notified_before:]
    assert status.startswith("failed:") and "Connection refused" in status  # and logged:
    # the adapter's warning is checked in test_faults_slack.py
    record(
        "faults-clear-all",
        scenario="every task of the finished training run cleared at once (S3 faults still on)",
        test=request.node.nodeid,
        outcome={
            "before": before,
            "after": after,
            "task states": {t: s for t, s in states.items() if t != "wait_for_batch"},
            "audit events added": len(events) - len(stack.measured["training"]["events"]),
        },
    )
    record(
        "faults-slack-down",
        scenario="Slack unreachable (connection refused) during that run",
        test=request.node.nodeid,
        outcome={"DAG run": str(dag_run.state), "notify": states["notify"], "status": status},
    )


def _notifications(stack: Stack) -> list[str]:
    return [line["details"]["status"] for line in _audit(stack) if line["event"] == "notified"]


def test_monitoring_on_the_faulty_stack(
    stack: Stack, capfd: pytest.CaptureFixture[str], logged: LogRecords, request
) -> None:
    """The stable week (no retrain request: the Airflow database, where requests and their
    cooldown live, is shared with the other test modules), for the secret search below."""
    stack.s3.seen.clear()
    dag = load_dags(stack.project)[f"{PIPELINE}__monitoring"]

    dag_run = _run(stack, dag, TRAIN_DAY, capfd, logged)

    states = {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}
    assert str(dag_run.state) == "success" and states["healthy"] == "success", states


def _files_with(root: Path, needles: dict[str, bytes]) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            found += [f"{path}: {name}" for name, value in needles.items() if value in data]
    return found


def test_no_secret_in_any_artefact(stack: Stack, request) -> None:
    needles = {name: value.encode() for name, value in SECRETS.items()}
    basic = base64.b64encode(f"mlops-bot:{SECRETS['mlflow password']}".encode())
    needles["mlflow basic-auth header"] = basic
    home = Path(os.environ["AIRFLOW_HOME"])
    places = {
        "task logs (stdout of every run)": "\n".join(stack.logs).encode(),
    }
    leaks = [
        f"{place}: {name}"
        for place, data in places.items()
        for name, value in needles.items()
        if value in data
    ]
    leaks += _files_with(home, needles)  # logs, airflow.db: XCom, rendered fields, ...
    leaks += _files_with(stack.project, needles)
    leaks += _files_with(stack.root / "mlflow", needles)  # tracking store, artifacts, log
    client = _direct_s3(stack)
    keys = [
        o["Key"]
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
        for o in page.get("Contents", [])
    ]
    for key in keys:  # snapshots, reports, audit log, quarantine
        data = client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        leaks += [f"s3://{BUCKET}/{key}: {n}" for n, v in needles.items() if v in data]
    assert stack.slack.received  # the token was used (the Slack stand-in saw it)...
    assert leaks == []  # ...and was written nowhere
    assert os.environ["MLFLOW_TRACKING_PASSWORD"] == ""  # nor into the worker's environment
    control = {"dag id": TRAINING.encode()}  # the search does find what is there
    assert _files_with(home, control) and _files_with(stack.root / "mlflow", control)
    xcom_rows = _xcom_rows()
    assert xcom_rows > 0
    record(
        "security-secrets",
        scenario="known secrets (AWS key, MLflow password, Slack token) after the runs above",
        test=request.node.nodeid,
        outcome={
            "places searched": "task logs, AIRFLOW_HOME (logs, airflow.db incl. XCom and "
            "rendered fields), project, MLflow store + artifacts + server log, every S3 object",
            "S3 objects searched": len(keys),
            "XCom rows in the database": xcom_rows,
            "log bytes searched": sum(len(log) for log in stack.logs),
            "secret occurrences found": len(leaks),
        },
    )


def _xcom_rows() -> int:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    with create_session() as session:
        return session.scalar(select(func.count()).select_from(XComModel))
