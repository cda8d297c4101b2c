"""The evaluation gate: challenger vs champion on the same holdout, bounds tested, then risk.

Per metric: value bounds (`min`/`max`) and a signed change bound against the champion
(`max_regression`: how much worse it may be; `min_improvement`: how much better it must be),
absolute or relative to the champion's value, direction-aware (lower is better for log_loss,
rmse, mae). Hard limits add fairness gaps, p95 latency and disagreement with the champion.

Every bound is a hypothesis test on a measured quantity with a confidence interval (the
paired difference for change bounds, see core/estimates.py and docs/decisions.md):

* **pass** — the (1 - 2 alpha) interval lies inside the bound (one-sided test at alpha);
* **fail** — Holm's procedure over every bound of the gate rejects "inside" at alpha;
* **uncertain** — neither: the holdout cannot tell. The risk score gets its `uncertain`
  factor (a person decides, or a larger holdout does).

Error control: the gate promotes only when *every* bound passes, an intersection-union test,
so a challenger that breaks any one bound is promoted with probability <= alpha without a
multiplicity correction (Berger 1982); it rejects when *any* bound fails, so the fail tests are
corrected for their number with Holm (family-wise error <= alpha). A bound whose value could
not be computed fails (fail closed). The risk score (core/risk.py) reads a passed regression
bound at the pessimistic end of its interval, and limited values as measured.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from airflow_mlops_provider.core import risk
from airflow_mlops_provider.core.bounds import Margin, describe, margins
from airflow_mlops_provider.core.estimates import MetricEstimate
from airflow_mlops_provider.core.intervals import holm, normal_p_values, wilson, z_of
from airflow_mlops_provider.core.metrics import to_scores
from airflow_mlops_provider.core.vocabulary import LOWER_IS_BETTER

#: Default error rate of the gate's tests (the YAML's `evaluation.alpha`): as the drift check's
#: and the canary's, so a challenger worse by its whole margin is auto-promoted in at most about
#: 1 of 100 holdouts even when the holdout is too small to tell (bench: "Decision quality").
ALPHA = 0.01
PASS, FAIL, UNCERTAIN = "pass", "fail", "uncertain"


class Rule(Protocol):
    min: float | None
    max: float | None
    max_regression: float | None
    min_improvement: float | None
    relative: bool


@dataclass(frozen=True)
class Check:
    """One bound of the gate, measured and judged.

    `measured` is what the bound is about — the metric's value for `min`/`max`/`limit`, the
    regression or improvement over the champion for change bounds (in the rule's unit) —
    with its (1 - 2 alpha) interval `lower`..`upper`. `p_outside` is the p-value of "the
    bound holds" (small: evidence it is broken), `p_within` that of "it is broken".
    """

    name: str
    bound: str  # min | max | max_regression | min_improvement | limit
    limit: float
    value: float | None  # the challenger's metric (or limited quantity)
    champion: float | None = None
    measured: float | None = None
    lower: float | None = None
    upper: float | None = None
    p_within: float = 1.0
    p_outside: float = 1.0
    relative: bool = False
    factor: str = ""  # the risk factor a passed bound feeds
    method: str = ""
    verdict: str = ""  # pass | fail | uncertain ("" until settled)
    reason: str = ""
    rows_needed: int | None = None  # uncertain: holdout rows that would likely decide it
    se: float | None = None  # standard error of `measured` (normal checks)
    rows: int = 0  # holdout rows the check was measured on
    broken: str | None = None  # set when the bound cannot be judged at all (fails)

    @property
    def passed(self) -> bool:
        return self.verdict == PASS

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        return {k: v for k, v in data.items() if k != "broken"}


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
    checks: tuple[Check, ...]
    risk: risk.RiskAssessment | None = None
    alpha: float = ALPHA


# --------------------------------------------------------------------------------------------
# measuring the bounds
# --------------------------------------------------------------------------------------------


def metric_checks(
    rules: dict[str, Rule], estimates: dict[str, MetricEstimate], *, alpha: float
) -> list[Check]:
    """Every bound of every configured metric, measured with a normal interval."""
    if not rules:
        raise ValueError("an evaluation gate needs at least one metric rule")
    found = []
    for name, rule in rules.items():
        est = estimates.get(name)
        value = None if est is None else est.challenger
        base = None if est is None else est.champion
        if value is None or math.isnan(value):
            found.append(_broken(name, rule, value, base, f"{name} could not be computed"))
            continue
        if base is not None and math.isnan(base) and _has_change_bound(rule):
            reason = f"{name} of the champion could not be computed; cannot compare"
            found.append(_broken(name, rule, value, base, reason))
            continue
        cov = (est.var_challenger, est.var_champion, est.covariance)
        for margin in margins(
            name, rule, value, base, cov, higher_is_better=name not in LOWER_IS_BETTER
        ):
            found.append(_normal_check(margin, value, base, est, alpha))
    return found


def _has_change_bound(rule: Rule) -> bool:
    return rule.max_regression is not None or rule.min_improvement is not None


def _broken(name: str, rule: Rule, value: float | None, base: float | None, why: str) -> Check:
    kinds = ("min", "max", "max_regression", "min_improvement")
    bound = next(b for b in kinds if getattr(rule, b) is not None)
    value = None if value is None or math.isnan(value) else value
    base = None if base is None or math.isnan(base) else base
    return Check(name, bound, float(getattr(rule, bound)), value, base, broken=why)


def _normal_check(
    margin: Margin, value: float, base: float | None, est: MetricEstimate, alpha: float
) -> Check:
    if math.isnan(margin.margin):
        why = f"{margin.metric}: relative change undefined, champion value is 0"
        return Check(margin.metric, margin.bound, margin.limit, value, base, broken=why)
    common = {
        "name": margin.metric,
        "bound": margin.bound,
        "limit": margin.limit,
        "value": value,
        "champion": base,
        "measured": margin.measured,
        "relative": margin.relative,
        "factor": "regression" if margin.bound == "max_regression" else "",
        "method": est.method,
    }
    se = margin.se
    if math.isnan(se):
        return Check(**{**common, "method": f"{est.method} (no interval)"})
    z = z_of(alpha)
    low, high = margin.measured_interval(margin.margin - z * se, margin.margin + z * se)
    p_within, p_outside = normal_p_values(margin.margin, se)
    return Check(
        **common,
        lower=low,
        upper=high,
        p_within=p_within,
        p_outside=p_outside,
        se=se,
        rows=est.rows,
    )


def limit_check(
    name: str,
    factor: str,
    value: float | None,
    limit: float,
    *,
    interval: Callable[[float], tuple[float, float]] | None = None,
    method: str = "exact",
    champion: float | None = None,
    alpha: float = ALPHA,
) -> Check:
    """value <= limit, tested with `interval(a)`: the two-sided interval whose ends are the
    one-sided bounds at level a (None: the value is exact). p-values come from inverting it.
    A value that could not be computed fails (fail closed)."""
    if value is None or math.isnan(value):
        return Check(name, "limit", limit, None, champion, factor=factor,
                     broken=f"{name} could not be computed")  # fmt: skip
    if interval is None:
        inside = value <= limit
        return Check(
            name, "limit", limit, value, champion, value, value, value,
            0.0 if inside else 1.0, 1.0 if inside else 0.0, factor=factor, method=method,
        )  # fmt: skip
    low, high = interval(alpha)
    return Check(
        name,
        "limit",
        limit,
        value,
        champion,
        value,
        low,
        high,
        p_within=_invert(lambda a: interval(a)[1] <= limit),
        p_outside=_invert(lambda a: interval(a)[0] > limit),
        factor=factor,
        method=method,
    )


def _invert(holds: Callable[[float], bool]) -> float:
    """The smallest level a at which `holds(a)` — the p-value of a test given as an interval
    family that shrinks as a grows (bisection in log space, relative precision ~1e-3)."""
    if not holds(0.5):
        return 1.0
    low, high = 1e-12, 0.5
    if holds(low):
        return low
    for _ in range(40):
        mid = math.sqrt(low * high)
        low, high = (low, mid) if holds(mid) else (mid, high)
    return high


def proportion_interval(successes: float, total: float) -> Callable[[float], tuple[float, float]]:
    """Wilson intervals of a share (e.g. disagreement), as a function of the level."""
    return lambda a: wilson(successes, total, a)


# --------------------------------------------------------------------------------------------
# judging
# --------------------------------------------------------------------------------------------


def settle(checks: Sequence[Check], alpha: float) -> list[Check]:
    """Verdicts for every check: pass / fail (Holm over the family) / uncertain."""
    testable = [i for i, c in enumerate(checks) if c.broken is None]
    rejected = holm([checks[i].p_outside for i in testable], alpha)
    failed = {i for i, r in zip(testable, rejected, strict=True) if r}
    settled = []
    for i, check in enumerate(checks):
        if check.broken is not None:
            settled.append(replace(check, verdict=FAIL, reason=check.broken))
        elif i in failed:
            settled.append(replace(check, verdict=FAIL, reason=_reason(check, FAIL, alpha)))
        elif check.p_within <= alpha:
            settled.append(replace(check, verdict=PASS, reason=_reason(check, PASS, alpha)))
        else:
            check = replace(check, rows_needed=_rows_to_decide(check, alpha, len(testable)))
            settled.append(
                replace(check, verdict=UNCERTAIN, reason=_reason(check, UNCERTAIN, alpha))
            )
    return settled


def _rows_to_decide(check: Check, alpha: float, family: int) -> int | None:
    """Holdout rows at which this margin, if it stays put, would be decided: n (z se / m)^2,
    z the pass level inside the bound, the Bonferroni level (Holm's worst) outside it."""
    if not (check.se and check.rows and check.measured is not None):
        return None
    upper = check.bound in ("max", "max_regression", "limit")
    margin = (check.limit - check.measured) if upper else (check.measured - check.limit)
    if margin == 0:
        return None
    z = z_of(alpha) if margin > 0 else z_of(alpha / max(family, 1))
    needed = math.ceil(check.rows * (z * check.se / margin) ** 2)
    return needed if needed > check.rows else None


def _reason(check: Check, verdict: str, alpha: float) -> str:
    bound = describe(Margin(check.name, check.bound, check.limit, check.relative, 0, 0, 0))
    what = {"max_regression": "regression", "min_improvement": "improvement"}.get(check.bound)
    measured = f"{check.name} {what or 'value'} {_num(check.measured)}"
    if check.lower is None or check.upper is None:
        span = "no interval"
    elif check.lower == check.upper:
        span = "exact"
    else:
        span = f"{1 - 2 * alpha:.0%} interval {_num(check.lower)} to {_num(check.upper)}"
    text = f"{measured} ({span}) vs {bound}"
    if verdict == FAIL:
        return f"{text}: outside the bound (p = {check.p_outside:.2g})"
    if verdict == PASS:
        return f"{text}: within"
    hint = ""
    if check.rows_needed:
        hint = f"; a holdout of about {check.rows_needed:,} rows would likely decide it"
    return f"{text}: undecided{hint}"


def judge(
    checks: Sequence[Check],
    policy: Policy,
    *,
    has_champion: bool,
    alpha: float = ALPHA,
) -> GateDecision:
    """Settle every check, then: any failure rejects; otherwise the risk score decides."""
    settled = settle(checks, alpha)
    factors = {
        "regression": 0.0,
        "cold_start": 0.0 if has_champion else 1.0,
        "uncertain": 1.0 if any(c.verdict == UNCERTAIN for c in settled) else 0.0,
    }
    for check in settled:
        if check.passed and check.factor:
            level = risk.band(_risk_reading(check), check.limit, policy.soft_limit)
            factors[check.factor] = max(factors.get(check.factor, 0.0), level)
    assessed = risk.assess(
        factors,
        weights=policy.weights,
        approve_above=policy.approve_above,
        reject_above=policy.reject_above,
    )
    hard = [c.reason for c in settled if c.verdict == FAIL]
    undecided = [c.reason for c in settled if c.verdict == UNCERTAIN]
    decision, why = _decide(hard, undecided, not has_champion, assessed, policy)
    return GateDecision(decision, tuple(why), tuple(settled), assessed, alpha)


def _risk_reading(check: Check) -> float:
    """What a passed bound contributes to the risk score: a regression at the pessimistic end
    of its interval (auto-promotion needs confidence that the challenger is within
    soft_limit x its margin, so a model worse by the whole margin is not promoted without a
    person), a limited value (fairness gap, latency, disagreement) as measured."""
    if check.bound == "max_regression" and check.upper is not None:
        return check.upper
    return check.measured if check.measured is not None else check.limit


def _decide(
    hard: list[str],
    undecided: list[str],
    cold: bool,
    assessed: risk.RiskAssessment,
    policy: Policy,
) -> tuple[str, list[str]]:
    if hard:
        return risk.REJECT, [f"hard limit: {reason}" for reason in hard]
    if cold and policy.on_missing_champion == "reject":
        return risk.REJECT, ["no champion yet; on_missing_champion=reject"]
    why = [assessed.reason, *undecided]
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


def _num(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.4f}"
