"""Texts for people: no reprs, no words cut in half, canary steps that say what happened."""

from __future__ import annotations

from airflow_mlops_provider.core import audit_text
from airflow_mlops_provider.core.layout import relative_to_pipeline, safe_run_id
from airflow_mlops_provider.core.text import (
    human_list,
    human_mapping,
    human_value,
    number,
    shorten,
    wrap,
)


def test_lists_and_mappings_read_as_words() -> None:
    assert human_value(["request_retraining", "alert"]) == "request_retraining and alert"
    assert human_list(["a", "b", "c"]) == "a, b and c"
    assert human_list(["a", "b", "c", "d"], limit=2) == "a, b and 2 more"
    assert human_list([]) == "none"
    mapping = {"champion": "2", "previous_champion": "1", "changed": None, "reasons": []}
    assert human_mapping(mapping) == "champion 2, previous champion 1"
    assert human_value({"passed": True, "share": 0.123456}) == "passed yes, share 0.123"
    assert "[" not in human_value({"reasons": ["x", "y"]})
    assert number(72.0) == "72" and number(0.81234) == "0.812" and number(None) == "n/a"


def test_cuts_fall_between_words() -> None:
    text = "drift in tenure, monthly_charges and contract_type (vs champion v1)"
    short = shorten(text, 30)
    assert len(short) <= 30 and short.endswith("…")
    assert text.startswith(short[:-1])  # a prefix of whole words
    assert short[:-1].split()[-1] in [word.strip(",") for word in text.split()]
    assert shorten("short", 30) == "short"
    wrapped = wrap("word " * 40, width=30, indent="  ")
    assert all(len(line) <= 30 for line in wrapped.splitlines())
    assert all(part == "word" for part in wrapped.split())


def entry(event: str, details: dict, actor: str = "airflow") -> dict:
    return {"time": "t", "event": event, "dag_id": "churn__training", "run_id": "r",
            "task_id": "x", "actor": actor, "details": details}  # fmt: skip


def test_canary_steps_say_weight_measurement_and_result() -> None:
    base = {"version": "2", "champion": "1", "step": 0}
    weight = audit_text.describe(entry("canary_step", {**base, "set_weight": 20}))
    measured = audit_text.describe(
        entry(
            "canary_step",
            {**base, "step": 1, "weight": 20, "analysis": "pass", "measurement": 2,
             "reasons": ["accuracy 0.81 >= 0.8"], "samples": {"canary": 400, "champion": 1600},
             "canary": {"accuracy": 0.812}, "champion_arm": {"accuracy": 0.805}},
        )
    )  # fmt: skip
    assert weight == "canary v2 step 1: traffic set to 20% (champion v1)"
    assert measured.startswith("canary v2 step 2 at 20%: measurement 2 PASS")
    assert "accuracy 0.812 vs 0.805" in measured and "400/1600 samples" in measured
    assert weight != measured


def test_shadow_lines_say_shadow_and_that_nothing_was_served() -> None:
    base = {"version": "3", "champion": "2", "step": 0, "shadow": True}
    measured = audit_text.describe(
        entry(
            "canary_step",
            {**base, "weight": 0, "analysis": "fail", "measurement": 1,
             "reasons": ["roc_auc regression 0.35"], "samples": {"canary": 666, "champion": 666},
             "canary": {"roc_auc": 0.5}, "champion_arm": {"roc_auc": 0.85}},
        )
    )  # fmt: skip
    assert measured.startswith("SHADOW: v3 step 1, not served: measurement 1 FAIL")
    assert "roc_auc 0.5 vs 0.85" in measured and "666 requests scored by both" in measured
    stopped = audit_text.describe(
        entry("canary_failed", {**base, "reason": "SHADOW: steps[0] found evidence of harm"})
    )
    assert stopped == (
        "SHADOW: v3 stopped at step 1 before serving any request — steps[0] found evidence of harm"
    )


def test_every_event_is_a_sentence_without_reprs() -> None:
    gated = audit_text.describe(
        entry("gated", {"decision": "promote", "version": "2", "champion": "1",
                        "risk_score": 0.1234, "reasons": ["auc 0.8 >= 0.7", "fair"]})
    )  # fmt: skip
    assert gated == "gate: promote v2 vs champion v1, risk score 0.123. auc 0.8 >= 0.7; fair"
    promoted = audit_text.describe(entry("promoted", {"champion": "2", "previous_champion": "1"}))
    assert promoted == "v2 is champion (was v1)"
    drift = audit_text.describe(
        entry("drift_checked", {"branch": ["request_retraining", "alert"], "reason": "drift in a",
                                "drifted_share": 0.25, "champion_version": "1"})
    )  # fmt: skip
    assert "[" not in drift and "request_retraining and alert" in drift and "25%" in drift
    answered = audit_text.describe(entry("canary_answered", {"version": "2", "choice": "promote"},
                                         actor="ann"))  # fmt: skip
    assert answered.endswith("(by ann)")
    unknown = audit_text.describe(entry("something_new", {"a": 1, "b": [1, 2]}))
    assert unknown == "something new: a 1"


def test_layout_names_run_folders_and_finds_the_pipeline_part() -> None:
    assert safe_run_id("manual__2026-11-01T00:00:00+00:00") == "manual__2026-11-01T00_00_00_00_00"
    uri = "s3://b/prod/pipelines/churn/runs/d/r/t/drift.html"
    assert relative_to_pipeline(uri, "churn") == "runs/d/r/t/drift.html"
    assert relative_to_pipeline("/x/pipelines/other/a.html", "churn") is None
