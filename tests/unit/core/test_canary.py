"""The canary state machine on its own: steps, waits, measurements (from the sequential
judge), early finishes, pauses, answers, and the state's JSON round trip."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from airflow_mlops_provider.core import canary, canary_judge
from airflow_mlops_provider.core.estimates import ArmEstimate
from airflow_mlops_provider.spec import CanarySpec


def spec_steps(analysis: dict | None = None, steps: list | None = None) -> list:
    analysis = analysis or {
        "metrics": {"roc_auc": {"max_regression": 0.02}, "error_rate": {"max": 0.01}},
        "interval": "30s",
        "count": 2,
        "failure_limit": 0,
    }
    steps = steps or [
        {"set_weight": 20},
        {"pause": {"duration": "1m"}},
        {"analysis": {}},
        {"set_weight": 50},
        {"analysis": {}},
    ]
    return list(
        CanarySpec.model_validate(
            {"enabled": True, "analysis": analysis, "steps": steps}, strict=False
        ).steps
    )


def good() -> canary.Measurement:
    return measure({"roc_auc": 0.80, "error_rate": 0.0})


def thin() -> canary.Measurement:
    """Equal arms on ~200 requests: far too noisy to say either way."""
    return measure({"roc_auc": 0.80, "error_rate": 0.0}, n=200, se=0.03)


def measure(
    values: dict, n: int = 20_000, se: float = 0.002, steps: list | None = None
) -> canary.Measurement:
    """The sequential judge on arms of n requests with standard error `se` each."""
    rules = (steps or spec_steps())[2].analysis.metrics

    def arm(found: dict) -> dict[str, ArmEstimate]:
        return {k: ArmEstimate(v, se * se if k == "roc_auc" else 1e-8, n) for k, v in found.items()}

    champion = arm({"roc_auc": 0.80, "error_rate": 0.0})
    return canary_judge.judge(rules, arm(values), champion, alpha=0.01)


def drive(steps: list, measurements: list, now: float = 0.0) -> canary.RolloutState:
    """Run the machine to the end, feeding measurements; time jumps over every wait."""
    state = canary.start("2", "1")
    feed = iter(measurements)
    for _ in range(100):
        action = canary.next_action(steps, state, now)
        if action.kind in (canary.DONE, canary.PAUSE):
            return state
        if action.kind == canary.WAIT:
            state = canary.after(steps, state, action, now)
            now = action.until
            continue
        result = next(feed) if action.kind == canary.ANALYSE else None
        state = canary.after(steps, state, action, now, result)
    raise AssertionError("the rollout did not finish")


def test_passing_rollout_walks_every_step_once_then_promotes() -> None:
    """Each analysis step finishes at its first conclusive pass (valid at every look)."""
    steps = spec_steps()
    state = drive(steps, [good(), good()])
    assert state.phase == canary.PROMOTED and state.weight == 100
    kinds = [(h["step"], h["kind"], h["weight"]) for h in state.history]
    assert kinds == [
        (0, "set_weight", 20),
        (1, "pause", 20),
        (2, "analyse", 20),
        (3, "set_weight", 50),
        (4, "analyse", 50),
        (5, "promoted", 100),
    ]
    assert [h.get("measurements") for h in state.history if h["kind"] == "analyse"] == [1, 1]


def test_not_enough_evidence_measures_again_until_it_is_enough() -> None:
    state = drive(spec_steps(), [thin(), good(), thin(), good()])
    assert state.phase == canary.PROMOTED
    assert [h.get("measurements") for h in state.history if h["kind"] == "analyse"] == [2, 2]


def test_waits_are_explicit_and_resumable() -> None:
    steps = spec_steps()
    state = canary.after(steps, canary.start("2", "1"), canary.Action(canary.SET_WEIGHT, 20), 0)
    wait = canary.next_action(steps, state, 10.0)
    assert wait == canary.Action(canary.WAIT, until=70.0)
    state = canary.after(steps, state, wait, 10.0)
    # Resumed early (e.g. a cleared task): the same deadline, not a new one.
    assert canary.next_action(steps, state, 30.0) == canary.Action(canary.WAIT, until=70.0)
    assert canary.next_action(steps, state, 70.0).kind == canary.NEXT
    # The state survives a JSON round trip unchanged (it is persisted that way).
    assert canary.RolloutState.from_dict(state.to_dict()) == state


def test_failed_analysis_rolls_back_with_the_evidence_in_words() -> None:
    worse = measure({"roc_auc": 0.70, "error_rate": 0.0})
    assert worse.status == canary.FAIL and worse.decision == "evidence of harm"
    assert worse.reasons[0].startswith("roc_auc regression 0.1000 (sequence 0.0")
    state = drive(spec_steps(), [worse])
    assert state.phase == canary.ROLLED_BACK and state.weight == 0
    assert state.reason.startswith(
        "analysis at steps[2] (weight 20%) found evidence of harm in 1 measurement(s), "
        "failure_limit 0: roc_auc regression 0.1000"
    )
    assert state.history[-1]["kind"] == "rolled_back"
    assert all(h["weight"] <= 20 for h in state.history[:-1])  # never reached 50%


def test_failure_limit_tolerates_that_many_failed_measurements() -> None:
    steps = spec_steps({**_analysis(), "failure_limit": 1, "count": 3})
    bad = measure({"roc_auc": 0.70, "error_rate": 0.0}, steps=steps)
    assert drive(steps, [bad, good(), good()]).phase == canary.PROMOTED
    assert drive(steps, [bad, thin(), bad]).phase == canary.ROLLED_BACK


def test_not_enough_evidence_after_count_measurements_pauses_for_a_person() -> None:
    assert thin().status == canary.INCONCLUSIVE
    assert thin().decision == "not enough evidence yet"
    assert "requests per arm would likely decide it" in thin().reasons[0]
    steps = spec_steps()
    state = drive(steps, [thin(), thin()])
    assert state.phase == canary.PAUSED
    assert "has not enough evidence either way after 2 measurement(s)" in state.reason
    assert canary.next_action(steps, state, 1e9).kind == canary.PAUSE
    # A person answers: continue goes to the next step, rollback reverts, promote finishes.
    resumed = canary.answer(steps, state, "continue", 1e9)
    assert resumed.phase == canary.PROGRESSING and resumed.step == state.step + 1
    assert canary.next_action(steps, resumed, 1e9) == canary.Action(canary.SET_WEIGHT, 50)
    assert canary.next_action(steps, canary.answer(steps, state, "rollback", 0), 0).kind == (
        canary.ROLLBACK
    )
    assert canary.next_action(steps, canary.answer(steps, state, "promote", 0), 0).kind == (
        canary.PROMOTE
    )
    with pytest.raises(ValueError, match="unknown answer 'maybe'"):
        canary.answer(steps, state, "maybe", 0)


def test_step_outcome() -> None:
    outcome = canary.step_outcome
    assert outcome([canary.PASS], count=3, failure_limit=0) == canary.ADVANCE
    assert outcome([canary.INCONCLUSIVE], count=3, failure_limit=0) == canary.MEASURE
    assert outcome([canary.INCONCLUSIVE] * 3, count=3, failure_limit=0) == canary.PAUSE
    assert outcome([canary.FAIL], count=3, failure_limit=0) == canary.ROLLBACK
    assert outcome([canary.FAIL, canary.INCONCLUSIVE], count=3, failure_limit=1) == canary.MEASURE
    assert outcome([canary.FAIL, canary.PASS], count=3, failure_limit=1) == canary.ADVANCE
    assert outcome([canary.FAIL, canary.FAIL], count=3, failure_limit=1) == canary.ROLLBACK


def test_a_resumed_analysis_continues_from_its_saved_evidence() -> None:
    """The state is saved as JSON after every measurement, with each measurement's evidence
    (estimates, confidence sequence, requests). A new worker reading it back carries on the
    same analysis: the earlier looks still count towards `count` and `failure_limit`."""
    steps = spec_steps({**_analysis(), "failure_limit": 1, "count": 3})
    state = canary.start("2", "1")
    for action in (canary.Action(canary.SET_WEIGHT, 20), canary.Action(canary.NEXT)):
        state = canary.after(steps, state, action, 0)
    bad = measure({"roc_auc": 0.70, "error_rate": 0.0}, steps=steps)
    state = canary.after(steps, state, canary.Action(canary.ANALYSE), 10, bad)
    saved = json.loads(json.dumps(state.to_dict()))
    resumed = canary.RolloutState.from_dict(saved)
    assert resumed == state
    (look,) = resumed.measurements
    assert look["status"] == canary.FAIL and look["decision"] == "evidence of harm"
    assert look["samples"] == {"canary": 20_000, "champion": 20_000}
    check = look["checks"][0]
    assert check["metric"] == "roc_auc" and check["lower"] < 0.1 < check["upper"]
    assert check["verdict"] == canary.FAIL and check["requests"] == 20_000
    # A second failure after the resume is the one beyond failure_limit 1: rollback.
    again = canary.after(steps, resumed, canary.Action(canary.ANALYSE), 50, bad)
    assert again.phase == canary.ROLLING_BACK and "in 2 measurement(s)" in again.reason


def test_min_samples_is_gone_with_a_clear_error() -> None:
    with pytest.raises(ValidationError, match="min_samples is gone: the sequential judge"):
        spec_steps({**_analysis(), "min_samples": 100})


def test_pause_without_duration_waits_for_a_person() -> None:
    steps = spec_steps(steps=[{"set_weight": 10}, {"pause": {}}, {"set_weight": 60}])
    state = drive(steps, [])
    assert state.step == 1 and canary.next_action(steps, state, 0).kind == canary.PAUSE
    state = canary.answer(steps, state, "continue", 5.0)
    assert drive_from(steps, state).phase == canary.PROMOTED


def drive_from(steps: list, state: canary.RolloutState) -> canary.RolloutState:
    while (action := canary.next_action(steps, state, 0)).kind not in (canary.DONE, canary.PAUSE):
        state = canary.after(steps, state, action, 0)
    return state


def test_a_crash_between_action_and_save_repeats_only_that_action() -> None:
    """The caller saves after acting: replaying the last action from the saved state gives
    the same history as an uninterrupted run (no step lost, none counted twice)."""
    steps = spec_steps()
    saved = canary.after(steps, canary.start("2", "1"), canary.Action(canary.SET_WEIGHT, 20), 0)
    action = canary.next_action(steps, saved, 0)  # the 1-minute pause: WAIT until 60
    # Killed before the wait was saved: the new worker repeats that one action (the pause
    # starts again, nothing else changes); once saved, its deadline survives a restart.
    assert canary.next_action(steps, saved, 30) == canary.Action(canary.WAIT, until=90)
    assert canary.next_action(steps, canary.after(steps, saved, action, 0), 30) == action
    final = drive(steps, [good()] * 2)
    assert [h["step"] for h in final.history] == list(range(len(steps) + 1))


def _analysis() -> dict:
    return {
        "metrics": {"roc_auc": {"max_regression": 0.02}, "error_rate": {"max": 0.01}},
        "interval": "30s",
        "count": 2,
        "failure_limit": 0,
    }
