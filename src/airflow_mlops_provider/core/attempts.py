"""What a (re-)run of the retrain task must do, from what the last attempt left behind.

Kept pure so the rule that makes clears and retries safe is stated and tested in one place.
A *retry* continues the attempt before it (same clear cycle, a later try); a *clear* starts a
new cycle. Airflow numbers tries across clears: clearing a task sets
`max_tries = try_number + retries`, so the first try of the current cycle is
`max_tries - retries + 1` (the formula Airflow's own sensors use); the MLflow run remembers the
cycle and try that last worked on it (`Attempt.tags`).

- no earlier run → train anew;
- its model already has a version: a retry of the attempt that registered it (it died before
  returning) → reuse that version; otherwise the task was cleared → train anew;
- a FINISHED run with a model but no version → the attempt died after training: register it;
- anything else (RUNNING, FAILED, KILLED, or finished without a model) → resume it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

NEW, REGISTER, RESUME, REUSE = "new", "register", "resume", "reuse"
CYCLE_TAG, TRY_TAG = "mlops.clear_cycle", "mlops.try_number"


@dataclass(frozen=True)
class Attempt:
    """One try of a task: its try number and the first try of its clear cycle."""

    try_number: int
    first_try: int

    @classmethod
    def of(cls, try_number: int, max_tries: int, retries: int) -> Attempt:
        """From Airflow's task instance (`try_number`, `max_tries`) and the task's `retries`."""
        first = max_tries - retries + 1
        return cls(try_number, min(max(first, 1), try_number))

    @property
    def tags(self) -> dict[str, str]:
        """What the MLflow run keeps of the attempt that last worked on it."""
        return {CYCLE_TAG: str(self.first_try), TRY_TAG: str(self.try_number)}

    def retries(self, run_tags: Mapping[str, str]) -> bool:
        """True when this try is a retry of the one that last worked on the run: same clear
        cycle, later try. A run without these tags (or an unknown attempt) counts as cleared."""
        try:
            cycle, tried = int(run_tags[CYCLE_TAG]), int(run_tags[TRY_TAG])
        except (KeyError, ValueError):
            return False
        return cycle == self.first_try and tried < self.try_number


def next_action(
    last_status: str | None, *, has_model: bool, registered: bool, retry: bool = False
) -> str:
    if last_status is None:
        return NEW
    if registered:
        return REUSE if retry else NEW
    if last_status == "FINISHED" and has_model:
        return REGISTER
    return RESUME
