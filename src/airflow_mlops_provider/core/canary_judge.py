"""The sequential canary judge: each measurement compares the arms on a confidence sequence.

Every analysis metric maps to a per-request statistic of each arm (`arm_metrics`):

* `error_rate` — the share of failed requests (binomial; variance from (k+1)/(n+2));
* `latency_p95_ms` — the 95th percentile of per-request latency; its variance from the
  order-statistic interval, with *distinct* timings as the sample size (requests timed in one
  micro-batch share one timing);
* label metrics on the labelled requests scored without error — `roc_auc` by DeLong (needs 10
  labelled positives and 10 negatives per arm), the others (accuracy, precision, recall, f1,
  log_loss, rmse, mae, r2) by the delta method on their per-row components (30 requests).

Each bound (value bounds `min`/`max`, the change bound `max_regression` against the champion
arm, absolute or relative, direction-aware) is a margin of those estimates (core/bounds.py);
the arms are disjoint requests, so their variances add. A measurement looks at all the
traffic of the analysis step so far through a normal-mixture confidence sequence
(core/sequential.py), valid however many measurements are taken:

* a bound **fails** only when the whole sequence at alpha / k lies outside it — evidence of
  harm beyond the margin (Bonferroni over the analysis' k bounds: a false rollback has
  chance <= alpha);
* it **passes** when the whole sequence at alpha lies inside (the analysis passes only when
  every bound does: an intersection-union test, no correction needed);
* otherwise it is **inconclusive**, and so is a metric an arm has too little data for.

`core.canary.step_outcome` turns the measurements of one analysis step into what happens
next: a failure beyond `failure_limit` rolls back, a pass finishes the step early (enough
evidence of non-inferiority), `count` measurements without a pass pause for a person. No
`min_samples`: each metric's own minimum above is what the normal approximation needs, and an
inconclusive bound says how many requests per arm would likely decide it.

A metric source without per-request data (a plain Prometheus query) gives values without
variance: they are compared as points (at least 30 requests per arm) and the reason says so;
a point inside its bound passes, one outside is inconclusive — no evidence of harm, so no
rollback: a person decides.
Prometheus counters (events out of requests) give a share with its binomial variance.

A shadow stage scores every request with both models: `shadow_estimates` gives the paired
covariance and the same judge then tests the paired difference (as the gate does on its
holdout), which decides with far fewer requests than two disjoint arms.
"""

from __future__ import annotations

import math
from typing import Any

from airflow_mlops_provider.core.bounds import Margin, describe, margins
from airflow_mlops_provider.core.canary import FAIL, INCONCLUSIVE, PASS, Measurement, Rule
from airflow_mlops_provider.core.estimates import (
    MIN_CLASS_ROWS,
    MIN_REQUESTS,
    ArmEstimate,
    arm_estimate,
    proportion_estimate,
    quantile_estimate,
)
from airflow_mlops_provider.core.sequential import half_width, variance_to_decide
from airflow_mlops_provider.core.vocabulary import better_direction

BUILTIN_METRICS = ("latency_p95_ms", "error_rate")  # measured on every request, no label


def judge(
    rules: dict[str, Rule],
    canary: dict[str, ArmEstimate],
    champion: dict[str, ArmEstimate],
    *,
    alpha: float,
    covariance: dict[str, float] | None = None,
) -> Measurement:
    """One measurement: every bound of every metric, judged on a confidence sequence.

    `covariance` (per metric) is for a shadow comparison, where both models score the same
    requests (`shadow_estimates`); canary arms are disjoint requests, so it is 0."""
    covariance = covariance or {}
    found = [
        check
        for name, rule in rules.items()
        for check in _bound_checks(
            name, rule, canary.get(name), champion.get(name), covariance.get(name, 0.0)
        )
    ]
    testable = sum(1 for c in found if c.get("margin") is not None)
    settled = [_settle(c, alpha, max(testable, 1)) for c in found]
    samples = {
        "canary": max((e.n for e in canary.values()), default=0),
        "champion": max((e.n for e in champion.values()), default=0),
    }
    points = (_values(canary), _values(champion))
    failed = [c["reason"] for c in settled if c["verdict"] == FAIL]
    if failed:
        return Measurement(FAIL, tuple(failed), samples, *points, tuple(settled))
    open_ = [c["reason"] for c in settled if c["verdict"] == INCONCLUSIVE]
    if open_:
        return Measurement(INCONCLUSIVE, tuple(open_), samples, *points, tuple(settled))
    reason = "every bound holds: " + "; ".join(c["reason"] for c in settled)
    return Measurement(PASS, (reason,), samples, *points, tuple(settled))


def direction(name: str, rule: Rule) -> str:
    """Which way is better: the rule's own `direction` (a Prometheus query says it), else the
    vocabulary's."""
    return better_direction(name, rule.direction)


def _values(arm: dict[str, ArmEstimate]) -> dict[str, float]:
    return {name: estimate.value for name, estimate in arm.items()}


def _bound_checks(
    name: str,
    rule: Rule,
    mine: ArmEstimate | None,
    theirs: ArmEstimate | None,
    cov: float,
) -> list[dict[str, Any]]:
    """The rule's bounds as margins; a side without data yet makes them inconclusive."""
    needs_base = rule.max_regression is not None
    sides = [mine, theirs] if needs_base else [mine]
    if any(e is None or math.isnan(e.value) for e in sides):
        return [{"metric": name, "margin": None, "why": f"{name} could not be computed yet"}]
    assert mine is not None
    point = any(e is None or e.variance is None for e in sides)  # no per-request data
    if point and min(e.n for e in sides if e is not None) < MIN_REQUESTS:
        why = f"{name}: fewer than {MIN_REQUESTS} requests in an arm for a point value"
        return [{"metric": name, "margin": None, "why": why}]
    var_c = 0.0 if point else float(mine.variance or 0.0)
    var_b = 0.0 if point or theirs is None else float(theirs.variance or 0.0)
    base = theirs.value if needs_base and theirs is not None else None
    found = []
    for m in margins(
        name, rule, mine.value, base, (var_c, var_b, 0.0 if point else cov),
        higher_is_better=direction(name, rule) == "higher",
    ):  # fmt: skip
        if math.isnan(m.margin):
            why = f"{name}: relative change undefined, champion arm is 0"
            found.append({"metric": name, "margin": None, "why": why})
            continue
        found.append(
            {
                "metric": name,
                "bound": m.bound,
                "limit": m.limit,
                "relative": m.relative,
                "measured": m.measured,
                "margin": m.margin,
                "variance": None if point else m.variance,
                "tau": _tau(m, base),
                "requests": mine.n,
            }
        )
    return found


def _tau(margin: Margin, base: float | None) -> float:
    """The mixture's scale: the effect size the bound is about (see core/sequential.py)."""
    if margin.bound == "max_regression":
        if margin.limit > 0:
            return margin.limit
        return 0.1 if margin.relative else 0.1 * max(abs(base or 0.0), 1e-6)
    return max(abs(margin.limit), 1e-6)


def _settle(check: dict[str, Any], alpha: float, family: int) -> dict[str, Any]:
    """pass: the sequence at alpha lies inside; fail: the sequence at alpha / family lies
    outside; else inconclusive (with the requests it would likely need)."""
    if check["margin"] is None:
        return {**check, "verdict": INCONCLUSIVE, "reason": check["why"]}
    margin, variance = check["margin"], check["variance"]
    bound = describe(_as_margin(check))
    what = {"max_regression": "regression"}.get(check["bound"], "value")
    measured = f"{check['metric']} {what} {check['measured']:.4f}"
    if variance is None:  # a point value: no interval, so no evidence of harm
        if margin >= 0:
            text = f"{measured} vs {bound}: within (a point value, no per-request data)"
            return {**check, "lower": None, "upper": None, "verdict": PASS, "reason": text}
        text = (
            f"{measured} vs {bound}: outside as a point value, but without per-request data "
            "that is no evidence of harm; a person decides (give the metric as counters)"
        )
        return {**check, "lower": None, "upper": None, "verdict": INCONCLUSIVE, "reason": text}
    inside = half_width(variance, alpha, check["tau"])
    outside = half_width(variance, alpha / family, check["tau"])
    m = _as_margin(check)
    low, high = m.measured_interval(margin - inside, margin + inside)
    span = f"{measured} (sequence {low:.4f} to {high:.4f}) vs {bound}"
    if margin + outside < 0:
        return {**check, "lower": low, "upper": high, "verdict": FAIL,
                "reason": f"{span}: outside the bound beyond doubt"}  # fmt: skip
    if margin - inside >= 0:
        return {**check, "lower": low, "upper": high, "verdict": PASS, "reason": f"{span}: within"}
    needed = _requests_needed(check, alpha)
    hint = f"; about {needed:,} requests per arm would likely decide it" if needed else ""
    return {**check, "lower": low, "upper": high, "verdict": INCONCLUSIVE,
            "needed": needed, "reason": f"{span}: not decided yet{hint}"}  # fmt: skip


def _as_margin(check: dict[str, Any]) -> Margin:
    return Margin(
        check["metric"], check["bound"], check["limit"], check["relative"],
        check["measured"], check["margin"], check["variance"] or 0.0,
    )  # fmt: skip


def _requests_needed(check: dict[str, Any], alpha: float) -> int | None:
    """Requests per arm at which the current margin would be decided, if it stays put."""
    target = variance_to_decide(check["margin"], alpha, check["tau"])
    if target <= 0 or not check["variance"]:
        return None
    return math.ceil(check["requests"] * check["variance"] / target)


def shadow_estimates(
    names: list[str], y: Any, challenger: Any, champion: Any, *, threshold: float
) -> tuple[dict[str, ArmEstimate], dict[str, ArmEstimate], dict[str, float]]:
    """Both models on the same requests (a shadow stage): per-model estimates and, per
    metric, the covariance of the two — DeLong for roc_auc, the paired bootstrap for the
    others (core/estimates.py) — so the judge tests the paired difference, which needs far
    fewer requests than two disjoint arms. A metric with too few requests for its normal
    approximation (the minimums of `arm_estimate`) is NaN: not computable yet."""
    import numpy as np

    from airflow_mlops_provider.core.estimates import paired_estimates

    y = np.asarray(y, dtype=float)
    ready = [n for n in names if _enough_rows(n, y)]
    found = paired_estimates(ready, y, challenger, champion, threshold=threshold) if ready else {}
    mine, theirs, cov = {}, {}, {}
    for name in names:
        est = found.get(name)
        known = est is not None and all(
            math.isfinite(v) for v in (est.var_challenger, est.var_champion, est.covariance)
        )
        if not known:
            mine[name] = theirs[name] = ArmEstimate(math.nan, None, len(y))
            continue
        mine[name] = ArmEstimate(est.challenger, est.var_challenger, est.rows)
        theirs[name] = ArmEstimate(float(est.champion), est.var_champion, est.rows)
        cov[name] = est.covariance
    return mine, theirs, cov


def _enough_rows(name: str, y: Any) -> bool:
    """The minimums `arm_estimate` asks of one arm, for rows both models scored."""
    if name == "roc_auc":
        positives = int((y == 1).sum())
        return min(positives, len(y) - positives) >= MIN_CLASS_ROWS
    return len(y) >= MIN_REQUESTS


def shadow_metrics(
    frame: Any,
    names: list[str],
    *,
    label: str | None,
    challenger: dict[str, str | None],
    champion: dict[str, str | None],
    threshold: float = 0.5,
) -> tuple[dict[str, ArmEstimate], dict[str, ArmEstimate], dict[str, float]]:
    """Metrics of requests both models scored (the champion served them, the challenger in
    shadow): `challenger` and `champion` name each model's `prediction`, `latency` and
    `error` columns. Label metrics are paired (`shadow_estimates`) on the labelled requests
    both scored without error; `error_rate` and `latency_p95_ms` per model as in
    `arm_metrics`, without covariance (their variances add: conservative when errors or slow
    requests coincide)."""
    builtin = [n for n in names if n in BUILTIN_METRICS]
    mine = arm_metrics(frame, builtin, label=None, **challenger)
    theirs = arm_metrics(frame, builtin, label=None, **champion)
    label_names = [n for n in names if n not in BUILTIN_METRICS]
    if not label_names:
        return mine, theirs, {}
    if not label or label not in frame:
        missing = {n: ArmEstimate(math.nan, None, 0) for n in label_names}
        return {**mine, **missing}, {**theirs, **missing}, {}
    usable = frame[label].notna().to_numpy().copy()
    for columns in (challenger, champion):
        if columns.get("error") and columns["error"] in frame:
            usable &= ~frame[columns["error"]].fillna(False).astype(bool).to_numpy()
    rows = frame[usable]
    paired = shadow_estimates(
        label_names,
        rows[label].to_numpy(dtype=float),
        rows[challenger["prediction"]].to_numpy(dtype=float),
        rows[champion["prediction"]].to_numpy(dtype=float),
        threshold=threshold,
    )
    return {**mine, **paired[0]}, {**theirs, **paired[1]}, paired[2]


def arm_metrics(
    frame: Any,
    names: list[str],
    *,
    label: str | None,
    prediction: str = "prediction",
    latency: str | None = "latency_ms",
    error: str | None = "error",
    threshold: float = 0.5,
) -> dict[str, ArmEstimate]:
    """Metrics of one arm's scored requests, each with its variance and requests.

    Per-request statistics: label metrics use the labelled rows that were scored without
    error (a failed prediction has no score to judge; it counts in `error_rate`) — roc_auc
    by DeLong, the others by the delta method on their per-row components; `error_rate` is
    the share of failed requests; `latency_p95_ms` the 95th percentile of per-request
    latency, with distinct timings as its sample size.
    """
    import numpy as np

    rows = len(frame)
    errors = frame[error].astype(bool) if error and error in frame else np.zeros(rows, bool)
    values: dict[str, ArmEstimate] = {}
    label_names = [n for n in names if n not in BUILTIN_METRICS]
    if label_names:
        scored = frame[~np.asarray(errors)]
        if label and label in scored:
            scored = scored[scored[label].notna()]
            y = scored[label].to_numpy(dtype=float)
            s = scored[prediction].to_numpy(dtype=float)
            values.update({n: arm_estimate(n, y, s, threshold) for n in label_names})
        else:
            values.update({n: ArmEstimate(math.nan, None, 0) for n in label_names})
    if "error_rate" in names:
        values["error_rate"] = proportion_estimate(float(np.sum(errors)), rows)
    if "latency_p95_ms" in names:
        lat = frame[latency].dropna().to_numpy() if latency and latency in frame else []
        values["latency_p95_ms"] = quantile_estimate(np.asarray(lat, dtype=float), 0.95)
    return values
