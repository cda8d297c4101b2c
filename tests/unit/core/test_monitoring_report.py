"""Monitoring decision and wording: causes, alert text, daily health report."""

from __future__ import annotations

from airflow_mlops_provider.core.monitoring_report import (
    alert_text,
    causes,
    drift_line,
    health_report,
    health_text,
    performance_line,
    reason_of,
    top_drifted,
)

DRIFT = {
    "dataset_drift": True,
    "drifted_share": 0.4286,
    "drifted_features": ["monthly_charges", "contract", "total_charges"],
    "champion_version": "1",
    "report": "/r/drift.html",
}
TOP = [
    {"feature": "monthly_charges", "test": "ks", "value": 0.31, "threshold": 0.05, "drifted": True},
    {"feature": "contract", "test": "chi2", "value": 0.12, "threshold": 0.05, "drifted": True},
    {"feature": "tenure_months", "test": "ks", "value": 0.01, "threshold": 0.05, "drifted": False},
]
DECAY = {
    "status": "decayed",
    "reason": "performance: accuracy 0.697 < min 0.72 on 1173 labelled",
    "metric": "accuracy",
    "value": 0.6973,
    "bound": {"min": 0.72},
    "stats": {"labelled_rows": 1173, "window_rows": 2000},
    "report": "/r/performance.json",
}


def test_causes_and_reason_put_drift_first() -> None:
    assert causes(DRIFT, DECAY) == ["drift", "performance"]
    assert reason_of(DRIFT, DECAY) == (
        "drift in monthly_charges, contract, total_charges; "
        "performance: accuracy 0.697 < min 0.72 on 1173 labelled"
    )
    assert causes({**DRIFT, "dataset_drift": False}, {**DECAY, "status": "ok"}) == []
    assert causes(None, {"status": "not_assessed", "reason": "no labels yet"}) == []
    too_few = {"status": "too_few_labels", "reason": "5 labelled requests of 6 (need 6)"}
    assert causes(None, too_few) == []
    assert performance_line(too_few) == (
        "live metric: not assessed (5 labelled requests of 6 (need 6))"
    )
    assert reason_of(None, None) == "no dataset drift, no performance decay"


def test_top_features_use_the_engines_ranking_when_present() -> None:
    assert top_drifted({**DRIFT, "top": TOP}) == [
        "monthly_charges (ks 0.31, threshold 0.05)",
        "contract (chi2 0.12, threshold 0.05)",
    ]
    assert top_drifted(DRIFT) == DRIFT["drifted_features"]  # before the engine gives `top`
    assert top_drifted(None) == []


def test_alert_names_features_metric_and_reports() -> None:
    decision = {
        "causes": ["drift", "performance"],
        "reason": reason_of(DRIFT, DECAY),
        "retrain_requested": True,
        "cooldown": None,
        "report": DRIFT["report"],
        "report_json": "/r/drift.json",
        "performance_report": DECAY["report"],
        "drift": {**DRIFT, "top": TOP, "prediction_drift": True},
        "performance": DECAY,
    }
    text = alert_text("churn", "scheduled__2026-11-08", decision)
    assert text.splitlines()[0] == (
        ":warning: churn: Drift and performance decay detected (scheduled__2026-11-08)"
    )
    assert "  • monthly_charges (ks 0.31, threshold 0.05)" in text
    assert "prediction drift: yes" in text
    assert "live metric: accuracy 0.697 (min 0.72) — DECAYED; 1173 labelled of 2000" in text
    assert "Retraining requested" in text and "Drift report: /r/drift.html" in text
    assert "Drift report (JSON): /r/drift.json" in text
    assert "Performance report: /r/performance.json" in text
    cooling = alert_text("churn", "r", {**decision, "cooldown": "already requested at t"})
    assert "Retraining not requested again: already requested at t" in cooling
    assert "Retraining requested" not in cooling


def test_health_report_text() -> None:
    status = {
        "status": "retrain",
        "reason": reason_of(DRIFT, DECAY),
        "run_id": "scheduled__2026-11-08",
        "window": "2026-11-08 00:00:00+00:00",
        "drift": DRIFT,
        "performance": DECAY,
    }
    report = health_report(
        "churn",
        status=status,
        champion={"version": "1", "created": "2026-11-23T10:00:00+00:00", "gate": "promote"},
        last_training={"version": "2", "created": "2026-11-23T11:00:00+00:00", "gate": "reject"},
        generated_at="2026-11-23T12:00:00+00:00",
    )
    text = health_text(report)
    assert "monitoring: retrain — drift in monthly_charges" in text
    assert "drift: DRIFT (0.429 of features drifted, vs champion v1)" in text
    assert "top drifted features: monthly_charges; contract; total_charges" in text
    assert "live metric: accuracy 0.697 (min 0.72) — DECAYED" in text
    assert "champion: v1 (since 2026-11-23T10:00:00+00:00)" in text
    assert "last training: v2 at 2026-11-23T11:00:00+00:00, gate reject" in text
    empty = health_text(
        health_report("churn", status=None, champion=None, last_training=None, generated_at="t")
    )
    assert "no monitoring run yet" in empty and "champion: none yet" in empty


def test_not_enough_evidence_is_its_own_line_and_no_cause() -> None:
    drift = {
        "verdict": "not_enough_evidence",
        "dataset_drift": False,
        "drifted_share": 0.0,
        "unjudged_features": ["tenure_months", "contract"],
        "champion_version": "3",
    }
    assert drift_line(drift).startswith(
        "drift: NOT ENOUGH EVIDENCE (tenure_months, contract could not be judged)"
    )
    assert causes(drift, None) == []  # not a reason to retrain; the decision says so apart
