"""Driving DAG runs the way a person or a CI job does it: over Airflow's REST API (`/api/v2`),
plus reading task logs from the folder the workers write (`$AIRFLOW_HOME/logs`)."""

from __future__ import annotations

import json
import re
import time
import urllib.parse
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .record import Record
from .stack import Airflow

TERMINAL = {"success", "failed"}
UNFINISHED_TASK = {
    "running",
    "queued",
    "scheduled",
    "deferred",
    "up_for_retry",
    "up_for_reschedule",
    "restarting",
    "awaiting_input",
}
POLL_S = 3  # between looks at the runs: each look is two API calls per run
SETTLE_POLLS = 2  # looks in awaiting_input before answering, like a person reading it first

_ATTEMPT = re.compile(r"attempt=(\d+)\.log")


class Driver:
    def __init__(self, airflow: Airflow, record: Record) -> None:
        self.airflow, self.record = airflow, record
        self.logs = airflow.home / "logs"
        self._awaiting: dict[tuple[str, str, str], int] = {}
        self.answered: list[dict[str, Any]] = []

    def api(self, method: str, path: str, body: Any = None) -> Any:
        return self.airflow.api(method, path, body)

    # DAGs and runs
    def unpause(self, dag_id: str) -> None:
        self.api("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
        self.record.event("unpaused", dag=dag_id)

    def trigger(self, dag_id: str, run_id: str, logical_date: str | None) -> str:
        body = {"dag_run_id": run_id, "logical_date": logical_date, "conf": {}}
        self.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", body)
        self.record.event("triggered", dag=dag_id, run=run_id, logical_date=logical_date)
        return run_id

    def run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{_q(run_id)}")

    def runs(self, dag_id: str, run_type: str | None = None) -> list[dict[str, Any]]:
        query = "?limit=100&order_by=run_after" + (f"&run_type={run_type}" if run_type else "")
        return self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns{query}")["dag_runs"]

    def tasks(self, dag_id: str, run_id: str) -> dict[str, dict[str, Any]]:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{_q(run_id)}/taskInstances?limit=100"
        return {ti["task_id"]: ti for ti in self.api("GET", path)["task_instances"]}

    def states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        return {task: ti["state"] for task, ti in self.tasks(dag_id, run_id).items()}

    def clear(self, dag_id: str, run_id: str, task_ids: list[str]) -> None:
        body = {
            "dry_run": False,
            "dag_run_id": run_id,
            "task_ids": task_ids,
            "only_failed": False,
            "include_downstream": False,
            "reset_dag_runs": True,
        }
        self.api("POST", f"/api/v2/dags/{dag_id}/clearTaskInstances", body)
        self.record.event("cleared", dag=dag_id, run=run_id, tasks=task_ids)

    # waiting
    def wait_task(
        self, dag_id: str, run_id: str, task_id: str, states: set[str], timeout: float
    ) -> str | None:
        """Poll one task until it is in `states`; None when the deadline passed first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.airflow.check_running()
            state = self.states(dag_id, run_id).get(task_id)
            if state in states:
                return state
            if self.run(dag_id, run_id)["state"] in TERMINAL:
                return None
            time.sleep(1)
        return None

    def drive(
        self, runs: Iterable[tuple[str, str]], timeout: float, starved_after: float = 120
    ) -> dict[tuple[str, str], str]:
        """Poll the runs until each is finished or the deadline passes, answering every
        approval the gate asks for ("Approve") once it has settled in awaiting_input.

        A run still queued `starved_after` seconds after it was first seen, while another
        run of its DAG holds the slot, is given up as "starved" (a finding for the caller).
        Returns each run's last state."""
        states = dict.fromkeys(runs, "queued")
        queued_since: dict[tuple[str, str], float] = {}
        deadline = time.monotonic() + timeout
        while True:
            self.airflow.check_running()
            for key in [k for k, s in states.items() if s not in TERMINAL | {"starved"}]:
                states[key] = self.run(*key)["state"]
                if states[key] == "queued":
                    since = queued_since.setdefault(key, time.monotonic())
                    if time.monotonic() - since > starved_after and self._blocked(*key):
                        states[key] = "starved"
                elif states[key] not in TERMINAL:
                    self._answer_approvals(*key)
            done = all(s in TERMINAL | {"starved"} for s in states.values())
            if done or time.monotonic() > deadline:
                return states
            time.sleep(POLL_S)

    def _blocked(self, dag_id: str, run_id: str) -> bool:
        return any(r["dag_run_id"] != run_id for r in self.runs(dag_id) if r["state"] == "running")

    def _answer_approvals(self, dag_id: str, run_id: str) -> None:
        for task_id, ti in self.tasks(dag_id, run_id).items():
            key = (dag_id, run_id, task_id)
            if ti["state"] != "awaiting_input":
                self._awaiting.pop(key, None)
                continue
            self._awaiting[key] = self._awaiting.get(key, 0) + 1
            if self._awaiting[key] < SETTLE_POLLS:
                continue
            option = "Approve" if task_id == "approve" else "continue"
            path = f"/api/v2/dags/{dag_id}/dagRuns/{_q(run_id)}/taskInstances/{task_id}/-1"
            reply = self.api(
                "PATCH", f"{path}/hitlDetails", {"chosen_options": [option], "params_input": {}}
            )
            self._awaiting.pop(key)
            self.answered.append({"dag": dag_id, "run": run_id, "task": task_id, "option": option})
            self.record.event(
                "answered over REST",
                dag=dag_id,
                run=run_id,
                task=task_id,
                option=option,
                by=(reply.get("responded_by") or {}).get("name"),
            )

    # logs
    def log_lines(self, dag_id: str, run_id: str, task_id: str, attempt: int) -> list[dict]:
        """The task attempt's structured log (one JSON object per line), [] if none."""
        path = self.log_path(dag_id, run_id, task_id, attempt)
        if not path.exists():
            return []
        lines = []
        for raw in path.read_text(errors="replace").splitlines():
            try:
                lines.append(json.loads(raw))
            except json.JSONDecodeError:
                lines.append({"event": raw, "level": "?"})
        return lines

    def log_path(self, dag_id: str, run_id: str, task_id: str, attempt: int) -> Path:
        return (
            self.logs
            / f"dag_id={dag_id}"
            / f"run_id={run_id}"
            / f"task_id={task_id}"
            / f"attempt={attempt}.log"
        )

    def attempts(self, dag_id: str, run_id: str, task_id: str) -> list[int]:
        folder = self.log_path(dag_id, run_id, task_id, 1).parent
        # attempt=N.log only: a deferred task also has attempt=N.log.trigger.M.log files
        names = [p.name for p in folder.iterdir()] if folder.is_dir() else []
        found = [int(m[1]) for name in names if (m := _ATTEMPT.fullmatch(name))]
        return sorted(found)

    def failure_excerpt(self, dag_id: str, run_id: str, limit: int = 6) -> str:
        """The error lines of every attempt that failed (all but a task's successful last
        one), per task and attempt."""
        out = []
        for task_id, ti in self.tasks(dag_id, run_id).items():
            attempts = self.attempts(dag_id, run_id, task_id)
            if ti["state"] not in ("failed", "up_for_retry", "upstream_failed"):
                attempts = attempts[:-1]
            for attempt in attempts:
                errors = [
                    _text(line)
                    for line in self.log_lines(dag_id, run_id, task_id, attempt)
                    if line.get("level") in ("error", "critical")
                ]
                if errors:
                    out.append(f"{dag_id} {run_id} {task_id} attempt {attempt} ({ti['state']}):")
                    out.extend(f"  {e}" for e in errors[-limit:])
        return "\n".join(out)


def _text(line: dict[str, Any]) -> str:
    """One structured log line as a person reads it: the event, then the exception's gist."""
    text = str(line.get("event", ""))
    for error in line.get("error_detail") or []:
        text += f" | {error.get('exc_type')}: {str(error.get('exc_value'))[:300]}"
    return text[:600]


def _q(run_id: str) -> str:
    return urllib.parse.quote(run_id, safe="")
