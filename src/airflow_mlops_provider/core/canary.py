"""The canary rollout as a pure state machine (Argo Rollouts / Flagger vocabulary).

`next_action(steps, state, now)` says what to do next — set a weight, wait, analyse, ask a
person, promote, roll back — and `after(...)` returns the state once it is done. The caller
performs the side effect FIRST and persists the returned state SECOND; every side effect is
idempotent (a weight set twice, a promotion done twice change nothing), so a process killed
between the two simply repeats the last action on resume, and no step is lost or counted
twice. No Airflow, MLflow or Kubernetes import: this module is tested on its own.

Measurements (`judge`): each analysis metric of the canary arm gets value bounds (`min`,
`max`) and a signed change bound against the champion arm on the same traffic window
(`max_regression`, absolute or relative, direction-aware). A measurement with fewer than
`min_samples` requests in either arm, or a metric that could not be computed yet, is
inconclusive — neither a pass nor a failure. More than `failure_limit` failed measurements
roll back; an analysis whose last measurement is still inconclusive after `count` of them
pauses for a person.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol

from airflow_mlops_provider.core.vocabulary import better_direction

PROGRESSING, PAUSED, ROLLING_BACK = "progressing", "paused", "rolling_back"
PROMOTED, ROLLED_BACK = "promoted", "rolled_back"
FINISHED = (PROMOTED, ROLLED_BACK)

SET_WEIGHT, WAIT, NEXT, ANALYSE, PAUSE = "set_weight", "wait", "next", "analyse", "pause"
PROMOTE, ROLLBACK, DONE = "promote", "rollback", "done"
PASS, FAIL, INCONCLUSIVE = "pass", "fail", "inconclusive"
CHOICES = ("continue", "promote", "rollback")


class Rule(Protocol):
    min: float | None
    max: float | None
    max_regression: float | None
    relative: bool
    direction: str | None


class Analysis(Protocol):
    metrics: dict[str, Rule]
    min_samples: int
    count: int
    failure_limit: int

    @property
    def interval_seconds(self) -> float: ...


class Step(Protocol):
    set_weight: int | None
    pause: Any
    analysis: Analysis | None


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
    status: str  # pass | fail | inconclusive
    reasons: tuple[str, ...]
    samples: dict[str, int]
    canary: dict[str, float]
    champion: dict[str, float]
    checks: tuple[dict[str, Any], ...] = ()  # per bound (core/canary_judge.py): interval, verdict

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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


def judge(
    rules: dict[str, Rule],
    canary: dict[str, float],
    champion: dict[str, float],
    samples: dict[str, int],
    min_samples: int,
) -> Measurement:
    """One measurement: canary arm vs bounds and vs the champion arm on the same window."""
    short = {arm: n for arm, n in samples.items() if n < min_samples}
    if short:
        return Measurement(
            INCONCLUSIVE,
            (f"not enough samples {short} (min_samples {min_samples})",),
            samples,
            canary,
            champion,
        )
    failures: list[str] = []
    unknown: list[str] = []
    for name, rule in rules.items():
        value, base = canary.get(name), champion.get(name)
        if _missing(value) or (rule.max_regression is not None and _missing(base)):
            unknown.append(name)
            continue
        failures.extend(_violations(name, rule, float(value), base))  # type: ignore[arg-type]
    if failures:
        return Measurement(FAIL, tuple(failures), samples, canary, champion)
    if unknown:
        reason = f"{', '.join(unknown)} could not be computed yet"
        return Measurement(INCONCLUSIVE, (reason,), samples, canary, champion)
    return Measurement(PASS, ("every metric within its bounds",), samples, canary, champion)


def direction(name: str, rule: Rule) -> str:
    """Which way is better: the rule's own `direction` (a Prometheus query says it), else the
    vocabulary's."""
    return better_direction(name, rule.direction)


def _violations(name: str, rule: Rule, value: float, base: float | None) -> list[str]:
    reasons = []
    if rule.min is not None and value < rule.min:
        reasons.append(f"{name} {value:.4f} is below min {rule.min}")
    if rule.max is not None and value > rule.max:
        reasons.append(f"{name} {value:.4f} is above max {rule.max}")
    if rule.max_regression is not None and base is not None:
        worse = (value - base) if direction(name, rule) == "lower" else (base - value)
        unit = ""
        if rule.relative:
            if base == 0:
                return [*reasons, f"{name}: relative change undefined, champion arm is 0"]
            worse, unit = worse / abs(base), " (relative)"
        if worse > rule.max_regression:
            reasons.append(
                f"{name} {value:.4f} is {worse:.4f}{unit} worse than the champion arm "
                f"{base:.4f}; max_regression {rule.max_regression}"
            )
    return reasons


def _missing(value: float | None) -> bool:
    return value is None or math.isnan(value)


def _measured(
    steps: list[Step], state: RolloutState, measurement: Measurement, now: float
) -> RolloutState:
    analysis = steps[state.step].analysis
    assert analysis is not None
    done = (*state.measurements, {**measurement.to_dict(), "at": now})
    failed = [m for m in done if m["status"] == FAIL]
    if len(failed) > analysis.failure_limit:
        reason = (
            f"analysis at steps[{state.step}] (weight {state.weight}%) failed "
            f"{len(failed)} time(s), failure_limit {analysis.failure_limit}: "
            + "; ".join(measurement.reasons)
        )
        return replace(state, measurements=done, phase=ROLLING_BACK, reason=reason)
    if len(done) < analysis.count:
        return replace(state, measurements=done, wait_until=now + analysis.interval_seconds)
    if measurement.status == INCONCLUSIVE:
        reason = (
            f"analysis at steps[{state.step}] (weight {state.weight}%) is inconclusive after "
            f"{analysis.count} measurement(s): {'; '.join(measurement.reasons)}"
        )
        return replace(state, measurements=done, phase=PAUSED, reason=reason, wait_until=None)
    return _advance(replace(state, measurements=done), now, ANALYSE)


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


def arm_metrics(
    frame: Any,
    names: list[str],
    *,
    label: str | None,
    prediction: str = "prediction",
    latency: str | None = "latency_ms",
    error: str | None = "error",
    threshold: float = 0.5,
) -> tuple[dict[str, float], int]:
    """Metrics of one arm's scored requests, and its sample count.

    Label metrics use the labelled rows that were scored without error (a failed prediction
    has no score to judge; it counts in `error_rate`). The sample count is the labelled rows
    when a label metric is asked for, else all requests of the arm.
    """
    import numpy as np

    from airflow_mlops_provider.core.metrics import compute

    rows = len(frame)
    errors = frame[error].astype(bool) if error and error in frame else np.zeros(rows, bool)
    values: dict[str, float] = {}
    label_names = [n for n in names if n not in ("latency_p95_ms", "error_rate")]
    samples = rows
    if label_names:
        scored = frame[~np.asarray(errors)]
        if label and label in scored:
            scored = scored[scored[label].notna()]
            samples = len(scored)
            values.update(
                compute(label_names, scored[label], scored[prediction], threshold=threshold)
                if samples
                else dict.fromkeys(label_names, math.nan)
            )
        else:
            samples = 0
            values.update(dict.fromkeys(label_names, math.nan))
    if "error_rate" in names:
        values["error_rate"] = float(np.mean(errors)) if rows else math.nan
    if "latency_p95_ms" in names:
        lat = frame[latency].dropna() if latency and latency in frame else []
        values["latency_p95_ms"] = float(np.percentile(lat, 95)) if len(lat) else math.nan
    return values, samples
