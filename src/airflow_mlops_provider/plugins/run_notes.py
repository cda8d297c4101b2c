"""Listener: when a pipeline's DAG run finishes, its note says what was decided.

Runs in the scheduler (where Airflow calls DAG run listeners, inside the session that
records the run's end): the lines the run's tasks pushed under NOTE_KEY
(operators/run_note.py) become the run's note, in the order they were pushed. A note a
person wrote is never replaced.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.listeners import hookimpl

from airflow_mlops_provider.operators.run_note import NOTE_KEY

log = logging.getLogger(__name__)
MARK = "**MLOps decision**"
MAX_NOTE = 1000  # Airflow's note column holds 1000 characters
CONFIG_ERROR_SUFFIX = "__config_error"


@hookimpl
def on_dag_run_success(dag_run: Any, msg: str) -> None:
    _write_note(dag_run, "succeeded")


@hookimpl
def on_dag_run_failed(dag_run: Any, msg: str) -> None:
    _write_note(dag_run, "failed")


def _write_note(dag_run: Any, outcome: str) -> None:
    """Never raises: a note is a courtesy, the run's state is what counts."""
    try:
        lines = _lines(dag_run)
        if lines and not (dag_run.note and not dag_run.note.startswith(MARK)):
            dag_run.note = compose(lines, outcome)
    except Exception:
        log.warning("Run note for %s not written", getattr(dag_run, "run_id", "?"), exc_info=True)


def compose(lines: list[str], outcome: str) -> str:
    """The note: a marker (so it is known as ours), then one bullet per decision, as many
    as fit in the note (the audit log has them all)."""
    from airflow_mlops_provider.core.text import shorten

    note = f"{MARK} (run {outcome})"
    for index, line in enumerate(lines):
        bullet = f"\n- {shorten(line, 300)}"
        rest = f"\n- and {len(lines) - index} more in the audit log"
        if len(note) + len(bullet) + len(rest) > MAX_NOTE and index < len(lines) - 1:
            return note + rest
        note += bullet
    return note[:MAX_NOTE]


def _lines(dag_run: Any) -> list[str]:
    from airflow.models.xcom import XComModel
    from sqlalchemy import select
    from sqlalchemy.orm import object_session

    session = object_session(dag_run)
    if session is None:
        return []
    rows = session.execute(
        select(XComModel.value)
        .where(
            XComModel.dag_id == dag_run.dag_id,
            XComModel.run_id == dag_run.run_id,
            XComModel.key == NOTE_KEY,
        )
        .order_by(XComModel.timestamp)
    ).all()
    lines: list[str] = []
    for row in rows:
        value = XComModel.deserialize_value(row)
        lines += [str(v) for v in (value if isinstance(value, list) else [value]) if v]
    if not lines and dag_run.dag_id.endswith(CONFIG_ERROR_SUFFIX):
        lines = [_config_error(session, dag_run.dag_id)]  # its task never ran: say why anyway
    return lines


def _config_error(session: Any, dag_id: str) -> str:
    """A config-error DAG's description ("INVALID <file>: <first error>")."""
    from airflow.models.dag import DagModel
    from sqlalchemy import select

    description = session.scalar(select(DagModel.description).where(DagModel.dag_id == dag_id))
    return f"Configuration error, no pipeline DAGs built: {description or dag_id}"
