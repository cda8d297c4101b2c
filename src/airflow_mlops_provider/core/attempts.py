"""What a (re-)run of the retrain task must do, from what the last attempt left behind.

Kept pure so the rule that makes clears and retries safe is stated and tested in one place:
- no earlier run, or its model already has a version → the task was cleared: train anew;
- a FINISHED run with a model but no version → the attempt died after training: register it;
- anything else (RUNNING, FAILED, KILLED, or finished without a model) → a retry: resume it.
"""

from __future__ import annotations

NEW, REGISTER, RESUME = "new", "register", "resume"


def next_action(last_status: str | None, *, has_model: bool, registered: bool) -> str:
    if last_status is None or registered:
        return NEW
    if last_status == "FINISHED" and has_model:
        return REGISTER
    return RESUME
