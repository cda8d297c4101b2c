"""The real services the browser test drives: a throwaway project, `airflow standalone` on
SQLite and an `mlflow server` over the store the pipelines write. Each runs in its own process
group on 127.0.0.1 and a free port; `stop_all()` kills the groups, so nothing outlives a test.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

# The pipelines the test project holds beside the repository's examples.
GATED_PIPELINE = "churn_gated"
BROKEN_FILE = "broken_pipeline.yaml"


def free_port() -> int:
    """A port nobody listens on now (other engineers run servers on this machine too)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(what: str, check: Callable[[], Any], timeout: float, log: Path | None = None) -> Any:
    """Poll `check` until it returns something truthy; fail naming `what` (and the log tail)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(1)
    tail = log.read_text(errors="replace")[-4000:] if log and log.exists() else ""
    raise TimeoutError(f"{what}: not reached within {timeout:.0f} s\n{tail}")


def build_project(base: Path, mlflow_ui_url: str) -> Path:
    """A project like the repository: a copy of `dags/` plus a gated pipeline and a broken YAML,
    the reference trainer, and the demo data generated into `include/demo/data`.

    The copied churn pipeline reads the fixed 2026-11-01 batch (a run triggered today has no
    batch of its own date) and links to the test's MLflow server.
    """
    project = base / "project"
    shutil.copytree(ROOT / "dags", project / "dags")
    shutil.copytree(ROOT / "include" / "trainer", project / "include" / "trainer")
    sys.path.insert(0, str(ROOT / "include" / "demo"))
    try:
        from generate import generate
    finally:
        sys.path.remove(str(ROOT / "include" / "demo"))
    generate(project / "include" / "demo" / "data", rows=4000, seed=7)

    churn = project / "dags" / "churn.yaml"
    text = _replace(churn.read_text(), "dt={{ ds }}\n  format", "dt=2026-11-01\n  format")
    text = _replace(text, "min_rows: 1000", "min_rows: 100")
    # No time schedule: unpausing on trigger would otherwise start the latest weekly run too.
    text = _replace(text, 'schedule: "@weekly"', "schedule: null")
    # Monitoring reads the stable week (a run triggered today has no logs of its own date),
    # with the live bound of a 4000-row model (tests/integration/conftest.py): healthy, so it
    # requests no retraining that would start another training run.
    text = _replace(text, 'schedule: "@daily"\n  source', "schedule: null\n  source")
    text = text.replace("inference_logs/dt={{ ds }}", "inference_logs/dt=2026-11-01")
    text = text.replace("labels/dt={{ ds }}", "labels/dt=2026-11-01")
    text = _replace(text, "min: 0.74, min_labelled_rows", "min: 0.70, min_labelled_rows")
    # A UI test: a machine loaded by other work must not turn the first, auto-promoted
    # version into an approval through its scoring latency (the latency gate has its own tests).
    text = _replace(text, "max_p95_ms: 2000", "max_p95_ms: 60000")
    text += f"\nmlflow:\n  ui_url: {mlflow_ui_url}\n"
    churn.write_text(text)
    # The same model where a person approves every promotion, with its own store.
    gated = _replace(text, "pipeline: churn\n", f"pipeline: {GATED_PIPELINE}\n")
    gated = _replace(gated, "approval: {mode: risk,", "approval: {mode: always,")
    gated += "storage: {root: .mlops-gated}\n"
    (project / "dags" / f"{GATED_PIPELINE}.yaml").write_text(gated)
    # One typo in an otherwise valid pipeline: its config-error DAG must name it.
    broken = _replace(text, "pipeline: churn\n", "pipeline: broken_pipeline\n")
    broken = _replace(broken, "  task: binary", "  taks: binary")
    (project / "dags" / BROKEN_FILE).write_text(broken)
    return project


def _replace(text: str, old: str, new: str) -> str:
    assert old in text, f"the example pipeline changed: {old!r} not found"
    return text.replace(old, new)


class Service:
    """A command in its own process group with its output in a log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.argv, self.env, self.log = name, argv, env, log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                self.argv,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def check_running(self) -> None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            tail = self.log.read_text(errors="replace")[-4000:]
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{tail}")


def stop_all(*services: Service) -> None:
    """SIGTERM to each process group, SIGKILL after 5 s: no child (scheduler, workers, API
    server, triggerer, mlflow's workers) may outlive the test."""
    groups = [s.proc for s in services if s.proc is not None]
    for sig, grace in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        for proc in groups:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(_group_alive(p) for p in groups):
            time.sleep(0.2)
        if not any(_group_alive(p) for p in groups):
            return


def _group_alive(proc: subprocess.Popen[bytes]) -> bool:
    """Any process left in the group (the leader is reaped first, so it cannot linger)."""
    proc.poll()
    pgid = proc.pid
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def base_env(**extra: str) -> dict[str, str]:
    """The venv's bin first on PATH (standalone restarts its parts by name) and this
    checkout's sources on PYTHONPATH for every Airflow process."""
    # Nothing Airflow/MLflow-specific leaks in from the test process (other tests set some).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MLFLOW_"))}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(ROOT / "src")
    env["GX_ANALYTICS_ENABLED"] = "false"
    env.update(extra)
    return env


class MlflowServer(Service):
    """`mlflow server` over the SQLite store the churn pipeline writes (storage.root=.mlops)."""

    def __init__(self, project: Path, port: int, log: Path) -> None:
        store = project / ".mlops"
        store.mkdir(parents=True, exist_ok=True)
        argv = [
            str(BIN / "mlflow"),
            "server",
            "--backend-store-uri",
            f"sqlite:///{store / 'mlflow.db'}",
            "--default-artifact-root",
            (store / "mlartifacts").as_uri(),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ]
        # No background job workers (huey consumers): the test only reads runs.
        env = base_env(MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
        super().__init__("mlflow server", argv, env, log)
        self.url = f"http://127.0.0.1:{port}"

    def wait_ready(self, timeout: float = 120) -> None:
        def up() -> bool:
            self.check_running()
            return _get(f"{self.url}/health") is not None

        wait_for("mlflow server /health", up, timeout, self.log)

    def api(self, path: str) -> Any:
        """GET on MLflow's REST API (`/api/2.0/mlflow/...`)."""
        return _request("GET", f"{self.url}/api/2.0/mlflow/{path}")


class AirflowStandalone(Service):
    """`airflow standalone` (SQLite, LocalExecutor, SimpleAuthManager) on 127.0.0.1."""

    def __init__(self, project: Path, home: Path, port: int) -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.home = home
        self.url = f"http://127.0.0.1:{port}"
        env = base_env(
            AIRFLOW_HOME=str(home),
            AIRFLOW__CORE__DAGS_FOLDER=str(project / "dags"),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__API__HOST="127.0.0.1",
            AIRFLOW__API__PORT=str(port),
            AIRFLOW__API__BASE_URL=self.url,
            AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"{self.url}/execution/",
            AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="True",
            # The log servers' fixed 8793/8794 would collide with another Airflow here (the
            # suite runs two test files at once).
            AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
            AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=str(free_port()),
        )
        super().__init__(
            "airflow standalone", [str(BIN / "airflow"), "standalone"], env, home / "standalone.log"
        )
        self._token: str | None = None

    @property
    def password(self) -> str:
        """The generated admin password standalone keeps under AIRFLOW_HOME."""
        path = self.home / "simple_auth_manager_passwords.json.generated"
        return json.loads(path.read_text())["admin"]

    def wait_ready(self, dag_ids: list[str], timeout: float = 240) -> None:
        """API up, password written, and every expected DAG parsed into the database."""

        def parsed() -> bool:
            self.check_running()
            if not (self.home / "simple_auth_manager_passwords.json.generated").exists():
                return False
            if _get(f"{self.url}/api/v2/monitor/health") is None:
                return False
            try:
                dags = self.api("GET", "/api/v2/dags?limit=100")["dags"]
            except urllib.error.URLError:  # API up, auth not yet: try again
                return False
            known = {d["dag_id"] for d in dags}
            return set(dag_ids) <= known

        wait_for(f"airflow standalone with DAGs {dag_ids}", parsed, timeout, self.log)

    def api(self, method: str, path: str, body: dict | None = None) -> Any:
        """Airflow's REST API as admin (a JWT from /auth/token, fetched once)."""
        if self._token is None:
            token = _request(
                "POST",
                f"{self.url}/auth/token",
                {"username": "admin", "password": self.password},
            )
            self._token = token["access_token"]
        return _request(method, f"{self.url}{path}", body, token=self._token)

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances"
        return {ti["task_id"]: ti["state"] for ti in self.api("GET", path)["task_instances"]}

    def wait_run(self, dag_id: str, run_id: str, states: set[str], timeout: float) -> str:
        """Poll the run until it reaches one of `states`; fail with the task states if not."""

        def reached() -> str | None:
            self.check_running()
            try:
                run = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
            except (TimeoutError, urllib.error.URLError):  # API server busy: ask again
                return None
            return run["state"] if run["state"] in states else None

        try:
            return wait_for(f"{dag_id} {run_id} in {states}", reached, timeout)
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}; tasks: {self.task_states(dag_id, run_id)}") from exc


def _request(method: str, url: str, body: dict | None = None, token: str | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read() or b"null")


def _get(url: str) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.read()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None
