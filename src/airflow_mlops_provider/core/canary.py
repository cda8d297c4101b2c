"""The canary rollout as a pure state machine (Argo Rollouts / Flagger vocabulary).

`next_action(steps, state, now)` says what to do next — set a weight, wait, analyse, ask a
person, promote, roll back — and `after(...)` returns the state once it is done. The caller
performs the side effect FIRST and persists the returned state SECOND; every side effect is
idempotent (a weight set twice, a promotion done twice change nothing), so a process killed
between the two simply repeats the last action on resume, and no step is lost or counted
twice. No Airflow, MLflow or Kubernetes import: this module is tested on its own.

Measurements come from the sequential judge (core/canary_judge.py): pass (enough evidence
that every bound holds), fail (evidence of harm) or inconclusive (not enough evidence yet).
Each one is kept in the state with its evidence (estimates, confidence sequence, requests),
so a resumed rollout continues the same analysis. `step_outcome` turns an analysis step's
measurements into what happens next: more than `failure_limit` failures roll back, a pass
finishes the step at once (the confidence sequence is valid at every look, so stopping early
costs no error rate), and `count` measurements without a pass pause for a person.

A shadow step is measured and decided the same way, on requests both models scored while
only the champion served them (the paired comparison of core/canary_judge.py): a pass moves
on to the next step, evidence of harm stops the rollout before any user saw the challenger
(`at_shadow_step`: the rollback has no traffic to move back), and `count` measurements
without a decision pause for a person. Its reasons begin with "SHADOW:".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol

PROGRESSING, PAUSED, ROLLING_BACK = "progressing", "paused", "rolling_back"
PROMOTED, ROLLED_BACK = "promoted", "rolled_back"
FINISHED = (PROMOTED, ROLLED_BACK)

SET_WEIGHT, WAIT, NEXT, ANALYSE, PAUSE = "set_weight", "wait", "next", "analyse", "pause"
PROMOTE, ROLLBACK, DONE = "promote", "rollback", "done"
PASS, FAIL, INCONCLUSIVE = "pass", "fail", "inconclusive"
CHOICES = ("continue", "promote", "rollback")
MEASURE, ADVANCE = "measure", "advance"  # step outcomes besides PAUSE and ROLLBACK
SHADOW = "shadow"  # a shadow step's entry in the history
#: A measurement's status in words, for logs, audit lines and notices.
IN_WORDS = {
    PASS: "enough evidence that every bound holds",
    FAIL: "evidence of harm",
    INCONCLUSIVE: "not enough evidence yet",
}


class Rule(Protocol):
    min: float | None
    max: float | None
    max_regression: float | None
    relative: bool
    direction: str | None


class Analysis(Protocol):
    metrics: dict[str, Rule]
    alpha: float
    count: int
    failure_limit: int

    @property
    def interval_seconds(self) -> float: ...


class Step(Protocol):
    set_weight: int | None
    pause: Any
    analysis: Analysis | None
    shadow: Analysis | None

    @property
    def judged(self) -> Analysis | None: ...


@dataclass(frozen=True)
class RolloutState:
    """Everything needed to resume a rollout; persisted as JSON after every action."""

    challenger: str
    champion: str | None
    step: int = 0
    weight: int = 0
    phase: str = PROGRESSING
    wait_until: float | None = None
    measurements: tuple[dict[str, Any], ...] = ()
    reason: str = ""
    history: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["measurements"] = list(self.measurements)
        data["history"] = list(self.history)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RolloutState:
        return cls(
            **{
                **data,
                "measurements": tuple(data.get("measurements", ())),
                "history": tuple(data.get("history", ())),
            }
        )


@dataclass(frozen=True)
class Action:
    kind: str
    weight: int | None = None
    until: float | None = None
    reason: str = ""


@dataclass(frozen=True)
class Measurement:
    """One look of the judge: its verdict, the reasons in words and the evidence."""

    status: str  # pass | fail | inconclusive
    reasons: tuple[str, ...]
    samples: dict[str, int]  # requests seen per arm
    canary: dict[str, float]
    champion: dict[str, float]
    checks: tuple[dict[str, Any], ...] = ()  # per bound (core/canary_judge.py): interval, verdict

    @property
    def decision(self) -> str:
        return IN_WORDS[self.status]

    def to_dict(self) -> dict[str, Any]:
        """JSON-shaped (lists, not tuples), so a state read back equals the one saved."""
        data = asdict(self)
        return {**data, "reasons": list(self.reasons), "checks": list(data["checks"]),
                "decision": self.decision}  # fmt: skip


def start(challenger: str, champion: str | None) -> RolloutState:
    return RolloutState(challenger=str(challenger), champion=champion)


def next_action(steps: list[Step], state: RolloutState, now: float) -> Action:
    """What the rollout must do next, given the steps and where it stands."""
    if state.phase in FINISHED:
        return Action(DONE, reason=state.reason)
    if state.phase == ROLLING_BACK:
        return Action(ROLLBACK, reason=state.reason)
    if state.phase == PAUSED:
        return Action(PAUSE, reason=state.reason)
    if state.step >= len(steps):
        return Action(PROMOTE, weight=100, reason="every step passed")
    step = steps[state.step]
    if step.set_weight is not None:
        return Action(SET_WEIGHT, weight=step.set_weight)
    if step.pause is not None:
        if step.pause.seconds is None:
            return Action(PAUSE, reason=f"steps[{state.step}] pauses for a person to continue")
        until = state.wait_until if state.wait_until is not None else now + step.pause.seconds
        return Action(WAIT, until=until) if now < until else Action(NEXT)
    if state.wait_until is not None and now < state.wait_until:
        return Action(WAIT, until=state.wait_until)
    return Action(ANALYSE)


def after(
    steps: list[Step],
    state: RolloutState,
    action: Action,
    now: float,
    measurement: Measurement | None = None,
) -> RolloutState:
    """The state once `action` has been carried out (pure; the caller persists it)."""
    if action.kind == SET_WEIGHT:
        return _advance(replace(state, weight=int(action.weight or 0)), now, action.kind)
    if action.kind == WAIT:
        return replace(state, wait_until=action.until)
    if action.kind == NEXT:
        return _advance(state, now, "pause")
    if action.kind == ANALYSE:
        if measurement is None:
            raise ValueError("an analyse action needs its measurement")
        return _measured(steps, state, measurement, now)
    if action.kind == PROMOTE:
        return _finish(state, PROMOTED, 100, action.reason, now)
    if action.kind == ROLLBACK:
        return _finish(state, ROLLED_BACK, 0, state.reason, now)
    return state


def answer(steps: list[Step], state: RolloutState, choice: str, now: float) -> RolloutState:
    """Apply a person's answer to a pause: continue, promote now, or roll back."""
    if choice not in CHOICES:
        raise ValueError(f"unknown answer {choice!r}; one of {', '.join(CHOICES)}")
    resumed = replace(state, phase=PROGRESSING, reason="", wait_until=None)
    if choice == "promote":
        return replace(resumed, step=len(steps), measurements=())
    if choice == "rollback":
        return replace(state, phase=ROLLING_BACK, reason="rolled back by a person at a pause")
    return _advance(resumed, now, "pause (continued by a person)")


def at_shadow_step(steps: list[Step], state: RolloutState) -> bool:
    """Whether the rollout stands (or stopped) at a shadow step: the challenger has served
    no request, so a stop there has no traffic to move back."""
    return state.step < len(steps) and steps[state.step].shadow is not None


def step_outcome(statuses: list[str], *, count: int, failure_limit: int) -> str:
    """What one analysis step does after its latest measurement (statuses oldest first)."""
    if sum(s == FAIL for s in statuses) > failure_limit:
        return ROLLBACK
    if statuses and statuses[-1] == PASS:
        return ADVANCE  # the sequence is valid at every look: stop as soon as it decides
    if len(statuses) < count:
        return MEASURE
    return PAUSE  # `count` measurements without a pass: a person decides


def _measured(
    steps: list[Step], state: RolloutState, measurement: Measurement, now: float
) -> RolloutState:
    step = steps[state.step]
    analysis = step.judged
    assert analysis is not None
    done = (*state.measurements, {**measurement.to_dict(), "at": now})
    statuses = [m["status"] for m in done]
    outcome = step_outcome(statuses, count=analysis.count, failure_limit=analysis.failure_limit)
    where = f"analysis at steps[{state.step}] (weight {state.weight}%)"
    if step.shadow is not None:
        where = (
            f"SHADOW: steps[{state.step}] (the challenger scored the champion's requests "
            "without serving any)"
        )
    if outcome == ROLLBACK:
        stop = "; the challenger is never served" if step.shadow is not None else ""
        reason = (
            f"{where} found evidence of harm in {statuses.count(FAIL)} measurement(s), "
            f"failure_limit {analysis.failure_limit}{stop}: " + "; ".join(measurement.reasons)
        )
        return replace(state, measurements=done, phase=ROLLING_BACK, reason=reason)
    if outcome == MEASURE:
        return replace(state, measurements=done, wait_until=now + analysis.interval_seconds)
    if outcome == PAUSE:
        reason = (
            f"{where} has not enough evidence either way after {len(done)} measurement(s): "
            + "; ".join(measurement.reasons)
        )
        return replace(state, measurements=done, phase=PAUSED, reason=reason, wait_until=None)
    return _advance(replace(state, measurements=done), now, SHADOW if step.shadow else ANALYSE)


def _advance(state: RolloutState, now: float, kind: str) -> RolloutState:
    entry = {"step": state.step, "kind": kind, "weight": state.weight, "at": now}
    if state.measurements:
        entry["measurements"] = len(state.measurements)
    return replace(
        state,
        step=state.step + 1,
        wait_until=None,
        measurements=(),
        history=(*state.history, entry),
    )


def _finish(state: RolloutState, phase: str, weight: int, reason: str, now: float) -> RolloutState:
    entry = {"step": state.step, "kind": phase, "weight": weight, "at": now}
    return replace(
        state,
        phase=phase,
        weight=weight,
        reason=reason,
        wait_until=None,
        history=(*state.history, entry),
    )
