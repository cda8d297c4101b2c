"""The gate's YAML: fairness, latency, disagreement and approval settings, and their errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_mlops_provider.spec import load_spec

from .test_loader import EXAMPLE, error_of, example_with, write

FAIRNESS = "    group_columns: [payment_method]\n"


def test_example_gate_settings() -> None:
    spec = load_spec(EXAMPLE)
    fairness = spec.evaluation.fairness
    assert fairness is not None and fairness.group_columns == ["payment_method"]
    assert spec.evaluation.disagreement.max == 0.5 and spec.evaluation.holdout is None
    assert spec.approval.mode == "risk" and spec.approval.weights.fairness == 0.6


def test_group_column_shorthand(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, example_with(FAIRNESS, "    group_column: contract\n")))
    assert spec.evaluation.fairness.group_columns == ["contract"]


@pytest.mark.parametrize(
    ("old", "new", "path", "message"),
    [
        (
            FAIRNESS,
            "    group_columns: [gender]\n",
            "evaluation.fairness.group_columns",
            "['gender'] must be contract columns",
        ),
        (
            "    max_demographic_parity_difference: 0.4\n"
            "    max_equal_opportunity_difference: 0.6\n",
            "",
            "evaluation.fairness",
            "give max_demographic_parity_difference and/or",
        ),
        (
            "approve_above: 0.3",
            "approve_above: 0.8",
            "approval.approve_above",
            "must not exceed reject_above",
        ),
        ("mode: risk", "mode: sometimes", "approval.mode", "'risk', 'always' or 'never'"),
        ("on_timeout: reject", "on_timeout: wait", "approval.on_timeout", "'reject' or 'promote'"),
        ("disagreement: {max: 0.5}", "disagreement: {max: 0}", "evaluation.disagreement.max", ""),
    ],
)
def test_bad_gate_settings_name_field_and_fix(
    tmp_path: Path, old: str, new: str, path: str, message: str
) -> None:
    error = error_of(write(tmp_path, example_with(old, new)))
    assert any(p.path == path and message in p.message for p in error.problems), error.problems


def test_fairness_needs_a_classifier(tmp_path: Path) -> None:
    text = (
        example_with("task: binary_classification", "task: regression")
        .replace(
            "    roc_auc: {min: 0.65, max_regression: 0.01}\n    accuracy: {min: 0.6}\n",
            "    rmse: {max: 1.0}\n",
        )
        .replace("roc_auc: {max_regression: 0.05}", "rmse: {max_regression: 0.05}")
    )  # canary's
    error = error_of(write(tmp_path, text))
    assert "evaluation.fairness applies to binary_classification" in str(error)
