"""The pipelines view page: escaped, script-free, every section there."""

from __future__ import annotations

from airflow_mlops_provider.core.overview_html import render_overview
from airflow_mlops_provider.core.svg_chart import line_chart


def overview(**extra) -> dict:
    return {
        "pipeline": "churn",
        "description": "<b>bold</b>",
        "model": "churn",
        "dag_ids": {"training": "churn__training", "monitoring": "churn__monitoring"},
        "champion": {"version": "2", "since": "2026-11-08T01:00:00+00:00", "gate": "promote"},
        "versions": [
            {"version": "2", "aliases": ["champion"], "gate": "promote", "decision": "promoted",
             "risk_score": "0.12", "metrics": {"roc_auc": 0.81234}, "created": "c2"},
            {"version": "1", "aliases": ["previous_champion"], "gate": "promote",
             "decision": "promoted", "risk_score": None, "metrics": {"roc_auc": None},
             "created": "c1"},
        ],
        "drift": [{"time": "2026-11-01", "value": 0.0}, {"time": "2026-11-08", "value": 0.5}],
        "drift_share": 0.25,
        "live": [{"time": "2026-11-01", "value": 0.8, "metric": "accuracy"}],
        "performance_bound": {"metric": "accuracy", "min": 0.74, "max": None},
        "monitoring": {"status": "retrain", "reason": "drift in tenure", "window": "2026-11-08",
                       "run_id": "r3"},
        "pending_approvals": [{"dag_id": "churn__training", "run_id": "r4", "task_id": "approve",
                               "time": "t", "text": "approval asked for v3"}],
        "canary": {"challenger": "3", "champion": "2", "phase": "progressing", "step": 1,
                   "weight": 20, "reason": "", "last_measurement": {"status": "pass"}},
        "decisions": [{"dag_id": "churn__training", "run_id": "r4", "task_id": "x", "time": "t",
                       "event": "gated", "text": "gate: approval v3"}],
        **extra,
    }  # fmt: skip


def test_every_section_is_shown_and_escaped() -> None:
    page = render_overview([overview()], [("bad.yaml", "bad.yaml:3:1: <x> unknown key")], base="")
    assert "<script" not in page and "<b>bold</b>" not in page and "&lt;b&gt;" in page
    assert "Configuration errors (1)" in page and "&lt;x&gt; unknown key" in page
    assert "Champion:</strong> churn v2 since 2026-11-08T01:00:00+00:00" in page
    assert page.count("<svg") == 2  # drift share and live metric over time
    assert 'href="/dags/churn__training/runs/r4/tasks/approve/required_actions"' in page
    assert "v3 against champion v2" in page and "at step 2, 20% of traffic" in page
    assert "0.812" in page and "gate: approval v3" in page
    assert 'target="_top"' in page  # Airflow pages open in the UI around the view


def test_empty_states_say_so() -> None:
    bare = overview(champion=None, versions=[], drift=[], live=[], monitoring=None,
                    pending_approvals=[], canary=None, decisions=[])  # fmt: skip
    page = render_overview([bare], [], hidden=2)
    assert "Champion:</strong> none" in page and "no monitoring run yet" in page
    assert "No drift share measured yet." in page and "No model version registered yet." in page
    assert "2 more pipeline(s) you have no access to." in page


def test_chart_draws_points_and_bound() -> None:
    svg = line_chart([{"time": "a", "value": 1.0}, {"time": "b", "value": 2.0}],
                     label="x", bound=1.5)  # fmt: skip
    assert svg.count("<circle") == 2 and 'stroke-dasharray="4 3"' in svg
