"""A task's line for its DAG run's note: what it decided, in one sentence for people.

Airflow 3.3 gives tasks no way to write their DAG run's note (the execution API reads notes
but has no call to set one, and the REST API needs a user's token). So a task pushes its
line to XCom under NOTE_KEY, and the provider's plugin listener (plugins/run_notes.py),
which runs in the scheduler when the run finishes, writes the run's note from those lines.
"""

from __future__ import annotations

from typing import Any

NOTE_KEY = "mlops_run_note"


def note_decision(context: Any, *lines: str) -> None:
    """Add this task's decision (one or more lines) to its DAG run's note, shown on the run
    in the Airflow UI. A task has one entry: a second call replaces the first."""
    context["ti"].xcom_push(key=NOTE_KEY, value=[str(line) for line in lines])
