"""One evaluation of challenger vs champion on the same holdout, from predict functions.

Everything the gate needs is measured here — the YAML's metrics, fairness by group, p95
batch latency, disagreement with the champion — then `gate.judge` decides. Models come in as
plain `predict(frame)` callables (an MLflow pyfunc's `predict` in the DAG, a scikit-learn
`predict_proba` in the demo), so this runs the same with or without Airflow and MLflow.
The settings are the spec's blocks, read by attribute only (core does not import the spec).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import pandas as pd

from airflow_mlops_provider.core import latency
from airflow_mlops_provider.core.fairness import group_fairness, group_labels
from airflow_mlops_provider.core.gate import Policy, disagreement, judge, limit_check
from airflow_mlops_provider.core.metrics import compute, to_scores

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
    """The gate's JSON-able result: decision, reasons, every measurement and the risk score."""
    mine = _measure(challenger, holdout, data, evaluation)
    theirs = _measure(champion, holdout, data, evaluation) if champion else None
    agreement = None
    if theirs is not None:
        agreement = disagreement(
            mine["scores"],
            theirs["scores"],
            regression=data.task == "regression",
            threshold=evaluation.threshold,
            tolerance=evaluation.disagreement.tolerance,
        )
    checks = [
        limit_check(name, name.split(".")[0], value, limit)
        for name, limit, value in _limits(mine, evaluation)
    ]
    if agreement is not None:
        limit = evaluation.disagreement.max
        checks.append(limit_check("disagreement", "disagreement", agreement, limit))
    decision = judge(
        evaluation.metrics,
        mine["metrics"],
        theirs["metrics"] if theirs else None,
        checks,
        policy(approval, evaluation.on_missing_champion),
    )
    result = {
        "decision": decision.decision,
        "reasons": decision.reasons,
        "challenger_metrics": mine["metrics"],
        "champion_metrics": theirs["metrics"] if theirs else None,
        "verdicts": [asdict(v) for v in decision.verdicts],
        "checks": [asdict(c) for c in decision.checks],
        "champion_checks": {n: v for n, _, v in _limits(theirs, evaluation)} if theirs else {},
        "risk": decision.risk.to_dict() if decision.risk else None,
        "approve_above": approval.approve_above,
        "reject_above": approval.reject_above,
        "approval_mode": approval.mode,
        "fairness": mine["fairness"],
        "champion_fairness": theirs["fairness"] if theirs else None,
        "latency": {"challenger": mine["latency"], "champion": theirs and theirs["latency"]},
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


def _measure(predict: Predict, holdout: pd.DataFrame, data: Any, evaluation: Any) -> dict[str, Any]:
    """Scores, metrics, fairness by group and p95 batch latency of one model."""
    inputs = holdout[data.features.all]
    scores = to_scores(predict(inputs))
    fairness = evaluation.fairness
    return {
        "scores": scores,
        "metrics": compute(
            list(evaluation.metrics), holdout[data.target], scores, threshold=evaluation.threshold
        ),
        "latency": latency.measure(
            predict,
            inputs,
            batch_size=evaluation.latency.batch_size,
            repeats=evaluation.latency.repeats,
        ),
        "fairness": None
        if fairness is None
        else group_fairness(
            group_labels(holdout, fairness.group_columns),
            holdout[data.target],
            scores >= evaluation.threshold,
            min_group_size=fairness.min_group_size,
        ).to_dict(),
    }


def _limits(measured: dict[str, Any], evaluation: Any) -> list[tuple[str, float, float | None]]:
    """(check name, hard limit, measured value) of the limits configured for one model."""
    found: list[tuple[str, float, float | None]] = []
    fairness = evaluation.fairness
    if fairness is not None:
        gaps = measured["fairness"] or {}
        for key, limit in (
            ("demographic_parity_difference", fairness.max_demographic_parity_difference),
            ("equal_opportunity_difference", fairness.max_equal_opportunity_difference),
        ):
            if limit is not None:
                found.append((f"fairness.{key}", limit, gaps.get(key)))
    if evaluation.latency.max_p95_ms is not None:
        found.append(
            ("latency.p95_ms", evaluation.latency.max_p95_ms, measured["latency"]["p95_ms"])
        )
    return found
