"""core.evaluation.evaluate on hand-made models, the gate report, and audit tags per decision."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from airflow_mlops_provider.core import audit
from airflow_mlops_provider.core.evaluation import evaluate
from airflow_mlops_provider.core.gate_report import render_html, summary_markdown
from airflow_mlops_provider.spec import load_spec

SPEC = load_spec(Path(__file__).resolve().parents[3] / "dags" / "churn.yaml")


@pytest.fixture(scope="module")
def holdout() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 1200
    frame = pd.DataFrame(
        {
            "tenure_months": rng.integers(0, 72, n),
            "monthly_charges": rng.uniform(20, 120, n),
            "total_charges": rng.uniform(0, 5000, n),
            "support_calls": rng.integers(0, 6, n),
            "contract": rng.choice(["month-to-month", "one-year", "two-year"], n),
            "payment_method": rng.choice(["electronic-check", "mailed-check", "credit-card"], n),
            "internet_service": rng.choice(["dsl", "fiber", "none"], n),
        }
    )
    frame["churned"] = (rng.random(n) < 1 / (1 + np.exp(-(frame.support_calls - 2.5)))).astype(int)
    return frame


def informed(frame: pd.DataFrame) -> np.ndarray:
    """A model that knows the label's driver: support calls."""
    return 1 / (1 + np.exp(-(frame.support_calls.to_numpy() - 2.5)))


def biased(frame: pd.DataFrame) -> np.ndarray:
    """Same, but pushes one payment method's scores up: a fairness gap past the soft limit."""
    bump = np.where(frame.payment_method == "mailed-check", 0.4, 0.0)
    return np.clip(informed(frame) + bump, 0, 1)


def weak(frame: pd.DataFrame) -> np.ndarray:
    """A champion that half guesses: lower AUC than the others."""
    noise = np.random.default_rng(0).random(len(frame))
    return 0.5 * informed(frame) + 0.5 * noise


def run(holdout: pd.DataFrame, challenger, champion) -> dict:
    return evaluate(
        holdout=holdout,
        challenger=challenger,
        champion=champion,
        data=SPEC.data,
        evaluation=SPEC.evaluation,
        approval=SPEC.approval,
    )


def test_same_model_twice_is_promoted_with_nothing_to_worry_about(holdout) -> None:
    result = run(holdout, informed, informed)
    assert result["decision"] == "promote" and result["disagreement"] == 0
    assert result["risk"]["score"] == 0 and result["holdout_rows"] == 1200
    assert [(c["name"], c["bound"]) for c in result["checks"]] == [
        ("roc_auc", "min"),
        ("roc_auc", "max_regression"),
        ("accuracy", "min"),
        ("fairness.demographic_parity_difference", "limit"),
        ("fairness.equal_opportunity_difference", "limit"),
        ("latency.p95_ms", "limit"),
        ("disagreement", "limit"),
    ]
    assert all(c["verdict"] == "pass" for c in result["checks"])
    regression = result["checks"][1]
    assert regression["measured"] == 0 and regression["lower"] == regression["upper"] == 0
    assert result["champion_checks"]["fairness.demographic_parity_difference"] == pytest.approx(
        result["checks"][3]["value"]
    )
    groups = {g["group"] for g in result["fairness"]["groups"]}
    assert groups == {
        f"payment_method={m}" for m in ("electronic-check", "mailed-check", "credit-card")
    }
    json.dumps(result)  # JSON types only: it goes to XCom and the report as is


def test_biased_challenger_asks_a_person_and_cold_start_counts(holdout) -> None:
    result = run(holdout, biased, weak)
    assert result["decision"] == "approval", result["reasons"]
    gap = next(c for c in result["checks"] if c["name"].endswith("parity_difference"))
    # a 0.33 gap against the 0.4 limit, groups of ~400 rows: every pair is inside at alpha,
    # and the measured gap is past the soft limit: a person looks
    assert gap["verdict"] == "pass" and gap["value"] < gap["upper"] <= 0.4
    assert result["risk"]["factors"]["fairness"] >= 0.5
    cold = run(holdout, informed, None)
    assert cold["decision"] == "promote" and cold["risk"]["factors"]["cold_start"] == 1
    assert cold["champion_metrics"] is None and cold["disagreement"] is None


def test_report_and_summary_show_the_decision_and_escape_text(holdout) -> None:
    result = run(holdout, biased, weak) | {"challenger": "7", "champion": "6"}
    result["reasons"] = [*result["reasons"], "<script>alert(1)</script>"]
    html = render_html(result, title="Gate: churn v7")
    assert "Decision: a person must approve" in html and "<script>" not in html
    assert "payment_method=mailed-check" in html and "&lt;script&gt;" in html
    text = summary_markdown(result, report_url="/reports/gate.html")
    assert text.startswith("**Gate decision: a person must approve** for version 7")
    assert "| fairness |" in text and text.endswith("Full gate report: /reports/gate.html")
    assert "| pass |" in text and "| change |" in text
    assert "<th>interval</th>" in html and "paired difference" in html


def test_audit_lines_about_a_version_become_its_tags() -> None:
    def line(event: str, details: dict) -> str:
        return audit.record(
            event, pipeline="p", dag_id="d", run_id="r", task_id="t", details=details, actor="ann"
        )

    approved = {"version": "4", "choice": "Approve", "by": "ann"}
    version, key, value = audit.version_tag(line("approved", approved))
    assert (version, key) == ("4", "mlops.audit.approved")
    assert value.endswith(" d r: v4 approved by ann"), value  # a sentence, not a JSON blob
    assert audit.version_tag(line("promoted", {"champion": "5", "changed": "yes"}))[0] == "5"
    assert audit.version_tag(line("validated", {"rows": 10})) is None
    huge = audit.version_tag(line("gated", {"version": "1", "reasons": ["x " * 9000]}))
    assert len(huge[2]) <= audit.TAG_LIMIT and huge[2].endswith("…")
