"""A real Airflow for the embedded default: `airflow standalone` (scheduler, dag-processor,
triggerer and API server on SQLite) in the background, driven over its REST API.

`make demo` runs the continuous-training loop through it: runs are triggered the way a person
does it in the UI (`POST /api/v2/dags/{dag}/dagRuns`), and the retraining the monitoring DAG
requests is started by the scheduler from the Asset event, not by the demo. The process group
is stopped on exit; the state (metadata database, task logs) stays for `make ui`.

Every request has a deadline; every wait has a deadline and says what it waited for.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

REQUEST_TIMEOUT_S = 30
READY_TIMEOUT_S = 300
PASSWORD_FILE = "simple_auth_manager_passwords.json.generated"
TERMINAL = ("success", "failed")


class AirflowUnavailable(RuntimeError):
    """Airflow did not start, stopped, or did not answer in time; the message says which and
    ends with the tail of its log."""


class LocalAirflow:
    """`airflow standalone` in its own process group, with `env` (AIRFLOW_HOME, DAGs folder,
    API host/port and the execution API URL: ui_server.ui_env)."""

    def __init__(self, env: Mapping[str, str], airflow_bin: str, log: Path) -> None:
        self.env, self.airflow_bin, self.log = dict(env), airflow_bin, log
        self.home = Path(self.env["AIRFLOW_HOME"])
        self.url = self.env["AIRFLOW__API__BASE_URL"]
        self._proc: subprocess.Popen[bytes] | None = None
        self._token: str | None = None

    # lifecycle
    def __enter__(self) -> LocalAirflow:
        # SIGTERM (a CI job's timeout, `kill`) must stop Airflow too, like Ctrl-C does.
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as out:
            self._proc = subprocess.Popen(
                [self.airflow_bin, "standalone"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def stop(self) -> None:
        """SIGTERM to the whole group (scheduler, workers, API server...), SIGKILL after 10 s."""
        if self._proc is None:
            return
        for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._proc.pid, sig)
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and self._group_alive():
                time.sleep(0.2)
            if not self._group_alive():
                break
        self._proc = None

    def _group_alive(self) -> bool:
        assert self._proc is not None
        self._proc.poll()
        try:
            os.killpg(self._proc.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def check_running(self) -> None:
        if self._proc is not None and self._proc.poll() is not None:
            raise AirflowUnavailable(f"airflow standalone exited with {self._proc.returncode}")

    def wait_ready(self, dag_ids: list[str], timeout: float = READY_TIMEOUT_S) -> None:
        """The API answers, the admin password exists and every DAG in `dag_ids` is parsed."""

        def ready() -> bool:
            self.check_running()
            if not (self.home / PASSWORD_FILE).exists():
                return False
            try:
                known = {d["dag_id"] for d in self.api("GET", "/api/v2/dags?limit=500")["dags"]}
            except (urllib.error.URLError, OSError, KeyError):
                return False  # starting: the API or its auth is not up yet
            return set(dag_ids) <= known

        self.wait(f"Airflow to start and parse {', '.join(dag_ids)}", ready, timeout)

    # REST
    def api(self, method: str, path: str, body: Any = None) -> Any:
        """Airflow's REST API as admin (a JWT from /auth/token, fetched once)."""
        if self._token is None:
            password = json.loads((self.home / PASSWORD_FILE).read_text())["admin"]
            answer = _request(
                "POST", f"{self.url}/auth/token", {"username": "admin", "password": password}
            )
            self._token = answer["access_token"]
        return _request(method, f"{self.url}{path}", body, token=self._token)

    def unpause(self, dag_id: str) -> None:
        self.api("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})

    def trigger(self, dag_id: str, logical_date: str, conf: Mapping[str, Any] | None = None) -> str:
        """A manual run for the batch of `logical_date` (YYYY-MM-DD), as the UI's trigger form."""
        body = {"logical_date": f"{logical_date}T00:00:00Z", "conf": dict(conf or {})}
        return self.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", body)["dag_run_id"]

    def run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{_quote(run_id)}")

    def runs(self, dag_id: str, run_type: str | None = None) -> list[dict[str, Any]]:
        query = "?limit=100&order_by=run_after" + (f"&run_type={run_type}" if run_type else "")
        return self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns{query}")["dag_runs"]

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{_quote(run_id)}/taskInstances?limit=100"
        return {ti["task_id"]: ti["state"] for ti in self.api("GET", path)["task_instances"]}

    # waiting
    def wait_run(self, dag_id: str, run_id: str, timeout: float) -> str:
        """The run's final state (success or failed)."""

        def finished() -> str | None:
            state = self.run(dag_id, run_id)["state"]
            return state if state in TERMINAL else None

        try:
            return self.wait(f"{dag_id} run {run_id} to finish", finished, timeout)
        except AirflowUnavailable as exc:
            states = self.task_states(dag_id, run_id)
            raise AirflowUnavailable(f"{exc}\ntask states: {states}") from None

    def wait_new_run(self, dag_id: str, run_type: str, known: set[str], timeout: float) -> str:
        """The id of a run of `run_type` that was not in `known` (e.g. the scheduler's
        asset-triggered run)."""

        def appeared() -> str | None:
            fresh = [
                r["dag_run_id"] for r in self.runs(dag_id, run_type) if r["dag_run_id"] not in known
            ]
            return fresh[0] if fresh else None

        return self.wait(f"the scheduler to start a {run_type} run of {dag_id}", appeared, timeout)

    def wait(self, what: str, check: Callable[[], Any], timeout: float) -> Any:
        """Poll `check` (API hiccups while Airflow is busy are retried) until it returns
        something truthy; AirflowUnavailable naming `what` when the deadline passes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_running()
            with contextlib.suppress(urllib.error.URLError, TimeoutError, ConnectionError):
                result = check()
                if result:
                    return result
            time.sleep(2)
        tail = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
        raise AirflowUnavailable(
            f"waited {timeout:.0f} s for {what}\nlast lines of {self.log}:\n{tail}"
        )


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _request(method: str, url: str, body: Any = None, token: str | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_S) as response:
        return json.loads(response.read() or b"null")


def _quote(run_id: str) -> str:
    return urllib.parse.quote(run_id, safe="")
