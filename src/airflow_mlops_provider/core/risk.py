"""The release risk score: how much a person should look at a challenger that passed its bounds.

Each factor is a number in [0, 1]:

- `regression`: the worst metric regression against the champion, measured against that
  metric's `max_regression` (same absolute/relative unit);
- `fairness`: the worst fairness gap against its hard limit;
- `latency`: the challenger's p95 scoring latency against `latency.max_p95_ms`;
- `disagreement`: the share of holdout rows whose thresholded prediction differs from the
  champion's, against `disagreement.max`;
- `cold_start`: 1 when there is no champion to compare with, else 0;
- `uncertain`: 1 when a bound of the gate is undecided (its interval straddles the bound: the
  holdout cannot tell), else 0. With the default weight it alone asks a person.

The regression factor reads the regression at the pessimistic end of its confidence interval:
auto-promotion needs confidence that the challenger is within `soft_limit` x its margin, so a
model really worse by the whole margin goes to a person even when this holdout flatters it.

A "value against a limit" factor is 0 up to the soft limit (`soft_limit` x the hard limit),
then jumps to 0.5 and rises linearly to 1 at the hard limit (the hard limit itself is a
reject before any score is computed). The jump makes "past the soft limit" a clear event:
with the default weights a single factor past its soft limit reaches the approval threshold.

The score combines the factors like independent risks (noisy-OR):

    score = 1 - prod_i (1 - weight_i * factor_i)

so it stays in [0, 1], one strong factor is enough to matter, several moderate ones add up,
and a factor of 0 changes nothing. `approval.mode: risk` then decides: score >= reject_above
-> reject, score >= approve_above -> a person approves, else auto-promote.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

FACTORS = ("regression", "fairness", "latency", "disagreement", "cold_start", "uncertain")
DEFAULT_WEIGHTS = {
    "regression": 0.6,
    "fairness": 0.6,
    "latency": 0.4,
    "disagreement": 0.25,
    "cold_start": 0.2,
    "uncertain": 0.5,
}
PROMOTE, APPROVAL, REJECT = "promote", "approval", "reject"


@dataclass(frozen=True)
class RiskAssessment:
    score: float
    factors: dict[str, float]
    weights: dict[str, float]
    decision: str  # what the score alone says: promote | approval | reject
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def band(value: float, limit: float, soft_limit: float) -> float:
    """0 up to soft_limit x limit, then 0.5 rising linearly to 1 at the limit (capped at 1)."""
    if limit <= 0:
        return 1.0 if value > 0 else 0.0
    soft = soft_limit * limit
    if value <= soft:
        return 0.0
    if soft >= limit:
        return 1.0
    return min(1.0, 0.5 + 0.5 * (value - soft) / (limit - soft))


def combine(factors: dict[str, float], weights: dict[str, float]) -> float:
    """Noisy-OR of the weighted factors; unknown factor names are a programming error."""
    unknown = set(factors) - set(FACTORS)
    if unknown:
        raise ValueError(f"unknown risk factors {sorted(unknown)}; known: {', '.join(FACTORS)}")
    remaining = 1.0
    for name, factor in factors.items():
        remaining *= 1.0 - weights.get(name, 0.0) * min(1.0, max(0.0, factor))
    return 1.0 - remaining


def assess(
    factors: dict[str, float],
    *,
    weights: dict[str, float],
    approve_above: float,
    reject_above: float,
) -> RiskAssessment:
    """Score the factors and say what the score alone decides, with the reason in words."""
    score = combine(factors, weights)
    drivers = sorted(
        ((weights.get(n, 0.0) * f, n) for n, f in factors.items() if f > 0), reverse=True
    )
    driven = ", ".join(f"{n} {factors[n]:.2f}" for _, n in drivers) or "no risk factor"
    if score >= reject_above:
        decision, verdict = REJECT, f">= reject_above {reject_above}"
    elif score >= approve_above:
        decision, verdict = APPROVAL, f">= approve_above {approve_above}: a person decides"
    else:
        decision, verdict = PROMOTE, f"< approve_above {approve_above}"
    reason = f"risk score {score:.2f} {verdict} (factors: {driven})"
    return RiskAssessment(round(score, 4), dict(factors), dict(weights), decision, reason)
