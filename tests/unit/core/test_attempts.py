"""The re-run rule of the retrain task (core.attempts): retry and clear told apart."""

from __future__ import annotations

from airflow_mlops_provider.core.attempts import Attempt, next_action


def test_the_last_attempt_decides_what_a_rerun_does() -> None:
    assert next_action(None, has_model=False, registered=False) == "new"
    assert next_action("FINISHED", has_model=True, registered=True) == "new"  # cleared
    assert next_action("FINISHED", has_model=True, registered=True, retry=True) == "reuse"
    assert next_action("FINISHED", has_model=True, registered=False) == "register"
    assert next_action("FINISHED", has_model=False, registered=False) == "resume"
    for status in ("RUNNING", "FAILED", "KILLED"):
        assert next_action(status, has_model=False, registered=False) == "resume"


def test_the_clear_cycle_comes_from_airflows_max_tries() -> None:
    # retries=2: first run tries 1..3 (max_tries 2); a clear after try 3 sets max_tries 3+2
    assert Attempt.of(1, max_tries=2, retries=2) == Attempt(1, 1)
    assert Attempt.of(3, max_tries=2, retries=2) == Attempt(3, 1)
    assert Attempt.of(4, max_tries=5, retries=2) == Attempt(4, 4)
    # a task whose retries changed since: never a first try after this try, never below 1
    assert Attempt.of(2, max_tries=0, retries=3) == Attempt(2, 1)
    assert Attempt.of(2, max_tries=9, retries=0) == Attempt(2, 2)


def test_a_retry_continues_the_attempt_before_it_and_a_clear_does_not() -> None:
    crashed = Attempt(1, 1).tags  # try 1 registered, then its worker died
    assert Attempt(2, 1).retries(crashed)  # Airflow's retry: same cycle, later try
    assert not Attempt(2, 2).retries(crashed)  # cleared after try 1: a new cycle
    assert not Attempt(1, 1).retries(crashed)  # the same try again (`airflow tasks test`)
    resumed = Attempt(5, 4).tags  # a cleared, crashed training resumed by try 5
    assert Attempt(6, 4).retries(resumed) and not Attempt(7, 7).retries(resumed)


def test_a_run_without_attempt_tags_counts_as_cleared() -> None:
    assert not Attempt(2, 1).retries({})
    assert not Attempt(2, 1).retries({"mlops.clear_cycle": "x", "mlops.try_number": "1"})
