"""One evaluation of challenger vs champion on the same holdout, from predict functions.

Everything the gate needs is measured here — the YAML's metrics with the uncertainty of their
paired differences, fairness by group with intervals, p95 batch latency (both models timed
interleaved), disagreement with the champion — then `gate.judge` decides. Models come in as
plain `predict(frame)` callables (an MLflow pyfunc's `predict` in the DAG, a scikit-learn
`predict_proba` in the demo), so this runs the same with or without Airflow and MLflow.
The settings are the spec's blocks, read by attribute only (core does not import the spec).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from airflow_mlops_provider.core import latency
from airflow_mlops_provider.core.estimates import paired_estimates
from airflow_mlops_provider.core.fairness import (
    DPD,
    EOD,
    gap_interval,
    group_fairness,
    group_labels,
)
from airflow_mlops_provider.core.gate import (
    Check,
    Policy,
    disagreement,
    judge,
    limit_check,
    metric_checks,
    proportion_interval,
)
from airflow_mlops_provider.core.metrics import to_scores

Predict = Callable[[pd.DataFrame], Any]


def evaluate(
    *,
    holdout: pd.DataFrame,
    challenger: Predict,
    champion: Predict | None,
    data: Any,
    evaluation: Any,
    approval: Any,
) -> dict[str, Any]:
    """The gate's JSON-able result: decision, reasons, every check with its interval, the
    measurements behind them and the risk score."""
    inputs = holdout[data.features.all]
    mine = to_scores(challenger(inputs))
    theirs = to_scores(champion(inputs)) if champion else None
    alpha = evaluation.alpha
    estimates = paired_estimates(
        list(evaluation.metrics),
        holdout[data.target],
        mine,
        theirs,
        threshold=evaluation.threshold,
    )
    fairness = (
        _fairness(holdout, data, evaluation, mine),
        _fairness(holdout, data, evaluation, theirs),
    )
    timing = _latency(challenger, champion, inputs, evaluation)
    agreement = None
    if theirs is not None:
        agreement = disagreement(
            mine,
            theirs,
            regression=data.task == "regression",
            threshold=evaluation.threshold,
            tolerance=evaluation.disagreement.tolerance,
        )
    checks = metric_checks(evaluation.metrics, estimates, alpha=alpha)
    checks += _limit_checks(evaluation, fairness, timing, agreement, len(holdout), alpha)
    decision = judge(
        checks,
        policy(approval, evaluation.on_missing_champion),
        has_champion=theirs is not None,
        alpha=alpha,
    )
    result = {
        "decision": decision.decision,
        "reasons": decision.reasons,
        "alpha": alpha,
        "challenger_metrics": {n: e.challenger for n, e in estimates.items()},
        "champion_metrics": (
            {n: e.champion for n, e in estimates.items()} if theirs is not None else None
        ),
        "estimates": {n: e.to_dict() for n, e in estimates.items()},
        "checks": [c.to_dict() for c in decision.checks],
        "champion_checks": {c.name: c.champion for c in checks if c.bound == "limit"},
        "risk": decision.risk.to_dict() if decision.risk else None,
        "approve_above": approval.approve_above,
        "reject_above": approval.reject_above,
        "approval_mode": approval.mode,
        "fairness": fairness[0] and fairness[0].to_dict(),
        "champion_fairness": fairness[1] and fairness[1].to_dict(),
        "latency": timing,
        "disagreement": agreement,
        "holdout_rows": len(holdout),
    }
    return json.loads(json.dumps(result, default=float))  # JSON types only: XCom == report


def policy(approval: Any, on_missing_champion: str) -> Policy:
    return Policy(
        mode=approval.mode,
        approve_above=approval.approve_above,
        reject_above=approval.reject_above,
        soft_limit=approval.soft_limit,
        weights=approval.weights.model_dump(),
        on_missing_champion=on_missing_champion,
    )


def _fairness(holdout: pd.DataFrame, data: Any, evaluation: Any, scores: np.ndarray | None):
    settings = evaluation.fairness
    if settings is None or scores is None:
        return None
    return group_fairness(
        group_labels(holdout, settings.group_columns),
        holdout[data.target],
        scores >= evaluation.threshold,
        min_group_size=settings.min_group_size,
    )


def _latency(
    challenger: Predict, champion: Predict | None, inputs: pd.DataFrame, evaluation: Any
) -> dict[str, Any]:
    """Both models timed interleaved (a pair of timings per repeat), or the challenger alone."""
    size, repeats = evaluation.latency.batch_size, evaluation.latency.repeats
    if champion is None:
        return {
            "challenger": latency.measure(challenger, inputs, batch_size=size, repeats=repeats),
            "champion": None,
            "difference": None,
        }
    mine, theirs = latency.measure_pair(
        challenger, champion, inputs, batch_size=size, repeats=repeats
    )
    change = latency.p95_difference(mine["timings_ms"], theirs["timings_ms"], evaluation.alpha)
    return {"challenger": mine, "champion": theirs, "difference": change}


def _limit_checks(
    evaluation: Any,
    fairness: tuple[Any, Any],
    timing: dict[str, Any],
    agreement: float | None,
    rows: int,
    alpha: float,
) -> list[Check]:
    """The hard limits: fairness gaps, p95 latency, disagreement — each with its interval."""
    found = []
    settings = evaluation.fairness
    if settings is not None:
        mine, theirs = fairness
        for key, limit in (
            (DPD, settings.max_demographic_parity_difference),
            (EOD, settings.max_equal_opportunity_difference),
        ):
            if limit is None:
                continue
            found.append(
                limit_check(
                    f"fairness.{key}",
                    "fairness",
                    mine.metrics()[key],
                    limit,
                    interval=lambda a, key=key: gap_interval(mine, key, a),
                    method="wilson, simultaneous over groups",
                    champion=theirs.metrics()[key] if theirs else None,
                    alpha=alpha,
                )
            )
    if evaluation.latency.max_p95_ms is not None:
        champion = timing["champion"]
        found.append(
            limit_check(
                "latency.p95_ms",
                "latency",
                timing["challenger"]["p95_ms"],
                evaluation.latency.max_p95_ms,
                interval=latency.p95_interval(timing["challenger"]["timings_ms"]),
                method="bootstrap over repeats",
                champion=champion["p95_ms"] if champion else None,
                alpha=alpha,
            )
        )
    if agreement is not None:
        found.append(
            limit_check(
                "disagreement",
                "disagreement",
                agreement,
                evaluation.disagreement.max,
                interval=proportion_interval(agreement * rows, rows),
                method="wilson",
                alpha=alpha,
            )
        )
    return found
