"""The re-run rule of the retrain task (core.attempts)."""

from __future__ import annotations

from airflow_mlops_provider.core.attempts import next_action


def test_rerun_actions() -> None:
    assert next_action(None, has_model=False, registered=False) == "new"
    assert next_action("FINISHED", has_model=True, registered=True) == "new"  # cleared
    assert next_action("FINISHED", has_model=True, registered=False) == "register"
    assert next_action("FINISHED", has_model=False, registered=False) == "resume"
    for status in ("RUNNING", "FAILED", "KILLED"):
        assert next_action(status, has_model=False, registered=False) == "resume"
