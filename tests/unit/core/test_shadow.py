"""The shadow stage on its own: the state machine's shadow step (pass → next step, evidence of
harm → stopped before any user saw the challenger, undecided → a person) and the paired judge
on requests both models scored (identical models never stopped, a clearly worse one always)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from airflow_mlops_provider.adapters.metric_sources import SHADOW_COLUMNS, shadow_pair
from airflow_mlops_provider.core import canary, canary_judge
from airflow_mlops_provider.core.canary import FAIL, INCONCLUSIVE, PASS
from airflow_mlops_provider.core.estimates import ArmEstimate
from airflow_mlops_provider.spec import CanarySpec

RULES = {"roc_auc": {"max_regression": 0.02}, "error_rate": {"max": 0.05}}
SERVED = {"prediction": "prediction", "latency": "latency_ms", "error": "error"}


def shadow_steps(count: int = 2) -> list:
    return list(
        CanarySpec.model_validate(
            {
                "enabled": True,
                "analysis": {"metrics": RULES, "interval": "30s", "count": count},
                "steps": [{"shadow": {}}, {"set_weight": 20}, {"analysis": {}}],
            },
            strict=False,
        ).steps
    )


def measured(status: str) -> canary.Measurement:
    """A paired measurement of the given verdict (the judge on made-up estimates)."""
    regression = {PASS: 0.0, FAIL: 0.2, INCONCLUSIVE: 0.02}[status]
    se = {PASS: 0.002, FAIL: 0.002, INCONCLUSIVE: 0.05}[status]
    rules = shadow_steps()[0].shadow.metrics
    mine = {"roc_auc": ArmEstimate(0.8 - regression, se * se, 4000),
            "error_rate": ArmEstimate(0.0, 1e-8, 4000)}  # fmt: skip
    theirs = {"roc_auc": ArmEstimate(0.8, se * se, 4000),
              "error_rate": ArmEstimate(0.0, 1e-8, 4000)}  # fmt: skip
    found = canary_judge.judge(rules, mine, theirs, alpha=0.01, covariance={"roc_auc": 0.0})
    assert found.status == status
    return found


def run(steps: list, feed: list[canary.Measurement]) -> tuple[canary.RolloutState, list]:
    """Drive the machine until it pauses, finishes or runs out of measurements; the actions."""
    state, now, kinds, feed = canary.start("2", "1"), 0.0, [], iter(feed)
    for _ in range(50):
        action = canary.next_action(steps, state, now)
        kinds.append(action.kind)
        if action.kind in (canary.DONE, canary.PAUSE):
            return state, kinds
        if action.kind == canary.WAIT:
            state, now = canary.after(steps, state, action, now), action.until
            continue
        result = None
        if action.kind == canary.ANALYSE:
            result = next(feed, None)
            if result is None:
                return state, kinds
        state = canary.after(steps, state, action, now, result)
    raise AssertionError("the rollout did not stop")


def test_shadow_step_is_measured_before_any_weight_and_a_pass_moves_on() -> None:
    steps = shadow_steps()
    assert [s.kind for s in steps] == ["shadow", "set_weight", "analysis"]
    assert steps[0].judged is steps[0].shadow and steps[0].shadow.count == 2
    state, kinds = run(steps, [measured(PASS), measured(PASS)])
    assert kinds[0] == canary.ANALYSE and kinds[1] == canary.SET_WEIGHT  # shadow first, at 0%
    assert state.phase == canary.PROMOTED
    assert [h["kind"] for h in state.history][:2] == ["shadow", "set_weight"]
    assert state.history[0]["weight"] == 0


def test_evidence_of_harm_in_shadow_stops_the_challenger_unserved() -> None:
    steps = shadow_steps()
    state, kinds = run(steps, [measured(FAIL)])
    assert canary.SET_WEIGHT not in kinds and canary.ROLLBACK in kinds
    assert state.phase == canary.ROLLED_BACK and state.weight == 0
    assert canary.at_shadow_step(steps, state)
    assert state.reason.startswith("SHADOW: steps[0]")
    assert "never served" in state.reason and "roc_auc regression" in state.reason


def test_undecided_shadow_asks_a_person_and_resumes_from_its_saved_state() -> None:
    steps = shadow_steps(count=2)
    state, _ = run(steps, [measured(INCONCLUSIVE)])
    assert state.phase == canary.PROGRESSING and len(state.measurements) == 1
    resumed = canary.RolloutState.from_dict(json.loads(json.dumps(state.to_dict())))
    assert resumed == state  # a resumed task continues the same shadow step
    action = canary.next_action(steps, resumed, state.wait_until)
    paused = canary.after(steps, resumed, action, state.wait_until, measured(INCONCLUSIVE))
    assert paused.phase == canary.PAUSED and paused.reason.startswith("SHADOW:")
    assert "not enough evidence" in paused.reason
    go_on = canary.answer(steps, paused, "continue", 100.0)
    assert go_on.step == 1 and canary.next_action(steps, go_on, 100.0).kind == canary.SET_WEIGHT


def shadow_log(rng: np.random.Generator, n: int, drop: float, identical: bool) -> pd.DataFrame:
    """n requests served by the champion and scored in shadow by the challenger: binormal
    scores sharing most of their noise (two retrains); `drop` lowers the challenger's
    separation; `identical`: the challenger is the champion itself."""
    y = (rng.random(n) < 0.3).astype(float)
    shared = rng.normal(size=n)

    def model(separation: float) -> np.ndarray:
        latent = separation * y + np.sqrt(0.8) * shared + np.sqrt(0.2) * rng.normal(size=n)
        return 1 / (1 + np.exp(-latent))

    champion = model(1.2)
    challenger = champion if identical else model(1.2 - drop)
    return pd.DataFrame(
        {"model_version": "1", "prediction": champion, "latency_ms": 5.0, "error": False,
         "shadow_version": "2", "shadow_prediction": challenger, "shadow_latency_ms": 6.0,
         "shadow_error": False, "label": y}
    )  # fmt: skip


def shadow_statuses(rng: np.random.Generator, drop: float, identical: bool = False) -> list[str]:
    """The paired judge at 5 looks over cumulative shadow traffic of 300 requests a look."""
    rules = shadow_steps()[0].shadow.metrics
    logs, statuses = [], []
    for _ in range(5):
        logs.append(shadow_log(rng, 300, drop, identical))
        mine, theirs, cov = shadow_pair(
            pd.concat(logs), list(rules), {"canary": "2", "champion": "1"},
            version_column="model_version", shadow_version_column="shadow_version",
            label="label", served=SERVED, shadow=SHADOW_COLUMNS, threshold=0.5,
        )  # fmt: skip
        statuses.append(canary_judge.judge(rules, mine, theirs, alpha=0.01, covariance=cov).status)
    return statuses


def test_paired_judge_never_stops_identical_models_and_always_stops_a_clearly_worse_one() -> None:
    """40 seeded shadow runs each: the champion against itself never fails a look (the
    paired difference is exactly 0, var_a + var_b - 2 cov = 0) and passes at the first; a
    challenger with an AUC about 0.16 lower (margin 0.02) fails by the last look every time
    and never passes."""
    rng = np.random.default_rng(17)
    identical = [shadow_statuses(rng, 0.0, identical=True) for _ in range(40)]
    assert all(s[0] == PASS for s in identical)
    worse = [shadow_statuses(rng, 0.6) for _ in range(40)]
    assert all(FAIL in s for s in worse) and not any(PASS in s for s in worse)


def test_shadow_pair_reads_only_the_challengers_shadowed_requests() -> None:
    rng = np.random.default_rng(3)
    log = shadow_log(rng, 400, 0.0, identical=True)
    other = log.assign(shadow_version="9", shadow_prediction=0.5)  # another shadow model
    unmirrored = log.assign(shadow_version=None, shadow_prediction=np.nan)
    frame = pd.concat([log, other, unmirrored], ignore_index=True)
    for column in (None, "shadow_version"):
        mine, theirs, cov = shadow_pair(
            frame if column else pd.concat([log, unmirrored]), ["roc_auc", "error_rate"],
            {"canary": "2", "champion": "1"}, version_column="model_version",
            shadow_version_column=column, label="label", served=SERVED,
            shadow=SHADOW_COLUMNS, threshold=0.5,
        )  # fmt: skip
        assert mine["roc_auc"].n == theirs["roc_auc"].n == 400
        assert mine["roc_auc"].value == theirs["roc_auc"].value
        assert cov["roc_auc"] > 0 and mine["error_rate"].n == 400


def test_too_few_shadowed_requests_are_not_computable_yet() -> None:
    rng = np.random.default_rng(4)
    log = shadow_log(rng, 20, 0.0, identical=False)
    mine, theirs, cov = canary_judge.shadow_metrics(
        log, ["roc_auc", "accuracy"], label="label", challenger=SHADOW_COLUMNS,
        champion=SERVED, threshold=0.5,
    )  # fmt: skip
    assert all(np.isnan(e.value) for e in (*mine.values(), *theirs.values())) and cov == {}
    rules = shadow_steps()[0].shadow.metrics
    assert canary_judge.judge(rules, mine, theirs, alpha=0.01).status == INCONCLUSIVE
