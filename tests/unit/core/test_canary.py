"""The canary state machine on its own: steps, waits, measurements, pauses, answers."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from airflow_mlops_provider.core import canary
from airflow_mlops_provider.spec import CanarySpec


def spec_steps(analysis: dict | None = None, steps: list | None = None) -> list:
    analysis = analysis or {
        "metrics": {"roc_auc": {"max_regression": 0.02}, "error_rate": {"max": 0.01}},
        "min_samples": 50,
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


def good(samples: int = 100) -> canary.Measurement:
    return measure({"roc_auc": 0.80, "error_rate": 0.0}, samples)


def measure(values: dict, samples: int = 100, steps: list | None = None) -> canary.Measurement:
    rules = (steps or spec_steps())[2].analysis.metrics
    champion = {"roc_auc": 0.80, "error_rate": 0.0}
    return canary.judge(rules, values, champion, {"canary": samples, "champion": samples}, 50)


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
    steps = spec_steps()
    state = drive(steps, [good(), good(), good(), good()])
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


def test_failed_analysis_rolls_back_with_the_reason() -> None:
    worse = measure({"roc_auc": 0.70, "error_rate": 0.0})
    assert worse.status == canary.FAIL
    assert "roc_auc 0.7000 is 0.1000 worse than the champion arm 0.8000" in worse.reasons[0]
    state = drive(spec_steps(), [worse])
    assert state.phase == canary.ROLLED_BACK and state.weight == 0
    assert "steps[2] (weight 20%) failed 1 time(s), failure_limit 0" in state.reason
    assert state.history[-1]["kind"] == "rolled_back"
    assert all(h["weight"] <= 20 for h in state.history[:-1])  # never reached 50%


def test_failure_limit_tolerates_that_many_failed_measurements() -> None:
    steps = spec_steps({**_analysis(), "failure_limit": 1, "count": 3})
    bad = measure({"roc_auc": 0.70, "error_rate": 0.0}, steps=steps)
    ok = good()
    assert drive(steps, [bad, ok, ok, ok, ok, ok]).phase == canary.PROMOTED
    assert drive(steps, [bad, ok, bad]).phase == canary.ROLLED_BACK


def test_too_few_samples_after_count_measurements_pauses_for_a_person() -> None:
    thin = good(samples=10)
    assert thin.status == canary.INCONCLUSIVE and "min_samples 50" in thin.reasons[0]
    steps = spec_steps()
    state = drive(steps, [thin, thin])
    assert state.phase == canary.PAUSED and "inconclusive after 2 measurement(s)" in state.reason
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


def test_inconclusive_then_enough_samples_passes() -> None:
    state = drive(spec_steps(), [good(samples=10), good(), good(), good()])
    assert state.phase == canary.PROMOTED


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


def test_missing_metric_is_inconclusive_not_failed_and_direction_is_respected() -> None:
    nan = measure({"roc_auc": math.nan, "error_rate": 0.0})
    assert nan.status == canary.INCONCLUSIVE and "roc_auc could not be computed" in nan.reasons[0]
    errors = measure({"roc_auc": 0.81, "error_rate": 0.05})
    assert errors.status == canary.FAIL and "error_rate 0.0500 is above max 0.01" in errors.reasons
    steps = spec_steps(
        {**_analysis(), "metrics": {"latency_p95_ms": {"max_regression": 0.5, "relative": True}}}
    )
    rules = steps[2].analysis.metrics
    slow = canary.judge(rules, {"latency_p95_ms": 16}, {"latency_p95_ms": 10}, _n(), 50)
    fast = canary.judge(rules, {"latency_p95_ms": 4}, {"latency_p95_ms": 10}, _n(), 50)
    assert slow.status == canary.FAIL and "(relative)" in slow.reasons[0]
    assert fast.status == canary.PASS


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
    final = drive(steps, [good()] * 4)
    assert [h["step"] for h in final.history] == list(range(len(steps) + 1))


def test_arm_metrics_from_scored_requests() -> None:
    frame = pd.DataFrame(
        {
            "prediction": [0.9, 0.8, 0.2, 0.1, float("nan")],
            "label": [1, 1, 0, 0, 1],
            "latency_ms": [1.0, 2.0, 3.0, 4.0, 5.0],
            "error": [False, False, False, False, True],
        }
    )
    values, samples = canary.arm_metrics(
        frame, ["roc_auc", "error_rate", "latency_p95_ms"], label="label"
    )
    assert values["roc_auc"] == 1.0 and values["error_rate"] == pytest.approx(0.2)
    assert values["latency_p95_ms"] == pytest.approx(4.8) and samples == 4
    unlabelled, n = canary.arm_metrics(frame.drop(columns="label"), ["roc_auc"], label="label")
    assert math.isnan(unlabelled["roc_auc"]) and n == 0


def _analysis() -> dict:
    return {
        "metrics": {"roc_auc": {"max_regression": 0.02}, "error_rate": {"max": 0.01}},
        "min_samples": 50,
        "interval": "30s",
        "count": 2,
        "failure_limit": 0,
    }


def _n() -> dict[str, int]:
    return {"canary": 100, "champion": 100}
