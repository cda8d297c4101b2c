"""Two pipelines under a real scheduler: one `airflow standalone` (SQLite, LocalExecutor with
2 worker slots, SimpleAuthManager) on a free 127.0.0.1 port, both training runs triggered over
REST at its start so the scheduler works on them at once. Nothing is mocked.

A human approval: the `approve` task found waiting in `awaiting_input`, answered with PATCH
.../hitlDetails as user `alice`, and the run followed to the end. The challenger is a cold
start trained with a label bias against one payment method, so its fairness gap passes the
soft limit (not the hard one): the risk score asks a person.

`data.fanout`: the scheduler expands the slice tasks from the plan's XCom (3 mapped task
instances, run as the executor's slots allow), the reduce merges them, and the verdict and
report equal those of one validation of the whole batch.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from .airflow_helpers import aliases, registry
from .test_fanout_dag import CLEAN, SLICED, batches, make_project  # noqa: F401 - a fixture

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DAG_ID = "churn__training"
FANOUT_DAG_ID = f"{SLICED}__training"
FANOUT_STORE = ".mlops-fanout"  # its own MLflow store: no two runs write one SQLite file
DEADLINE = 900  # seconds: a guard against hanging forever, not a performance threshold


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def risky_pipeline(demo_data: Path) -> str:
    """The example, run on demand only, with a trainer knob that makes the model unfair."""
    text = (ROOT / "dags" / "churn.yaml").read_text()
    edits = {
        "include/demo/data": str(demo_data),
        "min_rows: 1000": "min_rows: 100",
        'schedule: "@weekly"\n': "",
        "retrain_on_request: true": "retrain_on_request: false",
        "  wait: {marker: _SUCCESS, timeout_minutes: 360, poke_minutes: 5}": "",
        "params: {learning_rate: 0.1, max_iter: 200, max_depth: 6}": "params: {learning_rate: 0.1,"
        " max_iter: 200, max_depth: 6, bias_group: payment_method=mailed-check, bias_rate: 0.3}",
    }
    for old, new in edits.items():
        assert old in text, old
        text = text.replace(old, new)
    return text[: text.index("\nmonitoring:")] + "\n"


@pytest.fixture(scope="module")
def airflow_server(
    tmp_path_factory: pytest.TempPathFactory,
    demo_data: Path,
    batches: Path,  # noqa: F811 - the fixture imported above
) -> Iterator[dict[str, Any]]:
    """One Airflow for the module: the risky churn pipeline and the fan-out pipeline in one
    dags folder, each training run triggered as soon as its DAG is parsed."""
    tmp_path = tmp_path_factory.mktemp("standalone")
    home, project = tmp_path / "airflow", tmp_path / "project"
    (project / "dags").mkdir(parents=True)
    home.mkdir()
    shutil.copy(ROOT / "dags" / "pipelines.py", project / "dags")
    (project / "dags" / "churn.yaml").write_text(risky_pipeline(demo_data))
    shutil.copytree(ROOT / "include" / "trainer", project / "include" / "trainer")
    (project / "dags" / f"{SLICED}.yaml").write_text(fanout_pipeline(tmp_path, batches))
    with standalone(project, home, tmp_path / "standalone.log") as server:
        dags, headers = f"{server['base']}/api/v2/dags", server["headers"]
        runs = {
            DAG_ID: trigger(f"{dags}/{DAG_ID}", headers, "2026-11-01", "approval-test"),
            FANOUT_DAG_ID: trigger(f"{dags}/{FANOUT_DAG_ID}", headers, CLEAN, "fanout-test"),
        }
        yield {**server, "project": project, "runs": runs}


def fanout_pipeline(tmp_path: Path, batches: Path) -> str:  # noqa: F811
    """test_fanout_dag's 3-slice pipeline, run on demand only, with its own store."""
    text = (
        make_project(tmp_path, SLICED, batches, "{slices: 3}") / "dags" / f"{SLICED}.yaml"
    ).read_text()
    weekly = 'schedule: "@weekly"'
    assert weekly in text
    return text.replace(weekly, "schedule: null") + f"storage: {{root: {FANOUT_STORE}}}\n"


@contextmanager
def standalone(project: Path, home: Path, log_path: Path) -> Iterator[dict[str, Any]]:
    """`airflow standalone` over `project`'s dags folder in `home`, on a free port, with user
    alice (admin); yields its base URL, alice's headers and the log."""
    password = secrets.token_urlsafe(12)
    (home / "passwords.json").write_text(json.dumps({"alice": password}))
    port = free_port()
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(project / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": "2",  # a few LocalExecutor workers, not 32: shared cores
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "alice:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": "5",
        "GX_ANALYTICS_ENABLED": "false",
        # not the fixed 8793/8794: the suite runs another Airflow beside this one
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
    }
    log = log_path.open("w")
    process = subprocess.Popen(
        [str(bin_dir / "airflow"), "standalone"],
        cwd=project,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        token = _wait_for(lambda: _token(base, password), "the API server to log alice in")
        yield {"base": base, "headers": {"Authorization": f"Bearer {token}"}, "log": log_path}
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def _token(base: str, password: str) -> str | None:
    try:
        response = requests.post(
            f"{base}/auth/token", json={"username": "alice", "password": password}, timeout=60
        )
    except requests.ConnectionError:
        return None
    return response.json()["access_token"] if response.status_code in (200, 201) else None


def _wait_for(probe: Any, what: str, interval: float = 3.0) -> Any:
    started = time.monotonic()
    while time.monotonic() - started < DEADLINE:
        value = probe()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"gave up waiting for {what}")


def poller(api: str, headers: dict[str, str]) -> Callable[[str], dict[str, Any]]:
    """GET of a path under `api` as a poll: a slow answer (SQLite busy while tasks write)
    counts as "not yet" ({})."""

    def get(path: str) -> dict[str, Any]:
        try:
            response = requests.get(f"{api}{path}", headers=headers, timeout=60)
        except requests.Timeout:
            return {}
        return response.json() if response.status_code == 200 else {}

    return get


def trigger(api: str, headers: dict[str, str], day: str, run_id: str) -> str:
    """Trigger the DAG at `api` for `day` once it is parsed; the run's path under `api`."""
    _wait_for(lambda: poller(api, headers)("").get("dag_id"), f"{api} to be parsed")
    started = requests.post(
        f"{api}/dagRuns",
        headers=headers,
        json={"logical_date": f"{day}T00:00:00Z", "dag_run_id": run_id},
        timeout=60,
    )
    assert started.status_code == 200, started.text
    return f"/dagRuns/{started.json()['dag_run_id']}"


def test_approval_over_the_rest_api_promotes_and_records_the_approver(
    airflow_server: dict[str, Any],
) -> None:
    base, headers = airflow_server["base"], airflow_server["headers"]
    api = f"{base}/api/v2/dags/{DAG_ID}"

    get = poller(api, headers)
    run = airflow_server["runs"][DAG_ID]

    waiting: list[int] = []

    def settled_in_awaiting_input() -> bool:
        """awaiting_input on three polls in a row, like a person who reads the request first.
        Observed on Airflow 3.3.2 with LocalExecutor: an answer within a second of the task
        parking, before its worker process has exited, is lost — the executor's "success"
        puts the resumed task up for retry, and the retry asks again."""
        if get(run).get("state") == "failed":
            raise AssertionError(f"the run failed before approval: {get(run + '/taskInstances')}")
        state = get(f"{run}/taskInstances/approve").get("state")
        waiting.append(int(state == "awaiting_input"))
        return waiting[-3:] == [1, 1, 1]

    _wait_for(settled_in_awaiting_input, "the approve task to await input")
    detail = get(f"{run}/taskInstances/approve/-1/hitlDetails")
    assert detail["options"] == ["Approve", "Reject"] and detail["defaults"] == ["Reject"]
    assert "Gate decision: a person must approve" in detail["body"]
    assert "fairness" in detail["body"] and "gate.html" in detail["body"]

    answer = requests.patch(
        f"{api}{run}/taskInstances/approve/-1/hitlDetails",
        headers=headers,
        json={"chosen_options": ["Approve"], "params_input": {}},
        timeout=60,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["responded_by"]["name"] == "alice"
    final = _wait_for(
        lambda: (s := get(run).get("state")) in ("success", "failed") and s, "the run to end"
    )
    states = {ti["task_id"]: ti["state"] for ti in get(f"{run}/taskInstances")["task_instances"]}
    assert final == "success", states
    assert states["approve"] == states["canary_promote"] == "success"
    assert states["reject"] == "skipped"

    project = airflow_server["project"]
    client = registry(project)
    assert aliases(client)["champion"] == "1"
    version = client.get_model_version("churn", "1")
    assert version.tags["mlops.gate"] == "approval"
    assert version.tags["mlops.approved_by"] == "alice"
    assert version.tags["mlops.audit.approved"].endswith("v1 approved by alice")
    audit = [
        json.loads(line)
        for line in (project / ".mlops" / "pipelines" / "churn" / "audit.jsonl").open()
    ]
    events = [(entry["event"], entry["actor"]) for entry in audit]
    gated = next(entry for entry in audit if entry["event"] == "gated")
    assert gated["details"]["decision"] == "approval"
    assert gated["details"]["risk_factors"]["fairness"] > 0
    assert ("approval_requested", "airflow") in events and ("approved", "alice") in events
    requested = next(entry for entry in audit if entry["event"] == "approval_requested")
    page = f"{base}/dags/{DAG_ID}/runs/approval-test/tasks/approve/required_actions"
    assert requested["details"]["url"].startswith(page)  # the link the Slack notice carries
    assert events.index(("approved", "alice")) < events.index(("promoted", "airflow"))


def test_the_scheduler_maps_the_slices_and_the_reduce_decides(
    airflow_server: dict[str, Any],
    batches: Path,  # noqa: F811
) -> None:
    import pandas as pd

    from airflow_mlops_provider.adapters.great_expectations import validate_frame
    from airflow_mlops_provider.core.contract import checks_from_contract
    from airflow_mlops_provider.spec import load_spec

    api = f"{airflow_server['base']}/api/v2/dags/{FANOUT_DAG_ID}"
    get = poller(api, airflow_server["headers"])
    run = airflow_server["runs"][FANOUT_DAG_ID]
    final = _wait_for(
        lambda: (s := get(run).get("state")) in ("success", "failed") and s, "the run to end"
    )
    instances = get(f"{run}/taskInstances")["task_instances"]
    slices = sorted(
        (ti["map_index"], ti["state"])
        for ti in instances
        if ti["task_id"] == "validate_data_slices"
    )
    states = {ti["task_id"]: ti["state"] for ti in instances if ti["map_index"] < 0}
    assert final == "success", states
    assert slices == [(0, "success"), (1, "success"), (2, "success")]
    assert states["validate_data"] == states["retrain"] == "success"  # no champion: train
    assert states["detect_drift_slices"] == "skipped"  # nothing to compare with yet
    assert states["skip_retrain"] == "skipped"

    project = airflow_server["project"]
    reduced = project / FANOUT_STORE / "pipelines" / SLICED / "runs" / FANOUT_DAG_ID
    report = json.loads((reduced / "fanout-test" / "validate_data" / "validation.json").read_text())
    spec = load_spec(project / "dags" / f"{SLICED}.yaml")
    whole = validate_frame(  # one validation of the whole batch, as of the run's interval end
        pd.read_parquet(batches / f"dt={CLEAN}"),
        checks_from_contract(spec.contract),
        now=datetime.fromisoformat(CLEAN).replace(tzinfo=UTC),
    )
    assert (report["passed"], report["row_count"], report["summary"]) == (
        whole.passed,
        whole.row_count,
        whole.summary(),
    )
    assert [(r["rule"], r["status"], r["observed"]) for r in report["results"]] == [
        (r.check.rule, r.status, r.observed) for r in whole.results
    ]
