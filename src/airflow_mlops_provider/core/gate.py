"""The evaluation gate: challenger vs champion on the same holdout, TFX-style bounds.

Per metric: value bounds (`min`/`max`) and a signed change bound against the champion
(`max_regression`: how much worse it may be; `min_improvement`: how much better it must be),
absolute or relative to the champion's value. "Worse" respects the metric's direction
(lower is better for log_loss, rmse, mae). A configured metric that is missing or NaN fails.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from airflow_mlops_provider.core.metrics import LOWER_IS_BETTER


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
class GateDecision:
    decision: str  # "promote" | "reject"
    reasons: tuple[str, ...]
    verdicts: tuple[MetricVerdict, ...]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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


def _change_reasons(name: str, rule: Rule, value: float, base: float) -> list[str]:
    if math.isnan(base):
        return [f"{name} of the champion could not be computed; cannot compare"]
    gain = (base - value) if name in LOWER_IS_BETTER else (value - base)
    unit = ""
    if rule.relative:
        if base == 0:
            return [f"{name} relative change undefined: champion value is 0"]
        gain, unit = gain / abs(base), " (relative)"
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
