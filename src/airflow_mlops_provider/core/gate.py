"""The evaluation gate: challenger vs champion on the same holdout, TFX-style bounds, then risk.

Per metric: value bounds (`min`/`max`) and a signed change bound against the champion
(`max_regression`: how much worse it may be; `min_improvement`: how much better it must be),
absolute or relative to the champion's value. "Worse" respects the metric's direction
(lower is better for log_loss, rmse, mae). A configured metric that is missing or NaN fails.

`judge()` adds hard limits (fairness gaps, p95 latency, disagreement with the champion; a
limit whose value could not be computed fails too) and the risk score of core/risk.py, which
decides between auto-promote, a person's approval and reject (`Policy.mode`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from airflow_mlops_provider.core import risk
from airflow_mlops_provider.core.metrics import to_scores
from airflow_mlops_provider.core.vocabulary import LOWER_IS_BETTER


class Rule(Protocol):
    min: float | None
    max: float | None
    max_regression: float | None
    min_improvement: float | None
    relative: bool


@dataclass(frozen=True)
class MetricVerdict:
    metric: str
    challenger: float | None
    champion: float | None
    passed: bool
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class LimitCheck:
    """A measured value against a hard upper limit; it also feeds one risk factor."""

    name: str
    factor: str
    value: float | None
    limit: float
    passed: bool
    reason: str


@dataclass(frozen=True)
class Policy:
    """How the gate turns bounds and risk into a decision (from the YAML's approval block)."""

    mode: str = "risk"  # risk | always | never
    approve_above: float = 0.3
    reject_above: float = 0.7
    soft_limit: float = 0.5
    weights: dict[str, float] = field(default_factory=lambda: dict(risk.DEFAULT_WEIGHTS))
    on_missing_champion: str = "promote"  # promote | approval | reject


@dataclass(frozen=True)
class GateDecision:
    decision: str  # "promote" | "approval" | "reject"
    reasons: tuple[str, ...]
    verdicts: tuple[MetricVerdict, ...]
    checks: tuple[LimitCheck, ...] = ()
    risk: risk.RiskAssessment | None = None


def decide(
    rules: dict[str, Rule],
    challenger: dict[str, float],
    champion: dict[str, float] | None,
    *,
    on_missing_champion: str,
) -> GateDecision:
    """Judge every configured metric; promote only when all pass (fail closed)."""
    if not rules:
        raise ValueError("an evaluation gate needs at least one metric rule")
    verdicts = tuple(
        _judge(name, rule, challenger.get(name), None if champion is None else champion.get(name))
        for name, rule in rules.items()
    )
    failed = [r for v in verdicts if not v.passed for r in v.reasons]
    if failed:
        return GateDecision("reject", tuple(failed), verdicts)
    if champion is None:
        reason = f"no champion yet; on_missing_champion={on_missing_champion}"
        return GateDecision(
            "promote" if on_missing_champion == "promote" else "reject", (reason,), verdicts
        )
    return GateDecision("promote", ("every metric within its bounds",), verdicts)


def _judge(name: str, rule: Rule, value: float | None, base: float | None) -> MetricVerdict:
    if value is None or math.isnan(value):
        return MetricVerdict(name, None, base, False, (f"{name} could not be computed",))
    reasons = []
    if rule.min is not None and value < rule.min:
        reasons.append(f"{name} {value:.4f} is below min {rule.min}")
    if rule.max is not None and value > rule.max:
        reasons.append(f"{name} {value:.4f} is above max {rule.max}")
    has_change_rule = rule.max_regression is not None or rule.min_improvement is not None
    if base is not None and has_change_rule:
        reasons.extend(_change_reasons(name, rule, value, base))
    return MetricVerdict(name, value, base, not reasons, tuple(reasons))


def _gain(name: str, rule: Rule, value: float, base: float) -> float | None:
    """Signed improvement over the champion (positive = better), in the rule's unit."""
    gain = (base - value) if name in LOWER_IS_BETTER else (value - base)
    if not rule.relative:
        return gain
    return gain / abs(base) if base != 0 else None


def _change_reasons(name: str, rule: Rule, value: float, base: float) -> list[str]:
    if math.isnan(base):
        return [f"{name} of the champion could not be computed; cannot compare"]
    gain = _gain(name, rule, value, base)
    if gain is None:
        return [f"{name} relative change undefined: champion value is 0"]
    unit = " (relative)" if rule.relative else ""
    reasons = []
    if rule.max_regression is not None and -gain > rule.max_regression:
        reasons.append(
            f"{name} regressed by {-gain:.4f}{unit} vs champion {base:.4f}; "
            f"max_regression {rule.max_regression}"
        )
    if rule.min_improvement is not None and gain < rule.min_improvement:
        reasons.append(
            f"{name} improved by {gain:.4f}{unit} vs champion {base:.4f}; "
            f"min_improvement {rule.min_improvement}"
        )
    return reasons


def limit_check(name: str, factor: str, value: float | None, limit: float) -> LimitCheck:
    """value <= limit passes; a value that could not be computed fails (fail closed)."""
    if value is None or math.isnan(value):
        return LimitCheck(name, factor, None, limit, False, f"{name} could not be computed")
    if value > limit:
        reason = f"{name} {value:.4f} is above the limit {limit}"
        return LimitCheck(name, factor, value, limit, False, reason)
    return LimitCheck(name, factor, value, limit, True, f"{name} {value:.4f} <= {limit}")


def judge(
    rules: dict[str, Rule],
    challenger: dict[str, float],
    champion: dict[str, float] | None,
    checks: Sequence[LimitCheck],
    policy: Policy,
) -> GateDecision:
    """Bounds and hard limits first (any failure rejects), then the risk score decides."""
    bounds = decide(rules, challenger, champion, on_missing_champion="promote")
    factors = {
        "regression": _regression_factor(rules, challenger, champion, policy.soft_limit),
        "cold_start": 1.0 if champion is None else 0.0,
    }
    for check in checks:
        if check.value is not None:
            level = risk.band(check.value, check.limit, policy.soft_limit)
            factors[check.factor] = max(factors.get(check.factor, 0.0), level)
    assessed = risk.assess(
        factors,
        weights=policy.weights,
        approve_above=policy.approve_above,
        reject_above=policy.reject_above,
    )
    hard = [r for v in bounds.verdicts if not v.passed for r in v.reasons]
    hard += [c.reason for c in checks if not c.passed]
    decision, why = _decide(hard, champion is None, assessed, policy)
    return GateDecision(decision, tuple(why), bounds.verdicts, tuple(checks), assessed)


def _decide(
    hard: list[str], cold: bool, assessed: risk.RiskAssessment, policy: Policy
) -> tuple[str, list[str]]:
    if hard:
        return risk.REJECT, [f"hard limit: {reason}" for reason in hard]
    if cold and policy.on_missing_champion == "reject":
        return risk.REJECT, ["no champion yet; on_missing_champion=reject"]
    why = [assessed.reason]
    if assessed.decision == risk.REJECT:
        return risk.REJECT, why
    if policy.mode == "never":
        if assessed.decision == risk.APPROVAL:
            why.append("approval.mode never: promoted without asking a person")
        return risk.PROMOTE, why
    if policy.mode == "always":
        return risk.APPROVAL, [*why, "approval.mode always: a person decides"]
    if cold and policy.on_missing_champion == "approval":
        return risk.APPROVAL, [*why, "no champion yet; on_missing_champion=approval"]
    return assessed.decision, why


def _regression_factor(
    rules: dict[str, Rule],
    challenger: dict[str, float],
    champion: dict[str, float] | None,
    soft_limit: float,
) -> float:
    """Worst regression against its metric's max_regression (0 without a champion)."""
    worst = 0.0
    for name, rule in rules.items():
        value = challenger.get(name)
        base = None if champion is None else champion.get(name)
        if rule.max_regression is None or value is None or base is None:
            continue
        if math.isnan(value) or math.isnan(base):
            continue
        gain = _gain(name, rule, value, base)
        if gain is not None and gain < 0:
            worst = max(worst, risk.band(-gain, rule.max_regression, soft_limit))
    return worst


def disagreement(
    challenger_scores: object,
    champion_scores: object,
    *,
    regression: bool,
    threshold: float = 0.5,
    tolerance: float = 0.1,
) -> float:
    """Share of rows where the two models disagree: different thresholded labels, or for a
    regressor predictions more than `tolerance` (relative to the champion's) apart."""
    a, b = to_scores(challenger_scores), to_scores(champion_scores)
    if a.shape != b.shape or not len(a):
        raise ValueError(f"cannot compare {len(a)} and {len(b)} predictions")
    if regression:
        differs = np.abs(a - b) > tolerance * np.maximum(np.abs(b), 1e-12)
    else:
        differs = (a >= threshold) != (b >= threshold)
    return float(differs.mean())
